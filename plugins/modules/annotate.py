#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: annotate
short_description: Mark an event (a Rally task, a playbook) on the experiment's timeline
description:
  - Runs on the controller. Appends the event to C(<env>/reports/events.jsonl) and, when the
    environment runs monitoring (C(reports/monitoring.json)), writes it to InfluxDB's C(events)
    database in EnOS's layout (measurement C(events), fields C(title), C(text), C(tags), C(type)),
    so that graphs and C(enos report) show what ran when.
  - "An InfluxDB that does not answer is reported in RV(warning), not as a failure: the event is kept in the journal."
version_added: "0.1.0"
author: edge.enos developers (@edge-enos)
options:
  env_dir:
    description: The environment directory.
    type: path
    required: true
  title:
    description: Short title, e.g. C(rally task start).
    type: str
    required: true
  text:
    description: Details (task id, scenario).
    type: str
    default: ""
  tags:
    description: Tags.
    type: list
    elements: str
    default: []
  kind:
    description: The event's C(type) field.
    type: str
    default: enos
notes:
  - In check mode nothing is written.
"""

EXAMPLES = r"""
- name: Mark the start of a Rally task
  edge.enos.annotate:
    env_dir: "{{ enos_env_dir }}"
    title: rally task start
    text: "{{ task_uuid }}"
    tags: [bench, rally]
    kind: rally
"""

RETURN = r"""
warning:
  description: Why InfluxDB did not take the event, or null.
  type: str
  returned: always
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.edge.enos.plugins.module_utils.annotations import annotate


def main():
    module = AnsibleModule(argument_spec=dict(
        env_dir=dict(type="path", required=True), title=dict(type="str", required=True),
        text=dict(type="str", default=""), tags=dict(type="list", elements="str", default=[]),
        kind=dict(type="str", default="enos")), supports_check_mode=True)
    p = module.params
    if module.check_mode:
        module.exit_json(changed=True, warning=None)
    problem = annotate(p["env_dir"], p["title"], p["text"], p["tags"], p["kind"])
    if problem:
        module.warn(problem)
    module.exit_json(changed=True, warning=problem)


if __name__ == "__main__":
    main()
