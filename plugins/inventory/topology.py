# -*- coding: utf-8 -*-
# Copyright: edge.enos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: topology
short_description: An EnOS topology (and what its provider made of it) as an inventory
version_added: 0.1.0
description:
  - Reads an EnOS reservation/topology file (sites, machines per role, registry, Kolla settings,
    WAN constraints) and, when it exists, the resource state that a provider wrote for the
    environment (C(resources.json) in the environment directory).
  - Yields one group per role (C(control), C(compute), C(nova-conductor), ...), per site
    (C(grp1), ...) and per cluster; Kolla's top groups (C(control), C(network), C(compute),
    C(storage), C(monitoring), C(deployment)); C(baremetal) with every node; the EnOS service
    groups C(enos_registry), C(enos_influx), C(enos_grafana), C(enos_bench); and, on the local
    testbed, C(enos_wan_router).
  - Before a provider ran, hosts are listed without C(ansible_host) so that a playbook can
    provision them and then refresh the inventory (C(ansible.builtin.meta) C(refresh_inventory)).
  - The resource state is used only for the topology the environment was made from (the
    environment's C(topology.yml) is this file or has the same content); otherwise it is
    ignored with a warning, so that another topology never gets that environment's addresses.
  - The file is both the inventory source and the topology (O(plugin) next to C(provider),
    C(topology), ...), or it points at a topology with O(reservation).
extends_documentation_fragment:
  - constructed
  - inventory_cache
options:
  plugin:
    description: The name of this plugin.
    required: true
    type: str
    choices: [edge.enos.topology]
  reservation:
    description:
      - Path of the topology file, relative to this inventory file. Defaults to this file.
    type: str
  env:
    description:
      - The environment directory (holds C(resources.json)). Relative paths are taken from
        the current directory.
    type: path
    default: current
    env:
      - name: ENOS_ENV
"""

EXAMPLES = r"""
# inventories/local.yml: the topology is the inventory source
plugin: edge.enos.topology
provider: local
topology:
  grp1: {local: {control: 1}}
  grp[2-3]: {local: {compute: 1}}
network_constraints:
  default_delay: 25ms

# my-inventory.yml, an inventory pointing at an EnOS reservation file:
#   plugin: edge.enos.topology
#   reservation: ../reservation.yaml
#   env: /srv/experiments/current
#   keyed_groups:
#     - key: enos_site
#       prefix: site
"""

import json
import os

from ansible.errors import AnsibleError, AnsibleParserError
from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable, get_cache_plugin

from ansible_collections.edge.enos.plugins.module_utils.topology import (
    INVENTORY_KEYS, SERVICES, TopologyError, load_topology, parse_topology, read_text, read_yaml)

try:
    from ansible.template import trust_as_template
except ImportError:  # ansible-core < 2.19 trusts inventory configuration as it is
    def trust_as_template(value):
        return value

KOLLA_TOP_GROUPS = ("control", "network", "compute", "storage", "monitoring", "deployment")
CONSTRUCTED_KEYS = ("compose", "groups", "keyed_groups")
STATE_FILE = "resources.json"
KEPT_TOPOLOGY = "topology.yml"


def _trusted(value):
    if isinstance(value, str):
        return trust_as_template(value)
    if isinstance(value, dict):
        return dict((k, _trusted(v)) for k, v in value.items())
    if isinstance(value, list):
        return [_trusted(v) for v in value]
    return value


def _file_signature(path):
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return [stat.st_mtime_ns, stat.st_size]


def foreign_state(topology_path, env_dir):
    """Why the environment's resource state does not belong to this topology, or None.

    An environment keeps a copy of the topology it was made from (topology.yml, written by
    `enos` and by the providers): the state is this topology's when that copy is this file or
    has the same content."""
    kept = os.path.join(env_dir, KEPT_TOPOLOGY)
    state = os.path.join(env_dir, STATE_FILE)
    if os.path.isfile(kept):
        if os.path.realpath(kept) == os.path.realpath(topology_path):
            return None
        try:
            with open(kept, "rb") as mine, open(topology_path, "rb") as theirs:
                if mine.read() == theirs.read():
                    return None
        except (IOError, OSError):
            pass
        made_from = "was made from %s" % kept
    else:
        made_from = "keeps no copy of its topology (%s)" % KEPT_TOPOLOGY
    return ("%s: not used for %s: the environment %s, so its addresses and WAN router are "
            "not this topology's (point ENOS_ENV or the `env` option at this topology's "
            "environment, or run `enos up -f %s`)"
            % (state, topology_path, made_from, topology_path))


def build_inventory(topo, state, env_dir):
    """Plain data (hosts with vars, groups with members, vars of `all`) from the model and the
    provider state. Kept free of Ansible objects so that it can be cached as JSON."""
    state = state or {}
    by_name = dict((h["name"], h) for h in state.get("hosts", []))
    ssh = state.get("ssh") or {}
    hosts, groups = {}, {}

    def member(group, host):
        groups.setdefault(group, []).append(host)

    for group in KOLLA_TOP_GROUPS + ("baremetal",):
        groups.setdefault(group, [])
    for host in topo.hosts:
        provided = by_name.get(host.name, {})
        hostvars = {"enos_site": host.site, "enos_roles": list(host.roles),
                    "enos_cluster": host.cluster}
        address = provided.get("address") or host.address
        if address:
            hostvars["ansible_host"] = address
        user = provided.get("user") or host.user or ssh.get("user")
        if user:
            hostvars["ansible_user"] = user
        key = host.keyfile or ssh.get("private_key")
        if key:
            hostvars["ansible_ssh_private_key_file"] = key
        if host.port or ssh.get("port"):
            hostvars["ansible_port"] = int(host.port or ssh.get("port"))
        if provided.get("interfaces"):
            hostvars["enos_interfaces"] = provided["interfaces"]
        hosts[host.name] = hostvars
        member("baremetal", host.name)
        member(host.site, host.name)
        for role in host.roles:
            if role != host.site:
                member(role, host.name)
        if host.cluster and host.cluster not in (host.site,) + tuple(host.roles):
            member(host.cluster, host.name)
    for service in SERVICES:
        groups["enos_%s" % service] = [topo.placement[service]] if service in topo.placement else []

    router = state.get("router") or {}
    groups["enos_wan_router"] = []
    if router.get("ssh"):
        name = "%s-wan" % state.get("environment", "enos")
        hosts[name] = {"ansible_host": router["ssh"]["address"],
                       "ansible_user": router["ssh"].get("user", "root"),
                       "enos_router_interfaces": router.get("interfaces", {}),
                       "enos_site": None, "enos_roles": ["wan_router"]}
        if ssh.get("private_key"):
            hosts[name]["ansible_ssh_private_key_file"] = ssh["private_key"]
        if router["ssh"].get("python"):
            # the router runs the controller's own userland: name its python, not the login shell's
            hosts[name]["ansible_python_interpreter"] = router["ssh"]["python"]
        groups["enos_wan_router"].append(name)

    all_vars = {
        "enos_env_dir": env_dir,
        "enos_topology_file": os.path.abspath(str(topo.path)),
        "enos_environment": state.get("environment"),
        "enos_provider": topo.provider,
        "enos_networks": state.get("networks") or topo.networks,
        "enos_router": router or None,
        "enos_registry": topo.registry,
        "enos_kolla": topo.kolla,
        "enos_kolla_ansible_version": topo.kolla_ansible,
        "enos_enable_monitoring": topo.enable_monitoring,
        "enos_placement": topo.placement,
        "enos_network_constraints": topo.constraints,
    }
    return {"hosts": hosts, "groups": groups, "vars": all_vars}


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):
    NAME = "edge.enos.topology"

    def verify_file(self, path):
        if not super(InventoryModule, self).verify_file(path):
            return False
        if not path.endswith((".yml", ".yaml")) or not os.path.isfile(path):
            return False
        try:
            with open(path, "rb") as handle:
                head = handle.read(65536).decode("utf-8", "replace")
        except (IOError, OSError):
            return False
        return any(line.split("#")[0].strip().replace('"', "").replace("'", "")
                   == "plugin: edge.enos.topology" for line in head.splitlines())

    def parse(self, inventory, loader, path, cache=True):
        super(InventoryModule, self).parse(inventory, loader, path, cache)
        try:
            raw = read_yaml(read_text(path), path)
            if not isinstance(raw, dict):
                parse_topology(raw, path)  # raises the model's error, with its line
            options = dict((k, raw[k]) for k in INVENTORY_KEYS + ("reservation",) if k in raw)
            for key in CONSTRUCTED_KEYS:
                if key in options:
                    options[key] = _trusted(options[key])
            try:
                self.set_options(direct=options, var_options=self._vars)
            except AnsibleError as exc:
                where = min([raw.line_of(k) for k in options if raw.line_of(k)] or [None])
                raise AnsibleParserError("%s:%s: plugin options: %s (fix the option; see "
                                         "`ansible-doc -t inventory edge.enos.topology`)"
                                         % (path, where, to_native(exc)))
            self._setup_cache()
            reservation = self.get_option("reservation")
            if reservation:
                topology_path = os.path.join(os.path.dirname(os.path.abspath(path)),
                                             os.path.expanduser(reservation))
                topo = load_topology(topology_path)
            else:
                topology_path = path
                topo = parse_topology(raw, path)
        except TopologyError as exc:
            raise AnsibleParserError("invalid topology:\n%s" % exc)
        except (IOError, OSError) as exc:
            raise AnsibleParserError("cannot read %s: %s" % (path, to_native(exc)))

        env_dir = os.path.abspath(self.get_option("env"))
        state_path = os.path.join(env_dir, STATE_FILE)
        kept_path = os.path.join(env_dir, KEPT_TOPOLOGY)
        signature = [_file_signature(topology_path), _file_signature(state_path),
                     _file_signature(kept_path), env_dir]
        data = self._cached(path, cache, signature)
        if data is None:
            state = self._read_state(state_path)
            foreign = state is not None and foreign_state(topology_path, env_dir)
            if foreign:
                self.display.warning(foreign)
                state = None
            data = build_inventory(topo, state, env_dir)
            data["signature"] = signature
            if self.get_option("cache"):
                self._cache[self.get_cache_key(path)] = data
        for warning in topo.warnings:
            self.display.warning(warning)
        self._populate(data)

    def _setup_cache(self):
        if self.get_option("cache"):
            options = dict((name, self.get_option(opt)) for name, opt in
                           (("_uri", "cache_connection"), ("_timeout", "cache_timeout"),
                            ("_prefix", "cache_prefix")) if self.get_option(opt) is not None)
            self._cache = get_cache_plugin(self.get_option("cache_plugin"), **options)

    def _cached(self, path, cache, signature):
        """Cached data if the user enabled the cache, did not --flush-cache, and neither the
        topology nor the provider state changed since it was written."""
        if not (self.get_option("cache") and cache):
            return None
        try:
            data = self._cache[self.get_cache_key(path)]
        except KeyError:
            return None
        return data if data.get("signature") == signature else None

    @staticmethod
    def _read_state(state_path):
        try:
            with open(state_path) as handle:
                return json.load(handle)
        except (IOError, OSError):
            return None
        except ValueError as exc:
            raise AnsibleParserError("%s is not valid JSON (%s): run `enos up` again to rewrite "
                                     "it, or remove it" % (state_path, exc))

    def _populate(self, data):
        inventory = self.inventory
        for name in data["hosts"]:
            inventory.add_host(name)
        for group, members in data["groups"].items():
            inventory.add_group(group)
            for name in members:
                inventory.add_child(group, name)
        # the topology is the user's own inventory source: its values are trusted as a static
        # YAML inventory's are (ansible-inventory prints them plain, not as __ansible_unsafe)
        for name, hostvars in data["hosts"].items():
            for key, value in hostvars.items():
                inventory.set_variable(name, key, _trusted(value))
        for key, value in data["vars"].items():
            inventory.set_variable("all", key, _trusted(value))
        if any(self.get_option(k) for k in CONSTRUCTED_KEYS):
            strict = self.get_option("strict")
            for name in data["hosts"]:
                hostvars = inventory.get_host(name).get_vars()
                self._set_composite_vars(self.get_option("compose"), hostvars, name, strict=strict)
                for key in self.get_option("compose") or {}:
                    composed = inventory.get_host(name).vars
                    if key in composed:
                        inventory.set_variable(name, key, _trusted(composed[key]))
                self._add_host_to_composed_groups(self.get_option("groups"), hostvars, name,
                                                  strict=strict)
                self._add_host_to_keyed_groups(self.get_option("keyed_groups"), hostvars, name,
                                               strict=strict)
