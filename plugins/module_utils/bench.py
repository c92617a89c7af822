# -*- coding: utf-8 -*-
# Copyright: edge.enos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bench runs of edge.enos: the plan of a run, its summary from Rally's JSON reports and the
iperf3 measurements, the summary as a table, and the comparison of two runs.

A run lives in ``<env>/reports/bench/<run id>/``: plan.json (the expanded workload),
conditions.json (topology, tc in force, last WAN measurement, services, times), one directory
per task (Rally's HTML, JSON, JUnit XML, traces), rally.sqlite, summary.json.
"""

from __future__ import annotations

import json
import math
import os

from ansible_collections.edge.enos.plugins.module_utils import workload as wl

__all__ = ["plan_for", "run_dir", "load_run", "percentile", "summarize_rally",
           "summarize_iperf3", "build_summary", "summary_table", "failures", "compare_table",
           "deployment_globals", "trace_ids"]

# the kolla role's defaults, for a topology whose deployment has not written globals.yml yet
KOLLA_DEFAULT_SERVICES = {"enable_openstack_core": "no", "enable_keystone": "yes"}
STATS = ("min", "median", "p90", "p95", "max")


# --------------------------------------------------------------------------- plan

def deployment_globals(topo, env_dir=None):
    """The Kolla globals in force: the environment's globals.yml, else the topology's `kolla:`
    over the kolla role's defaults."""
    path = os.path.join(env_dir, "kolla", "globals.yml") if env_dir else None
    if path and os.path.exists(path):
        import yaml
        with open(path) as handle:
            return yaml.safe_load(handle) or {}
    return dict(KOLLA_DEFAULT_SERVICES, **(topo.kolla if topo is not None else {}))


def plan_for(scenarios, topo=None, env_dir=None):
    """The plan of a workload on a topology (None: no service check), with the problems that
    must stop the run before anything starts (unknown iperf3 sites, OSProfiler not deployed)."""
    if topo is None:
        return dict(wl.plan_workload(scenarios), problems=[], template_vars={})
    globals_ = deployment_globals(topo, env_dir)
    # the local provider's compute nodes are containers: Nova can only run its fake driver there
    fake = topo.provider.get("type") == "local" or \
        str(globals_.get("nova_compute_virt_type", "")).lower() == "fake"
    plan = wl.plan_workload(scenarios, services=wl.enabled_services(globals_),
                            compute_driver="fake" if fake else None)
    problems = []
    for task in plan["tasks"]:
        unknown = [s for s in task["sites"] or [] if s not in topo.sites]
        if unknown:
            problems.append("%s: iperf3 sites %s are not sites of this topology (sites: %s)" % (
                task["scenario"], ", ".join(unknown), ", ".join(topo.sites)))
        if task["osprofiler"] and not wl._truthy(globals_.get("enable_osprofiler", "no")):
            problems.append(
                "%s: osprofiler is asked but the deployment runs without it (add "
                "`enable_osprofiler: \"yes\"` under `kolla:` in the topology, then `enos os "
                "--reconfigure`)" % task["scenario"])
    compute_sites = [site for site, hosts in topo.sites.items()
                     if any("compute" in h.roles for h in hosts)]
    plan["problems"] = sorted(set(problems))
    plan["template_vars"] = {"enos_sites": list(topo.sites),
                             "enos_compute_sites": compute_sites,
                             "availability_zone": compute_sites[0] if compute_sites else ""}
    return plan


# --------------------------------------------------------------------------- runs

def run_dir(env_dir, run):
    """A run id of the environment, or a run directory."""
    if os.path.isdir(run):
        return os.path.abspath(run)
    return os.path.join(env_dir, "reports", "bench", run)


def load_run(path):
    summary = os.path.join(path, "summary.json")
    if not os.path.exists(summary):
        from ansible_collections.edge.enos.plugins.module_utils.topology import (
            Problem, TopologyError)
        raise TopologyError([Problem(path, None, None, "no summary.json in this run",
                                     "give a run of `enos bench` that finished: a directory "
                                     "of <env>/reports/bench/ or its name")])
    with open(summary) as handle:
        return json.load(handle)


# --------------------------------------------------------------------------- statistics

def percentile(values, fraction):
    """Linear interpolation between closest ranks (as Rally and numpy compute it)."""
    ordered = sorted(values)
    if not ordered:
        return None
    rank = (len(ordered) - 1) * fraction
    low, high = int(math.floor(rank)), int(math.ceil(rank))
    if low == high:
        return ordered[low]
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def stats(durations, runs, successes):
    row = {"iterations": runs, "success_pct": round(100.0 * successes / runs, 2) if runs else 0.0}
    for name, fraction in (("min", 0.0), ("median", 0.5), ("p90", 0.9), ("p95", 0.95),
                           ("max", 1.0)):
        value = percentile(durations, fraction)
        row[name] = round(value, 6) if value is not None else None
    return row


def _scenario_name(workload):
    if workload.get("name"):
        return workload["name"]
    scenario = workload.get("scenario") or {}
    return next(iter(scenario), "?") if isinstance(scenario, dict) else str(scenario)


def summarize_rally(report):
    """Rally's JSON report (`rally task report --json`) -> one entry per workload: the SLA
    results, and per atomic action and for the whole iteration ("total") the iterations,
    success rate and min/median/p90/p95/max durations (s) of the successful ones."""
    out = []
    for task in report.get("tasks", []):
        for subtask in task.get("subtasks", []):
            for workload in subtask.get("workloads", []):
                iterations = workload.get("data") or []
                total = list(iterations)
                ok = [it for it in total if not it.get("error")]
                actions = {}
                for it in iterations:
                    per_iteration = {}
                    for action in it.get("atomic_actions") or []:
                        duration = (action.get("finished_at") or 0) - (action.get("started_at") or 0)
                        entry = per_iteration.setdefault(action["name"], [0.0, False])
                        entry[0] += duration
                        entry[1] = entry[1] or bool(action.get("failed"))
                    for name, (duration, failed) in per_iteration.items():
                        actions.setdefault(name, []).append((duration, failed))
                rows = {}
                for name, samples in actions.items():
                    good = [d for d, failed in samples if not failed]
                    rows[name] = stats(good, len(samples), len(good))
                rows["total"] = stats([it.get("duration", 0.0) for it in ok], len(total), len(ok))
                sla = (workload.get("sla_results") or {}).get("sla") or []
                out.append({
                    "scenario": _scenario_name(workload),
                    "task_uuid": task.get("uuid"),
                    "pass_sla": bool(workload.get("pass_sla", all(s.get("success") for s in sla))),
                    "sla": [{"criterion": s.get("criterion"), "success": bool(s.get("success")),
                             "detail": s.get("detail")} for s in sla],
                    "failed_iterations": len(total) - len(ok),
                    "errors": sorted({" ".join(str(e) for e in it["error"][:2])[:200]
                                      for it in total if it.get("error")})[:5],
                    "actions": rows,
                    "start_time": workload.get("start_time"),
                    "full_duration": workload.get("full_duration"),
                })
    return out


def summarize_iperf3(measurements):
    """netem_measure probes -> one row per site pair: RTT and throughput measured (a pair's
    fping and throughput results come as separate measurements)."""
    rows = {}
    for m in measurements:
        row = rows.setdefault((m["src"], m["dst"]), {
            "src": m["src"], "dst": m["dst"], "rtt_median_ms": None, "rtt_min_ms": None,
            "loss_pct": None, "throughput_bps": None})
        rtt = m.get("rtt") or {}
        if rtt:
            row.update(rtt_median_ms=rtt.get("median_ms"), rtt_min_ms=rtt.get("min_ms"),
                       loss_pct=rtt.get("loss_pct"))
        if m.get("rate_bps") is not None:
            row["throughput_bps"] = m["rate_bps"]
        if m.get("errors"):
            row.setdefault("errors", []).extend(m["errors"])
    return list(rows.values())


def build_summary(plan, rally_results, reports, iperf3=None, conditions=None):
    """The run's summary.json.

    rally_results: [{id, uuid, rc, started_at, finished_at, stderr}] as the rally role recorded
    them; reports: {task id: Rally JSON report or None}; iperf3: {task id: [measurements]}."""
    by_id = dict((r["id"], r) for r in rally_results)
    tasks = []
    for task in plan["tasks"]:
        entry = {"id": task["id"], "type": task["type"], "scenario": task["scenario"],
                 "args": task["args"]}
        if task["type"] == "rally":
            result = by_id.get(task["id"], {})
            report = reports.get(task["id"])
            entry.update(rc=result.get("rc"), uuid=result.get("uuid"),
                         started_at=result.get("started_at"),
                         finished_at=result.get("finished_at"),
                         workloads=summarize_rally(report) if report else [])
            # rally task start: 0 done, 2 an SLA failed (both give results); else it broke
            if not entry["workloads"] or result.get("rc") not in (0, 2, None):
                entry["error"] = "rally exit code %s: %s" % (
                    result.get("rc"), (result.get("stderr") or "no Rally report")[-500:])
        elif task["type"] == "iperf3":
            entry["pairs"] = summarize_iperf3((iperf3 or {}).get(task["id"]) or [])
        tasks.append(entry)
    return {"run_id": plan.get("run_id"), "workload": plan.get("workload"), "tasks": tasks,
            "skipped": plan.get("skipped", []), "conditions": conditions or {}}


def failures(summary):
    """One line per failed task: the scenario, then the SLA that did not hold or the errors."""
    lines = []
    for task in summary["tasks"]:
        if task["type"] != "rally":
            continue
        label = "%s (%s)" % (task["scenario"], task["id"])
        if task.get("error"):
            last = task["error"].strip().splitlines()[-1] if task["error"].strip() else "?"
            lines.append("%s: no result: %s" % (label, last))
            continue
        for workload in task["workloads"]:
            broken = ["%s: %s" % (s["criterion"], s.get("detail") or "failed")
                      for s in workload["sla"] if not s["success"]]
            if broken:
                lines.append("%s: %s: SLA failed: %s" % (
                    label, workload["scenario"], "; ".join(broken)))
            if workload["failed_iterations"]:
                lines.append("%s: %s: %d of %d iterations failed: %s" % (
                    label, workload["scenario"], workload["failed_iterations"],
                    workload["actions"]["total"]["iterations"], "; ".join(workload["errors"])))
    return lines


# --------------------------------------------------------------------------- tables

def _fmt(value, unit=""):
    if value is None:
        return "-"
    return "%.3f%s" % (value, unit)


def _table(rows):
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip()
                     for r in rows)


