#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: netem_measure
short_description: Measure the WAN links between sites and compare them with what was asked
description:
  - O(mode=probe) runs on a node of a source site. It measures RTT and loss to the given targets
    with one C(fping) run (several probes per target), and for targets with a rate the
    throughput (C(iperf3); the target must run O(mode=serve)).
  - O(mode=serve) starts (O(state=started)) or stops an C(iperf3) server on this node.
  - O(mode=report) runs on the controller. It compares the probes with the links (RTT within
    max(1 ms, 5 %), rate within 10 %, loss within three binomial standard deviations), gives
    pass/fail per site pair and writes C(netem.json), C(netem.txt) and C(netem.png) (asked vs
    measured heatmap) into O(dest).
version_added: "0.1.0"
author: edge.enos developers (@edge-enos)
options:
  mode:
    description: What to do.
    type: str
    choices: [probe, serve, report]
    required: true
  targets:
    description:
      - "For O(mode=probe), C([{site, address, rate_bps, loss_pct}]); rate_bps asks for a
        throughput test (TCP, or UDP above the rate when the link has loss)."
    type: list
    elements: dict
    default: []
  site:
    description: This node's site (O(mode=probe)).
    type: str
  count:
    description: Probes per target.
    type: int
    default: 50
  interval_ms:
    description: Interval between probes to one target, in ms.
    type: int
    default: 20
  duration:
    description: Seconds of each throughput test.
    type: int
    default: 5
  port:
    description: iperf3 port.
    type: int
    default: 5201
  state:
    description: For O(mode=serve).
    type: str
    choices: [started, stopped]
    default: started
  probes:
    description: For O(mode=report), the C(measurements) returned by every probe.
    type: list
    elements: dict
    default: []
  links:
    description: For O(mode=report), the links asked (C(enos_links)).
    type: list
    elements: dict
    default: []
  dest:
    description: For O(mode=report), the directory of the reports.
    type: path
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: partial
    details: probes and serve do nothing in check mode; report still computes but writes nothing.
  diff_mode:
    support: none
  platform:
    platforms: posix
"""

EXAMPLES = r"""
- name: Probe the other sites from this node
  edge.enos.netem_measure:
    mode: probe
    site: "{{ enos_site }}"
    targets: "{{ _netem_targets }}"
  register: _probe

- name: Write the report
  edge.enos.netem_measure:
    mode: report
    links: "{{ enos_links }}"
    probes: "{{ ansible_play_hosts | map('extract', hostvars, ['_probe', 'measurements']) | flatten }}"
    dest: "{{ enos_env_dir }}/reports"
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
measurements:
  description: "(probe) per target site, C({src, dst, address, rtt: {probes, received, loss_pct, min_ms, avg_ms, median_ms}, rate_bps, efficiency})."
  returned: mode=probe
  type: list
  elements: dict
rows:
  description: (report) per site pair, the checks (asked, measured, tolerance, pass).
  returned: mode=report
  type: list
  elements: dict
passed:
  description: (report) every pair within tolerance.
  returned: mode=report
  type: bool
files:
  description: (report) the files written.
  returned: mode=report
  type: list
  elements: str
"""

import json
import os
import subprocess

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.edge.enos.plugins.module_utils import netem as nm

ARGUMENT_SPEC = dict(
    mode=dict(type="str", choices=["probe", "serve", "report"], required=True),
    targets=dict(type="list", elements="dict", default=[]),
    site=dict(type="str"),
    count=dict(type="int", default=50),
    interval_ms=dict(type="int", default=20),
    duration=dict(type="int", default=5),
    port=dict(type="int", default=5201),
    state=dict(type="str", choices=["started", "stopped"], default="started"),
    probes=dict(type="list", elements="dict", default=[]),
    links=dict(type="list", elements="dict", default=[]),
    dest=dict(type="path"),
)
PIDFILE = "/tmp/enos-netem-iperf3-%d-%d.pid"


def probe(p):
    addrs = [t["address"] for t in p["targets"]]
    # a first round resolves ARP/ND, so that no probe of the measurement waits for it
    nm.fping_rtts(addrs, count=2, interval_ms=p["interval_ms"])
    rtts = nm.fping_rtts(addrs, count=p["count"], interval_ms=p["interval_ms"])
    out = []
    for t in p["targets"]:
        m = {"src": p["site"], "dst": t["site"], "address": t["address"],
             "rtt": nm.rtt_stats(rtts[t["address"]]), "rate_bps": None}
        if t.get("rate_bps"):
            m["rate_bps"], m["efficiency"] = nm.iperf3(
                t["address"], int(t["rate_bps"]), p["duration"], p["port"],
                udp=bool(t.get("loss_pct")))
        out.append(m)
    return out


def _listening(port):
    """An iperf3 (any) server listens on port in this node's network namespace."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                for line in f.readlines()[1:]:
                    cols = line.split()
                    if cols[3] == "0A" and int(cols[1].rsplit(":", 1)[1], 16) == port:
                        return True
        except OSError:
            pass
    return False


def serve(p, check_mode):
    # one pid file per network namespace: nodes may share a filesystem (containers, netns labs)
    pidfile = PIDFILE % (p["port"], os.stat("/proc/self/ns/net").st_ino)
    if p["state"] == "started":
        if _listening(p["port"]):
            return False
        if not check_mode:
            subprocess.run(["iperf3", "-s", "-D", "-p", str(p["port"]), "-I", pidfile], check=True)
        return True
    try:
        with open(pidfile) as f:
            pid = int(f.read().strip().strip("\0") or 0)
        with open("/proc/%d/comm" % pid) as f:
            alive = f.read().strip() == "iperf3"
    except (OSError, ValueError):
        alive = False
    if not alive:
        return False
    if not check_mode:
        os.kill(pid, 15)                  # iperf3 removes its pid file itself
    return True


def report(p, check_mode):
    rows = nm.compare(p["links"], p["probes"])
    table = nm.report_table(rows)
    files = []
    if not check_mode:
        if not p["dest"]:
            raise nm.NetemError("dest is required with mode=report")
        os.makedirs(p["dest"], exist_ok=True)
        paths = [os.path.join(p["dest"], "netem.%s" % e) for e in ("json", "txt", "png")]
        with open(paths[0], "w") as f:
            json.dump({"links": nm.normalize_links(p["links"]), "measurements": p["probes"],
                       "rows": rows, "passed": all(r["pass"] for r in rows)}, f, indent=1)
        with open(paths[1], "w") as f:
            f.write(table)
        nm.report_heatmap(rows, paths[2])
        files = paths
    return {"rows": rows, "table": table.splitlines(), "passed": all(r["pass"] for r in rows),
            "files": files, "changed": bool(files)}


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    p = module.params
    try:
        if p["mode"] == "probe":
            if module.check_mode:
                module.exit_json(changed=False, measurements=[])
            module.exit_json(changed=False, measurements=probe(p))
        if p["mode"] == "serve":
            module.exit_json(changed=serve(p, module.check_mode))
        module.exit_json(**report(p, module.check_mode))
    except (nm.NetemError, subprocess.CalledProcessError, OSError) as exc:
        module.fail_json(msg=str(exc))


if __name__ == "__main__":
    main()
