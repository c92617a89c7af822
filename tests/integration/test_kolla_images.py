"""The kolla_images role against a throwaway registry on loopback.

Runs playbooks/kolla_images.yml for keystone + mariadb + memcached (the role adds cron and
kolla-toolbox), with a registry (Debian's docker-registry) this test starts on
127.0.0.1:<free port>. Images missing from the host's Docker are built with kolla-build (about
7 minutes cold on 2 cores; the build itself fetches from Debian's mirror and PyPI); images the
host has are only pushed. Asserts the registry serves every image with the release tag, then
that a second run builds and pushes nothing (changed=0).
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

pytestmark = [pytest.mark.docker, pytest.mark.e2e]

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TAG = "2026.1-debian-trixie"
IMAGES = ["cron", "keystone", "keystone-fernet", "keystone-ssh", "kolla-toolbox",
          "mariadb-server", "memcached"]
MANIFEST_TYPES = ", ".join([
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
])


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url, accept=None):
    req = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.status, resp.read()


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    if subprocess.run(["docker", "info"], capture_output=True, check=False).returncode != 0:
        pytest.skip("no running Docker engine")
    if not shutil.which("docker-registry"):
        rc = subprocess.run(["apt-get", "install", "-y", "docker-registry"],
                            capture_output=True, check=False).returncode
        if rc != 0 or not shutil.which("docker-registry"):
            pytest.skip("docker-registry (Debian package) is not installable")
    tmp = tmp_path_factory.mktemp("registry")
    port = _free_port()
    config = tmp / "config.yml"
    config.write_text(
        "version: 0.1\n"
        f"storage:\n  filesystem:\n    rootdirectory: {tmp / 'data'}\n  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n")
    log = open(tmp / "registry.log", "w")
    proc = subprocess.Popen(["docker-registry", "serve", str(config)], stdout=log, stderr=log)
    try:
        for _attempt in range(50):
            try:
                if _get(f"http://127.0.0.1:{port}/v2/")[0] == 200:
                    break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail(f"registry did not start: {(tmp / 'registry.log').read_text()}")
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def _run_role(registry, env_dir):
    extra = {
        "kolla_images_registry": registry,
        "kolla_images_services": ["keystone", "mariadb", "memcached"],
        "kolla_images_upstream_registry": "",  # never leave the machine for an image registry
        "kolla_images_env_dir": str(env_dir),
    }
    env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="default", ANSIBLE_NOCOLOR="1")
    ansible = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    start = time.monotonic()
    proc = subprocess.run([ansible, "playbooks/kolla_images.yml", "-e", json.dumps(extra)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=3 * 3600, check=False)
    return proc, time.monotonic() - start


def _recap(stdout):
    line = [ln for ln in stdout.splitlines() if ln.startswith("localhost")][-1]
    return dict(kv.split("=") for kv in line.split(":", 1)[1].split())


def test_images_in_registry_then_nothing_to_do(registry, tmp_path):
    proc, took = _run_role(registry, tmp_path)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    print(f"first run: {took:.0f} s, recap {_recap(proc.stdout)}")

    _status, body = _get(f"http://{registry}/v2/_catalog")
    catalog = json.loads(body)["repositories"]
    for image in IMAGES:
        assert f"kolla/{image}" in catalog, catalog
        _status, body = _get(f"http://{registry}/v2/kolla/{image}/tags/list")
        assert TAG in json.loads(body)["tags"]
        status, body = _get(f"http://{registry}/v2/kolla/{image}/manifests/{TAG}", MANIFEST_TYPES)
        layers = json.loads(body)["layers"]
        assert status == 200 and len(layers) > 1, image

    log = tmp_path / "logs" / "kolla-build.log"
    log_mtime = log.stat().st_mtime if log.exists() else None
    proc, took = _run_role(registry, tmp_path)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    recap = _recap(proc.stdout)
    print(f"second run: {took:.0f} s, recap {recap}")
    assert recap["changed"] == "0" and recap["failed"] == "0", proc.stdout[-6000:]
    assert "Start kolla-build" not in proc.stdout
    assert (log.stat().st_mtime if log.exists() else None) == log_mtime
