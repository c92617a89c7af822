# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""`enos backup`: one tarball of everything an experiment produced, and its verification.

Pure Python (no Ansible import): the archive writer with its manifest, secret redaction,
streaming of the nodes' files over SSH (one file in memory at a time, never a full local copy),
and `verify` (checksums, then the InfluxDB part restored into a throw-away influxd).

Layout of ``<env>-<UTC time>.tar.gz`` (top folder ``<env>-<UTC time>/``)::

    manifest.json                 sha256 and size of every other file, versions, image digests per
                                  node, bench runs (Rally task ids, time windows), what was skipped
    env/                          topology.yml, resources.json, info.json (`enos info --json`),
                                  kolla/ (globals, inventory; never passwords.yml), logs/
    reports/                      netem.*, bench/<run id>/ (Rally JSON/HTML, summary), events.jsonl
    traces/                       OSProfiler traces (JSON)
    nodes/<host>/kolla-logs/      /var/lib/docker/volumes/kolla_logs/_data, redacted
    nodes/<host>/kolla-config/    /etc/kolla, redacted
    metrics/influxdb-portable/    `influxd backup -portable`, taken online
    metrics/csv/<run>/<db>.csv    every series of the run's time window
"""
from __future__ import annotations

import hashlib
import io
import json
import math
import os
import re
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.parse

from ansible.module_utils.urls import open_url

MANIFEST = "manifest.json"
REDACTED = b"<redacted>"
MIN_SECRET_LENGTH = 4
# secrets that have no passwords.yml entry: keys, and password-like assignments and URLs
PATTERNS = [
    re.compile(rb"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.S),
    re.compile(rb"(?i)((?:password|passwd|secret|token|api_key)[\w.-]*\s*[=:]\s*)([^\s'\",]+)"),
    re.compile(rb"(://[^:/@\s]+:)([^@/\s]+)(@)"),
]
SSH_OPTS = ["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o",
            "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=15"]


class BackupError(Exception):
    """A backup or a verification that cannot go on; the message says why."""


# --------------------------------------------------------------------------- secrets

def secret_values(passwords):
    """Every string leaf of passwords.yml (nested dicts: SSH key pairs), longest first."""
    found = set()

    def walk(value):
        if isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                walk(item)
        elif value is not None and not isinstance(value, bool):
            text = str(value).strip()
            if len(text) >= MIN_SECRET_LENGTH:
                found.add(text)
                # a multi-line key may be re-wrapped where it is used: its lines are secret too
                found.update(line.strip() for line in text.splitlines()
                             if len(line.strip()) >= 16 and "-----" not in line)
    walk(passwords)
    return sorted(found, key=lambda s: (-len(s), s))


class Redactor(object):
    """Replaces every known secret value, private key and password-like assignment."""

    def __init__(self, secrets=()):
        self.secrets = [s.encode() if isinstance(s, str) else s for s in secrets]
        self.exact = re.compile(b"|".join(re.escape(s) for s in self.secrets)) \
            if self.secrets else None

    def __call__(self, data):
        if self.exact is not None:
            data = self.exact.sub(REDACTED, data)
        data = PATTERNS[0].sub(REDACTED, data)
        data = PATTERNS[1].sub(lambda m: m.group(1) + REDACTED, data)
        return PATTERNS[2].sub(lambda m: m.group(1) + REDACTED + m.group(3), data)

    def leaks(self, data):
        """The secrets (by index) still present in data."""
        return [i for i, s in enumerate(self.secrets) if s in data]


# --------------------------------------------------------------------------- the archive

def sha256(data):
    return hashlib.sha256(data).hexdigest()


class Archive(object):
    """A .tar.gz written member by member; manifest.json is written last by close()."""

    def __init__(self, path, top, redactor=None):
        self.path, self.top = path, top
        self.partial = path + ".partial"
        self.tar = tarfile.open(self.partial, "w:gz")
        self.redactor = redactor or Redactor()
        self.files = {}
        self.skipped = []

    def add_bytes(self, name, data, mtime=None, redact=False):
        if redact:
            data = self.redactor(data)
        info = tarfile.TarInfo("%s/%s" % (self.top, name))
        info.size, info.mtime, info.mode = len(data), int(mtime or time.time()), 0o644
        self.tar.addfile(info, io.BytesIO(data))
        self.files[name] = {"sha256": sha256(data), "size": len(data)}

    def add_file(self, path, name, redact=False):
        with open(path, "rb") as handle:
            self.add_bytes(name, handle.read(), os.path.getmtime(path), redact)

    def add_tree(self, root, prefix, redact=False, exclude=()):
        """Every regular file under root (sorted), except the names in exclude."""
        if not os.path.isdir(root):
            return 0
        count = 0
        for folder, dirs, files in os.walk(root):
            dirs.sort()
            for fname in sorted(files):
                path = os.path.join(folder, fname)
                rel = os.path.relpath(path, root)
                if fname in exclude or not os.path.isfile(path) or os.path.islink(path):
                    continue
                self.add_file(path, "%s/%s" % (prefix, rel), redact)
                count += 1
        return count

    def add_tar_stream(self, stream, prefix, redact=False):
        """Members of an uncompressed tar stream (e.g. `ssh node tar cf - ...`), one at a time."""
        count = 0
        with tarfile.open(fileobj=stream, mode="r|") as source:
            for member in source:
                if not member.isfile():
                    continue
                data = source.extractfile(member).read()
                name = member.name.lstrip("./")
                self.add_bytes("%s/%s" % (prefix, name), data, member.mtime, redact)
                count += 1
        return count

    def skip(self, what, why):
        self.skipped.append({"what": what, "why": why})

    def close(self, meta):
        manifest = dict(meta, files=dict(sorted(self.files.items())), skipped=self.skipped)
        data = (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode()
        info = tarfile.TarInfo("%s/%s" % (self.top, MANIFEST))
        info.size, info.mtime, info.mode = len(data), int(time.time()), 0o644
        self.tar.addfile(info, io.BytesIO(data))
        self.tar.close()
        os.rename(self.partial, self.path)
        return manifest

    def abort(self):
        self.tar.close()
        if os.path.exists(self.partial):
            os.unlink(self.partial)


# --------------------------------------------------------------------------- nodes

def ssh_argv(node, command):
    argv = ["ssh"] + SSH_OPTS
    if node.get("key"):
        argv += ["-i", node["key"]]
    if node.get("port"):
        argv += ["-p", str(node["port"])]
    return argv + ["%s@%s" % (node.get("user") or "root", node["address"]), command]


def ssh_output(node, command, timeout=120):
    proc = subprocess.run(ssh_argv(node, command), capture_output=True, text=True,
                          timeout=timeout, check=False)
    return proc.returncode, proc.stdout, proc.stderr


def stream_from_node(archive, node, command, prefix, redact=True):
    """Run a command printing a tar stream on the node; its files go into the archive."""
    proc = subprocess.Popen(ssh_argv(node, command), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        count = archive.add_tar_stream(proc.stdout, prefix, redact)
    except tarfile.ReadError as exc:
        count, problem = 0, str(exc)
    else:
        problem = None
    finally:
        proc.stdout.close()
        stderr = proc.stderr.read().decode(errors="replace").strip()
        proc.wait()
    if problem or (proc.returncode not in (0,) and not count):
        return 0, "%s (exit %s) %s" % (problem or "no file", proc.returncode, stderr[-300:])
    return count, None


def tar_paths_command(paths):
    """tar of the paths that exist (relative to /), never failing on a missing one."""
    quoted = " ".join("'%s'" % p.lstrip("/") for p in paths)
    return ("cd / && set -- && for p in %s; do [ -e \"$p\" ] && set -- \"$@\" \"$p\"; done; "
            "[ $# -gt 0 ] && tar cf - --ignore-failed-read \"$@\" 2>/dev/null" % quoted)


INFLUX_BACKUP_COMMAND = (
    "d=$(mktemp -d) && influxd backup -portable -host {rpc} \"$d\" >/dev/null 2>&1 "
    "&& tar cf - -C \"$d\" .; rc=$?; rm -rf \"$d\"; exit $rc")


def image_digests(node):
    code, out, err = ssh_output(
        node, "docker images --digests --format '{{.Repository}}:{{.Tag}} {{.ID}} {{.Digest}}'")
    if code:
        return {"error": err.strip()[-300:] or "exit %d" % code}
    images = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3:
            images[parts[0]] = {"id": parts[1], "digest": None if parts[2] == "<none>" else parts[2]}
    return images


# --------------------------------------------------------------------------- metrics

def influx_query(url, database, query, csv=False, timeout=60):
    endpoint = "%s/query?%s" % (url.rstrip("/"), urllib.parse.urlencode(
        {"db": database, "q": query, "epoch": "s"}))
    answer = open_url(endpoint, headers={"Accept": "application/csv"} if csv else {}, timeout=timeout)
    body = answer.read()
    return body if csv else json.loads(body)


def time_filter(start, end):
    """InfluxQL condition covering [start, end] (seconds, floats) in whole seconds."""
    return "time >= %ds AND time <= %ds" % (math.floor(start), math.ceil(end))


# Metrics of a run are taken over its window widened by this much on each side: a Dummy or
# Keystone run can be shorter than collectd's 10 s interval.
WINDOW_MARGIN_S = 30


def padded(start, end):
    return start - WINDOW_MARGIN_S, end + WINDOW_MARGIN_S


def window_query(start, end):
    return "SELECT * FROM /.*/ WHERE " + time_filter(start, end)


def bench_runs(reports_dir):
    """Bench runs found in reports/bench/<run id>/: Rally task ids and time windows.

    Read from Rally's JSON reports (`rally task report --json`): every task's uuid, and the
    window from the first iteration's start to the last one's end; summary.json, when present,
    is kept as it is under 'summary'."""
    runs = []
    root = os.path.join(reports_dir, "bench")
    if not os.path.isdir(root):
        return runs
    for run_id in sorted(os.listdir(root)):
        folder = os.path.join(root, run_id)
        if not os.path.isdir(folder):
            continue
        run = {"id": run_id, "tasks": [], "start": None, "end": None}
        summary = os.path.join(folder, "summary.json")
        if os.path.exists(summary):
            with open(summary) as handle:
                run["summary"] = json.load(handle)
        for path in sorted(_json_files(folder)):
            for task in rally_tasks(path):
                task["file"] = os.path.relpath(path, reports_dir)
                run["tasks"].append(task)
        bounds = [t for t in run["tasks"] if t["start"] is not None]
        if bounds:
            run["start"] = min(t["start"] for t in bounds)
            run["end"] = max(t["end"] for t in bounds)
        runs.append(run)
    return runs


def _json_files(folder):
    for sub, _dirs, files in os.walk(folder):
        for fname in files:
            if fname.endswith(".json") and fname != "summary.json":
                yield os.path.join(sub, fname)


def workload_name(workload):
    """Rally 5's JSON names the scenario as the only key of `scenario` (older ones: `name`)."""
    return workload.get("name") or next(iter(workload.get("scenario") or {}), None)


