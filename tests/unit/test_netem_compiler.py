"""The constraints compiler (plugins/module_utils/netem.py): links + addresses -> tc plan."""
import os
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "collections"))
from ansible_collections.edge.enos.plugins.module_utils import netem as nm  # noqa: E402


def hosts_for(sites, per_site, v6=False):
    hosts, i = {}, 0
    for s in sites:
        for _host in range(per_site):
            i += 1
            iface = {"device": "eth0", "address": "10.%d.%d.%d" % (i >> 16, (i >> 8) & 255, i & 255)}
            if v6:
                iface["address6"] = "fd00::%x" % i
            hosts["%s-n%d" % (s, i)] = {"site": s, "interfaces": {"network_interface": iface}}
    return hosts


def link(src, dst, **kw):
    return dict(src=src, dst=dst, origin=kw.pop("origin", "default"), **kw)


def test_one_class_per_destination_site_and_constraint():
    hosts = hosts_for(["a", "b", "c"], 50)
    links = [link("a", "b", delay_us=10000), link("a", "c", delay_us=10000, rate_bps=10 ** 8)]
    me = next(n for n, h in hosts.items() if h["site"] == "a")
    plan = nm.compile_plan(links, hosts, me)
    classes = plan["devices"]["eth0"]["classes"]
    assert [c["peer"] for c in classes] == ["b", "c"]
    assert [len(c["prefixes"]) for c in classes] == [50, 50]
    counts = nm.count_objects(plan)
    assert counts["classes"] == 2 and counts["qdiscs"] == 3
    assert counts["filters"] == 100 + 2            # 100 hashed + hash table + link


def test_class_ids_are_hex_and_in_range_for_many_sites():
    sites = ["s%d" % i for i in range(400)]
    hosts = hosts_for(sites, 30)                 # 12,000 destinations
    links = [link("s0", s, delay_us=1000 * (i + 1)) for i, s in enumerate(sites[1:])]
    plan = nm.compile_plan(links, hosts, "s0-n1")
    ids = [c["classid"] for c in plan["devices"]["eth0"]["classes"]]
    assert len(ids) == len(set(ids)) == 399
    assert ids[0] == "e05:10" and "e05:a0" in ids
    assert all(0x10 <= int(i.split(":")[1], 16) <= 0xFFFF for i in ids)
    batch = nm.render_batch(plan)
    assert sum(1 for x in batch if " ht 100:" in x) == 30 * 399
    assert all(" flowid e05:" in x for x in batch if " ht 100:" in x)


def test_intra_site_is_unshaped_unless_asked_and_excludes_self():
    hosts = hosts_for(["a", "b"], 3)
    assert nm.compile_plan([link("a", "b", delay_us=1)], hosts, "b-n4")["devices"] == {}
    plan = nm.compile_plan([link("a", "a", delay_us=5000)], hosts, "a-n1")
    prefixes = plan["devices"]["eth0"]["classes"][0]["prefixes"]
    assert sorted(prefixes) == ["10.0.0.2", "10.0.0.3"]


def test_site_subnet_used_when_the_network_belongs_to_the_site():
    hosts = hosts_for(["a", "b"], 2)
    nets = [{"site": "b", "roles": ["network_interface"], "cidr": "10.201.2.0/24"}]
    plan = nm.compile_plan([link("a", "b", delay_us=1000)], hosts, "a-n1", networks=nets)
    assert plan["devices"]["eth0"]["classes"][0]["prefixes"] == ["10.201.2.0/24"]
    assert any("prio 2" in x and "10.201.2.0/24" in x for x in nm.render_batch(plan))


def test_ipv6_hashed_on_last_byte():
    hosts = hosts_for(["a", "b"], 2, v6=True)
    plan = nm.compile_plan([link("a", "b", delay_us=1000)], hosts, "a-n1")
    batch = nm.render_batch(plan)
    assert any("protocol ipv6 u32 ht 101:3: match ip6 dst fd00::3/128" in x for x in batch)
    state = nm.desired_state(plan, "eth0")
    v6 = [f for f in state["filters"] if f[0] == "ipv6"]
    assert v6[0][2][-1] == (36, 3, 0xFFFFFFFF)