def summary_table(summary):
    """Per task, workload and atomic action: iterations, success, min/median/p90/p95/max (s);
    per iperf3 pair: RTT and throughput."""
    rows = [["task", "scenario / action", "iter", "success", "min", "median", "p90", "p95",
             "max", "sla"]]
    pairs = [["task", "src -> dst", "rtt median", "loss", "throughput"]]
    for task in summary["tasks"]:
        for workload in task.get("workloads", []):
            sla = "ok" if workload["pass_sla"] else "FAILED"
            for name, row in sorted(workload["actions"].items(), key=lambda kv: kv[0] == "total"):
                label = workload["scenario"] if name == "total" else "  " + name
                rows.append([task["id"], label, row["iterations"], "%.1f%%" % row["success_pct"]]
                            + [_fmt(row[s]) for s in STATS] + [sla if name == "total" else ""])
        if task.get("error"):
            rows.append([task["id"], task["scenario"], "-", "-", "-", "-", "-", "-", "-",
                         "NO RESULT"])
        for pair in task.get("pairs", []):
            pairs.append([task["id"], "%s -> %s" % (pair["src"], pair["dst"]),
                          _fmt(pair["rtt_median_ms"], " ms"), "%s%%" % pair.get("loss_pct"),
                          "%.1f Mbit/s" % (pair["throughput_bps"] / 1e6)
                          if pair.get("throughput_bps") else "-"])
    parts = []
    if len(rows) > 1:
        parts.append("durations in seconds\n" + _table(rows))
    if len(pairs) > 1:
        parts.append(_table(pairs))
    for entry in summary.get("skipped", []):
        parts.append("skipped %s:%s: %s" % (entry["type"], entry["scenario"], entry["reason"]))
    return "\n\n".join(parts) or "no results"


