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
  - With O(nodes), many containers are handled in one task, several at a time (O(parallel)). The
    other options are shared by all, each entry of O(nodes) gives a node's own name, host name,
    networks, volumes, labels and routes.
  - Named volumes of a node are created with the node's labels, so that they are found (and
    removed) by label with the container.
version_added: "0.1.0"
author: edge.enos developers (@edge-enos)
options:
  name:
    description: Container name (one node; see O(nodes) for many).
    type: str
  nodes:
    description:
      - Many nodes at once. Each entry takes O(name) (required), O(hostname), O(etc_hosts),
        O(networks), O(volumes) and O(labels) (added to the shared ones) and O(routes).
    type: list
    elements: dict
  parallel:
    description: How many nodes are created, started and checked at the same time.
    type: int
    default: 8
  routes:
    description:
      - Routes set in the running container. They are written, with the node's interface names
        (C(eth0), C(eth1), ... after the addresses of O(networks)), in the node's
        C(/etc/edge-enos/network.sh), which the node image runs at every start (the engine
        attaches a restarted container's networks in no fixed order and without these routes)
        and every run of the module checks.
    type: list
    elements: dict
    default: []
    suboptions:
      cidr:
        description: Destination network.
        type: str
        required: true
      via:
        description: Gateway.
        type: str
        required: true
  ssh_key:
    description:
      - Private key of the environment. Its C(.pub) is written as root's C(authorized_keys) in
        the running container, and the module waits until root logs in with it over SSH at the
        node's first address (at most O(ssh_timeout) seconds).
    type: path
  ssh_timeout:
    description: Seconds to wait for a node's SSH with O(ssh_key).
    type: int
    default: 180
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
  etc_hosts:
    description:
      - A file of the controller bind-mounted as the node's C(/etc/hosts), written with the
        loopback entries when it does not exist. The engine rewrites the C(/etc/hosts) it
        manages whenever the container starts again (with the node's name on its first
        network's address); the containers of the node's own engine, started before anything
        can fix it, would copy that one. A file of ours keeps what was written in it.
    type: path
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
    etc_hosts: /home/me/enos/current/hosts/enos-3f2a-grp1-control-1
    volumes: [/sys/fs/cgroup:/sys/fs/cgroup:rw, enos-3f2a-grp1-control-1-docker:/var/lib/docker]
    tmpfs: [/run, /run/lock, /tmp]
    labels: {edge.enos.env: enos-3f2a}
"""

RETURN = r"""
action:
  description:
    - C(none), C(started), C(created), C(replaced), C(connected) (a network was missing), or
      C(removed) for state=absent.
  returned: one node
  type: str
  sample: created
id:
  description: Container id.
  returned: one node, when the container exists
  type: str
nodes:
  description:
    - Per node of O(nodes), its C(name), C(action), C(id) and what else C(changed) (C(key),
      C(network script), C(route <cidr>), C(interface <name> is now <name>)).
  returned: with O(nodes)
  type: list
  elements: dict
  sample: [{name: enos-3f2a-grp1-control-1, action: created, id: 4f1c..., changed: [key, network script, route 10.201.0.0/16]}]
"""

import hashlib
import json
import os
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

from ansible.module_utils.basic import AnsibleModule

SPEC_LABEL = "edge.enos.spec"
SPEC_KEYS = ("image", "hostname", "etc_hosts", "memory", "networks", "volumes", "tmpfs", "labels", "cap_add",
             "cap_drop", "security_opts", "devices", "device_cgroup_rules", "restart_policy")
NODE_KEYS = ("name", "hostname", "etc_hosts", "networks", "volumes", "labels", "routes")
SSH_OPTS = ["-o", "BatchMode=yes", "-o", "ConnectTimeout=5", "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"]
LOOPBACK_HOSTS = """127.0.0.1\tlocalhost
::1\tlocalhost ip6-localhost ip6-loopback
fe00::0\tip6-localnet
ff00::0\tip6-mcastprefix
ff02::1\tip6-allnodes
ff02::2\tip6-allrouters
"""
# The node's own /etc/edge-enos/network.sh, run at every start of the node (a unit of the node
# image) and by every run of this module. The engine attaches a restarted container's networks in
# no fixed order (eth0 and eth1 may swap) and without the routes set in it: interfaces are named
# again after their addresses (via temporary names, since two may swap), the routes through
# gateways that a rename took down are put back, then the node's routes are set.
# What it changed is said on lines "changed <what>".
NETWORK_SCRIPT = """#!/bin/sh
# Written by edge.enos (local_node): interface names and routes of this node.
set -eu
names="%(names)s"
routes="%(routes)s"
saved=$(ip -4 route show | sed -n 's/^\\(\\S*\\) via \\(\\S*\\) .*/\\1=\\2/p')
moved=""
i=0
for pair in $names; do
  want=${pair%%%%=*}; address=${pair#*=}
  have=$(ip -o -4 addr show to "$address/32" | awk '{print $2; exit}')
  if [ -n "$have" ] && [ "$have" != "$want" ]; then
    ip link set dev "$have" down
    ip link set dev "$have" name "edgeenos$i"
    moved="$moved edgeenos$i=$want"
    echo "changed interface $have is now $want"
  fi
  i=$((i + 1))
done
for pair in $moved; do
  ip link set dev "${pair%%%%=*}" name "${pair#*=}"
  ip link set dev "${pair#*=}" up
done
if [ -n "$moved" ]; then
  for route in $saved; do ip route replace "${route%%%%=*}" via "${route#*=}" 2>/dev/null || true; done
fi
for route in $routes; do
  cidr=${route%%%%=*}; via=${route#*=}
  if ! ip route show "$cidr" | grep -q "via $via "; then
    ip route replace "$cidr" via "$via"
    echo "changed route $cidr"
  fi
done
"""
NETWORK_SCRIPT_PATH = "/etc/edge-enos/network.sh"


class NodeError(Exception):
    pass


class Node(object):
    """One container; `p` holds the module's options with this node's own values."""

    def __init__(self, module, params):
        self.module = module
        self.p = params
        spec = dict((k, self.p[k]) for k in SPEC_KEYS)
        self.spec_hash = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]

    def docker(self, *args):
        rc, out, err = self.run(["docker"] + list(args))
        if rc:
            raise NodeError("%s: docker %s failed: %s" % (self.p["name"], " ".join(args[:3]),
                                                          err.strip()))
        return out

    @staticmethod
    def run(argv, timeout=None, stdin=None):
        try:
            proc = subprocess.run(argv, input=stdin, capture_output=True, text=True,
                                  timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            return 124, "", "timed out after %ss" % timeout
        return proc.returncode, proc.stdout, proc.stderr

    def inspect(self):
        rc, out, err = self.run(["docker", "container", "inspect", self.p["name"]])
        return json.loads(out)[0] if rc == 0 else None

    def create_volumes(self):
        for volume in self.p["volumes"]:
            source = volume.split(":", 1)[0]
            if "/" not in source:
                argv = ["volume", "create"]
                for key, value in sorted(self.p["labels"].items()):
                    argv += ["--label", "%s=%s" % (key, value)]
                self.docker(*(argv + [source]))

    def create(self):
        p = self.p
        self.create_volumes()
        argv = ["create", "--name", p["name"], "--label", "%s=%s" % (SPEC_LABEL, self.spec_hash),
                "--restart", p["restart_policy"]]
        if p["etc_hosts"]:
            if not os.path.exists(p["etc_hosts"]):
                os.makedirs(os.path.dirname(p["etc_hosts"]) or ".", exist_ok=True)
                with open(p["etc_hosts"], "w") as handle:
                    handle.write(LOOPBACK_HOSTS)
            argv += ["--volume", "%s:/etc/hosts" % p["etc_hosts"]]
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

    def ensure(self):
        """Bring the container to its wanted state; returns this node's result."""
        current = self.inspect()
        labels = ((current or {}).get("Config") or {}).get("Labels") or {}
        running = bool(current) and current["State"]["Running"]
        before = {"spec": labels.get(SPEC_LABEL), "running": running} if current else {}
        if self.p["state"] == "absent":
            action = "removed" if current else "none"
            if current and not self.module.check_mode:
                self.docker("rm", "-f", "-v", self.p["name"])
            return self.result(action, before, {})
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
        result = self.result(action, before, {"spec": self.spec_hash, "running": True})
        if not self.module.check_mode:
            result["changed"] = (["key"] if self.authorize() else []) + self.network()
            self.wait_ssh()
        return result

    def result(self, action, before, after):
        result = dict(name=self.p["name"], action=action, diff=dict(before=before, after=after))
        current = None if self.module.check_mode else self.inspect()
        if current:
            result["id"] = current["Id"]
        return result

    def authorize(self):
        """root's authorized_keys holds the environment's public key; True when it was written."""
        if not self.p["ssh_key"]:
            return False
        with open(self.p["ssh_key"] + ".pub") as handle:
            wanted = handle.read().strip() + "\n"
        rc, out, err = self.run(["docker", "exec", self.p["name"], "cat", "/root/.ssh/authorized_keys"])
        if rc == 0 and out == wanted:
            return False
        rc, out, err = self.run(["docker", "exec", "-i", self.p["name"], "sh", "-ec",
                                 "mkdir -p -m 0700 /root/.ssh; umask 077; "
                                 "cat > /root/.ssh/authorized_keys"], stdin=wanted)
        if rc:
            raise NodeError("%s: cannot write root's authorized_keys: %s" % (self.p["name"], err.strip()))
        return True

    def network_script(self):
        names = " ".join("eth%d=%s" % (index, net["ipv4_address"])
                         for index, net in enumerate(self.p["networks"]))
        routes = " ".join("%s=%s" % (route["cidr"], route["via"]) for route in self.p["routes"])
        return NETWORK_SCRIPT % {"names": names, "routes": routes}

    def network(self):
        """Interface names and routes as planned (a restart may have swapped or lost them), and
        the script that sets them again at the node's next start. Returns what changed."""
        changed = []
        if not self.p["networks"] and not self.p["routes"]:
            return changed
        script = self.network_script()
        rc, out, err = self.run(["docker", "exec", self.p["name"], "cat", NETWORK_SCRIPT_PATH])
        if rc or out != script:
            rc, out, err = self.run(["docker", "exec", "-i", self.p["name"], "sh", "-ec",
                                     "mkdir -p %s; cat > %s" % (os.path.dirname(NETWORK_SCRIPT_PATH),
                                                                NETWORK_SCRIPT_PATH)], stdin=script)
            if rc:
                raise NodeError("%s: cannot write %s: %s" % (self.p["name"], NETWORK_SCRIPT_PATH,
                                                             err.strip()))
            changed.append("network script")
        rc, out, err = self.run(["docker", "exec", self.p["name"], "sh", NETWORK_SCRIPT_PATH])
        if rc:
            raise NodeError("%s: cannot set its interface names and routes: %s"
                            % (self.p["name"], (err or out).strip()))
        return changed + [line[len("changed "):] for line in out.splitlines()
                          if line.startswith("changed ")]

    def wait_ssh(self):
        if not self.p["ssh_key"] or not self.p["networks"]:
            return
        address = self.p["networks"][0]["ipv4_address"]
        argv = ["ssh", "-i", self.p["ssh_key"]] + SSH_OPTS + ["root@%s" % address, "true"]
        deadline = time.time() + self.p["ssh_timeout"]
        while True:
            rc, out, err = self.run(argv, timeout=30)
            if rc == 0:
                return
            if time.time() > deadline:
                raise NodeError("%s does not answer SSH at root@%s with key %s after %ds (%s): "
                                "see `docker logs %s`" % (self.p["name"], address, self.p["ssh_key"],
                                                          self.p["ssh_timeout"], err.strip(),
                                                          self.p["name"]))
            time.sleep(1)


def node_params(params, entry):
    """The module's options with a node's own values (volumes and labels add to the shared ones)."""
    own = dict(params, nodes=None)
    for key in NODE_KEYS:
        if entry.get(key) is None:
            continue
        if key == "volumes":
            own[key] = list(params[key]) + list(entry[key])
        elif key == "labels":
            own[key] = dict(params[key], **entry[key])
        else:
            own[key] = entry[key]
    return own


def ensure_all(module):
    params = module.params
    entries = [{}] if params["nodes"] is None else params["nodes"]
    unknown = sorted(set(key for entry in entries for key in entry) - set(NODE_KEYS))
    if unknown:
        module.fail_json(msg="nodes: unknown key(s) %s (a node takes %s)"
                         % (", ".join(unknown), ", ".join(NODE_KEYS)))
    nodes = [Node(module, node_params(params, entry)) for entry in entries]
    unnamed = [index for index, node in enumerate(nodes) if not node.p["name"]]
    if unnamed:
        module.fail_json(msg="a node needs a name: give name, or a name in every entry of nodes "
                             "(entries %s have none)" % unnamed)
    if params["state"] == "started" and not params["image"]:
        module.fail_json(msg="image is required with state=started")

    def ensure(node):
        try:
            return node.ensure()
        except NodeError as exc:
            return {"name": node.p["name"], "action": "failed", "failed": str(exc)}

    with ThreadPoolExecutor(max_workers=max(1, params["parallel"])) as pool:
        results = list(pool.map(ensure, nodes))
    for result in results:
        result.setdefault("changed", [])
    changed = any(r["action"] != "none" or r["changed"] for r in results)
    failed = [r["failed"] for r in results if "failed" in r]
    if failed:
        module.fail_json(msg="; ".join(failed), nodes=results)
    if params["nodes"] is None:
        single = dict((k, v) for k, v in results[0].items() if k in ("action", "id", "diff"))
        module.exit_json(changed=changed, **single)
    module.exit_json(changed=changed, nodes=results,
                     diff=dict(before=dict((r["name"], r["diff"]["before"]) for r in results),
                               after=dict((r["name"], r["diff"]["after"]) for r in results)))


def main():
    network = dict(name=dict(type="str", required=True), ipv4_address=dict(type="str", required=True))
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type="str"),
            nodes=dict(type="list", elements="dict"),
            parallel=dict(type="int", default=8),
            state=dict(type="str", choices=["started", "absent"], default="started"),
            image=dict(type="str"),
            hostname=dict(type="str"),
            etc_hosts=dict(type="path"),
            memory=dict(type="str"),
            networks=dict(type="list", elements="dict", default=[], options=network),
            volumes=dict(type="list", elements="str", default=[]),
            tmpfs=dict(type="list", elements="str", default=[]),
            labels=dict(type="dict", default={}),
            routes=dict(type="list", elements="dict", default=[], options=dict(
                cidr=dict(type="str", required=True), via=dict(type="str", required=True))),
            ssh_key=dict(type="path", no_log=False),
            ssh_timeout=dict(type="int", default=180),
            cap_add=dict(type="list", elements="str", default=["ALL"]),
            cap_drop=dict(type="list", elements="str", default=["SYS_RESOURCE"]),
            security_opts=dict(type="list", elements="str",
                               default=["seccomp=unconfined", "apparmor=unconfined",
                                        "systempaths=unconfined"]),
            devices=dict(type="list", elements="str", default=[]),
            device_cgroup_rules=dict(type="list", elements="str", default=["a *:* rwm"]),
            restart_policy=dict(type="str", default="unless-stopped"),
        ),
        mutually_exclusive=[("name", "nodes")],
        required_one_of=[("name", "nodes")],
        supports_check_mode=True,
    )
    ensure_all(module)


if __name__ == "__main__":
    main()
