"""The levels catalogue, plan and aggregation (plugins/module_utils/levels.py), and the probe
(roles/levels/files/levels_probe.py) against real sockets on loopback."""

import importlib.util
import json
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from ansible_collections.edge.enos.plugins.module_utils import levels

ROOT = Path(__file__).resolve().parents[2]
PROBE = ROOT / "roles" / "levels" / "files" / "levels_probe.py"
HOSTS = {
    "grp1-control-1": {"site": "grp1", "roles": ["control"], "address": "10.195.1.2"},
    "grp1-network-1": {"site": "grp1", "roles": ["network"], "address": "10.195.1.3"},
    "grp2-compute-1": {"site": "grp2", "roles": ["compute"], "address": "10.195.2.2"},
    "grp2-compute-2": {"site": "grp2", "roles": ["compute"], "address": "10.195.2.3"},
    "grp3-compute-1": {"site": "grp3", "roles": ["compute"], "address": "10.195.3.2"},
}


def split_partition(spec, sites):
    """Groups of a partition written 'a,b/c' (the rest of the sites form one more group)."""
    groups = [part.split(",") for part in spec.split("/")]
    named = [s for g in groups for s in g]
    unknown = [s for s in named if s not in sites]
    if unknown:
        raise ValueError("unknown site %r" % unknown[0], "sites: %s" % ", ".join(sites))
    rest = [s for s in sites if s not in named]
    return groups + ([rest] if rest else [])


def record(scenario, client, level, operation, sites, outcome="done", error="", latency=0.05):
    return {"scenario": scenario, "client_site": client, "level": level,
            "actor": levels.actor_of(level, operation), "operation": operation,
            "sites": sites, "outcome": outcome, "error": error,
            "latency_s": latency if outcome != "failed" or not error.startswith("not") else None,
            "started_at": 0.0}


def suite_records(scenario, client, suite, fail=None):
    """The records a probe writes for a suite: every operation of its level, done, or, with
    fail=(outcome, error), the first failing that way and the rest not attempted."""
    level = "L3.2" if suite["level"] == "L3.2" else suite["level"]
    ops = levels.operations(level)
    if level == "converge":
        ops = ("server_boot_across",)
    out = []
    for index, op in enumerate(("authenticate",) + tuple(o for o in ops if o != "authenticate")
                               if "authenticate" in ops else ops):
        if fail is None:
            out.append(record(scenario, client, level, op, suite["sites"]))
        elif index == 0:
            out.append(record(scenario, client, level, op, suite["sites"], *fail))
        else:
            out.append(record(scenario, client, level, op, suite["sites"], "failed",
                              "not attempted: authenticate %s: %s" % fail))
    return out


@pytest.fixture
def run_plan():
    return levels.plan(HOSTS, ["grp3"], split_partition, run_id="t1")


def measured(plan, cut_off="grp3"):
    """Records of a run where control services are in grp1 and `cut_off` is partitioned: its
    client cannot reach Keystone (timeouts), everything else works; its app still answers."""
    records = []
    for scenario in plan["scenarios"]:
        for site, suites in scenario["suites"].items():
            for suite in suites:
                fail = None
                if scenario["partition"] and site == cut_off and suite["level"] != "L3.1":
                    fail = ("timeout",
                            "no answer within 30s (POST 10.195.1.254:5000/v3/auth/tokens)")
                records += suite_records(scenario["name"], site, suite, fail)
    return records


def test_plan_chooses_clients_zones_and_suites(run_plan):
    assert run_plan["sites"] == ["grp1", "grp2", "grp3"]
    assert run_plan["zones"] == ["grp2", "grp3"]
    assert run_plan["control_sites"] == ["grp1"]
    # a client is not the control node when the site has another node
    assert run_plan["clients"] == {"grp1": "grp1-network-1", "grp2": "grp2-compute-1",
                                   "grp3": "grp3-compute-1"}
    assert run_plan["apps"]["grp2"]["host"] == "grp2-compute-2"
    assert run_plan["apps"]["grp3"]["host"] == "grp3-compute-1"
    baseline, cut = run_plan["scenarios"]
    assert baseline["suites"]["grp2"] == [{"level": "L1", "sites": ["grp2"]},
                                          {"level": "L2.1", "sites": ["grp2", "grp3"]},
                                          {"level": "L2.2", "sites": []}]
    assert cut["name"] == "partition grp3" and cut["groups"] == [["grp3"], ["grp1", "grp2"]]
    assert cut["suites"]["grp3"] == [{"level": "L3.1", "sites": ["grp3"]},
                                     {"level": "L3.2", "sites": ["grp3"]},
                                     {"level": "converge", "sites": ["grp2"]}]
    assert cut["suites"]["grp2"] == [{"level": "L3.1", "sites": ["grp2"]},
                                     {"level": "L3.2", "sites": ["grp1"]},
                                     {"level": "L3.2", "sites": ["grp2"]},
                                     {"level": "converge", "sites": ["grp3"]}]


