"""Monitoring, backup and report on a real local testbed (two sites, no OpenStack).

    .venv/bin/pytest -m docker tests/integration/test_monitoring.py

`enos up` with `enable_monitoring: true` gives InfluxDB on grp1-control-1, collectd and the
per-container collector on both nodes. Two containers named like Kolla's (keystone, nova_api,
from an image made of the node's own files) stand for OpenStack's. A recorded Rally run (Dummy
scenarios, moved to the test's time) plays the bench run whose window the backup exports; Kolla
files holding a passwords.yml value on every node check the redaction.
"""

import copy
import glob
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest
import yaml

import local_helpers as h

sys.path.insert(0, str(h.ROOT / "tests"))
import monitoring_checks as mc  # noqa: E402

pytestmark = [pytest.mark.docker,
              pytest.mark.skipif(h.usable() is not None, reason=str(h.usable()))]

SUBNET, ROUTER_SUBNET = "10.161.0.0/16", "10.199.61.0/30"
SITES = {"grp1": {"control": 1}, "grp2": {"compute": 1}}
ENOS = Path(sys.executable).parent / "enos"
RALLY = h.ROOT / "tests" / "fixtures" / "monitoring" / "rally-dummy.json"
SECRET = "Mon1torSecret-%s" % uuid.uuid4().hex[:12]
FAKE_SERVICE = (
    "set -e; docker image inspect enos-probe:1 >/dev/null 2>&1 || "
    "tar -C / -cf - usr/bin/sleep usr/lib/x86_64-linux-gnu/libc.so.6 lib64 lib usr/lib64 "
    "usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 | docker import - enos-probe:1 >/dev/null; "
    "for c in keystone nova_api; do docker rm -f $c >/dev/null 2>&1 || true; "
    "docker run -d --name $c enos-probe:1 /usr/bin/sleep infinity >/dev/null; done; "
    "mkdir -p /etc/kolla/keystone /var/lib/docker/volumes/kolla_logs/_data/keystone; "
    "printf '[database]\\nconnection = mysql+pymysql://keystone:%(s)s@db/keystone\\n' "
    "> /etc/kolla/keystone/keystone.conf; "
    "echo 'auth failed for admin with %(s)s' > /var/lib/docker/volumes/kolla_logs/_data/keystone/keystone.log")


def shifted_rally(now):
    """The recorded Rally report with its times moved so that its run ends at `now`."""
    data = json.loads(RALLY.read_text())
    end = max(d["timestamp"] + d["duration"] for t in data["tasks"] for s in t["subtasks"]
              for w in s["workloads"] for d in w["data"])
    delta = now - end
    for task in data["tasks"]:
        for sub in task["subtasks"]:
            for w in sub["workloads"]:
                w["start_time"] = w.get("start_time", 0) + delta
                for d in w["data"]:
                    d["timestamp"] += delta
                    for action in d.get("atomic_actions", []):
                        action["started_at"] += delta
                        action["finished_at"] += delta
    return data


class Bed:
    def __init__(self, base):
        self.base = Path(base)
        self.env = "t10mon-%s" % uuid.uuid4().hex[:4]
        self.env_dir = self.base / "env"
        self.topology = h.write_topology(self.base / "topology.yml", self.env, SUBNET,
                                         ROUTER_SUBNET, SITES,
                                         extra={"enable_monitoring": True})

    def enos(self, verb, *args, timeout=1800):
        import subprocess
        proc = subprocess.run([str(ENOS), verb, "--env", str(self.env_dir), *args], cwd=h.ROOT,
                              capture_output=True, text=True, timeout=timeout, check=False)
        return proc.returncode, proc.stdout + proc.stderr

    def container(self, host):
        return "%s-%s" % (self.env, host)


@pytest.fixture(scope="module")
def bed():
    with tempfile.TemporaryDirectory(prefix="enos-monitor-") as base:
        testbed = Bed(base)
        rc, out = testbed.enos("up", "-f", str(testbed.topology))
        testbed.up_output = out
        try:
            assert rc == 0, out[-6000:]
            (testbed.env_dir / "kolla").mkdir(exist_ok=True)
            passwords = testbed.env_dir / "kolla" / "passwords.yml"
            passwords.write_text(yaml.safe_dump({"keystone_database_password": SECRET}))
            passwords.chmod(0o600)
            for host in mc.hosts(str(testbed.env_dir)):
                proc = h.dexec(testbed.container(host), "sh", "-c", FAKE_SERVICE % {"s": SECRET})
                assert proc.returncode == 0, proc.stderr
            yield testbed
        finally:
            if h.labelled(testbed.env) != {"containers": [], "networks": [], "volumes": []}:
                testbed.enos("destroy", "--hard")
            h.force_cleanup(testbed.env, testbed.env_dir)


