# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Per-container metrics from the Docker Engine API, written in cAdvisor's InfluxDB layout.

cAdvisor (EnOS's per-container collector) is not packaged anywhere this collection installs
from offline. This file is both the pure conversion (unit-tested from recorded Docker answers)
and, run as a script, the small collector the role ``container_metrics`` installs on each node.

cAdvisor's InfluxDB storage driver writes one measurement per metric, field ``value``, tags
``machine`` (the node's hostname) and ``container_name``; EnOS's dashboards query
``cpu_usage_total``/``memory_usage`` per ``container_name`` in the database ``cadvisor``. The
same names are used here. ``blkio_read_bytes``/``blkio_write_bytes`` are additions (cAdvisor's
InfluxDB driver has no block I/O series).

Partitions: points that cannot be written are kept in memory (at most ``--buffer`` lines, the
oldest dropped first, the count dropped logged) and sent when InfluxDB answers again.
"""
from __future__ import annotations

import argparse
import collections
import http.client
import json
import socket
import sys
import time
import urllib.parse
import urllib.request

CUMULATIVE = ("cpu_usage_total", "cpu_usage_system", "cpu_usage_user", "rx_bytes", "rx_errors",
              "tx_bytes", "tx_errors", "blkio_read_bytes", "blkio_write_bytes")
MEASUREMENTS = CUMULATIVE + ("memory_usage", "memory_working_set", "memory_rss")


def _escape_tag(value):
    return str(value).replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ")


def container_name(info):
    """Docker answers names with a leading '/', as cAdvisor's aliases do not."""
    names = info.get("Names") or [info.get("Name") or info.get("Id", "")[:12]]
    return names[0].lstrip("/")


def stats_values(stats):
    """{measurement: integer} of one answer of GET /containers/{id}/stats?stream=false."""
    values = {}
    cpu = (stats.get("cpu_stats") or {}).get("cpu_usage") or {}
    for key, name in (("total_usage", "cpu_usage_total"), ("usage_in_kernelmode", "cpu_usage_system"),
                      ("usage_in_usermode", "cpu_usage_user")):
        if cpu.get(key) is not None:
            values[name] = int(cpu[key])
    memory = stats.get("memory_stats") or {}
    if memory.get("usage") is not None:
        usage = int(memory["usage"])
        detail = memory.get("stats") or {}
        # cgroup v2 names first, then v1's (as `docker stats` computes the working set)
        inactive = detail.get("inactive_file", detail.get("total_inactive_file", 0)) or 0
        values["memory_usage"] = usage
        values["memory_working_set"] = max(0, usage - int(inactive))
        rss = detail.get("anon", detail.get("rss", detail.get("total_rss")))
        if rss is not None:
            values["memory_rss"] = int(rss)
    networks = stats.get("networks")
    if networks:          # containers on the host's network (Kolla's) have none of their own
        for key in ("rx_bytes", "rx_errors", "tx_bytes", "tx_errors"):
            values[key] = sum(int(n.get(key, 0)) for n in networks.values())
    io = (stats.get("blkio_stats") or {}).get("io_service_bytes_recursive")
    if io:
        for op in ("read", "write"):
            values["blkio_%s_bytes" % op] = sum(int(e.get("value", 0)) for e in io
                                                if str(e.get("op", "")).lower() == op)
    return values


def to_lines(machine, name, values, timestamp_s):
    """InfluxDB line protocol, one line per measurement, second precision."""
    tags = "container_name=%s,machine=%s" % (_escape_tag(name), _escape_tag(machine))
    return ["%s,%s value=%di %d" % (m, tags, v, timestamp_s) for m, v in sorted(values.items())]


# --------------------------------------------------------------------------- the collector

class DockerSocket(http.client.HTTPConnection):
    """HTTP over Docker's unix socket."""

    def __init__(self, path, timeout=10):
        http.client.HTTPConnection.__init__(self, "localhost", timeout=timeout)
        self.socket_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.socket_path)


def docker_get(path, socket_path):
    conn = DockerSocket(socket_path)
    try:
        conn.request("GET", path)
        answer = conn.getresponse()
        body = answer.read()
        if answer.status != 200:
            raise OSError("docker %s: HTTP %d %s" % (path, answer.status, body[:200]))
        return json.loads(body)
    finally:
        conn.close()


def collect(machine, socket_path, now=None):
    lines = []
    now = int(now if now is not None else time.time())
    for info in docker_get("/containers/json", socket_path):
        try:
            stats = docker_get("/containers/%s/stats?stream=false&one-shot=true" % info["Id"],
                               socket_path)
        except (OSError, ValueError):
            continue                    # the container went away between the list and the stats
        lines += to_lines(machine, container_name(info), stats_values(stats), now)
    return lines


class Sender(object):
    """Writes lines to InfluxDB; keeps what could not be written, up to `limit` lines."""

    def __init__(self, url, database, limit, log=sys.stderr):
        self.endpoint = "%s/write?%s" % (url.rstrip("/"), urllib.parse.urlencode(
            {"db": database, "precision": "s"}))
        self.pending = collections.deque()
        self.limit, self.dropped, self.log = limit, 0, log

    def send(self, lines):
        self.pending.extend(lines)
        overflow = len(self.pending) - self.limit
        for _dropped in range(max(0, overflow)):
            self.pending.popleft()
        if overflow > 0:
            self.dropped += overflow
            print("buffer full: %d point(s) dropped so far" % self.dropped, file=self.log)
        while self.pending:
            batch = [self.pending[i] for i in range(min(5000, len(self.pending)))]
            request = urllib.request.Request(self.endpoint, data="\n".join(batch).encode(),
                                             method="POST")
            try:
                urllib.request.urlopen(request, timeout=10).read()
            except OSError as exc:
                print("InfluxDB does not answer (%s): %d point(s) kept" % (exc, len(self.pending)),
                      file=self.log)
                return False
            for _sent in batch:
                self.pending.popleft()
        return True


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--influx", required=True, help="InfluxDB URL, e.g. http://10.0.0.5:8086")
    parser.add_argument("--database", default="cadvisor")
    parser.add_argument("--machine", default=socket.gethostname())
    parser.add_argument("--socket", default="/var/run/docker.sock")
    parser.add_argument("--interval", type=float, default=5.0)
    parser.add_argument("--buffer", type=int, default=500000)
    parser.add_argument("--once", action="store_true", help="collect and send once, then exit")
    args = parser.parse_args(argv)
    sender = Sender(args.influx, args.database, args.buffer)
    while True:
        started = time.time()
        try:
            sender.send(collect(args.machine, args.socket, started))
        except (OSError, ValueError) as exc:
            print("docker does not answer: %s" % exc, file=sys.stderr)
        if args.once:
            return 0 if not sender.pending else 1
        time.sleep(max(0.0, args.interval - (time.time() - started)))


if __name__ == "__main__":
    sys.exit(main())