def rally_tasks(path):
    """[{uuid, title, workloads: [{name, start, end, iterations, failures}], start, end}] of a
    Rally JSON report; [] for another JSON file."""
    try:
        with open(path) as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return []
    if not isinstance(data, dict) or not isinstance(data.get("tasks"), list):
        return []
    tasks = []
    for task in data["tasks"]:
        workloads = []
        for subtask in task.get("subtasks", []):
            for workload in subtask.get("workloads", []):
                data_points = workload.get("data", [])
                starts = [d["timestamp"] for d in data_points if "timestamp" in d]
                ends = [d["timestamp"] + (d.get("duration") or 0) + (d.get("idle_duration") or 0)
                        for d in data_points if "timestamp" in d]
                workloads.append({
                    "name": workload_name(workload), "iterations": len(data_points),
                    "failures": sum(1 for d in data_points if d.get("error")),
                    "start": min(starts) if starts else None, "end": max(ends) if ends else None})
        bounded = [w for w in workloads if w["start"] is not None]
        tasks.append({"uuid": task.get("uuid"), "title": task.get("title"), "workloads": workloads,
                      "start": min(w["start"] for w in bounded) if bounded else None,
                      "end": max(w["end"] for w in bounded) if bounded else None})
    return tasks


# --------------------------------------------------------------------------- versions

