"""Role edge.enos.netem through playbooks/tc.yml on this machine's kernel (no sch_netem).

Three nodes in two sites are network namespaces on a bridge; Ansible reaches each with the local
connection and a python interpreter that enters the node's namespace. A topology with delays
fails on localhost before any change, naming the nodes, the kernel and sch_netem; with
netem_rate_only the rates are applied (a second run changes nothing), `test` measures them and
writes the report, `reset` removes them.
"""
import json
import os
import re
import subprocess

import pytest
import yaml

import umllab
from ansible_collections.edge.enos.plugins.module_utils import netem as nm
from ansible_collections.edge.enos.plugins.module_utils.topology import parse_topology

CAPS = nm.kernel_capabilities()
pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not CAPS["htb"],
                                reason="needs root and sch_htb")
NODES = (("s1-a", "s1", 1), ("s1-b", "s1", 2), ("s2-a", "s2", 3))


def sh(cmd):
    return subprocess.run(cmd, shell=True, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def lab(tmp_path):
    tag = "%d" % (os.getpid() % 10000)
    # the bridge lives in its own namespace: the host's iptables (Docker's FORWARD policy)
    # must not see the lab's bridged traffic
    switch = "enos-rsw" + tag
    made = []
    try:
        sh("ip netns add %s" % switch)
        sh("ip -n %s link add br0 type bridge && ip -n %s link set br0 up" % (switch, switch))
        hosts = {}
        for name, site, i in NODES:
            ns = "enos-r%s-%d" % (tag, i)
            sh("ip netns add %s" % ns)
            made.append(ns)
            sh("ip -n %s link add p%d type veth peer name eth0 netns %s" % (switch, i, ns))
            sh("ip -n %s link set p%d master br0 up" % (switch, i))
            sh("ip -n %s link set lo up && ip -n %s link set eth0 up" % (ns, ns))
            sh("ip -n %s addr add 10.79.0.%d/24 dev eth0" % (ns, i))
            py = tmp_path / ("python-%s" % name)
            py.write_text("#!/bin/sh\nexec ip netns exec %s %s \"$@\"\n" % (ns, umllab.PYTHON))
            py.chmod(0o755)
            hosts[name] = {"ansible_connection": "local", "ansible_python_interpreter": str(py),
                           "enos_site": site, "enos_interfaces": {"network_interface": {
                               "device": "eth0", "address": "10.79.0.%d" % i}}}
        yield {"tmp": tmp_path, "hosts": hosts, "ns": made}
    finally:
        for ns in made + [switch]:
            subprocess.run(["ip", "netns", "del", ns], check=False)


def constraints(*listed):
    """The compact constraints the inventory plugin would give for the lab's two sites."""
    topology = {"topology": {"s1": {"lab": {"node": 2}}, "s2": {"lab": {"node": 1}}},
                "network_constraints": {"constraints": list(listed)}}
    return parse_topology(topology, "lab").constraints


def play(lab, network_constraints, **extra):
    inv = lab["tmp"] / "inventory.yml"
    inv.write_text(yaml.safe_dump({"all": {
        "vars": {"enos_network_constraints": network_constraints},
        "children": {"baremetal": {"hosts": lab["hosts"]}},
        "hosts": {"localhost": {"ansible_connection": "local",
                                "ansible_python_interpreter": umllab.PYTHON}}}}))
    extra.setdefault("netem_report_dir", str(lab["tmp"] / "reports"))
    proc = subprocess.run(
        [os.path.join(umllab.REPO, ".venv", "bin", "ansible-playbook"), "-i", str(inv),
         os.path.join(umllab.REPO, "playbooks", "tc.yml"), "-e", json.dumps(extra)],
        cwd=umllab.REPO, capture_output=True, text=True,
        env=dict(os.environ, ANSIBLE_STDOUT_CALLBACK="default", ANSIBLE_NOCOLOR="1"), check=False)
    return proc.returncode, proc.stdout + proc.stderr


def recap(out):
    """{host: {ok, changed, failed, ...}} from the PLAY RECAP."""
    rows = {}
    for m in re.finditer(r"^(\S+)\s*:\s*(ok=.*)$", out.split("PLAY RECAP")[-1], re.M):
        rows[m.group(1)] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(2))}
    return rows


