#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: local_plan
short_description: Plan a local testbed (names, networks, addresses, memory) from a topology
description:
  - Reads a topology file with the edge.enos topology model and computes, without changing
    anything, what the C(local) provider creates on the controller, namely one Docker network per site
    (its own /24), one shared external network, one node container per machine with its
    addresses, the WAN router's interfaces and names, and the content of C(resources.json)
    (without its C(router) entry, which the router module reports).
  - Refuses, with the numbers, a topology whose nodes do not fit in the controller's available
    memory (nodes not created yet x memory per node + the router against C(MemAvailable)).
version_added: "0.1.0"
author: edge.enos developers (@edge-enos)
options:
  topology:
    description: The topology file (EnOS reservation format).
    type: path
    required: true
  env_dir:
    description: The environment directory (absolute path recorded in the plan).
    type: path
    required: true
  environment:
    description:
      - Name of the environment, prefix of every container, network and volume, and value of
        their C(edge.enos.env) label.
      - Default, the name recorded in C(env_dir/resources.json), else C(enos-) and a short hash
        of the environment directory.
    type: str
  subnet:
    description:
      - Address block of the testbed. Its first /24 is the external network, the next ones
        are the sites' networks, in the order of the topology.
    type: str
    default: 10.201.0.0/16
  router_subnet:
    description: The /30 of the management link between the controller and the WAN router.
    type: str
    default: 10.199.0.0/30
  memory_per_node:
    description:
      - Memory limit of each node container (C(2g), C(512m), ...). Default, the topology's
        C(provider.memory_per_node), else C(2g).
    type: str
  router_memory:
    description: Memory of the WAN router (user-mode-linux kernel).
    type: str
    default: 256m
  image:
    description: Image of the node containers.
    type: str
    default: edge-enos/node:bookworm
  existing:
    description:
      - Names of the node containers that exist already (they need no new memory).
      - Default, the containers labelled with the environment, asked to Docker.
    type: list
    elements: str
  check_memory:
    description: Refuse a topology that does not fit in the available memory.
    type: bool
    default: true
  read_devices:
    description:
      - Read the interface names of the running node containers (C(docker exec ... ip addr))
        into C(resources.hosts[].interfaces), instead of assuming C(eth0) for the site network
        and C(eth1) for the external one.
    type: bool
    default: false
  meminfo:
    description: Where to read C(MemAvailable).
    type: path
    default: /proc/meminfo
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    platforms: posix
notes:
  - Changes nothing; C(changed) is always false.
"""

EXAMPLES = r"""
- name: Plan the testbed
  edge.enos.local_plan:
    topology: "{{ enos_topology_file }}"
    env_dir: "{{ enos_env_dir }}"
    subnet: 10.201.0.0/16
  register: plan

- name: Show the node addresses
  ansible.builtin.debug:
    msg: "{{ plan.plan.nodes | items2dict(key_name='host', value_name='address') }}"