def versions(env_dir, collection_root, runs):
    found = {}
    galaxy = os.path.join(collection_root, "galaxy.yml")
    if os.path.exists(galaxy):
        match = re.search(r"^version:\s*(\S+)", open(galaxy).read(), re.M)
        found["edge.enos"] = match.group(1) if match else None
    cache = os.path.expanduser("~/.cache/edge-enos")
    for dist, key in (("kolla_ansible", "kolla-ansible"), ("kolla", "kolla")):
        found[key] = _dist_versions(cache, dist)
    rally = sorted({str(r.get("summary", {}).get("rally_version")) for r in runs
                    if r.get("summary", {}).get("rally_version")})
    found["rally"] = rally or None
    return found


def _dist_versions(cache, dist):
    if not os.path.isdir(cache):
        return None
    hits = set()
    for venv in os.listdir(cache):
        for libdir in ("lib",):
            base = os.path.join(cache, venv, libdir)
            if not os.path.isdir(base):
                continue
            for pyver in os.listdir(base):
                site = os.path.join(base, pyver, "site-packages")
                if os.path.isdir(site):
                    for entry in os.listdir(site):
                        m = re.match(r"%s-([\w.]+)\.dist-info$" % dist, entry)
                        if m:
                            hits.add(m.group(1))
    return sorted(hits) or None


