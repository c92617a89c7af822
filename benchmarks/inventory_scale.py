#!/usr/bin/env python3
"""Cost of the edge.enos.topology inventory plugin at scale.

Builds a topology of SITES sites x MACHINES machines (with WAN constraints) and the provider
state of a provisioned environment (addresses and interfaces for every host), then times
`ansible-inventory --list` with our plugin against a static YAML inventory holding exactly the
same hosts, groups and variables. Prints both times (median of RUNS) and their ratio.

    .venv/bin/python benchmarks/inventory_scale.py [--sites 1000] [--machines 12] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "collections"))

import yaml  # noqa: E402

from ansible_collections.edge.enos.plugins.inventory.topology import build_inventory  # noqa: E402
from ansible_collections.edge.enos.plugins.module_utils.topology import load_topology  # noqa: E402


def write_topology(path, sites, machines):
    control = max(1, machines // 6)
    text = """plugin: edge.enos.topology
provider: {type: local}
topology:
  grp1:
    local: {control: %d, network: 1, compute: %d}
  grp[2-%d]:
    local: {compute: %d, storage: 1}
registry: {type: internal}
network_constraints:
  enable: true
  default_delay: 25ms
  default_rate: 100mbit
  default_loss: 0.1%%
  constraints:
    - {src: grp1, dst: "grp[2-%d]", delay: 10ms, rate: 1gbit, symmetric: true}
""" % (control, machines - control - 1, sites, machines - 1, min(sites, 100))
    with open(path, "w") as handle:
        handle.write(text)


def write_state(env_dir, topo):
    hosts = []
    for number, host in enumerate(topo.hosts):
        site = int(host.site[3:])
        address = "10.%d.%d.%d" % (site // 250, site % 250, number % 200 + 10)
        hosts.append({"name": host.name, "address": address, "interfaces": {
            "network_interface": {"device": "eth0", "address": address, "network": host.site},
            "neutron_external_interface": {"device": "eth1", "address": None, "network": "ext"}}})
    state = {"version": 1, "environment": "bench", "provider": "local",
             "ssh": {"user": "root", "private_key": os.path.join(env_dir, "id_ed25519")},
             "networks": [], "hosts": hosts}
    with open(os.path.join(env_dir, "resources.json"), "w") as handle:
        json.dump(state, handle)
    return state


def write_static(path, data):
    """The same inventory as a plain YAML file: hosts with their vars, groups with members."""
    groups = {}
    for group, members in data["groups"].items():
        groups[group] = {"hosts": dict((name, None) for name in members)}
    ungrouped = {"hosts": dict((name, hostvars) for name, hostvars in data["hosts"].items())}
    inventory = {"all": {"vars": data["vars"], "children": dict(groups, ungrouped=ungrouped)}}
    with open(path, "w") as handle:
        yaml.safe_dump(inventory, handle, default_flow_style=False)


def time_list(inventory, env_dir, runs, plugin):
    """Median wall time of `ansible-inventory --list` with only `plugin` enabled, so that each
    side is parsed once, by its own plugin (no other plugin tries the file first)."""
    env = dict(os.environ, ENOS_ENV=env_dir, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"),
               ANSIBLE_INVENTORY_ENABLED=plugin)
    command = [os.path.join(os.path.dirname(sys.executable), "ansible-inventory"), "-i",
               inventory, "--list", "--output", os.devnull]
    times = []
    for _run in range(runs):
        start = time.perf_counter()
        subprocess.run(command, env=env, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times), times


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=1000)
    parser.add_argument("--machines", type=int, default=12, help="machines per site")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="enos-inv-bench-") as work:
        topology = os.path.join(work, "topology.yml")
        write_topology(topology, args.sites, args.machines)
        start = time.perf_counter()
        topo = load_topology(topology)
        parse_time = time.perf_counter() - start
        state = write_state(work, topo)
        data = build_inventory(topo, state, work)
        static = os.path.join(work, "static.yml")
        write_static(static, data)

        ours, ours_all = time_list(topology, work, args.runs, "edge.enos.topology")
        theirs, theirs_all = time_list(static, work, args.runs, "yaml")
        print("topology: %d sites x %d machines = %d hosts, %d groups, %d shaped links"
              % (args.sites, args.machines, len(topo.hosts), len(data["groups"]),
                 len(topo.links())))
        print("model parse + validate:                 %.3f s" % parse_time)
        print("ansible-inventory --list, edge.enos.topology: %.2f s  (runs: %s)"
              % (ours, ", ".join("%.2f" % t for t in ours_all)))
        print("ansible-inventory --list, static YAML (yaml plugin only): %.2f s  (runs: %s)"
              % (theirs, ", ".join("%.2f" % t for t in theirs_all)))
        print("ratio plugin / static: %.2fx (target <= 1.5x)" % (ours / theirs))


if __name__ == "__main__":
    main()
