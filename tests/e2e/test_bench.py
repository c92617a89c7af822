"""End to end: `enos bench` on the shared deployment (tests/e2e/conftest.py's `env`).

    .venv/bin/pytest -m e2e tests/e2e/test_bench.py

The default workload at 100 % success with every report; one small Nova workload with and
without the WAN delays, compared; the checks are in tests/e2e/bench_e2e.py. Its
check_osprofiler_trace needs a deployment with `enable_osprofiler: "yes"` under `kolla:`.
"""

import pytest

import bench_e2e

pytestmark = [pytest.mark.e2e, pytest.mark.docker]


def test_bench_default_workload(env):
    bench_e2e.check_default_workload(env)


def test_bench_compare_with_and_without_wan_delay(env, tmp_path):
    bench_e2e.check_wan_compare(env, tmp_path)
