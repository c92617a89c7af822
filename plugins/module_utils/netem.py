# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""WAN emulation between sites: links + node addresses -> the tc plan of every shaping point.

Pure Python (no Ansible import), shared by the modules, the role's tests and the benchmarks.

Semantics (EnOS): a link (src, dst) is one-way and is shaped where the traffic of src toward
dst leaves: on each node of src (placement ``node``), or on the WAN router's interface toward
dst, for packets whose source is in src (placement ``router``).

The tc tree per shaped device::

    root  e05:  htb default 0              unmatched traffic goes to HTB's direct queue: unshaped
      class e05:<m>  htb rate/ceil/burst    one per (peer site, constraint), m in hex from 0x10
        qdisc <m>:   netem delay/jitter/loss limit=BDP
    filters u32: prio 1 IPv4 /32 in a 256-bucket hash table on the address' last byte,
                 prio 2 IPv4 prefixes, prio 3 IPv6 /128 hashed, prio 4 IPv6 prefixes
"""
from __future__ import annotations

import ipaddress
import json
import math
import os
import re
import subprocess

ROOT_MAJOR = 0xE05                 # marks the tree as ours: reset removes only this root
ROOT = "%x:" % ROOT_MAJOR
FIRST_MINOR = 0x10
MAX_MINOR = 0xFFFF
UNLIMITED_BPS = 100 * 10 ** 9      # HTB class rate of a link without rate: delay/loss only
MTU_BYTES = 1514
MIN_LIMIT = 1000                   # netem's own default
HASH_DIVISOR = 256
DEFAULT_NETWORK = "network_interface"
# (protocol, prefix length of a host, hash prio, prefix prio, hash table, src offset, dst offset)
FAMILIES = {
    4: ("ip", 32, 1, 2, 0x100, 12, 16),
    6: ("ipv6", 128, 3, 4, 0x101, 8, 24),
}
NETEM_FIELDS = ("delay_us", "jitter_us", "loss_pct")


class NetemError(Exception):
    """A plan that cannot be built or applied; the message says what and how to fix it."""


def _get(obj, key, default=None):
    if isinstance(obj, dict):
        return obj.get(key, default)
    return getattr(obj, key, default)


def normalize_links(links):
    """Links as dicts from the inventory (`enos_links`), Link objects or a topo.links() mapping."""
    if isinstance(links, dict):
        links = [dict(src=s, dst=d, **{k: _get(v, k) for k in (
            "delay_us", "jitter_us", "rate_bps", "loss_pct", "network", "origin")})
            for (s, d), v in links.items()]
    out = []
    for i, link in enumerate(links or []):
        src, dst = _get(link, "src"), _get(link, "dst")
        if not src or not dst:
            raise NetemError("links[%d]: src and dst are required (got %r)" % (i, link))
        out.append({
            "src": str(src), "dst": str(dst),
            "delay_us": int(_get(link, "delay_us") or 0),
            "jitter_us": int(_get(link, "jitter_us") or 0),
            "rate_bps": int(_get(link, "rate_bps") or 0) or None,
            "loss_pct": float(_get(link, "loss_pct") or 0) or None,
            "network": _get(link, "network") or None,
            "origin": _get(link, "origin") or "links[%d]" % i,
        })
    return out


def needs_netem(link):
    return any(link.get(k) for k in NETEM_FIELDS)


def describe(link):
    return "%s->%s %s (%s)" % (link["src"], link["dst"], describe_params(link), link.get("origin"))


def describe_params(link):
    parts = []
    if link.get("delay_us"):
        parts.append("delay %gms" % (link["delay_us"] / 1000.0))
    if link.get("jitter_us"):
        parts.append("jitter %gms" % (link["jitter_us"] / 1000.0))
    if link.get("rate_bps"):
        parts.append("rate %gmbit" % (link["rate_bps"] / 1e6))
    if link.get("loss_pct"):
        parts.append("loss %g%%" % link["loss_pct"])
    return ", ".join(parts) or "unshaped"


def _addresses(iface):
    """Every address of an interface entry: address, address6, addresses[]."""
    out = []
    for key in ("address", "address6", "ipv6"):
        if iface.get(key):
            out.append(iface[key])
    out.extend(iface.get("addresses") or [])
    # an interface address may carry its prefix length (10.0.0.5/24): the host is 10.0.0.5
    return [str(a).split("/", maxsplit=1)[0] for a in out]


def _net(value):
    return ipaddress.ip_network(str(value), strict=False)


def _site_prefixes(networks, site, role):
    """The subnets of a network that belongs to one site only (the local provider's site nets)."""
    out = []
    for net in networks or []:
        if net.get("site") == site and role in (net.get("roles") or [role]):
            out.extend(c for c in (net.get("cidr"), net.get("cidr6")) if c)
    return out


def sizing(link, mtu=MTU_BYTES):
    """HTB rate/burst/quantum and the netem queue limit of one link."""
    rate = link.get("rate_bps") or UNLIMITED_BPS
    byte_rate = rate / 8.0
    # burst: what the rate lets through in 10 ms. HTB refills when the qdisc watchdog fires,
    # which may be a tick late (10 ms at HZ=100): a smaller burst makes HTB undershoot its rate.
    burst = int(max(4 * mtu, byte_rate / 100.0)) if link.get("rate_bps") else int(
        max(4 * mtu, min(byte_rate / 1000.0, 16 * 1024 * 1024)))
    quantum = int(min(200000, max(mtu, byte_rate / 10 / 1000)))
    # netem holds every packet for delay+jitter: room for twice the bandwidth-delay product
    # in full-size packets; netem's default of 1000 drops silently at high rate x delay.
    # (a link without rate is sized for 10 Gbit/s)
    held = (link.get("delay_us", 0) + link.get("jitter_us", 0)) / 1e6
    limit = int(max(MIN_LIMIT, math.ceil(2 * min(byte_rate, 1.25e9) * held / mtu)))
    return {"rate_bps": rate, "burst": burst, "quantum": quantum, "limit": limit}


def constraint_key(link):
    return (link["delay_us"], link["jitter_us"], link["rate_bps"], link["loss_pct"])


def compile_plan(links, hosts, shaper, placement="node", networks=None,
                 router_interfaces=None, default_network=DEFAULT_NETWORK, use_subnets=True):
    """The tc plan of one shaping point.

    links: normalize_links() input. hosts: {name: {"site": s, "interfaces": {role: {device,
    address, address6, addresses}}}}. shaper: this node's name (placement node) or ignored
    (placement router, router_interfaces = {site: {device, address, cidr, cidr6}}).

    Returns {"placement", "devices": {dev: {"match": "dst"|"src", "classes": [...]}},
    "links": [links shaped here], "skipped": [str]}.
    """
    links = normalize_links(links)
    devices = {}
    shaped, skipped = [], []

    def add(device, match, peer, link, prefixes):
        dev = devices.setdefault(device, {"match": match, "classes": {}})
        key = (peer,) + constraint_key(link)
        cls = dev["classes"].get(key)
        if cls is None:
            cls = dict(peer=peer, delay_us=link["delay_us"], jitter_us=link["jitter_us"],
                       rate_bps=link["rate_bps"], loss_pct=link["loss_pct"],
                       origins=[], prefixes=[])
            dev["classes"][key] = cls
        cls["origins"].append("%s->%s %s" % (link["src"], link["dst"], link["origin"]))
        cls["prefixes"].extend(p for p in prefixes if p not in cls["prefixes"])

    if placement == "router":
        ifaces = router_interfaces or {}
        for link in links:
            if link["src"] == link["dst"]:
                skipped.append("%s: traffic inside site %s does not cross the WAN router"
                               % (describe(link), link["src"]))
                continue
            missing = [s for s in (link["src"], link["dst"]) if s not in ifaces]
            if missing:
                raise NetemError(
                    "%s: the WAN router has no interface on site(s) %s (router interfaces: %s);"
                    " add the site's network to the router" % (
                        describe(link), ", ".join(missing), ", ".join(sorted(ifaces)) or "none"))
            src_if = ifaces[link["src"]]
            prefixes = [c for c in (src_if.get("cidr"), src_if.get("cidr6")) if c]
            add(ifaces[link["dst"]]["device"], "src", link["src"], link, prefixes)
            shaped.append(link)
    elif placement == "node":
        if shaper not in hosts:
            raise NetemError("host %s is not in the hosts given to the compiler" % shaper)
        me = hosts[shaper]
        site = me.get("site")
        by_site = {}
        for name, host in hosts.items():
            by_site.setdefault(host.get("site"), []).append((name, host))
        for link in links:
            if link["src"] != site:
                continue
            role = link["network"] or default_network
            my_if = (me.get("interfaces") or {}).get(role)
            if not my_if or not my_if.get("device"):
                raise NetemError(
                    "%s: host %s has no interface for network %r (enos_interfaces keys: %s);"
                    " fix the constraint's `network` or the host's interfaces" % (
                        describe(link), shaper, role,
                        ", ".join(sorted(me.get("interfaces") or {})) or "none"))
            mine = set(_addresses(my_if))
            prefixes = _site_prefixes(networks, link["dst"], role) if (
                use_subnets and link["src"] != link["dst"]) else []
            if not prefixes:
                for name, host in by_site.get(link["dst"], []):
                    if name == shaper:
                        continue
                    iface = (host.get("interfaces") or {}).get(role) or {}
                    prefixes.extend(a for a in _addresses(iface) if a not in mine)
            if not prefixes:
                skipped.append("%s: no address of site %s on network %r" % (
                    describe(link), link["dst"], role))
                continue
            add(my_if["device"], "dst", link["dst"], link, prefixes)
            shaped.append(link)
    else:
        raise NetemError("placement must be 'node' or 'router', got %r" % placement)

    out = {}
    for device, dev in sorted(devices.items()):
        classes = sorted(dev["classes"].values(), key=lambda c: (c["peer"], str(c["origins"])))
        minor = FIRST_MINOR
        for cls in classes:
            if minor == ROOT_MAJOR:
                minor += 1
            if minor > MAX_MINOR:
                raise NetemError("device %s: more than %d classes" % (device, MAX_MINOR - 16))
            cls["minor"] = minor
            cls["classid"] = "%x:%x" % (ROOT_MAJOR, minor)
            cls["handle"] = "%x:" % minor
            cls.update(sizing(cls))
            cls["rate_bps"] = cls["rate_bps"] if cls["rate_bps"] != UNLIMITED_BPS else None
            cls["netem"] = needs_netem(cls)
            minor += 1
        out[device] = {"match": dev["match"], "classes": classes}
    return {"placement": placement, "devices": out, "links": shaped, "skipped": skipped}


def restrict_rate_only(plan):
    """The plan without netem: keeps rate limits, returns (plan, [what is not applied])."""
    dropped = []
    devices = {}
    for device, dev in plan["devices"].items():
        classes = []
        for cls in dev["classes"]:
            if cls["netem"]:
                lost = [k for k in NETEM_FIELDS if cls.get(k)]
                dropped.append("%s on %s toward/from %s (%s): %s not applied" % (
                    ", ".join(cls["origins"]), device, cls["peer"], cls["classid"],
                    "/".join(k.split("_")[0] for k in lost)))
            if cls["rate_bps"]:
                classes.append(dict(cls, delay_us=0, jitter_us=0, loss_pct=None, netem=False))
        if classes:
            devices[device] = dict(dev, classes=classes)
    return dict(plan, devices=devices), dropped


# ---------------------------------------------------------------- rendering (tc -batch)

def _split_prefixes(prefixes):
    """{family: ([host addresses], [networks])}"""
    out = {4: ([], []), 6: ([], [])}
    for p in prefixes:
        net = _net(p)
        hosts, nets = out[net.version]
        (hosts if net.prefixlen == net.max_prefixlen else nets).append(net)
    return out


def _u32_matches(net, base):
    """[(offset, value, mask)] words of a u32 match on an address at `base` (as tc -j shows)."""
    raw = int(net.network_address)
    width = net.max_prefixlen
    mask = ((1 << width) - 1) ^ ((1 << (width - net.prefixlen)) - 1)
    out = []
    for i in range(width // 32):
        shift = width - 32 * (i + 1)
        m = (mask >> shift) & 0xFFFFFFFF
        if m:
            out.append((base + 4 * i, (raw >> shift) & 0xFFFFFFFF, m))
    return out


def render_batch(plan, dev_opts=""):
    """The tc -batch lines that install the plan (on devices without our root)."""
    lines = []
    for device, dev in sorted(plan["devices"].items()):
        d = "dev %s" % device
        lines.append("qdisc add %s root handle %s htb default 0" % (d, ROOT))
        for cls in dev["classes"]:
            lines.append("class add %s parent %s classid %s htb rate %dbit ceil %dbit "
                         "burst %d cburst %d quantum %d" % (
                             d, ROOT, cls["classid"], cls["rate_bps"] or UNLIMITED_BPS,
                             cls["rate_bps"] or UNLIMITED_BPS, cls["burst"], cls["burst"],
                             cls["quantum"]))
            if cls["netem"]:
                lines.append("qdisc add %s parent %s handle %s netem %s" % (
                    d, cls["classid"], cls["handle"], netem_options(cls)))
        lines.extend(_render_filters(d, dev))
    return lines


def netem_options(cls):
    opts = ["limit %d" % cls["limit"]]
    if cls["delay_us"] or cls["jitter_us"]:
        opts.append("delay %dus" % cls["delay_us"])
        if cls["jitter_us"]:
            opts.append("%dus distribution normal" % cls["jitter_us"])
    if cls["loss_pct"]:
        opts.append("loss random %s%%" % _num(cls["loss_pct"]))
    return " ".join(opts)


def change_batch(old_plan, new_plan):
    """tc -batch lines turning the classes of old_plan into new_plan's in place (a constraint
    changed): `class change` and netem `replace`/`del` on the changed classes only, so that the
    other queues keep their packets and statistics. Raises NetemError when the trees differ in
    shape (other devices, classes or filters): that needs a full apply."""
    lines = []
    for device, dev in sorted(new_plan["devices"].items()):
        old = old_plan["devices"].get(device)
        old_classes = {c["classid"]: c for c in (old or {}).get("classes", [])}
        if old is None or set(old_classes) != {c["classid"] for c in dev["classes"]} or \
                desired_state(old_plan, device)["filters"] != desired_state(new_plan, device)["filters"]:
            raise NetemError("the change of constraint reshapes the tc tree of %s: apply the "
                             "new constraints with `enos tc`" % device)
        d = "dev %s" % device
        for cls in dev["classes"]:
            before = old_classes[cls["classid"]]
            if (before["rate_bps"], before["burst"], before["quantum"]) != (
                    cls["rate_bps"], cls["burst"], cls["quantum"]):
                rate = cls["rate_bps"] or UNLIMITED_BPS
                lines.append("class change %s parent %s classid %s htb rate %dbit ceil %dbit "
                             "burst %d cburst %d quantum %d" % (
                                 d, ROOT, cls["classid"], rate, rate, cls["burst"], cls["burst"],
                                 cls["quantum"]))
            if cls["netem"] and (not before["netem"] or netem_options(before) != netem_options(cls)):
                lines.append("qdisc replace %s parent %s handle %s netem %s" % (
                    d, cls["classid"], cls["handle"], netem_options(cls)))
            elif before["netem"] and not cls["netem"]:
                lines.append("qdisc del %s parent %s handle %s" % (d, cls["classid"], cls["handle"]))
    return lines


def _num(value):
    return ("%f" % value).rstrip("0").rstrip(".")


def _family_items(dev):
    """{family: ([(host network, classid)], [(network, classid)])} of a device's classes."""
    per_family = {4: ([], []), 6: ([], [])}
    for cls in dev["classes"]:
        for fam, (hosts, nets) in _split_prefixes(cls["prefixes"]).items():
            per_family[fam][0].extend((h, cls["classid"]) for h in hosts)
            per_family[fam][1].extend((n, cls["classid"]) for n in nets)
    return per_family


def _render_filters(d, dev):
    lines = []
    for fam, (hosts, nets) in _family_items(dev).items():
        proto, _plen, hprio, nprio, ht, src_off, dst_off = FAMILIES[fam]
        off = dst_off if dev["match"] == "dst" else src_off
        kw = "ip" if fam == 4 else "ip6"
        last_word = off + (12 if fam == 6 else 0)
        if hosts:
            lines.append("filter add %s parent %s prio %d handle %x: protocol %s u32 divisor %d"
                         % (d, ROOT, hprio, ht, proto, HASH_DIVISOR))
            base = "filter add %s parent %s prio %d protocol %s u32" % (d, ROOT, hprio, proto)
            lines.append("%s match %s %s %s hashkey mask 0x000000ff at %d link %x:" % (
                base, kw, dev["match"], "0.0.0.0/0" if fam == 4 else "::/0", last_word, ht))
            for net, classid in hosts:
                bucket = int(net.network_address) & 0xFF
                lines.append("%s ht %x:%x: match %s %s %s flowid %s" % (
                    base, ht, bucket, kw, dev["match"], net, classid))
        for net, classid in nets:
            lines.append("filter add %s parent %s prio %d protocol %s u32 match %s %s %s "
                         "flowid %s" % (d, ROOT, nprio, proto, kw, dev["match"], net, classid))
    return lines


def count_objects(plan):
    lines = render_batch(plan)
    return {"qdiscs": sum(1 for x in lines if x.startswith("qdisc")),
            "classes": sum(1 for x in lines if x.startswith("class")),
            "filters": sum(1 for x in lines if x.startswith("filter")),
            "total": len(lines)}


# ------------------------------------------------------------ desired vs current state

def desired_state(plan, device):
    """Canonical state of one device as read_state() returns it, from the plan."""
    dev = plan["devices"].get(device)
    if not dev:
        return None
    classes, leaves, filters = {}, {}, set()
    for cls in dev["classes"]:
        rate = cls["rate_bps"] or UNLIMITED_BPS
        classes[cls["classid"]] = (rate, rate)
        if cls["netem"]:
            leaves[cls["classid"]] = _leaf_key(cls["limit"], cls["delay_us"], cls["jitter_us"],
                                               cls["loss_pct"])
    for fam, (hosts, nets) in _family_items(dev).items():
        proto, _plen, _hprio, _nprio, _ht, src_off, dst_off = FAMILIES[fam]
        base = dst_off if dev["match"] == "dst" else src_off
        for net, classid in hosts + nets:
            filters.add((proto, classid, tuple(_u32_matches(net, base))))
    return {"root": "htb", "classes": classes, "leaves": leaves, "filters": sorted(filters)}


def _leaf_key(limit, delay_us, jitter_us, loss_pct):
    return (int(limit), int(round(delay_us or 0)), int(round(jitter_us or 0)),
            round(float(loss_pct or 0), 4))


_RATE_UNITS = {"bit": 1, "kbit": 1e3, "mbit": 1e6, "gbit": 1e9, "tbit": 1e12}


def _parse_rate(text):
    m = re.match(r"^([\d.]+)([a-zA-Z]+)$", text)
    return float(m.group(1)) * _RATE_UNITS[m.group(2).lower()]


def _pairs_hook(pairs):
    out = {}
    for k, v in pairs:
        if k == "match":
            out.setdefault("matches", []).append(v)
        else:
            out[k] = v
    return out


def run_tc(args, input_text=None, netns=None):
    cmd = (["ip", "netns", "exec", netns] if netns else []) + ["tc"] + args
    proc = subprocess.run(cmd, input=input_text, capture_output=True, text=True, check=False)
    return proc.returncode, proc.stdout, proc.stderr


def read_state(device, tc=run_tc):
    """The device's tc tree as a canonical dict, None when our root is not installed.

    Returns ("absent"|"ours"|"foreign", state)."""
    rc, out, err = tc(["-j", "qdisc", "show", "dev", device])
    if rc != 0:
        raise NetemError("tc qdisc show dev %s failed: %s" % (device, err.strip()))
    qdiscs = json.loads(out or "[]")
    root = next((q for q in qdiscs if q.get("root")), None)
    if root is None or root.get("kind") in ("noqueue", "pfifo_fast", "fq_codel", "mq", "noop") \
            and root.get("handle") != ROOT:
        return "absent", None
    if root.get("kind") != "htb" or root.get("handle") != ROOT:
        return "foreign", {"root": "%s %s" % (root.get("kind"), root.get("handle"))}
    leaves = {}
    for q in qdiscs:
        if q.get("kind") == "netem" and q.get("parent", "").startswith(ROOT):
            o = q.get("options", {})
            delay = o.get("delay", {})
            loss = o.get("loss-random", {}).get("loss", 0) * 100
            leaves[q["parent"]] = _leaf_key(o.get("limit", 0), delay.get("delay", 0) * 1e6,
                                            delay.get("jitter", 0) * 1e6, loss)
    rc, out, err = tc(["class", "show", "dev", device])
    classes = {}
    for line in out.splitlines():
        m = re.match(r"class htb (\S+) .*?\brate (\S+) ceil (\S+)", line)
        if m:
            classes[m.group(1)] = (_parse_rate(m.group(2)), _parse_rate(m.group(3)))
    rc, out, err = tc(["-j", "filter", "show", "dev", device, "parent", ROOT])
    filters = set()
    for f in json.loads(out or "[]", object_pairs_hook=_pairs_hook):
        o = f.get("options") or {}
        if f.get("kind") == "u32" and o.get("flowid"):
            matches = tuple((int(m["off"]), int(m["value"], 16), int(m["mask"], 16))
                            for m in o.get("matches", []))
            filters.add((f.get("protocol"), o["flowid"], matches))
    return "ours", {"root": "htb", "classes": classes, "leaves": leaves,
                    "filters": sorted(filters)}


def same_state(current, desired):
    if current is None or desired is None:
        return current is desired
    if set(current["classes"]) != set(desired["classes"]):
        return False
    for cid, (rate, ceil) in desired["classes"].items():
        crate, cceil = current["classes"][cid]
        # tc prints rates rounded to 4 significant digits or so
        if abs(crate - rate) > 0.01 * rate or abs(cceil - ceil) > 0.01 * ceil:
            return False
    return current["leaves"] == desired["leaves"] and current["filters"] == desired["filters"]


def state_text(state):
    """Readable lines of a canonical state, for diff mode."""
    if state is None:
        return ""
    lines = ["root %s" % state["root"]]
    for cid, (rate, ceil) in sorted(state.get("classes", {}).items()):
        leaf = state["leaves"].get(cid)
        lines.append("class %s rate %dbit%s" % (
            cid, rate, "" if not leaf else " netem limit %d delay %dus jitter %dus loss %s%%" % leaf))
    lines.extend("filter %s -> %s %s" % (p, c, " ".join(
        "%d:%08x/%08x" % m for m in ms)) for p, c, ms in state.get("filters", []))
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------- capabilities

def kernel_capabilities(probe=True):
    """{"kernel": release, "netem": bool, "htb": bool, "u32": bool}.

    The probe adds each qdisc to the loopback of a throwaway network namespace (unshare -n), so
    it changes nothing on the node; without unshare it falls back to module lists."""
    caps = {"kernel": os.uname().release}
    checks = {"netem": "tc qdisc add dev lo root netem delay 1ms",
              "htb": "tc qdisc add dev lo root handle 1: htb",
              "u32": "tc qdisc add dev lo root handle 1: htb && "
                     "tc filter add dev lo parent 1: protocol ip prio 1 u32 match u32 0 0 flowid 1:1"}
    for name, script in checks.items():
        caps[name] = None
        if probe:
            try:
                proc = subprocess.run(["unshare", "-n", "sh", "-c", script],
                                      capture_output=True, text=True, check=False)
                if proc.returncode == 0:
                    caps[name] = True
                elif "unknown" in proc.stderr.lower() or "not found" in proc.stderr.lower():
                    caps[name] = False
            except OSError:
                pass
        if caps[name] is None:
            caps[name] = _module_present("sch_" + name if name != "u32" else "cls_u32")
    return caps


def _module_present(mod):
    if os.path.isdir("/sys/module/%s" % mod):
        return True
    release = os.uname().release
    for listing in ("modules.builtin", "modules.dep"):
        try:
            with open("/lib/modules/%s/%s" % (release, listing)) as f:
                if "/%s.ko" % mod in f.read():
                    return True
        except OSError:
            pass
    return False


def unsatisfiable(plan, caps):
    """What this kernel cannot honour: [str], empty when everything can be applied."""
    out = []
    need_netem = [c for d in plan["devices"].values() for c in d["classes"] if c["netem"]]
    if need_netem and not caps.get("netem"):
        out.extend("%s: %s needs sch_netem" % (", ".join(c["origins"]), describe_params(c))
                   for c in need_netem)
    if plan["devices"] and not caps.get("htb"):
        out.append("every constraint: needs sch_htb")
    if plan["devices"] and not caps.get("u32"):
        out.append("every constraint: needs cls_u32")
    return out


# ------------------------------------------------------------------- measurement

def fping_rtts(targets, count=20, interval_ms=20, prefix=(), period_ms=None):
    """{address: [rtt ms or None per probe]} with one fping run (-C) for every target.

    interval_ms: between two probes to one target; period_ms: between two probes of the run."""
    if not targets:
        return {}
    cmd = list(prefix) + ["fping", "-q", "-C", str(count), "-p", str(interval_ms), "-t", "2000",
                          "-B", "1", "-r", "0"]
    if period_ms:
        cmd += ["-i", str(period_ms)]
    cmd += list(targets)
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    out = {}
    for line in (proc.stderr + proc.stdout).splitlines():
        if " : " not in line:
            continue
        addr, values = line.split(" : ", 1)
        try:
            out[addr.strip()] = [None if v == "-" else float(v) for v in values.split()]
        except ValueError:
            continue
    missing = [t for t in targets if t not in out]
    if missing:
        raise NetemError("fping gave no result for %s: %s" % (", ".join(missing),
                                                              (proc.stderr or "").strip()[-300:]))
    return out


def rtt_stats(samples):
    got = sorted(v for v in samples if v is not None)
    n = len(samples)
    if not got:
        return {"probes": n, "received": 0, "loss_pct": 100.0, "min_ms": None, "avg_ms": None,
                "median_ms": None}
    return {"probes": n, "received": len(got), "loss_pct": 100.0 * (n - len(got)) / n,
            "min_ms": got[0], "avg_ms": sum(got) / len(got), "median_ms": got[len(got) // 2]}


# goodput / bytes on the wire of full-size packets (Ethernet + IPv4 + TCP/UDP headers): a link
# shaped at R carries R x efficiency of payload
TCP_EFFICIENCY = 1448.0 / 1514.0
UDP_LENGTH = 1400
UDP_EFFICIENCY = UDP_LENGTH / (UDP_LENGTH + 42.0)


def _iperf3_json(cmd, address, port):
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    try:
        data = json.loads(proc.stdout)
        if data.get("error"):
            raise ValueError(data["error"])
        return data["end"]
    except (ValueError, KeyError) as exc:
        raise NetemError("iperf3 to %s:%s failed: %s %s" % (address, port, exc, (
            proc.stdout + proc.stderr).strip()[-300:]))


def iperf3(address, rate_bps, seconds=5, port=5201, udp=False, prefix=(), omit=1):
    """Receiver-side goodput (bit/s) toward address, and the payload efficiency to expect.

    TCP by default: it adapts to the shaped rate, so it shows a rate too low and a rate too
    high. On lossy links TCP would measure its congestion control rather than the link: UDP is
    offered there at rate_bps (the caller offers more than the asked rate, so that a link that
    is not shaped delivers too much and fails)."""
    cmd = list(prefix) + ["iperf3", "-c", address, "-p", str(port), "-t", str(seconds), "-J"]
    if udp:
        cmd += ["-u", "-b", str(int(rate_bps)), "-l", str(UDP_LENGTH), "-w", "200K"]
    else:
        cmd += ["-O", str(omit)]                 # leave slow start out
    end = _iperf3_json(cmd, address, port)
    return float(end["sum_received"]["bits_per_second"]) if "sum_received" in end else float(
        end["sum"]["bits_per_second"]), UDP_EFFICIENCY if udp else TCP_EFFICIENCY


def iperf3_loss(address, pps, seconds, length=100, port=5201, prefix=()):
    """One-way loss toward address: {packets, lost, loss_pct} of paced UDP datagrams."""
    # the largest socket buffer a default rmem_max allows: a busy receiver must not drop
    # what the link delivered
    cmd = list(prefix) + ["iperf3", "-c", address, "-p", str(port), "-u", "-t", str(seconds),
                          "-l", str(length), "-b", str(int(pps * length * 8)), "-w", "200K", "-J"]
    end = _iperf3_json(cmd, address, port)
    total = end["sum"]
    packets, lost = int(total.get("packets") or 0), int(total.get("lost_packets") or 0)
    if not packets:
        raise NetemError("iperf3 loss test to %s:%s sent no datagram" % (address, port))
    return {"packets": packets, "lost": lost, "loss_pct": 100.0 * lost / packets}


def expected_rtt_ms(links_by_pair, a, b, base_ms=0.0):
    """RTT(a,b) = delay(a->b) + delay(b->a) (+ the unshaped base)."""
    there = links_by_pair.get((a, b), {}).get("delay_us") or 0
    back = links_by_pair.get((b, a), {}).get("delay_us") or 0
    return base_ms + (there + back) / 1000.0


def loss_tolerance(asked_pct, samples, floor):
    """Three binomial standard deviations of a loss rate measured on `samples` packets."""
    p = asked_pct / 100.0
    return max(floor, 300.0 * math.sqrt(p * (1 - p) / max(1, samples)))


def _check(asked, measured, tolerance, **extra):
    return dict(extra, asked=asked, measured=measured, tolerance=tolerance,
                **{"pass": measured is not None and abs(measured - asked) <= tolerance})


def compare(links, measurements, base_ms=0.0, sites=None, coverage=None):
    """Asked vs measured per ordered site pair, with pass/fail.

    measurements: [{"src", "dst", "rtt": rtt_stats(), "loss_test": {packets, lost, loss_pct},
    "rate_bps": goodput, "efficiency"}] (several entries of one pair merge).
    Tolerances: RTT within max(1 ms, 5 %); rate within 10 %; loss within three binomial
    standard deviations, at least 2 points for the two-way fping loss and 0.3 points for the
    one-way loss test (thousands of datagrams: 1 % and 0 % are told apart).
    sites: every ordered pair of them must have been measured (a pair that was not fails).
    coverage: wan_test.plan()'s, {"a->b": {"measured": bool, "represented_by"}}: a link with
    a rate or a loss must have its own link test, or one of the pair that represents it."""
    by_pair = {(l["src"], l["dst"]): l for l in normalize_links(links)}
    merged = {}
    for m in measurements:
        merged.setdefault((m["src"], m["dst"]), {}).update(
            {k: v for k, v in m.items() if v is not None})
    expected = [(s, d) for s in sites or [] for d in sites or [] if s != d]
    rows = {}
    for pair in expected + sorted(p for p in merged if p not in expected):
        if pair in rows:
            continue
        s, d = pair
        m = merged.get(pair, {})
        link = by_pair.get(pair, {})
        row = {"src": s, "dst": d, "checks": {}, "problems": []}
        rtt = m.get("rtt")
        if rtt:
            asked = expected_rtt_ms(by_pair, s, d, base_ms)
            row["checks"]["rtt_ms"] = _check(asked, rtt["median_ms"], max(1.0, 0.05 * asked))
            # a probe is lost when its request or its reply is lost
            p1 = (link.get("loss_pct") or 0) / 100.0
            p2 = (by_pair.get((d, s), {}).get("loss_pct") or 0) / 100.0
            asked_loss = 100.0 * (1 - (1 - p1) * (1 - p2))
            row["checks"]["loss_pct"] = _check(
                asked_loss, rtt["loss_pct"], loss_tolerance(asked_loss, rtt["probes"], 2.0),
                probes=rtt["probes"])
        elif pair in expected:
            row["problems"].append("RTT and loss not measured")
        row["problems"].extend(m.get("errors") or [])
        test = m.get("loss_test")
        if test:
            asked = link.get("loss_pct") or 0.0
            row["checks"]["oneway_loss_pct"] = _check(
                asked, test["loss_pct"], loss_tolerance(asked, test["packets"], 0.3),
                packets=test["packets"])
        if m.get("rate_bps") is not None and link.get("rate_bps"):
            # the payload of a link at the asked rate, minus what the link loses
            goodput = link["rate_bps"] * m.get("efficiency", 1.0) * (
                1 - (link.get("loss_pct") or 0) / 100.0)
            row["checks"]["rate_bps"] = _check(goodput, m["rate_bps"], 0.1 * goodput)
        cover = (coverage or {}).get("%s->%s" % pair)
        if cover and cover.get("unprovable"):
            row["problems"].append(cover["unprovable"])
        if cover and cover.get("measured"):
            if not test:
                row["problems"].append("one-way loss test asked but not measured")
            if link.get("rate_bps") and "rate_bps" not in row["checks"] and \
                    not cover.get("unprovable"):
                row["problems"].append("rate asked but not measured")
        elif cover:
            row["covered_by"] = cover.get("represented_by")
        rows[pair] = row
    for row in rows.values():
        rep = row.get("covered_by")
        if rep:
            other = rows.get(tuple(rep.split("->", 1)))
            ok = bool(other) and not other["problems"] and all(
                c["pass"] for k, c in other["checks"].items() if k != "rtt_ms")
            row["checks"]["same_constraint_as"] = {"asked": rep, "measured": rep, "tolerance": 0,
                                                   "pass": ok}
        row["pass"] = bool(row["checks"]) and not row["problems"] and all(
            c["pass"] for c in row["checks"].values())
    return list(rows.values())


def passed(rows):
    """An empty report proves nothing: it does not pass."""
    return bool(rows) and all(r["pass"] for r in rows)


def report_table(rows, only_failures=False):
    lines = ["%-12s %-12s %18s %16s %18s %24s %s" % (
        "src", "dst", "RTT ms asked/meas", "loss% (fping)", "loss% (one-way)",
        "rate Mbit/s asked/meas", "result")]
    for r in rows:
        if only_failures and r["pass"]:
            continue
        c = r["checks"]

        def cell(key, scale=1.0, fmt="%.1f"):
            if key not in c:
                return "-"
            v = c[key]
            got = "none" if v["measured"] is None else fmt % (v["measured"] / scale)
            return "%s/%s%s" % (fmt % (v["asked"] / scale), got, "" if v["pass"] else " !")
        notes = list(r.get("problems", []))
        if r.get("covered_by"):
            notes.append("loss/rate: same constraint as %s%s" % (
                r["covered_by"], "" if c["same_constraint_as"]["pass"] else " (which FAILS)"))
        lines.append("%-12s %-12s %18s %16s %18s %24s %s%s" % (
            r["src"], r["dst"], cell("rtt_ms", fmt="%.2f"), cell("loss_pct"),
            cell("oneway_loss_pct", fmt="%.2f"), cell("rate_bps", 1e6),
            "PASS" if r["pass"] else "FAIL", ("  " + "; ".join(notes)) if notes else ""))
    if not rows:
        lines.append("no measurement: nothing is proven (FAIL)")
    return "\n".join(lines) + "\n"


def report_summary(rows, max_failures=20):
    """A few lines for the run's output: counts, then the failing pairs (at most max_failures)."""
    failing = [r for r in rows if not r["pass"]]
    counts = {}
    for r in rows:
        for key, check in r["checks"].items():
            counts.setdefault(key, [0, 0])[0 if check["pass"] else 1] += 1
    lines = ["%d ordered site pairs, %d pass, %d fail%s" % (
        len(rows), len(rows) - len(failing), len(failing),
        "" if rows else ": no measurement, nothing is proven")]
    lines += ["  %-20s %d within tolerance, %d out" % (k, v[0], v[1]) for k, v in sorted(counts.items())]
    if failing:
        lines += report_table(failing[:max_failures]).splitlines()
        if len(failing) > max_failures:
            lines.append("... and %d more failing pairs (see the report)" % (len(failing) - max_failures))
    return lines


def _natural(name):
    """grp2 before grp10."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def report_heatmap(rows, path):
    """PNG: asked RTT, measured RTT and pass/fail matrices side by side.

    Values are written in the cells up to 16 sites; beyond, the colour carries them and the
    figure keeps a size a screen shows (site labels shrink, every 5th label past 50 sites)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sites = sorted({r["src"] for r in rows} | {r["dst"] for r in rows}, key=_natural)
    idx = {s: i for i, s in enumerate(sites)}
    n = len(sites)
    if not n:
        fig = plt.figure(figsize=(4, 1))
        fig.text(0.5, 0.5, "no measurement: nothing is proven", ha="center", va="center")
        fig.savefig(path, dpi=100)
        plt.close(fig)
        return
    nan = float("nan")
    asked = [[nan] * n for _row in sites]
    got = [[nan] * n for _row in sites]
    verdict = [[nan] * n for _row in sites]
    for r in rows:
        i, j = idx[r["src"]], idx[r["dst"]]
        verdict[i][j] = 1.0 if r["pass"] else 0.0
        c = r["checks"].get("rtt_ms")
        if c:
            asked[i][j] = c["asked"]
            got[i][j] = c["measured"] if c["measured"] is not None else nan
    annotate = n <= 16
    side = min(7.0, 1.5 + 0.6 * n)
    fig, axes = plt.subplots(1, 3, figsize=(3 * side + 3, side + 1.2))
    vmax = max([v for row in asked + got for v in row if not math.isnan(v)] or [1])
    step = 1 if n <= 50 else 5
    fontsize = 8 if n <= 20 else 6 if n <= 50 else 5
    panels = ((axes[0], asked, "asked RTT (ms)", "viridis", 0, vmax),
              (axes[1], got, "measured RTT (ms)", "viridis", 0, vmax),
              (axes[2], verdict, "pass (green) / fail (red)", "RdYlGn", 0, 1))
    for ax, data, title, cmap, low, high in panels:
        im = ax.imshow(data, cmap=cmap, vmin=low, vmax=high, interpolation="nearest")
        ticks = list(range(0, n, step))
        ax.set_xticks(ticks, [sites[t] for t in ticks], rotation=90, fontsize=fontsize)
        ax.set_yticks(ticks, [sites[t] for t in ticks], fontsize=fontsize)
        ax.set_title(title)
        ax.set_xlabel("destination")
        ax.set_ylabel("source")
        if annotate and data is not verdict:
            for i in range(n):
                for j in range(n):
                    if data[i][j] == data[i][j]:
                        ax.text(j, i, "%.1f" % data[i][j], ha="center", va="center",
                                color="white" if data[i][j] < vmax * 0.6 else "black", fontsize=8)
        colorbar = fig.colorbar(im, ax=ax, shrink=0.8)
        if data is verdict:
            colorbar.set_ticks([0, 1], labels=["fail", "pass"])
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