def _index(summary):
    """{(task scenario, args, workload scenario, action): row} of a summary."""
    out = {}
    for task in summary["tasks"]:
        key = (task["scenario"], json.dumps(task["args"], sort_keys=True))
        for workload in task.get("workloads", []):
            for action, row in workload["actions"].items():
                out[key + (workload["scenario"], action)] = row
    return out


def _change(a, b):
    if a is None or b is None:
        return "-"
    if not a:
        return "%+.3f" % (b - a)
    return "%+.1f%%" % (100.0 * (b - a) / a)


def compare_table(run_a, run_b):
    """The change from run A to run B per scenario, args and atomic action (median, p95,
    success), for what both runs measured."""
    index_a, index_b = _index(run_a), _index(run_b)
    rows = [["scenario (args)", "action", "median A", "median B", "change", "p95 A", "p95 B",
             "change", "success A", "success B"]]
    for key in [k for k in index_a if k in index_b]:
        a, b = index_a[key], index_b[key]
        args = ", ".join("%s=%s" % kv for kv in sorted(json.loads(key[1]).items()))
        rows.append(["%s (%s)" % (key[0], args) if args else key[0],
                     key[3] if key[3] != "total" else "total: " + key[2],
                     _fmt(a["median"]), _fmt(b["median"]), _change(a["median"], b["median"]),
                     _fmt(a["p95"]), _fmt(b["p95"]), _change(a["p95"], b["p95"]),
                     "%.1f%%" % a["success_pct"], "%.1f%%" % b["success_pct"]])
    head = "A = %s, B = %s (durations in seconds)" % (run_a.get("run_id"), run_b.get("run_id"))
    only = len(set(index_a) ^ set(index_b))
    tail = "\n%d action(s) measured in one run only" % only if only else ""
    if len(rows) == 1:
        return head + "\nthe two runs have no scenario and args in common" + tail
    return head + "\n" + _table(rows) + tail


# --------------------------------------------------------------------------- traces

def trace_ids(report, limit=None):
    """OSProfiler trace ids recorded by Rally in its JSON report (one per profiled iteration)."""
    found = []
    for task in report.get("tasks", []):
        for subtask in task.get("subtasks", []):
            for workload in subtask.get("workloads", []):
                for iteration in workload.get("data") or []:
                    for output in (iteration.get("output") or {}).get("complete") or []:
                        if output.get("chart_plugin") == "OSProfiler":
                            trace = (output.get("data") or {}).get("trace_id")
                            if isinstance(trace, list):
                                found.extend(trace)
                            elif trace:
                                found.append(trace)
    return found[:limit] if limit else found
