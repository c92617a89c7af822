"""The loss and rate checks of `enos tc --test` fail on a link shaped wrong on purpose.

One link a->b is asked 20 ms, 4 Mbit/s, 1 % loss. Inside a user-mode-linux kernel (it has
sch_netem) the link is shaped as asked, then without the loss, then without the rate, and
measured as `enos tc --test` measures it: the one-way loss test (thousands of paced UDP
datagrams) and the rate test (UDP offered 25 % above the rate, the link being lossy).
"""
import json
import os
import shutil

import pytest

import umllab
from ansible_collections.edge.enos.plugins.module_utils import netem as nm

pytestmark = [pytest.mark.uml,
              pytest.mark.skipif(not umllab.available(), reason="needs root and linux.uml")]

ASKED = {"src": "a", "dst": "b", "delay_us": 20000, "rate_bps": 4_000_000, "loss_pct": 1.0}
VARIANTS = {"as_asked": ASKED,
            "without_loss": dict(ASKED, loss_pct=None),
            "without_rate": dict(ASKED, rate_bps=None)}


@pytest.fixture(scope="module")
def measured():
    body = "$PYTHON %s $WORK" % os.path.join(os.path.dirname(__file__), "proofs_inside.py")
    rc, log, work = umllab.run(body, files={"proofs.json": json.dumps(
        {"link": ASKED, "variants": VARIANTS})}, timeout=600)
    try:
        with open(os.path.join(work, "results.json")) as f:
            results = json.load(f)
    except OSError:
        results = None
    shutil.rmtree(work, ignore_errors=True)
    assert rc == 0 and results, "UML lab failed (rc=%s):\n%s" % (rc, log[-3000:])
    return {name: nm.compare([ASKED], [dict(m, src="a", dst="b")])[0]
            for name, m in results.items()}


def show(rows):
    print(nm.report_table(list(rows.values())))


def test_link_shaped_as_asked_passes(measured):
    show(measured)
    row = measured["as_asked"]
    assert row["checks"]["oneway_loss_pct"]["pass"], row
    assert row["checks"]["rate_bps"]["pass"], row


def test_link_without_its_loss_fails_the_loss_check(measured):
    row = measured["without_loss"]
    assert row["checks"]["oneway_loss_pct"]["measured"] < 0.3, row
    assert not row["checks"]["oneway_loss_pct"]["pass"] and not row["pass"]


def test_unshaped_lossy_link_fails_the_rate_check(measured):
    row = measured["without_rate"]
    assert row["checks"]["rate_bps"]["measured"] > 1.1 * row["checks"]["rate_bps"]["asked"], row
    assert not row["checks"]["rate_bps"]["pass"] and not row["pass"]
