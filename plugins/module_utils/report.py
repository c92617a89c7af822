# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""`enos report`: one self-contained HTML file of an experiment.

Built from a backup tarball or from a live environment directory; every picture is a PNG inlined
as a data URI, there is no script and no link to another host, so the file opens anywhere,
offline. Sections: topology (sites, nodes, links asked vs measured), WAN heatmap, per bench run
Rally percentiles and duration curves with the tc conditions beside them, the comparison of
runs, CPU and memory per node, per service and per container over each run's window with the
annotations, OSProfiler waterfalls, stage times.
"""
from __future__ import annotations

import base64
import csv
import glob
import html
import io
import json
import math
import os
import tarfile
import tempfile
import time

from ansible_collections.edge.enos.plugins.module_utils import backup as bk
from ansible_collections.edge.enos.plugins.module_utils import netem as nm

PERCENTILES = (50, 90, 95)
STYLE = """
body{font-family:DejaVu Sans,Arial,sans-serif;margin:2em;color:#222;max-width:1400px}
h1{font-size:1.6em}h2{border-bottom:2px solid #ccd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.5em 0;font-size:.9em}
td,th{border:1px solid #bbc;padding:.2em .6em;text-align:right}th{background:#eef}
td:first-child,th:first-child{text-align:left}.fail{color:#b00;font-weight:bold}
.pass{color:#070}.note{color:#666;font-size:.9em}img{max-width:100%;border:1px solid #dde}
.side{display:flex;gap:2em;align-items:flex-start;flex-wrap:wrap}
"""


# --------------------------------------------------------------------------- inputs

class Source(object):
    """The files of an experiment: an environment directory, or an unpacked backup."""

    def __init__(self, root):
        self.root = root

    def path(self, *candidates):
        for candidate in candidates:
            full = os.path.join(self.root, candidate)
            if os.path.exists(full):
                return full
        return None

    def json(self, *candidates):
        found = self.path(*candidates)
        if not found:
            return None
        with open(found) as handle:
            return json.load(handle)

    @property
    def reports(self):
        return os.path.join(self.root, "reports")


def unpack_backup(tarball, into):
    """Unpack what the report reads (not the nodes' logs nor the InfluxDB files)."""
    wanted = ("env/", "reports/", "metrics/csv/", "traces/", "manifest.json")
    with tarfile.open(tarball, "r:gz") as tar:
        for member in tar:
            name = member.name.partition("/")[2]
            if not member.isfile() or not name.startswith(wanted) or ".." in name.split("/"):
                continue
            target = os.path.join(into, name)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "wb") as out:
                out.write(tar.extractfile(member).read())
    return into


def parse_influx_csv(data):
    """InfluxDB 1.x CSV answers (`Accept: application/csv`) -> [{name, time, ...columns}].
    A header row (name,tags,time,...) comes before each series whose columns differ."""
    rows, header = [], None
    text = data.decode() if isinstance(data, bytes) else data
    for record in csv.reader(io.StringIO(text)):
        if not record:
            continue
        if record[:3] == ["name", "tags", "time"]:
            header = record
            continue
        if header is None or len(record) != len(header):
            continue
        row = dict(zip(header, record))
        row["time"] = float(row["time"]) if len(row["time"]) < 12 else float(row["time"]) / 1e9
        rows.append(row)
    return rows


def _num(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


# --------------------------------------------------------------------------- computations

def percentile(values, pct):
    """Linear interpolation between closest ranks (as Rally computes its percentiles)."""
    if not values:
        return None
    ordered = sorted(values)
    k = (len(ordered) - 1) * pct / 100.0
    lo, hi = int(math.floor(k)), int(math.ceil(k))
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def rally_workloads(path):
    """Per workload of a Rally JSON report: durations, atomic actions, failures, window."""
    with open(path) as handle:
        data = json.load(handle)
    found = []
    for task in data.get("tasks", []):
        for subtask in task.get("subtasks", []):
            for workload in subtask.get("workloads", []):
                points = workload.get("data", [])
                durations = [d.get("duration") for d in points if not d.get("error")]
                actions = {}
                for d in points:
                    if d.get("error"):
                        continue
                    for action in d.get("atomic_actions", []):
                        if action.get("finished_at") and action.get("started_at"):
                            actions.setdefault(action["name"], []).append(
                                action["finished_at"] - action["started_at"])
                name = bk.workload_name(workload)
                found.append({
                    "task": task.get("uuid"), "name": name,
                    "args": (workload.get("scenario") or {}).get(name, workload.get("args", {})),
                    "runner": workload.get("runner", {}),
                    "rally_statistics": workload.get("statistics", {}),
                    "iterations": len(points),
                    "failures": sum(1 for d in points if d.get("error")),
                    "durations": [d for d in durations if d is not None],
                    "timestamps": [d.get("timestamp") for d in points],
                    "actions": actions, "sla": workload.get("pass_sla")})
    return found


def stats_row(name, values, total=None, failures=0):
    row = {"name": name, "count": len(values), "min": min(values) if values else None,
           "max": max(values) if values else None,
           "mean": sum(values) / len(values) if values else None}
    for pct in PERCENTILES:
        row["p%d" % pct] = percentile(values, pct)
    total = len(values) + failures if total is None else total
    row["success"] = 100.0 * len(values) / total if total else None
    return row


def rates(points):
    """Per-second rate of a cumulative counter [(t, v)], resets ignored."""
    out = []
    for (t0, v0), (t1, v1) in zip(points, points[1:]):
        if t1 > t0 and v1 >= v0:
            out.append((t1, (v1 - v0) / (t1 - t0)))
    return out


def series(rows, measurement, key_fields, value="value", where=None):
    """{key tuple: [(t, value)]} sorted by time."""
    found = {}
    for row in rows:
        if row.get("name") != measurement or (where and not where(row)):
            continue
        v = _num(row.get(value))
        if v is None:
            continue
        key = tuple(row.get(k, "") for k in key_fields)
        found.setdefault(key, []).append((row["time"], v))
    return dict((k, sorted(v)) for k, v in found.items())


def node_usage(rows):
    """{'cpu': {host: [(t, % busy)]}, 'memory': {host: [(t, bytes used)]}} from collectd rows."""
    idle = series(rows, "cpu_value", ("host",), where=lambda r: r.get("type_instance") == "idle")
    used = series(rows, "memory_value", ("host",), where=lambda r: r.get("type_instance") == "used")
    return {"cpu": dict((k[0], [(t, 100.0 - v) for t, v in pts]) for k, pts in idle.items()),
            "memory": dict((k[0], pts) for k, pts in used.items())}


def service_usage(rows):
    """Per (host, service): CPU in cores (ps_cputime user+syst, µs/s) and RSS bytes."""
    cpu = {}
    for name in ("processes_user", "processes_syst"):
        for key, pts in series(rows, name, ("host", "instance"),
                               where=lambda r: r.get("type") == "ps_cputime").items():
            for t, rate in rates(pts):
                cpu.setdefault(key, {}).setdefault(round(t), 0.0)
                cpu[key][round(t)] += rate / 1e6
    rss = series(rows, "processes_value", ("host", "instance"),
                 where=lambda r: r.get("type") == "ps_rss")
    return {"cpu": dict((k, sorted(v.items())) for k, v in cpu.items()), "memory": rss}


def container_usage(rows):
    cpu = dict((k, [(t, r / 1e9) for t, r in rates(pts)]) for k, pts in
               series(rows, "cpu_usage_total", ("machine", "container_name")).items())
    return {"cpu": cpu, "memory": series(rows, "memory_usage", ("machine", "container_name"))}


# --------------------------------------------------------------------------- pictures

def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def png(fig):
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    _plt().close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def img(uri, alt, ident=None):
    return '<img src="%s" alt="%s"%s>' % (uri, html.escape(alt),
                                          ' id="%s"' % ident if ident else "")


def topology_picture(sites, links, measured):
    """Sites on a circle with their nodes; each shaped pair drawn with asked / measured RTT."""
    plt = _plt()
    names = list(sites)
    n = max(1, len(names))
    fig, ax = plt.subplots(figsize=(7, 5.5))
    pos = dict((s, (math.cos(2 * math.pi * i / n + math.pi / 2),
                    math.sin(2 * math.pi * i / n + math.pi / 2))) for i, s in enumerate(names))
    drawn = set()
    for (src, dst), link in sorted(links.items()):
        pair = tuple(sorted((src, dst)))
        if pair in drawn or src not in pos or dst not in pos:
            continue
        drawn.add(pair)
        (x0, y0), (x1, y1) = pos[src], pos[dst]
        ax.plot([x0, x1], [y0, y1], color="#88a", lw=1.5, zorder=1)
        label = link_label(link)
        got = measured.get(pair)
        if got is not None:
            label += "\nmeasured RTT %.1f ms" % got
        ax.text((x0 + x1) / 2, (y0 + y1) / 2, label, ha="center", va="center", fontsize=7,
                bbox=dict(boxstyle="round", fc="white", ec="#ccd"), zorder=3)
    for site, (x, y) in pos.items():
        ax.text(x, y, "%s\n%s" % (site, "\n".join(sites[site])), ha="center", va="center",
                fontsize=8, bbox=dict(boxstyle="round", fc="#dfe8ff", ec="#557"), zorder=4)
    ax.set_xlim(-1.6, 1.6)
    ax.set_ylim(-1.5, 1.5)
    ax.axis("off")
    ax.set_title("sites, nodes and WAN links (asked one-way delay/rate/loss)")
    return png(fig)


def link_label(link):
    parts = ["%g ms" % (link.get("delay_us", 0) / 1000.0)]
    if link.get("rate_bps"):
        parts.append("%g Mbit/s" % (link["rate_bps"] / 1e6))
    if link.get("loss_pct"):
        parts.append("%g %% loss" % link["loss_pct"])
    return " / ".join(parts)


def duration_picture(workloads):
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 3.5))
    for w in workloads:
        ok = [(i + 1, d.get("duration")) for i, d in enumerate(w.get("_points", []))]
        xs = [i for i, v in ok if v is not None]
        ax.plot(xs, [v for _i, v in ok if v is not None], marker=".", label=w["name"])
    ax.set_xlabel("iteration")
    ax.set_ylabel("duration (s)")
    ax.set_title("Rally: duration of each iteration")
    ax.grid(alpha=.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return png(fig)


def comparison_picture(runs):
    """Median and 95th percentile of each workload, side by side across runs."""
    plt = _plt()
    names = sorted({w["name"] for r in runs for w in r["workloads"]})
    fig, ax = plt.subplots(figsize=(7, 3.5))
    width = 0.8 / max(1, len(runs))
    for i, run in enumerate(runs):
        by_name = dict((w["name"], w) for w in run["workloads"])
        med = [by_name[n]["stats"]["p50"] if n in by_name and by_name[n]["stats"]["p50"] is not None
               else 0 for n in names]
        p95 = [by_name[n]["stats"]["p95"] if n in by_name and by_name[n]["stats"]["p95"] is not None
               else 0 for n in names]
        xs = [j + i * width for j in range(len(names))]
        ax.bar(xs, p95, width, alpha=.35, color="C%d" % i)
        ax.bar(xs, med, width, label=run["id"], color="C%d" % i)
    ax.set_xticks([j + width * (len(runs) - 1) / 2 for j in range(len(names))], names,
                  fontsize=7)
    ax.set_ylabel("duration (s): median (solid), p95 (light)")
    ax.set_title("bench runs compared")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return png(fig)


def timeline_picture(title, unit, data, window, events, tasks, scale=1.0):
    """Lines per key over a run's window, Rally tasks shaded, annotations as vertical lines."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 3.2))
    start = window[0]
    # the ten busiest series; series that stay at zero (services not on this node) are left out
    peaks = sorted(((max(v for _t, v in pts), key) for key, pts in data.items() if pts),
                   reverse=True)
    shown = set(key for peak, key in peaks[:10] if peak > 0)
    for key, pts in sorted(data.items()):
        if key in shown:
            ax.plot([t - start for t, _v in pts], [v / scale for _t, v in pts],
                    label="/".join(k for k in key if k) if isinstance(key, tuple) else key)
    for task in tasks:
        if task.get("start") is not None:
            ax.axvspan(task["start"] - start, task["end"] - start, color="#fd8", alpha=.3)
    for event in events:
        ax.axvline(event["time"] - start, color="#a33", lw=.8, ls="--")
        ax.text(event["time"] - start, ax.get_ylim()[1], event["title"], rotation=90,
                fontsize=6, va="top", ha="right", color="#a33")
    ax.set_xlabel("seconds since the run's start")
    ax.set_ylabel(unit)
    ax.set_title(title)
    ax.grid(alpha=.3)
    if shown:
        ax.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    return png(fig)


def waterfall_picture(trace, title):
    """OSProfiler trace (osprofiler trace show --json) as a waterfall of its spans."""
    plt = _plt()
    spans = []

    def walk(node, depth):
        info = node.get("info", {})
        if "started" in info and "finished" in info:
            spans.append((info["started"], info["finished"] - info["started"], depth,
                          "%s %s" % (info.get("service") or info.get("project", ""),
                                     info.get("name", ""))))
        for child in node.get("children", []):
            walk(child, depth + 1)
    walk(trace, 0)
    spans.sort()
    fig, ax = plt.subplots(figsize=(7, 0.6 + 0.22 * max(1, len(spans[:60]))))
    for i, (start, length, depth, label) in enumerate(spans[:60]):
        ax.barh(i, max(length, 0.5), left=start, color="C%d" % (depth % 10))
        ax.text(start, i, " " + label, va="center", fontsize=6)
    ax.invert_yaxis()
    ax.set_yticks([])
    ax.set_xlabel("ms since the trace's start")
    ax.set_title(title)
    fig.tight_layout()
    return png(fig)


# --------------------------------------------------------------------------- the HTML

def _fmt(value, fmt="%.3f"):
    return "-" if value is None else fmt % value


def _table(header, rows, ident=None):
    out = ['<table%s><tr>%s</tr>' % (
        ' id="%s"' % ident if ident else "", "".join("<th>%s</th>" % html.escape(h) for h in header))]
    for row in rows:
        out.append("<tr>%s</tr>" % "".join(
            "<td%s>%s</td>" % ((' class="%s"' % c[1]) if isinstance(c, tuple) else "",
                               html.escape(str(c[0] if isinstance(c, tuple) else c)))
            for c in row))
    return "".join(out) + "</table>"


def load_runs(source):
    runs = []
    for run in bk.bench_runs(source.reports):
        workloads = []
        for task in run["tasks"]:
            path = os.path.join(source.reports, task["file"])
            with open(path) as handle:
                raw = json.load(handle)
            points = {}
            for t in raw.get("tasks", []):
                for sub in t.get("subtasks", []):
                    for w in sub.get("workloads", []):
                        points[(t.get("uuid"), bk.workload_name(w))] = w.get("data", [])
            for w in rally_workloads(path):
                if w["task"] != task["uuid"] or any(x["task"] == w["task"] and x["name"] == w["name"]
                                                    for x in workloads):
                    continue
                w["_points"] = points.get((w["task"], w["name"]), [])
                w["stats"] = stats_row(w["name"], w["durations"], w["iterations"])
                w["action_stats"] = [stats_row(a, v, w["iterations"])
                                     for a, v in sorted(w["actions"].items())]
                workloads.append(w)
        run["workloads"] = workloads
        runs.append(run)
    return runs


def metrics_rows(source, run_id, live_url=None, window=None):
    rows = []
    for database in ("collectd", "cadvisor"):
        path = source.path("metrics/csv/%s/%s.csv" % (run_id, database))
        if path:
            with open(path, "rb") as handle:
                rows += parse_influx_csv(handle.read())
        elif live_url and window:
            try:
                rows += parse_influx_csv(bk.influx_query(
                    live_url, database, bk.window_query(*window), csv=True))
            except OSError:
                pass
    return rows


def build(source_root, out_path, live_url=None, title=None):
    """Write the report; returns {'path', 'sections': [...], 'runs': n}."""
    source = Source(source_root)
    sections, notes = [], []
    topo_path = source.path("env/topology.yml", "topology.yml")
    netem = source.json("reports/netem.json")
    events = []
    events_path = source.path("reports/events.jsonl")
    if events_path:
        with open(events_path) as handle:
            events = [json.loads(line) for line in handle if line.strip()]
    manifest = source.json("manifest.json")

    # topology
    sites, links = {}, {}
    if topo_path:
        from ansible_collections.edge.enos.plugins.module_utils.topology import load_topology
        topo = load_topology(topo_path)
        sites = dict((s, [h.name for h in hosts]) for s, hosts in topo.sites.items())
        links = dict((k, {"delay_us": v.delay_us, "rate_bps": v.rate_bps, "loss_pct": v.loss_pct})
                     for k, v in topo.links().items())
    measured = {}
    rows = (netem or {}).get("rows", [])
    for row in rows:
        rtt = row["checks"].get("rtt_ms")
        if rtt and rtt.get("measured") is not None:
            measured[tuple(sorted((row["src"], row["dst"])))] = rtt["measured"]
    parts = ['<h2 id="topology">Topology</h2>']
    if sites:
        parts.append(img(topology_picture(sites, links, measured), "topology", "topology-img"))
        parts.append(_table(["site", "nodes"], [[s, ", ".join(n)] for s, n in sites.items()]))
    else:
        parts.append('<p class="note">no topology file in this source</p>')
    if rows:
        table = []
        for r in rows:
            c = r["checks"]

            def cell(key, scale=1.0, fmt="%.2f"):
                if key not in c:
                    return "-"
                got = c[key]["measured"]
                return "%s / %s" % (fmt % (c[key]["asked"] / scale),
                                    "none" if got is None else fmt % (got / scale))
            table.append([r["src"], r["dst"], cell("rtt_ms"), cell("loss_pct"),
                          cell("rate_bps", 1e6), ("PASS", "pass") if r["pass"] else ("FAIL", "fail")])
        parts.append("<h3>WAN links: asked / measured</h3>" + _table(
            ["src", "dst", "RTT ms", "loss %", "rate Mbit/s", "result"], table, "links-table"))
    if sites:
        sections.append("topology")
    parts.append('<h2 id="heatmap">WAN heatmap</h2>')
    if rows:
        with tempfile.NamedTemporaryFile(suffix=".png") as tmp:
            nm.report_heatmap(rows, tmp.name)
            tmp.seek(0)
            uri = "data:image/png;base64," + base64.b64encode(tmp.read()).decode()
        parts.append(img(uri, "WAN heatmap", "heatmap-img"))
        sections.append("heatmap")
    else:
        parts.append('<p class="note">no WAN measurement (run `enos tc --test`)</p>')

    # bench runs
    runs = load_runs(source)
    parts.append('<h2 id="bench">Bench runs</h2>')
    if not runs:
        parts.append('<p class="note">no bench run (reports/bench is empty: run `enos bench`)</p>')
    for run in runs:
        parts.append('<h3 class="run" id="run-%s">run %s</h3>'
                     % (html.escape(run["id"]), html.escape(run["id"])))
        if run["start"] is not None:
            parts.append('<p class="note">%s to %s UTC, Rally tasks %s</p>' % (
                time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(run["start"])),
                time.strftime("%H:%M:%S", time.gmtime(run["end"])),
                ", ".join(html.escape(str(t["uuid"])) for t in run["tasks"])))
        stat_rows = []
        for w in run["workloads"]:
            for s in [w["stats"]] + w["action_stats"]:
                label = w["name"] if s is w["stats"] else "  " + s["name"]
                stat_rows.append([label, s["count"], _fmt(s["min"]), _fmt(s["p50"]),
                                  _fmt(s["p90"]), _fmt(s["p95"]), _fmt(s["max"]), _fmt(s["mean"]),
                                  _fmt(s["success"], "%.1f")])
        conditions = (run.get("summary") or {}).get("conditions") or (run.get("summary") or {}).get("netem")
        cond_rows = []
        for link in (conditions or {}).get("links", []) if isinstance(conditions, dict) else []:
            cond_rows.append([link.get("src"), link.get("dst"), link_label(link)])
        if not cond_rows:
            cond_rows = [[s, d, link_label(l)] for (s, d), l in sorted(links.items())]
            cond_note = "the topology's constraints (the run recorded no tc plan of its own)"
        else:
            cond_note = "tc plan in force during the run"
        parts.append('<div class="side"><div>%s%s</div><div><h4>tc conditions</h4>'
                     '<p class="note">%s</p>%s</div></div>' % (
                         _table(["workload / action", "n", "min", "median", "90%ile", "95%ile",
                                 "max", "mean", "success %"], stat_rows, "rally-%s" % run["id"]),
                         img(duration_picture(run["workloads"]), "Rally durations",
                             "rally-curve-%s" % run["id"]) if run["workloads"] else "",
                         html.escape(cond_note), _table(["src", "dst", "delay / rate / loss"],
                                                        cond_rows)))
        if run["start"] is not None:
            window = bk.padded(run["start"], run["end"])
            mrows = metrics_rows(source, run["id"], live_url, window)
            in_window = [e for e in events if window[0] <= e["time"] <= window[1]]
            if not mrows:
                parts.append('<p class="note">no metrics for this run (monitoring off, or '
                             'InfluxDB unreachable)</p>')
            else:
                nodes = node_usage(mrows)
                services = service_usage(mrows)
                containers = container_usage(mrows)
                for key, label, unit, data, scale in (
                        ("cpu-node", "CPU per node", "% busy", nodes["cpu"], 1.0),
                        ("mem-node", "memory used per node", "MiB", nodes["memory"], 2 ** 20),
                        ("cpu-service", "CPU per service", "cores", services["cpu"], 1.0),
                        ("mem-service", "RSS per service", "MiB", services["memory"], 2 ** 20),
                        ("cpu-container", "CPU per container", "cores", containers["cpu"], 1.0),
                        ("mem-container", "memory per container", "MiB", containers["memory"], 2 ** 20)):
                    if data:
                        parts.append(img(timeline_picture(label, unit, data, window, in_window,
                                                          run["tasks"], scale), label,
                                         "%s-%s" % (key, run["id"])))
    if len(runs) > 1:
        parts.append('<h3>Runs compared</h3>' + img(comparison_picture(runs), "comparison",
                                                    "comparison-img"))
    if runs:
        sections.append("bench")

    # traces
    traces = sorted(glob.glob(os.path.join(source.root, "traces", "*.json")) +
                    glob.glob(os.path.join(source.reports, "bench", "*", "traces", "*.json")))
    if traces:
        parts.append('<h2 id="traces">OSProfiler traces</h2>')
        for path in traces[:20]:
            with open(path) as handle:
                trace = json.load(handle)
            name = os.path.relpath(path, source.root)
            parts.append(img(waterfall_picture(trace, name), name))
        if len(traces) > 20:
            notes.append("%d more OSProfiler traces are in the files" % (len(traces) - 20))
        sections.append("traces")

    # stage times
    stage_rows = []
    starts = {}
    for event in events:
        if event["title"].endswith(" start"):
            starts[event["title"][:-6]] = event["time"]
        elif event["title"].endswith(" end") and event["title"][:-4] in starts:
            name = event["title"][:-4]
            stage_rows.append([name, time.strftime("%H:%M:%S", time.gmtime(starts[name])),
                               "%.0f" % (event["time"] - starts.pop(name)), event.get("text", "")])
    timings = source.path("env/logs/kolla-timings.jsonl", "logs/kolla-timings.jsonl")
    if timings:
        with open(timings) as handle:
            for line in handle:
                try:
                    t = json.loads(line)
                    stage_rows.append(["kolla-ansible %s" % t.get("command"),
                                       time.strftime("%H:%M:%S", time.gmtime(float(t["start"]))),
                                       "%.0f" % (float(t["end"]) - float(t["start"])),
                                       "rc %s" % t.get("rc")])
                except (ValueError, KeyError):
                    continue
    parts.append('<h2 id="stages">Stage times</h2>')
    parts.append(_table(["stage", "start (UTC)", "seconds", ""], stage_rows, "stages-table")
                 if stage_rows else '<p class="note">no stage recorded</p>')
    if manifest:
        skipped = manifest.get("skipped", [])
        parts.append('<h2 id="backup">Backup</h2><p class="note">%d files, created %s</p>%s' % (
            len(manifest.get("files", {})), html.escape(str(manifest.get("created"))),
            _table(["skipped", "why"], [[s["what"], s["why"]] for s in skipped])))
    label = title or (manifest or {}).get("environment") or os.path.basename(
        os.path.abspath(source_root))
    page = ('<!DOCTYPE html><html><head><meta charset="utf-8"><title>edge.enos report: %s</title>'
            '<style>%s</style></head><body><h1>edge.enos report: %s</h1>'
            '<p class="note">generated %s UTC%s</p>%s</body></html>' % (
                html.escape(label), STYLE, html.escape(label),
                time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
                "".join(" &middot; %s" % n for n in notes), "\n".join(parts)))
    with open(out_path, "w") as handle:
        handle.write(page)
    return {"path": out_path, "sections": sections, "runs": len(runs)}


def build_from(source, out_path, live_url=None):
    """source: a backup tarball or an environment directory."""
    if os.path.isfile(source):
        with tempfile.TemporaryDirectory(prefix="enos-report-") as work:
            return build(unpack_backup(source, work), out_path)
    return build(source, out_path, live_url=live_url)
