"""End to end: `enos deploy` on the local testbed gives a complete OpenStack.

Slow (the first run builds the Kolla images when the machine has none):

    .venv/bin/pytest -m e2e tests/e2e

Every e2e test shares one deployment (tests/e2e/conftest.py). ENOS_E2E_TOPOLOGY picks another
topology file.
"""

import hashlib
import json
import os
import stat

import pytest
import yaml

from e2e_helpers import (assert_cloud_answers, kolla_containers, last_run_stats, server_create,
                         server_delete, settled_containers)

pytestmark = [pytest.mark.e2e, pytest.mark.docker]

# simulated nova-compute hosts per compute node in the shared deployment (conftest.py)
SIMULATED = 20


def test_deploy_gives_a_working_cloud(env):
    services = assert_cloud_answers(env)
    assert {"identity", "image", "placement", "compute", "network"} <= services, services
    containers = settled_containers(env)
    for host, statuses in containers.items():
        unhealthy = {n: s for n, s in statuses.items()
                     if not s.startswith("Up") or "unhealthy" in s or "starting" in s}
        assert not unhealthy, (host, unhealthy)
    expected = {"control": {"keystone", "mariadb", "rabbitmq", "glance_api", "placement_api", "nova_api",
                            "nova_scheduler", "nova_conductor", "neutron_server"},
                "network": {"neutron_openvswitch_agent", "neutron_dhcp_agent", "neutron_l3_agent",
                            "neutron_metadata_agent", "openvswitch_vswitchd"},
                "compute": {"nova_compute", "neutron_openvswitch_agent", "openvswitch_vswitchd"}}
    for group, names in expected.items():
        for host, statuses in kolla_containers(env, group).items():
            assert names <= set(statuses), (host, sorted(names - set(statuses)))


def test_every_compute_and_agent_is_up_and_sites_are_zones(env):
    topology = yaml.safe_load((env.path / "topology.yml").read_text())
    computes = json.loads(env.openstack("compute", "service", "list", "--service", "nova-compute").stdout)
    up = {c["Host"] for c in computes if c["State"] == "up" and c["Status"] == "enabled"}
    for site in ("grp2", "grp3"):
        count = topology["topology"][site]["local"]["compute"]
        for index in range(1, count + 1):
            assert "%s-compute-%d" % (site, index) in up, (site, computes)
    agents = json.loads(env.openstack("network", "agent", "list").stdout)
    dead = [(a["Agent Type"], a["Host"]) for a in agents if not a["Alive"]]
    assert not dead, dead
    kinds = {(a["Agent Type"], a["Host"]) for a in agents}
    assert ("L3 agent", "grp1-network-1") in kinds and ("DHCP agent", "grp1-network-1") in kinds, kinds
    assert ("Open vSwitch agent", "grp3-compute-1") in kinds, kinds
    zones = {z["Zone Name"] for z in json.loads(env.openstack("availability", "zone", "list", "--compute").stdout)
             if z["Zone Status"] == "available"}
    assert {"grp2", "grp3"} <= zones, zones


@pytest.mark.parametrize("site", ["grp3", "grp2"])
def test_server_boots_in_the_site_asked_with_a_bound_port(env, site):
    server = server_create(env, "e2e-%s" % site, site)
    try:
        assert server["status"] == "ACTIVE", server
        assert server["OS-EXT-AZ:availability_zone"] == site
        assert server["OS-EXT-SRV-ATTR:host"].startswith(site + "-compute-"), server
        ports = json.loads(env.openstack("port", "list", "--device-id", server["id"], "--long").stdout)
        assert len(ports) == 1, ports
        port = json.loads(env.openstack("port", "show", ports[0]["ID"]).stdout)
        assert port["binding_vif_type"] not in ("binding_failed", "unbound"), port
        assert port["binding_vif_type"] == "ovs", port
        assert port["binding_host_id"] == server["OS-EXT-SRV-ATTR:host"], port
    finally:
        server_delete(env, server)


