"""The vagrant provider with its docker backend, for real, on the controller's Docker engine.

`enos up` on a two-site topology gives machines (containers of the node image) that answer SSH,
run Docker and reach the environment's registry; `enos tc` shapes each node's egress toward
the other site and `enos tc --test` measures it (rates only: delay and loss need sch_netem,
which the kernels this runs on often lack; `enos tc --rate-only` says so when they are asked); `enos destroy --hard` leaves no container,
network, volume or Vagrant state of the environment.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import local_helpers as h

pytestmark = [pytest.mark.docker]

BIN = Path(sys.executable).parent
ENVIRONMENT = "enos-itvag"
SUBNET = "10.171.0.0/23"


def enos(env_dir, verb, *args, timeout=2400):
    proc = subprocess.run([str(BIN / "enos"), verb, "--env", str(env_dir), *args], cwd=h.ROOT,
                          capture_output=True, text=True, timeout=timeout, check=False)
    return proc.returncode, proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def vagrant_env(tmp_path_factory):
    why = h.usable() or (None if shutil.which("vagrant") else
                         "vagrant is not installed (scripts/setup.sh installs it)")
    if why:
        pytest.skip(why)
    work = tmp_path_factory.mktemp("vagrant")
    topology = work / "reservation.yaml"
    topology.write_text(yaml.safe_dump({
        "provider": {"type": "vagrant", "backend": "docker", "subnet": SUBNET,
                     "environment": ENVIRONMENT},
        "topology": {"grp1": {"small": {"control": 1}}, "grp2": {"small": {"compute": 1}}},
        "registry": {"type": "internal"},
        # rates only: this project's CI kernels have HTB but often no sch_netem (delay, loss)
        "network_constraints": {"enable": True, "default_delay": "0ms",
                                "default_rate": "20mbit", "default_loss": "0%"}},
        sort_keys=False))
    env_dir = work / "env"
    rc, out = enos(env_dir, "up", "-f", str(topology))
    env = {"dir": env_dir, "topology": topology, "up": out}
    assert rc == 0, out[-6000:]
    yield env
    enos(env_dir, "destroy", "--hard")


def test_resources_and_vagrant_state(vagrant_env):
    state = h.resources(vagrant_env["dir"])
    assert state["provider"] == "vagrant" and state["environment"] == ENVIRONMENT
    assert [host["name"] for host in state["hosts"]] == ["grp1-control-1", "grp2-compute-1"]
    for host in state["hosts"]:
        api = host["interfaces"]["network_interface"]
        ext = host["interfaces"]["neutron_external_interface"]
        assert api["address"].startswith("10.171.0.") and ext["address"].startswith("10.171.1.")
        assert api["device"] != ext["device"]
    assert (vagrant_env["dir"] / "vagrant" / "Vagrantfile").exists()
    status = subprocess.run(["vagrant", "status", "--machine-readable"],
                            cwd=vagrant_env["dir"] / "vagrant", capture_output=True, text=True,
                            env=dict(os.environ, VAGRANT_CHECKPOINT_DISABLE="1"), check=False)
    assert status.stdout.count(",state,running") == 2, status.stdout


def test_nodes_answer_ssh_and_run_docker_and_reach_the_registry(vagrant_env):
    state = h.resources(vagrant_env["dir"])
    key = vagrant_env["dir"] / "id_ed25519"
    registry = state["hosts"][0]["interfaces"]["network_interface"]["address"]
    for host in state["hosts"]:
        proc = h.ssh(host["address"], key, "hostname && docker info --format "
                     "'{{.ServerVersion}}' && python3 -c \"import urllib.request; print(urllib."
                     "request.urlopen('http://%s:4000/v2/_catalog').read().decode())\"" % registry)
        assert proc.returncode == 0, proc.stderr
        lines = proc.stdout.split("\n")
        assert lines[0] == host["name"] and lines[1]
        assert "repositories" in json.loads(lines[2])


def test_tc_shapes_node_egress_and_measures_it(vagrant_env):
    rc, out = enos(vagrant_env["dir"], "tc")
    assert rc == 0, out[-4000:]
    state = h.resources(vagrant_env["dir"])
    key = vagrant_env["dir"] / "id_ed25519"
    for host in state["hosts"]:       # shaped on each node's egress (no WAN router here)
        device = host["interfaces"]["network_interface"]["device"]
        qdisc = h.ssh(host["address"], key, "tc qdisc show dev %s" % device)
        assert "htb e05:" in qdisc.stdout, qdisc.stdout
    rc, out = enos(vagrant_env["dir"], "tc", "--test")
    assert rc == 0, out[-4000:]
    report = json.loads((vagrant_env["dir"] / "reports" / "netem.json").read_text())
    assert report["passed"], report
    got = dict(((r["src"], r["dst"]), r["checks"]["rate_bps"]["measured"]) for r in report["rows"])
    assert sorted(got) == [("grp1", "grp2"), ("grp2", "grp1")]
    assert all(17e6 < rate < 20.5e6 for rate in got.values()), got
    print((vagrant_env["dir"] / "reports" / "netem.txt").read_text())


def test_destroy_hard_leaves_nothing(vagrant_env):
    rc, out = enos(vagrant_env["dir"], "destroy", "--hard")
    assert rc == 0, out[-4000:]
    assert h.labelled(ENVIRONMENT) == {"containers": [], "networks": [], "volumes": []}
    assert not (vagrant_env["dir"] / "vagrant").exists()
    assert not (vagrant_env["dir"] / "resources.json").exists()
    index = subprocess.run(["vagrant", "global-status", "--prune"], capture_output=True,
                           text=True, env=dict(os.environ, VAGRANT_CHECKPOINT_DISABLE="1"), check=False)
    assert str(vagrant_env["dir"]) not in index.stdout
