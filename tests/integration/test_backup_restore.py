"""`enos backup --verify` on a tarball holding a real InfluxDB portable backup, taken online
from a running influxd on loopback and restored into a fresh one (no Docker needed)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "collections"))
from ansible_collections.edge.enos.plugins.module_utils import backup as bk  # noqa: E402


def write(url, database, lines):
    urllib.request.urlopen(urllib.request.Request(
        url + "/query", data=urllib.parse.urlencode({"q": "CREATE DATABASE " + database}).encode())).read()
    urllib.request.urlopen(urllib.request.Request(
        "%s/write?db=%s&precision=s" % (url, database), data="\n".join(lines).encode())).read()


def test_portable_backup_restores_into_a_fresh_influxd_with_points_per_node(tmp_path):
    now = int(time.time())
    with bk.ThrowAwayInflux() as live:
        write(live.url, "collectd", ["cpu_value,host=n%d,type=percent,type_instance=idle "
                                     "value=%d %d" % (n, 90 - i, now - 60 + i)
                                     for n in (1, 2) for i in range(30)])
        write(live.url, "cadvisor", ["cpu_usage_total,container_name=keystone,machine=n1 "
                                     "value=%di %d" % (i * 1000, now - 30 + i) for i in range(10)])
        # taken while the server runs, as on the InfluxDB node
        proc = subprocess.run(["sh", "-c", bk.INFLUX_BACKUP_COMMAND.format(
            rpc="127.0.0.1:%d" % live.rpc)], capture_output=True, check=False, timeout=120)
        assert proc.returncode == 0, proc.stderr
    archive = bk.Archive(str(tmp_path / "env-t.tar.gz"), "env-t")
    assert archive.add_tar_stream(io.BytesIO(proc.stdout), "metrics/influxdb-portable") >= 2
    # a 5 s run: its metrics are counted over the window widened by 30 s on each side
    archive.close({"bench_runs": [{"id": "run-a", "start": now - 40 + 30, "end": now - 35 - 30}]})

    result = bk.verify(str(tmp_path / "env-t.tar.gz"), log=lambda _m: None)
    assert result["problems"] == []
    restored = result["restore"]
    assert restored["collectd"] == {"n1": 30, "n2": 30}
    assert restored["cadvisor"] == {"n1": 10}
    assert restored["windows"]["run-a"] == {"n1": 6, "n2": 6}


def test_verify_fails_on_a_broken_influx_backup(tmp_path):
    archive = bk.Archive(str(tmp_path / "env-b.tar.gz"), "env-b")
    archive.add_bytes("metrics/influxdb-portable/20260101T000000Z.manifest", b"{not json")
    archive.close({})
    try:
        bk.verify(str(tmp_path / "env-b.tar.gz"), log=lambda _m: None)
    except bk.BackupError as exc:
        assert "influxd restore failed" in str(exc)
    else:
        raise AssertionError("a broken portable backup was restored")
    assert not os.path.exists(str(tmp_path / "env-b.tar.gz.partial"))
