#!/usr/bin/env python3
"""Cost of `enos check` at scale, and of refusing files built to exhaust it.

Times `enos check` and `enos check --json` (wall and CPU seconds, peak memory of the process)
on a topology of SITES sites x MACHINES machines with WAN constraints (SITES^2 shaped links),
then how long the model takes to refuse each bounds fixture of tests/fixtures/bad (a billion-
site range, an alias bomb, a 10^12 machine count, deep nesting, ...).

    .venv/bin/python benchmarks/check_scale.py [--sites 1000] [--machines 12]
"""

from __future__ import annotations

import argparse
import glob
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "collections"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from inventory_scale import write_topology  # noqa: E402

from ansible_collections.edge.enos.plugins.module_utils.topology import (  # noqa: E402
    TopologyError, load_topology)

ENOS = os.path.join(os.path.dirname(sys.executable), "enos")


def measure(args):
    """(wall s, cpu s, peak RSS MiB, bytes written) of one `enos` process."""
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        process = subprocess.Popen([ENOS] + args, stdout=out, stderr=subprocess.DEVNULL)
        _pid, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            raise SystemExit("enos %s failed (rc=%d)" % (" ".join(args), process.returncode))
        size = out.seek(0, os.SEEK_END)
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024.0, size


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=1000)
    parser.add_argument("--machines", type=int, default=12, help="machines per site")
    args = parser.parse_args()
    print("load average: %s" % " ".join("%.1f" % x for x in os.getloadavg()))
    with tempfile.TemporaryDirectory(prefix="enos-check-bench-") as work:
        topology = os.path.join(work, "topology.yml")
        write_topology(topology, args.sites, args.machines)
        for label, extra in (("enos check", []), ("enos check --json", ["--json"])):
            wall, cpu, rss, size = measure(["check"] + extra + ["-f", topology])
            print("%-18s %d sites x %d machines: %.2f s wall, %.2f s CPU, peak %.0f MiB, "
                  "%.1f MB of output" % (label, args.sites, args.machines, wall, cpu, rss,
                                         size / 1e6))
    print("refusing the bounds fixtures (model only, in this process):")
    for path in sorted(glob.glob(os.path.join(ROOT, "tests", "fixtures", "bad", "bounds-*.yaml"))):
        start = time.perf_counter()
        cpu = time.process_time()
        try:
            load_topology(path)
            verdict = "ACCEPTED (a bound is missing)"
        except TopologyError as exc:
            verdict = str(exc).splitlines()[0].split(": ", 2)[-1][:70]
        print("  %-28s %.3f s wall, %.3f s CPU: %s" % (
            os.path.basename(path), time.perf_counter() - start, time.process_time() - cpu,
            verdict))


if __name__ == "__main__":
    main()
