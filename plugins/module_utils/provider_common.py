# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every testbed provider shares: its `provider:` keys, and the resource state it writes.

`provider_problems(topo)` checks the keys of `provider:` for vagrant, g5k, openstack and
chameleon (EnOS and EnOSlib spellings), so that `enos check` and every verb refuse a bad file
before anything is reserved. `resource_state()` builds the resources.json contract
(docs/internals.md) that the local and static providers write too.
"""

from __future__ import absolute_import, division, print_function

import difflib
import hashlib
import ipaddress
import json
import os
import re

__metaclass__ = type

# EnOS's aliases: chameleonbaremetal is Chameleon with a Blazar lease; chameleonkvm is an
# OpenStack cloud (Chameleon's KVM site) without one.
# (the key specs; playbooks/provider.yml maps chameleon's to the openstack_provider role)
ROLE_OF_TYPE = {"vagrant": "vagrant", "g5k": "g5k", "openstack": "openstack",
                "chameleon": "chameleon", "chameleonbaremetal": "chameleon",
                "chameleonkvm": "openstack", "local": "local", "static": "static"}

NETWORK_ROLES = ("network_interface", "neutron_external_interface")
WALLTIME_RE = re.compile(r"^(\d+):([0-5]\d):([0-5]\d)$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}(:\d{2})?$")

# Sizes of EnOS's Vagrant provider (the topology's cluster/flavour names one of them).
VAGRANT_SIZES = {
    "tiny": {"cpu": 1, "mem": 512},
    "small": {"cpu": 1, "mem": 1024},
    "medium": {"cpu": 2, "mem": 2048},
    "big": {"cpu": 3, "mem": 3072},
    "large": {"cpu": 4, "mem": 4096},
    "extra-large": {"cpu": 6, "mem": 6144},
}
VAGRANT_BACKENDS = ("virtualbox", "libvirt", "docker")
G5K_JOB_TYPES = ("deploy", "allow_classic_ssh")
G5K_QUEUES = ("default", "production", "besteffort", "testing")

_COMMON = ("type", "resources", "environment", "networks", "role_distribution")
# key -> one line of documentation (README, `enos new`); required keys are listed apart.
PROVIDER_KEYS = {
    "vagrant": {
        "backend": "virtualbox | libvirt | docker (default virtualbox)",
        "box": "Vagrant box of the virtual machines (default generic/debian12; unused by docker)",
        "image": "docker backend: the node image (default edge-enos/node:bookworm, built when missing)",
        "user": "SSH user (default vagrant; root with docker)",
        "subnet": "two /24: API/management then Neutron external (default 192.168.142.0/23)",
        "sizes": "extra sizes {name: {cpu, mem}} next to tiny, small, medium, big, large, extra-large",
        "config_extra": "Ruby lines added to every machine (EnOSlib's config_extra)",
    },
    "g5k": {
        "job_name": "OAR job name; a running job of this name is reused (default enos)",
        "walltime": "HH:MM:SS (quote it: YAML reads 02:00:00 as a number)",
        "reservation": "start date 'YYYY-MM-DD HH:MM:SS' (Europe/Paris), or false for now",
        "queue": "default | production | besteffort | testing",
        "job_type": "deploy (kadeploy env_name) | allow_classic_ssh (default deploy)",
        "env_name": "kadeploy environment when job_type is deploy (default debian12-nfs)",
        "kavlan": "true: a KaVLAN for the API network (and one more for the external network)",
        "key": "public key installed by kadeploy (default ~/.ssh/id_rsa.pub)",
        "user": "SSH user on the nodes (default root)",
        "api_url": "Grid'5000 API (default https://api.grid5000.fr/stable)",
        "site": "site of the API network when several sites are used (EnOSlib)",
        "dhcp": "EnOSlib: bring up secondary interfaces with DHCP",
        "force_deploy": "EnOSlib: redeploy even when the nodes run the environment",
    },
    "openstack": {
        "cloud": "clouds.yaml entry (default: OS_* environment variables)",
        "image": "Glance image of the servers",
        "user": "SSH user of the image",
        "key_name": "existing keypair (default: one made from the environment's key)",
        "network": "existing network {name} to use instead of creating one",
        "subnet": "cidr of the network made for the environment (default 10.87.0.0/24)",
        "dns_nameservers": "DNS servers of the created subnet",
        "external_network": "network of the router gateway and floating IPs (default public)",
        "floating_ips": "true: a floating IP per server (default true)",
        "gateway": "true: one floating IP on a gateway host, the others through it (EnOS)",
        "prefix": "name prefix of what is created (default the environment name)",
        "allowed_networks": "cidrs allowed in by the security group (default 0.0.0.0/0 for SSH)",
        "gateway_user": "SSH user of the gateway host",
        "configure_network": "EnOS: create the network (default true when no `network` is given)",
        "network_interface": "EnOS: interface name of the API network on the servers",
    },
}
PROVIDER_KEYS["chameleon"] = dict(PROVIDER_KEYS["openstack"], **{
    "lease_name": "Blazar lease name; a lease of this name is reused (default enos-lease)",
    "walltime": "HH:MM:SS: length of the lease",
    "reservation": "start date 'YYYY-MM-DD HH:MM' (UTC), or false for now",
})
REQUIRED_KEYS = {"vagrant": (), "g5k": ("walltime",), "openstack": ("image", "user"),
                 "chameleon": ("image", "user", "walltime")}


class ProviderError(Exception):
    """A problem found before anything was reserved; str() says the key and the fix."""


def walltime_seconds(value, where="provider.walltime"):
    """'02:30:00' -> 9000. YAML 1.1 reads an unquoted 02:30:00 as 9000 (base 60): accepted."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    match = WALLTIME_RE.match(str(value).strip())
    if not match:
        raise ProviderError("%s: %r is not a walltime (write HH:MM:SS, e.g. '02:00:00')"
                            % (where, value))
    hours, minutes, seconds = (int(g) for g in match.groups())
    if hours == minutes == seconds == 0:
        raise ProviderError("%s: a walltime of zero reserves nothing (write e.g. '02:00:00')"
                            % where)
    return hours * 3600 + minutes * 60 + seconds


