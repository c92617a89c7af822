#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: local_node
short_description: Run a node container of the local testbed (systemd, sshd, nested Docker)
description:
  - Creates and starts a container that behaves as a machine, with systemd as PID 1, its own
    Docker engine, full C(/proc/sys) and C(/sys). The last needs Docker's
    C(systempaths=unconfined), which the Docker API only offers as empty C(MaskedPaths) and
    C(ReadonlyPaths) and community.docker's docker_container does not expose, so this module
    drives the C(docker) CLI.
  - The wanted configuration is hashed into the C(edge.enos.spec) label. A container with the
    same hash is left alone (started if stopped); a missing container is created, a different
    one is replaced.
version_added: "0.1.0"
author: edge.enos developers (@edge-enos)
options:
  name:
    description: Container name.
    type: str
    required: true
  state:
    description: C(started) or C(absent).
    type: str
    choices: [started, absent]
    default: started
  image:
    description: Image (systemd as its command).
    type: str
  hostname:
    description: Host name inside the container.
    type: str
  memory:
    description: Memory limit (C(2g)).
    type: str
  networks:
    description: Networks in interface order (C(eth0) first), each with its fixed address.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Docker network.
        type: str
        required: true
      ipv4_address:
        description: Address on it.
        type: str
        required: true
  volumes:
    description: C(source:target[:mode]) bind mounts or named volumes.
    type: list
    elements: str
    default: []
  tmpfs:
    description: Paths mounted as tmpfs.
    type: list
    elements: str
    default: []
  labels:
    description: Labels.
    type: dict
    default: {}
  cap_add:
    description: Capabilities added.
    type: list
    elements: str
    default: [ALL]
  cap_drop:
    description: Capabilities dropped (those the host kernel does not grant).
    type: list
    elements: str
    default: [SYS_RESOURCE]
  security_opts:
    description: C(--security-opt) values.
    type: list
    elements: str
    default: [seccomp=unconfined, apparmor=unconfined, systempaths=unconfined]
  devices:
    description:
      - Host devices given to the node (C(--device)), e.g. C(/dev/net/tun) for Open vSwitch's
        userspace datapath and VPN-like services.
    type: list
    elements: str
    default: []
  device_cgroup_rules:
    description: C(--device-cgroup-rule) values.
    type: list
    elements: str
    default: ["a *:* rwm"]
  restart_policy:
    description: Docker restart policy.
    type: str
    default: unless-stopped
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
- name: Run a node
  edge.enos.local_node:
    name: enos-3f2a-grp1-control-1
    hostname: grp1-control-1
    image: edge-enos/node:bookworm
    memory: 2g
    networks:
      - {name: enos-3f2a-grp1, ipv4_address: 10.201.1.10}
      - {name: enos-3f2a-ext, ipv4_address: 10.201.0.10}
    volumes: [/sys/fs/cgroup:/sys/fs/cgroup:rw, enos-3f2a-grp1-control-1-docker:/var/lib/docker]
    tmpfs: [/run, /run/lock, /tmp]
    labels: {edge.enos.env: enos-3f2a}
"""

RETURN = r"""
action:
  description:
    - C(none), C(started), C(created), C(replaced), C(connected) (a network was missing), or
      C(removed) for state=absent.
  returned: always
  type: str
  sample: created
id:
  description: Container id.
  returned: when the container exists
  type: str
