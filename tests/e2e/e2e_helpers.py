"""Helpers of the end-to-end tests: an environment, its `enos` runs, its cloud and its nodes.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path


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

    def openstack(self, *args, timeout=120, json_output=True):
        env = dict(os.environ, OS_CLIENT_CONFIG_FILE=str(self.path / "clouds.yaml"),
                   OS_CLOUD="kolla-admin")
        return subprocess.run([str(BIN / "openstack"), *args, *(["-f", "json"] if json_output else [])],
                              env=env, capture_output=True, text=True, timeout=timeout, check=False)

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


def last_run_stats(env, playbook):
    """{stat: {host: count}} of the newest run of a playbook, from ansible-runner's events."""
    runs = sorted((env.path / "runner" / "artifacts").glob("%s-*" % playbook))
    assert runs, "no run of %s in %s" % (playbook, env.path / "runner" / "artifacts")
    for event in sorted((runs[-1] / "job_events").glob("*.json"),
                        key=lambda p: int(p.name.split("-", 1)[0]), reverse=True):
        data = json.loads(event.read_text())
        if data.get("event") == "playbook_on_stats":
            return data["event_data"]
    raise AssertionError("the run %s has no play recap" % runs[-1])


def server_create(env, name, zone, timeout=600):
    proc = env.openstack("server", "create", "--flavor", "m1.tiny", "--image", "enos-tiny",
                         "--network", "private", "--availability-zone", zone, "--wait", name,
                         timeout=timeout)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def server_delete(env, server):
    proc = env.openstack("server", "delete", "--wait", server["id"], json_output=False)
    assert proc.returncode == 0, proc.stderr
    left = json.loads(env.openstack("port", "list", "--device-id", server["id"]).stdout)
    assert left == [], "ports left behind by server %s: %s" % (server["name"], left)


def kolla_containers(env, group="control"):
    """{host: {container: status}} of the containers on the nodes of a group."""
    out = env.on_nodes(group, "docker ps -a --format '{{.Names}}={{.Status}}'")
    return {host: dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
            for host, text in out.items()}


def settled_containers(env, group="baremetal", timeout=300):
    """kolla_containers() once no health check is still in its start period (or at timeout):
    a container can answer before Docker has run its first health check."""
    deadline = time.monotonic() + timeout
    while True:
        containers = kolla_containers(env, group)
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
