"""`enos bench` for real on a small local testbed, without OpenStack.

    .venv/bin/pytest -m docker tests/integration/test_bench.py

Two sites of one node each (the provider only: no Docker or Kolla inside the nodes) with 10 ms
one-way between them. Rally is installed on the bench node by the bench itself and runs Dummy
scenarios: a workload with two list-valued args of 2 and 3 values gives 6 tasks per scenario
with the right args; a workload whose SLA cannot hold and one with failed iterations exit
non-zero with every report written. Traffic goes only to the containers and the router that the
test creates.
"""

import json
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

import local_helpers as h

pytestmark = [pytest.mark.docker,
              pytest.mark.skipif(h.usable() is not None, reason=str(h.usable()))]

ROOT = Path(__file__).resolve().parents[2]
ENOS = Path(sys.executable).parent / "enos"
WORKLOADS = ROOT / "tests" / "fixtures" / "workloads"
SUBNET, ROUTER_SUBNET = "10.191.0.0/16", "10.199.91.0/30"
SITES = {"grp1": {"control": 1}, "grp2": {"compute": 1}}
CONSTRAINTS = {"network_constraints": {"enable": True, "default_delay": "10ms",
                                       "default_rate": "50mbit", "default_loss": "0%"}}


class Bed:
    def __init__(self, base):
        self.base = Path(base)
        self.env = "bnit-%s" % uuid.uuid4().hex[:4]
        self.env_dir = self.base / "env"
        self.topology = h.write_topology(self.base / "topology.yml", self.env, SUBNET,
                                         ROUTER_SUBNET, SITES, memory="1g", extra=CONSTRAINTS)

    def enos(self, *args, timeout=1800):
        argv = [str(ENOS)] + list(args) + ["-f", str(self.topology), "-e", str(self.env_dir)]
        proc = subprocess.run(argv, cwd=str(self.base), capture_output=True, text=True,
                              timeout=timeout, check=False)
        return proc.returncode, proc.stdout + proc.stderr

    def runs(self):
        return sorted((self.env_dir / "reports" / "bench").iterdir())


@pytest.fixture(scope="module")
def testbed():
    with tempfile.TemporaryDirectory(prefix="enos-bench-") as base:
        bed = Bed(base)
        rc, out = h.playbook("provider", bed.topology, bed.env_dir)
        try:
            assert rc == 0, out[-4000:]
            yield bed
        finally:
            if h.labelled(bed.env) != {"containers": [], "networks": [], "volumes": []}:
                h.playbook("destroy", bed.topology, bed.env_dir, "-e", "enos_destroy_hard=true")
            h.force_cleanup(bed.env, bed.env_dir)


def test_list_args_of_2_and_3_values_run_6_tasks_per_scenario(testbed):
    rc, out = testbed.enos("bench", "--workload", str(WORKLOADS / "dummy-2x3"))
    assert rc == 0, out[-6000:]
    run = testbed.runs()[-1]
    summary = json.loads((run / "summary.json").read_text())
    tasks = summary["tasks"]
    assert len(tasks) == 12
    for scenario, rally_name in (("dummy timed atomic actions", "Dummy.dummy_timed_atomic_actions"),
                                 ("dummy sleep", "Dummy.dummy")):
        mine = [t for t in tasks if t["scenario"] == scenario]
        assert sorted((t["args"]["concurrency"], t["args"]["times"]) for t in mine) == [
            (1, 2), (1, 3), (1, 4), (2, 2), (2, 3), (2, 4)]
        for task in mine:
            # what Rally ran: its JSON report has the runner filled with this task's args
            report = json.loads((run / task["id"] / "report.json").read_text())
            workload = report["tasks"][0]["subtasks"][0]["workloads"][0]
            assert workload["runner"]["constant"]["times"] == task["args"]["times"]
            assert workload["runner"]["constant"]["concurrency"] == task["args"]["concurrency"]
            assert list(workload["scenario"]) == [rally_name]
            [summarized] = task["workloads"]
            assert summarized["actions"]["total"]["iterations"] == task["args"]["times"]
            assert summarized["actions"]["total"]["success_pct"] == 100.0
            for name in ("report.html", "junit.xml"):
                assert (run / task["id"] / name).stat().st_size > 0
            html = (run / task["id"] / "report.html").read_text()
            assert "<script src=\"http" not in html
    atomic = [t for t in tasks if t["scenario"] == "dummy timed atomic actions"][0]
    assert sorted(atomic["workloads"][0]["actions"]) == ["action_0", "action_1", "total"]
    assert (run / "rally.sqlite").stat().st_size > 0
    conditions = json.loads((run / "conditions.json").read_text())
    assert conditions["started_at"] < conditions["finished_at"]
    assert conditions["versions"]["rally"].endswith("5.1.1")
    assert (run / "topology.yml").exists()
    assert "durations in seconds" in out and "Dummy.dummy_timed_atomic_actions" in out


def test_an_sla_that_cannot_hold_fails_the_bench_with_every_report(testbed):
    rc, out = testbed.enos("bench", "--workload", str(WORKLOADS / "dummy-sla"))
    assert rc == 1, out[-4000:]
    run = testbed.runs()[-1]
    summary = json.loads((run / "summary.json").read_text())
    assert [t["scenario"] for t in summary["tasks"]] == ["impossible sla", "failing iterations"]
    for task in summary["tasks"]:
        for name in ("report.html", "report.json", "junit.xml"):
            assert (run / task["id"] / name).stat().st_size > 0, (task["id"], name)
        assert task["rc"] == 2
    assert "FAILED impossible sla (rally-00-impossible-sla-1): Dummy.dummy: SLA failed: " \
           "max_avg_duration" in out
    assert "FAILED failing iterations (rally-01-failing-iterations-1): Dummy.failure: 2 of 3 " \
           "iterations failed" in out