def test_default_partitions_each_site_then_all_apart():
    assert levels.default_partitions(["grp1", "grp2", "grp3"]) == [
        "grp1", "grp2", "grp3", "grp1/grp2/grp3"]
    assert levels.default_partitions(["a", "b"]) == ["a", "b"]
    assert levels.default_partitions(["a"]) == []


def test_plan_errors_name_the_key_and_the_fix():
    with pytest.raises(levels.LevelsError, match=r"levels_clients.grp2: grp3-compute-1 is not "
                                                 r"a node of grp2 \(its nodes: grp2-compute-1"):
        levels.plan(HOSTS, [], split_partition, clients={"grp2": "grp3-compute-1"})
    with pytest.raises(levels.LevelsError, match=r"levels_partitions\[1\]: unknown site "
                                                 r"'grp9' \(sites: grp1, grp2, grp3\)"):
        levels.plan(HOSTS, ["grp3", "grp9"], split_partition)


def test_partitioned_grp3_fails_l32_for_its_client_and_grp2_keeps_working(run_plan):
    result = levels.aggregate(measured(run_plan), run_plan["sites"], run_plan["partitions"],
                              zones=run_plan["zones"], control_sites=run_plan["control_sites"])
    cut = next(s for s in result["scenarios"] if s["partition"] == "grp3")["table"]
    # grp3's client: every L3.2 operation fails, and the cell says which and why
    for actor in ("admin", "devops", "both"):
        cell = cut["L3.2"][actor]["per_site"]["grp3"]
        assert cell["ok"] == 0 and cell["total"] > 0 and cell["share"] == 0.0
        assert all(f["client_site"] == "grp3" for f in cell["failures"])
    both = cut["L3.2"]["both"]["per_site"]["grp3"]["failures"]
    assert {"operation": "authenticate", "sites": ["grp3"], "client_site": "grp3",
            "outcome": "timeout",
            "error": "no answer within 30s (POST 10.195.1.254:5000/v3/auth/tokens)"} in both
    admin = cut["L3.2"]["admin"]["per_site"]["grp3"]["failures"]
    assert [f["operation"] for f in admin] == list(levels.operations("L1", "admin"))
    assert all(f["error"].startswith("not attempted: authenticate timeout") for f in admin)
    # grp2's client still manages grp1 and grp2; the isolated site's application answers
    for actor in ("admin", "devops", "both"):
        cell = cut["L3.2"][actor]["per_site"]["grp2"]
        assert cell["share"] == 1.0 and cell["failures"] == []
    assert cut["L3.1"]["devops"]["per_site"]["grp3"]["share"] == 1.0
    # L1 as the deployment stands: working for grp2's client
    assert result["table"]["L1"]["devops"]["per_site"]["grp2"]["share"] == 1.0
    assert result["table"]["L4"]["out_of_reach"].startswith("out of reach of one deployment")
    markdown = levels.levels_markdown(result)
    assert "## partition grp3" in markdown
    row = next(line for line in markdown.splitlines()
               if line.startswith("| L3.2 |") and "grp3 0 %" in line)
    assert "authenticate on grp3 from grp3: timeout (no answer within 30s" in row
    assert "grp3 0 % (0/6) (6 not attempted (authenticate timeout: no answer within 30s" in row
    assert "grp2 100 % (" in row
    assert "| L5 | out of reach of one deployment" in markdown
    json.dumps(result)  # the result is JSON as it stands


def test_a_working_partition_is_not_reported_failing(run_plan):
    """The check above fails when nothing is cut: grp3's L3.2 cells are then all done."""
    records = measured(run_plan, cut_off="none")
    result = levels.aggregate(records, run_plan["sites"], run_plan["partitions"])
    cut = result["scenarios"][1]["table"]
    assert cut["L3.2"]["admin"]["per_site"]["grp3"]["share"] == 1.0
    assert "| L3.2 | 100 % (" in levels.levels_markdown(result)


def test_records_outside_the_catalogue_are_refused(run_plan):
    bad = record("baseline", "grp2", "L1", "server_boot", ["grp2"])
    bad["actor"] = "admin"
    with pytest.raises(levels.LevelsError, match="record 0: server_boot is an operation of "
                                                 "devops, not admin"):
        levels.aggregate([bad], run_plan["sites"], run_plan["partitions"])
    bad = record("partition grp9", "grp2", "L1", "server_boot", ["grp2"])
    with pytest.raises(levels.LevelsError, match="unknown scenarios partition grp9"):
        levels.aggregate([bad], run_plan["sites"], run_plan["partitions"])
    bad = dict(record("baseline", "grp2", "L1", "server_boot", ["grp2"]), outcome="maybe")
    with pytest.raises(levels.LevelsError, match="outcome 'maybe'"):
        levels.aggregate([bad], run_plan["sites"], run_plan["partitions"])


