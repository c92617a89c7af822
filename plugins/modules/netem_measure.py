#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: netem_measure
short_description: Measure the WAN links between sites and compare them with what was asked
description:
  - >-
    O(mode=plan) runs on the controller. It plans the whole measurement (see
    C(module_utils/wan_test.py)): RTT and loss from every site to all others at once, paced to
    what the WAN router carries; link tests (one-way loss with thousands of UDP datagrams, rate)
    on a sample of ordered pairs that covers every distinct constraint, in rounds of pairs run
    side by side; every job at an absolute time, so probers need no coordination.
  - O(mode=probe) runs on a node of a source site. With O(targets), it runs one C(fping) to all of
    them at O(start_at); with O(jobs), it runs its link tests (C(iperf3) toward the target's
    O(mode=serve) server) at their times, then waits until O(until).
  - O(mode=capacity) measures, once, what the WAN router itself can carry (UDP offered far above
    it toward an C(iperf3) server on the router).
  - O(mode=serve) starts (O(state=started)) or stops an C(iperf3) server on this node.
  - O(mode=report) runs on the controller. It compares the probes with the links (RTT within
    max(1 ms, 5 %), rate within 10 %, loss within three binomial standard deviations; a pair
    not measured fails, an empty report fails), gives pass/fail per site pair and writes
    C(netem.json), C(netem.txt) and C(netem.png) (asked, measured, pass/fail matrices) into
    O(dest).
version_added: "0.1.0"
author: edge.enos developers (@edge-enos)
options:
  mode:
    description: What to do.
    type: str
    choices: [plan, probe, capacity, serve, report]
    required: true
  targets:
    description:
      - "O(mode=probe): C([{site, address}]) pinged at O(start_at)."
      - "O(mode=plan): one prober per site, C([{site, address}])."
    type: list
    elements: dict
    default: []
  jobs:
    description: "O(mode=probe): link tests C([{dst, address, at, loss: {pps, seconds, length}, rate: {udp, offered_bps, seconds}}])."
    type: list
    elements: dict
    default: []
  site:
    description: This node's site (O(mode=probe)).
    type: str
  count:
    description: fping probes per target.
    type: int
    default: 30
  interval_ms:
    description: Interval between probes to one target, in ms (O(mode=probe); the plan sets it).
    type: int
    default: 20
  period_ms:
    description: Interval between two probes of one fping run, in ms (O(mode=probe)).
    type: int
  budget_pps:
    description: O(mode=plan), fping probes per second of all probers together.
    type: int
    default: 2000
  capacity_bps:
    description: O(mode=plan), what the WAN router carries (bit/s); none for no limit.
    type: float
  max_parallel:
    description: O(mode=plan), at most this many link tests side by side.
    type: int
  max_pairs:
    description: O(mode=plan), link tests on every ordered pair up to this many pairs, else on a sample covering every distinct constraint.
    type: int
    default: 30
  duration:
    description: Seconds of each rate test.
    type: int
    default: 3
  lead_time:
    description: O(mode=plan), seconds between the plan and the start, so that every prober has started.
    type: float
    default: 5
  start_at:
    description: O(mode=probe), epoch second at which fping starts, or from which the times of O(jobs) count.
    type: float
  until:
    description: O(mode=probe), seconds after O(start_at) to wait for after the jobs (keeps probers in step).
    type: float
  progress:
    description: O(mode=probe), a line returned as C(progress) when the probe is done (the C(enos) command shows it once).
    type: str
  address:
    description: O(mode=capacity), the router's address.
    type: str
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
    description: For O(mode=plan) and O(mode=report), the links asked (C(enos_links)).
    type: list
    elements: dict
    default: []
  sites:
    description: For O(mode=report), the sites measured (every ordered pair must have a result).
    type: list
    elements: str
    default: []
  coverage:
    description: For O(mode=report), the plan's coverage (which pairs had link tests, and why).
    type: dict
    default: {}
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
- name: Plan the measurement
  edge.enos.netem_measure:
    mode: plan
    links: "{{ enos_links }}"
    targets: [{site: grp1, address: 10.150.1.2}, {site: grp2, address: 10.150.2.2}]
  register: _plan
  delegate_to: localhost
  run_once: true

- name: RTT and loss from this site to all others at once
  edge.enos.netem_measure:
    mode: probe
    site: "{{ enos_site }}"
    targets: "{{ _plan.targets | rejectattr('site', 'equalto', enos_site) }}"
    start_at: "{{ _plan.start_at }}"
    count: "{{ _plan.fping.count }}"
    interval_ms: "{{ _plan.fping.interval_ms }}"
    period_ms: "{{ _plan.fping.period_ms }}"
  register: _probe
"""

RETURN = r"""
measurements:
  description: >-
    (probe) per target site, C({src, dst, address, rtt: {probes, received, loss_pct, min_ms,
    avg_ms, median_ms}, loss_test: {packets, lost, loss_pct}, rate_bps, efficiency, errors}).
  returned: mode=probe
  type: list
  elements: dict
