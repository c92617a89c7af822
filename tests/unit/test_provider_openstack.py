"""OpenStack/Chameleon provider: the plan (pure), and Blazar leases against a TEST DOUBLE.

The cloud calls themselves run against the OpenStack this project deploys
(tests/e2e/test_deploy.py::test_openstack_provider_on_the_deployment).
"""
import datetime
import json
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from doubles.blazar_api_double import BlazarDouble  # noqa: E402

from ansible_collections.edge.enos.plugins.module_utils import provider_openstack as po  # noqa: E402
from ansible_collections.edge.enos.plugins.module_utils.provider_common import (  # noqa: E402
    ProviderError, format_problems, provider_problems)
from ansible_collections.edge.enos.plugins.module_utils.topology import (  # noqa: E402
    load_topology, parse_topology)


def topology(ptype="openstack", **provider):
    data = {"provider": dict({"type": ptype, "image": "debian-12", "user": "debian"}, **provider),
            "topology": {"grp1": {"m1.large": {"control": 1}},
                         "grp2": {"m1.small": {"compute": 2}}}}
    return parse_topology(data, "os.yaml")


def test_plan_names_everything_after_the_environment():
    planned = po.plan(topology(), "enos-ab12", "ssh-ed25519 AAAA")
    assert planned["keypair"] == {"name": "enos-ab12-key", "create": True,
                                  "public_key": "ssh-ed25519 AAAA"}
    assert planned["network"]["name"] == "enos-ab12-net" and planned["network"]["create"]
    assert planned["network"]["cidr"] == "10.87.0.0/24"
    assert planned["router"] == {"name": "enos-ab12-router"}
    assert planned["security_group"]["name"] == "enos-ab12-sg"
    assert [(s["name"], s["flavor"]) for s in planned["servers"]] == [
        ("enos-ab12-grp1-control-1", "m1.large"), ("enos-ab12-grp2-compute-1", "m1.small"),
        ("enos-ab12-grp2-compute-2", "m1.small")]
    assert planned["floating_ips"] and not planned["gateway"]
    assert planned["vip_ports"] == ["enos-ab12-vip-1", "enos-ab12-vip-2"]
    assert "lease" not in planned


def test_plan_with_an_existing_network_and_keypair_creates_neither():
    planned = po.plan(topology(network={"name": "shared"}, key_name="mine", gateway=True,
                               prefix="exp"), "enos-ab12")
    assert planned["network"] == {"name": "shared", "create": False, "subnet": "exp-subnet",
                                  "cidr": "10.87.0.0/24", "dns_nameservers": []}
    assert planned["router"] is None
    assert planned["keypair"]["create"] is False and planned["keypair"]["name"] == "mine"
    assert planned["gateway"] and not planned["floating_ips"]


def test_chameleon_plan_reserves_node_types_and_schedules_bare_metal():
    topo = topology("chameleon", walltime="03:00:00", lease_name="my-lease")
    topo = parse_topology({"provider": topo.provider,
                           "topology": {"grp1": {"compute_skylake": {"control": 1}},
                                        "grp2": {"compute_haswell": {"compute": 2}}}}, "c.yaml")
    planned = po.plan(topo, "enos-ab12")
    assert [s["flavor"] for s in planned["servers"]] == ["baremetal"] * 3
    lease = planned["lease"]
    assert lease["name"] == "my-lease" and lease["start_date"] == "now"
    reserved = [(json.loads(r["resource_properties"])[2], r["min"], r["max"])
                for r in lease["reservations"]]
    assert reserved == [("compute_haswell", 2, 2), ("compute_skylake", 1, 1)]


def test_lease_dates_from_reservation_and_walltime():
    topo = topology("chameleon", walltime="02:30:00", reservation="2026-12-24 18:00")
    lease = po.lease_request(topo, topo.provider)
    assert (lease["start_date"], lease["end_date"]) == ("2026-12-24 18:00", "2026-12-24 20:30")
    now = datetime.datetime(2026, 1, 1, 10, 0)
    lease = po.lease_request(topo, dict(topo.provider, reservation=False), now=now)
    assert lease["end_date"] == "2026-01-01 12:31"


