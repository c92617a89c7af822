#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: netem
short_description: Shape the WAN links between sites with tc (HTB + netem + u32)
description:
  - Compiles the links between sites (EnOS network constraints, already resolved by the topology
    model) and the node addresses into the tc tree of this shaping point, and applies it in one
    C(tc -batch) transaction.
  - Placement C(node) shapes this node's egress toward the other sites (testbeds, as EnOS does);
    placement C(router) shapes the WAN router's interface toward each destination site, one class
    per source site.
  - Reads the current tree with C(tc -j) and changes nothing when it already matches; a second
    run reports C(changed=false) and keeps the queues and their statistics.
  - Before any change it checks that the kernel has sch_netem (delay, jitter, loss), sch_htb and
    cls_u32; O(state=checked) only reports this, so a play can check every node first.
  - O(state=absent) removes only the tree this module installed (root qdisc handle C(e05:)).
version_added: "0.1.0"
author: edge.enos developers (@edge-enos)
options:
  state:
    description:
      - C(present) applies the plan, C(absent) removes it, C(checked) reports what the kernel
        cannot honour and changes nothing.
    type: str
    choices: [present, absent, checked]
    default: present
  links:
    description: Links between sites, as the inventory's C(enos_links) (src, dst, delay_us,
      jitter_us, rate_bps, loss_pct, network, origin).
    type: list
    elements: dict
    default: []
  hosts:
    description:
      - "Every node as C({name: {site, interfaces}}), interfaces as the host var
        C(enos_interfaces) (C({role: {device, address, address6}})). Needed for placement C(node)."
    type: dict
    default: {}
  host:
    description: This node's name in O(hosts) (placement C(node)); usually C(inventory_hostname).
    type: str
  placement:
    description: Where the links are shaped.
    type: str
    choices: [node, router]
    default: node
  router_interfaces:
    description: "The router's interfaces C({site: {device, address, cidr, cidr6}}) (placement C(router))."
    type: dict
    default: {}
  networks:
    description:
      - The environment's networks (C(enos_networks)); a network that belongs to one site lets
        the node match the whole site subnet instead of each address.
    type: list
    elements: dict
    default: []
  default_network:
    description: Network role shaped by links without C(network).
    type: str
    default: network_interface
  devices:
    description: For O(state=absent) on a node without links, the devices to clean (default every device with our tree).
    type: list
    elements: str
    default: []
  rate_only:
    description:
      - On kernels without sch_netem, apply the rate limits anyway and report delay, jitter and
        loss as not applied (instead of failing).
    type: bool
    default: false
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  idempotent:
    description: A second run with the same arguments reports no change.
    support: full
  platform:
    platforms: linux
"""

EXAMPLES = r"""
- name: Shape this node's egress toward the other sites
  edge.enos.netem:
    links: "{{ enos_links }}"
    hosts: "{{ _netem_hosts }}"
    host: "{{ inventory_hostname }}"

- name: Shape on the WAN router, one class per source site on each site interface
  edge.enos.netem:
    placement: router
    links: "{{ enos_links }}"
    router_interfaces: "{{ enos_router_interfaces }}"

- name: Remove what was installed
  edge.enos.netem:
    state: absent
"""

RETURN = r"""
capabilities:
  description: What the kernel can do.
  returned: always
  type: dict
  sample: {kernel: 6.1.0-18-amd64, netem: true, htb: true, u32: true}
unsatisfiable:
  description: Constraints this kernel cannot honour (empty when all can be applied).
  returned: always
  type: list
  elements: str
not_applied:
  description: With rate_only, the delay/jitter/loss that were not applied.
  returned: always
  type: list
  elements: str
devices:
  description: Per shaped device, its classes (classid, peer site, delay_us, jitter_us, rate_bps, loss_pct, limit) and its number of tc objects.
  returned: always
  type: dict
commands:
  description: The tc -batch lines run (or that would run in check mode).
  returned: always
  type: list
  elements: str
skipped:
  description: Links that have nothing to shape here, with the reason.
  returned: always
  type: list
  elements: str
