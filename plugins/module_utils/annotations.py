# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Annotations: what ran when (enos verbs, playbooks, Rally tasks), for graphs and reports.

Every annotation is appended to ``<env>/reports/events.jsonl`` (always: the report reads it,
and it survives an InfluxDB that does not answer) and, when the environment runs monitoring,
written to InfluxDB's ``events`` database in EnOS's layout: measurement ``events``, string
fields ``title``, ``text``, ``tags``, ``type``.

    from ansible_collections.edge.enos.plugins.module_utils.annotations import annotate
    annotate(env_dir, "rally task start", text="boot-and-list-0", tags=["bench", "rally"])
"""
from __future__ import annotations

import json
import os
import time
import urllib.parse

from ansible.module_utils.urls import open_url

EVENTS_FILE = os.path.join("reports", "events.jsonl")
INFLUX_PORT = 8086


def _field(value):
    return '"%s"' % str(value).replace("\\", "\\\\").replace('"', '\\"')


def event_line(event):
    """One event as InfluxDB line protocol (nanosecond timestamp)."""
    fields = ",".join("%s=%s" % (k, _field(event[k])) for k in ("title", "text", "tags", "type"))
    return "events %s %d" % (fields, int(event["time"] * 1e9))


def influx_url(env_dir):
    """http://<enos_influx node>:8086 when the environment runs monitoring, else None."""
    path = os.path.join(env_dir, "reports", "monitoring.json")
    # no resources.json: the machines are gone (destroy --hard), their addresses are not ours
    if not os.path.exists(path) or not os.path.exists(os.path.join(env_dir, "resources.json")):
        return None
    with open(path) as handle:
        return json.load(handle).get("influx_url")


def write_influx(url, lines, database="events", timeout=3):
    endpoint = "%s/write?%s" % (url.rstrip("/"), urllib.parse.urlencode({"db": database}))
    open_url(endpoint, data="\n".join(lines).encode(), method="POST", timeout=timeout).read()


def annotate(env_dir, title, text="", tags=(), kind="enos", when=None):
    """Record an event; returns None when InfluxDB got it (or monitoring is off), else why not."""
    event = {"time": time.time() if when is None else when, "title": title, "text": text,
             "tags": ",".join(tags), "type": kind}
    path = os.path.join(env_dir, EVENTS_FILE)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    url = influx_url(env_dir)
    problem = None
    if url:
        try:
            write_influx(url, [event_line(event)])
        except OSError as exc:
            problem = "InfluxDB at %s did not take the event: %s" % (url, exc)
    event["influx"] = bool(url) and problem is None
    with open(path, "a") as handle:
        handle.write(json.dumps(event, sort_keys=True) + "\n")
    return problem


def read_events(env_dir_or_file):
    path = env_dir_or_file
    if os.path.isdir(path):
        path = os.path.join(path, EVENTS_FILE)
    if not os.path.exists(path):
        return []
    with open(path) as handle:
        return [json.loads(line) for line in handle if line.strip()]
