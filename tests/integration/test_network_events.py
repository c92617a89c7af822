"""Partitions, heal and a flapping link on a local testbed, measured from the nodes.

    .venv/bin/pytest -m docker tests/integration/test_network_events.py

Three sites (grp3 with two nodes) behind the WAN router, shaped with `enos tc`: 25 ms each way
by default (RTT 50 ms), grp1<->grp3 60 ms each way (RTT 120 ms). Then, through the `enos` CLI:
`enos tc --partition grp3` (grp3 cut from grp1 and grp2 both ways, grp1-grp2 and the inside of
grp3 unaffected), `enos tc --heal` (every pair back to its asked RTT), and a timeline that flaps
grp1-grp2 (2 s down every 10 s for 60 s) while fping runs: the outage windows fping sees match
the asked ones within 200 ms. Traffic goes only to the testbed's containers.

ENOS_TEST_EVENTS_ENV=DIR runs the checks on an environment that is already up (its
topology.yml must be this one) and leaves it up.
"""

import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest
import yaml

import local_helpers as h

pytestmark = [pytest.mark.docker,
              pytest.mark.skipif(h.usable() is not None, reason=str(h.usable()))]

SUBNET, ROUTER_SUBNET = "10.151.0.0/16", "10.199.51.0/30"
SITES = {"grp1": {"compute": 1}, "grp2": {"compute": 1}, "grp3": {"compute": 2}}
CONSTRAINTS = {"network_constraints": {
    "enable": True, "default_delay": "25ms", "default_rate": "100mbit",
    "constraints": [{"src": "grp1", "dst": "grp3", "delay": "60ms", "symmetric": True}]}}
ASKED_RTT = {frozenset(("grp1", "grp2")): 50.0, frozenset(("grp1", "grp3")): 120.0,
             frozenset(("grp2", "grp3")): 50.0}
FLAP = {"down": 2.0, "every": 10.0, "until": 60.0}
DRIVER = [sys.executable, str(h.ROOT / "driver.py")]


class Bed:
    def __init__(self, env_dir, topology, environment):
        self.env_dir, self.topology, self.environment = Path(env_dir), Path(topology), environment

    def enos(self, *argv, timeout=900):
        proc = subprocess.run(DRIVER + list(argv) + ["-e", str(self.env_dir)], cwd=h.ROOT,
                              capture_output=True, text=True, timeout=timeout, check=False)
        return proc.returncode, proc.stdout + proc.stderr

    def hosts(self):
        return {host["name"]: host for host in h.resources(self.env_dir)["hosts"]}

    def container(self, name):
        return "%s-%s" % (self.environment, name)


@pytest.fixture(scope="module")
def bed():
    reuse = os.environ.get("ENOS_TEST_EVENTS_ENV")
    if reuse:
        topo = yaml.safe_load((Path(reuse) / "topology.yml").read_text())
        yield Bed(reuse, Path(reuse) / "topology.yml", topo["provider"]["environment"])
        return
    with tempfile.TemporaryDirectory(prefix="enos-events-") as base:
        environment = "tev-%s" % uuid.uuid4().hex[:4]
        topology = h.write_topology(Path(base) / "topology.yml", environment, SUBNET,
                                    ROUTER_SUBNET, SITES, extra=CONSTRAINTS)
        bed = Bed(Path(base) / "env", topology, environment)
        try:
            rc, out = subprocess.run(DRIVER + ["up", "-f", str(topology), "-e", str(bed.env_dir)],
                                     cwd=h.ROOT, capture_output=True, text=True, check=False,
                                     timeout=1800).returncode, ""
            assert rc == 0, "enos up failed"
            yield bed
        finally:
            bed.enos("destroy", "--hard")
            h.force_cleanup(environment, bed.env_dir)


