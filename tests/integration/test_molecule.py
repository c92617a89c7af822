"""Molecule scenarios of the node roles (docker driver on the local engine, testinfra, idempotence)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
SCENARIOS = sorted(d for d in os.listdir(os.path.join(ROOT, "molecule"))
                   if os.path.exists(os.path.join(ROOT, "molecule", d, "molecule.yml")))
ENV = dict(os.environ, PATH=BIN + os.pathsep + os.environ["PATH"],
           ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"))

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module", autouse=True)
def node_image(tmp_path_factory):
    """The scenarios' platforms run the local testbed's node image: build it when missing."""
    play = tmp_path_factory.mktemp("node-image") / "node_image.yml"
    play.write_text("- hosts: localhost\n  connection: local\n  gather_facts: false\n"
                    "  roles: [edge.enos.node_image]\n")
    result = subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", "localhost,",
                             "-e", "ansible_python_interpreter=%s" % sys.executable, str(play)],
                            cwd=ROOT, env=ENV, capture_output=True, text=True, check=False,
                            timeout=1800)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_molecule_scenario(scenario):
    result = subprocess.run([os.path.join(BIN, "molecule"), "test", "-s", scenario], cwd=ROOT,
                            env=ENV, capture_output=True, text=True, check=False, timeout=1800)
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-4000:]
