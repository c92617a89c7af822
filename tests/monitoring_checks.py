"""Checks of monitoring, backup and report on a running environment, shared by the local
testbed's integration test and the end-to-end deployment.

Each check takes the environment directory (and what it needs) and asserts real outcomes:
series read back from the environment's InfluxDB, files read back from a real tarball.
"""

from __future__ import annotations

import json
import os
import sys
import tarfile
import time

import yaml

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "collections"))

from ansible_collections.edge.enos.plugins.module_utils import backup as bk


def influx_url(env_dir):
    with open(os.path.join(env_dir, "reports", "monitoring.json")) as handle:
        return json.load(handle)["influx_url"]


def hosts(env_dir):
    with open(os.path.join(env_dir, "resources.json")) as handle:
        return sorted(h["name"] for h in json.load(handle)["hosts"])


def wait_for(check, timeout=120, step=5):
    """check() until it returns without AssertionError (series arrive every few seconds)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(step)


def collectd_series_for_every_node(env_dir, start=None, end=None):
    """cpu, memory, load and per-process series of every node; returns {host: cpu points}."""
    url = influx_url(env_dir)
    counts = bk.points_per_host(url, "collectd", "cpu_value", "host", start, end)
    assert sorted(counts) == hosts(env_dir), counts
    for measurement in ("memory_value", "load_shortterm", "processes_value"):
        found = bk.points_per_host(url, "collectd", measurement, "host", start, end)
        assert sorted(found) == hosts(env_dir), (measurement, found)
    return counts


def container_series(env_dir, containers, start=None, end=None, machines=None):
    """cAdvisor-layout series (cpu_usage_total, memory_usage) of the named containers, on
    every node of `machines` (default: wherever they run)."""
    url = influx_url(env_dir)
    where = " WHERE " + bk.time_filter(start, end) if start else ""
    for measurement in ("cpu_usage_total", "memory_usage"):
        answer = bk.influx_query(url, "cadvisor", 'SELECT count(value) FROM "%s"%s GROUP BY '
                                 '"machine", "container_name"' % (measurement, where))
        found = {(s["tags"]["machine"], s["tags"]["container_name"]): s["values"][0][1]
                 for s in answer["results"][0].get("series", [])}
        names = {c for _m, c in found}
        missing = [c for c in containers if c not in names]
        for machine in machines or []:
            missing += ["%s on %s" % (c, machine) for c in containers if (machine, c) not in found]
        assert not missing, (measurement, missing, found)
    return found


def annotations(env_dir, titles, start=None, end=None):
    """Events with these titles in InfluxDB's `events` database (EnOS's layout)."""
    where = " WHERE " + bk.time_filter(start, end) if start else ""
    answer = bk.influx_query(influx_url(env_dir), "events",
                             "SELECT title, text, tags, type FROM events" + where)
    series = answer["results"][0].get("series", [])
    found = [row[1] for s in series for row in s["values"]]
    missing = [t for t in titles if t not in found]
    assert not missing, (missing, found)
    return found


def backup_holds_everything_and_no_secret(env_dir, tarball, kolla_nodes=()):
    """The manifest verifies; every node's Kolla files are in; no passwords.yml value is."""
    top, manifest, seen = bk.read_manifest(tarball)
    assert bk.check_manifest(manifest, seen) == []
    assert "env/kolla/passwords.yml" not in seen
    for node in kolla_nodes:
        assert any(n.startswith("nodes/%s/kolla-logs/" % node) for n in seen), node
        assert any(n.startswith("nodes/%s/kolla-config/" % node) for n in seen), node
    assert any(n.startswith("metrics/influxdb-portable/") for n in seen)
    assert set(manifest["images"]) == set(hosts(env_dir))
    passwords = os.path.join(env_dir, "kolla", "passwords.yml")
    secrets = []
    if os.path.exists(passwords):
        with open(passwords) as handle:
            secrets = bk.secret_values(yaml.safe_load(handle) or {})
    key = os.path.join(env_dir, "id_ed25519")
    if os.path.exists(key):
        secrets += bk.secret_values({"key": open(key).read()})
    redactor = bk.Redactor(secrets)
    leaks = []
    with tarfile.open(tarball, "r:gz") as tar:
        for member in tar:
            if member.isfile():
                found = redactor.leaks(tar.extractfile(member).read())
                if found:
                    leaks.append((member.name, len(found)))
    assert leaks == [], leaks
    return manifest, seen


def restored_points_per_node(env_dir, tarball):
    result = bk.verify(tarball, log=lambda _m: None)
    assert result["problems"] == []
    restored = result["restore"]
    assert isinstance(restored, dict), restored
    assert sorted(restored["collectd"]) == hosts(env_dir), restored
    for run_id, counts in restored["windows"].items():
        assert sorted(counts) == hosts(env_dir), (run_id, counts)
    return restored