def test_glance_upload_then_download_keeps_the_bytes(env, tmp_path):
    data = tmp_path / "image.raw"
    data.write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    created = env.openstack("image", "create", "--file", str(data), "--disk-format", "raw",
                            "--container-format", "bare", "e2e-roundtrip", timeout=300)
    assert created.returncode == 0, created.stderr
    image = json.loads(created.stdout)
    try:
        back = tmp_path / "back.raw"
        saved = env.openstack("image", "save", "--file", str(back), image["id"], json_output=False,
                              timeout=300)
        assert saved.returncode == 0, saved.stderr
        assert hashlib.sha256(back.read_bytes()).hexdigest() == hashlib.sha256(data.read_bytes()).hexdigest()
    finally:
        env.openstack("image", "delete", image["id"], json_output=False)


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
    # and every event ansible-runner kept (task results, arguments, facts)
    for path in (env.path / "runner" / "artifacts").glob("*/job_events/*.json"):
        texts.append(path.read_text(errors="replace"))
    assert len(texts) > 10, "no run output found in %s" % env.path
    leaked = [s[:4] + "..." for s in secrets for text in texts if s in text]
    assert not leaked, "secrets found in the output: %s" % sorted(set(leaked))


def test_second_deploy_converges(env):
    env.enos("deploy")
    assert_cloud_answers(env)
    stats = last_run_stats(env, "deploy")
    nodes = [h for h in stats["ok"] if h != "localhost"]
    assert len(nodes) == 5, stats["ok"]
    changed = {host: count for host, count in stats["changed"].items() if host in nodes and count}
    assert not changed, "the second deploy changed nodes: %s" % changed


def test_simulated_computes_register_and_take_servers(env, tmp_path):
    topology = yaml.safe_load((env.path / "topology.yml").read_text())
    if topology["kolla"].get("enos_simulated_computes", 0) != SIMULATED:
        topology["kolla"]["enos_simulated_computes"] = SIMULATED
        scaled = tmp_path / "simulated.yml"
        scaled.write_text(yaml.safe_dump(topology, sort_keys=False))
        env.enos("os", "-f", str(scaled))
        env.enos("init")
    computes = json.loads(env.openstack("compute", "service", "list", "--service", "nova-compute").stdout)
    simulated = {c["Host"] for c in computes if "-sim" in c["Host"] and c["State"] == "up"}
    assert len(simulated) == 3 * SIMULATED, sorted(simulated)
    providers = json.loads(env.openstack("resource", "provider", "list").stdout)
    assert simulated <= {p["name"] for p in providers}
    aggregate = json.loads(env.openstack("aggregate", "show", "grp3").stdout)
    assert "grp3-compute-1-sim7" in aggregate["hosts"], aggregate
    server = server_create(env, "e2e-simulated", "grp3:grp3-compute-1-sim7")
    try:
        assert server["status"] == "ACTIVE", server
        assert server["OS-EXT-SRV-ATTR:host"] == "grp3-compute-1-sim7", server
        port = json.loads(env.openstack("port", "list", "--device-id", server["id"], "--long").stdout)[0]
        port = json.loads(env.openstack("port", "show", port["ID"]).stdout)
        assert port["binding_vif_type"] == "ovs" and port["binding_host_id"] == "grp3-compute-1-sim7", port
    finally:
        server_delete(env, server)


def test_wan_shaped_and_proven_on_the_deployment(env):
    """`make experiment`'s path: enos tc then enos tc --test on the deployed testbed, the report
    rows checked against the topology's constraints (RTT = delay there + delay back)."""
    env.enos("tc")
    env.enos("tc", "--test")
    report = json.loads((env.path / "reports" / "netem.json").read_text())
    topology = yaml.safe_load((env.path / "topology.yml").read_text())
    constraints = topology["network_constraints"]
    delay = {(s, d): int(constraints["default_delay"].rstrip("ms"))
             for s in ("grp1", "grp2", "grp3") for d in ("grp1", "grp2", "grp3") if s != d}
    for rule in constraints["constraints"]:
        delay[(rule["src"], rule["dst"])] = int(rule["delay"].rstrip("ms"))
        if rule.get("symmetric"):
            delay[(rule["dst"], rule["src"])] = int(rule["delay"].rstrip("ms"))
    rows = {(r["src"], r["dst"]): r for r in report["rows"]}
    assert set(rows) == set(delay), sorted(rows)
    for (src, dst), row in rows.items():
        rtt = row["checks"]["rtt_ms"]
        assert rtt["asked"] == pytest.approx(delay[(src, dst)] + delay[(dst, src)], abs=2), row
        assert row["pass"], row
    assert report["passed"] is True
    env.enos("tc", "--reset")
