#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: local_networks
short_description: Create or remove the Docker networks of a local testbed, all in one task
description:
  - Makes sure that every network of the list exists as a Docker bridge network with its subnet,
    gateway and labels (C(state=present)), or removes every network carrying the label
    C(label) (C(state=absent)).
  - One C(docker network ls) answers for all the networks, so a hundred sites cost a hundred
    C(docker network create) calls at the first run and none at the next ones.
  - A network that exists with another subnet is not touched and makes the module fail, naming
    it (remove it, or give the testbed another C(provider.subnet)).
version_added: "0.1.0"
author: edge.enos developers (@edge-enos)
options:
  networks:
    description: Networks wanted (C(state=present)).
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Network name.
        type: str
        required: true
      cidr:
        description: Its subnet.
        type: str
        required: true
      gateway:
        description: The bridge's address on it.
        type: str
        required: true
      labels:
        description: Labels of the network.
        type: dict
        default: {}
  state:
    description: C(present) creates the missing networks; C(absent) removes those labelled C(label).
    type: str
    choices: [present, absent]
    default: present
  label:
    description: C(key=value) label of the networks to remove (C(state=absent)).
    type: str
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  platform:
    platforms: posix
"""

EXAMPLES = r"""
- name: Create the site networks
  edge.enos.local_networks:
    networks:
      - {name: enos-3f2a-grp1, cidr: 10.201.1.0/24, gateway: 10.201.1.1,
         labels: {edge.enos.env: enos-3f2a, edge.enos.site: grp1}}

- name: Remove them
  edge.enos.local_networks:
    state: absent
    label: edge.enos.env=enos-3f2a
"""

RETURN = r"""
created:
  description: Networks created (C(state=present)).
  returned: always
  type: list
  elements: str
removed:
  description: Networks removed (C(state=absent)).
  returned: always
  type: list
  elements: str
"""

import json

from ansible.module_utils.basic import AnsibleModule


def docker(module, *args):
    rc, out, err = module.run_command(["docker"] + list(args))
    if rc:
        module.fail_json(msg="docker %s failed: %s" % (" ".join(args[:3]), err.strip()))
    return out


def subnets(module, names):
    """{name: [subnets]} of the existing networks among `names` (one inspect for all)."""
    existing = set(docker(module, "network", "ls", "--format", "{{.Name}}").split())
    wanted = [name for name in names if name in existing]
    if not wanted:
        return {}
    inspected = json.loads(docker(module, "network", "inspect", *wanted))
    return dict((net["Name"], [c.get("Subnet") for c in (net.get("IPAM") or {}).get("Config") or []])
                for net in inspected)


def present(module):
    networks = module.params["networks"]
    found = subnets(module, [net["name"] for net in networks])
    wrong = ["%s (has %s, wanted %s)" % (net["name"], ", ".join(found[net["name"]]) or "no subnet",
                                         net["cidr"])
             for net in networks if net["name"] in found and net["cidr"] not in found[net["name"]]]
    if wrong:
        module.fail_json(msg="Docker network(s) with these names exist with another subnet: %s; "
                             "remove them (docker network rm) or give the testbed another "
                             "provider.subnet" % "; ".join(wrong))
    missing = [net for net in networks if net["name"] not in found]
    if not module.check_mode:
        for net in missing:
            argv = ["network", "create", "--driver", "bridge", "--subnet", net["cidr"],
                    "--gateway", net["gateway"]]
            for key, value in sorted(net["labels"].items()):
                argv += ["--label", "%s=%s" % (key, value)]
            docker(module, *(argv + [net["name"]]))
    created = [net["name"] for net in missing]
    module.exit_json(changed=bool(created), created=created, removed=[],
                     diff=dict(before={"networks": sorted(found)},
                               after={"networks": sorted(set(found) | set(created))}))


def absent(module):
    if not module.params["label"]:
        module.fail_json(msg="state=absent needs label (key=value of the networks to remove)")
    names = docker(module, "network", "ls", "--format", "{{.Name}}",
                   "--filter", "label=%s" % module.params["label"]).split()
    if names and not module.check_mode:
        docker(module, *(["network", "rm"] + names))
    module.exit_json(changed=bool(names), created=[], removed=names,
                     diff=dict(before={"networks": names}, after={"networks": []}))


def main():
    module = AnsibleModule(
        argument_spec=dict(
            networks=dict(type="list", elements="dict", default=[], options=dict(
                name=dict(type="str", required=True),
                cidr=dict(type="str", required=True),
                gateway=dict(type="str", required=True),
                labels=dict(type="dict", default={}))),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            label=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    if module.params["state"] == "absent":
        absent(module)
    present(module)


if __name__ == "__main__":
    main()
