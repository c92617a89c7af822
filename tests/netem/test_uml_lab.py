"""Real packets through real netem: 6 nodes in 5 sites, network namespaces inside one UML kernel.

Constraints exercise EnOS's semantics through the topology model: a default (10 ms each way,
so RTT 20 ms) over the groups minus an `except` group (s5: unshaped), a symmetric constraint
(s1<->s2 30 ms: RTT 60 ms), an asymmetric one with a rate (s1->s3 40 ms, 8 Mbit/s: RTT 50 ms)
and one with loss (s2->s4 20 ms, 10 %: RTT 30 ms). Traffic inside s1 stays unshaped.
"""
import json
import os
import shutil

import pytest

import umllab
from ansible_collections.edge.enos.plugins.module_utils import netem as nm
from ansible_collections.edge.enos.plugins.module_utils.topology import parse_topology

pytestmark = [pytest.mark.uml,
              pytest.mark.skipif(not umllab.available(), reason="needs root and linux.uml")]

OUTPUT = os.path.join(umllab.REPO, "tests", "output")
SITES = ["s1", "s2", "s3", "s4", "s5"]
RESERVATION = {
    "provider": {"type": "local"},
    "topology": {s: {"local": {"compute": 2 if s == "s1" else 1}} for s in SITES},
    "network_constraints": {
        "enable": True, "default_delay": "10ms", "default_rate": "1gbit", "default_loss": "0%",
        "groups": SITES, "except": ["s5"],
        "constraints": [
            {"src": "s1", "dst": "s2", "delay": "30ms", "symmetric": True},
            {"src": "s1", "dst": "s3", "delay": "40ms", "rate": "8mbit"},
            {"src": "s2", "dst": "s4", "delay": "20ms", "loss": "10%"},
        ]},
}


@pytest.fixture(scope="module")
def lab():
    topo = parse_topology(RESERVATION)
    links = [dict(src=s, dst=d, **l.as_dict()) for (s, d), l in sorted(topo.links().items())]
    nodes, hosts = {}, {}
    for i, h in enumerate(topo.hosts, start=1):
        nodes[h.name] = {"ns": "n%d" % i, "site": h.site, "v4": "10.77.0.%d" % i,
                         "v6": "fd77::%x" % i}
        hosts[h.name] = {"site": h.site, "interfaces": {"network_interface": {
            "device": "eth0", "address": "10.77.0.%d" % i, "address6": "fd77::%x" % i}}}
    by_site = {h.site: h.name for h in reversed(topo.hosts)}
    spec = {"nodes": nodes, "hosts": hosts, "links": links, "count": 100, "interval_ms": 10,
            "a": by_site["s1"], "v6_pair": [by_site["s1"], by_site["s2"]],
            "rate_pair": [by_site["s1"], by_site["s3"]], "rate_bps": 8_000_000}
    body = "$PYTHON %s $WORK" % os.path.join(os.path.dirname(__file__), "lab_inside.py")
    rc, log, work = umllab.run(body, files={"lab.json": json.dumps(spec)}, timeout=900)
    try:
        with open(os.path.join(work, "results.json")) as f:
            results = json.load(f)
    except OSError:
        results = {"error": "no results.json"}
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(OUTPUT, exist_ok=True)
    with open(os.path.join(OUTPUT, "netem_uml_lab.json"), "w") as f:
        json.dump(dict(results, log=log), f, indent=1)
    assert rc == 0 and "error" not in results, "UML lab failed (rc=%s): %s\n%s" % (
        rc, results.get("error"), log[-3000:])
    results.update(spec=spec, links=links, log=log)
    return results


def _site_rows(lab, matrix):
    nodes = lab["spec"]["nodes"]
    return [{"src": nodes[a]["site"], "dst": nodes[b]["site"], "rtt": stats, "a": a, "b": b}
            for a, row in matrix.items() for b, stats in row.items()]


def test_rtt_and_loss_matrix(lab):
    base = max(s["median_ms"] for row in lab["base"].values() for s in row.values())
    assert base < 2.0, "unshaped lab RTT should be small, got %.2f ms" % base
    rows = nm.compare(lab["links"], _site_rows(lab, lab["shaped"]), base_ms=0.0)
    print(nm.report_table(rows))
    bad = [r for r in rows if not r["pass"]]
    assert not bad, nm.report_table(bad)
    by = {(r["src"], r["dst"]): r["checks"]["rtt_ms"]["measured"] for r in rows}
    # spot checks of the semantics, beyond the generic comparison
    assert 58 <= by[("s1", "s2")] <= 63          # symmetric 30 ms
    assert 48 <= by[("s1", "s3")] <= 53          # asymmetric 40 ms + default 10 ms
    assert 19 <= by[("s3", "s4")] <= 22          # default both ways
    assert by[("s1", "s5")] < 2 and by[("s1", "s1")] < 2   # except group, same site
    loss = [r["checks"]["loss_pct"]["measured"] for r in rows if (r["src"], r["dst"]) == ("s2", "s4")]
    assert 3 <= loss[0] <= 20, loss


def test_ipv6_is_shaped(lab):
    assert 58 <= lab["v6"]["median_ms"] <= 63, lab["v6"]


def test_htb_rate(lab):
    # TCP goodput of a link shaped at 8 Mbit/s: 8 x 1448/1514 (headers) within 10 %
    rate = lab["rate"]
    rows = nm.compare(lab["links"], [{"src": "s1", "dst": "s3", "rate_bps": rate["measured_bps"],
                                      "efficiency": rate["efficiency"]}])
    print(nm.report_table(rows))
    assert rows[0]["checks"]["rate_bps"]["pass"], nm.report_table(rows)


def test_apply_reports_changed_then_not(lab):
    assert [n for n, r in lab["apply1"].items() if not r["changed"]] == ["s5-compute-1"]
    assert not any(r["changed"] for r in lab["apply2"].values()), lab["apply2"]
    assert all(not r.get("failed") for r in lab["apply1"].values())


def test_second_apply_keeps_queues(lab):
    def netem_counters(stats):
        return {q["handle"]: q["packets"] for q in stats if q["kind"] == "netem"}
    before, after = netem_counters(lab["stats_before"]), netem_counters(lab["stats_after"])
    assert before and set(before) == set(after)
    assert all(after[h] >= before[h] > 0 for h in before), (before, after)


def test_reset_restores_base(lab):
    shaped = [n for n, r in lab["apply1"].items() if r["devices"]]
    assert len(shaped) == 5 and all(lab["reset"][n]["changed"] for n in shaped)
    assert not any(r["changed"] for r in lab["reset2"].values())
    assert "e05:" not in lab["tc_after_reset"]
    worst = max(s["median_ms"] for row in lab["after_reset"].values() for s in row.values())
    assert worst < 2.0, "RTT after reset %.2f ms" % worst
