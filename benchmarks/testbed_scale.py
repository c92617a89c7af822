#!/usr/bin/env python3
"""Local testbeds of 10, 30, 100 one-node sites on this machine: how long `enos up`, `enos tc`,
`enos tc --test` and `enos destroy --hard` take, the memory the testbed used, how many site
pairs the test measured (RTT/loss, rate), and whether destroy left anything.

    .venv/bin/python benchmarks/testbed_scale.py                 # 10 30 100 sites
    .venv/bin/python benchmarks/testbed_scale.py --sites 10 --steps up,destroy

Every size is one environment under --workdir (its topology, logs, the netem report); the
sites are grp1..grpN with one compute node each, a default link of 20 ms / 100 mbit and 60 ms
between grp1 and grp2..grp3, addresses in --subnet (one /24 per site). The figures are
printed as a table and kept in <workdir>/testbed_scale.json. Traffic stays between the
containers and the WAN router this script creates.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
ENOS = Path(sys.executable).parent / "enos"
LABEL = "edge.enos.env"
STEPS = ("up", "tc", "test", "destroy")
COMMANDS = {"up": ["up"], "tc": ["tc"], "test": ["tc", "--test"], "destroy": ["destroy", "--hard"]}


def topology(path, environment, sites, subnet, router_subnet, memory, node_image):
    provider = {"type": "local", "memory_per_node": memory, "environment": environment,
                "subnet": subnet, "router_subnet": router_subnet}
    if node_image:
        provider["node_image"] = node_image
    data = {
        "plugin": "edge.enos.topology",
        "provider": provider,
        "topology": {"grp[1-%d]" % sites: {"local": {"compute": 1}}},
        "registry": {"type": "internal"},
        "network_constraints": {
            "enable": True, "default_delay": "20ms", "default_rate": "100mbit",
            "default_loss": "0%",
            "constraints": [{"src": "grp1", "dst": "grp[2-3]", "delay": "60ms",
                             "symmetric": True}]},
    }
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


class MemoryWatch(threading.Thread):
    """Lowest MemAvailable seen while a step runs (sampled every second)."""

    def __init__(self):
        super().__init__(daemon=True)
        self.lowest = self.start_value = mem_available()
        self.stop = threading.Event()

    def run(self):
        while not self.stop.wait(1.0):
            self.lowest = min(self.lowest, mem_available())


def mem_available():
    with open("/proc/meminfo") as handle:
        for line in handle:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return 0


def containers(environment):
    out = subprocess.run(["docker", "ps", "-aq", "--no-trunc", "--filter",
                          "label=%s=%s" % (LABEL, environment)],
                         capture_output=True, text=True, check=False).stdout
    return out.split()


def peak_container_memory(environment):
    """Sum of the node containers' peak memory (cgroup v1 max_usage, v2 memory.peak), bytes."""
    total = 0
    for cid in containers(environment):
        for pattern in ("/sys/fs/cgroup/memory/docker/%s/memory.max_usage_in_bytes",
                        "/sys/fs/cgroup/system.slice/docker-%s.scope/memory.peak",
                        "/sys/fs/cgroup/docker/%s/memory.peak"):
            if os.path.exists(pattern % cid):
                total += int(Path(pattern % cid).read_text().split()[0])
                break
    return total


def router_memory(environment):
    """Resident memory of the WAN router (its UML processes share the kernel's memory: the
    largest RSS counts), bytes."""
    umid = ("umid=%s-wan" % environment).encode()
    rss = 0
    for cmdline in glob.glob("/proc/[0-9]*/cmdline"):
        try:
            if umid in Path(cmdline).read_bytes().split(b"\0"):
                status = Path(cmdline).with_name("status").read_text()
                rss = max(rss, int(status.split("VmRSS:")[1].split()[0]) * 1024)
        except (OSError, IndexError):
            continue
    return rss


def leftovers(environment):
    """What still carries the environment's name after destroy (containers, networks, volumes,
    veth pairs, the router's kernel)."""
    found = []
    flt = "label=%s=%s" % (LABEL, environment)
    for kind, argv in (("container", ["ps", "-aq"]), ("network", ["network", "ls", "-q"]),
                       ("volume", ["volume", "ls", "-q"])):
        out = subprocess.run(["docker"] + argv + ["--filter", flt], capture_output=True,
                             text=True, check=False).stdout.split()
        found += ["%s %s" % (kind, name) for name in out]
    prefix = "e" + hashlib.sha1(environment.encode()).hexdigest()[:6]
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True,
                           check=False).stdout
    found += ["veth %s" % line.split(":")[1].strip().split("@")[0]
              for line in links.splitlines() if line.split(":")[1].strip().startswith(prefix)]
    umid = ("umid=%s-wan" % environment).encode()
    for cmdline in glob.glob("/proc/[0-9]*/cmdline"):
        try:
            if umid in Path(cmdline).read_bytes().split(b"\0"):
                found.append("router pid %s" % cmdline.split("/")[2])
        except OSError:
            continue
    return found


def pairs_measured(report_path):
    """(site pairs with a measured RTT or loss, site pairs with a measured rate) of a netem
    report, or (None, None) without one."""
    if not report_path.exists():
        return None, None
    rows = json.loads(report_path.read_text()).get("rows", [])

    def measured(row, prefix):
        return any(key.startswith(prefix) and check.get("measured") is not None
                   for key, check in row.get("checks", {}).items())

    rtt = sum(1 for row in rows if measured(row, "rtt") or measured(row, "loss"))
    rate = sum(1 for row in rows if measured(row, "rate"))
    return rtt, rate