def test_blazar_lease_created_waited_for_then_reused():
    double = BlazarDouble(steps_to_active=2)
    blazar = po.Blazar(double.request, poll=0, timeout=5)
    topo = parse_topology({"provider": {"type": "chameleon", "image": "CC", "user": "cc",
                                        "walltime": "01:00:00"},
                           "resources": {"compute_skylake": {"compute": 3}}}, "c.yaml")
    body = po.plan(topo, "e")["lease"]
    lease, created = blazar.ensure(body)
    assert created and lease["status"] == "ACTIVE"
    assert [request[0] for request in double.requests].count("POST") == 1
    assert list(po.reservation_ids(lease)) == ["compute_skylake"]
    again, created_again = blazar.ensure(body)
    assert not created_again and again["id"] == lease["id"]
    assert [request[0] for request in double.requests].count("POST") == 1
    assert blazar.delete(lease["id"]) and double.leases == {}
    assert not blazar.delete(lease["id"])        # already gone: nothing to do


def test_blazar_refusal_is_said_with_the_fix():
    blazar = po.Blazar(BlazarDouble().request, poll=0, timeout=5)
    topo = parse_topology({"provider": {"type": "chameleon", "image": "CC", "user": "cc",
                                        "walltime": "01:00:00"},
                           "resources": {"compute_haswell": {"compute": 9}}}, "c.yaml")
    with pytest.raises(ProviderError, match=r"refused \(409\): Not enough hosts available "
                                            r"\(fewer nodes"):
        blazar.ensure(po.plan(topo, "e")["lease"])


def test_missing_keys_are_refused_before_anything(tmp_path):
    path = tmp_path / "os.yaml"
    path.write_text("provider:\n  type: openstack\n  imgae: debian-12\n"
                    "resources:\n  m1.small: {compute: 1}\n")
    problems = provider_problems(load_topology(str(path)))
    text = format_problems(str(path), problems)
    assert "os.yaml:3: provider.imgae: unknown key for provider openstack (did you mean `image`?)" in text
    assert "provider.image: missing (provider openstack needs it)" in text
    assert "provider.user: missing" in text


def test_chameleon_needs_a_walltime():
    problems = provider_problems(topology("chameleon"))
    assert [p[1] for p in problems] == ["provider.walltime"]


def test_bad_subnet():
    with pytest.raises(ProviderError, match="provider.subnet: '10.87.0.0/33' is not a network"):
        po.plan(topology(subnet="10.87.0.0/33"), "e")


def test_without_an_external_network_no_router_and_no_floating_ip():
    planned = po.plan(topology(external_network=None), "e")
    assert planned["router"] is None and not planned["floating_ips"] and not planned["gateway"]


def test_per_host_ssh_settings_reach_the_inventory():
    from ansible_collections.edge.enos.plugins.inventory.topology import build_inventory
    topo = topology(gateway=True)
    state = {"ssh": {"user": "debian", "port": 22}, "hosts": [
        {"name": "grp1-control-1", "address": "192.0.2.10", "interfaces": {}},
        {"name": "grp2-compute-1", "address": "10.87.0.5", "interfaces": {},
         "proxy_jump": "debian@192.0.2.10", "port": 2201, "private_key": "/k/id"}]}
    hosts = build_inventory(topo, state, "/env")["hosts"]
    assert "ansible_ssh_common_args" not in hosts["grp1-control-1"]
    assert hosts["grp1-control-1"]["ansible_port"] == 22
    compute = hosts["grp2-compute-1"]
    assert compute["ansible_ssh_common_args"] == (
        '-o ProxyCommand="ssh -W %h:%p -q -o StrictHostKeyChecking=no '
        '-o UserKnownHostsFile=/dev/null -i /k/id debian@192.0.2.10"')
    assert (compute["ansible_port"], compute["ansible_ssh_private_key_file"]) == (2201, "/k/id")
