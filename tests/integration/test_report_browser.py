"""The report opened in a real browser (Debian's headless Chromium), offline.

Every request the page makes to another host goes through a recording proxy on loopback, and
host names resolve nowhere: the page must load with no request at all. A copy of the report
with a measuring script appended tells which pictures were decoded and drawn (naturalWidth);
the screenshot is kept in tests/reports/report-screenshot.png.

    .venv/bin/pytest tests/integration/test_report_browser.py
"""

from __future__ import annotations

import http.server
import os
import re
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from ansible_collections.edge.enos.plugins.module_utils import report

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "tests" / "fixtures" / "monitoring" / "source"
SHOTS = ROOT / "tests" / "reports"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
MEASURE = """<script>
document.body.setAttribute('data-drawn', Array.from(document.images).map(
  function (i) { return i.id + ':' + (i.complete ? i.naturalWidth : 0); }).join(' '));
</script></body>"""


class RecordingProxy(http.server.BaseHTTPRequestHandler):
    seen = []

    def _record(self):
        RecordingProxy.seen.append("%s %s" % (self.command, self.path))
        self.send_response(403)
        self.end_headers()

    do_GET = do_POST = do_CONNECT = do_HEAD = _record

    def log_message(self, *args):
        pass


def chromium(*args, timeout=120):
    argv = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--disable-default-apps", "--disable-extensions",
            "--host-resolver-rules=MAP * ~NOTFOUND"] + list(args)
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    if CHROMIUM is None:
        pytest.fail("chromium is missing: run scripts/setup.sh (it installs Debian's chromium)")
    work = tmp_path_factory.mktemp("browser")
    out = work / "report.html"
    report.build(str(SOURCE), str(out))
    measured = work / "measured.html"
    measured.write_text(out.read_text().replace("</body>", MEASURE))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RecordingProxy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    RecordingProxy.seen = []
    proxy = "--proxy-server=http://127.0.0.1:%d" % server.server_port
    try:
        dom = chromium(proxy, "--proxy-bypass-list=<-loopback>", "--virtual-time-budget=5000",
                       "--dump-dom", measured.as_uri())
        SHOTS.mkdir(exist_ok=True)
        shot = SHOTS / "report-screenshot.png"
        shot_run = chromium(proxy, "--window-size=1400,4200", "--hide-scrollbars",
                            "--screenshot=%s" % shot, out.as_uri())
    finally:
        server.shutdown()
    return {"dom": dom, "shot": shot, "shot_run": shot_run, "requests": list(RecordingProxy.seen),
            "html": out.read_text()}


def test_no_request_leaves_the_machine(page):
    assert page["dom"].returncode == 0, page["dom"].stderr[-2000:]
    assert page["requests"] == []


def test_the_proxy_would_have_seen_a_request(tmp_path):
    """The check above can fail: a page with one remote image makes the proxy record it."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RecordingProxy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    RecordingProxy.seen = []
    bad = tmp_path / "bad.html"
    bad.write_text('<html><body><img src="http://example.org/x.png"></body></html>')
    try:
        chromium("--proxy-server=http://127.0.0.1:%d" % server.server_port,
                 "--virtual-time-budget=3000", "--dump-dom", bad.as_uri())
    finally:
        server.shutdown()
    assert any("example.org" in r for r in RecordingProxy.seen), RecordingProxy.seen


def test_topology_heatmap_and_rally_curves_are_drawn(page):
    match = re.search(r'data-drawn="([^"]*)"', page["dom"].stdout)
    assert match, page["dom"].stdout[-2000:]
    drawn = dict(item.rsplit(":", 1) for item in match.group(1).split())
    for ident in ("topology-img", "heatmap-img", "rally-curve-run-a", "rally-curve-run-b",
                  "comparison-img", "cpu-node-run-a", "cpu-container-run-a"):
        assert int(drawn.get(ident, 0)) > 100, (ident, drawn)


def test_screenshot_is_written(page):
    assert page["shot_run"].returncode == 0, page["shot_run"].stderr[-2000:]
    data = page["shot"].read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 50000
