# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Partitions, flapping links and constraint changes between sites, now or on a timeline.

Pure Python (no Ansible import), shared by the topology model (key `network_events`), the
driver (`enos tc --partition/--heal/--events`) and the edge.enos.netem_events module.

A cut between two sites is a pair of policy-routing rules that blackhole the traffic of one
site's prefixes toward the other's, both ways (on the WAN router: `from A to B` and `from B to
A`; on a node: `to <other site>`). Rules have their own preference (RULE_PREF), so cutting and
healing never touch the tc trees: queues, their statistics and the constraints stay as they are.

Timeline file (or the topology's `network_events:` key)::

    network_events:
      - {at: 0, partition: "grp3"}                    # grp3 on one side, the rest on the other
      - {at: 30, heal: grp3}                          # or `heal: all`
      - {at: 40, flap: "grp1/grp2", down: 2s, every: 10s, until: 100s}
      - {at: 50, set: {src: grp1, dst: grp2, delay: 80ms}}   # change a constraint

Times are seconds (a number, or "500ms", "2s", "1m") from the start of the timeline.
"""
from __future__ import annotations

import json
import re
import subprocess

from ansible_collections.edge.enos.plugins.module_utils.netem import NetemError
from ansible_collections.edge.enos.plugins.module_utils.topology import (
    TopologyError, UnitError, expand_range, parse_delay, parse_loss, parse_rate, read_yaml)

RULE_PREF = 1717
EVENT_KINDS = ("partition", "heal", "flap", "set")
EVENT_KEYS = ("at", "partition", "heal", "flap", "down", "every", "until", "duration", "set",
              "name")
SET_KEYS = ("src", "dst", "delay", "rate", "loss", "jitter", "symmetric")
_TIME_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min)?\s*$")


class TimelineError(Exception):
    """Problems of a timeline, one `FILE:LINE: key: problem (fix)` per line."""

    def __init__(self, problems):
        self.problems = list(problems)
        super(TimelineError, self).__init__("\n".join(self.problems))


def _where(path, line, key, problem, fix=None):
    text = "%s:%s: %s: %s" % (path, line if line else "?", key, problem)
    return text + (" (%s)" % fix if fix else "")


def _line(container, key):
    getter = getattr(container, "line_of", None)
    return getter(key) if getter else getattr(container, "line", None)


def parse_seconds(value):
    """2, 2.5, "500ms", "2s", "1m" -> seconds (float); ValueError on anything else."""
    if isinstance(value, bool):
        raise ValueError("a time, not a boolean")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        text = str(value)
        if text.strip().startswith("-"):
            raise ValueError("negative time %r" % text)
        m = _TIME_RE.match(text)
        if not m:
            raise ValueError("%r is not a time (write 2, 2s, 500ms or 1m)" % text)
        seconds = float(m.group(1)) * {"ms": 0.001, "s": 1, None: 1, "m": 60, "min": 60}[m.group(2)]
    if seconds < 0:
        raise ValueError("negative time %g s" % seconds)
    return seconds


def _split_outside_brackets(text, sep):
    parts, depth, current = [], 0, ""
    for char in text:
        depth += char == "["
        depth -= char == "]"
        if char == sep and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return parts


def parse_partition(spec, sites, expand_range=expand_range, rest=True):
    """'grp3' | 'grp[2-3]' | 'grp1,grp2/grp3' | ['grp1', 'grp2'] -> [[site]] groups cut apart.

    Groups are separated by '/', sites inside a group by ',' (outside of ranges). With `rest`,
    the sites not named form one more group (a partition); without, only the named groups are
    cut from each other (a flapping link). Raises ValueError(problem, fix)."""
    if isinstance(spec, (list, tuple)):
        texts = [",".join(str(s) for s in spec)]
    else:
        texts = _split_outside_brackets(str(spec or "").strip(), "/")
    known, groups, seen = list(sites), [], set()
    for text in texts:
        group = []
        for item in _split_outside_brackets(text, ","):
            item = item.strip()
            if not item:
                raise ValueError("empty site name in %r" % spec,
                                 "write sites as grp3, grp[2-3] or grp1,grp2/grp3")
            try:
                names = expand_range(item)
            except ValueError as exc:
                raise ValueError(str(exc), "write a range as grp[2-3]")
            for name in names:
                if name not in known:
                    raise ValueError("unknown site %r" % name,
                                     "sites of this topology: %s" % ", ".join(known))
                if name in seen:
                    raise ValueError("site %r is named twice" % name,
                                     "put each site in one group only")
                seen.add(name)
                group.append(name)
        groups.append(group)
    others = [s for s in known if s not in seen]
    if others and rest:
        groups.append(others)
    if len(groups) < 2:
        raise ValueError("%r leaves every site on one side: nothing is cut" % spec,
                         "name the sites to cut off, e.g. grp3, or two groups, grp1/grp2")
    return groups


def cut_pairs(groups):
    """Unordered site pairs separated by a partition: {(a, b)} with a < b."""
    out = set()
    for i, left in enumerate(groups):
        for right in groups[i + 1:]:
            out.update(tuple(sorted((a, b))) for a in left for b in right)
    return out


def rules(pairs, prefixes, placement, site=None):
    """The policy rules of cut site pairs: [(from prefix or None, to prefix)].

    prefixes: {site: [cidr]}. placement `router` blackholes both ways between the prefixes;
    `node` blackholes, on a node of `site`, what it sends toward the other side."""
    out = []
    for a, b in sorted(pairs):
        if placement == "router":
            for src, dst in ((a, b), (b, a)):
                out.extend((p, q) for p in prefixes.get(src, []) for q in prefixes.get(dst, []))
        else:
            if site in (a, b):
                other = b if site == a else a
                out.extend((None, q) for q in prefixes.get(other, []))
    return out


def rule_command(op, rule):
    """`ip rule` arguments (without `ip`) adding or deleting one cut rule."""
    src, dst = rule
    args = ["rule", op, "pref", str(RULE_PREF)]
    if src:
        args += ["from", src]
    return args + ["to", dst, "blackhole"]


# --------------------------------------------------------------------------- timeline

def parse_timeline(data, path, sites, expand_range=expand_range, parse_constraint=None):
    """Validate a timeline; returns the actions in time order, raises TimelineError.

    data: the list under `network_events` (Located lists/mappings keep their lines).
    parse_constraint(mapping) -> {delay_us, rate_bps, loss_pct, jitter_us} for `set` events
    (the topology model's units). Actions: [{"at", "op": cut|restore|set, "pairs": [[a, b]],
    "event": index, "line", "what", "link"}]."""
    problems, actions, cuts = [], [], []     # cuts: {pair, start, end, line}
    if data is None:
        return []
    if not isinstance(data, list):
        raise TimelineError([_where(path, _line(data, None), "network_events",
                                    "must be a list of events",
                                    "write `network_events: [{at: 0, partition: grp3}]`")])
    open_cuts = {}                            # pair -> the cut of a partition in force
    events = []
    for index, event in enumerate(data):
        key = "network_events[%d]" % index
        line = data.line_of(index) if hasattr(data, "line_of") else None
        if not isinstance(event, dict):
            problems.append(_where(path, line, key, "must be a mapping",
                                   "write `{at: 10, partition: grp3}`"))
            continue
        for k in event:
            if k not in EVENT_KEYS:
                problems.append(_where(path, _line(event, k) or line, "%s.%s" % (key, k),
                                       "unknown key", "known keys: %s" % ", ".join(EVENT_KEYS)))
        kinds = [k for k in EVENT_KINDS if k in event]
        if len(kinds) != 1:
            problems.append(_where(path, line, key, "needs exactly one of %s, got %s" % (
                ", ".join(EVENT_KINDS), ", ".join(kinds) or "none"),
                "split it into one event per action"))
            continue
        times = {}
        for k in ("at", "down", "every", "until", "duration"):
            if k in event:
                try:
                    times[k] = parse_seconds(event[k])
                except ValueError as exc:
                    problems.append(_where(path, _line(event, k) or line, "%s.%s" % (key, k),
                                           str(exc), "times are seconds from the start, >= 0"))
        if "at" not in event:
            problems.append(_where(path, line, key + ".at", "missing",
                                   "say when, in seconds from the start: `at: 10`"))
        if "at" not in times:
            continue
        events.append((times["at"], index, event, times, kinds[0], line, key))
    for at, index, event, times, kind, line, key in sorted(events, key=lambda e: (e[0], e[1])):
        where = _line(event, kind) or line
        try:
            if kind in ("partition", "flap"):
                groups = parse_partition(event[kind], sites, expand_range,
                                         rest=kind == "partition")
                pairs = cut_pairs(groups)
                what = "%s %s" % (kind, " / ".join(",".join(g) for g in groups))
                if kind == "partition":
                    end = at + times["duration"] if "duration" in times else None
                    windows = [(at, end)]
                else:
                    for k in ("down", "every", "until"):
                        if k not in times:
                            raise ValueError("flap needs %s" % k,
                                             "write `down: 2s, every: 10s, until: 60s`")
                    if not 0 < times["down"] < times["every"]:
                        raise ValueError("down (%gs) must be more than 0 and less than every (%gs)"
                                         % (times["down"], times["every"]),
                                         "the link must come back between two outages")
                    if times["until"] <= at:
                        raise ValueError("until (%gs) is not after at (%gs)" % (times["until"], at),
                                         "`until` is a time from the start, after `at`")
                    windows, t = [], at
                    while t < times["until"] - 1e-9:
                        windows.append((t, min(t + times["down"], times["until"])))
                        t += times["every"]
                for start, end in windows:
                    for pair in sorted(pairs):
                        for other in cuts:
                            if other["pair"] == pair and start < (
                                    float("inf") if other["end"] is None else other["end"]) \
                                    and (end is None or other["start"] < end):
                                raise ValueError(
                                    "overlaps the event at line %s: both cut %s-%s at %gs"
                                    % (other["line"], pair[0], pair[1], max(start, other["start"])),
                                    "heal the first cut before, or move one event")
                    actions.append({"at": start, "op": "cut", "pairs": [list(p) for p in sorted(pairs)],
                                    "event": index, "line": line, "what": what})
                    if end is not None:
                        actions.append({"at": end, "op": "restore",
                                        "pairs": [list(p) for p in sorted(pairs)],
                                        "event": index, "line": line, "what": what})
                    for pair in sorted(pairs):
                        cuts.append({"pair": pair, "start": start, "end": end, "line": line})
                        if end is None:
                            open_cuts[pair] = cuts[-1]
            elif kind == "heal":
                spec = event["heal"]
                named = set(sites) if str(spec).strip() == "all" else set(
                    n for part in _split_outside_brackets(str(spec), "/")
                    for n in _names(part, expand_range))
                unknown = sorted(named - set(sites))
                if unknown:
                    raise ValueError("unknown site %r" % unknown[0],
                                     "sites of this topology: %s" % ", ".join(sites))
                healed = sorted(p for p in open_cuts if set(p) & named)
                if not healed:
                    raise ValueError("heals nothing: no partition in force involves %s at %gs"
                                     % (spec, at), "remove it, or partition those sites before")
                for pair in healed:
                    open_cuts.pop(pair)["end"] = at
                actions.append({"at": at, "op": "restore", "pairs": [list(p) for p in healed],
                                "event": index,
                                "line": line, "what": "heal %s" % spec})
            else:
                change = event["set"]
                if not isinstance(change, dict) or "src" not in change or "dst" not in change:
                    raise ValueError("set needs a mapping with src and dst",
                                     "write `set: {src: grp1, dst: grp2, delay: 80ms}`")
                for k in change:
                    if k not in SET_KEYS:
                        raise ValueError("unknown key %r in set" % k,
                                         "known keys: %s" % ", ".join(SET_KEYS))
                for k in ("src", "dst"):
                    for name in _names(change[k], expand_range):
                        if name not in sites:
                            raise ValueError("unknown site %r" % name,
                                             "sites of this topology: %s" % ", ".join(sites))
                link = parse_constraint(change) if parse_constraint else dict(change)
                pairs = [[s, d] for s in _names(change["src"], expand_range)
                         for d in _names(change["dst"], expand_range) if s != d]
                if change.get("symmetric"):
                    pairs += [[d, s] for s, d in pairs]
                for other in actions:
                    if other["op"] == "set" and other["at"] == at and \
                            any(p in other["pairs"] for p in pairs):
                        raise ValueError("overlaps the event at line %s: both set %s at %gs"
                                         % (other["line"], "->".join(pairs[0]), at),
                                         "merge them into one `set`")
                actions.append({"at": at, "op": "set", "pairs": pairs, "event": index,
                                "line": line, "what": "set %s" % ", ".join(
                                    "%s=%s" % (k, change[k]) for k in change), "link": link})
        except ValueError as exc:
            problem, fix = exc.args if len(exc.args) == 2 else (str(exc), None)
            problems.append(_where(path, where, "%s.%s" % (key, kind), problem, fix))
    if problems:
        raise TimelineError(problems)
    order = {"restore": 0, "set": 1, "cut": 2}
    return sorted(actions, key=lambda a: (a["at"], order[a["op"]], a["event"]))


def _names(value, expand_range=expand_range):
    items = value if isinstance(value, (list, tuple)) else _split_outside_brackets(str(value), ",")
    out = []
    for item in items:
        out.extend(expand_range(str(item).strip()))
    return out


def event_link(change):
    """The link fields a `set` event gives, in the topology's units."""
    out = {}
    for key, field, parse in (("delay", "delay_us", parse_delay), ("jitter", "jitter_us", parse_delay),
                              ("rate", "rate_bps", parse_rate), ("loss", "loss_pct", parse_loss)):
        if key in change:
            try:
                out[field] = parse(change[key])
            except UnitError as exc:
                raise ValueError("%s: %s" % (key, exc), "see the units of network_constraints")
    return out


