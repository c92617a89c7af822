"""The runtime wrapper that keeps a container's capabilities within the engine's bounding set."""

import importlib.machinery
import importlib.util
import json
from pathlib import Path

import pytest

WRAPPER = Path(__file__).resolve().parents[2] / "roles" / "docker" / "files" / "runc-capfilter"


@pytest.fixture()
def capfilter():
    loader = importlib.machinery.SourceFileLoader("runc_capfilter", str(WRAPPER))
    spec = importlib.util.spec_from_loader("runc_capfilter", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def bundle(tmp_path, caps):
    (tmp_path / "config.json").write_text(json.dumps(
        {"process": {"args": ["sleep"], "capabilities": {k: list(caps) for k in ("bounding", "effective", "permitted")}}}))
    return tmp_path


def read_caps(path):
    return json.loads((path / "config.json").read_text())["process"]["capabilities"]


def test_privileged_capabilities_outside_the_bounding_set_are_dropped(capfilter, tmp_path, monkeypatch):
    monkeypatch.setattr(capfilter, "bounding_set", lambda: {"CAP_NET_ADMIN", "CAP_SYS_ADMIN"})
    path = bundle(tmp_path, ["CAP_NET_ADMIN", "CAP_SYS_ADMIN", "CAP_SYS_RESOURCE"])
    capfilter.filter_for(["--root", "/x", "create", "--bundle", str(path), "id"])
    assert read_caps(path) == {k: ["CAP_NET_ADMIN", "CAP_SYS_ADMIN"] for k in ("bounding", "effective", "permitted")}


def test_a_container_within_the_bounding_set_is_left_as_is(capfilter, tmp_path, monkeypatch):
    monkeypatch.setattr(capfilter, "bounding_set", lambda: {"CAP_NET_ADMIN", "CAP_CHOWN"})
    path = bundle(tmp_path, ["CAP_CHOWN"])
    before = (path / "config.json").read_text()
    capfilter.filter_for(["create", "-b", str(path), "id"])
    assert (path / "config.json").read_text() == before


def test_an_exec_into_a_privileged_container_is_filtered_too(capfilter, tmp_path, monkeypatch):
    monkeypatch.setattr(capfilter, "bounding_set", lambda: {"CAP_NET_ADMIN"})
    process = tmp_path / "process.json"
    process.write_text(json.dumps({"args": ["true"], "capabilities": {
        "bounding": ["CAP_NET_ADMIN", "CAP_SYS_RESOURCE"], "effective": ["CAP_SYS_RESOURCE"]}}))
    capfilter.filter_for(["--root", "/x", "exec", "--process", str(process), "--detach", "id"])
    assert json.loads(process.read_text())["capabilities"] == {
        "bounding": ["CAP_NET_ADMIN"], "effective": []}


def test_the_bounding_set_is_read_from_the_process(capfilter):
    status = Path("/proc/self/status").read_text()
    mask = int(next(line for line in status.splitlines() if line.startswith("CapBnd:")).split()[1], 16)
    names = capfilter.bounding_set()
    assert ("CAP_CHOWN" in names) == bool(mask & 1)
    assert ("CAP_SYS_RESOURCE" in names) == bool(mask >> 24 & 1)
    assert len(names) == bin(mask & ((1 << len(capfilter.CAPABILITIES)) - 1)).count("1")