# --------------------------------------------------------------------------- the whole backup

def _say(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def backup(env_dir, dest_dir, nodes, collection_root, influx=None, node_paths=None,
           passwords_file=None, extra_secrets=(), log=None):
    """Write <env>-<UTC>.tar.gz into dest_dir; returns (path, manifest).

    nodes: [{name, address, user, key}]; influx: {node: name, url, rpc} or None; log: where
    progress lines go (default: standard output)."""
    log = log or _say
    env_dir = os.path.abspath(env_dir)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    label = os.path.basename(env_dir.rstrip("/"))
    resources = _load_json(os.path.join(env_dir, "resources.json")) or {}
    label = resources.get("environment") or label
    top = "%s-%s" % (label, stamp)
    os.makedirs(dest_dir, exist_ok=True)
    path = os.path.join(dest_dir, top + ".tar.gz")
    secrets = list(extra_secrets)
    if passwords_file and os.path.exists(passwords_file):
        import yaml
        with open(passwords_file) as handle:
            secrets += secret_values(yaml.safe_load(handle) or {})
    archive = Archive(path, top, Redactor(secret_values(secrets)))
    started = time.time()
    try:
        manifest = _fill(archive, env_dir, nodes, collection_root, influx,
                         node_paths or [], log)
        manifest.update(environment=label, created=stamp, duration_s=round(time.time() - started, 1),
                        secrets_redacted=len(archive.redactor.secrets))
        return path, archive.close(manifest)
    except BaseException:
        archive.abort()
        raise


def _load_json(path):
    if os.path.exists(path):
        with open(path) as handle:
            return json.load(handle)
    return None


def _fill(archive, env_dir, nodes, collection_root, influx, node_paths, log):
    for name in ("topology.yml", "resources.json", "inventory.yml", "clouds.yaml"):
        source = os.path.join(env_dir, name)
        if os.path.exists(source):
            archive.add_file(source, "env/%s" % name, redact=True)
    info = os.path.join(env_dir, "reports", "info.json")
    if not os.path.exists(info):
        archive.skip("env/info.json", "no reports/info.json in the environment (written by `enos backup`)")
    archive.add_tree(os.path.join(env_dir, "kolla"), "env/kolla", redact=True,
                     exclude=("passwords.yml",))
    archive.skip("env/kolla/passwords.yml", "secrets are never backed up")
    archive.add_tree(os.path.join(env_dir, "logs"), "env/logs", redact=True)
    reports = os.path.join(env_dir, "reports")
    archive.add_tree(reports, "reports", redact=True)
    if not os.path.isdir(os.path.join(reports, "bench")):
        archive.skip("reports/bench", "no bench run in this environment (`enos bench`)")
    for name, why in (("traces", "no OSProfiler trace (bench scenarios with osprofiler: true)"),
                      ("shaker", "no Shaker report (Shaker needs real VMs)")):
        if not archive.add_tree(os.path.join(env_dir, name), name, redact=True):
            archive.skip(name, why)
    runs = bench_runs(reports)

    digests = {}
    for node in nodes:
        log("backup: %s: Kolla logs and configuration" % node["name"])
        for paths, prefix in node_paths:
            count, problem = stream_from_node(archive, node, tar_paths_command(paths),
                                              "nodes/%s/%s" % (node["name"], prefix))
            if problem:
                archive.skip("nodes/%s/%s" % (node["name"], prefix), problem)
        digests[node["name"]] = image_digests(node)

    if influx:
        _metrics(archive, influx, nodes, runs, log)
    else:
        archive.skip("metrics", "monitoring is off in this environment (enable_monitoring: false)")
    return {"format": 1, "versions": versions(env_dir, collection_root, runs),
            "images": digests, "bench_runs": runs}


def _metrics(archive, influx, nodes, runs, log):
    node = next((n for n in nodes if n["name"] == influx["node"]), None)
    if node is None:
        archive.skip("metrics/influxdb-portable", "InfluxDB's node %s is not reachable" % influx["node"])
        return
    log("backup: %s: InfluxDB portable backup (online)" % node["name"])
    count, problem = stream_from_node(
        archive, node, INFLUX_BACKUP_COMMAND.format(rpc=influx.get("rpc", "127.0.0.1:8088")),
        "metrics/influxdb-portable", redact=False)
    if problem:
        archive.skip("metrics/influxdb-portable", problem)
    for run in runs:
        if run["start"] is None:
            archive.skip("metrics/csv/%s" % run["id"], "no time window in the run's Rally reports")
            continue
        for database in ("collectd", "cadvisor", "events"):
            try:
                data = influx_query(influx["url"], database,
                                    window_query(*padded(run["start"], run["end"])), csv=True)
            except OSError as exc:
                archive.skip("metrics/csv/%s/%s.csv" % (run["id"], database), str(exc))
                continue
            archive.add_bytes("metrics/csv/%s/%s.csv" % (run["id"], database), data)


# --------------------------------------------------------------------------- verify

def read_manifest(path):
    """(top folder, manifest, {name: (sha256, size)}) of a backup tarball, in one pass."""
    seen, manifest, top = {}, None, None
    try:
        with tarfile.open(path, "r:gz") as tar:
            for member in tar:
                if not member.isfile():
                    continue
                head, _slash, name = member.name.partition("/")
                top = top or head
                data = tar.extractfile(member).read()
                if name == MANIFEST:
                    manifest = json.loads(data)
                else:
                    seen[name] = (sha256(data), len(data))
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise BackupError("%s: not a readable backup tarball (%s)" % (path, exc))
    if manifest is None:
        raise BackupError("%s: no %s in the tarball" % (path, MANIFEST))
    return top, manifest, seen


def check_manifest(manifest, seen):
    problems = []
    listed = manifest.get("files", {})
    for name, entry in sorted(listed.items()):
        if name not in seen:
            problems.append("%s: listed in the manifest, missing from the tarball" % name)
        elif seen[name] != (entry["sha256"], entry["size"]):
            problems.append("%s: sha256/size %s/%d in the tarball, %s/%d in the manifest" % (
                name, seen[name][0][:12], seen[name][1], entry["sha256"][:12], entry["size"]))
    for name in sorted(set(seen) - set(listed)):
        problems.append("%s: in the tarball, not in the manifest" % name)
    return problems


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ThrowAwayInflux(object):
    """An influxd on loopback ports in a temporary directory, removed on exit."""

    def __init__(self, influxd="influxd"):
        self.influxd = shutil.which(influxd)
        if not self.influxd:
            raise BackupError("influxd is not installed here (apt-get install influxdb): the "
                              "InfluxDB part cannot be restored")
        self.dir = tempfile.mkdtemp(prefix="enos-verify-influx-")
        self.http, self.rpc = free_port(), free_port()
        self.url = "http://127.0.0.1:%d" % self.http
        self.proc = None
        with open(os.path.join(self.dir, "influxdb.conf"), "w") as handle:
            handle.write('reporting-disabled = true\nbind-address = "127.0.0.1:%d"\n'
                         '[meta]\n  dir = "%s/meta"\n[data]\n  dir = "%s/data"\n'
                         '  wal-dir = "%s/wal"\n  query-log-enabled = false\n'
                         '[http]\n  bind-address = "127.0.0.1:%d"\n  log-enabled = false\n'
                         '[monitor]\n  store-enabled = false\n'
                         % (self.rpc, self.dir, self.dir, self.dir, self.http))

    def start(self):
        self.log = open(os.path.join(self.dir, "influxd.log"), "ab")
        self.proc = subprocess.Popen([self.influxd, "-config",
                                      os.path.join(self.dir, "influxdb.conf")],
                                     stdout=self.log, stderr=self.log)
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                open_url(self.url + "/ping", timeout=2).read()
                return
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.3)
        raise BackupError("the throw-away influxd did not start (log: %s)"
                          % os.path.join(self.dir, "influxd.log"))

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(40)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def restore(self, backup_dir):
        proc = subprocess.run([self.influxd, "restore", "-portable", "-host",
                               "127.0.0.1:%d" % self.rpc, backup_dir],
                              capture_output=True, text=True, timeout=600, check=False)
        if proc.returncode:
            raise BackupError("influxd restore failed: %s" % (proc.stderr or proc.stdout)[-800:])

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def points_per_host(url, database, measurement, tag, start=None, end=None):
    where = " WHERE " + time_filter(start, end) if start is not None else ""
    answer = influx_query(url, database, 'SELECT count(value) FROM "%s"%s GROUP BY "%s"'
                          % (measurement, where, tag))
    counts = {}
    for series in answer["results"][0].get("series", []):
        counts[series["tags"][tag]] = series["values"][0][1]
    return counts


