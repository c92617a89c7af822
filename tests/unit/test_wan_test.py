"""`enos tc --test` planning: pacing, sampling, rounds, and a comparison that can fail."""
import itertools

from ansible_collections.edge.enos.plugins.module_utils import netem as nm
from ansible_collections.edge.enos.plugins.module_utils import wan_test as wt


def links_for(sites, delay_us=20000, rate_bps=100_000_000, loss_pct=None, special=()):
    out = []
    for s, d in itertools.permutations(sites, 2):
        link = {"src": s, "dst": d, "delay_us": delay_us, "rate_bps": rate_bps,
                "loss_pct": loss_pct, "jitter_us": 0}
        if (s, d) in special:
            link.update(special[(s, d)])
        out.append(link)
    return out


def test_fping_pacing_keeps_the_router_budget():
    small = wt.fping_pacing(3, count=30, budget_pps=2000)
    assert small["interval_ms"] == 10 and small["seconds"] < 5
    big = wt.fping_pacing(100, count=30, budget_pps=2000)
    # 9900 ordered pairs probed every interval: at most 2000 probes/s in all
    assert 9900 * 1000.0 / big["interval_ms"] <= 2000
    assert big["period_ms"] * 99 <= big["interval_ms"]
    assert big["seconds"] < 200


def test_loss_test_has_thousands_of_datagrams_and_stays_below_the_rate():
    t = wt.loss_test({"rate_bps": 100_000_000})
    assert t["packets"] >= 3000 and t["seconds"] <= 10
    slow = wt.loss_test({"rate_bps": 2_000_000})
    assert slow["pps"] * wt.LOSS_WIRE_BYTES * 8 <= 0.5 * 2_000_000 and slow["packets"] >= 500


def test_rate_test_offers_more_than_the_rate_on_lossy_links():
    assert wt.rate_test({"rate_bps": 10 ** 7}, 3) == {"udp": False, "seconds": 3, "omit": 1, "offered_bps": 10 ** 7}
    # TCP's slow start is left out for about ten round trips of a long link
    assert wt.rate_test({"rate_bps": 10 ** 7, "delay_us": 60000}, 3)["omit"] == 2
    lossy = wt.rate_test({"rate_bps": 10 ** 7, "loss_pct": 1.0}, 3)
    assert lossy["udp"] and lossy["offered_bps"] > 10 ** 7
    assert wt.rate_test({"delay_us": 1}, 3) is None


def test_rounds_are_disjoint_and_within_capacity():
    sites = ["s%d" % i for i in range(10)]
    pairs = list(itertools.permutations(sites, 2))
    offered = {p: 100e6 for p in pairs}
    rounds = wt.schedule_rounds(pairs, offered, capacity_bps=1e9)
    assert sorted(p for r in rounds for p in r) == sorted(pairs)
    for r in rounds:
        assert len({p[0] for p in r}) == len(r) and len({p[1] for p in r}) == len(r)
        assert not any((p[1], p[0]) in r for p in r)
        assert sum(offered[p] for p in r) <= 0.8e9
    # linear, not quadratic: 90 pairs of 100 Mbit/s, 8 per round
    assert len(rounds) <= 90 // 8 + 2
    # unlimited capacity: every site sends and receives once per round
    assert len(wt.schedule_rounds(pairs, offered)) <= 10
    # a pair and its reverse never share a round (the reverse's data would delay the acks)
    assert wt.schedule_rounds([("a", "b"), ("b", "a")], {}) == [[("a", "b")], [("b", "a")]]
    # a pair heavier than the share still runs, alone
    assert wt.schedule_rounds([("a", "b"), ("c", "d")], {("a", "b"): 5e9, ("c", "d"): 1e6},
                              capacity_bps=1e9) == [[("a", "b")], [("c", "d")]]


def test_sample_covers_every_constraint_and_says_why():
    sites = ["g%d" % i for i in range(100)]
    special = {("g1", "g2"): {"delay_us": 60000, "rate_bps": 50_000_000},
               ("g3", "g4"): {"loss_pct": 1.0}}
    links = links_for(sites, special=special)
    selected, reasons, represented = wt.sample_pairs(links, max_pairs=60)
    assert ("g1", "g2") in selected and ("g3", "g4") in selected
    assert len(selected) <= 60 and len(selected) + len(represented) == 9900
    assert all(represented[p] in selected for p in represented)
    assert "sample of" in reasons[("g1", "g2")] and "rate 50mbit" in reasons[("g1", "g2")]
    small, why, rep = wt.sample_pairs(links_for(["a", "b", "c"]))
    assert len(small) == 6 and not rep and "every pair" in why[("a", "b")]


def test_plan_gives_every_prober_its_jobs_at_absolute_times():
    sites = ["grp1", "grp2", "grp3"]
    links = links_for(sites, special={("grp2", "grp3"): {"loss_pct": 1.0}})
    plan = wt.plan(links, sites, capacity_bps=250e6, start_at=1000.0)
    jobs = [j for js in plan["jobs"].values() for j in js]
    assert len(jobs) == 6 and all(j["at"] >= 0 for j in jobs)
    lossy = next(j for j in plan["jobs"]["grp2"] if j["dst"] == "grp3")
    assert lossy["rate"]["udp"] and lossy["loss"]["packets"] >= 3000
    for r in plan["rounds"]:
        assert sum(100e6 if p != ("grp2", "grp3") else 125e6 for p in r["pairs"]) <= 200e6
    assert all(v["measured"] for v in plan["coverage"].values())
    assert plan["seconds"] == plan["fping"]["seconds"] + plan["rounds"][-1]["at"] + plan["rounds"][-1]["seconds"]


