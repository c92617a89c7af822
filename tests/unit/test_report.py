"""`enos report`: one self-contained HTML file built from recorded experiment files
(tests/fixtures/monitoring/source: Rally JSON of real Dummy runs, a real `enos tc --test`
netem.json and InfluxDB CSV answers recorded on a monitored testbed)."""

from __future__ import annotations

import base64
import json
import os
import re

import numpy
import pytest

from ansible_collections.edge.enos.plugins.module_utils import report

SOURCE = os.path.join(os.path.dirname(__file__), "..", "fixtures", "monitoring", "source")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "report.html"
    result = report.build(SOURCE, str(out))
    return result, out.read_text()


def test_report_has_every_section_and_picture(built):
    result, page = built
    assert result["sections"] == ["topology", "heatmap", "bench"]
    assert result["runs"] == 2
    for ident in ("topology-img", "heatmap-img", "links-table", "rally-curve-run-a",
                  "rally-curve-run-b", "comparison-img", "cpu-node-run-a", "mem-node-run-a",
                  "cpu-service-run-a", "cpu-container-run-a", "mem-container-run-a",
                  "stages-table"):
        assert 'id="%s"' % ident in page, ident


def test_report_is_self_contained(built):
    _result, page = built
    assert "<script" not in page and "<link" not in page
    refs = re.findall(r'(?:src|href)="([^"]*)"', page)
    assert refs, "no picture at all"
    for ref in refs:
        assert ref.startswith("data:image/png;base64,"), ref[:80]
        assert base64.b64decode(ref.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert not re.search(r"url\(|@import|//[a-z0-9.-]+\.[a-z]{2,}/", page)


def test_rally_percentiles_are_rallys(built):
    """The same percentiles as Rally's own statistics (3 decimals) and as numpy's."""
    _result, page = built
    with open(os.path.join(SOURCE, "reports", "bench", "run-a", "rally.json")) as handle:
        data = json.load(handle)
    workload = data["tasks"][0]["subtasks"][0]["workloads"][0]
    rallys = workload["statistics"]["durations"]["total"]["data"]
    durations = [d["duration"] for d in workload["data"] if not d["error"]]
    for pct, key in ((50, "median"), (90, "90%ile"), (95, "95%ile")):
        ours = report.percentile(durations, pct)
        assert ours == pytest.approx(numpy.percentile(durations, pct))
        assert round(ours, 3) == pytest.approx(rallys[key], abs=0.0011), key
        assert ">%.3f<" % ours in page
    assert ">%s<" % next(iter(workload["scenario"])) in page


def test_percentile_on_edges():
    assert report.percentile([], 50) is None
    assert report.percentile([3.0], 95) == 3.0
    assert report.percentile([1, 2, 3, 4], 50) == 2.5


def test_influx_csv_answers_parse_into_series():
    with open(os.path.join(SOURCE, "metrics", "csv", "run-a", "collectd.csv"), "rb") as handle:
        rows = report.parse_influx_csv(handle.read())
    usage = report.node_usage(rows)
    assert sorted(usage["cpu"]) == ["grp1-control-1", "grp2-compute-1"]
    for points in usage["cpu"].values():
        assert points and all(0 <= v <= 100 for _t, v in points)
    services = report.service_usage(rows)
    assert any(key[1] == "dockerd" for key in services["memory"])


def test_a_report_without_anything_says_so(tmp_path):
    result = report.build(str(tmp_path), str(tmp_path / "r.html"))
    page = (tmp_path / "r.html").read_text()
    assert result["sections"] == []
    assert "no WAN measurement" in page and "no bench run" in page