def load(data, path, sites):
    """Actions of a timeline: `data` is the list under `network_events`."""
    return parse_timeline(data, path, list(sites), expand_range, event_link)


def load_file(path, sites):
    """Actions of a timeline file: a list of events, or a mapping with `network_events`."""
    try:
        with open(path) as handle:
            text = handle.read()
    except (IOError, OSError, UnicodeDecodeError) as exc:
        raise TimelineError(["%s: network_events: cannot read the file: %s (give a timeline file)"
                             % (path, getattr(exc, "strerror", None) or exc)])
    try:
        data = read_yaml(text, path)
    except TopologyError as exc:
        raise TimelineError([str(p) for p in exc.problems])
    if isinstance(data, dict):
        if "network_events" not in data:
            raise TimelineError(["%s:1: network_events: missing (write `network_events:` and "
                                 "a list of events under it, or the list alone)" % path])
        data = data["network_events"]
    return load(data, path, sites)


def timeline_seconds(actions):
    return max([a["at"] for a in actions] or [0.0])


# --------------------------------------------------------------------------- event log

def log_entry(action, asked_at, started_at, done_at, ok=True, error=None, host=None):
    """One line of the event log (JSON lines): what was asked, when, when it took effect."""
    return {"event": action["event"], "line": action.get("line"), "op": action["op"],
            "what": action["what"], "pairs": action["pairs"], "asked_at": asked_at,
            "started_at": started_at, "done_at": done_at,
            "lag_ms": round(1000.0 * (done_at - asked_at), 1), "ok": ok, "error": error,
            "host": host}


