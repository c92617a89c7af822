"""End to end: `enos deploy` on the local testbed gives a working OpenStack.

Slow (the first run builds the Kolla images when the machine has none):

    .venv/bin/pytest -m e2e tests/e2e/test_deploy.py

The tests run in order on one environment (a temporary directory) and remove it at the end
with `enos destroy --hard`. ENOS_E2E_TOPOLOGY picks another topology file.
"""

import json
import os
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

import bench_e2e

pytestmark = [pytest.mark.e2e, pytest.mark.docker]

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
TOPOLOGY = Path(os.environ.get("ENOS_E2E_TOPOLOGY", ROOT / "inventories" / "local.yml"))
TIMEOUT = 2 * 3600


class Env:
    """One environment and everything its runs printed."""

    def __init__(self, path):
        self.path = path
        self.output = []

    def enos(self, verb, *args):
        argv = [str(BIN / "enos"), verb, "--env", str(self.path), *args]
        proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT,
                              check=False)
        self.output += [proc.stdout, proc.stderr]
        assert proc.returncode == 0, "%s failed (rc=%d):\n%s\n%s" % (
            " ".join(argv), proc.returncode, proc.stdout[-6000:], proc.stderr[-3000:])
        return proc

    def openstack(self, *args):
        env = dict(os.environ, OS_CLIENT_CONFIG_FILE=str(self.path / "clouds.yaml"),
                   OS_CLOUD="kolla-admin")
        return subprocess.run([str(BIN / "openstack"), *args, "-f", "json"], env=env,
                              capture_output=True, text=True, timeout=120, check=False)

    def on_nodes(self, group, command):
        """{host: stdout} of a command run over SSH on the nodes of an inventory group."""
        def inventory(*args):
            return json.loads(subprocess.run(
                [str(BIN / "ansible-inventory"), "-i", str(self.path / "inventory.yml"), *args],
                cwd=ROOT, capture_output=True, text=True, check=True, timeout=300).stdout)

        result = {}
        for host in inventory("--list")[group]["hosts"]:
            hostvars = inventory("--host", host)
            proc = subprocess.run(
                ["ssh", "-i", hostvars["ansible_ssh_private_key_file"], "-o", "BatchMode=yes",
                 "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                 "%s@%s" % (hostvars.get("ansible_user", "root"), hostvars["ansible_host"]),
                 command], capture_output=True, text=True, timeout=120, check=False)
            assert proc.returncode == 0, (host, proc.stderr)
            result[host] = proc.stdout
        return result


def kolla_containers(env):
    """{host: {container: status}} of the containers on the control nodes."""
    out = env.on_nodes("control", "docker ps -a --format '{{.Names}}={{.Status}}'")
    return {host: dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
            for host, text in out.items()}


def settled_containers(env, timeout=300):
    """kolla_containers() once no health check is still in its start period (or at timeout):
    a container can answer before Docker has run its first health check."""
    deadline = time.monotonic() + timeout
    while True:
        containers = kolla_containers(env)
        starting = any("health: starting" in status for statuses in containers.values()
                       for status in statuses.values())
        if not starting or time.monotonic() > deadline:
            return containers
        time.sleep(10)


def assert_cloud_answers(env):
    token = env.openstack("token", "issue")
    assert token.returncode == 0, token.stderr
    assert json.loads(token.stdout)["id"]
    endpoints = env.openstack("endpoint", "list")
    assert endpoints.returncode == 0, endpoints.stderr
    services = {e["Service Type"] for e in json.loads(endpoints.stdout)}
    assert "identity" in services
    return services


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    for tool in ("enos", "openstack", "ansible"):
        if not (BIN / tool).exists():
            pytest.fail("%s is missing from %s: run scripts/setup.sh (pip install -e '.[test]')"
                        % (tool, BIN))
    work = tmp_path_factory.mktemp("e2e")
    environment = Env(work / "env")
    # subnets of its own, so that the test never meets an experiment left running on the machine
    topology = yaml.safe_load(TOPOLOGY.read_text())
    if topology.get("provider", {}).get("type") == "local":
        topology["provider"].update(subnet="10.211.0.0/16", router_subnet="10.199.0.4/30")
    environment.topology = work / "topology.yml"
    environment.topology.write_text(yaml.safe_dump(topology, sort_keys=False))
    yield environment
    subprocess.run([str(BIN / "enos"), "destroy", "--env", str(environment.path), "--hard"],
                   cwd=ROOT, capture_output=True, timeout=1800, check=False)
    shutil.rmtree(environment.path, ignore_errors=True)


def test_deploy_gives_a_working_cloud(env):
    env.enos("deploy", "-f", str(env.topology))
    services = assert_cloud_answers(env)
    enabled = yaml.safe_load((env.path / "kolla" / "globals.yml").read_text())
    if enabled.get("enable_glance") in ("yes", True):
        assert "image" in services
    for host, containers in settled_containers(env).items():
        assert "keystone" in containers, (host, containers)
        unhealthy = {n: s for n, s in containers.items()
                     if not s.startswith("Up") or "unhealthy" in s or "starting" in s}
        assert not unhealthy, (host, unhealthy)


def test_secrets_are_private(env):
    for name in ("kolla/passwords.yml", "clouds.yaml", "admin-openrc.sh"):
        mode = stat.S_IMODE((env.path / name).stat().st_mode)
        assert mode == 0o600, "%s is %o" % (name, mode)


def test_no_secret_in_the_output(env):
    passwords = yaml.safe_load((env.path / "kolla" / "passwords.yml").read_text())
    secrets = {v for v in passwords.values() if isinstance(v, str) and len(v) >= 8}
    assert passwords["keystone_admin_password"] in secrets
    # what the runs printed, and what ansible-runner kept of them
    texts = list(env.output)
    for path in (env.path / "runner" / "artifacts").glob("*/stdout"):
        texts.append(path.read_text(errors="replace"))
    leaked = [s[:4] + "..." for s in secrets for text in texts if s in text]
    assert not leaked, "secrets found in the output: %s" % sorted(set(leaked))


def test_second_deploy_converges(env):
    env.enos("deploy")
    assert_cloud_answers(env)


def test_bench_default_workload(env):
    bench_e2e.check_default_workload(env)


def test_bench_compare_with_and_without_wan_delay(env, tmp_path):
    bench_e2e.check_wan_compare(env, tmp_path)


def test_destroy_then_deploy(env):
    env.enos("os", "--", "destroy")
    left = {host: [n for n in containers if n in ("keystone", "mariadb", "memcached")]
            for host, containers in kolla_containers(env).items()}
    assert not any(left.values()), left
    assert env.openstack("token", "issue").returncode != 0
    env.enos("deploy")
    assert_cloud_answers(env)
