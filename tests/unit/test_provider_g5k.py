"""The g5k provider against a TEST DOUBLE of the Grid'5000 REST API (tests/doubles).

Grid'5000's API cannot be reached from here: the double answers on 127.0.0.1 with the payloads
Grid'5000 documents, and records what the provider submitted.
"""
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from doubles.g5k_api_double import G5kApiDouble, PASSWORD, USER  # noqa: E402

from ansible_collections.edge.enos.plugins.module_utils import provider_g5k as g5k  # noqa: E402
from ansible_collections.edge.enos.plugins.module_utils.provider_common import (  # noqa: E402
    ProviderError, provider_problems)
from ansible_collections.edge.enos.plugins.module_utils.topology import parse_topology  # noqa: E402

grid5000 = pytest.importorskip("grid5000")


def topology(**provider):
    data = {"provider": dict({"type": "g5k", "job_name": "enos-t", "walltime": "01:30:00",
                              "env_name": "debian12-nfs"}, **provider),
            "topology": {"grp1": {"paravance": {"control": 1, "network": 1}},
                         "grp2": {"parasilo": {"compute": 2}},
                         "grp3": {"gros": {"compute": 1}}}}
    return parse_topology(data, "g5k.yaml")


@pytest.fixture
def api():
    with G5kApiDouble() as double:
        yield double


@pytest.fixture
def key(tmp_path):
    path = tmp_path / "id_rsa.pub"
    path.write_text("ssh-ed25519 AAAAC3Nza test@enos\n")
    return str(path)


def client(api, password=PASSWORD):
    return grid5000.Grid5000(uri=api.url, username=USER, password=password, verify_ssl=False)


def provider_for(api, key, **extra):
    topo = topology(key=key, **extra)
    return topo, g5k.G5k(client(api), topo.provider, poll=0.01, timeout=5)


def test_jobs_submitted_match_the_topology(api, key):
    topo, provider = provider_for(api, key)
    state = provider.up(topo, "enos-g5k")
    submitted = dict((s["site"], s) for s in api.submitted)
    assert sorted(submitted) == ["nancy", "rennes"]
    assert submitted["rennes"]["resources"] == (
        "slash_22=1+{cluster='paravance'}/nodes=2+{cluster='parasilo'}/nodes=2,walltime=1:30:00")
    assert submitted["nancy"]["resources"] == "slash_22=1+{cluster='gros'}/nodes=1,walltime=1:30:00"
    assert all(s["name"] == "enos-t" and s["types"] == ["deploy"] for s in api.submitted)
    assert "queue" not in submitted["rennes"] and "reservation" not in submitted["rennes"]
    # one kadeploy deployment per site, of the asked environment, with the key
    deployed = sorted((d["site"], d["environment"], len(d["nodes"]), d["key"].split()[0])
                      for d in api.deployments.values())
    assert deployed == [("nancy", "debian12-nfs", 1, "ssh-ed25519"),
                        ("rennes", "debian12-nfs", 4, "ssh-ed25519")]
    # the resource state: every host, its interfaces, networks with free IPs, SSH access
    names = [h["name"] for h in state["hosts"]]
    assert names == [h.name for h in topo.hosts]
    control = state["hosts"][0]
    assert control["address"] == "paravance-1.rennes.grid5000.fr"
    assert control["interfaces"]["network_interface"]["device"] == "eno1"
    assert control["interfaces"]["network_interface"]["address"].startswith("172.16.")
    assert control["interfaces"]["neutron_external_interface"]["device"] == "eno2"
    assert state["ssh"] == {"user": "root", "private_key": key[:-4], "port": 22}
    api_net = [n for n in state["networks"] if n["roles"] == ["network_interface"]]
    assert len(api_net) == 2 and all(len(n["free_ips"]) == 50 for n in api_net)
    assert api_net[0]["free_ips"][0] == "10.158.0.1"
    assert sorted(j["site"] for j in state["g5k"]["jobs"]) == ["nancy", "rennes"]


def test_job_options_kavlan_and_no_deploy(api, key):
    topo, provider = provider_for(api, key, job_type="allow_classic_ssh", queue="production",
                                  reservation="2026-12-24 19:00:00", kavlan=True,
                                  walltime="10:00:00")
    state = provider.up(topo, "enos-g5k")
    rennes = [s for s in api.submitted if s["site"] == "rennes"][0]
    assert rennes["resources"].startswith("{type='kavlan'}/vlan=2+slash_22=1+")
    assert rennes["resources"].endswith(",walltime=10:00:00")
    assert rennes["types"] == ["allow_classic_ssh"]
    assert rennes["queue"] == "production" and rennes["reservation"] == "2026-12-24 19:00:00"
    assert api.deployments == {}               # no kadeploy without a deploy job
    # the external interfaces are put in the second VLAN
    moved = dict((site, (vlan, nodes)) for site, vlan, nodes in api.vlan_moves)
    assert moved["rennes"][0] == "5" and "paravance-1-eno2.rennes.grid5000.fr" in moved["rennes"][1]
    assert state["hosts"][0]["address"] == "paravance-1-kavlan-4.rennes.grid5000.fr"
    assert state["ssh"]["user"] == USER
    ext = [n for n in state["networks"] if n["roles"] == ["neutron_external_interface"]]
    assert ext[0]["vlan"] == "5"


def test_a_running_job_of_the_same_name_is_reused(api, key):
    topo, provider = provider_for(api, key)
    first = provider.up(topo, "enos-g5k")
    again = provider.up(topo, "enos-g5k")
    assert len(api.submitted) == 2            # nothing more submitted the second time
    assert [j["uid"] for j in again["g5k"]["jobs"]] == [j["uid"] for j in first["g5k"]["jobs"]]
    assert all(j["reused"] for j in again["g5k"]["jobs"])


