# -*- coding: utf-8 -*-
# Copyright: edge.enos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The topology model of edge.enos: one parser of EnOS reservation files for the inventory
plugin, the modules and the driver.

A topology file describes machines per role (flat, per cluster, grouped in sites with
``grp[2-4]`` ranges, static hosts, or a provider's own ``resources: {machines, networks}``),
the registry, Kolla's settings and the WAN constraints between sites. Every problem is reported
as ``FILE:LINE: key: problem (what to do)`` before anything is provisioned.
"""

from __future__ import annotations

import difflib
import math
import re
from collections import OrderedDict

__all__ = [
    "TopologyError", "Problem", "Host", "Link", "Topology", "load_topology", "parse_topology",
    "parse_delay", "parse_rate", "parse_loss", "expand_range", "format_rate", "format_delay",
    "expand_links", "iter_links", "link_kinds",
]

PROVIDERS = ("local", "static", "vagrant", "g5k", "vmong5k", "chameleon", "chameleonkvm",
             "chameleonbaremetal", "openstack")
REGISTRY_TYPES = ("internal", "external", "none")
# EnOS's port: 5000 is Keystone's, and the registry often shares the control node
REGISTRY_PORT = 4000
SERVICES = ("registry", "influx", "grafana", "bench")

# keys of the file that are the inventory plugin's own options (one file serves both)
INVENTORY_KEYS = ("plugin", "env", "compose", "groups", "keyed_groups", "strict",
                  "leading_separator", "use_extra_vars", "cache", "cache_plugin",
                  "cache_timeout", "cache_connection", "cache_prefix")
TOP_LEVEL_KEYS = ("provider", "resources", "topology", "registry", "kolla-ansible", "kolla",
                  "inventory", "enable_monitoring", "network_constraints", "hosts",
                  "placement", "docker_version") + INVENTORY_KEYS
DEPRECATED_KEYS = {
    "kolla_repo": "pin the release with `kolla-ansible: <version>` (e.g. 22.2.0); "
                  "kolla-ansible is installed from PyPI, not cloned",
    "kolla_ref": "pin the release with `kolla-ansible: <version>` (e.g. 22.2.0)",
    "kolla_install_type": "remove it: Kolla builds source images only since Zed",
    "walltime": "move it under `provider:` (provider.walltime)",
    "job_name": "move it under `provider:` (provider.job_name)",
    "openstack": "describe machines with `resources:` or `topology:`",
    "subnets": "move it under `provider:`",
}
DEPRECATED_KOLLA_KEYS = {
    "kolla_install_type": "remove it: Kolla builds source images only since Zed",
}
NETWORK_CONSTRAINT_KEYS = ("enable", "default_delay", "default_rate", "default_loss",
                           "default_jitter", "default_network", "constraints", "except",
                           "groups")
CONSTRAINT_KEYS = ("src", "dst", "delay", "rate", "loss", "jitter", "symmetric", "symetric",
                   "network")
STATIC_HOST_KEYS = ("address", "alias", "user", "keyfile", "port", "extra")
MACHINE_KEYS = ("roles", "role", "number", "nodes", "cluster", "flavour", "flavor") + STATIC_HOST_KEYS
NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
RANGE_RE = re.compile(r"(?P<prefix>[A-Za-z0-9_-]*)\[(?P<spec>[^\]]*)\](?P<suffix>[A-Za-z0-9_-]*)")
ASCII_NUMBER_RE = re.compile(r"[0-9]+")
# characters no group, site, cluster or role name may hold: they are invisible in reports
CONTROL_OR_SPACE_RE = re.compile(r"[\x00-\x20\x7f-\x9f]|\s")
CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")
PLACEHOLDER_RE = re.compile(r"^<[^<>]+>", re.S)  # EnOS's `enos new` leaves `<set a ...>` to fill

# Groups the inventory makes itself: a site, cluster or role of the same name would merge with them.
ANSIBLE_GROUPS = ("all", "ungrouped")
OUR_GROUPS = ("baremetal", "enos_registry", "enos_influx", "enos_grafana", "enos_bench",
              "enos_wan_router")
KOLLA_TOP_GROUPS = ("control", "network", "compute", "storage", "monitoring", "deployment")
# Kolla's service groups most often named as roles (EnOS lets a role be a Kolla group): a site or
# cluster named like one of them would put the whole site into that service.
KOLLA_SERVICE_GROUPS = (
    "haproxy", "loadbalancer", "mariadb", "rabbitmq", "memcached", "keystone", "glance",
    "nova", "nova-api", "nova-conductor", "nova-scheduler", "nova-compute", "nova-novncproxy",
    "neutron", "neutron-server", "placement", "cinder", "heat", "horizon", "openvswitch",
    "ovn", "etcd", "redis", "prometheus", "grafana", "influxdb", "tgtd", "iscsid", "multipathd")

RESERVED_ROLES = ANSIBLE_GROUPS + OUR_GROUPS + ("enos_*", "deployment")
RESERVED_SITES = RESERVED_ROLES + KOLLA_TOP_GROUPS + KOLLA_SERVICE_GROUPS
RESERVED_CLUSTERS = RESERVED_SITES

# Bounds: beyond them a file would cost minutes or gigabytes before anyone sees a result.
MAX_FILE_BYTES = 4 * 1024 * 1024
MAX_YAML_NODES = 200000          # after alias expansion (a "billion laughs" file expands to 10^9)
MAX_YAML_DEPTH = 40
MAX_RANGE = 10000                # names out of one range
MAX_SITES = 2000                 # the constraints matrix is sites^2
MAX_HOSTS = 100000
MAX_DELAY_US = 60 * 1000000      # a minute one-way
MIN_RATE_BPS = 8                 # tc's smallest rate: one byte per second
MAX_RATE_BPS = 10 ** 13          # 10 tbit


# --------------------------------------------------------------------------- errors

def _printable(text):
    """Control characters and whitespace at the ends escaped, so that a key reads as it is."""
    text = str(text)
    inner = len(text.rstrip()), len(text) - len(text.lstrip())
    return "".join(c if c.isprintable() and (c == " " and inner[1] <= i < inner[0] or
                                             not c.isspace()) else
                   ("\\x%02x" % ord(c) if ord(c) < 256 else "\\u%04x" % ord(c))
                   for i, c in enumerate(text))


class Problem(object):
    """One thing wrong in a topology file, with where it is and how to fix it."""

    def __init__(self, path, line, key, problem, fix=None):
        self.path, self.line, self.problem, self.fix = path, line, problem, fix
        self.key = _printable(key) if key is not None else None

    def __str__(self):
        where = "%s:%s" % (self.path, self.line) if self.line else str(self.path)
        text = "%s: %s: %s" % (where, self.key or "(file)", self.problem)
        return text + (" (%s)" % self.fix if self.fix else "")


class TopologyError(Exception):
    """Raised with every problem found in a topology file; str() has one line per problem."""

    def __init__(self, problems):
        self.problems = list(problems)
        super(TopologyError, self).__init__("\n".join(str(p) for p in self.problems))


# --------------------------------------------------------------------------- YAML with lines

class Located(OrderedDict):
    """A mapping that remembers the line of each key (1-based) and its own line."""
    line = None
    key_lines = None

    def line_of(self, key):
        return (self.key_lines or {}).get(key, self.line)


class LocatedList(list):
    line = None
    item_lines = None

    def line_of(self, index):
        lines = self.item_lines or []
        return lines[index] if index < len(lines) else self.line


def _yaml_loader(path, problems):
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    def construct_mapping(loader, node):
        own = set(id(pair[0]) for pair in node.value)  # before `<<:` merges
        loader.flatten_mapping(node)
        mapping = Located()
        mapping.line = node.start_mark.line + 1
        mapping.key_lines = {}
        own_lines = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if isinstance(key, (list, dict)):
                problems.append(Problem(path, line, None, "a %s is used as a key"
                                        % ("list" if isinstance(key, list) else "mapping"),
                                        "keys are names: write `name: value`"))
                continue
            if id(key_node) in own:
                if key in own_lines:
                    problems.append(Problem(path, line, key, "duplicate key (first at line %d)"
                                            % own_lines[key],
                                            "keep one `%s:`; YAML keeps only the last" % key))
                own_lines[key] = line
            mapping.key_lines[key] = line
            mapping[key] = loader.construct_object(value_node, deep=True)
        return mapping

    def construct_sequence(loader, node):
        seq = LocatedList(loader.construct_object(child, deep=True) for child in node.value)
        seq.line = node.start_mark.line + 1
        seq.item_lines = [child.start_mark.line + 1 for child in node.value]
        return seq

    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, construct_sequence)
    return Loader


def plain(value):
    """Located mappings and lists -> plain dicts and lists (for JSON, Ansible variables)."""
    if isinstance(value, dict):
        return dict((k, plain(v)) for k, v in value.items())
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def _check_size(root, path):
    """Refuse a YAML graph whose expansion (aliases copied where they are used) or nesting is
    beyond the bounds, before anything is constructed from it."""
    import yaml
    expanded, depth, open_nodes = {}, {}, set()
    # post-order walk without recursion: aliases share nodes, so each node is sized once
    stack = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if key in expanded:
            continue
        children = []
        if isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        if not done:
            if key in open_nodes:
                raise TopologyError([Problem(path, node.start_mark.line + 1, None,
                                             "an alias refers to the value that holds it "
                                             "(a recursive structure)",
                                             "write the value out instead of the alias")])
            open_nodes.add(key)
            stack.append((node, True))
            stack.extend((child, False) for child in children if id(child) not in expanded)
            continue
        open_nodes.discard(key)
        expanded[key] = 1 + sum(expanded.get(id(c), 1) for c in children)
        depth[key] = 1 + max([depth.get(id(c), 1) for c in children] or [0])
        if expanded[key] > MAX_YAML_NODES:
            raise TopologyError([Problem(path, node.start_mark.line + 1, None,
                                         "the YAML expands to more than %d values (aliases "
                                         "copied where they are used)" % MAX_YAML_NODES,
                                         "write the values out, or use fewer nested aliases")])
        if depth[key] > MAX_YAML_DEPTH:
            raise TopologyError([Problem(path, node.start_mark.line + 1, None,
                                         "the YAML nests deeper than %d levels" % MAX_YAML_DEPTH,
                                         "a topology needs a handful of levels: flatten it")])


_FLOW_BRACKET_RE = re.compile(r"[\[\]{}]")


def _check_depth(text, path):
    """PyYAML composes nodes recursively: refuse deep nesting from the event stream first."""
    import yaml
    # PyYAML's scanner is quadratic in flow nesting ([[[...): bound the brackets first
    depth = 0
    for match in _FLOW_BRACKET_RE.finditer(text):
        depth = depth + 1 if match.group() in "[{" else max(0, depth - 1)
        if depth > MAX_YAML_DEPTH:
            raise TopologyError([Problem(path, text.count("\n", 0, match.start()) + 1, None,
                                         "the YAML nests deeper than %d levels" % MAX_YAML_DEPTH,
                                         "a topology needs a handful of levels: flatten it")])
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_YAML_DEPTH:
                raise TopologyError([Problem(path, event.start_mark.line + 1, None,
                                             "the YAML nests deeper than %d levels"
                                             % MAX_YAML_DEPTH,
                                             "a topology needs a handful of levels: flatten it")])
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def read_yaml(text, path):
    """Parse YAML text into Located mappings; raise TopologyError on syntax or duplicate keys,
    and on files whose size, nesting or alias expansion is beyond the bounds."""
    import yaml
    if len(text) > MAX_FILE_BYTES:
        raise TopologyError([Problem(path, 1, None, "the file is larger than %d MiB"
                                     % (MAX_FILE_BYTES // 2 ** 20),
                                     "a topology is a few kilobytes: describe sites with ranges "
                                     "such as grp[1-500] rather than one by one")])
    problems = []
    loader = _yaml_loader(path, problems)(text)
    try:
        _check_depth(text, path)
        root = loader.get_single_node()
        if root is None:
            return None
        _check_size(root, path)
        data = loader.construct_document(root)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise TopologyError([Problem(path, line, None, "YAML syntax error: %s" % (exc.problem or exc),
                                     "fix the indentation or quoting near this line")])
    except yaml.YAMLError as exc:
        raise TopologyError([Problem(path, 1, None, "YAML error: %s" % exc, "fix the file")])
    finally:
        loader.dispose()
    if problems:
        raise TopologyError(problems)
    return data


def read_text(path):
    """The text of a topology file; refuses what is not a readable regular UTF-8 file of a
    sensible size (a FIFO would block, /dev/zero would never end)."""
    import os
    import stat

    def refuse(problem, fix, line=1):  # a problem of the whole file is reported at its line 1
        raise TopologyError([Problem(path, line, None, problem, fix)])

    try:
        info = os.stat(path)
    except (IOError, OSError) as exc:
        refuse("cannot read the file: %s" % (exc.strerror or exc),
               "give the path of an existing topology file, or write one with `enos new`")
    if stat.S_ISDIR(info.st_mode):
        refuse("is a directory", "give the topology file inside it, e.g. %s"
               % os.path.join(str(path), "reservation.yaml"))
    if not stat.S_ISREG(info.st_mode):
        refuse("is not a regular file (a pipe, a device or a socket)",
               "save the topology to a file and give its path")
    if info.st_size > MAX_FILE_BYTES:
        refuse("the file is larger than %d MiB" % (MAX_FILE_BYTES // 2 ** 20),
               "a topology is a few kilobytes: describe sites with ranges such as grp[1-500]")
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except (IOError, OSError) as exc:
        refuse("cannot read the file: %s" % (exc.strerror or exc), "check its permissions")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        refuse("not UTF-8 text (byte 0x%02x at offset %d)" % (raw[exc.start], exc.start),
               "save the file as UTF-8", line=raw[:exc.start].count(b"\n") + 1)


# --------------------------------------------------------------------------- units

_DELAY_UNITS = {"us": 1, "usec": 1, "usecs": 1, "ms": 1000, "msec": 1000, "msecs": 1000,
                "s": 1000000, "sec": 1000000, "secs": 1000000}
_RATE_UNITS = {"bit": 1, "kbit": 10 ** 3, "mbit": 10 ** 6, "gbit": 10 ** 9, "tbit": 10 ** 12,
               "kibit": 2 ** 10, "mibit": 2 ** 20, "gibit": 2 ** 30, "tibit": 2 ** 40,
               "bps": 8, "kbps": 8 * 10 ** 3, "mbps": 8 * 10 ** 6, "gbps": 8 * 10 ** 9,
               "tbps": 8 * 10 ** 12, "kibps": 8 * 2 ** 10, "mibps": 8 * 2 ** 20,
               "gibps": 8 * 2 ** 30, "tibps": 8 * 2 ** 40}
_NUMBER_UNIT_RE = re.compile(r"^\s*(?P<num>[0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*(?P<unit>[A-Za-z%]*)\s*$")


class UnitError(ValueError):
    pass


def _split_number(value, what, example, bare=False):
    """(number, unit or None). A number without unit is refused unless it is 0 or `bare`."""
    if isinstance(value, bool) or value is None:
        raise UnitError("%r is not a %s (write e.g. %s)" % (value, what, example))
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            raise UnitError("%r is not a %s (write e.g. %s)" % (value, what, example))
        if value < 0:
            raise UnitError("%s must not be negative (write e.g. %s)" % (what, example))
        if value == 0 or bare:
            return float(value), None
        raise UnitError("%r has no unit (write e.g. %s)" % (value, example))
    text = str(value).strip()
    if text.startswith("-"):
        raise UnitError("%s must not be negative: %r (write e.g. %s)" % (what, value, example))
    match = _NUMBER_UNIT_RE.match(text)
    if not match:
        raise UnitError("%r is not a %s (write e.g. %s)" % (value, what, example))
    number = float(match.group("num"))
    unit = match.group("unit").lower() or None
    if unit is None and number != 0 and not bare:
        raise UnitError("%r has no unit (write e.g. %s)" % (value, example))
    return number, unit


def parse_delay(value):
    """'10ms' -> 10000 (microseconds). Units: us, ms, s (tc's spellings); 1us to 60s."""
    number, unit = _split_number(value, "delay", "10ms, 500us or 1s")
    if unit is None:
        return 0
    if unit not in _DELAY_UNITS:
        raise UnitError("unknown delay unit %r in %r (use us, ms or s)" % (unit, value))
    exact = number * _DELAY_UNITS[unit]
    if 0 < exact < 1:
        raise UnitError("delay %r is below 1us, the resolution of tc: it would round to no delay "
                        "(write 0, or at least 1us)" % (value,))
    if exact > MAX_DELAY_US:
        raise UnitError("delay %r is above the limit of %s (write at most %s)"
                        % (value, format_delay(MAX_DELAY_US), format_delay(MAX_DELAY_US)))
    return int(round(exact))


def parse_rate(value):
    """'1gbit' -> 1000000000 (bit/s). bit/kbit/mbit/gbit/tbit; bps/kbps/... are bytes/s (tc)."""
    number, unit = _split_number(value, "rate", "100mbit, 1gbit or 10mbps")
    if unit is None:
        raise UnitError("a rate of 0 would cut the link (leave `rate` out for no limit)")
    if unit not in _RATE_UNITS:
        raise UnitError("unknown rate unit %r in %r (use bit, kbit, mbit, gbit, or bps, "
                        "kbps, mbps, gbps for bytes per second)" % (unit, value))
    bits = int(round(number * _RATE_UNITS[unit]))
    if bits < MIN_RATE_BPS:
        raise UnitError("rate %r is below tc's smallest rate, %dbit (one byte per second) "
                        "(write at least 8bit, or leave `rate` out for no limit)"
                        % (value, MIN_RATE_BPS))
    if bits > MAX_RATE_BPS:
        limit = format_rate(MAX_RATE_BPS)
        raise UnitError("rate %r is above the limit of %s (write at most %s, or leave `rate` "
                        "out for no limit)" % (value, limit, limit))
    return bits


def parse_loss(value):
    """'0.1%' -> 0.1 (percent). A bare number is a percentage too (EnOSlib: `loss: 0.1`)."""
    number, unit = _split_number(value, "loss", "0.1%", bare=True)
    if unit not in (None, "%"):
        raise UnitError("unknown loss unit %r in %r (write a percentage, e.g. 0.1%%)" % (unit, value))
    if number > 100:
        raise UnitError("loss %r is above 100%% (write a percentage between 0 and 100)" % (value,))
    return number


def format_delay(us):
    if us % 1000000 == 0 and us:
        return "%ds" % (us // 1000000)
    if us % 1000 == 0:
        return "%dms" % (us // 1000)
    return "%dus" % us


def format_rate(bps):
    for unit, factor in (("tbit", 10 ** 12), ("gbit", 10 ** 9), ("mbit", 10 ** 6), ("kbit", 10 ** 3)):
        if bps % factor == 0:
            return "%d%s" % (bps // factor, unit)
    return "%dbit" % bps


# --------------------------------------------------------------------------- ranges

def expand_range(name):
    """'grp[2-4]' -> ['grp2', 'grp3', 'grp4']; 'grp[1,3-4]x' -> ['grp1x', 'grp3x', 'grp4x'].

    Zero-padded bounds keep their width ('n[01-03]' -> n01, n02, n03)."""
    text = str(name)
    if "[" not in text and "]" not in text:
        return [text]
    match = RANGE_RE.fullmatch(text)
    if not match:
        raise UnitError("malformed range %r (write e.g. grp[2-4] or grp[1,3,5-7])" % text)
    names = []
    for part in match.group("spec").split(","):
        part = part.strip()
        bounds = part.split("-")
        # only ASCII digits: str.isdigit() also takes '²' or '١', which are not 1, 2, 3
        if not part or len(bounds) > 2 or not all(ASCII_NUMBER_RE.fullmatch(b) for b in bounds):
            raise UnitError("malformed range %r: %r is not N or N-M with digits 0-9 "
                            "(write e.g. grp[2-4])" % (text, part))
        low, high = int(bounds[0]), int(bounds[-1])
        if low > high:
            raise UnitError("malformed range %r: %d-%d goes downwards (write %d-%d)"
                            % (text, low, high, high, low))
        if len(names) + high - low + 1 > MAX_RANGE:
            raise UnitError("range %r gives more than %d names (split the topology, or "
                            "describe at most %d sites or hosts per range)"
                            % (text, MAX_RANGE, MAX_RANGE))
        width = len(bounds[0]) if bounds[0].startswith("0") else 0
        names.extend("%s%0*d%s" % (match.group("prefix"), width, i, match.group("suffix"))
                     for i in range(low, high + 1))
    return names


# --------------------------------------------------------------------------- model

class Host(object):
    """A machine of the topology (before or after a provider gave it an address)."""

    def __init__(self, name, site, roles, cluster=None, index=1, address=None, user=None,
                 keyfile=None, port=None, extra=None):
        self.name, self.site, self.roles, self.cluster, self.index = name, site, roles, cluster, index
        self.address, self.user, self.keyfile, self.port = address, user, keyfile, port
        self.extra = extra or {}

    def as_dict(self):
        fields = ("name", "site", "roles", "cluster", "index", "address", "user", "keyfile",
                  "port", "extra")
        return dict((k, getattr(self, k)) for k in fields)

    def __repr__(self):
        return "Host(%r, site=%r, roles=%r)" % (self.name, self.site, self.roles)


class Link(object):
    """What packets from one site to another must see: one-way delay on the sender's side."""
    FIELDS = ("delay_us", "jitter_us", "rate_bps", "loss_pct", "network", "origin")

    def __init__(self, delay_us=0, jitter_us=0, rate_bps=None, loss_pct=None, network=None,
                 origin="default"):
        self.delay_us, self.jitter_us, self.rate_bps = delay_us, jitter_us, rate_bps
        self.loss_pct, self.network, self.origin = loss_pct, network, origin

    @property
    def shaped(self):
        return bool(self.delay_us or self.jitter_us or self.rate_bps or self.loss_pct)

    def as_dict(self):
        return dict((f, getattr(self, f)) for f in self.FIELDS)

    def __eq__(self, other):
        return isinstance(other, Link) and self.as_dict() == other.as_dict()

    def __repr__(self):
        return "Link(%s)" % ", ".join("%s=%r" % (f, getattr(self, f)) for f in self.FIELDS)


class Topology(object):
    """A validated topology. Build it with load_topology() or parse_topology()."""

    def __init__(self, path):
        self.path = path
        self.provider = {"type": "local"}
        self.hosts = []
        self.registry = {"type": "internal", "port": REGISTRY_PORT}
        self.kolla = {}
        self.kolla_ansible = None
        self.docker_version = None
        self.inventory = None
        self.enable_monitoring = False
        self.placement = {}
        self.networks = []
        self.warnings = []
        self.grouped = False
        self.constraints = {"enabled": False, "default": Link().as_dict(), "members": [],
                            "constraints": []}
        self.raw = {}

    @property
    def sites(self):
        sites = OrderedDict()
        for host in self.hosts:
            sites.setdefault(host.site, []).append(host)
        return sites

    @property
    def roles(self):
        roles = OrderedDict()
        for host in self.hosts:
            for role in host.roles:
                roles.setdefault(role, []).append(host)
        return roles

    @property
    def clusters(self):
        clusters = OrderedDict()
        for host in self.hosts:
            if host.cluster:
                clusters.setdefault(host.cluster, []).append(host)
        return clusters

    def host(self, name):
        for host in self.hosts:
            if host.name == name:
                return host
        raise KeyError(name)

    def links(self, sources=None):
        """{(src_site, dst_site): Link} for every ordered pair that is shaped (see expand_links)."""
        return expand_links(self.constraints, sources)

    def iter_link_dicts(self):
        """{src, dst, delay_us, ...} for every shaped pair, produced one at a time."""
        for src, dst, fields in iter_links(self.constraints):
            row = dict(Link().as_dict(), src=src, dst=dst)
            row.update(fields)
            yield row

    def summary(self, links=True):
        """Plain data for `enos check` and the driver (`links=False`: without the O(sites^2)
        list of links, which iter_link_dicts() gives one at a time)."""
        data = {
            "file": str(self.path),
            "provider": self.provider.get("type"),
            "sites": OrderedDict((s, [h.name for h in hs]) for s, hs in self.sites.items()),
            "roles": OrderedDict((r, len(hs)) for r, hs in self.roles.items()),
            "hosts": len(self.hosts),
            "registry": self.registry.get("type"),
            "placement": dict(self.placement),
        }
        if links:
            data["links"] = list(self.iter_link_dicts())
        return data


def load_topology(path):
    """Read and validate a topology file; raise TopologyError listing every problem."""
    return parse_topology(read_yaml(read_text(path), path), path)


def parse_topology(data, path="<topology>"):
    """Validate already-loaded data (Located mappings keep line numbers; plain dicts work too)."""
    return _Parser(data, path).parse()


# --------------------------------------------------------------------------- parser

def _line(container, key):
    getter = getattr(container, "line_of", None)
    return getter(key) if getter else None


def _did_you_mean(word, choices):
    close = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return "did you mean `%s`?" % close[0] if close else None


def _is_count(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _is_static_entry(value):
    """A static host ({address: ...}) or a list of them, rather than counts of machines."""
    return isinstance(value, list) or (isinstance(value, dict) and "address" in value)


def _name_problem(name, what, reserved=()):
    """(problem, fix) when `name` cannot name a site, cluster or role; else None."""
    if name is None:
        return ("a null key cannot name a %s" % what,
                "write the %s's name before the colon" % what)
    if isinstance(name, bool):
        return ("YAML reads this key as the boolean %s, not as a %s name" % (str(name).lower(), what),
                "quote it: yes, no, on, off, true and false are booleans in YAML")
    if not isinstance(name, str):
        return ("%r is a %s, not a %s name" % (name, type(name).__name__, what),
                "start the name with a letter, e.g. %s%s" % (what[:3], name))
    if not name or name != name.strip() or CONTROL_RE.search(name):
        return ("%r holds a control character or leading or trailing whitespace" % name,
                "use letters, digits, - and _ only")
    if what != "cluster" and CONTROL_OR_SPACE_RE.search(name):
        # a cluster may be a flavour with spaces; a site or role is a group name
        return ("%r holds whitespace" % name, "use letters, digits, - and _ only")
    if name in reserved or (name.startswith("enos_") and "enos_*" in reserved):
        return ("%r is a group the inventory makes itself (%s): a %s of that name would merge "
                "with it" % (name, _group_origin(name), what),
                "rename the %s, e.g. %s-%s" % (what, what, name))
    return None


def _group_origin(name):
    if name in ANSIBLE_GROUPS:
        return "Ansible's own group"
    if name in OUR_GROUPS or name.startswith("enos_"):
        return "edge.enos's group"
    return "Kolla's group"


class _Parser(object):

    def __init__(self, data, path):
        self.data, self.path = data, path
        self.problems = []
        self.topo = Topology(path)
        self.places = OrderedDict()   # (kind, name) -> where it is first named, for messages
        self.static_hosts = {}        # alias or address -> (host, line, fields)
        self.too_many = False

    # helpers ---------------------------------------------------------------
    def error(self, container, key, dotted, problem, fix=None):
        self.problems.append(Problem(self.path, _line(container, key), dotted, problem, fix))

    def warn(self, container, key, dotted, message):
        self.notice(container, key, dotted, "deprecated: " + message)

    def notice(self, container, key, dotted, message):
        self.topo.warnings.append(str(Problem(self.path, _line(container, key), dotted, message)))

    def unknown_keys(self, container, known, dotted):
        """An error for every key of `container` that is not in `known`, with a did-you-mean."""
        for key in container:
            if key not in known:
                self.error(container, key, "%s.%s" % (dotted, key), "unknown key",
                           _did_you_mean(key, known) or "known keys: %s" % ", ".join(known))

    def mapping(self, container, key, dotted, value=None):
        value = container.get(key) if value is None else value
        if not isinstance(value, dict):
            self.error(container, key, dotted, "must be a mapping, got %s" % type(value).__name__,
                       "indent the entries under `%s:`" % key)
            return None
        return value

    # top level -------------------------------------------------------------
    def parse(self):
        data = self.data
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise TopologyError([Problem(self.path, getattr(data, "line", 1), None,
                                         "the file must be a YAML mapping of keys such as "
                                         "provider, resources, topology",
                                         "see `enos new` for a starting file")])
        self.topo.raw = data
        plugin = data.get("plugin")
        if "plugin" in data and plugin != "edge.enos.topology":
            self.error(data, "plugin", "plugin", "%r is not this collection's inventory plugin"
                       % (plugin,), "write `plugin: edge.enos.topology`, or remove the line")
        for key in data:
            if key in DEPRECATED_KEYS:
                self.warn(data, key, key, DEPRECATED_KEYS[key])
            elif key not in TOP_LEVEL_KEYS:
                hint = _did_you_mean(key, TOP_LEVEL_KEYS)
                self.error(data, key, key, "unknown key",
                           hint or "known keys: %s" % ", ".join(TOP_LEVEL_KEYS[:11]))
        self.parse_provider(data)
        self.parse_machines(data)
        self.parse_registry(data)
        self.parse_kolla(data)
        self.parse_placement(data)
        if "network_constraints" in data:
            self.parse_constraints(data)
        if self.problems:
            raise TopologyError(self.problems)
        topo = self.topo
        topo.provider, topo.registry, topo.kolla = plain(topo.provider), plain(topo.registry), plain(topo.kolla)
        topo.networks, topo.kolla_ansible = plain(topo.networks), plain(topo.kolla_ansible)
        topo.inventory = plain(topo.inventory)
        for host in topo.hosts:
            host.extra = plain(host.extra)
        return topo

    def parse_provider(self, data):
        provider = data.get("provider", "local")
        if isinstance(provider, str):
            provider = {"type": provider}
        elif not isinstance(provider, dict):
            self.error(data, "provider", "provider", "must be a provider name or a mapping",
                       "write `provider: local` or `provider: {type: g5k, ...}`")
            return
        ptype = provider.get("type")
        if ptype not in PROVIDERS:
            hint = _did_you_mean(ptype, PROVIDERS) if ptype else None
            located = isinstance(provider, Located) and "type" in provider
            self.error(provider if located else data, "type" if located else "provider",
                       "provider.type",
                       "unknown provider %r" % (ptype,) if ptype else "missing",
                       hint or "choose one of: %s" % ", ".join(PROVIDERS))
        self.topo.provider = dict(provider)
        networks = provider.get("networks") or []
        for net in networks if isinstance(networks, list) else []:
            if isinstance(net, dict):
                self.topo.networks.append(dict(net))
        for key, value in provider.items():
            self.placeholder(provider, key, "provider.%s" % key, value)

    def placeholder(self, container, key, dotted, value):
        if isinstance(value, str) and PLACEHOLDER_RE.match(value.strip()):
            self.notice(container, key, dotted, "still holds the placeholder %r that `enos new` "
                        "wrote: fill it in before `enos up`" % value)

    # machines --------------------------------------------------------------
    def parse_machines(self, data):
        provider = data.get("provider") if isinstance(data.get("provider"), dict) else {}
        resources = data.get("resources")
        static = self.topo.provider.get("type") == "static"
        if "topology" in data:
            if "resources" in data:
                self.notice(data, "resources", "resources",
                            "`topology` is given, so `resources` is ignored (as in EnOS); "
                            "remove one of them")
            self.parse_grouped(data)
        elif isinstance(provider.get("resources"), dict) and "resources" not in data:
            self.parse_provider_machines(provider["resources"], "provider.resources")
        elif isinstance(resources, dict) and "machines" in resources:
            self.parse_provider_machines(resources, "resources")  # EnOS 8 / EnOSlib form
        elif isinstance(resources, str) and PLACEHOLDER_RE.match(resources.strip()):
            self.error(data, "resources", "resources", "still holds the placeholder %r that "
                       "`enos new` wrote" % resources,
                       "describe the machines: role -> [{address, user, keyfile}] for static "
                       "hosts, as `enos new -p static` writes them, or role -> count")
        elif "resources" in data:
            if static or self._looks_static(resources):
                self.parse_static(data)
            else:
                self.parse_flat(data)
        else:
            self.error(data, None, "resources",
                       "no machines described",
                       "add `resources:` (role: count), `topology:` (site: cluster: role: count) "
                       "or `provider.resources.machines`")
        if not self.topo.hosts and not self.problems:
            self.error(data, "topology" if "topology" in data else "resources",
                       "topology" if "topology" in data else "resources",
                       "zero machines in total", "ask for at least one machine")
        if static and not self.problems:
            missing = [h.name for h in self.topo.hosts if not h.address]
            if missing:
                key = "topology" if "topology" in data else "resources"
                verb = "has" if len(missing) == 1 else "have"
                self.error(data, key, key, "the static provider needs the address of every "
                           "machine; %s %s none" % (", ".join(missing[:5]), verb),
                           "write each machine as `{address: 10.0.0.5, user: root, keyfile: "
                           "~/.ssh/id_rsa}` under its role (see `enos new -p static`)")
        self._check_unique_names()
        self._check_group_collisions()

    def _looks_static(self, resources):
        return isinstance(resources, dict) and any(_is_static_entry(v) for v in resources.values())

    def name_ok(self, container, key, dotted, name, what, reserved=()):
        """Whether `name` may name a site, cluster or role (an error says why not)."""
        problem = _name_problem(name, what, reserved)
        if problem:
            self.error(container, key, dotted, *problem)
        return problem is None

    def _place(self, kind, name, container, key, dotted):
        if (kind, name) not in self.places and kind == "cluster":
            self.placeholder(container, key, dotted, name)
        self.places.setdefault((kind, name), (container, key, dotted))

    def _add_counted(self, site, cluster, roles_counts, container, dotted, counters, lines=None):
        """roles_counts: {role: count} under a cluster (or flat); lines: where the roles are."""
        lines = roles_counts if lines is None else lines
        if not isinstance(roles_counts, dict):
            self.error(container, cluster, dotted, "must map roles to machine counts",
                       "write e.g. `%s: {control: 1, compute: 2}`" % (cluster or "resources"))
            return
        for role, count in roles_counts.items():
            key = "%s.%s" % (dotted, role)
            if not self.name_ok(lines, role, key, role, "role", RESERVED_ROLES):
                continue
            if not NAME_RE.fullmatch(role):
                self.error(lines, role, key, "%r is not a valid role name" % (role,),
                           "use letters, digits, - and _ (e.g. compute, nova-conductor)")
                continue
            if not _is_count(count):
                self.error(lines, role, key, "machine count %r is not an integer" % (count,),
                           "write a whole number, e.g. `%s: 2`" % role)
                continue
            if count < 0:
                self.error(lines, role, key, "negative machine count %d" % count,
                           "write 0 or more")
                continue
            if not self._room_for(count, lines, role, key):
                return
            self._place("role", role, lines, role, key)
            for _number in range(count):
                self._new_host(site, [role], cluster, counters)

    def _room_for(self, count, container, key, dotted):
        if len(self.topo.hosts) + count <= MAX_HOSTS:
            return True
        if not self.too_many:
            self.error(container, key, dotted, "more than %d machines in total" % MAX_HOSTS,
                       "describe at most %d machines, or split the experiment" % MAX_HOSTS)
        self.too_many = True
        return False

    def _new_host(self, site, roles, cluster, counters, name=None, **attrs):
        prefix = "%s-%s" % (site, roles[0]) if self.topo.grouped else roles[0]
        counters[prefix] = counters.get(prefix, 0) + 1
        host = Host(name or "%s-%d" % (prefix, counters[prefix]), site, list(roles), cluster,
                    counters[prefix], **attrs)
        self.topo.hosts.append(host)
        return host

    def parse_flat(self, data):
        """resources: {role: count} or {cluster: {role: count}}; each role is a site."""
        resources = self.mapping(data, "resources", "resources")
        if resources is None:
            return
        counters = {}
        for key, value in resources.items():
            if isinstance(value, dict):
                dotted = "resources.%s" % key
                if not self.name_ok(resources, key, dotted, key, "cluster", RESERVED_CLUSTERS):
                    continue
                self._place("cluster", key, resources, key, dotted)
                for role, count in value.items():
                    self._add_counted(role, key, {role: count}, value, dotted, counters,
                                      lines=value)
            else:
                self._add_counted(key, None, {key: value}, resources, "resources", counters,
                                  lines=resources)

    def parse_grouped(self, data):
        topology = self.mapping(data, "topology", "topology")
        if topology is None:
            return
        self.topo.grouped = True
        counters = {}
        seen = {}
        for group_key, clusters in topology.items():
            dotted = "topology.%s" % group_key
            if not self.name_ok(topology, group_key, dotted, group_key, "site"):
                continue
            try:
                sites = expand_range(group_key)
            except UnitError as exc:
                self.error(topology, group_key, dotted, str(exc))
                continue
            if not isinstance(clusters, dict):
                self.error(topology, group_key, dotted, "must map clusters to {role: count}",
                           "write e.g. `%s: {paravance: {compute: 1}}`" % group_key)
                continue
            if len(seen) + len(sites) > MAX_SITES:
                self.error(topology, group_key, dotted, "more than %d sites in total" % MAX_SITES,
                           "describe at most %d sites, or split the experiment: the WAN matrix "
                           "grows as the square of the sites" % MAX_SITES)
                return
            for site in sites:
                if not NAME_RE.fullmatch(site):
                    self.error(topology, group_key, dotted, "%r is not a valid site name" % site,
                               "start with a letter; use letters, digits, - and _")
                    continue
                if not self.name_ok(topology, group_key, dotted, site, "site", RESERVED_SITES):
                    continue
                if site in seen:
                    self.error(topology, group_key, dotted, "site %r is described twice (also by "
                               "`%s`)" % (site, seen[site]), "describe each site once")
                    continue
                seen[site] = group_key
                self._place("site", site, topology, group_key, dotted)
                for cluster, roles_counts in clusters.items():
                    where = "%s.%s" % (dotted, cluster)
                    if _is_static_entry(roles_counts):  # site -> role -> host or [hosts]
                        if self.name_ok(clusters, cluster, where, cluster, "role", RESERVED_ROLES):
                            self._place("role", cluster, clusters, cluster, where)
                            self._static_hosts(site, cluster, roles_counts, clusters, cluster,
                                               where, counters)
                        continue
                    if _is_count(roles_counts):
                        self.error(clusters, cluster, where,
                                   "a site maps clusters to roles, not roles to counts",
                                   "write `%s: {<cluster>: {%s: %s}}`"
                                   % (group_key, cluster, roles_counts))
                        continue
                    if not self.name_ok(clusters, cluster, where, cluster, "cluster",
                                        RESERVED_CLUSTERS):
                        continue
                    self._place("cluster", cluster, clusters, cluster, where)
                    self._add_counted(site, cluster, roles_counts, clusters, where, counters)

    def parse_static(self, data):
        """resources: {role: [{address, alias, user, keyfile, port}] or {address...}}."""
        resources = self.mapping(data, "resources", "resources")
        if resources is None:
            return
        counters = {}
        for role, entries in resources.items():
            dotted = "resources.%s" % role
            if not self.name_ok(resources, role, dotted, role, "role", RESERVED_ROLES):
                continue
            self._place("role", role, resources, role, dotted)
            self._static_hosts(role, role, entries, resources, role, dotted, counters)

    def _static_hosts(self, site, role, entries, container, key, dotted, counters):
        """One role's static hosts: a host mapping or a list of them."""
        listed = isinstance(entries, list)
        if not listed:
            entries = [entries]
        if not entries or not all(isinstance(e, dict) for e in entries):
            self.error(container, key, dotted, "the static provider needs each machine's "
                       "address: a host or a list of hosts {address, alias, user, keyfile, port}",
                       "write `%s: [{address: 10.0.0.5, user: root}]`" % role)
            return
        for index, entry in enumerate(entries):
            item = "%s[%d]" % (dotted, index) if listed else dotted
            where = (entries, index) if isinstance(entries, LocatedList) else (container, key)
            if self._static_entry_ok(entry, where, item):
                self._add_static(entry, site, [role], None, counters, where, item)

    def _static_entry_ok(self, entry, where, dotted):
        ok = True
        if not entry.get("address"):
            self.error(where[0], where[1], dotted, "a static host needs an `address`",
                       "write `{address: 10.0.0.5, user: root, keyfile: ~/.ssh/id_rsa}`")
            ok = False
        self.unknown_keys(entry, STATIC_HOST_KEYS + tuple(k for k in MACHINE_KEYS
                                                          if k in entry), dotted)
        for field in ("address", "alias", "user", "keyfile"):
            value = entry.get(field)
            if value is not None and (not isinstance(value, (str, int)) or isinstance(value, bool)
                                      or CONTROL_OR_SPACE_RE.search(str(value))):
                self.error(entry, field, "%s.%s" % (dotted, field),
                           "%r is not a valid %s" % (value, field),
                           "write it as text without spaces or control characters")
                ok = False
        port = entry.get("port")
        if port is not None and (not _is_count(port) or not 0 < port < 65536):
            self.error(entry, "port", dotted + ".port", "%r is not a TCP port" % (port,),
                       "write a number between 1 and 65535, e.g. 22 for SSH")
            ok = False
        return ok

    def _add_static(self, entry, site, roles, cluster, counters, where, dotted):
        alias = entry.get("alias")
        address = str(entry["address"])
        fields = (address, entry.get("user"), entry.get("keyfile"), entry.get("port"))
        identity = str(alias) if alias is not None else address
        if identity in self.static_hosts:
            host, first_line, first_fields = self.static_hosts[identity]
            if alias is not None and fields != first_fields:
                self.error(where[0], where[1], dotted, "alias %r already names another host "
                           "(line %s: %s)" % (identity, first_line, first_fields[0]),
                           "give each host its own alias, or repeat the same address, user, "
                           "keyfile and port when one machine holds several roles")
            elif self.topo.grouped and host.site != site:
                self.error(where[0], where[1], dotted, "host %r is already in site %r"
                           % (identity, host.site), "a machine belongs to one site")
            else:
                host.roles.extend(r for r in roles if r not in host.roles)
            return
        if not self._room_for(1, where[0], where[1], dotted):
            return
        host = self._new_host(site, roles, cluster, counters,
                              name=str(alias) if alias is not None else None, address=address,
                              user=entry.get("user"), keyfile=entry.get("keyfile"),
                              port=entry.get("port"), extra=entry.get("extra"))
        self.static_hosts[identity] = (host, _line(*where), fields)

    def parse_provider_machines(self, resources, prefix):
        """{machines: [{role(s), number|nodes, cluster, flavo(u)r}], networks}; a machine with
        an `address` is a static host (EnOSlib's static provider)."""
        machines = resources.get("machines")
        if not isinstance(machines, list) or not machines:
            self.error(resources, "machines", prefix + ".machines",
                       "must be a non-empty list", "write `machines: [{roles: [control], number: 1}]`")
            return
        counters = {}
        for index, machine in enumerate(machines):
            dotted = "%s.machines[%d]" % (prefix, index)
            if not isinstance(machine, dict):
                self.error(machines, index, dotted, "must be a mapping", "write `{roles: [...], number: 1}`")
                continue
            roles = machine.get("roles", machine.get("role"))
            roles = [roles] if isinstance(roles, str) else roles
            if not roles or not isinstance(roles, list):
                self.error(machine, None, dotted + ".roles", "missing", "write `roles: [compute]`")
                continue
            if not all(self.name_ok(machine, "roles" if "roles" in machine else "role",
                                    dotted + ".roles", r, "role", RESERVED_ROLES) for r in roles):
                continue
            roles = [str(r) for r in roles]
            for role in roles:
                self._place("role", role, machine, None, dotted + ".roles")
            cluster = machine.get("cluster") or machine.get("flavour") or machine.get("flavor")
            if cluster is not None:
                if not self.name_ok(machine, None, dotted + ".cluster", cluster, "cluster",
                                    RESERVED_CLUSTERS):
                    continue
                self._place("cluster", cluster, machine, None, dotted + ".cluster")
            if "address" in machine:
                if self._static_entry_ok(machine, (machines, index), dotted):
                    self._add_static(machine, roles[0], roles, cluster, counters,
                                     (machines, index), dotted)
                continue
            count_key = "number" if "number" in machine else "nodes"
            count = machine.get(count_key, 1)
            if not _is_count(count) or count < 0:
                self.error(machine, count_key, "%s.%s" % (dotted, count_key),
                           "machine count %r is not a non-negative integer" % (count,),
                           "write a whole number, e.g. `%s: 2`" % count_key)
                continue
            if not self._room_for(count, machine, count_key, "%s.%s" % (dotted, count_key)):
                return
            for _number in range(count):
                self._new_host(roles[0], roles, cluster, counters)
        networks = resources.get("networks") or []
        for net in networks if isinstance(networks, list) else []:
            self.topo.networks.append(dict(net) if isinstance(net, dict) else {"roles": [net]})

    def _check_unique_names(self):
        names = {}
        for host in self.topo.hosts:
            if host.name in names:
                self.problems.append(Problem(self.path, None, "resources",
                                             "two machines are both named %r" % host.name,
                                             "give each static host its own alias"))
            names[host.name] = host

    def _check_group_collisions(self):
        """A site or cluster named like a role would merge with that role's group."""
        roles = set(self.topo.roles)
        sites = set(self.topo.sites) if self.topo.grouped else set()
        for (kind, name), (container, key, dotted) in self.places.items():
            if kind == "site" and name in roles:
                self.error(container, key, dotted, "site %r is also a role of this topology: "
                           "their groups would merge in the inventory" % name,
                           "rename the site, e.g. site-%s" % name)
            elif kind == "cluster" and (name in roles or name in sites):
                self.error(container, key, dotted, "cluster %r is also a %s of this topology: "
                           "their groups would merge in the inventory"
                           % (name, "role" if name in roles else "site"),
                           "rename the cluster, e.g. cluster-%s" % name)

    # registry, kolla, placement ------------------------------------------------
    def parse_registry(self, data):
        registry = data.get("registry", {"type": "internal"})
        if registry is None:
            registry = {"type": "none"}
        if not isinstance(registry, dict):
            self.error(data, "registry", "registry", "must be a mapping",
                       "write `registry: {type: internal}`")
            return
        rtype = registry.get("type", "internal")
        if rtype not in REGISTRY_TYPES:
            self.error(registry, "type", "registry.type", "unknown registry type %r" % (rtype,),
                       _did_you_mean(rtype, REGISTRY_TYPES) or "use internal, external or none")
        if rtype == "external" and not registry.get("ip"):
            self.error(registry, "type", "registry.ip", "an external registry needs its `ip`",
                       "write `registry: {type: external, ip: 10.0.0.2, port: %d}`" % REGISTRY_PORT)
        port = registry.get("port", REGISTRY_PORT)
        if not _is_count(port) or not 0 < port < 65536:
            self.error(registry, "port", "registry.port", "%r is not a TCP port" % (port,),
                       "write a number between 1 and 65535")
        if registry.get("ceph"):
            self.warn(registry, "ceph", "registry.ceph", "a Ceph-backed registry is not "
                      "supported; the registry stores images on its node's disk")
        self.topo.registry = dict(registry, type=rtype, port=port)

    def parse_kolla(self, data):
        kolla = data.get("kolla") or {}
        if not isinstance(kolla, dict):
            self.error(data, "kolla", "kolla", "must be a mapping of globals.yml overrides",
                       "write e.g. `kolla: {enable_heat: 'no'}`")
            kolla = {}
        for key in kolla:
            if key in DEPRECATED_KOLLA_KEYS:
                self.warn(kolla, key, "kolla.%s" % key, DEPRECATED_KOLLA_KEYS[key])
        self.topo.kolla = dict(kolla)
        version = data.get("kolla-ansible")
        if isinstance(version, dict):
            version = dict(version)
        elif version is not None:
            version = str(version)
        self.topo.kolla_ansible = version
        self.topo.inventory = data.get("inventory")
        docker_version = data.get("docker_version")
        if docker_version is not None:
            if isinstance(docker_version, (dict, list, bool)):
                self.error(data, "docker_version", "docker_version", "must be a version string",
                           "write e.g. `docker_version: '5:24.0.*'`, or leave it out")
            else:
                self.topo.docker_version = str(docker_version)
                self.notice(data, "docker_version", "docker_version", "not applied: the docker "
                            "role installs the engine of `docker_install_source` (pin a version "
                            "with the role variable docker_repository_packages, e.g. "
                            "[docker-ce=%s])" % docker_version)
        monitoring = data.get("enable_monitoring", False)
        if not isinstance(monitoring, bool):
            self.error(data, "enable_monitoring", "enable_monitoring", "must be true or false",
                       "write `enable_monitoring: true`")
        self.topo.enable_monitoring = bool(monitoring)

    def parse_placement(self, data):
        placement = data.get("placement") or {}
        if not isinstance(placement, dict):
            self.error(data, "placement", "placement", "must map services to a host or role",
                       "write e.g. `placement: {registry: grp1-control-1}`")
            placement = {}
        names = dict((h.name, h) for h in self.topo.hosts)
        roles = self.topo.roles
        for service in SERVICES:
            wanted = placement.get(service)
            if wanted is None:
                host = self._default_placement(roles)
            elif not isinstance(wanted, str):
                self.error(placement, service, "placement.%s" % service,
                           "must name one host, role or site", "write e.g. `%s: control-1`" % service)
                continue
            elif wanted in names:
                host = names[wanted]
            elif wanted in roles:
                host = roles[wanted][0]
            elif wanted in self.topo.sites:
                host = self.topo.sites[wanted][0]
            else:
                self.error(placement, service, "placement.%s" % service,
                           "%r is neither a host, a role nor a site of this topology" % (wanted,),
                           _did_you_mean(wanted, list(names) + list(roles)) or
                           "name one of: %s" % ", ".join(list(names)[:5]))
                continue
            if host is not None:
                self.topo.placement[service] = host.name
        for service in placement:
            if service not in SERVICES:
                self.error(placement, service, "placement.%s" % service, "unknown service",
                           _did_you_mean(service, SERVICES) or "use one of: %s" % ", ".join(SERVICES))

    @staticmethod
    def _default_placement(roles):
        for role in ("control", "network", "compute"):
            if roles.get(role):
                return roles[role][0]
        for hosts in roles.values():
            return hosts[0]
        return None

    # network constraints ------------------------------------------------------
    def _units(self, container, key, dotted, parser, default=None):
        if key not in container:
            return default
        try:
            return parser(container[key])
        except UnitError as exc:
            self.error(container, key, dotted, str(exc))
            return default

    def _groups(self, container, key, dotted, known):
        """A group name, a range or a list of them -> [group] (errors for unknown groups)."""
        value = container.get(key)
        items = value if isinstance(value, list) else [value]
        groups = []
        for item in items:
            if not isinstance(item, str) or not item:
                self.error(container, key, dotted, "must name groups (e.g. grp1 or grp[2-4])",
                           "write a group name, a range, or a list of them")
                continue
            try:
                expanded = expand_range(item)
            except UnitError as exc:
                self.error(container, key, dotted, str(exc))
                continue
            for group in expanded:
                if group not in known:
                    self.error(container, key, dotted, "group %r does not exist" % group,
                               _did_you_mean(group, known) or
                               ("groups of this topology: %s" % ", ".join(known) if known
                                else "describe the sites first: this topology has none"))
                else:
                    groups.append(group)
        return groups

    def parse_constraints(self, data):
        nc = self.mapping(data, "network_constraints", "network_constraints")
        if nc is None:
            return
        self.unknown_keys(nc, NETWORK_CONSTRAINT_KEYS, "network_constraints")
        known = list(self.topo.sites)
        prefix = "network_constraints."
        default = Link(
            delay_us=self._units(nc, "default_delay", prefix + "default_delay", parse_delay, 0),
            jitter_us=self._units(nc, "default_jitter", prefix + "default_jitter", parse_delay, 0),
            rate_bps=self._units(nc, "default_rate", prefix + "default_rate", parse_rate),
            loss_pct=self._units(nc, "default_loss", prefix + "default_loss", parse_loss),
            network=self._network(nc, "default_network", prefix + "default_network"),
            origin="default")
        groups = self._groups(nc, "groups", prefix + "groups", known) if "groups" in nc else known
        excluded = set(self._groups(nc, "except", prefix + "except", known)) if "except" in nc else set()
        members = [g for g in groups if g not in excluded]
        enabled = nc.get("enable", True)
        if not isinstance(enabled, bool):
            self.error(nc, "enable", prefix + "enable", "must be true or false", "write `enable: true`")
        constraints = nc.get("constraints") or []
        if not isinstance(constraints, list):
            self.error(nc, "constraints", prefix + "constraints", "must be a list",
                       "write `constraints: [{src: grp1, dst: grp2, delay: 10ms}]`")
            constraints = []
        why_out = dict((g, "in `except`") for g in excluded)
        why_out.update((g, "not in `groups`") for g in known if g not in groups)
        compiled = [self._constraint(constraints, index, constraint, known, set(members), why_out)
                    for index, constraint in enumerate(constraints)]
        compiled = [c for c in compiled if c]
        # EnOS shapes a site's own traffic only when a constraint asks for src == dst
        intra = [g for g in members if any(g in c["src"] and g in c["dst"] for c in compiled)]
        self.topo.constraints = {
            "enabled": bool(enabled),
            "default": default.as_dict(),
            "members": members,
            "intra": intra,
            "constraints": compiled,
        }

    def _network(self, container, key, dotted):
        network = container.get(key)
        if network is not None and (not isinstance(network, str) or not network.strip()):
            self.error(container, key, dotted, "%r is not a network role" % (network,),
                       "name one, e.g. network_interface")
            return None
        return network

    def _constraint(self, constraints, index, constraint, known, members, why_out):
        """The compact form of one constraint: groups kept to the members, and only the fields
        it sets (several constraints on one pair merge field by field, as in EnOS)."""
        dotted = "network_constraints.constraints[%d]" % index
        if not isinstance(constraint, dict):
            self.error(constraints, index, dotted, "must be a mapping",
                       "write `{src: grp1, dst: grp2, delay: 10ms}`")
            return None
        self.unknown_keys(constraint, CONSTRAINT_KEYS, dotted)
        for key in ("src", "dst"):
            if key not in constraint:
                self.error(constraint, None, "%s.%s" % (dotted, key), "missing",
                           "name the %s group, e.g. `%s: grp1`" % (
                               "source" if key == "src" else "destination", key))
        if "src" not in constraint or "dst" not in constraint:
            return None
        sources = self._groups(constraint, "src", dotted + ".src", known)
        destinations = self._groups(constraint, "dst", dotted + ".dst", known)
        link = {"origin": "constraints[%d]" % index}
        for key, field, parser in (("delay", "delay_us", parse_delay),
                                   ("jitter", "jitter_us", parse_delay),
                                   ("rate", "rate_bps", parse_rate),
                                   ("loss", "loss_pct", parse_loss)):
            if key in constraint:
                value = self._units(constraint, key, "%s.%s" % (dotted, key), parser)
                if value is not None:
                    link[field] = value
        if "network" in constraint:
            link["network"] = self._network(constraint, "network", dotted + ".network")
        symmetric = constraint.get("symmetric", constraint.get("symetric", False))
        if "symetric" in constraint:
            self.warn(constraint, "symetric", dotted + ".symetric", "spelled `symmetric` now")
        if not isinstance(symmetric, bool):
            self.error(constraint, "symmetric", dotted + ".symmetric", "must be true or false",
                       "write `symmetric: true`")
        left_out = [g for g in sources + destinations if g not in members]
        if left_out:
            reasons = ", ".join("%s (%s)" % (g, why_out.get(g, "not a member"))
                                for g in OrderedDict.fromkeys(left_out))
            kept = [g for g in sources if g in members] and [g for g in destinations if g in members]
            self.notice(constraint, "src", dotted, "not applied to %s: as in EnOS, a constraint "
                        "only shapes groups that the defaults cover%s" % (
                            reasons, "" if kept else "; this constraint shapes nothing"))
        return {"src": [g for g in sources if g in members],
                "dst": [g for g in destinations if g in members],
                "symmetric": bool(symmetric), "link": link}


def _merge(fields, link):
    """Apply one constraint's fields over a pair's current fields (EnOS: dict.update)."""
    merged = dict(fields)
    merged.update(link)
    origin = fields.get("origin")
    if origin and origin != "default" and link["origin"] not in origin.split("+"):
        merged["origin"] = "%s+%s" % (origin, link["origin"])
    return merged


def _is_shaped(fields):
    return bool(fields.get("delay_us") or fields.get("jitter_us") or fields.get("rate_bps")
                or fields.get("loss_pct"))


class _Rules(object):
    """The compact constraints made ready to expand, one source at a time."""

    def __init__(self, constraints):
        self.members = constraints.get("members", [])
        self.member_set = set(self.members)
        self.intra = set(constraints.get("intra", []))
        self.default = constraints.get("default") or Link().as_dict()
        self.rules = [(set(c["src"]), c["dst"], set(c["dst"]), c["src"], c.get("symmetric"),
                       c["link"]) for c in constraints.get("constraints", [])]

    def overrides(self, src):
        """{dst: fields} for the pairs leaving `src` that a constraint touches."""
        overrides = OrderedDict()
        for src_set, dsts, dst_set, srcs, symmetric, link in self.rules:
            targets = list(dsts) if src in src_set else []
            if symmetric and src in dst_set:
                targets.extend(srcs)
            for dst in targets:
                if dst in self.member_set and (dst != src or src in self.intra):
                    overrides[dst] = _merge(overrides.get(dst, self.default), link)
        return overrides

    def pairs_from(self, src):
        return len(self.members) - 1 + (1 if src in self.intra else 0)


def iter_links(constraints, sources=None):
    """EnOS's semantics, in one place: (src, dst, fields) for every shaped ordered pair, one
    source at a time (a 1,000-site matrix is never held whole). For the pairs that only the
    defaults shape, `fields` IS constraints["default"] (callers may rely on that to reuse work);
    never change it.

    `constraints` is the compact form kept in Topology.constraints (and in the inventory as
    `enos_network_constraints`): defaults apply to every ordered pair of distinct members
    (`groups` minus `except`), and to (g, g) when a constraint has g as source and destination;
    listed constraints, in order, update the fields they set on the pairs among members
    (`symmetric`: both ways). `sources` limits the result to pairs leaving those groups, so
    that a node computes its own links in O(groups) rather than O(groups^2)."""
    if not constraints or not constraints.get("enabled"):
        return
    rules = _Rules(constraints)
    default = rules.default
    default_shaped = _is_shaped(default)
    wanted = None if sources is None else set(sources)
    for src in rules.members:
        if wanted is not None and src not in wanted:
            continue
        overrides = rules.overrides(src)
        for dst in rules.members:
            if dst == src and src not in rules.intra:
                continue
            fields = overrides.get(dst)
            if fields is None:
                if default_shaped:
                    yield src, dst, default
            elif _is_shaped(fields):
                yield src, dst, fields


def link_kinds(constraints):
    """[(fields, pairs, (src, dst) of one of them)]: the distinct shapings and how many ordered
    pairs have each, in O(sites + constraint pairs) rather than O(sites^2)."""
    if not constraints or not constraints.get("enabled"):
        return []
    rules = _Rules(constraints)
    kinds = OrderedDict()

    def add(fields, count, src, dst):
        key = tuple(fields.get(f) for f in Link.FIELDS[:-1])
        if key not in kinds:
            kinds[key] = [fields, 0, (src, dst)]
        kinds[key][1] += count

    for src in rules.members:
        overrides = rules.overrides(src)
        by_default = rules.pairs_from(src) - len(overrides)
        if by_default and _is_shaped(rules.default):
            dst = next(d for d in rules.members if d not in overrides and
                       (d != src or src in rules.intra))
            add(rules.default, by_default, src, dst)
        for dst, fields in overrides.items():
            if _is_shaped(fields):
                add(fields, 1, src, dst)
    return [tuple(kind) for kind in kinds.values()]


def expand_links(constraints, sources=None):
    """{(src, dst): Link} for every shaped ordered pair (see iter_links)."""
    return OrderedDict(((src, dst), Link(**fields))
                       for src, dst, fields in iter_links(constraints, sources))
