# -*- coding: utf-8 -*-
# Copyright: edge.enos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""OSProfiler traces drawn offline: OSProfiler's own HTML loads its scripts from CDNs, so a
trace (``osprofiler trace show --json``, the driver's ``get_report()``) becomes a list of spans,
a per-service time table and a waterfall PNG here.
"""

from __future__ import annotations

__all__ = ["spans", "service_times", "service_table", "draw_waterfall"]


def spans(trace):
    """A trace report -> [{name, project, service, host, start_ms, end_ms, depth, trace_id,
    parent_id}] in start order (times relative to the start of the trace)."""
    out = []

    def walk(node, depth):
        for child in node.get("children") or []:
            info = child.get("info") or {}
            out.append({"name": info.get("name", "?"), "project": info.get("project") or "?",
                        "service": info.get("service") or "", "host": info.get("host") or "",
                        "start_ms": float(info.get("started", 0)),
                        "end_ms": float(info.get("finished", info.get("started", 0))),
                        "depth": depth, "trace_id": child.get("trace_id"),
                        "parent_id": child.get("parent_id")})
            walk(child, depth + 1)

    walk(trace, 0)
    out.sort(key=lambda s: (s["start_ms"], s["depth"]))
    return out


def _union_ms(intervals):
    total, current = 0.0, None
    for start, end in sorted(intervals):
        if current is None or start > current[1]:
            if current:
                total += current[1] - current[0]
            current = [start, end]
        else:
            current[1] = max(current[1], end)
    if current:
        total += current[1] - current[0]
    return total


def service_times(span_list):
    """Per service (OSProfiler's `project`): spans, the time it was busy (union of its spans, so
    nested spans are not counted twice), and per span name the count and summed duration."""
    out = {}
    for span in span_list:
        entry = out.setdefault(span["project"], {"spans": 0, "intervals": [], "names": {}})
        entry["spans"] += 1
        entry["intervals"].append((span["start_ms"], span["end_ms"]))
        name = entry["names"].setdefault(span["name"], {"count": 0, "ms": 0.0})
        name["count"] += 1
        name["ms"] += span["end_ms"] - span["start_ms"]
    for entry in out.values():
        entry["busy_ms"] = round(_union_ms(entry.pop("intervals")), 3)
    return out


def service_table(span_list):
    times = service_times(span_list)
    total = max([s["end_ms"] for s in span_list] or [0.0]) - min(
        [s["start_ms"] for s in span_list] or [0.0])
    rows = [["service", "spans", "busy ms", "% of trace", "spans by name (count, ms)"]]
    for project, entry in sorted(times.items(), key=lambda kv: -kv[1]["busy_ms"]):
        names = ", ".join("%s x%d %.1f" % (n, v["count"], v["ms"])
                          for n, v in sorted(entry["names"].items()))
        rows.append([project, str(entry["spans"]), "%.1f" % entry["busy_ms"],
                     "%.0f%%" % (100.0 * entry["busy_ms"] / total) if total else "-", names])
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r[:4], widths)) + "  " + r[4]
                     for r in rows)


def draw_waterfall(span_list, path, title="OSProfiler trace"):
    """One bar per span (start to end, indented by nesting), coloured by service."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    projects = sorted({s["project"] for s in span_list})
    palette = plt.get_cmap("tab10")
    colours = dict((p, palette(i % 10)) for i, p in enumerate(projects))
    height = max(2.5, 0.28 * len(span_list) + 1.2)
    fig, ax = plt.subplots(figsize=(11, height))
    for row, span in enumerate(span_list):
        width = max(span["end_ms"] - span["start_ms"], 0.05)
        ax.barh(row, width, left=span["start_ms"], color=colours[span["project"]],
                edgecolor="black", linewidth=0.3)
        ax.text(span["start_ms"], row, " %s%s %.1f ms" % ("  " * span["depth"], span["name"],
                                                          span["end_ms"] - span["start_ms"]),
                va="center", fontsize=7)
    ax.set_yticks(range(len(span_list)))
    ax.set_yticklabels(["%s %s" % (s["project"], s["service"]) for s in span_list], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("ms since the start of the trace")
    ax.set_title(title, fontsize=9)
    handles = [matplotlib.patches.Patch(color=colours[p], label=p) for p in projects]
    ax.legend(handles=handles, loc="lower right", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