def roots(lab):
    return [sh("ip netns exec %s tc qdisc show dev eth0 root" % ns) for ns in lab["ns"]]


@pytest.mark.skipif(CAPS["netem"], reason="this kernel has sch_netem: see the test below")
def test_role_on_a_kernel_without_netem(lab):
    delays = constraints({"src": "s1", "dst": "s2", "delay": "30ms", "rate": "40mbit"},
                         {"src": "s2", "dst": "s1", "delay": "30ms"})
    before = roots(lab)
    rc, out = play(lab, delays)
    assert rc != 0 and "cannot honour the constraints, nothing was changed" in out, out[-3000:]
    for name in ("s1-a", "s1-b", "s2-a"):
        assert name in out
    assert "needs sch_netem" in out and CAPS["kernel"] in out
    assert roots(lab) == before

    rc, out = play(lab, delays, netem_rate_only=True)
    assert rc == 0, out[-3000:]
    assert "delay/jitter/loss NOT applied" in out
    assert all("htb e05:" in r for r in roots(lab)[:2])      # s1 has a rate toward s2
    assert recap(out)["s1-a"]["changed"] == 1
    rc, out = play(lab, delays, netem_rate_only=True)
    assert rc == 0 and all(r.get("changed") == 0 for r in recap(out).values()), out[-2000:]

    rates = constraints({"src": "s1", "dst": "s2", "rate": "40mbit"},
                        {"src": "s2", "dst": "s1", "rate": "20mbit"})
    rc, out = play(lab, rates)
    assert rc == 0, out[-3000:]
    rc, out = play(lab, rates, netem_action="test", netem_probe_count=20, netem_iperf_duration=3)
    assert rc == 0, out[-4000:]
    report = json.loads((lab["tmp"] / "reports" / "netem.json").read_text())
    assert report["passed"] and len(report["rows"]) == 2
    got = {(r["src"], r["dst"]): r["checks"]["rate_bps"]["measured"] for r in report["rows"]}
    assert 35e6 < got[("s1", "s2")] < 40e6 and 17e6 < got[("s2", "s1")] < 20e6
    png = (lab["tmp"] / "reports" / "netem.png").read_bytes()
    assert png[:4] == b"\x89PNG"
    print((lab["tmp"] / "reports" / "netem.txt").read_text())

    rc, out = play(lab, rates, netem_action="reset")
    assert rc == 0 and recap(out)["s1-a"]["changed"] == 1
    assert not any("e05:" in r for r in roots(lab))


@pytest.mark.skipif(not CAPS["netem"], reason="this kernel has no sch_netem: see the test above")
def test_role_on_a_kernel_with_netem(lab):
    """The same role where the kernel has netem: delays and loss are applied and proven."""
    asked = constraints({"src": "s1", "dst": "s2", "delay": "30ms", "rate": "40mbit", "loss": "1%"},
                        {"src": "s2", "dst": "s1", "delay": "30ms", "rate": "20mbit"})
    rc, out = play(lab, asked)
    assert rc == 0 and "every shaping point can honour the constraints" in out, out[-3000:]
    rc, out = play(lab, asked)
    assert rc == 0 and all(r.get("changed") == 0 for r in recap(out).values()), out[-2000:]
    rc, out = play(lab, asked, netem_action="test", netem_iperf_duration=3)
    assert rc == 0, out[-4000:]
    report = json.loads((lab["tmp"] / "reports" / "netem.json").read_text())
    assert report["passed"], (lab["tmp"] / "reports" / "netem.txt").read_text()
    rows = {(r["src"], r["dst"]): r["checks"] for r in report["rows"]}
    assert 58 <= rows[("s1", "s2")]["rtt_ms"]["measured"] <= 63
    assert 0.5 <= rows[("s1", "s2")]["oneway_loss_pct"]["measured"] <= 1.5
    assert rows[("s2", "s1")]["oneway_loss_pct"]["measured"] < 0.3
    rc, out = play(lab, asked, netem_action="reset")
    assert rc == 0 and not any("e05:" in r for r in roots(lab))
