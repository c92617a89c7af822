"""The collection as users get it: Galaxy tarball, sanity, lint, role interfaces."""

from __future__ import annotations

import glob
import os
import subprocess
import sys
import tarfile

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
ROLES = sorted(os.path.basename(os.path.dirname(os.path.dirname(p)))
               for p in glob.glob(os.path.join(ROOT, "roles", "*", "meta", "argument_specs.yml")))


def run(command, **kwargs):
    kwargs.setdefault("cwd", ROOT)
    return subprocess.run(command, capture_output=True, text=True, check=False, **kwargs)


@pytest.fixture(scope="module")
def tarball(tmp_path_factory):
    out = tmp_path_factory.mktemp("galaxy")
    result = run([os.path.join(BIN, "ansible-galaxy"), "collection", "build", "--force",
                  "--output-path", str(out), "."])
    assert result.returncode == 0, result.stdout + result.stderr
    return glob.glob(str(out / "edge-enos-*.tar.gz"))[0]


def test_galaxy_tarball_leaves_dev_folders_out(tarball):
    with tarfile.open(tarball) as archive:
        names = archive.getnames()
    assert "MANIFEST.json" in names and "plugins/inventory/topology.py" in names
    for dev in ("collections/", ".venv/", "molecule/", "benchmarks/", ".ci/", ".git/"):
        assert not [n for n in names if n.startswith(dev)], dev


def test_installed_tarball_works_outside_the_checkout(tarball, tmp_path):
    target = tmp_path / "collections"
    result = run([os.path.join(BIN, "ansible-galaxy"), "collection", "install", "--offline",
                  "--no-deps", "-p", str(target), tarball], cwd=str(tmp_path))
    assert result.returncode == 0, result.stderr
    topology = tmp_path / "site.yml"
    topology.write_text(open(os.path.join(ROOT, "inventories", "local.yml")).read())
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(target), ENOS_ENV=str(tmp_path / "env"))
    env.pop("ANSIBLE_CONFIG", None)
    env["ANSIBLE_INVENTORY_ENABLED"] = "edge.enos.topology"
    graph = run([os.path.join(BIN, "ansible-inventory"), "-i", str(topology), "--graph"],
                cwd=str(tmp_path), env=env)
    assert graph.returncode == 0, graph.stderr
    assert "@grp3:" in graph.stdout and "grp3-compute-1" in graph.stdout


@pytest.mark.parametrize("role", ROLES)
def test_role_argument_specs_agree_with_defaults(role):
    base = os.path.join(ROOT, "roles", role)
    with open(os.path.join(base, "meta", "argument_specs.yml")) as handle:
        entry_points = yaml.safe_load(handle)["argument_specs"]
    options = {}
    for entry_point in entry_points.values():
        options.update(entry_point.get("options") or {})
    defaults_file = os.path.join(base, "defaults", "main.yml")
    defaults = {}
    if os.path.exists(defaults_file):
        with open(defaults_file) as handle:
            defaults = yaml.safe_load(handle) or {}
    assert all(name.startswith(role + "_") for name in options), sorted(options)
    assert set(defaults) <= set(options), "defaults without a spec: %s" % sorted(set(defaults) - set(options))
    for name, spec in options.items():
        if name in defaults and "default" in spec:
            assert spec["default"] == defaults[name], name


def test_ansible_lint_production_profile():
    result = run([os.path.join(BIN, "ansible-lint"), "--profile", "production", "--nocolor"],
                 env=dict(os.environ, PATH=BIN + os.pathsep + os.environ["PATH"]))
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]


def test_ansible_test_sanity():
    result = run([os.path.join(ROOT, "scripts", "sanity.sh")])
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-3000:]