"""

import os
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.edge.enos.plugins.module_utils import netem as nm

ARGUMENT_SPEC = dict(
    state=dict(type="str", choices=["present", "absent", "checked"], default="present"),
    links=dict(type="list", elements="dict", default=[]),
    hosts=dict(type="dict", default={}),
    host=dict(type="str"),
    placement=dict(type="str", choices=["node", "router"], default="node"),
    router_interfaces=dict(type="dict", default={}),
    networks=dict(type="list", elements="dict", default=[]),
    default_network=dict(type="str", default=nm.DEFAULT_NETWORK),
    devices=dict(type="list", elements="str", default=[]),
    rate_only=dict(type="bool", default=False),
)


def _batch(lines, tc):
    """Run lines in one tc -batch; returns (ok, error text)."""
    fd, path = tempfile.mkstemp(prefix="enos-netem-", suffix=".tc")
    try:
        with os.fdopen(fd, "w") as f:
            f.write("\n".join(lines) + "\n")
        rc, out, err = tc(["-batch", path])
        return rc == 0, (err or out).strip()
    finally:
        os.unlink(path)


def _summary(plan):
    out = {}
    for device, dev in plan["devices"].items():
        out[device] = {
            "match": dev["match"], "objects": nm.count_objects({"devices": {device: dev}}),
            "classes": [{k: c[k] for k in ("classid", "peer", "delay_us", "jitter_us",
                                           "rate_bps", "loss_pct", "limit", "origins")}
                        for c in dev["classes"]]}
    return out


def run(params, check_mode=False, diff=False, tc=nm.run_tc, caps=None):
    """The module's work, without AnsibleModule: returns the result dict.

    Raises nm.NetemError on a failure (nothing changed unless the message says so)."""
    p = dict((k, v["default"] if "default" in v else None) for k, v in ARGUMENT_SPEC.items())
    p.update({k: v for k, v in params.items() if v is not None})
    result = {"changed": False, "commands": [], "unsatisfiable": [], "not_applied": [],
              "skipped": [], "devices": {}}

    if p["state"] == "absent" and not p["links"]:
        plan = {"devices": {d: {"match": "dst", "classes": []} for d in p["devices"] or _all_devices()}}
    else:
        if p["placement"] == "node" and not p["host"]:
            raise nm.NetemError("host is required with placement=node (use inventory_hostname)")
        plan = nm.compile_plan(p["links"], p["hosts"], p["host"], placement=p["placement"],
                               networks=p["networks"], router_interfaces=p["router_interfaces"],
                               default_network=p["default_network"])
        result["skipped"] = plan["skipped"]
        caps = caps or nm.kernel_capabilities()
        result["capabilities"] = caps
        missing = nm.unsatisfiable(plan, caps)
        result["unsatisfiable"] = missing
        if p["state"] == "checked":
            result["devices"] = _summary(plan)
            return result
        if p["state"] == "present" and missing:
            if p["rate_only"] and caps.get("htb") and caps.get("u32"):
                plan, result["not_applied"] = nm.restrict_rate_only(plan)
            else:
                raise nm.NetemError(
                    "kernel %s of %s cannot honour: %s. Nothing was changed. Use a kernel with "
                    "sch_netem (every mainstream distribution has it), or set rate_only=true to "
                    "apply the rate limits alone." % (caps["kernel"], p["host"] or "the router",
                                                      "; ".join(missing)))
        result["devices"] = _summary(plan)

    lines, before, after = [], [], []
    for device in sorted(set(plan["devices"]) | set(p["devices"])):
        kind, current = nm.read_state(device, tc=tc)
        desired = nm.desired_state(plan, device) if p["state"] == "present" else None
        if kind == "foreign":
            if p["state"] == "absent":
                continue
            raise nm.NetemError(
                "device %s already has a root qdisc %s that edge.enos.netem did not install; "
                "nothing was changed. Remove it (tc qdisc del dev %s root) and run again."
                % (device, current["root"], device))
        if nm.same_state(current, desired):
            continue
        before.append("# %s\n%s" % (device, nm.state_text(current)))
        after.append("# %s\n%s" % (device, nm.state_text(desired)))
        if current is not None:
            lines.append("qdisc del dev %s root" % device)
        if desired is not None:
            lines.extend(nm.render_batch({"devices": {device: plan["devices"][device]}}))
    result["commands"] = lines
    result["changed"] = bool(lines)
    if diff:
        result["diff"] = {"before": "".join(before), "after": "".join(after)}
    if lines and not check_mode:
        ok, err = _batch(lines, tc)
        if not ok:
            # leave no half-built tree behind
            _batch(["qdisc del dev %s root" % d for d in plan["devices"]], tc)
            raise nm.NetemError("tc -batch failed: %s (the trees of %s were removed)"
                                % (err, ", ".join(sorted(plan["devices"]))))
    return result


def _all_devices():
    try:
        return sorted(os.listdir("/sys/class/net"))
    except OSError:
        return []


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    try:
        result = run(module.params, check_mode=module.check_mode, diff=module._diff)
    except nm.NetemError as exc:
        module.fail_json(msg=str(exc))
    warnings = ["not applied (rate_only): %s" % x for x in result["not_applied"]]
    if result["unsatisfiable"] and module.params["state"] == "checked":
        warnings.append("this kernel cannot honour: %s" % "; ".join(result["unsatisfiable"]))
    for w in warnings:
        module.warn(w)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