"""

RETURN = r"""
plan:
  description: What the local provider creates.
  returned: success
  type: dict
  contains:
    environment:
      description: Name and label value of the environment.
      type: str
      sample: enos-3f2a91
    networks:
      description: Docker networks (C(docker_gateway) is the bridge's address on the controller).
      type: list
      elements: dict
    nodes:
      description: Node containers with their networks, addresses and route to the other sites.
      type: list
      elements: dict
    router:
      description: The WAN router's name, management link and one interface per site.
      type: dict
    resources:
      description: Content of C(resources.json) without C(router).
      type: dict
memory:
  description: The memory check, in bytes.
  returned: always
  type: dict
  sample: {per_node: 2147483648, new_nodes: 5, router: 268435456, needed: 11005853696, available: 24000000000}
"""

import hashlib
import ipaddress
import os
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.edge.enos.plugins.module_utils.provider_common import (
    default_environment, recorded_resources)

NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
FIRST_HOST = 10
LAST_HOST = 199
FREE_FIRST = 200
FREE_LAST = 249
ROUTER_HOST = 254


def parse_size(text):
    """'2g', '512m', '2GiB', '1073741824' -> bytes (binary units, as Docker reads them)."""
    match = re.match(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$", str(text).lower())
    if not match:
        raise ValueError("%r is not a size: write e.g. 2g or 512m" % (text,))
    return int(float(match.group(1)) * UNITS[match.group(2)])


def human(size):
    if size < 1 << 30:
        return "%d MiB" % (size >> 20)
    return "%.1f GiB" % (size / float(1 << 30))


def mem_available(path):
    with open(path) as handle:
        for line in handle:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    raise ValueError("no MemAvailable in %s" % path)


def build_plan(topo, env_dir, environment, subnet, router_subnet, image):
    """Pure computation: names, networks, addresses, routes and resources.json content."""
    blocks = list(ipaddress.ip_network(subnet).subnets(new_prefix=24))
    sites = list(topo.sites.items())
    if len(blocks) < len(sites) + 1:
        raise ValueError("subnet %s holds %d /24 networks but the topology needs %d (one per "
                         "site and the external one): give a larger subnet"
                         % (subnet, len(blocks), len(sites) + 1))
    if len(topo.hosts) > LAST_HOST - FIRST_HOST + 1:
        raise ValueError("%d machines do not fit in the external /24 (at most %d)"
                         % (len(topo.hosts), LAST_HOST - FIRST_HOST + 1))

    def addr(block, index):
        return str(block.network_address + index)

    def free(block):
        return [addr(block, i) for i in range(FREE_FIRST, FREE_LAST + 1)]

    ext = blocks[0]
    ext_net = {"name": "%s-ext" % environment, "site": None, "roles": ["neutron_external_interface"],
               "cidr": str(ext), "gateway": addr(ext, 1), "docker_gateway": addr(ext, 1),
               "free_ips": free(ext)}
    site_nets = []
    for number, (site, hosts) in enumerate(sites, 1):
        if len(hosts) > LAST_HOST - FIRST_HOST + 1:
            raise ValueError("site %s has %d machines; a site network holds at most %d"
                             % (site, len(hosts), LAST_HOST - FIRST_HOST + 1))
        block = blocks[number]
        site_nets.append({"name": "%s-%s" % (environment, site), "site": site,
                          "roles": ["network_interface"], "cidr": str(block),
                          "gateway": addr(block, ROUTER_HOST), "docker_gateway": addr(block, 1),
                          "free_ips": free(block)})
    by_site = dict((net["site"], net) for net in site_nets)

    nodes, res_hosts = [], []
    for number, host in enumerate(topo.hosts):
        net = by_site[host.site]
        block = ipaddress.ip_network(net["cidr"])
        address = addr(block, FIRST_HOST + topo.sites[host.site].index(host))
        ext_address = addr(ext, FIRST_HOST + number)
        nodes.append({
            "host": host.name, "container": "%s-%s" % (environment, host.name),
            "site": host.site, "roles": list(host.roles), "address": address,
            "networks": [{"name": net["name"], "ipv4_address": address},
                         {"name": ext_net["name"], "ipv4_address": ext_address}],
            # one route for the whole block: the node's own site and the external network
            # are more specific (directly connected), every other site is through the router
            "routes": [{"cidr": str(ipaddress.ip_network(subnet)), "via": net["gateway"]}]
            if len(site_nets) > 1 else [],
        })
        res_hosts.append({"name": host.name, "address": address, "interfaces": {
            "network_interface": {"device": "eth0", "address": address, "network": net["name"]},
            "neutron_external_interface": {"device": "eth1", "address": ext_address,
                                           "network": ext_net["name"]}}})

    short = "e" + hashlib.sha1(environment.encode()).hexdigest()[:6]
    mgmt = list(ipaddress.ip_network(router_subnet).hosts())
    if len(mgmt) < 2:
        raise ValueError("router_subnet %s has fewer than 2 host addresses: give a /30"
                         % router_subnet)
    router = {
        "name": "%s-wan" % environment,
        "mgmt": {"host_address": "%s/%d" % (mgmt[0], ipaddress.ip_network(router_subnet).prefixlen),
                 "router_address": str(mgmt[1]),
                 "prefixlen": ipaddress.ip_network(router_subnet).prefixlen,
                 "veth_host": short + "hm", "veth_router": short + "rm"},
        "interfaces": [{"site": net["site"], "network": net["name"], "address": net["gateway"],
                        "cidr": net["cidr"], "veth_host": "%sh%d" % (short, number),
                        "veth_router": "%sr%d" % (short, number)}
                       for number, net in enumerate(site_nets)],
    }
    networks = site_nets + [ext_net]
    key = os.path.join(env_dir, "id_ed25519")
    resources = {
        "version": 1, "environment": environment, "provider": "local",
        "ssh": {"user": "root", "private_key": key, "port": 22},
        "networks": [dict((k, v) for k, v in net.items() if k != "docker_gateway")
                     for net in networks],
        "hosts": res_hosts,
    }
    return {"environment": environment, "env_dir": env_dir, "image": image,
            "private_key": key, "networks": networks, "nodes": nodes, "router": router,
            "resources": resources}


def main():
    module = AnsibleModule(
        argument_spec=dict(
            topology=dict(type="path", required=True),
            env_dir=dict(type="path", required=True),
            environment=dict(type="str"),
            subnet=dict(type="str", default="10.201.0.0/16"),
            router_subnet=dict(type="str", default="10.199.0.0/30"),
            memory_per_node=dict(type="str"),
            router_memory=dict(type="str", default="256m"),
            image=dict(type="str", default="edge-enos/node:bookworm"),
            existing=dict(type="list", elements="str"),
            check_memory=dict(type="bool", default=True),
            read_devices=dict(type="bool", default=False),
            meminfo=dict(type="path", default="/proc/meminfo"),
        ),
        supports_check_mode=True,
    )
    from ansible_collections.edge.enos.plugins.module_utils.topology import (
        load_topology, TopologyError)

    params = module.params
    try:
        topo = load_topology(params["topology"])
    except TopologyError as exc:
        module.fail_json(msg="invalid topology:\n%s" % exc)
    env_dir = os.path.abspath(params["env_dir"])
    recorded = recorded_resources(env_dir)
    environment = params["environment"] or default_environment(env_dir, recorded)
    if not NAME_RE.match(environment):
        module.fail_json(msg="environment name %r is not usable in Docker names: use letters, "
                             "digits, '.', '-' and '_' (local_provider_environment)" % environment)
    per_node_text = params["memory_per_node"] or topo.provider.get("memory_per_node") or "2g"
    try:
        plan = build_plan(topo, env_dir, environment, params["subnet"], params["router_subnet"],
                          params["image"])
        per_node = parse_size(per_node_text)
        router_mem = parse_size(params["router_memory"])
        available = mem_available(params["meminfo"])
    except ValueError as exc:
        module.fail_json(msg="local provider (%s): %s" % (params["topology"], exc))
    plan["memory_per_node"] = per_node_text
    existing = params["existing"]
    if existing is None:
        rc, out, err = module.run_command(["docker", "ps", "-a", "--format", "{{.Names}}",
                                           "--filter", "label=edge.enos.env=%s" % environment])
        if rc:
            module.fail_json(msg="cannot list containers (is the Docker engine running? "
                                 "scripts/setup.sh starts it): %s" % err.strip())
        existing = out.split()
    plan["recorded"] = [h.get("name") for h in recorded.get("hosts", [])
                        if recorded.get("environment") == environment]
    plan["existing"] = [n["container"] for n in plan["nodes"] if n["container"] in existing]

    new = [n["container"] for n in plan["nodes"] if n["container"] not in existing]
    needed = per_node * len(new) + router_mem
    memory = {"per_node": per_node, "new_nodes": len(new), "router": router_mem,
              "needed": needed, "available": available}
    if params["check_memory"] and needed > available:
        module.fail_json(
            msg="local provider: not enough memory for this topology: %d new node(s) x %s "
                "(provider.memory_per_node = %s) + %s for the WAN router = %s needed, but the "
                "controller has %s available (MemAvailable). Nothing was created. Ask for fewer "
                "machines in %s, or lower provider.memory_per_node."
                % (len(new), human(per_node), per_node_text, human(router_mem), human(needed),
                   human(available), params["topology"]),
            memory=memory)
    if params["read_devices"]:
        read_devices(module, plan)
    module.exit_json(changed=False, plan=plan, memory=memory)


def read_devices(module, plan):
    """Put the device that holds each address of each node into resources.json's hosts (the
    nodes are asked several at a time)."""
    def addresses(node):
        proc = subprocess.run(["docker", "exec", node["container"], "ip", "-o", "-4", "addr", "show"],
                              capture_output=True, text=True, check=False)
        return proc.returncode, proc.stdout, proc.stderr

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(addresses, plan["nodes"]))
    for node, host, (rc, out, err) in zip(plan["nodes"], plan["resources"]["hosts"], answers):
        if rc:
            module.fail_json(msg="cannot read the interfaces of %s: %s" % (node["container"],
                                                                           err.strip()))
        devices = dict((line.split()[3].split("/")[0], line.split()[1]) for line in out.splitlines())
        for role, interface in host["interfaces"].items():
            if interface["address"] not in devices:
                module.fail_json(msg="%s has no interface with %s (%s): remove the container and "
                                     "run the provider again" % (node["container"],
                                                                 interface["address"], role))
            interface["device"] = devices[interface["address"]]


if __name__ == "__main__":
    main()
