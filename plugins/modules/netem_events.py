#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: netem_events
short_description: Partition sites, heal them, and run a timeline of network events
description:
  - Cuts between sites are policy-routing rules (preference 1717) that blackhole the traffic
    between the sites' prefixes, both ways; the tc trees of M(edge.enos.netem) are not touched,
    so healing restores the constraints in force with no queue reset.
  - O(state=partitioned) makes the cuts of O(groups) the ones in force (a second run changes
    nothing); O(state=healed) removes every cut; O(state=timeline) runs O(actions) at their
    offsets from O(start_at) and appends to O(log) when each one really took effect (run it
    with C(async) and C(poll=0) to keep it in the background); O(state=log) reads that log.
  - O(state=parsed) runs on the controller and validates a timeline (O(events) or O(file))
    against O(sites), with C(FILE:LINE) errors.
  - Works on the WAN router (O(placement=router), rules C(from A to B)) and on every node
    (O(placement=node), rules C(to <other side>) on the nodes of O(site)).
version_added: "0.1.0"
author: edge.enos developers (@edge-enos)
options:
  state:
    description: What to do.
    type: str
    choices: [partitioned, healed, timeline, log, parsed]
    required: true
  groups:
    description: O(state=partitioned), the sides, C([[site]]) (as module_utils/timeline.parse_partition gives them).
    type: list
    elements: list
    default: []
  prefixes:
    description: "The prefixes of each site, C({site: [cidr]})."
    type: dict
    default: {}
  placement:
    description: Where the cuts are made.
    type: str
    choices: [node, router]
    default: router
  site:
    description: This node's site (O(placement=node)).
    type: str
  actions:
    description: O(state=timeline), the actions from O(state=parsed).
    type: list
    elements: dict
    default: []
  start_at:
    description:
      - O(state=timeline), epoch second of offset 0 (default, now).
      - A host that starts the timeline after that moves it to its own start; each log entry
        says by how much (C(shifted_s)).
    type: float
  log:
    description: O(state=timeline) and O(state=log), the JSON-lines event log on this host.
    type: path
    default: /tmp/enos-network-events.jsonl
  links:
    description: For C(set) actions, the links in force (C(enos_links)), and the other arguments of M(edge.enos.netem).
    type: list
    elements: dict
    default: []
  hosts:
    description: For C(set) actions with O(placement=node), every node (as M(edge.enos.netem)).
    type: dict
    default: {}
  host:
    description: For C(set) actions with O(placement=node), this node's name.
    type: str
  router_interfaces:
    description: For C(set) actions on the router, its interfaces (as M(edge.enos.netem)).
    type: dict
    default: {}
  networks:
    description: For C(set) actions, the environment's networks.
    type: list
    elements: dict
    default: []
  events:
    description: O(state=parsed), the timeline (the list under C(network_events)).
    type: list
    elements: raw
  partition:
    description: O(state=parsed), a partition (C(grp3), C(grp[2-3]), C(grp1,grp2/grp3)) to turn into O(groups).
    type: str
  file:
    description: O(state=parsed), a timeline file (a list, or a mapping with C(network_events)).
    type: path
  sites:
    description: O(state=parsed), the sites of the topology.
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  idempotent:
    description: O(state=partitioned) and O(state=healed) report no change when the cuts in force are the ones asked.
    support: partial
  platform:
    platforms: linux
"""

EXAMPLES = r"""
- name: Cut grp3 from the other sites, both ways
  edge.enos.netem_events:
    state: partitioned
    groups: [[grp3], [grp1, grp2]]
    prefixes: {grp1: [10.150.1.0/24], grp2: [10.150.2.0/24], grp3: [10.150.3.0/24]}

- name: Heal
  edge.enos.netem_events:
    state: healed

- name: Run a timeline in the background
  edge.enos.netem_events:
    state: timeline
    actions: "{{ _parsed.actions }}"
    prefixes: "{{ _prefixes }}"
    start_at: "{{ _start }}"
  async: 3600
  poll: 0