def verify(path, restore=True, log=None):
    """Checks the manifest, then restores metrics/influxdb-portable into a throw-away influxd
    and counts points per node. Returns a dict; raises BackupError when the tarball is broken."""
    log = log or _say
    top, manifest, seen = read_manifest(path)
    result = {"tarball": path, "files": len(seen), "problems": check_manifest(manifest, seen),
              "skipped": manifest.get("skipped", [])}
    log("verify: %d file(s), manifest %s" % (len(seen), "OK" if not result["problems"] else
                                             "has %d problem(s)" % len(result["problems"])))
    portable = [n for n in seen if n.startswith("metrics/influxdb-portable/")]
    if not restore or not portable:
        result["restore"] = None if not portable else "not asked"
        return result
    work = tempfile.mkdtemp(prefix="enos-verify-")
    try:
        target = os.path.join(work, "portable")
        os.makedirs(target)
        with tarfile.open(path, "r:gz") as tar:
            for member in tar:
                name = member.name.partition("/")[2]
                if member.isfile() and name.startswith("metrics/influxdb-portable/"):
                    with open(os.path.join(target, os.path.basename(name)), "wb") as out:
                        out.write(tar.extractfile(member).read())
        server = ThrowAwayInflux()
        try:
            server.start()
            server.restore(target)
            # a restored shard is served after a restart (InfluxDB 1.6)
            server.stop()
            server.start()
            windows = [(r["id"], r["start"], r["end"]) for r in manifest.get("bench_runs", [])
                       if r.get("start") is not None]
            restored = {"url": server.url, "collectd": points_per_host(
                server.url, "collectd", "cpu_value", "host"),
                "cadvisor": points_per_host(server.url, "cadvisor", "cpu_usage_total", "machine"),
                "windows": {}}
            for run_id, start, end in windows:
                restored["windows"][run_id] = points_per_host(
                    server.url, "collectd", "cpu_value", "host", *padded(start, end))
            result["restore"] = restored
            log("verify: InfluxDB restored on %s: cpu_value points per node %s" % (
                server.url, restored["collectd"]))
        finally:
            server.stop()
            shutil.rmtree(server.dir, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return result
