#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: bench_report
short_description: Write the summary of a bench run (Rally, iperf3, OSProfiler traces)
description:
  - Runs on the controller at the end of C(enos bench). Reads the run directory
    (C(plan.json), C(rally-tasks.json) and each task's Rally JSON report), and writes
    C(summary.json) (per scenario and atomic action the iterations, success rate and
    min/median/p90/p95/max durations; per iperf3 site pair the RTT and throughput) and
    C(conditions.json) (what the run ran under).
  - Draws every OSProfiler trace of the run (C(<task>/traces/<id>.json)) as a waterfall PNG and
    a per-service time table (C(<id>.png), C(<id>.txt)).
  - Returns the failed tasks (an SLA that did not hold, failed iterations, no result), each
    naming the scenario, so that the play can fail after every report is written.
version_added: "0.1.0"
author: edge.enos developers (@edge-enos)
options:
  run_dir:
    description: The run's directory (C(<env>/reports/bench/<run id>)).
    type: path
    required: true
  iperf3:
    description: "The iperf3 probes, C([{task, measurements}]) (measurements as returned by
      M(edge.enos.netem_measure) in probe mode)."
    type: list
    elements: dict
    default: []
  conditions:
    description: What the run ran under (topology, tc state, services, versions, times).
    type: dict
    default: {}
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: computes the summary and writes nothing.
  diff_mode:
    support: none
  platform:
    platforms: posix
"""

EXAMPLES = r"""
- name: Write the run's summary
  edge.enos.bench_report:
    run_dir: "{{ bench_run_dir }}"
    conditions: {started_at: "{{ _started }}"}
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
failures:
  description: One line per failed task, naming its scenario and the SLA or error.
  returned: always
  type: list
  elements: str
table:
  description: The summary as text lines.
  returned: always
  type: list
  elements: str
files:
  description: Files written.
  returned: always
  type: list
  elements: str
"""

import glob
import json
import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.edge.enos.plugins.module_utils import bench
from ansible_collections.edge.enos.plugins.module_utils import traces as tr


def _read_json(path):
    try:
        with open(path) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def draw_traces(run_dir):
    """<task>/traces/<id>.json -> <id>.png and <id>.txt; returns the files written."""
    written = []
    for path in sorted(glob.glob(os.path.join(run_dir, "*", "traces", "*.json"))):
        trace = _read_json(path)
        if not trace:
            continue
        span_list = tr.spans(trace)
        base = path[:-len(".json")]
        tr.draw_waterfall(span_list, base + ".png", title="trace %s" % os.path.basename(base))
        with open(base + ".txt", "w") as handle:
            handle.write(tr.service_table(span_list) + "\n")
        written += [base + ".png", base + ".txt"]
    return written


def main():
    module = AnsibleModule(argument_spec=dict(
        run_dir=dict(type="path", required=True),
        iperf3=dict(type="list", elements="dict", default=[]),
        conditions=dict(type="dict", default={}),
    ), supports_check_mode=True)
    run_dir = module.params["run_dir"]
    plan = _read_json(os.path.join(run_dir, "plan.json"))
    if plan is None:
        module.fail_json(msg="%s/plan.json is missing or not JSON: run `enos bench`, which "
                             "writes the plan" % run_dir)
    results = _read_json(os.path.join(run_dir, "rally-tasks.json")) or []
    reports = dict((t["id"], _read_json(os.path.join(run_dir, t["id"], "report.json")))
                   for t in plan["tasks"] if t["type"] == "rally")
    probes = {}
    for probe in module.params["iperf3"]:
        probes.setdefault(probe["task"], []).extend(probe.get("measurements") or [])
    summary = bench.build_summary(plan, results, reports, probes, module.params["conditions"])
    files = []
    if not module.check_mode:
        for name, data in (("summary.json", summary),
                           ("conditions.json", module.params["conditions"])):
            path = os.path.join(run_dir, name)
            with open(path, "w") as handle:
                json.dump(data, handle, indent=1, sort_keys=True)
            files.append(path)
        files += draw_traces(run_dir)
    module.exit_json(changed=bool(files), failures=bench.failures(summary),
                     table=bench.summary_table(summary).splitlines(), files=files)


if __name__ == "__main__":
    main()
