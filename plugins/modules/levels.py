#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: levels
short_description: Plan the edge requirement levels run, and turn its records into the table
description:
  - O(mode=plan) chooses, from the inventory's hosts, a client and an application node per site,
    the availability zones (sites with compute nodes), the control sites, and the scenarios
    (the deployment as it stands, then each partition) with the suites each client runs.
  - >-
    O(mode=report) reads the probe records kept in O(records_dir) (one JSON document per probe
    run) and writes C(levels.json) and C(levels.md) into O(dest): rows L1, L2.1, L2.2, L3.1,
    L3.2 (L4, L5 marked out of reach of one deployment), columns admin, DevOps, both, each
    cell the share of operations that worked and the failures that explain it, overall, per
    site and per partition; and the servers asked for during partitions with their final state.
  - Runs on the controller; changes nothing in O(mode=plan).
version_added: "0.1.0"
author: edge.enos developers (@edge-enos)
options:
  mode:
    description: What to do.
    type: str
    choices: [plan, report]
    required: true
  hosts:
    description: "For O(mode=plan), C({name: {site, roles, address}}) of the nodes."
    type: dict
    default: {}
  partitions:
    description:
      - For O(mode=plan), the partitions, in the syntax of C(enos tc --partition)
        (C(grp3), C(grp[2-3]), C(grp1/grp2/grp3)).
      - Omitted, each site in turn, then (three sites or more) every site on its own.
    type: list
    elements: str
  clients:
    description: "For O(mode=plan), C({site: host}) to choose a site's client."
    type: dict
    default: {}
  run_id:
    description: Id of the run, in the name of every resource it makes (default the time).
    type: str
  plan:
    description: For O(mode=report), the plan O(mode=plan) returned.
    type: dict
  records_dir:
    description: For O(mode=report), the directory of the probes' JSON documents.
    type: path
  dest:
    description: For O(mode=report), where to write C(levels.json) and C(levels.md).
    type: path
  metric_source:
    description: For O(mode=report), where the metric queries read from.
    type: str
notes:
  - The JSON schema of C(levels.json) is in the collection's docs/levels.md.
seealso:
  - module: edge.enos.netem
"""

EXAMPLES = r"""
- name: Plan the run
  edge.enos.levels:
    mode: plan
    hosts:
      grp1-control-1: {site: grp1, roles: [control], address: 10.195.1.2}
      grp2-compute-1: {site: grp2, roles: [compute], address: 10.195.2.2}
      grp3-compute-1: {site: grp3, roles: [compute], address: 10.195.3.2}
    partitions: [grp3]
  register: levels_plan

- name: Write the table
  edge.enos.levels:
    mode: report
    plan: "{{ levels_plan.plan }}"
    records_dir: /tmp/env/reports/levels
    dest: /tmp/env/reports
"""

RETURN = r"""
plan:
  description:
    - O(mode=plan) the sites, zones, control_sites, clients, apps, converge_client and
      scenarios (name, slug, partition, groups, suites per site).
  returned: mode=plan
  type: dict
table:
  description: O(mode=report) the study's table (row -> actor -> {all, per_site} cells).
  returned: mode=report
  type: dict
files:
  description: O(mode=report) the files written.
  returned: mode=report
  type: list
  elements: str
"""

import glob
import json
import os
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.edge.enos.plugins.module_utils import levels


def _parse_partition():
    try:
        from ansible_collections.edge.enos.plugins.module_utils.timeline import parse_partition
    except ImportError:
        return None
    return parse_partition


def report(module):
    plan = module.params["plan"] or {}
    records, notes = [], []
    for path in sorted(glob.glob(os.path.join(module.params["records_dir"], "*.json"))):
        with open(path) as handle:
            document = json.load(handle)
        records += document.get("records", [])
        notes += document.get("notes", [])
    result = levels.aggregate(records, plan.get("sites", []), plan.get("partitions", []),
                              zones=plan.get("zones"), control_sites=plan.get("control_sites"),
                              metric_source=module.params["metric_source"],
                              notes=sorted(set(notes)))
    texts = {"levels.json": json.dumps(result, indent=2, sort_keys=True) + "\n",
             "levels.md": levels.levels_markdown(result)}
    changed, files = False, []
    for name, text in texts.items():
        path = os.path.join(module.params["dest"], name)
        files.append(path)
        old = None
        if os.path.exists(path):
            with open(path) as handle:
                old = handle.read()
        if old == text:
            continue
        changed = True
        if not module.check_mode:
            os.makedirs(module.params["dest"], exist_ok=True)
            with open(path, "w") as handle:
                handle.write(text)
    return changed, result, files


def main():
    module = AnsibleModule(
        argument_spec=dict(
            mode=dict(type="str", required=True, choices=["plan", "report"]),
            hosts=dict(type="dict", default={}),
            partitions=dict(type="list", elements="str"),
            clients=dict(type="dict", default={}),
            run_id=dict(type="str"),
            plan=dict(type="dict"),
            records_dir=dict(type="path"),
            dest=dict(type="path"),
            metric_source=dict(type="str"),
        ),
        required_if=[("mode", "report", ("plan", "records_dir", "dest"))],
        supports_check_mode=True,
    )
    try:
        if module.params["mode"] == "plan":
            parse_partition = _parse_partition()
            if parse_partition is None and module.params["partitions"] != []:
                module.fail_json(msg="partitions need edge.enos's partition support "
                                     "(plugins/module_utils/timeline.py, `enos tc --partition`), "
                                     "missing from this collection: set levels_partitions: [] "
                                     "to measure L1 and L2 only")
            plan = levels.plan(module.params["hosts"], module.params["partitions"],
                               parse_partition, module.params["clients"],
                               module.params["run_id"] or time.strftime("%Y%m%d%H%M%S"))
            module.exit_json(changed=False, plan=plan)
        changed, result, files = report(module)
        module.exit_json(changed=changed, table=result["table"], files=files)
    except (levels.LevelsError, OSError, ValueError) as exc:
        module.fail_json(msg=str(exc))


if __name__ == "__main__":
    main()
