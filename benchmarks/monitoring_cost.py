#!/usr/bin/env python3
"""What monitoring costs: CPU and memory of the collectors on every node, and how a bench run's
medians move with monitoring on vs off.

    benchmarks/monitoring_cost.py --env DIR [--seconds 60]            # collectors' cost per node
    benchmarks/monitoring_cost.py --env DIR --bench [--workload W] [--rounds 2]

The first form reads, on every node over SSH, /proc of collectd, the container collector
(python3 .../container_metrics.py or cAdvisor) and influxd twice, `--seconds` apart: CPU is the
CPU time they used over that span divided by it (in % of one core), memory is their RSS at
the end. The second form runs `enos bench` alternately with the collectors stopped and started
(`--rounds` times each, off first) and compares the medians of every Rally workload.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "collections"))
from ansible_collections.edge.enos.plugins.module_utils import backup as bk  # noqa: E402
from ansible_collections.edge.enos.plugins.module_utils import report  # noqa: E402

ENOS = os.path.join(os.path.dirname(sys.executable), "enos")
COLLECTORS = {"collectd": "collectd", "container_metrics": "container_metrics.py",
              "cadvisor": "bin/cadvisor", "influxd": "influxd"}
UNITS = "collectd enos-container-metrics"
# pid, name, utime+stime (ticks), rss (kB) of every process whose command line matches
PROBE = r"""
for p in /proc/[0-9]*; do
  c=$(tr '\0' ' ' < $p/cmdline 2>/dev/null) || continue
  for pat in %s; do
    case "$c" in *"$pat"*) set -- $(cut -d' ' -f14,15 $p/stat 2>/dev/null)
      echo "${p#/proc/} $pat $(( $1 + $2 )) $(awk '/VmRSS/{print $2}' $p/status)";; esac
  done
done; getconf CLK_TCK
"""


def nodes(env_dir):
    resources = json.load(open(os.path.join(env_dir, "resources.json")))
    key = resources.get("ssh", {}).get("private_key") or os.path.join(env_dir, "id_ed25519")
    return [{"name": h["name"], "address": h["address"], "user": "root", "key": key}
            for h in resources["hosts"]]


def sample(node):
    code, out, err = bk.ssh_output(node, PROBE % " ".join(COLLECTORS.values()))
    if code:
        raise SystemExit("%s: %s" % (node["name"], err.strip()))
    lines = out.split("\n")
    ticks = int(lines[-2] if lines[-1] == "" else lines[-1])
    found = {}
    for line in lines:
        parts = line.split()
        if len(parts) == 4 and "sh -c" not in line:
            found[parts[0]] = (parts[1], int(parts[2]), int(parts[3] or 0))
    return ticks, found


def collectors_cost(env_dir, seconds):
    rows = []
    for node in nodes(env_dir):
        ticks, before = sample(node)
        started = time.time()
        rows.append((node, ticks, before, started))
    time.sleep(seconds)
    result = {}
    for node, ticks, before, started in rows:
        _t, after = sample(node)
        span = time.time() - started
        per = {}
        for pid, (pattern, cpu, rss) in after.items():
            name = next(k for k, v in COLLECTORS.items() if v == pattern)
            if pid in before and name != "influxd" or (name == "influxd" and pid in before):
                used = (cpu - before[pid][1]) / float(ticks) / span * 100.0
                entry = per.setdefault(name, {"cpu_pct": 0.0, "rss_mib": 0.0})
                entry["cpu_pct"] += used
                entry["rss_mib"] += rss / 1024.0
        result[node["name"]] = per
    return result


def set_collectors(env_dir, state):
    for node in nodes(env_dir):
        bk.ssh_output(node, "systemctl %s %s 2>/dev/null; true" % (state, UNITS))


def bench_medians(env_dir, workload):
    before = set(os.listdir(os.path.join(env_dir, "reports", "bench"))) \
        if os.path.isdir(os.path.join(env_dir, "reports", "bench")) else set()
    argv = [ENOS, "bench", "--env", env_dir] + (["--workload", workload] if workload else [])
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode == 3:
        raise SystemExit("`enos bench` is not available in this release: %s" % proc.stderr.strip())
    runs = [r for r in report.load_runs(report.Source(env_dir)) if r["id"] not in before]
    medians = {}
    for run in runs:
        for w in run["workloads"]:
            medians.setdefault(w["name"], []).append(w["stats"]["p50"])
    return medians


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", required=True)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--bench", action="store_true")
    parser.add_argument("--workload")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    env_dir = os.path.abspath(args.env)
    if not args.bench:
        cost = collectors_cost(env_dir, args.seconds)
        print("collectors' cost over %.0f s (CPU in %% of one core, RSS in MiB)" % args.seconds)
        print("%-22s %-18s %8s %8s" % ("node", "collector", "CPU %", "RSS MiB"))
        for node, per in sorted(cost.items()):
            for name, entry in sorted(per.items()):
                print("%-22s %-18s %8.2f %8.1f" % (node, name, entry["cpu_pct"], entry["rss_mib"]))
        print(json.dumps(cost))
        return 0
    if not os.path.exists(os.path.join(ROOT, "playbooks", "bench.yml")):
        raise SystemExit("`enos bench` is not in this release (no playbooks/bench.yml): "
                         "nothing measured, the collectors were left running")
    results = {"off": {}, "on": {}}
    try:
        for _round in range(args.rounds):
            for state, action in (("off", "stop"), ("on", "start")):
                set_collectors(env_dir, action)
                for name, values in bench_medians(env_dir, args.workload).items():
                    results[state].setdefault(name, []).extend(values)
    finally:
        set_collectors(env_dir, "start")
    print("%-40s %12s %12s %8s" % ("workload", "median off", "median on", "change"))
    for name in sorted(set(results["off"]) | set(results["on"])):
        off = statistics.median(results["off"].get(name) or [float("nan")])
        on = statistics.median(results["on"].get(name) or [float("nan")])
        print("%-40s %12.3f %12.3f %+7.1f%%" % (name, off, on, (on - off) / off * 100.0))
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