def test_up_says_which_container_collector_runs(bed):
    assert "per-container metrics: edge.enos's Docker API collector" in bed.up_output or \
        "per-container metrics: cAdvisor" in bed.up_output
    state = json.loads((bed.env_dir / "reports" / "monitoring.json").read_text())
    assert state["influx_host"] == "grp1-control-1"
    assert state["influx_url"] == "http://10.161.1.10:8086"


def test_collectd_and_container_series_reach_influx_for_every_node(bed):
    counts = mc.wait_for(lambda: mc.collectd_series_for_every_node(str(bed.env_dir)))
    assert all(n > 0 for n in counts.values())
    found = mc.wait_for(lambda: mc.container_series(
        str(bed.env_dir), ("keystone", "nova_api"), machines=mc.hosts(str(bed.env_dir))))
    assert sorted({machine for machine, _c in found}) == mc.hosts(str(bed.env_dir))


def test_monitoring_second_run_changes_nothing(bed):
    rc, out = h.playbook("monitoring", bed.env_dir / "inventory.yml", bed.env_dir)
    assert rc == 0, out[-4000:]
    for host in mc.hosts(str(bed.env_dir)):
        assert h.changed_count(out, host) == 0, out[-6000:]


def test_annotations_of_the_verbs_are_in_influx(bed):
    mc.annotations(str(bed.env_dir), ["enos up end"])


def test_backup_verify_and_report(bed, tmp_path):
    # a bench run's report, ending now, so that its window has metrics of both nodes
    run = bed.env_dir / "reports" / "bench" / "run-a"
    run.mkdir(parents=True)
    time.sleep(25)
    (run / "rally.json").write_text(json.dumps(shifted_rally(time.time() - 2)))
    rc, out = bed.enos("backup", "--backup_dir", str(tmp_path))
    assert rc == 0, out[-6000:]
    tarballs = glob.glob(str(tmp_path / "*.tar.gz"))
    assert len(tarballs) == 1 and os.path.basename(tarballs[0]).startswith(bed.env + "-")
    tarball = tarballs[0]
    assert ("enos backup: %s" % tarball) in out
    manifest, seen = mc.backup_holds_everything_and_no_secret(
        str(bed.env_dir), tarball, kolla_nodes=mc.hosts(str(bed.env_dir)))
    assert [r["id"] for r in manifest["bench_runs"]] == ["run-a"]
    assert manifest["bench_runs"][0]["tasks"][0]["uuid"]
    assert "metrics/csv/run-a/collectd.csv" in seen and "metrics/csv/run-a/cadvisor.csv" in seen
    assert "reports/info.json" in seen and "reports/bench/run-a/rally.json" in seen
    restored = mc.restored_points_per_node(str(bed.env_dir), tarball)
    assert all(n > 0 for n in restored["windows"]["run-a"].values())
    rc, out = bed.enos("backup", "--verify", tarball)
    assert rc == 0 and "OK" in out, out[-3000:]
    html = tmp_path / "report.html"
    rc, out = bed.enos("report", "--backup", tarball, "-o", str(html))
    assert rc == 0, out[-3000:]
    page = html.read_text()
    for ident in ("topology-img", "rally-curve-run-a", "cpu-node-run-a", "cpu-container-run-a",
                  "stages-table"):
        assert 'id="%s"' % ident in page, ident
    assert SECRET not in page


def test_a_tampered_backup_fails_verification(bed, tmp_path):
    import tarfile
    import io
    rc, out = bed.enos("backup", "--backup_dir", str(tmp_path))
    assert rc == 0, out[-4000:]
    tarball = glob.glob(str(tmp_path / "*.tar.gz"))[0]
    forged = tmp_path / "forged.tar.gz"
    with tarfile.open(tarball) as src, tarfile.open(forged, "w:gz") as dst:
        for member in src:
            data = src.extractfile(member).read() if member.isfile() else None
            if member.name.endswith("env/topology.yml"):
                data = data + b"# changed\n"
                member = copy.copy(member)
                member.size = len(data)
            dst.addfile(member, io.BytesIO(data) if data is not None else None)
    rc, out = bed.enos("backup", "--verify", str(forged))
    assert rc == 1 and "env/topology.yml: sha256/size" in out, out[-3000:]