def influx_lines(entries, measurement="network_events"):
    """InfluxDB line protocol of event-log entries (database `events`), one per action."""
    def tag(value):
        return re.sub(r"([,= ])", r"\\\1", str(value))

    def field(value):
        return '"%s"' % str(value).replace("\\", "\\\\").replace('"', '\\"')
    out = []
    for e in entries:
        out.append("%s,op=%s,host=%s what=%s,event=%di,lag_ms=%s,ok=%s %d" % (
            measurement, tag(e["op"]), tag(e.get("host") or "controller"), field(e["what"]),
            e["event"], e["lag_ms"], "true" if e["ok"] else "false", int(e["done_at"] * 1e9)))
    return out


def canon_rule(rule):
    """A rule (from or None, to) with every address as a prefix."""
    return tuple(None if x is None else (x if "/" in x else x + "/32") for x in rule)


def rule_of(rule):
    """(from or None, to) of a rule in `ip -j rule show` output."""
    src = None if rule.get("src", "all") == "all" else "%s/%s" % (rule["src"], rule.get("srclen", 32))
    dst = "%s/%s" % (rule["dst"], rule.get("dstlen", 32)) if rule.get("dst") else None
    return (src, dst)


class RuleShell(object):
    """One `ip -batch` process kept open for the whole timeline: an event costs a write and a
    read, not a process start (which takes a second on a busy user-mode-linux router). Each
    batch ends with `rule show`, whose answer says the rules are in place."""

    def __init__(self):
        self.proc = subprocess.Popen(["stdbuf", "-oL", "ip", "-force", "-j", "-batch", "-"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True, bufsize=1)
        self.run([])

    def run(self, commands):
        """Runs the commands; returns the cut rules in force after them."""
        self.proc.stdin.write("".join(" ".join(c) + "\n" for c in commands)
                              + "rule show pref %d\n" % RULE_PREF)
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise NetemError("ip -batch ended unexpectedly")
        return {canon_rule(rule_of(r)) for r in json.loads(line or "[]")}

    def close(self):
        self.proc.stdin.close()
        self.proc.wait()
