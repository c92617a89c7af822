"""An image pushed by one node to the internal registry is pulled, identical, by another node.

Two node containers (the local testbed's image and flags, from molecule/shared/node.yml) get
edge.enos.docker and edge.enos.registry (type internal, on node A) through ansible-playbook;
node A imports an image into its own engine and pushes it to the registry, node B pulls it.
The image ID and the registry digest must match. The containers and their volumes are removed.
"""
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.docker

ROOT = Path(__file__).resolve().parents[2]
NODE = yaml.safe_load((ROOT / "molecule" / "shared" / "node.yml").read_text())
PLAYBOOK = """\
- name: Docker and the internal registry
  hosts: baremetal
  gather_facts: true
  roles:
    - edge.enos.docker
    - edge.enos.registry
"""


def _docker(*argv, check=True):
    proc = subprocess.run(["docker", *argv], capture_output=True, text=True, check=False)
    if check:
        assert proc.returncode == 0, "docker %s: %s" % (" ".join(argv), proc.stderr)
    return proc


def _on(node, command):
    """Run a shell command in a node container; its stdout."""
    return _docker("exec", node, "sh", "-c", command).stdout.strip()


def _start_node(name, run_id):
    argv = ["run", "-d", "--name", name, "--hostname", name, "--label", "edge.enos.test=" + run_id,
            "--stop-signal", "SIGRTMIN+3"]
    argv += ["--cap-add=" + cap for cap in NODE["node_capabilities"]]
    argv += ["--security-opt=" + opt for opt in NODE["node_security_opts"]]
    argv += ["--volume=" + vol for vol in NODE["node_volumes"] + [NODE["node_docker_volume"]]]
    argv += ["--tmpfs=" + path for path in NODE["node_tmpfs"]]
    _docker(*argv, NODE["node_image"], "/sbin/init")
    for _attempt in range(60):  # systemctl answers once systemd has started its bus
        state = _docker("exec", name, "systemctl", "is-system-running", "--wait", check=False).stdout.strip()
        if state in ("running", "degraded"):
            break
        time.sleep(1)
    assert state in ("running", "degraded"), "%s did not boot: %r" % (name, state)
    return _docker("inspect", "--format", "{{.NetworkSettings.IPAddress}}", name).stdout.strip()


@pytest.fixture(scope="module")
def nodes(tmp_path_factory):
    if _docker("info", check=False).returncode != 0:
        pytest.skip("needs a running Docker engine (scripts/setup.sh starts one)")
    if _docker("image", "inspect", NODE["node_image"], check=False).returncode != 0:
        pytest.skip("needs the node image %s (role edge.enos.node_image builds it)" % NODE["node_image"])
    run_id = uuid.uuid4().hex[:8]
    names = {"a": "enos-rt-%s-a" % run_id, "b": "enos-rt-%s-b" % run_id}
    try:
        addresses = {key: _start_node(name, run_id) for key, name in names.items()}
        yield names, addresses, tmp_path_factory.mktemp("roundtrip")
    finally:
        for name in names.values():
            _docker("rm", "--force", "--volumes", name, check=False)
        left = _docker("ps", "-aq", "--filter", "label=edge.enos.test=" + run_id).stdout.split()
        assert not left, "containers left behind: %s" % left


@pytest.fixture(scope="module")
def converged(nodes):
    names, addresses, tmp = nodes
    # what the edge.enos.topology inventory gives: groups, management addresses, registry block
    hosts = {names[key]: {"ansible_connection": "community.docker.docker",
                          "enos_interfaces": {"network_interface": {"address": addresses[key]}}}
             for key in names}
    inventory = {"all": {"vars": dict(NODE["node_docker_vars"], enos_registry={"type": "internal", "port": 5000}),
                         "children": {"baremetal": {"hosts": hosts},
                                      "enos_registry": {"hosts": {names["a"]: {}}}}}}
    (tmp / "inventory.yml").write_text(yaml.safe_dump(inventory))
    (tmp / "play.yml").write_text(PLAYBOOK)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(ROOT / "collections"), ANSIBLE_NOCOLOR="1")
    proc = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(tmp / "inventory.yml"),
                           str(tmp / "play.yml")], cwd=ROOT, env=env, capture_output=True, text=True, timeout=1500,
                          check=False)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    return names, "%s:5000" % addresses["a"]


def test_image_pushed_by_a_is_pulled_identical_by_b(converged):
    names, registry = converged
    reference = "%s/roundtrip/probe:%s" % (registry, uuid.uuid4().hex[:8])
    # node A: an image made in its own engine from a small tarball, pushed to the registry
    _on(names["a"], "tar -C / -c etc/os-release etc/hostname | docker import - %s >/dev/null" % reference)
    id_a = _on(names["a"], "docker image inspect --format '{{.Id}}' %s" % reference)
    _on(names["a"], "docker push %s >/dev/null" % reference)
    digest_a = _on(names["a"], "docker image inspect --format '{{index .RepoDigests 0}}' %s" % reference)

    # node B: never had it, pulls it from the registry on node A
    assert _docker("exec", names["b"], "docker", "image", "inspect", reference, check=False).returncode != 0
    _on(names["b"], "docker pull %s >/dev/null" % reference)
    id_b = _on(names["b"], "docker image inspect --format '{{.Id}}' %s" % reference)
    digest_b = _on(names["b"], "docker image inspect --format '{{index .RepoDigests 0}}' %s" % reference)

    assert id_b == id_a
    assert digest_b == digest_a and "@sha256:" in digest_a
    content = _on(names["b"], "docker save %s | tar -xO --wildcards '*/layer.tar' | tar -xO etc/hostname" % reference)
    assert content == names["a"]

    catalog = json.loads(_on(names["b"], "python3 -c 'import urllib.request; "
                                         "print(urllib.request.urlopen(\"http://%s/v2/_catalog\").read().decode())'"
                             % registry))
    assert "roundtrip/probe" in catalog["repositories"]