def test_router_placement_one_class_per_source_site():
    ifaces = {s: {"device": "vec%d" % i, "cidr": "10.201.%d.0/24" % (i + 1)}
              for i, s in enumerate(["a", "b", "c"])}
    links = [link("a", "c", delay_us=60000), link("b", "c", delay_us=40000, loss_pct=1.0),
             link("c", "a", delay_us=60000), link("a", "a", delay_us=1)]
    plan = nm.compile_plan(links, {}, None, placement="router", router_interfaces=ifaces)
    toward_c = plan["devices"]["vec2"]
    assert toward_c["match"] == "src"
    assert [(c["peer"], c["prefixes"]) for c in toward_c["classes"]] == [
        ("a", ["10.201.1.0/24"]), ("b", ["10.201.2.0/24"])]
    assert "match ip src 10.201.2.0/24" in "\n".join(nm.render_batch(plan))
    assert any("inside site a" in s for s in plan["skipped"])
    with pytest.raises(nm.NetemError, match="no interface on site"):
        nm.compile_plan([link("a", "z", delay_us=1)], {}, None, placement="router",
                        router_interfaces=ifaces)


def test_netem_limit_covers_the_bandwidth_delay_product():
    s = nm.sizing({"rate_bps": 10 ** 9, "delay_us": 100000, "jitter_us": 0})
    assert s["limit"] >= 10 ** 9 / 8 * 0.1 / 1514          # > 8,000 packets, not netem's 1000
    assert nm.sizing({"rate_bps": 10 ** 6, "delay_us": 1000})["limit"] == 1000
    assert s["burst"] >= 10 ** 9 / 8 / 100


def test_missing_interface_is_named():
    hosts = hosts_for(["a", "b"], 1)
    with pytest.raises(nm.NetemError, match="a-n1 has no interface for network 'storage'"):
        nm.compile_plan([link("a", "b", delay_us=1, network="storage")], hosts, "a-n1")


def test_rate_only_and_capabilities():
    hosts = hosts_for(["a", "b", "c"], 1)
    links = [link("a", "b", delay_us=1000, rate_bps=10 ** 7, origin="constraints[0]"),
             link("a", "c", delay_us=1000, origin="default")]
    plan = nm.compile_plan(links, hosts, "a-n1")
    missing = nm.unsatisfiable(plan, {"netem": False, "htb": True, "u32": True})
    assert len(missing) == 2 and "a->b constraints[0]" in missing[0]
    assert nm.unsatisfiable(plan, {"netem": True, "htb": True, "u32": True}) == []
    rate_plan, dropped = nm.restrict_rate_only(plan)
    assert [c["peer"] for c in rate_plan["devices"]["eth0"]["classes"]] == ["b"]
    assert not any(c["netem"] for c in rate_plan["devices"]["eth0"]["classes"])
    assert len(dropped) == 2 and all("not applied" in d for d in dropped)


def test_compare_tolerances():
    links = [link("a", "b", delay_us=30000), link("b", "a", delay_us=30000),
             link("a", "c", rate_bps=10 ** 7)]
    stats = nm.rtt_stats([60.5] * 99 + [None])
    rows = nm.compare(links, [{"src": "a", "dst": "b", "rtt": stats},
                              {"src": "a", "dst": "c", "rtt": nm.rtt_stats([0.2] * 10),
                               "rate_bps": 8.5e6}])
    assert rows[0]["pass"] and rows[0]["checks"]["rtt_ms"]["tolerance"] == 3.0
    assert rows[1]["checks"]["rtt_ms"]["pass"] and not rows[1]["checks"]["rate_bps"]["pass"]
    assert not nm.compare(links, [{"src": "a", "dst": "b", "rtt": nm.rtt_stats([64.0])}])[0]["pass"]
    assert "FAIL" in nm.report_table(rows)


def test_topology_links_mapping_is_accepted():
    class L(object):
        delay_us, jitter_us, rate_bps, loss_pct, network, origin = 1000, 0, None, None, None, "d"
    assert nm.normalize_links({("a", "b"): L()})[0]["delay_us"] == 1000
