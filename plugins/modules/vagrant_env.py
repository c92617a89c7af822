#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: vagrant_env
short_description: Machines of a topology from Vagrant (virtualbox, libvirt or docker)
description:
  - Writes C(env_dir/vagrant/Vagrantfile) from the topology (one machine per host, the
    cluster/flavour as EnOS's size, two private networks), runs C(vagrant up) through
    python-vagrant, reads C(vagrant ssh-config) and the machines' interface names back, and
    returns the resource state (C(resources.json)).
  - C(state=absent) runs C(vagrant destroy) and removes the Vagrantfile and C(.vagrant/).
  - C(state=validated) writes the Vagrantfile and runs C(vagrant validate) only.
version_added: "0.1.0"
author: edge.enos developers (@edge-enos)
extends_documentation_fragment: [edge.enos.provider]
options:
  state:
    description: C(present) brings the machines up, C(absent) destroys them, C(status) reports.
    type: str
    choices: [present, absent, status, validated]
    default: present
  ssh_timeout:
    description: Seconds to wait for a machine's interfaces to be read over SSH.
    type: int
    default: 120
"""

EXAMPLES = r"""
- name: Bring the machines up
  edge.enos.vagrant_env:
    topology: /srv/env/topology.yml
    env_dir: /srv/env
    environment: enos-3f2a
  register: machines
"""

RETURN = r"""
resources:
  description: The resource state to write as C(resources.json) (state=present).
  returned: state is present
  type: dict
machines:
  description: Vagrant's state of each machine.
  returned: always
  type: dict
  sample: {grp1-control-1: running}
vagrantfile:
  description: Path of the generated Vagrantfile.
  returned: always
  type: str
plan:
  description: The machines (name, size, cpu, mem, container, ip1, ip2) and networks planned.
  returned: unless state is absent
  type: dict
environment:
  description: Name of the environment.
  returned: always
  type: str
"""

import os
import shutil
import subprocess
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.edge.enos.plugins.module_utils.provider_common import (
    MODULE_ARGS, ProviderError, devices_by_address, module_environment)
from ansible_collections.edge.enos.plugins.module_utils import provider_vagrant as pv


def vagrant_env(extra=None):
    env = dict(os.environ, VAGRANT_CHECKPOINT_DISABLE="1", VAGRANT_NO_COLOR="1")
    env.update(extra or {})
    return env


def run_vagrant(module, root, args, extra_env=None):
    """Run vagrant; fail with its own words (the last lines of stderr) when it fails."""
    proc = subprocess.run(["vagrant"] + args, cwd=root, env=vagrant_env(extra_env),
                          capture_output=True, text=True, check=False)
    if proc.returncode:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        module.fail_json(msg="vagrant %s failed in %s (exit %d):\n%s"
                         % (" ".join(args), root, proc.returncode, tail))
    return proc.stdout


def machine_states(root):
    import vagrant
    if not os.path.isdir(os.path.join(root, ".vagrant")):
        return {}
    client = vagrant.Vagrant(root=root, env=vagrant_env(), quiet_stdout=True, quiet_stderr=True)
    return dict((s.name, s.state) for s in client.status())


def read_devices(module, ssh, timeout):
    """{address: device} on a machine, read over SSH with Vagrant's SSH settings."""
    argv = ["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=5", "-o",
            "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o",
            "LogLevel=ERROR", "-p", str(ssh.get("Port", 22)), "-i", ssh["IdentityFile"],
            "%s@%s" % (ssh["User"], ssh["HostName"]), "ip -o -4 addr show"]
    deadline = time.time() + timeout
    while True:
        proc = subprocess.run(argv, capture_output=True, text=True, check=False)
        if proc.returncode == 0:
            return devices_by_address(proc.stdout)
        if time.time() > deadline:
            module.fail_json(msg="%s@%s:%s does not answer SSH after %ds: %s"
                             % (ssh["User"], ssh["HostName"], ssh.get("Port", 22), timeout,
                                proc.stderr.strip()))
        time.sleep(3)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            **MODULE_ARGS,
            state=dict(type="str", default="present",
                       choices=["present", "absent", "status", "validated"]),
            ssh_timeout=dict(type="int", default=120),
        ),
        supports_check_mode=True,
    )
    from ansible_collections.edge.enos.plugins.module_utils.topology import (
        load_topology, TopologyError)

    params = module.params
    env_dir, _recorded, environment = module_environment(params)
    root = os.path.join(env_dir, "vagrant")
    vagrantfile = os.path.join(root, "Vagrantfile")
    state = params["state"]
    if not shutil.which("vagrant"):
        module.fail_json(msg="the vagrant command is not installed on the controller "
                             "(apt-get install vagrant; vagrant-libvirt for the libvirt backend)")

    if state == "absent":
        if not os.path.exists(vagrantfile):
            module.exit_json(changed=False, machines={}, vagrantfile=vagrantfile, environment=environment)
        states = machine_states(root)
        if module.check_mode:
            module.exit_json(changed=True, machines=states, vagrantfile=vagrantfile, environment=environment)
        if states:
            run_vagrant(module, root, ["destroy", "--force"], {pv.FORGET_NETWORKS_ENV: "1"})
        shutil.rmtree(os.path.join(root, ".vagrant"), ignore_errors=True)
        shutil.rmtree(root, ignore_errors=True)
        module.exit_json(changed=True, machines=states, vagrantfile=vagrantfile, environment=environment)

    try:
        topo = load_topology(params["topology"])
        planned = pv.plan(topo, environment, env_dir)
    except (TopologyError, ProviderError) as exc:
        module.fail_json(msg="vagrant provider: %s" % exc)
    text = pv.render_vagrantfile(planned)
    old = None
    if os.path.exists(vagrantfile):
        with open(vagrantfile) as handle:
            old = handle.read()
    changed = old != text
    if state == "status":
        module.exit_json(changed=False, machines=machine_states(root), vagrantfile=vagrantfile,
                         environment=environment, plan=planned)
    if module.check_mode:
        module.exit_json(changed=True, machines=machine_states(root), vagrantfile=vagrantfile,
                         environment=environment, plan=planned, diff={"before": old or "", "after": text})
    if changed:
        os.makedirs(root, exist_ok=True)
        with open(vagrantfile, "w") as handle:
            handle.write(text)
    if state == "validated":
        run_vagrant(module, root, ["validate"])
        module.exit_json(changed=changed, machines={}, vagrantfile=vagrantfile,
                         environment=environment, plan=planned)

    states = machine_states(root)
    down = [m["name"] for m in planned["machines"] if states.get(m["name"]) != "running"]
    if down:
        run_vagrant(module, root, ["up", "--no-parallel", "--provider", planned["backend"]])
        changed = True
        states = machine_states(root)
    import vagrant
    client = vagrant.Vagrant(root=root, env=vagrant_env(), quiet_stdout=True, quiet_stderr=True)
    ssh_configs = {}
    for machine in planned["machines"]:
        ssh_configs.update(pv.parse_ssh_config(client.ssh_config(vm_name=machine["name"])))
    devices = dict((name, read_devices(module, ssh, params["ssh_timeout"]))
                   for name, ssh in ssh_configs.items())
    try:
        resources = pv.resources(planned, ssh_configs, devices)
    except ProviderError as exc:
        module.fail_json(msg="vagrant provider: %s" % exc)
    module.exit_json(changed=changed, machines=states, vagrantfile=vagrantfile,
                     resources=resources, started=down, environment=environment, plan=planned)


if __name__ == "__main__":
    main()
