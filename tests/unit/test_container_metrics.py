"""The per-container collector: Docker Engine API answers (recorded on a testbed node) written
in cAdvisor's InfluxDB layout, and its buffer while InfluxDB does not answer."""

from __future__ import annotations

import io
import json
import importlib.util
import os

COLLECTOR = os.path.join(os.path.dirname(__file__), "..", "..", "roles", "container_metrics", "files",
                         "container_metrics.py")
_SPEC = importlib.util.spec_from_file_location("container_metrics", COLLECTOR)
cm = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(cm)

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures", "monitoring")


def recorded():
    with open(os.path.join(FIXTURES, "docker-api.json")) as handle:
        return json.load(handle)


def test_recorded_answers_give_cadvisor_series_per_container():
    answers = recorded()
    lines = []
    for info in answers["containers"]:
        stats = answers["stats"][info["Id"]]
        lines += cm.to_lines("grp1-control-1", cm.container_name(info), cm.stats_values(stats),
                             1700000000)
    names = sorted({cm.container_name(i) for i in answers["containers"]})
    assert names == ["keystone", "nova_api"]
    for name in names:
        stats = answers["stats"][next(i["Id"] for i in answers["containers"]
                                      if cm.container_name(i) == name)]
        total = stats["cpu_stats"]["cpu_usage"]["total_usage"]
        assert ("cpu_usage_total,container_name=%s,machine=grp1-control-1 value=%di 1700000000"
                % (name, total)) in lines
        usage = stats["memory_stats"]["usage"]
        inactive = stats["memory_stats"]["stats"]["inactive_file"]
        assert ("memory_working_set,container_name=%s,machine=grp1-control-1 value=%di 1700000000"
                % (name, usage - inactive)) in lines
        rx = sum(n["rx_bytes"] for n in stats["networks"].values())
        assert "rx_bytes,container_name=%s,machine=grp1-control-1 value=%di 1700000000" % (
            name, rx) in lines
    measurements = {line.split(",")[0] for line in lines}
    assert {"cpu_usage_total", "cpu_usage_user", "cpu_usage_system", "memory_usage",
            "memory_working_set", "memory_rss", "rx_bytes", "tx_bytes"} <= measurements


def test_host_network_containers_have_no_network_series_and_v1_memory_is_read():
    values = cm.stats_values({"cpu_stats": {"cpu_usage": {"total_usage": 5}},
                              "memory_stats": {"usage": 100, "stats": {"total_inactive_file": 30,
                                                                       "rss": 60}}})
    assert values == {"cpu_usage_total": 5, "memory_usage": 100, "memory_working_set": 70,
                      "memory_rss": 60}


def test_tags_are_escaped():
    assert cm.to_lines("a b", "x,y=z", {"memory_usage": 1}, 7) == [
        "memory_usage,container_name=x\\,y\\=z,machine=a\\ b value=1i 7"]


def test_sender_keeps_points_while_influx_is_away_and_drops_the_oldest_beyond_its_limit():
    log = io.StringIO()
    sender = cm.Sender("http://127.0.0.1:9", "cadvisor", limit=3, log=log)   # discard port
    assert sender.send(["a 1", "b 2"]) is False
    assert list(sender.pending) == ["a 1", "b 2"]
    assert sender.send(["c 3", "d 4"]) is False
    assert list(sender.pending) == ["b 2", "c 3", "d 4"] and sender.dropped == 1
    assert "1 point(s) dropped" in log.getvalue()
