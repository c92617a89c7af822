"""`enos levels` on the shared end-to-end deployment (control services in grp1).

`enos levels --partition grp3`, then the table it wrote: L1 working for grp2's client as the
deployment stands; under the grp3 partition, L3.2 failing for grp3's client (every operation,
each with its error) and working for grp2's, and the application of grp3 still answering
inside grp3.
"""

import json

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.docker]


def cell(table, row, actor, site):
    return table[row][actor]["per_site"][site]


def check_levels_result(result):
    """The assertions on a levels.json result; returns the partition's table."""
    assert result["schema"] == "edge.enos/levels/1"
    assert "grp1" in result["control_sites"], result["control_sites"]
    table = result["table"]
    for actor in ("admin", "devops", "both"):
        working = cell(table, "L1", actor, "grp2")
        assert working["total"] > 0 and working["share"] == 1.0, (actor, working["failures"])
    assert "out_of_reach" in table["L4"] and "out_of_reach" in table["L5"]
    cut = next(s for s in result["scenarios"] if s["partition"] == "grp3")["table"]
    for actor in ("admin", "devops", "both"):
        failing = cell(cut, "L3.2", actor, "grp3")
        assert failing["total"] > 0 and failing["ok"] == 0, (actor, failing)
        assert all(f["operation"] and f["error"] and f["outcome"] in ("failed", "timeout")
                   for f in failing["failures"]), failing["failures"]
        still = cell(cut, "L3.2", actor, "grp2")
        assert still["total"] > 0 and still["share"] == 1.0, (actor, still["failures"])
    app = cell(cut, "L3.1", "devops", "grp3")
    assert app["share"] == 1.0, app["failures"]
    latencies = [r["latency_s"] for r in result["records"] if r["outcome"] == "done"]
    assert latencies and all(x > 0 for x in latencies)
    return cut


def test_levels_table_of_a_partitioned_grp3(env):
    env.enos("levels", "--partition", "grp3")
    reports = env.path / "reports"
    result = json.loads((reports / "levels.json").read_text())
    check_levels_result(result)
    markdown = (reports / "levels.md").read_text()
    assert "## partition grp3" in markdown
    l32 = next(line for line in markdown.split("## partition grp3")[1].splitlines()
               if line.startswith("| L3.2 |"))
    assert "grp3 0 %" in l32 and "authenticate on grp3 from grp3" in l32, l32
    assert "grp2 100 %" in l32, l32