def fping(bed, src, targets, count=30, period_ms=20):
    """{target name: (loss %, RTT ms or None)} from node src. The RTT is the 10th percentile:
    the machine is shared, and a busy scheduler only adds delay to what netem gives."""
    hosts = bed.hosts()
    addrs = {hosts[t]["address"]: t for t in targets}
    proc = h.dexec(bed.container(src), "fping", "-q", "-C", str(count), "-p", str(period_ms),
                   "-t", "1000", *addrs)
    out = {}
    for line in proc.stderr.splitlines():
        if " : " in line:
            addr, values = line.split(" : ", 1)
            got = sorted(float(v) for v in values.split() if v != "-")
            out[addrs[addr.strip()]] = (100.0 * (count - len(got)) / count,
                                        got[len(got) // 10] if got else None)
    assert set(out) == set(targets), proc.stderr
    return out


def matrix(bed):
    hosts = sorted(bed.hosts())
    return {(a, b): v for a in hosts for b, v in fping(bed, a, [x for x in hosts if x != a]).items()}


def site(name):
    return name.split("-")[0]


def assert_every_pair_as_asked(m):
    for (a, b), (loss, rtt) in m.items():
        if site(a) == site(b):
            assert loss == 0 and rtt < 5, (a, b, loss, rtt)
        else:
            asked = ASKED_RTT[frozenset((site(a), site(b)))]
            assert loss == 0 and abs(rtt - asked) <= max(2.0, 0.05 * asked), (a, b, loss, rtt, asked)


def test_shaped_then_partitioned_then_healed(bed):
    rc, out = bed.enos("tc", "--heal")       # no cut left over by an earlier run
    assert rc == 0, out[-3000:]
    rc, out = bed.enos("tc")
    assert rc == 0, out[-3000:]
    before = matrix(bed)
    print("shaped:", json.dumps({"%s>%s" % k: v for k, v in before.items()}))
    assert_every_pair_as_asked(before)

    rc, out = bed.enos("tc", "--partition", "grp3")
    assert rc == 0, out[-3000:]
    cut = matrix(bed)
    print("partition grp3:", json.dumps({"%s>%s" % k: v for k, v in cut.items()}))
    for (a, b), (loss, rtt) in cut.items():
        if (site(a) == "grp3") != (site(b) == "grp3"):
            assert loss == 100.0, (a, b, loss)                 # cut, both ways
        elif site(a) == site(b):
            assert loss == 0 and rtt < 5, (a, b, loss, rtt)  # inside grp3 unaffected
        else:
            assert loss == 0 and abs(rtt - before[(a, b)][1]) <= 2.0, (a, b, rtt, before[(a, b)])
    # grp3's nodes still reach their own side: the router's address on their site network
    gateway = h.resources(bed.env_dir)["router"]["interfaces"]["grp3"]["address"]
    for name in bed.hosts():
        if site(name) == "grp3":
            h.dexec(bed.container(name), "fping", "-q", "-c", "2", gateway)       # ARP first
            proc = h.dexec(bed.container(name), "fping", "-q", "-c", "10", "-p", "20", gateway)
            assert "xmt/rcv/%loss = 10/10/0%" in proc.stderr, proc.stderr
    rc, again = bed.enos("tc", "--partition", "grp3")
    summary = again.split("enos tc: done")[-1]
    assert rc == 0 and "changed=0" in summary and not re.search(r"changed=[1-9]", summary), again[-2000:]

    rc, out = bed.enos("tc", "--heal")
    assert rc == 0, out[-3000:]
    healed = matrix(bed)
    print("healed:", json.dumps({"%s>%s" % k: v for k, v in healed.items()}))
    assert_every_pair_as_asked(healed)

    rc, out = bed.enos("tc", "--partition", "grp9")
    assert rc == 2 and "unknown site 'grp9'" in out and "grp1, grp2, grp3" in out


def outage_windows(lines):
    """[(start, end)] epoch seconds of runs of lost probes, from `fping -D -l` reply lines.

    A received probe was sent at its reply's timestamp minus its RTT; the lost ones between two
    received probes were sent evenly between them (fping's period, whatever the load did to it)."""
    sent = {}
    for line in lines:
        m = re.match(r"^\[(\d+\.\d+)\] \S+ : \[(\d+)\], \d+ bytes, ([\d.]+) ms", line)
        if m:
            sent[int(m.group(2))] = float(m.group(1)) - float(m.group(3)) / 1000.0
    seqs = sorted(sent)
    windows = []
    for prev, nxt in zip(seqs, seqs[1:]):
        if nxt - prev > 2:                      # two lost probes in a row at least
            step = (sent[nxt] - sent[prev]) / (nxt - prev)
            windows.append((sent[prev] + step, sent[nxt]))
    return windows


def test_flapping_link_outages_match_the_timeline(bed, tmp_path):
    rc, out = bed.enos("tc")
    assert rc == 0, out[-3000:]
    events = tmp_path / "flap.yml"
    events.write_text(yaml.safe_dump({"network_events": [
        dict(at=0, flap="grp1/grp2", down="%gs" % FLAP["down"], every="%gs" % FLAP["every"],
             until="%gs" % FLAP["until"])]}))
    hosts = bed.hosts()
    ping = subprocess.Popen(["docker", "exec", bed.container("grp1-compute-1"), "fping", "-D",
                             "-l", "-p", "20", "-t", "500", hosts["grp2-compute-1"]["address"]],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    reader = threading.Thread(target=lambda: lines.extend(ping.stdout), daemon=True)
    reader.start()
    try:
        rc, out = bed.enos("tc", "--events", str(events), "--wait", timeout=600)
    finally:
        time.sleep(2)
        subprocess.run(["docker", "exec", bed.container("grp1-compute-1"), "pkill", "-x", "fping"],
                       check=False)
        ping.wait(timeout=30)
        reader.join(timeout=10)
    assert rc == 0, out[-3000:]
    log = json.loads((bed.env_dir / "reports" / "network_events.json").read_text())["entries"]
    assert [e["op"] for e in log] == ["cut", "restore"] * 6 and all(e["ok"] for e in log)
    start = log[0]["asked_at"]
    asked = [(start + k * FLAP["every"], start + k * FLAP["every"] + FLAP["down"]) for k in range(6)]
    assert [round(e["asked_at"] - start, 3) for e in log[::2]] == [k * FLAP["every"] for k in range(6)]
    # the windows of the timeline (a stall of the shared machine afterwards is not an event)
    measured = [w for w in outage_windows(lines) if w[0] < start + FLAP["until"] + 1]
    print("asked outages:", [(round(a - start, 3), round(b - start, 3)) for a, b in asked])
    print("measured outages:", [(round(a - start, 3), round(b - start, 3)) for a, b in measured])
    print("effect lag ms:", [e["lag_ms"] for e in log])
    assert len(measured) == len(asked), (measured, asked)
    for (a0, a1), (m0, m1) in zip(asked, measured):
        assert abs(m0 - a0) <= 0.2 and abs(m1 - a1) <= 0.2, (
            (a0 - start, a1 - start), (m0 - start, m1 - start))
    assert (bed.env_dir / "reports" / "network_events.influx").read_text().count("network_events,") == 12