def test_destroy_deletes_the_jobs_of_this_environment_only(api, key):
    topo, provider = provider_for(api, key)
    other = parse_topology({"provider": {"type": "g5k", "job_name": "someone-else",
                                         "walltime": "01:00:00", "key": key},
                            "resources": {"gros": {"compute": 1}}}, "other.yaml")
    g5k.G5k(client(api), other.provider, poll=0.01, timeout=5).up(other, "other")
    state = provider.up(topo, "enos-g5k")
    deleted = provider.destroy(topo, state)
    assert sorted(d["site"] for d in deleted) == ["nancy", "rennes"]
    states = dict((j["name"] + "@" + j["site"], j["state"]) for j in api.jobs.values())
    assert states == {"enos-t@rennes": "error", "enos-t@nancy": "error",
                      "someone-else@nancy": "running"}
    assert ("DELETE" in [r[0] for r in api.requests])
    assert provider.status(topo, state) == []
    assert provider.destroy(topo, None) == []     # nothing left: a second destroy does nothing


def test_unknown_cluster(api, key):
    topo = parse_topology({"provider": {"type": "g5k", "walltime": "01:00:00", "key": key},
                           "resources": {"paravanse": {"compute": 1}}}, "g5k.yaml")
    with pytest.raises(ProviderError, match=r"unknown Grid'5000 cluster 'paravanse' "
                                            r"\(did you mean 'paravance'\?\)"):
        g5k.G5k(client(api), topo.provider, poll=0.01).up(topo, "e")
    assert api.submitted == []


def test_not_enough_nodes_is_said_with_the_fix(api, key):
    topo = parse_topology({"provider": {"type": "g5k", "walltime": "01:00:00", "key": key},
                           "resources": {"parasilo": {"compute": 5}}}, "g5k.yaml")
    with pytest.raises(ProviderError, match=r"not enough resources.*ask for fewer nodes"):
        g5k.G5k(client(api), topo.provider, poll=0.01).up(topo, "e")


def test_refused_credentials(api, key):
    topo = topology(key=key)
    with pytest.raises(ProviderError, match="credentials refused"):
        g5k.G5k(client(api, password="wrong"), topo.provider, poll=0.01).up(topo, "e")


def test_missing_credentials(tmp_path):
    with pytest.raises(ProviderError, match=r"credentials missing: set G5K_USERNAME"):
        g5k.credentials({}, environ={}, home=str(tmp_path))
    (tmp_path / ".python-grid5000.yaml").write_text("username: bob\npassword: pw\n")
    assert g5k.credentials({}, environ={}, home=str(tmp_path)) == ("bob", "pw")


@pytest.mark.parametrize("walltime, message", [
    ("2h", "'2h' is not a walltime"), ("02:70:00", "is not a walltime"),
    ("00:00:00", "walltime of zero")])
def test_walltime_format(walltime, message):
    with pytest.raises(ProviderError, match=message):
        g5k.settings({"walltime": walltime})
    problems = provider_problems(topology(walltime=walltime))
    assert [p[1] for p in problems] == ["provider.walltime"]


def test_unquoted_walltime_read_by_yaml_as_seconds_is_accepted():
    assert g5k.settings({"walltime": 7200})["walltime"] == 7200


def test_unknown_site_in_the_api_is_said(api, key):
    provider = g5k.G5k(client(api), topology(key=key).provider, poll=0.01)
    with pytest.raises(ProviderError, match="listing the jobs of lyon"):
        provider.find_job("lyon")


def test_role_up_and_destroy_through_the_playbooks(api, key, tmp_path):
    """playbooks/provider.yml and destroy.yml with the g5k_provider role, against the double."""
    import json
    import subprocess
    import yaml
    from pathlib import Path
    root = Path(__file__).resolve().parents[2]
    env_dir = tmp_path / "env"
    env_dir.mkdir()
    (env_dir / "topology.yml").write_text(yaml.safe_dump({
        "provider": {"type": "g5k", "job_name": "enos-role", "walltime": "00:30:00",
                     "key": key, "api_url": api.url},
        "topology": {"grp1": {"paravance": {"control": 1}}, "grp2": {"gros": {"compute": 1}}}}))
    (env_dir / "inventory.yml").write_text("plugin: edge.enos.topology\nreservation: topology.yml\n"
                                           "env: %s\n" % json.dumps(str(env_dir)))
    environ = dict(os.environ, G5K_USERNAME=USER, G5K_PASSWORD=PASSWORD, ENOS_ENV=str(env_dir),
                   ANSIBLE_CONFIG=str(root / "ansible.cfg"))
    bindir = Path(sys.executable).parent

    def play(name, *extra):
        proc = subprocess.run([str(bindir / "ansible-playbook"), "-i", str(env_dir / "inventory.yml"),
                               str(root / "playbooks" / name), *extra], cwd=root, env=environ,
                              capture_output=True, text=True, timeout=600, check=False)
        assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
        return proc.stdout

    play("provider.yml")
    state = json.loads((env_dir / "resources.json").read_text())
    assert [h["name"] for h in state["hosts"]] == ["grp1-control-1", "grp2-compute-1"]
    assert sorted(s["site"] for s in api.submitted) == ["nancy", "rennes"]
    play("destroy.yml", "-e", "enos_destroy_hard=true")
    assert sorted(j["state"] for j in api.jobs.values()) == ["error", "error"]
    assert not (env_dir / "resources.json").exists()