def run_step(step, topo, env_dir, log, timeout):
    argv = [str(ENOS)] + COMMANDS[step] + ["-e", str(env_dir)]
    if step == "up":
        argv += ["-f", str(topo)]
    watch = MemoryWatch()
    watch.start()
    started = time.time()
    with open(log, "w") as handle:
        try:
            rc = subprocess.run(argv, stdout=handle, stderr=subprocess.STDOUT, timeout=timeout,
                                check=False).returncode
        except subprocess.TimeoutExpired:
            rc = "timeout"
    seconds = time.time() - started
    watch.stop.set()
    watch.join()
    return {"rc": rc, "seconds": round(seconds, 1),
            "mem_drop": max(0, watch.start_value - watch.lowest)}


def bench(sites, args):
    environment = "%s%d" % (args.prefix, sites)
    base = Path(args.workdir) / environment
    base.mkdir(parents=True, exist_ok=True)
    env_dir = base / "env"
    topo = topology(base / "topology.yml", environment, sites, args.subnet, args.router_subnet,
                    args.memory, args.node_image)
    result = {"sites": sites, "environment": environment, "steps": {},
              "load_before": os.getloadavg()[0]}
    total_pairs = sites * (sites - 1)
    for step in STEPS:
        if step not in args.steps:
            continue
        if step in ("tc", "test") and result["steps"].get("up", {}).get("rc") not in (0, None):
            continue
        if step == "test" and sites > args.test_max_sites:
            result["steps"]["test"] = {"rc": "skipped", "seconds": None, "mem_drop": 0}
            continue
        if step == "destroy":
            result["container_peak"] = peak_container_memory(environment)
            result["router_rss"] = router_memory(environment)
        print("  %d sites: enos %s ..." % (sites, " ".join(COMMANDS[step])), flush=True)
        outcome = run_step(step, topo, env_dir, base / ("%s.log" % step), args.timeout)
        result["steps"][step] = outcome
        print("  %d sites: enos %s: rc=%s in %ss" % (sites, " ".join(COMMANDS[step]),
                                                  outcome["rc"], outcome["seconds"]), flush=True)
        if step == "test":
            rtt, rate = pairs_measured(env_dir / "reports" / "netem.json")
            result.update(rtt_pairs=rtt, rate_pairs=rate, total_pairs=total_pairs)
    if "destroy" in args.steps:
        result["left"] = leftovers(environment)
    result["load_after"] = os.getloadavg()[0]
    return result


def cell(step):
    if not step:
        return "-"
    if step["rc"] == 0:
        return "%.0f" % step["seconds"]
    if step["rc"] == "skipped":
        return "skipped"
    return "FAIL(%s) %.0f" % (step["rc"], step["seconds"] or 0)


def table(results):
    head = ("sites", "up s", "tc s", "test s", "destroy s", "nodes peak MiB", "router MiB",
            "MemAvail drop MiB", "RTT/loss pairs", "rate pairs", "left", "load")
    rows = [head]
    for r in results:
        steps = r["steps"]
        pairs = "-" if r.get("rtt_pairs") is None else "%d/%d" % (r["rtt_pairs"], r["total_pairs"])
        rate = "-" if r.get("rate_pairs") is None else "%d/%d" % (r["rate_pairs"], r["total_pairs"])
        drop = max([s["mem_drop"] for s in steps.values()] or [0]) >> 20
        rows.append((str(r["sites"]), cell(steps.get("up")), cell(steps.get("tc")),
                     cell(steps.get("test")), cell(steps.get("destroy")),
                     str(r.get("container_peak", 0) >> 20) if "container_peak" in r else "-",
                     str(r.get("router_rss", 0) >> 20) if "router_rss" in r else "-",
                     str(drop), pairs, rate,
                     "-" if "left" not in r else ("nothing" if not r["left"]
                                                  else "%d things" % len(r["left"])),
                     "%.1f-%.1f" % (r["load_before"], r["load_after"])))
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    return "\n".join("  ".join(c.rjust(w) for c, w in zip(row, widths)) for row in rows)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sites", type=int, nargs="+", default=[10, 30, 100])
    parser.add_argument("--steps", default=",".join(STEPS),
                        help="comma-separated, among %s" % ", ".join(STEPS))
    parser.add_argument("--workdir", default="/var/tmp/edge-enos-testbed-scale")
    parser.add_argument("--prefix", default="tbscale", help="environment name prefix")
    parser.add_argument("--subnet", default="10.180.0.0/16")
    parser.add_argument("--router-subnet", default="10.199.80.0/30")
    parser.add_argument("--memory", default="384m", help="memory_per_node")
    parser.add_argument("--node-image", default=None, help="provider.node_image")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds per step")
    parser.add_argument("--test-max-sites", type=int, default=1000,
                        help="skip `enos tc --test` above this many sites")
    args = parser.parse_args(argv)
    args.steps = [s for s in args.steps.split(",") if s]
    unknown = sorted(set(args.steps) - set(STEPS))
    if unknown:
        parser.error("--steps: unknown %s (use %s)" % (", ".join(unknown), ", ".join(STEPS)))
    results = []
    for sites in args.sites:
        print("%d one-node sites (environment %s%d)" % (sites, args.prefix, sites), flush=True)
        results.append(bench(sites, args))
        Path(args.workdir, "testbed_scale.json").write_text(json.dumps(results, indent=1))
    print()
    print(table(results))
    for r in results:
        if r.get("left"):
            print("%d sites: left after destroy: %s" % (r["sites"], ", ".join(r["left"])))
    print("\nlogs and reports: %s/<environment>/ ; figures: %s/testbed_scale.json"
          % (args.workdir, args.workdir))
    failed = [r for r in results for s in r["steps"].values() if s["rc"] not in (0, "skipped")]
    return 1 if failed or any(r.get("left") for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
