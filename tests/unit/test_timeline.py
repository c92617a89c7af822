"""Partitions and the network events timeline: parsing, validation with FILE:LINE errors."""
import pytest

from ansible_collections.edge.enos.plugins.module_utils import timeline as tl
from ansible_collections.edge.enos.plugins.module_utils.topology import (
    expand_range, parse_delay, parse_loss, parse_rate, read_yaml)

SITES = ("grp1", "grp2", "grp3", "grp4")


def parse(text, sites=SITES):
    data = read_yaml(text, "events.yml")
    return tl.parse_timeline(data["network_events"], "events.yml", sites, expand_range)


def errors(text, sites=SITES):
    with pytest.raises(tl.TimelineError) as exc:
        parse(text, sites)
    return str(exc.value)


def test_partition_specs():
    assert tl.parse_partition("grp3", SITES, expand_range) == [["grp3"], ["grp1", "grp2", "grp4"]]
    assert tl.parse_partition("grp[2-3]", SITES, expand_range) == [["grp2", "grp3"], ["grp1", "grp4"]]
    assert tl.parse_partition("grp1,grp2/grp3", SITES, expand_range) == [
        ["grp1", "grp2"], ["grp3"], ["grp4"]]
    assert tl.parse_partition("grp[1,2]/grp[3-4]", SITES, expand_range) == [
        ["grp1", "grp2"], ["grp3", "grp4"]]
    assert tl.parse_partition(["grp1", "grp4"], SITES, expand_range)[0] == ["grp1", "grp4"]
    for bad, word in (("grp9", "unknown site"), ("grp1/grp1", "named twice"),
                      ("grp[1-4]", "nothing is cut"), ("grp1,,grp2", "empty")):
        with pytest.raises(ValueError) as exc:
            tl.parse_partition(bad, SITES, expand_range)
        assert word in exc.value.args[0]


def test_cut_rules_router_and_node():
    pairs = tl.cut_pairs([["grp3"], ["grp1", "grp2"]])
    assert pairs == {("grp1", "grp3"), ("grp2", "grp3")}
    prefixes = {"grp1": ["10.150.1.0/24"], "grp2": ["10.150.2.0/24"], "grp3": ["10.150.3.0/24"]}
    router = tl.rules(pairs, prefixes, "router")
    assert ("10.150.3.0/24", "10.150.1.0/24") in router and ("10.150.1.0/24", "10.150.3.0/24") in router
    assert len(router) == 4 and not any(set(r) == {"10.150.1.0/24", "10.150.2.0/24"} for r in router)
    assert tl.rules(pairs, prefixes, "node", site="grp1") == [(None, "10.150.3.0/24")]
    assert len(tl.rules(pairs, prefixes, "node", site="grp3")) == 2
    assert tl.rule_command("add", ("10.150.3.0/24", "10.150.1.0/24")) == [
        "rule", "add", "pref", str(tl.RULE_PREF), "from", "10.150.3.0/24", "to", "10.150.1.0/24",
        "blackhole"]


def test_timeline_actions_in_time_order():
    actions = parse("""network_events:
  - {at: 0, partition: grp3}
  - {at: 20s, heal: grp3}
  - {at: 30, flap: grp1/grp2, down: 2s, every: 10s, until: 60s}
  - {at: 500ms, set: {src: grp1, dst: grp2, delay: 80ms}}
""")
    ops = [(a["at"], a["op"]) for a in actions]
    assert ops[:3] == [(0, "cut"), (0.5, "set"), (20, "restore")]
    flap = [a for a in actions if a["event"] == 2]
    assert [a["at"] for a in flap] == [30, 32, 40, 42, 50, 52]
    assert flap[0]["pairs"] == [["grp1", "grp2"]]
    assert actions[2]["pairs"] == [["grp1", "grp3"], ["grp2", "grp3"], ["grp3", "grp4"]]


def test_a_flap_cuts_only_between_its_groups_not_the_rest():
    actions = parse("network_events:\n  - {at: 0, flap: 'grp1/grp2', down: 2, every: 10, until: 20}\n")
    assert actions[0]["pairs"] == [["grp1", "grp2"]]
    assert "nothing is cut" in errors("network_events:\n  - {at: 0, flap: grp1, down: 1, every: 5, until: 9}\n")


