"""The report opened in a real browser (Debian's headless Chromium), offline.

Every request goes through a recording proxy on loopback, and host names resolve nowhere.
Chromium itself calls a few Google services whatever the flags (component updates, accounts):
those are recorded on a blank page with the same flags first, and the report must add no
request to them. A copy of the report
with a measuring script appended tells which pictures were decoded and drawn (naturalWidth);
the screenshot is kept in tests/reports/report-screenshot.png.

    .venv/bin/pytest tests/integration/test_report_browser.py
"""

from __future__ import annotations

import http.server
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "collections"))

from ansible_collections.edge.enos.plugins.module_utils import report

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "tests" / "fixtures" / "monitoring" / "source"
SHOTS = ROOT / "tests" / "reports"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# What Debian's Chromium 156 asks for by itself on a blank page with the flags below (component
# updates, network time, accounts); a blank page's run adds whatever else this build calls.
CHROMIUM_SERVICES = {"accounts.google.com", "clients2.google.com", "update.googleapis.com"}
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


def request_host(request):
    """'CONNECT a.b:443' or 'GET http://a.b/path?q' -> 'a.b'."""
    target = request.split(" ", 1)[1]
    return re.sub(r"^[a-z]+://", "", target).split("/")[0].split(":")[0]


def recorded(*args):
    """(chromium's answer, hosts it asked the proxy for) of one run behind a recording proxy."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RecordingProxy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    RecordingProxy.seen = []
    try:
        answer = chromium("--proxy-server=http://127.0.0.1:%d" % server.server_port, *args)
    finally:
        server.shutdown()
    return answer, sorted({request_host(r) for r in RecordingProxy.seen})


def chromium(*args, timeout=120):
    argv = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--disable-default-apps", "--disable-extensions",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"] + list(args)
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
    blank = work / "blank.html"
    blank.write_text("<html><body><p>blank</p></body></html>")
    _answer, browser_own = recorded("--virtual-time-budget=5000", "--dump-dom", blank.as_uri())
    dom, hosts = recorded("--virtual-time-budget=5000", "--dump-dom", measured.as_uri())
    SHOTS.mkdir(exist_ok=True)
    shot = SHOTS / "report-screenshot.png"
    shot_run, shot_hosts = recorded("--window-size=1400,4200", "--hide-scrollbars",
                                    "--screenshot=%s" % shot, out.as_uri())
    return {"dom": dom, "shot": shot, "shot_run": shot_run, "browser_own": browser_own,
            "hosts": sorted(set(hosts) | set(shot_hosts)), "html": out.read_text()}


def test_no_request_leaves_the_machine(page):
    assert page["dom"].returncode == 0, page["dom"].stderr[-2000:]
    own = CHROMIUM_SERVICES | set(page["browser_own"])
    assert sorted(set(page["hosts"]) - own) == [], (page["hosts"], page["browser_own"])


def test_the_proxy_would_have_seen_a_request(tmp_path):
    """The check above can fail: a page with one remote image makes the proxy record it."""
    bad = tmp_path / "bad.html"
    bad.write_text('<html><body><img src="http://example.org/x.png"></body></html>')
    _answer, hosts = recorded("--virtual-time-budget=3000", "--dump-dom", bad.as_uri())
    assert "example.org" in hosts, hosts


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
