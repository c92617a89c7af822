# -*- coding: utf-8 -*-
# Copyright: edge.enos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: links
short_description: The WAN links leaving some sites, from the compact network constraints
version_added: 0.1.0
description:
  - Expands C(enos_network_constraints) (set on C(all) by the edge.enos.topology inventory)
    with EnOS's semantics into a list of links C({src, dst, delay_us, jitter_us, rate_bps,
    loss_pct, network, origin}).
  - Only the links leaving O(sources) are computed, so a node of a 1,000-site topology expands
    999 links, not a million.
options:
  _input:
    description: The compact network constraints (C(enos_network_constraints)).
    type: dict
    required: true
  sources:
    description: Source sites to expand (a name or a list). All sites when omitted.
    type: raw
"""

EXAMPLES = r"""
- name: Links leaving this node's site
  ansible.builtin.debug:
    msg: "{{ enos_network_constraints | edge.enos.links(sources=enos_site) }}"
"""

RETURN = r"""
_value:
  description: One dict per shaped ordered pair of sites.
  type: list
  elements: dict
"""

from ansible_collections.edge.enos.plugins.module_utils.topology import expand_links


def links(constraints, sources=None):
    if isinstance(sources, str):
        sources = [sources]
    return [dict(src=src, dst=dst, **link.as_dict())
            for (src, dst), link in expand_links(constraints, sources).items()]


class FilterModule(object):
    def filters(self):
        return {"links": links}
