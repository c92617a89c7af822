"""Annotations: EnOS's `events` layout, kept in events.jsonl, sent to a real HTTP listener."""

from __future__ import annotations

import http.server
import json
import threading

from ansible_collections.edge.enos.plugins.module_utils import annotations as an


def test_event_line_is_enos_layout_with_escaped_strings():
    line = an.event_line({"time": 1700000000.5, "title": 'enos "bench" start', "text": "a\\b",
                          "tags": "enos,bench", "type": "enos"})
    assert line == ('events title="enos \\"bench\\" start",text="a\\\\b",tags="enos,bench",'
                    'type="enos" 1700000000500000000')


def test_annotate_without_monitoring_only_keeps_the_journal(tmp_path):
    assert an.annotate(str(tmp_path), "enos up start", tags=["enos", "up"]) is None
    events = an.read_events(str(tmp_path))
    assert [e["title"] for e in events] == ["enos up start"]
    assert events[0]["influx"] is False and events[0]["tags"] == "enos,up"


def test_annotate_writes_to_influx_and_says_when_it_cannot(tmp_path):
    received = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            received.append((self.path, self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        (tmp_path / "reports").mkdir()
        (tmp_path / "resources.json").write_text("{}")
        (tmp_path / "reports" / "monitoring.json").write_text(json.dumps(
            {"influx_url": "http://127.0.0.1:%d" % server.server_port}))
        assert an.annotate(str(tmp_path), "rally task start", text="t1", kind="rally") is None
    finally:
        server.shutdown()
    assert received[0][0] == "/write?db=events"
    assert received[0][1].startswith(b'events title="rally task start",text="t1"')
    problem = an.annotate(str(tmp_path), "rally task end")       # nobody listens any more
    assert problem and "did not take the event" in problem
    assert [e["influx"] for e in an.read_events(str(tmp_path))] == [True, False]


def test_no_write_once_the_machines_are_gone(tmp_path):
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "monitoring.json").write_text(json.dumps(
        {"influx_url": "http://127.0.0.1:9"}))
    assert an.annotate(str(tmp_path), "enos destroy end") is None      # no resources.json
    assert an.read_events(str(tmp_path))[0]["influx"] is False
