"""Unit tests of the bench summary (plugins/module_utils/bench.py) and the trace drawing
(plugins/module_utils/traces.py).

Fixtures: tests/fixtures/rally/*.json are `rally task report --json` of real Rally 5.1.1 runs of
Dummy scenarios (tests/fixtures/workloads/dummy-*), tests/fixtures/traces/boot-server.json a
trace written through osprofiler 4.4.0's redis driver by tests/fixtures/traces/make_trace.py and
read back with the driver's get_report().
"""
import copy
import json
import os

import numpy
import pytest

from ansible_collections.edge.enos.plugins.module_utils import bench
from ansible_collections.edge.enos.plugins.module_utils import traces as tr
from ansible_collections.edge.enos.plugins.module_utils.workload import load_workload
from ansible_collections.edge.enos.plugins.module_utils.topology import load_topology

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures")
ROOT = os.path.join(os.path.dirname(__file__), "..", "..")


def rally(name):
    with open(os.path.join(FIXTURES, "rally", name)) as handle:
        return json.load(handle)


def test_percentile_interpolates_between_ranks():
    assert bench.percentile([4, 1, 3, 2], 0.9) == pytest.approx(3.7)
    assert bench.percentile([4, 1, 3, 2], 0.5) == pytest.approx(2.5)
    assert bench.percentile([5], 0.95) == 5
    assert bench.percentile([], 0.5) is None


def test_summary_per_atomic_action_matches_the_iterations():
    report = rally("atomic.json")
    [workload] = bench.summarize_rally(report)
    assert workload["scenario"] == "Dummy.dummy_timed_atomic_actions"
    assert workload["pass_sla"] and workload["failed_iterations"] == 0
    assert sorted(workload["actions"]) == ["action_0", "action_1", "total"]
    data = report["tasks"][0]["subtasks"][0]["workloads"][0]["data"]
    for name in ("action_0", "action_1"):
        durations = [a["finished_at"] - a["started_at"] for it in data
                     for a in it["atomic_actions"] if a["name"] == name]
        row = workload["actions"][name]
        assert row["iterations"] == 4 and row["success_pct"] == 100.0
        for key, q in (("min", 0), ("median", 50), ("p90", 90), ("p95", 95), ("max", 100)):
            assert row[key] == pytest.approx(numpy.percentile(durations, q), abs=1e-6), key
    total = workload["actions"]["total"]
    assert total["max"] == pytest.approx(max(it["duration"] for it in data), abs=1e-6)
    # Dummy.dummy_timed_atomic_actions sleeps sleep_factor * (i + 1) in action i
    assert workload["actions"]["action_1"]["median"] > workload["actions"]["action_0"]["median"]


def test_failed_iterations_and_sla_failures_are_named():
    plan = {"tasks": [
        {"id": "rally-00-sla-1", "type": "rally", "scenario": "impossible sla", "args": {}},
        {"id": "rally-01-fail-1", "type": "rally", "scenario": "failing iterations", "args": {}},
        {"id": "rally-02-crash-1", "type": "rally", "scenario": "crashed", "args": {}}]}
    results = [{"id": "rally-02-crash-1", "rc": 1, "stderr": "Task config is invalid: boom"}]
    summary = bench.build_summary(plan, results, {
        "rally-00-sla-1": rally("sla-failed.json"),
        "rally-01-fail-1": rally("failed-iterations.json"), "rally-02-crash-1": None})
    failed = bench.failures(summary)
    assert failed[0].startswith("impossible sla (rally-00-sla-1): Dummy.dummy: SLA failed: "
                                "max_avg_duration: Average duration of one iteration")
    assert failed[1].startswith("failing iterations (rally-01-fail-1): Dummy.failure: SLA "
                                "failed: failure_rate:")
    assert failed[2].startswith("failing iterations (rally-01-fail-1): Dummy.failure: 2 of 3 "
                                "iterations failed: DummyScenarioException")
    assert failed[3] == ("crashed (rally-02-crash-1): no result: rally exit code 1: Task config "
                         "is invalid: boom")
    [workload] = summary["tasks"][1]["workloads"]
    assert workload["actions"]["total"]["success_pct"] == pytest.approx(33.33)
    table = bench.summary_table(summary)
    assert "FAILED" in table and "NO RESULT" in table


def test_a_passing_run_has_no_failure():
    plan = {"tasks": [{"id": "a", "type": "rally", "scenario": "s", "args": {"times": 4}}]}
    summary = bench.build_summary(plan, [{"id": "a", "rc": 0}], {"a": rally("atomic.json")})
    assert bench.failures(summary) == []
    lines = bench.summary_table(summary).splitlines()
    assert lines[1].split()[:4] == ["task", "scenario", "/", "action"]
    assert [line.split()[1] for line in lines[2:]] == [
        "action_0", "action_1", "Dummy.dummy_timed_atomic_actions"]


