"""The openstack provider against the OpenStack this project deploys (the shared e2e deployment).

The deployment's API is real and its compute driver is fake: the provider creates real
Neutron networks, routers, security groups and ports and real Nova servers, but nothing boots,
so this test stops where SSH to the servers would begin (what `enos up` does after the
provider), and says so.

    .venv/bin/pytest -m e2e tests/e2e/test_openstack_provider.py
"""

import json
import os
import subprocess

import pytest
import yaml

from e2e_helpers import BIN, ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.docker]


PROJECT_KINDS = ("server", "network", "subnet", "router", "security group", "port",
                 "floating ip", "keypair")


def project_snapshot(env):
    """{kind: sorted ids} of everything in the admin project that the provider could touch."""
    snapshot = {}
    for kind in PROJECT_KINDS:
        listed = env.openstack(*kind.split(), "list")
        assert listed.returncode == 0, listed.stderr
        snapshot[kind] = sorted(item.get("ID") or item.get("Name")
                                for item in json.loads(listed.stdout))
    return snapshot


def run_provider(env, work, playbook, *extra):
    argv = [str(BIN / "ansible-playbook"), "-i", str(work / "inventory.yml"),
            str(ROOT / "playbooks" / playbook), "-e", "enos_env_dir=%s" % work, *extra]
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=1800,
                          env=dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
                                   ENOS_ENV=str(work),
                                   OS_CLIENT_CONFIG_FILE=str(env.path / "clouds.yaml")), check=False)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    recap = proc.stdout[proc.stdout.rfind("PLAY RECAP"):]
    return int(recap.split("changed=")[1].split()[0])


def test_openstack_provider_on_the_deployment(env, tmp_path):
    images = json.loads(env.openstack("image", "list").stdout or "[]")
    flavors = json.loads(env.openstack("flavor", "list").stdout or "[]")
    if not images or not flavors:
        pytest.fail("the deployment has no image or no flavor: enable Glance and Nova in the "
                    "e2e topology (openstack_init creates them)")
    external = json.loads(env.openstack("network", "list", "--external").stdout or "[]")
    flavor = sorted(flavors, key=lambda f: (f["RAM"], f["Name"]))[0]["Name"]
    provider = {"type": "openstack", "cloud": "kolla-admin", "image": images[0]["Name"],
                "user": "debian", "subnet": "10.179.0.0/24", "environment": "enos-ostest"}
    if external:
        provider["external_network"] = external[0]["Name"]
    else:  # no provider network in this deployment: no router gateway, no floating IPs
        provider.update(external_network=None, floating_ips=False)
    work = tmp_path / "osenv"
    work.mkdir()
    (work / "topology.yml").write_text(yaml.safe_dump({
        "provider": provider,
        "topology": {"grp1": {flavor: {"control": 1}}, "grp2": {flavor: {"compute": 1}}}}))
    (work / "inventory.yml").write_text("plugin: edge.enos.topology\nreservation: topology.yml\n"
                                        "env: %s\n" % json.dumps(str(work)))
    before = project_snapshot(env)

    assert run_provider(env, work, "provider.yml") > 0
    state = json.loads((work / "resources.json").read_text())
    made = dict((c["kind"], c["name"]) for c in state["openstack"]["created"])
    assert {"keypair", "network", "subnet", "security_group", "server", "port"} <= set(made)
    if external:
        assert "router" in made and "floating_ip" in made
    servers = json.loads(env.openstack("server", "list", "--name", "enos-ostest-").stdout)
    assert sorted(s["Name"] for s in servers) == ["enos-ostest-grp1-control-1",
                                                  "enos-ostest-grp2-compute-1"]
    assert all(s["Status"] == "ACTIVE" for s in servers)
    assert [h["name"] for h in state["hosts"]] == ["grp1-control-1", "grp2-compute-1"]
    assert all(h["interfaces"]["network_interface"]["address"].startswith("10.179.0.")
               for h in state["hosts"])
    assert len(state["networks"][0]["free_ips"]) == 2
    middle = project_snapshot(env)

    assert run_provider(env, work, "provider.yml") == 0        # a second up changes nothing
    assert project_snapshot(env) == middle

    run_provider(env, work, "destroy.yml", "-e", "enos_destroy_hard=true")
    assert project_snapshot(env) == before
    assert not (work / "resources.json").exists()
    print("openstack provider: stopped where SSH to the servers would begin (fake compute "
          "driver: the servers do not boot)")