def format_walltime(seconds):
    return "%d:%02d:%02d" % (seconds // 3600, seconds % 3600 // 60, seconds % 60)


def _line(container, key):
    getter = getattr(container, "line_of", None)
    return getter(key) if getter else None


def provider_problems(topo):
    """[(line, dotted key, problem, fix)] for the `provider:` keys of a testbed provider."""
    located = topo.raw.get("provider") if isinstance(topo.raw, dict) else None
    provider = located if isinstance(located, dict) else topo.provider
    kind = ROLE_OF_TYPE.get(provider.get("type"))
    if kind not in PROVIDER_KEYS:
        return []
    known = _COMMON + tuple(PROVIDER_KEYS[kind])
    problems = []

    def add(key, problem, fix):
        problems.append((_line(provider, key), "provider.%s" % key, problem, fix))

    for key in provider:
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
            add(key, "unknown key for provider %s" % provider.get("type"),
                "did you mean `%s`?" % close[0] if close else "known keys: %s" % ", ".join(known))
    for key in REQUIRED_KEYS[kind]:
        if provider.get(key) in (None, ""):
            add(key, "missing (provider %s needs it)" % provider.get("type"),
                "add `%s:` under provider: %s" % (key, PROVIDER_KEYS[kind][key]))
    if "walltime" in provider:
        try:
            walltime_seconds(provider["walltime"])
        except ProviderError as exc:
            add("walltime", str(exc).split(": ", 1)[1].split(" (")[0], "write HH:MM:SS, e.g. '02:00:00'")
    reservation = provider.get("reservation")
    if reservation not in (None, False) and not DATE_RE.match(str(reservation)):
        add("reservation", "%r is not a date" % (reservation,),
            "write 'YYYY-MM-DD HH:MM:SS', or false to start now")
    choices = {"backend": VAGRANT_BACKENDS if kind == "vagrant" else None,
               "job_type": G5K_JOB_TYPES if kind == "g5k" else None,
               "queue": G5K_QUEUES if kind == "g5k" else None}
    for key, allowed in choices.items():
        if allowed and key in provider and provider[key] not in allowed:
            add(key, "unknown %s %r" % (key, provider[key]), "use one of: %s" % ", ".join(allowed))
    if "subnet" in provider and kind != "g5k":
        try:
            ipaddress.ip_network(str(provider["subnet"]))
        except ValueError:
            add("subnet", "%r is not a network" % (provider["subnet"],),
                "write a cidr such as 10.87.0.0/24")
    if kind == "vagrant":
        problems.extend(_vagrant_size_problems(topo, provider))
    return problems


def _vagrant_size_problems(topo, provider):
    sizes = dict(VAGRANT_SIZES, **(provider.get("sizes") or {}))
    problems = []
    for host in topo.hosts:
        size = host.cluster or "medium"
        if size not in sizes:
            problems.append((None, "topology (host %s)" % host.name,
                             "unknown Vagrant size %r" % size,
                             "use one of: %s, or define it under provider.sizes"
                             % ", ".join(sorted(sizes))))
            break
    return problems


def format_problems(path, problems):
    lines = []
    for line, key, problem, fix in problems:
        where = "%s:%s" % (path, line) if line else str(path)
        lines.append("%s: %s: %s (%s)" % (where, key, problem, fix))
    return "\n".join(lines)


# --------------------------------------------------------------------------- resource state

def split_subnet(subnet, count=2):
    """The first `count` /24 of a block (a /24 given alone is halved into two /25)."""
    net = ipaddress.ip_network(str(subnet), strict=False)
    prefix = 24 if net.prefixlen <= 24 - (count - 1).bit_length() else net.prefixlen + (count - 1).bit_length()
    return [str(n) for n in list(net.subnets(new_prefix=prefix))[:count]]


def layout(cidr, count, first_host=10, free_from=200, free_count=50):
    """Addresses of a network: gateway (.1), `count` nodes from .10, free IPs for VIPs."""
    net = ipaddress.ip_network(cidr)
    hosts = list(net.hosts())
    if first_host + count > free_from or len(hosts) < free_from + free_count - 1:
        first_host, free_from = 10, max(10 + count, len(hosts) - free_count)
        free_count = min(free_count, len(hosts) - free_from)
    if first_host + count > free_from or free_count < 1:
        raise ProviderError("provider.subnet: %s is too small for %d machines and free addresses"
                            " for VIPs (give a /24 per network, e.g. 10.170.0.0/23)" % (cidr, count))
    return {"cidr": cidr, "gateway": str(hosts[0]),
            "nodes": [str(hosts[first_host - 1 + i]) for i in range(count)],
            "free_ips": [str(hosts[free_from - 1 + i]) for i in range(free_count)]}


def resource_state(environment, provider, ssh, networks, hosts, **extra):
    """The resources.json document (docs/internals.md), the same for every provider."""
    state = {"version": 1, "environment": environment, "provider": provider, "ssh": ssh,
             "networks": networks, "hosts": hosts}
    state.update(extra)
    return state


def host_entry(name, address, interfaces, **ssh):
    """A host of resources.json; interfaces: {role: (device, address, network name)}."""
    entry = {"name": name, "address": address,
             "interfaces": dict((role, {"device": d, "address": a, "network": n})
                                for role, (d, a, n) in interfaces.items())}
    entry.update(dict((k, v) for k, v in ssh.items() if v is not None))
    return entry


def devices_by_address(ip_addr_output):
    """`ip -o -4 addr show` output -> {address: device}."""
    found = {}
    for line in ip_addr_output.splitlines():
        fields = line.split()
        if len(fields) >= 4 and fields[2] == "inet":
            found[fields[3].split("/")[0]] = fields[1].split("@")[0]
    return found


def recorded_resources(env_dir):
    """The resources.json a previous run wrote, or {}."""
    try:
        with open(os.path.join(env_dir, "resources.json")) as handle:
            return json.load(handle)
    except (IOError, OSError, ValueError):
        return {}


def default_environment(env_dir, recorded=None):
    """The environment's name: recorded in resources.json, else enos-<hash of the directory>."""
    recorded = recorded_resources(env_dir) if recorded is None else recorded
    return (recorded.get("environment")
            or "enos-" + hashlib.sha1(os.path.realpath(env_dir).encode()).hexdigest()[:6])


# The options every provider module takes (doc fragment edge.enos.provider).
MODULE_ARGS = dict(
    topology=dict(type="path", required=True),
    env_dir=dict(type="path", required=True),
    environment=dict(type="str"),
)


def reservation_args(timeout, **extra):
    """MODULE_ARGS with `state` (present, absent, status) and `timeout` (g5k, openstack)."""
    return dict(MODULE_ARGS, state=dict(type="str", default="present",
                                        choices=["present", "absent", "status"]),
                timeout=dict(type="int", default=timeout), **extra)


def module_environment(params):
    """(realpath of env_dir, recorded resources, environment name) from a module's params."""
    env_dir = os.path.realpath(params["env_dir"])
    recorded = recorded_resources(env_dir)
    return env_dir, recorded, params["environment"] or default_environment(env_dir, recorded)
