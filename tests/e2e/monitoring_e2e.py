"""Monitoring, backup and report on the shared end-to-end deployment.

Not collected on its own: these tests need test_deploy.py's `env` fixture on a deployment with
`enable_monitoring: true` (ENOS_E2E_TOPOLOGY or the topology the fixture writes) and, for the
bench checks, `enos bench` run on it. Wire them in test_deploy.py after the deploy test:

    from monitoring_e2e import (test_collectd_series_for_every_node,      # noqa: F401
                                test_container_series_during_a_bench_run,
                                test_backup_verifies_and_holds_no_secret,
                                test_report_from_the_backup)
"""

from __future__ import annotations

import glob
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import monitoring_checks as mc  # noqa: E402

CONTAINERS = ("keystone", "nova_api")


def test_collectd_series_for_every_node(env):
    mc.wait_for(lambda: mc.collectd_series_for_every_node(str(env.path)))


def test_container_series_during_a_bench_run(env):
    start = time.time()
    env.enos("bench")
    end = time.time()
    mc.container_series(str(env.path), CONTAINERS, start, end)
    mc.collectd_series_for_every_node(str(env.path), start, end)
    mc.annotations(str(env.path), ["enos bench start", "enos bench end"], start - 5, end + 5)


def test_backup_verifies_and_holds_no_secret(env):
    env.enos("backup")
    tarball = sorted(glob.glob(str(env.path / "backups" / "*.tar.gz")))[-1]
    manifest, seen = mc.backup_holds_everything_and_no_secret(
        str(env.path), tarball, kolla_nodes=mc.hosts(str(env.path)))
    assert manifest["bench_runs"], "no bench run in the manifest"
    assert any(n.startswith("reports/bench/") and n.endswith(".json") for n in seen)
    mc.restored_points_per_node(str(env.path), tarball)
    env.enos("backup", "--verify", tarball)


def test_report_from_the_backup(env):
    tarball = sorted(glob.glob(str(env.path / "backups" / "*.tar.gz")))[-1]
    out = env.path / "reports" / "report-from-backup.html"
    env.enos("report", "--backup", tarball, "-o", str(out))
    page = out.read_text()
    for ident in ('id="topology-img"', 'id="heatmap-img"', 'class="run"'):
        assert ident in page, ident