plan:
  description: (plan) fping pacing, rounds, jobs per site, coverage, chunks of rounds, start time and a summary.
  returned: mode=plan
  type: dict
capacity_bps:
  description: (capacity) TCP goodput toward the router.
  returned: mode=capacity
  type: float
rows:
  description: (report) per site pair, the checks (asked, measured, tolerance, pass).
  returned: mode=report
  type: list
  elements: dict
passed:
  description: (report) at least one pair measured and every pair within tolerance.
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
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.edge.enos.plugins.module_utils import netem as nm
from ansible_collections.edge.enos.plugins.module_utils import wan_test as wt

ARGUMENT_SPEC = dict(
    mode=dict(type="str", choices=["plan", "probe", "capacity", "serve", "report"], required=True),
    targets=dict(type="list", elements="dict", default=[]),
    jobs=dict(type="list", elements="dict", default=[]),
    site=dict(type="str"),
    count=dict(type="int", default=30),
    interval_ms=dict(type="int", default=20),
    period_ms=dict(type="int"),
    budget_pps=dict(type="int", default=2000),
    capacity_bps=dict(type="float"),
    max_parallel=dict(type="int"),
    max_pairs=dict(type="int", default=30),
    duration=dict(type="int", default=3),
    lead_time=dict(type="float", default=5),
    start_at=dict(type="float"),
    until=dict(type="float"),
    progress=dict(type="str"),
    address=dict(type="str"),
    port=dict(type="int", default=5201),
    state=dict(type="str", choices=["started", "stopped"], default="started"),
    probes=dict(type="list", elements="dict", default=[]),
    links=dict(type="list", elements="dict", default=[]),
    sites=dict(type="list", elements="str", default=[]),
    coverage=dict(type="dict", default={}),
    dest=dict(type="path"),
)
PIDFILE = "/tmp/enos-netem-iperf3-%d-%d.pid"
# link tests are grouped into Ansible loop items of about this many seconds (progress)
CHUNK_SECONDS = 30.0
CHUNK_GAP_S = 8.0
# a link test that starts this many seconds after its time says so in its result
LATE_S = 1.5
BUSY_WAIT_S = 30.0


def _sleep_until(epoch):
    delay = (epoch or 0) - time.time()
    if delay > 0:
        time.sleep(delay)


def make_plan(p):
    links = nm.normalize_links(p["links"])
    addresses = {t["site"]: t["address"] for t in p["targets"]}
    sites = sorted(addresses)
    start = time.time() + p["lead_time"]
    plan = wt.plan(links, sites, count=p["count"], budget_pps=p["budget_pps"],
                   capacity_bps=p["capacity_bps"], max_parallel=p["max_parallel"],
                   max_pairs=p["max_pairs"], rate_seconds=p["duration"], start_at=start)
    for jobs in plan["jobs"].values():
        for job in jobs:
            job["address"] = addresses[job["dst"]]
    chunks, current, shift = [], None, 0.0
    by_round = {}
    for jobs in plan["jobs"].values():
        for job in jobs:
            by_round.setdefault(job["round"], []).append(job)
    for rnd in plan["rounds"]:
        if current is not None and rnd["at"] + shift + rnd["seconds"] - current["from_at"] > CHUNK_SECONDS:
            # each chunk is a new module run on every prober: give it time to start
            shift += CHUNK_GAP_S
            current = None
        rnd["at"] += shift
        for job in by_round.get(rnd["round"], []):
            job["at"] += shift
        end = rnd["at"] + rnd["seconds"]
        if current is None:
            current = {"first": rnd["round"], "from_at": rnd["at"], "rounds": []}
            chunks.append(current)
        current["rounds"].append(rnd["round"])
        current["last"], current["until"] = rnd["round"], end
    plan["links_seconds"] += shift
    plan["seconds"] += shift
    for chunk in chunks:
        chunk["label"] = "link-test rounds %d-%d of %d (%.0f s of %.0f s)" % (
            chunk["first"], chunk["last"], len(plan["rounds"]), chunk["until"],
            plan["links_seconds"])
    tested = sorted(k for k, v in plan["coverage"].items() if v["measured"])
    summary = [
        "%d sites, %d ordered pairs: RTT and loss of every pair with fping, %d probes each, "
        "every site to all others at once (%.0f s)" % (
            len(sites), len(sites) * (len(sites) - 1), plan["fping"]["count"],
            plan["fping"]["seconds"]),
        "link tests (one-way loss with thousands of datagrams, rate where asked) on %d pairs in "
        "%d rounds run side by side (router capacity %s): %s" % (
            len(tested), len(plan["rounds"]),
            "%.0f Mbit/s of UDP" % (p["capacity_bps"] / 1e6) if p["capacity_bps"]
            else "not limiting",
            "every pair" if len(tested) == len(plan["coverage"]) else
            "a sample covering every distinct constraint (%d pairs follow the one they share "
            "a constraint with)" % (len(plan["coverage"]) - len(tested))),
        "about %.0f s in all" % plan["seconds"]]
    plan.update(chunks=chunks, sites=sites, summary=summary, targets=p["targets"])
    plan["jobs"] = dict(plan["jobs"])
    return plan