def test_a_lossy_rate_the_router_cannot_carry_is_said_unprovable_and_fails():
    links = links_for(["a", "b"], special={("a", "b"): {"loss_pct": 1.0}})
    plan = wt.plan(links, ["a", "b"], capacity_bps=100e6)
    assert "not provable" in plan["coverage"]["a->b"]["unprovable"]
    assert all(j["rate"] is None for j in plan["jobs"]["a"])
    good = {"packets": 3000, "lost": 30, "loss_pct": 1.0}
    rows = nm.compare(links, [{"src": "a", "dst": "b", "rtt": rtt(40.0, lost=1), "loss_test": good}],
                      coverage=plan["coverage"])
    assert not rows[0]["pass"] and "not provable" in rows[0]["problems"][0]


def rtt(ms, lost=0, n=100):
    return nm.rtt_stats([ms] * (n - lost) + [None] * lost)


LOSSY = [{"src": "a", "dst": "b", "delay_us": 20000, "loss_pct": 1.0, "rate_bps": 10 ** 7},
         {"src": "b", "dst": "a", "delay_us": 20000}]


def test_a_link_asked_one_percent_that_shows_zero_fails():
    ok = nm.compare(LOSSY, [{"src": "a", "dst": "b", "loss_test": {"packets": 3000, "lost": 31, "loss_pct": 1.03}}])
    assert ok[0]["checks"]["oneway_loss_pct"]["pass"]
    zero = nm.compare(LOSSY, [{"src": "a", "dst": "b", "loss_test": {"packets": 3000, "lost": 0, "loss_pct": 0.0}}])
    assert not zero[0]["checks"]["oneway_loss_pct"]["pass"] and not zero[0]["pass"]
    # and a link asked 0 % that loses 1 % fails too
    lossy = nm.compare(LOSSY, [{"src": "b", "dst": "a", "loss_test": {"packets": 3000, "lost": 30, "loss_pct": 1.0}}])
    assert not lossy[0]["pass"]


def test_an_unshaped_lossy_link_fails_the_rate_check():
    offered = wt.rate_test(LOSSY[0], 3)["offered_bps"]
    shaped = 10 ** 7 * nm.UDP_EFFICIENCY * 0.99
    unshaped = offered * nm.UDP_EFFICIENCY * 0.99
    rows = nm.compare(LOSSY, [{"src": "a", "dst": "b", "rate_bps": shaped, "efficiency": nm.UDP_EFFICIENCY}])
    assert rows[0]["checks"]["rate_bps"]["pass"]
    rows = nm.compare(LOSSY, [{"src": "a", "dst": "b", "rate_bps": unshaped, "efficiency": nm.UDP_EFFICIENCY}])
    assert not rows[0]["checks"]["rate_bps"]["pass"]


def test_a_pair_not_measured_fails_and_an_empty_report_is_not_a_pass():
    rows = nm.compare(LOSSY, [{"src": "a", "dst": "b", "rtt": rtt(40.0)}], sites=["a", "b"])
    by = {(r["src"], r["dst"]): r for r in rows}
    assert not by[("b", "a")]["pass"] and "not measured" in by[("b", "a")]["problems"][0]
    assert not nm.passed(rows)
    assert not nm.passed(nm.compare(LOSSY, [], sites=[]))
    assert "FAIL" in nm.report_table([])
    # a pair planned for a link test that has none fails
    plan = wt.plan(LOSSY, ["a", "b"])
    rows = nm.compare(LOSSY, [{"src": "a", "dst": "b", "rtt": rtt(40.0, lost=2)},
                              {"src": "b", "dst": "a", "rtt": rtt(40.0, lost=1)}],
                      sites=["a", "b"], coverage=plan["coverage"])
    assert not nm.passed(rows)
    assert any("not measured" in p for r in rows for p in r["problems"])


def test_represented_pairs_follow_their_representative():
    sites = ["g%d" % i for i in range(12)]
    links = links_for(sites)
    plan = wt.plan(links, sites, max_pairs=4)
    tested = [tuple(k.split("->")) for k, v in plan["coverage"].items() if v["measured"]]
    good = [{"src": s, "dst": d, "rtt": rtt(40.0)} for s, d in itertools.permutations(sites, 2)]
    good += [{"src": s, "dst": d, "loss_test": {"packets": 3000, "lost": 0, "loss_pct": 0.0},
              "rate_bps": 1e8 * nm.TCP_EFFICIENCY, "efficiency": nm.TCP_EFFICIENCY} for s, d in tested]
    rows = nm.compare(links, good, sites=sites, coverage=plan["coverage"])
    assert nm.passed(rows) and len(rows) == 132
    bad = [dict(m, rate_bps=2e8) if "rate_bps" in m else m for m in good]
    rows = nm.compare(links, bad, sites=sites, coverage=plan["coverage"])
    assert not any(r["pass"] for r in rows)
    assert "FAILS" in nm.report_table(rows)
    assert len(nm.report_summary(rows, max_failures=5)) < 15
