# -*- coding: utf-8 -*-
# Copyright: edge.enos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: rally_trace_ids
short_description: The OSProfiler trace ids that Rally recorded in its JSON report
version_added: 0.1.0
description:
  - Rally starts one OSProfiler trace per iteration when its environment has the HMAC key, and
    records its id in the iteration's output (chart plugin C(OSProfiler)). This filter lists them.
options:
  _input:
    description: Rally's JSON report (C(rally task report --json)), parsed.
    type: dict
    required: true
  limit:
    description: At most this many ids (all when omitted).
    type: int
"""

EXAMPLES = r"""
- name: Trace ids of a task
  ansible.builtin.debug:
    msg: "{{ lookup('ansible.builtin.file', 'report.json') | from_json | edge.enos.rally_trace_ids(5) }}"
"""

RETURN = r"""
_value:
  description: Trace ids, in the order of the iterations.
  type: list
  elements: str
"""

from ansible_collections.edge.enos.plugins.module_utils.bench import trace_ids


def rally_trace_ids(report, limit=None):
    return trace_ids(report or {}, limit)


class FilterModule(object):
    def filters(self):
        return {"rally_trace_ids": rally_trace_ids}