def probe(p):
    out = []
    if p["targets"]:
        addrs = [t["address"] for t in p["targets"]]
        # a first round resolves ARP/ND, so that no probe of the measurement waits for it
        nm.fping_rtts(addrs, count=2, interval_ms=20)
        _sleep_until(p["start_at"])
        rtts = nm.fping_rtts(addrs, count=p["count"], interval_ms=p["interval_ms"],
                             period_ms=p["period_ms"])
        out.extend({"src": p["site"], "dst": t["site"], "address": t["address"],
                    "rtt": nm.rtt_stats(rtts[t["address"]])} for t in p["targets"])
    for job in sorted(p["jobs"], key=lambda j: j["at"]):
        at = p["start_at"] + job["at"]
        _sleep_until(at)
        m = {"src": p["site"], "dst": job["dst"], "address": job["address"], "errors": []}
        late = time.time() - at
        if late > LATE_S:
            m["started_late_s"] = round(late, 1)
        loss = job.get("loss")
        try:
            if loss:
                m["loss_test"] = _when_free(nm.iperf3_loss, job["address"], loss["pps"],
                                            loss["seconds"], loss.get("length", wt.LOSS_PAYLOAD),
                                            p["port"])
            rate = job.get("rate")
            if rate:
                time.sleep(0.5)           # the server takes the next test
                m["rate_bps"], m["efficiency"] = _when_free(
                    nm.iperf3, job["address"], rate["offered_bps"], rate["seconds"], p["port"],
                    udp=rate["udp"], omit=rate.get("omit", 1))
        except nm.NetemError as exc:
            m["errors"].append(str(exc))
        out.append(m)
    if p["until"] is not None:
        _sleep_until(p["start_at"] + p["until"])
    return out


def _when_free(test, *args, **kwargs):
    """Run an iperf3 test; a prober that fell behind its schedule may find the server still
    busy with the previous round's test: try again for a while."""
    deadline = time.time() + BUSY_WAIT_S
    while True:
        try:
            return test(*args, **kwargs)
        except nm.NetemError as exc:
            if "busy" not in str(exc) or time.time() > deadline:
                raise
            time.sleep(1.0)


def capacity(p):
    """UDP the router receives when offered far more than it carries (full-size datagrams):
    its limit is in packets per second, which TCP's large segments would hide."""
    got, _eff = nm.iperf3(p["address"], 2e9, p["duration"], p["port"], udp=True)
    return got


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
    rows = nm.compare(p["links"], p["probes"], sites=p["sites"] or None,
                      coverage=p["coverage"] or None)
    ok = nm.passed(rows)
    table = nm.report_table(rows)
    files = []
    if not check_mode:
        if not p["dest"]:
            raise nm.NetemError("dest is required with mode=report")
        os.makedirs(p["dest"], exist_ok=True)
        paths = [os.path.join(p["dest"], "netem.%s" % e) for e in ("json", "txt", "png")]
        with open(paths[0], "w") as f:
            json.dump({"links": nm.normalize_links(p["links"]), "sites": p["sites"],
                       "coverage": p["coverage"], "measurements": p["probes"],
                       "rows": rows, "passed": ok}, f, indent=1)
        with open(paths[1], "w") as f:
            f.write(table)
            cover = sorted((k, v) for k, v in (p["coverage"] or {}).items())
            if cover:
                f.write("\nlink tests (one-way loss, rate) and why:\n")
                f.writelines("  %-24s %s\n" % (k, v["why"]) for k, v in cover)
        nm.report_heatmap(rows, paths[2])
        files = paths
    return {"rows": rows, "summary": nm.report_summary(rows), "passed": ok, "files": files,
            "changed": bool(files)}


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    p = module.params
    try:
        if p["mode"] == "plan":
            module.exit_json(changed=False, plan=make_plan(p))
        if p["mode"] in ("probe", "capacity") and module.check_mode:
            module.exit_json(changed=False, measurements=[], capacity_bps=None)
        if p["mode"] == "probe":
            module.exit_json(changed=False, measurements=probe(p),
                             progress="%s: done" % p["progress"] if p["progress"] else None)
        if p["mode"] == "capacity":
            module.exit_json(changed=False, capacity_bps=capacity(p))
        if p["mode"] == "serve":
            module.exit_json(changed=serve(p, module.check_mode))
        module.exit_json(**report(p, module.check_mode))
    except (nm.NetemError, subprocess.CalledProcessError, OSError) as exc:
        module.fail_json(msg=str(exc))


if __name__ == "__main__":
    main()
