"""The one OpenStack deployment that every end-to-end test shares.

The first test that asks for `env` deploys inventories/local.yml (or ENOS_E2E_TOPOLOGY) with
`enos deploy` into a temporary environment, on subnets of its own; the session ends with
`enos destroy --hard`, checked to leave no container, network or volume of the environment.
ENOS_E2E_ENV=DIR runs the tests against an environment already deployed there instead, and
leaves it as it is at the end (to work on one test without a new deployment each time).
"""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from e2e_helpers import BIN, TOPOLOGY, Env


@pytest.fixture(scope="session")
def env(tmp_path_factory):
    for tool in ("enos", "openstack", "ansible"):
        if not (BIN / tool).exists():
            pytest.fail("%s is missing from %s: run scripts/setup.sh (pip install -e '.[test]')"
                        % (tool, BIN))
    kept = os.environ.get("ENOS_E2E_ENV")
    if kept:
        environment = Env(Path(kept).resolve())
        environment.topology = environment.path / "topology.yml"
        yield environment
        return
    work = tmp_path_factory.mktemp("e2e")
    environment = Env(work / "env")
    # subnets of its own, so that the test never meets an experiment left running on the machine
    topology = yaml.safe_load(TOPOLOGY.read_text())
    if topology.get("provider", {}).get("type") == "local":
        topology["provider"].update(subnet="10.211.0.0/16", router_subnet="10.199.0.4/30")
    # 20 simulated computes per compute node (test_deploy.py's SIMULATED): 60 more hosts
    topology.setdefault("kolla", {})["enos_simulated_computes"] = 20
    environment.topology = work / "topology.yml"
    environment.topology.write_text(yaml.safe_dump(topology, sort_keys=False))
    environment.enos("deploy", "-f", str(environment.topology))
    yield environment
    label = "edge.enos.env=%s" % json.loads((environment.path / "resources.json").read_text())["environment"]
    environment.enos("destroy", "--hard")
    left = {kind: subprocess.run(["docker", kind, "ls", "-q", "--filter", "label=" + label],
                                 capture_output=True, text=True, check=False).stdout.split()
            for kind in ("container", "network", "volume")}
    shutil.rmtree(environment.path, ignore_errors=True)
    assert not any(left.values()), "enos destroy --hard left %s" % left