def test_convergence_joins_the_request_and_the_final_state(run_plan):
    asked = dict(record("partition grp3", "grp2", "converge", "server_boot_across", ["grp3"]),
                 server="t1-p1-grp2-across-grp3-9")
    final = dict(record("partition grp3", "grp1", "converge", "server_final_state", ["grp3"],
                        "failed", "ERROR: No valid host was found."),
                 server="t1-p1-grp2-across-grp3-9", status="ERROR")
    result = levels.aggregate([asked, final], run_plan["sites"], run_plan["partitions"])
    assert result["convergence"] == [{
        "scenario": "partition grp3", "server": "t1-p1-grp2-across-grp3-9", "sites": ["grp3"],
        "asked_from": "grp2", "asked": "done", "asked_error": "", "final_status": "ERROR",
        "outcome": "failed", "error": "ERROR: No valid host was found."}]
    assert "| grp3 | t1-p1-grp2-across-grp3-9 | grp3 | grp2 | done | ERROR (ERROR: No valid" \
        in levels.levels_markdown(result)


# --------------------------------------------------------------------------- the probe

def load_probe():
    spec = importlib.util.spec_from_file_location("levels_probe", PROBE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def probe_task(port, suites, timeout=1.0, **extra):
    return dict({"mode": "suites", "scenario": "baseline", "client_site": "grp2",
                 "name_prefix": "t-b-grp2", "suites": suites, "zones": ["grp2", "grp3"],
                 "timeout": timeout, "boot_timeout": timeout,
                 "cloud": {"auth_url": "http://127.0.0.1:%d" % port, "username": "admin",
                           "password": "x", "project_name": "admin"}}, **extra)


def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_probe(task, tmp_path):
    path = tmp_path / "task.json"
    path.write_text(json.dumps(task))
    proc = subprocess.run([sys.executable, str(PROBE), str(path)], capture_output=True,
                          text=True, timeout=60, check=True)
    return json.loads(proc.stdout)


def test_probe_records_a_refused_cloud_as_failed_and_fits_the_catalogue(tmp_path):
    task = probe_task(closed_port(), [{"level": "L1", "sites": ["grp2"]},
                                      {"level": "L2.1", "sites": ["grp2", "grp3"]},
                                      {"level": "L2.2", "sites": []}])
    records = run_probe(task, tmp_path)["records"]
    for level in ("L1", "L2.1", "L2.2"):
        ops = [r["operation"] for r in records if r["level"] == level]
        assert sorted(ops) == sorted(levels.operations(level)), level
    first = records[0]
    assert first["operation"] == "authenticate" and first["outcome"] == "failed"
    assert "Connection refused" in first["error"] and first["latency_s"] < 1.0
    assert all(r["error"].startswith("not attempted: authenticate failed")
               for r in records if r["operation"] != "authenticate")
    # the records are what aggregate() accepts
    levels.aggregate(records, ["grp1", "grp2", "grp3"], [])


def test_probe_times_out_on_a_silent_cloud(tmp_path):
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # accepts connections, never answers
    try:
        task = probe_task(silent.getsockname()[1], [{"level": "L3.2", "sites": ["grp3"]}],
                          timeout=0.5, scenario="partition grp3", client_site="grp3")
        records = run_probe(task, tmp_path)["records"]
    finally:
        silent.close()
    assert records[0]["outcome"] == "timeout"
    assert "no answer within 0.5s (POST 127.0.0.1:" in records[0]["error"]
    assert 0.4 < records[0]["latency_s"] < 3.0
    assert {r["level"] for r in records} == {"L3.2"}


def test_probe_app_request_reads_the_token(tmp_path):
    from http.server import HTTPServer, SimpleHTTPRequestHandler

    (tmp_path / "index.html").write_text("edge.enos levels token-42\n")

    class Quiet(SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(tmp_path), **kwargs)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = "http://127.0.0.1:%d/" % server.server_address[1]
    try:
        good = probe_task(closed_port(), [{"level": "L3.1", "sites": ["grp2"]}],
                          app={"url": url, "token": "token-42"})
        wrong = dict(good, app={"url": url, "token": "token-43"})
        ok = load_probe().Probe(good).main()["records"]
        bad = load_probe().Probe(wrong).main()["records"]
    finally:
        server.shutdown()
    assert [(r["operation"], r["outcome"]) for r in ok] == [("app_request", "done")]
    assert bad[0]["outcome"] == "failed" and "without its token" in bad[0]["error"]