"""

import hashlib
import json

from ansible.module_utils.basic import AnsibleModule

SPEC_LABEL = "edge.enos.spec"
SPEC_KEYS = ("image", "hostname", "memory", "networks", "volumes", "tmpfs", "labels", "cap_add",
             "cap_drop", "security_opts", "devices", "device_cgroup_rules", "restart_policy")


class Node(object):
    def __init__(self, module):
        self.module = module
        self.p = module.params
        spec = dict((k, self.p[k]) for k in SPEC_KEYS)
        self.spec_hash = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]

    def docker(self, *args):
        rc, out, err = self.module.run_command(["docker"] + list(args))
        if rc:
            self.module.fail_json(msg="docker %s failed: %s" % (" ".join(args[:3]), err.strip()))
        return out

    def inspect(self):
        rc, out, err = self.module.run_command(["docker", "container", "inspect", self.p["name"]])
        return json.loads(out)[0] if rc == 0 else None

    def create(self):
        p = self.p
        argv = ["create", "--name", p["name"], "--label", "%s=%s" % (SPEC_LABEL, self.spec_hash),
                "--restart", p["restart_policy"]]
        for flag, key in (("--hostname", "hostname"), ("--memory", "memory")):
            if p[key]:
                argv += [flag, p[key]]
        for flag, key in (("--cap-add", "cap_add"), ("--cap-drop", "cap_drop"),
                          ("--security-opt", "security_opts"), ("--tmpfs", "tmpfs"), ("--device", "devices"),
                          ("--device-cgroup-rule", "device_cgroup_rules"), ("--volume", "volumes")):
            for value in p[key]:
                argv += [flag, value]
        for key, value in sorted(p["labels"].items()):
            argv += ["--label", "%s=%s" % (key, value)]
        if p["networks"]:
            first = p["networks"][0]
            argv += ["--network", first["name"], "--ip", first["ipv4_address"]]
        self.docker(*(argv + [p["image"]]))

    def connect(self, current):
        """Connect the other networks once the container runs: Docker attaches the networks of
        a starting container in no fixed order, one by one they become eth1, eth2, ..."""
        attached = ((current or {}).get("NetworkSettings") or {}).get("Networks") or {}
        missing = [net for net in self.p["networks"][1:] if net["name"] not in attached]
        if not self.module.check_mode:
            for net in missing:
                self.docker("network", "connect", "--ip", net["ipv4_address"], net["name"],
                            self.p["name"])
        return missing

    def run(self):
        current = self.inspect()
        labels = ((current or {}).get("Config") or {}).get("Labels") or {}
        running = bool(current) and current["State"]["Running"]
        before = {"spec": labels.get(SPEC_LABEL), "running": running} if current else {}
        if self.p["state"] == "absent":
            action = "removed" if current else "none"
            if current and not self.module.check_mode:
                self.docker("rm", "-f", "-v", self.p["name"])
            return self.exit(action, before, {})
        if not self.p["image"]:
            self.module.fail_json(msg="image is required with state=started")
        if not current:
            action = "created"
        elif labels.get(SPEC_LABEL) != self.spec_hash:
            action = "replaced"
        elif not running:
            action = "started"
        else:
            action = "none"
        if not self.module.check_mode:
            if action == "replaced":
                self.docker("rm", "-f", self.p["name"])
            if action in ("created", "replaced"):
                self.create()
            if action != "none":
                self.docker("start", self.p["name"])
                current = self.inspect()
        if self.connect(None if action in ("created", "replaced") else current) and action == "none":
            action = "connected"
        return self.exit(action, before, {"spec": self.spec_hash, "running": True})

    def exit(self, action, before, after):
        result = dict(changed=action != "none", action=action,
                      diff=dict(before=before, after=after))
        current = None if self.module.check_mode else self.inspect()
        if current:
            result["id"] = current["Id"]
        self.module.exit_json(**result)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            state=dict(type="str", choices=["started", "absent"], default="started"),
            image=dict(type="str"),
            hostname=dict(type="str"),
            memory=dict(type="str"),
            networks=dict(type="list", elements="dict", default=[], options=dict(
                name=dict(type="str", required=True),
                ipv4_address=dict(type="str", required=True))),
            volumes=dict(type="list", elements="str", default=[]),
            tmpfs=dict(type="list", elements="str", default=[]),
            labels=dict(type="dict", default={}),
            cap_add=dict(type="list", elements="str", default=["ALL"]),
            cap_drop=dict(type="list", elements="str", default=["SYS_RESOURCE"]),
            security_opts=dict(type="list", elements="str",
                               default=["seccomp=unconfined", "apparmor=unconfined",
                                        "systempaths=unconfined"]),
            devices=dict(type="list", elements="str", default=[]),
            device_cgroup_rules=dict(type="list", elements="str", default=["a *:* rwm"]),
            restart_policy=dict(type="str", default="unless-stopped"),
        ),
        supports_check_mode=True,
    )
    Node(module).run()


if __name__ == "__main__":
    main()