"""

RETURN = r"""
rules:
  description: The cut rules in force after the run, C([[from or null, to]]).
  returned: always
  type: list
  elements: list
groups:
  description: (parsed, with O(partition)) the sides of the partition.
  returned: state=parsed
  type: list
  elements: list
actions:
  description: (parsed) the actions of the timeline, in time order.
  returned: state=parsed
  type: list
  elements: dict
influx:
  description: (log) the entries in InfluxDB line protocol (measurement C(network_events), database C(events)).
  returned: state=log
  type: list
  elements: str
entries:
  description: (timeline, log) the event log entries (event, op, what, asked_at, done_at, lag_ms, ok, error).
  returned: state in (timeline, log)
  type: list
  elements: dict
"""

import json
import socket
import subprocess
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.edge.enos.plugins.module_utils import netem as nm
from ansible_collections.edge.enos.plugins.module_utils import timeline as tl

ARGUMENT_SPEC = dict(
    state=dict(type="str", required=True,
               choices=["partitioned", "healed", "timeline", "log", "parsed"]),
    groups=dict(type="list", elements="list", default=[]),
    prefixes=dict(type="dict", default={}),
    placement=dict(type="str", choices=["node", "router"], default="router"),
    site=dict(type="str"),
    actions=dict(type="list", elements="dict", default=[]),
    start_at=dict(type="float"),
    log=dict(type="path", default="/tmp/enos-network-events.jsonl"),
    links=dict(type="list", elements="dict", default=[]),
    hosts=dict(type="dict", default={}),
    host=dict(type="str"),
    router_interfaces=dict(type="dict", default={}),
    networks=dict(type="list", elements="dict", default=[]),
    events=dict(type="list", elements="raw"),
    partition=dict(type="str"),
    file=dict(type="path"),
    sites=dict(type="list", elements="str", default=[]),
)


LATE_S = 0.5


def current_rules():
    """[(from or None, to)] of the cut rules in force (our preference only)."""
    proc = subprocess.run(["ip", "-j", "rule", "show", "pref", str(tl.RULE_PREF)],
                          capture_output=True, text=True, check=False)
    if proc.returncode:
        raise nm.NetemError("ip rule show failed: %s" % proc.stderr.strip())
    return [tl.rule_of(rule) for rule in json.loads(proc.stdout or "[]")]


def ip_batch(lines):
    """Run `ip` commands in one process; returns the error text ('' when all went well)."""
    if not lines:
        return ""
    proc = subprocess.run(["ip", "-force", "-batch", "-"], input="".join(
        " ".join(args) + "\n" for args in lines), capture_output=True, text=True, check=False)
    return proc.stderr.strip() if proc.returncode else ""


def converge(wanted):
    """Make the cut rules in force exactly `wanted`; returns (changed, commands)."""
    have = {tl.canon_rule(r) for r in current_rules()}
    want = {tl.canon_rule(r) for r in wanted}
    commands = [tl.rule_command("del", r) for r in sorted(have - want, key=str)]
    commands += [tl.rule_command("add", r) for r in sorted(want - have, key=str)]
    return commands


def _set_commands(p, action, links):
    """tc changes of a `set` action: the new links in force and the tc -batch lines."""
    new = [dict(l) for l in links]
    for src, dst in action["pairs"]:
        match = [l for l in new if (l["src"], l["dst"]) == (src, dst)]
        if not match:
            raise nm.NetemError("set %s->%s: the pair has no link in force; add a constraint "
                                "for it in the topology first" % (src, dst))
        match[0].update(action.get("link") or {}, origin="network_events line %s" % action.get("line"))
    kwargs = dict(placement=p["placement"], networks=p["networks"],
                  router_interfaces=p["router_interfaces"])
    old_plan = nm.compile_plan(links, p["hosts"], p["host"], **kwargs)
    new_plan = nm.compile_plan(new, p["hosts"], p["host"], **kwargs)
    return new, nm.change_batch(old_plan, new_plan)


def run_timeline(p):
    start = p["start_at"] or time.time()
    shifted = time.time() - start
    if shifted > LATE_S:
        # this host started after offset 0 (a busy or slow node): the timeline keeps its
        # shape from now on, and every entry says by how much it moved
        start += shifted + LATE_S
    else:
        shifted = 0.0
    links = nm.normalize_links(p["links"])
    host = p["host"] or socket.gethostname()
    entries = []
    shell = tl.RuleShell()
    with open(p["log"], "w") as log:          # one log per timeline run
        for action in sorted(p["actions"], key=lambda a: a["at"]):
            asked = start + float(action["at"])
            delay = asked - time.time()
            if delay > 0:
                time.sleep(delay)
            began = time.time()
            error = ""
            try:
                if action["op"] == "set":
                    links, lines = _set_commands(p, action, links)
                    if lines:
                        rc, out, err = nm.run_tc(["-force", "-batch", "-"], input_text="\n".join(lines) + "\n")
                        error = err.strip() if rc else ""
                else:
                    pairs = [tuple(x) for x in action["pairs"]]
                    rules = tl.rules(pairs, p["prefixes"], p["placement"], p["site"])
                    op = "add" if action["op"] == "cut" else "del"
                    in_force = shell.run([tl.rule_command(op, r) for r in rules])
                    wanted = {tl.canon_rule(r) for r in rules}
                    if (op == "add") != (wanted <= in_force) or (
                            op == "del" and wanted & in_force):
                        error = "the rules are not %s" % ("in place" if op == "add" else "gone")
            except nm.NetemError as exc:
                error = str(exc)
            entry = tl.log_entry(action, asked, began, time.time(), ok=not error,
                                 error=error or None, host=host)
            entry["shifted_s"] = round(shifted, 3)
            entries.append(entry)
            log.write(json.dumps(entry) + "\n")
            log.flush()
    shell.close()
    return entries


def read_log(path):
    try:
        with open(path) as handle:
            return [json.loads(line) for line in handle if line.strip()]
    except (IOError, OSError):
        return []


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True,
                           required_if=[("placement", "node", ("site",))])
    p = module.params
    try:
        if p["state"] == "parsed" and p["partition"] is not None:
            try:
                groups = tl.parse_partition(p["partition"], p["sites"])
            except ValueError as exc:
                module.fail_json(msg="partition %r: %s" % (p["partition"], " (".join(exc.args) + ")"))
            module.exit_json(changed=False, groups=groups)
        if p["state"] == "parsed":
            if p["file"]:
                actions = tl.load_file(p["file"], p["sites"])
            else:
                actions = tl.load(p["events"] or [], "network_events", p["sites"])
            module.exit_json(changed=False, actions=actions,
                             seconds=tl.timeline_seconds(actions))
        if p["state"] == "log":
            entries = read_log(p["log"])
            module.exit_json(changed=False, entries=entries, influx=tl.influx_lines(entries))
        if p["state"] == "timeline":
            if module.check_mode:
                module.exit_json(changed=False, entries=[])
            entries = run_timeline(p)
            failed = [e for e in entries if not e["ok"]]
            module.exit_json(changed=bool(entries), entries=entries, failed=bool(failed),
                             msg="; ".join("%s: %s" % (e["what"], e["error"]) for e in failed))
        wanted = []
        if p["state"] == "partitioned":
            pairs = tl.cut_pairs(p["groups"])
            wanted = tl.rules(pairs, p["prefixes"], p["placement"], p["site"])
        commands = converge(wanted)
        if commands and not module.check_mode:
            error = ip_batch(commands)
            if error:
                module.fail_json(msg="ip rule failed: %s" % error, commands=commands)
        module.exit_json(changed=bool(commands), commands=[" ".join(c) for c in commands],
                         rules=[list(r) for r in (wanted if not module.check_mode else current_rules())])
    except (nm.NetemError, tl.TimelineError, OSError) as exc:
        module.fail_json(msg=str(exc))


if __name__ == "__main__":
    main()