def test_compare_prints_the_change_of_median_and_p95():
    plan = {"tasks": [{"id": "a", "type": "rally", "scenario": "s", "args": {"times": 4}}]}
    run_a = bench.build_summary(dict(plan, run_id="A"), [], {"a": rally("atomic.json")})
    slower = copy.deepcopy(rally("atomic.json"))
    for it in slower["tasks"][0]["subtasks"][0]["workloads"][0]["data"]:
        it["duration"] *= 2
        for action in it["atomic_actions"]:
            action["finished_at"] += action["finished_at"] - action["started_at"]
    run_b = bench.build_summary(dict(plan, run_id="B"), [], {"a": slower})
    table = bench.compare_table(run_a, run_b)
    assert table.splitlines()[0].startswith("A = A, B = B")
    rows = [line for line in table.splitlines() if line.startswith("s (times=4)")]
    assert len(rows) == 3
    assert all(row.split().count("+100.0%") == 2 for row in rows), rows
    other = bench.build_summary({"tasks": [dict(plan["tasks"][0], args={"times": 5})],
                                 "run_id": "C"}, [], {"a": slower})
    assert "no scenario and args in common" in bench.compare_table(run_a, other)


def test_iperf3_rows_in_the_summary():
    plan = {"tasks": [{"id": "iperf3-00-wan-1", "type": "iperf3", "scenario": "wan", "args": {}}]}
    probes = {"iperf3-00-wan-1": [{"src": "grp1", "dst": "grp2", "rate_bps": 94.2e6,
                                   "rtt": {"median_ms": 50.4, "min_ms": 50.1, "loss_pct": 0.0}}]}
    summary = bench.build_summary(plan, [], {}, probes)
    assert summary["tasks"][0]["pairs"] == [{"src": "grp1", "dst": "grp2", "rtt_median_ms": 50.4,
                                             "rtt_min_ms": 50.1, "loss_pct": 0.0,
                                             "throughput_bps": 94.2e6}]
    row = bench.summary_table(summary).splitlines()[-1].split()
    assert row == ["iperf3-00-wan-1", "grp1", "->", "grp2", "50.400", "ms", "0.0%", "94.2",
                   "Mbit/s"]


def test_plan_for_a_topology_skips_refuses_and_checks():
    topo = load_topology(os.path.join(ROOT, "inventories", "local.yml"))
    scenarios = load_workload(os.path.join(ROOT, "workloads", "default"))
    plan = bench.plan_for(scenarios, topo)
    assert plan["template_vars"]["availability_zone"] in topo.sites
    assert plan["template_vars"]["enos_compute_sites"] == [
        s for s, hosts in topo.sites.items() if any("compute" in h.roles for h in hosts)]
    assert plan["refused"] == []                 # the shaker section is disabled
    assert {t["type"] for t in plan["tasks"]} >= {"iperf3"}
    scenarios[-2]["enabled"] = True              # shaker on: refused on the fake driver
    assert "Shaker needs Nova to boot real VMs" in bench.plan_for(
        scenarios, topo)["refused"][0]["reason"]
    traced = dict(scenarios[0], osprofiler=True)
    problems = bench.plan_for([traced], topo)["problems"]
    assert problems and "enable_osprofiler" in problems[0]


def test_trace_ids_from_rally_outputs():
    report = rally("atomic.json")
    assert bench.trace_ids(report) == []
    data = report["tasks"][0]["subtasks"][0]["workloads"][0]["data"]
    for i, it in enumerate(data):
        it["output"]["complete"].append({"chart_plugin": "OSProfiler", "title": "trace",
                                         "data": {"trace_id": ["t%d" % i], "conn_str": "x"}})
    assert bench.trace_ids(report) == ["t0", "t1", "t2", "t3"]
    assert bench.trace_ids(report, 2) == ["t0", "t1"]


# --------------------------------------------------------------------------- traces

def trace():
    with open(os.path.join(FIXTURES, "traces", "boot-server.json")) as handle:
        return json.load(handle)


def test_spans_of_a_trace_across_services():
    span_list = tr.spans(trace())
    assert [(s["project"], s["name"], s["depth"]) for s in span_list] == [
        ("rally", "iteration", 0), ("nova", "wsgi", 1), ("keystone", "wsgi", 2),
        ("keystone", "db", 3), ("nova", "db", 2), ("glance", "wsgi", 2),
        ("placement", "wsgi", 2)]
    assert len({s["project"] for s in span_list} - {"rally"}) >= 3


def test_service_times_count_nested_spans_once():
    times = tr.service_times(tr.spans(trace()))
    # fixture: keystone wsgi 74-134 ms holds its db span 110-128; nova wsgi 44-216 holds db 135-143
    assert times["keystone"]["busy_ms"] == 60.0 and times["keystone"]["spans"] == 2
    assert times["nova"]["busy_ms"] == 172.0
    assert times["placement"]["busy_ms"] == 44.0
    assert times["nova"]["names"] == {"wsgi": {"count": 1, "ms": 172.0},
                                      "db": {"count": 1, "ms": 8.0}}
    table = tr.service_table(tr.spans(trace()))
    assert table.splitlines()[1].split()[:3] == ["rally", "1", "223.0"]


def test_waterfall_png_is_drawn(tmp_path):
    path = tr.draw_waterfall(tr.spans(trace()), str(tmp_path / "trace.png"))
    with open(path, "rb") as handle:
        assert handle.read(8) == b"\x89PNG\r\n\x1a\n"
    assert os.path.getsize(path) > 10000
