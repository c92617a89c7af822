#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: local_router
short_description: Run the WAN router of a local testbed (user-mode-linux kernel or netns)
description:
  - Joins the Docker networks of a local testbed's sites through one router, where WAN
    constraints are applied. Each site network gets a veth pair whose host end is plugged into
    the network's bridge; the router takes the other end and the site's gateway address.
  - The router is a user-mode-linux kernel (vector C(raw) transport on the veth ends, the
    controller's root filesystem through hostfs) where the controller's kernel has no
    C(sch_netem), else a network namespace on the controller.
  - One more veth pair is a management link on which the router runs C(sshd) (the controller's
    binary) authorizing the environment's key, so that Ansible reaches it as a host.
  - Idempotent. A router that is gone, or whose interfaces changed, is (re)started and the
    module says so in C(msg).
version_added: "0.1.0"
author: edge.enos developers (@edge-enos)
options:
  name:
    description: Name of the router (UML umid, or network namespace name).
    type: str
    required: true
  state:
    description: C(present) runs the router, C(absent) stops it and removes its veth pairs.
    type: str
    choices: [present, absent]
    default: present
  kind:
    description: C(auto) uses a network namespace when the controller's kernel has sch_netem.
    type: str
    choices: [auto, uml, netns]
    default: auto
  state_dir:
    description: Directory of the router's files (init script, sshd config and host key, logs).
    type: path
    required: true
  interfaces:
    description: One entry per site network, in a stable order.
    type: list
    elements: dict
    default: []
    suboptions:
      site:
        description: Site name.
        type: str
        required: true
      network:
        description: Docker network of the site (its bridge gets the host end).
        type: str
        required: true
      address:
        description: The router's address on the site network.
        type: str
        required: true
      cidr:
        description: The site network.
        type: str
        required: true
      veth_host:
        description: Name of the host end (plugged into the bridge).
        type: str
        required: true
      veth_router:
        description: Name of the router's end.
        type: str
        required: true
  mgmt:
    description: Management link.
    type: dict
    suboptions:
      host_address:
        description: Controller's address with prefix length (C(10.199.0.1/30)).
        type: str
        required: true
      router_address:
        description: Router's address (sshd listens there).
        type: str
        required: true
      prefixlen:
        description: Prefix length of the link.
        type: int
        default: 30
      veth_host:
        description: Host end name.
        type: str
        required: true
      veth_router:
        description: Router end name.
        type: str
        required: true
  authorized_key:
    description: Public key file authorized for root on the router.
    type: path
  memory:
    description: Memory of the UML kernel.
    type: str
    default: 256m
  kernel:
    description: The user-mode-linux kernel.
    type: path
    default: /usr/bin/linux.uml
  timeout:
    description: Seconds to wait for the router's sshd.
    type: int
    default: 60
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    platforms: posix
"""

EXAMPLES = r"""
- name: Run the WAN router
  edge.enos.local_router:
    name: enos-3f2a-wan
    state_dir: /srv/env/router
    interfaces:
      - {site: grp1, network: enos-3f2a-grp1, address: 10.201.1.254, cidr: 10.201.1.0/24,
         veth_host: e3f2a91h0, veth_router: e3f2a91r0}
    mgmt: {host_address: 10.199.0.1/30, router_address: 10.199.0.2,
           veth_host: e3f2a91hm, veth_router: e3f2a91rm}
    authorized_key: /srv/env/id_ed25519.pub

- name: Remove it
  edge.enos.local_router:
    name: enos-3f2a-wan
    state_dir: /srv/env/router
    state: absent
"""

RETURN = r"""
router:
  description: The router as recorded in resources.json.
  returned: state=present
  type: dict
  sample:
    kind: uml
    name: enos-3f2a-wan
    pid: 1234
    interfaces: {grp1: {device: vec0, address: 10.201.1.254, cidr: 10.201.1.0/24}}
    ssh: {address: 10.199.0.2, user: root}
msg:
  description: What was done, e.g. C(restarted, it was gone) when the router had to be started again.
  returned: always
  type: str
"""

import json
import os
import signal
import socket
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.edge.enos.plugins.module_utils.local_uml import (
    COMMAND_LINE_BUDGET, kernel_env_args, mconsole, shell_exports, spawn, sshd_setenv)

INIT = """#!/bin/sh
# WAN router of a local edge.enos testbed: PID 1 of a user-mode-linux kernel.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
%(exports)s
mount -t proc proc /proc; mount -t sysfs sys /sys
mount -t tmpfs tmpfs /run
mkdir -p /run/sshd /run/netns /dev/shm /dev/pts /lib/modules
mount -t tmpfs tmpfs /dev/shm; mount -t devpts devpts /dev/pts
mount --bind /usr/lib/uml/modules /lib/modules
for m in sch_netem sch_htb sch_tbf cls_u32 ifb; do modprobe $m; done
ip link set lo up
# interfaces beyond the command line's room are plugged in later through the mconsole
wait_dev() { i=0; while [ ! -e /sys/class/net/$1 ] && [ $i -lt 1200 ]; do sleep 0.1; i=$((i+1)); done; }
%(links)s
sysctl -q -w net.ipv4.ip_forward=1
/usr/sbin/sshd -f %(state_dir)s/sshd_config -E %(state_dir)s/sshd.log
while :; do sleep 3600; done
"""

SSHD = """ListenAddress %(address)s
HostKey %(state_dir)s/ssh_host_ed25519_key
AuthorizedKeysFile %(authorized_key)s
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PidFile %(state_dir)s/sshd.pid
Subsystem sftp internal-sftp
%(setenv)s
"""


class Router(object):
    def __init__(self, module):
        self.module = module
        self.p = module.params
        self.state_dir = os.path.abspath(self.p["state_dir"])
        self.state_file = os.path.join(self.state_dir, "state.json")

    # helpers -----------------------------------------------------------------
    def run(self, *argv, **kwargs):
        rc, out, err = self.module.run_command(list(argv))
        if rc and kwargs.get("check", True):
            self.module.fail_json(msg="%s failed (rc=%d): %s" % (" ".join(argv), rc, err.strip()))
        return rc, out

    def link_exists(self, name, netns=None):
        prefix = ["ip", "netns", "exec", netns] if netns else []
        return self.module.run_command(prefix + ["ip", "link", "show", name])[0] == 0

    def master_of(self, name):
        rc, out = self.run("ip", "-j", "link", "show", name, check=False)
        return json.loads(out)[0].get("master") if rc == 0 else None

    def load_state(self):
        try:
            with open(self.state_file) as handle:
                return json.load(handle)
        except (IOError, OSError, ValueError):
            return {}

    def bridge(self, network):
        rc, out = self.run("docker", "network", "inspect", network, check=False)
        if rc:
            self.module.fail_json(msg="Docker network %s does not exist: create the site "
                                      "networks before the router" % network)
        info = json.loads(out)[0]
        return ((info.get("Options") or {}).get("com.docker.network.bridge.name")
                or "br-" + info["Id"][:12])

    def has_netem(self):
        probe = "%s-probe" % self.p["name"]
        self.run("ip", "netns", "add", probe)
        try:
            return self.run("ip", "netns", "exec", probe, "tc", "qdisc", "add", "dev", "lo",
                            "root", "netem", "delay", "1ms", check=False)[0] == 0
        finally:
            self.run("ip", "netns", "del", probe, check=False)

    @staticmethod
    def uml_alive(pid, name):
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as handle:
                return ("umid=%s" % name).encode() in handle.read().split(b"\0")
        except (IOError, OSError, TypeError):
            return False

    def alive(self, state):
        if state.get("kind") == "netns":
            rc, out = self.run("ip", "netns", "list", check=False)
            return (self.p["name"] in [line.split()[0] for line in out.splitlines() if line]
                    and os.path.exists("/proc/%s" % state.get("pid")))
        return self.uml_alive(state.get("pid"), self.p["name"])

    def links(self):
        return list(self.p["interfaces"]) + [dict(self.p["mgmt"], address=self.p["mgmt"]["router_address"],
                                                  cidr="/%d" % self.p["mgmt"]["prefixlen"],
                                                  site=None)]

    def device(self, kind, index, link):
        return "vec%d" % index if kind == "uml" else link["veth_router"]

    def link_commands(self, kind):
        """Shell commands giving the router its addresses."""
        commands = []
        for index, link in enumerate(self.links()):
            dev = self.device(kind, index, link)
            commands.append("%sip addr add %s/%s dev %s; ip link set %s up"
                            % ("wait_dev %s; " % dev if kind == "uml" else "", link["address"],
                               link["cidr"].split("/")[1], dev, dev))
        return commands

    def wanted(self, kind):
        return {"kind": kind, "memory": self.p["memory"],
                "links": [[l["veth_router"], l["address"], l["cidr"]] for l in self.links()]}

    # actions -----------------------------------------------------------------
    def stop(self, state):
        pid = state.get("pid")
        if state.get("kind") == "netns":
            if pid:
                self._kill(pid, group=False)
            self.run("ip", "netns", "del", self.p["name"], check=False)
        elif pid and self.uml_alive(pid, self.p["name"]):
            self._kill(pid, group=True)
        for name in state.get("veths", []):
            if self.link_exists(name):
                self.run("ip", "link", "del", name, check=False)

    @staticmethod
    def _kill(pid, group):
        try:
            (os.killpg if group else os.kill)(pid, signal.SIGKILL)
        except OSError:
            pass

    def write_files(self, kind):
        if not os.path.isdir(self.state_dir):
            os.makedirs(self.state_dir, 0o700)
        key = os.path.join(self.state_dir, "ssh_host_ed25519_key")
        if not os.path.exists(key):
            self.run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", self.p["name"], "-f", key)
        uml = kind == "uml"
        values = {"state_dir": self.state_dir, "address": self.p["mgmt"]["router_address"],
                  "authorized_key": self.p["authorized_key"],
                  "exports": 'if [ -z "$GLIBC_TUNABLES" ]; then %s; exec "$0" "$@"; fi'
                             % shell_exports() if uml else "", "setenv": sshd_setenv() if uml else ""}
        with open(os.path.join(self.state_dir, "sshd_config"), "w") as handle:
            handle.write(SSHD % values)
        init = os.path.join(self.state_dir, "init.sh")
        with open(init, "w") as handle:
            handle.write(INIT % dict(values, links="\n".join(self.link_commands(kind))))
        os.chmod(init, 0o755)
        return init

    def start(self, kind):
        init = self.write_files(kind)
        veths = []
        for link in self.links():
            for name in (link["veth_host"], link["veth_router"]):
                if self.link_exists(name):
                    self.run("ip", "link", "del", name, check=False)
            self.run("ip", "link", "add", link["veth_host"], "type", "veth", "peer", "name",
                     link["veth_router"])
            veths.append(link["veth_host"])
        log = open(os.path.join(self.state_dir, "console.log"), "ab")
        if kind == "uml":
            argv = [self.p["kernel"], "mem=%s" % self.p["memory"].upper(), "rootfstype=hostfs",
                    "rootflags=/", "rw", "init=%s" % init, "umid=%s" % self.p["name"],
                    "uml_dir=%s" % self.state_dir, "con=null", "con0=null,fd:1"]
            later = []
            for index, link in enumerate(self.links()):
                self.run("ip", "link", "set", link["veth_router"], "up")
                vec = "vec%d:transport=raw,ifname=%s" % (index, link["veth_router"])
                fits = len(" ".join(argv + [vec] + kernel_env_args())) < COMMAND_LINE_BUDGET
                (argv if fits and not later else later).append(vec)
            pid = spawn(argv, log, self.state_dir)
            self.plug_later(later)
        else:
            name = self.p["name"]
            self.run("ip", "netns", "add", name)
            for link in self.links():
                self.run("ip", "link", "set", link["veth_router"], "netns", name)
            self.run("ip", "netns", "exec", name, "sh", "-c", "mkdir -p /run/sshd; "
                     "ip link set lo up; sysctl -q -w net.ipv4.ip_forward=1; "
                     + "; ".join(self.link_commands(kind)))
            self.run("ip", "netns", "exec", name, "/usr/sbin/sshd", "-f",
                     os.path.join(self.state_dir, "sshd_config"))
            pid = read_pid(os.path.join(self.state_dir, "sshd.pid"))
        log.close()
        state = dict(self.wanted(kind), pid=pid, veths=veths)
        with open(self.state_file, "w") as handle:
            json.dump(state, handle)
        return state

    def plug_later(self, vecs):
        """Hand the kernel, through its mconsole, the interfaces its command line had no room for."""
        if not vecs:
            return
        socket_path = os.path.join(self.state_dir, self.p["name"], "mconsole")
        deadline = time.time() + self.p["timeout"]
        while not os.path.exists(socket_path):
            if time.time() > deadline:
                self.module.fail_json(msg="the WAN router %s has no mconsole (%s) after %ds: see "
                                          "%s/console.log" % (self.p["name"], socket_path,
                                                              self.p["timeout"], self.state_dir))
            time.sleep(0.2)
        for vec in vecs:
            ok, reply = mconsole(socket_path, "config %s" % vec)
            if not ok:
                self.module.fail_json(msg="the WAN router %s refused interface %s: %s"
                                      % (self.p["name"], vec, reply.strip()))

    def plug(self):
        """Host ends up and in their bridges (a recreated Docker network has a new bridge)."""
        changed = False
        for link in self.p["interfaces"]:
            bridge = self.bridge(link["network"])
            if self.master_of(link["veth_host"]) != bridge:
                changed = True
                if not self.module.check_mode:
                    self.run("ip", "link", "set", link["veth_host"], "master", bridge)
        mgmt = self.p["mgmt"]
        rc, out = self.run("ip", "-o", "addr", "show", "dev", mgmt["veth_host"], check=False)
        if mgmt["host_address"] not in out.split():
            changed = True
            if not self.module.check_mode:
                self.run("ip", "addr", "replace", mgmt["host_address"], "dev", mgmt["veth_host"])
        for link in self.links():
            rc, out = self.run("ip", "-o", "link", "show", link["veth_host"], check=False)
            if ",UP" not in out and "<UP" not in out:
                changed = True
                if not self.module.check_mode:
                    self.run("ip", "link", "set", link["veth_host"], "up")
        return changed

    def wait_ssh(self):
        deadline = time.time() + self.p["timeout"]
        while time.time() < deadline:
            try:
                socket.create_connection((self.p["mgmt"]["router_address"], 22), 2).close()
                return
            except (socket.error, OSError):
                time.sleep(0.5)
        self.module.fail_json(msg="the WAN router %s started but its sshd does not answer on %s:22 "
                                  "after %ds: see %s/console.log and sshd.log"
                              % (self.p["name"], self.p["mgmt"]["router_address"],
                                 self.p["timeout"], self.state_dir))

    def present(self):
        for link in self.p["interfaces"]:
            self.bridge(link["network"])
        state = self.load_state()
        kind = self.p["kind"]
        if kind == "auto":
            kind = state.get("kind") if self.alive(state) else None
            kind = kind or ("netns" if self.has_netem() else "uml")
        if not os.path.exists(self.p["kernel"]) and kind == "uml":
            self.module.fail_json(msg="the WAN router needs user-mode-linux (%s is missing): "
                                      "apt-get install user-mode-linux" % self.p["kernel"])
        reason = None
        if not state:
            reason = "started"
        elif not self.alive(state):
            reason = "restarted: it was gone (pid %s)" % state.get("pid")
        elif dict((k, state.get(k)) for k in ("kind", "memory", "links")) != self.wanted(kind):
            reason = "restarted: its interfaces changed"
        elif not all(self.link_exists(l["veth_host"]) for l in self.links()):
            reason = "restarted: a veth pair was gone"
        changed = bool(reason)
        if reason and not self.module.check_mode:
            self.stop(state)
            state = self.start(kind)
        if not self.module.check_mode or not reason:
            changed = self.plug() or changed
        if not self.module.check_mode:
            self.wait_ssh()
        router = {"kind": kind, "name": self.p["name"], "pid": state.get("pid"),
                  "interfaces": dict((l["site"], {"device": self.device(kind, i, l),
                                                  "address": l["address"], "cidr": l["cidr"]})
                                     for i, l in enumerate(self.p["interfaces"])),
                  "ssh": {"address": self.p["mgmt"]["router_address"], "user": "root",
                          "python": "/usr/bin/python3"}}
        msg = "WAN router %s (%s) %s" % (self.p["name"], kind, reason or "running")
        self.module.exit_json(changed=changed, router=router, msg=msg)

    def absent(self):
        state = self.load_state()
        names = set(state.get("veths", []))
        names.update(link["veth_host"] for link in self.p["interfaces"])
        if self.p["mgmt"]:
            names.add(self.p["mgmt"]["veth_host"])
        running = bool(state) and self.alive(state)
        existing = [n for n in sorted(names) if self.link_exists(n)]
        changed = running or bool(existing)
        if changed and not self.module.check_mode:
            self.stop(dict(state, veths=existing))
            if os.path.exists(self.state_file):
                os.remove(self.state_file)
        self.module.exit_json(changed=changed, msg="WAN router %s %s" % (
            self.p["name"], "removed" if changed else "absent"))


def read_pid(path):
    for _attempt in range(50):
        try:
            with open(path) as handle:
                return int(handle.read().strip())
        except (IOError, OSError, ValueError):
            time.sleep(0.1)
    return None


def main():
    link = dict(site=dict(type="str", required=True), network=dict(type="str", required=True),
                address=dict(type="str", required=True), cidr=dict(type="str", required=True),
                veth_host=dict(type="str", required=True),
                veth_router=dict(type="str", required=True))
    mgmt = dict(host_address=dict(type="str", required=True),
                router_address=dict(type="str", required=True),
                prefixlen=dict(type="int", default=30),
                veth_host=dict(type="str", required=True),
                veth_router=dict(type="str", required=True))
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            kind=dict(type="str", choices=["auto", "uml", "netns"], default="auto"),
            state_dir=dict(type="path", required=True),
            interfaces=dict(type="list", elements="dict", default=[], options=link),
            mgmt=dict(type="dict", options=mgmt),
            authorized_key=dict(type="path"),
            memory=dict(type="str", default="256m"),
            kernel=dict(type="path", default="/usr/bin/linux.uml"),
            timeout=dict(type="int", default=60),
        ),
        required_if=[("state", "present", ("mgmt", "authorized_key"))],
        supports_check_mode=True,
    )
    router = Router(module)
    if module.params["state"] == "present":
        router.present()
    router.absent()


if __name__ == "__main__":
    main()
