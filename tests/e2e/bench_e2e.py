"""`enos bench` on the shared deployment: checks called by tests/e2e/test_deploy.py with its
module-scoped `env` (an `Env` already deployed by `enos deploy`).

- check_default_workload: the collection's default workload, every scenario of the enabled
  services at 100 % success, HTML/JSON/JUnit per task, the summary printed, servers booted in the
  availability zone asked, the other services' scenarios skipped with the reason.
- check_wan_compare: one small Nova boot-and-list workload with `enos tc` applied, then after
  `enos tc --reset`; `enos bench --compare` prints the change of the median boot time.
- check_osprofiler_trace: one profiled Keystone/Nova iteration gives a trace with spans from at
  least three services, kept as JSON and drawn as a PNG (needs `enable_osprofiler: "yes"` in the
  topology's `kolla:`).
"""

import json
import shutil
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT / "collections") not in sys.path:
    sys.path.insert(0, str(ROOT / "collections"))
DEFAULT_WORKLOAD = ROOT / "workloads" / "default"


def newest_run(env):
    runs = sorted((env.path / "reports" / "bench").iterdir(), key=lambda p: p.name)
    assert runs, "no run in %s" % (env.path / "reports" / "bench")
    return runs[-1]


def small_workload(tmp_path, name, scenarios, times=4, concurrency=1, osprofiler=False):
    """A copy of the default workload with only the named scenarios and small numbers."""
    target = tmp_path / name
    shutil.copytree(DEFAULT_WORKLOAD, target)
    run = yaml.safe_load((target / "run.yml").read_text())
    run["rally"]["args"] = {"times": times, "concurrency": concurrency}
    run["rally"]["scenarios"] = [dict(s, osprofiler=osprofiler) if osprofiler else s
                                 for s in run["rally"]["scenarios"] if s["name"] in scenarios]
    run.pop("shaker", None)
    run.pop("iperf3", None)
    (target / "run.yml").write_text(yaml.safe_dump(run, sort_keys=False))
    return target


def rally_tasks(summary):
    return [t for t in summary["tasks"] if t["type"] == "rally"]


def check_default_workload(env):
    proc = env.enos("bench", "--workload", str(DEFAULT_WORKLOAD))
    assert "durations in seconds" in proc.stdout
    run = newest_run(env)
    summary = json.loads((run / "summary.json").read_text())
    tasks = rally_tasks(summary)
    assert tasks, summary
    for task in tasks:
        for name in ("report.html", "report.json", "junit.xml"):
            assert (run / task["id"] / name).stat().st_size > 0, (task["id"], name)
        html = (run / task["id"] / "report.html").read_text()
        assert '<script src="http' not in html and "<script src='http" not in html
        assert task["workloads"], task
        for workload in task["workloads"]:
            assert workload["actions"]["total"]["success_pct"] == 100.0, (task["id"], workload)
            assert workload["pass_sla"], (task["id"], workload["sla"])
    assert (run / "rally.sqlite").stat().st_size > 0
    globals_ = yaml.safe_load((env.path / "kolla" / "globals.yml").read_text())
    plan = json.loads((run / "plan.json").read_text())
    for service in ("nova", "glance", "neutron"):
        ran = [t for t in tasks if service in t["scenario"]]
        if str(globals_.get("enable_%s" % service)).lower() in ("yes", "true"):
            assert ran, "no %s scenario ran" % service
        else:
            assert any(s["scenario"].startswith(service) for s in plan["skipped"]), plan["skipped"]
    conditions = json.loads((run / "conditions.json").read_text())
    assert conditions["started_at"] < conditions["finished_at"]
    assert "keystone" in conditions["services"]
    if any("nova" in t["scenario"] for t in tasks):
        zone = plan["template_vars"]["availability_zone"]
        servers = env.openstack("server", "list", "--all-projects", "--deleted", "--long",
                                "--changes-since", conditions["started_at"])
        assert servers.returncode == 0, servers.stderr
        booted = [s for s in json.loads(servers.stdout) if s["Name"].startswith("s_rally_")]
        assert booted, "no server booted by Rally"
        assert {s["Availability Zone"] for s in booted} == {zone}
    return summary


def check_wan_compare(env, tmp_path):
    workload = small_workload(tmp_path, "wan", ["nova boot and list servers"])
    env.enos("tc")
    env.enos("bench", "--workload", str(workload))
    shaped = newest_run(env)
    env.enos("tc", "--reset")
    env.enos("bench", "--workload", str(workload))
    unshaped = newest_run(env)
    conditions = json.loads((shaped / "conditions.json").read_text())
    assert any(state["shaped"] for state in conditions["tc_in_force"].values())
    proc = env.enos("bench", "--compare", unshaped.name, shaped.name)
    rows = [line for line in proc.stdout.splitlines()
            if line.startswith("nova boot and list servers") and "total:" in line]
    assert rows, proc.stdout
    print(proc.stdout)          # the measured change, no threshold asserted
    return proc.stdout


def check_osprofiler_trace(env, tmp_path):
    globals_ = yaml.safe_load((env.path / "kolla" / "globals.yml").read_text())
    assert str(globals_.get("enable_osprofiler")).lower() in ("yes", "true"), (
        "the deployment runs without OSProfiler: add enable_osprofiler: \"yes\" under kolla: in "
        "the topology and run `enos os --reconfigure`")
    workload = small_workload(tmp_path, "traced", ["nova boot and list servers"], times=1,
                              osprofiler=True)
    env.enos("bench", "--workload", str(workload))
    run = newest_run(env)
    traces = sorted(run.glob("*/traces/*.json"))
    assert traces, "no trace kept in %s" % run
    from ansible_collections.edge.enos.plugins.module_utils.traces import spans
    projects = {s["project"] for s in spans(json.loads(traces[0].read_text()))}
    assert len(projects - {"rally"}) >= 3, projects
    assert traces[0].with_suffix(".png").stat().st_size > 0