def test_two_sided_flap_cuts_only_between_the_groups():
    actions = parse("network_events:\n  - {at: 0, flap: 'grp1/grp2', down: 2, every: 10, until: 20}\n",
                    sites=["grp1", "grp2"])
    assert actions[0]["pairs"] == [["grp1", "grp2"]] and len(actions) == 4


def test_errors_name_file_line_key_and_fix():
    text = errors("""network_events:
  - {at: 0, partition: grp9}
  - {at: -3, heal: all}
  - {at: 5, flap: grp1/grp2, down: 12s, every: 10s, until: 60s}
  - {at: 1, partition: grp1, colour: red}
""")
    lines = text.splitlines()
    assert any(l.startswith("events.yml:2: network_events[0].partition: unknown site 'grp9'") for l in lines), text
    assert any(l.startswith("events.yml:3: network_events[1].at: negative time") for l in lines), text
    assert any("events.yml:4: network_events[2].flap: down" in l and "(the link must" in l for l in lines), text
    assert any("network_events[3].colour: unknown key" in l for l in lines), text


def test_overlapping_events_are_refused():
    text = errors("""network_events:
  - {at: 0, partition: grp3}
  - {at: 10, flap: grp2/grp3, down: 1, every: 5, until: 20}
""")
    assert "events.yml:3: network_events[1].flap: overlaps the event at line 2" in text
    # healed before: no overlap
    parse("""network_events:
  - {at: 0, partition: grp3}
  - {at: 9, heal: all}
  - {at: 10, flap: grp2/grp3, down: 1, every: 5, until: 20}
""")
    assert "heals nothing" in errors("network_events:\n  - {at: 3, heal: grp1}\n")
    assert "overlaps" in errors("""network_events:
  - {at: 3, set: {src: grp1, dst: grp2, delay: 10ms}}
  - {at: 3, set: {src: grp1, dst: grp2, rate: 10mbit}}
""")


def test_set_uses_the_topology_units():
    def units(change):
        return {"delay_us": parse_delay(change.get("delay", 0)),
                "rate_bps": parse_rate(change["rate"]) if "rate" in change else None,
                "loss_pct": parse_loss(change["loss"]) if "loss" in change else None}
    data = read_yaml("network_events:\n  - {at: 1, set: {src: grp1, dst: grp2, delay: 80ms, symmetric: true}}\n", "e.yml")
    actions = tl.parse_timeline(data["network_events"], "e.yml", SITES, expand_range, units)
    assert actions[0]["link"]["delay_us"] == 80000 and actions[0]["pairs"] == [["grp1", "grp2"], ["grp2", "grp1"]]


def test_event_log_and_influx_lines():
    action = {"event": 2, "line": 4, "op": "cut", "what": "flap grp1 / grp2", "pairs": [["grp1", "grp2"]]}
    entry = tl.log_entry(action, 100.0, 100.001, 100.0125, host="router")
    assert entry["lag_ms"] == 12.5
    line = tl.influx_lines([entry])[0]
    assert line.startswith("network_events,op=cut,host=router what=\"flap grp1 / grp2\",event=2i")
    assert line.endswith(" 100012500000")


def test_a_constraint_change_touches_only_its_class():
    from ansible_collections.edge.enos.plugins.module_utils import netem as nm
    ifaces = {s: {"device": "vec%d" % i, "cidr": "10.150.%d.0/24" % (i + 1)}
              for i, s in enumerate(["grp1", "grp2", "grp3"])}
    links = [{"src": a, "dst": b, "delay_us": 25000, "rate_bps": 10 ** 8}
             for a in ifaces for b in ifaces if a != b]
    changed = [dict(l, delay_us=80000) if (l["src"], l["dst"]) == ("grp1", "grp2") else l for l in links]
    old = nm.compile_plan(links, {}, None, placement="router", router_interfaces=ifaces)
    new = nm.compile_plan(changed, {}, None, placement="router", router_interfaces=ifaces)
    lines = nm.change_batch(old, new)
    assert len(lines) == 1 and lines[0].startswith("qdisc replace dev vec1 parent e05:")
    assert "delay 80000us" in lines[0]
    assert nm.change_batch(old, old) == []
    with pytest.raises(nm.NetemError):
        nm.change_batch(old, nm.compile_plan(links[:2], {}, None, placement="router",
                                             router_interfaces=ifaces))
