"""edge.enos.netem on this machine's kernel (HTB and u32, no sch_netem), node-egress placement.

Two network namespaces joined by a veth pair are two nodes of two sites. The module runs through
its main entry point (an args file, as Ansible runs it) inside the source namespace.
"""
import json
import os
import subprocess
import sys
import time

import pytest

import umllab
from ansible_collections.edge.enos.plugins.module_utils import netem as nm

MODULE = os.path.join(umllab.REPO, "plugins", "modules", "netem.py")
ENV = dict(os.environ, PYTHONPATH=os.path.join(umllab.REPO, "collections"))
CAPS = nm.kernel_capabilities()

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not CAPS["htb"],
                                reason="needs root and sch_htb")


def sh(cmd):
    return subprocess.run(cmd, shell=True, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def pair(tmp_path):
    tag = "%d" % (os.getpid() % 100000)
    a, b = "enos-ta-" + tag, "enos-tb-" + tag
    sh("ip netns add %s && ip netns add %s" % (a, b))
    try:
        sh("ip link add eth0 netns %s type veth peer name eth0 netns %s" % (a, b))
        for ns, addr in ((a, "10.78.0.1"), (b, "10.78.0.2")):
            sh("ip -n %s link set lo up && ip -n %s link set eth0 up" % (ns, ns))
            sh("ip -n %s addr add %s/24 dev eth0" % (ns, addr))
            sh("ip -n %s addr add fd78::%s/64 dev eth0 nodad" % (ns, addr[-1]))
        yield {"a": a, "b": b, "tmp": tmp_path}
    finally:
        subprocess.run("ip netns del %s; ip netns del %s" % (a, b), shell=True, check=False)


HOSTS = {n: {"site": s, "interfaces": {"network_interface": {
    "device": "eth0", "address": "10.78.0.%d" % i, "address6": "fd78::%d" % i}}}
    for n, s, i in (("node-a", "s1", 1), ("node-b", "s2", 2))}


def module(pair, check=False, **args):
    path = pair["tmp"] / "args.json"
    args = dict({"hosts": HOSTS, "host": "node-a"}, **args)
    if check:
        args["_ansible_check_mode"] = True
    path.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": args}))
    proc = subprocess.run(["ip", "netns", "exec", pair["a"], sys.executable, MODULE, str(path)],
                          capture_output=True, text=True, env=ENV, check=False)
    return json.loads(proc.stdout[proc.stdout.index("{"):])


def root_qdisc(pair):
    return sh("ip netns exec %s tc qdisc show dev eth0 root" % pair["a"])


LINKS = [{"src": "s1", "dst": "s2", "delay_us": 25000, "rate_bps": 50_000_000, "loss_pct": 1.0,
          "origin": "constraints[0]"},
         {"src": "s2", "dst": "s1", "delay_us": 25000, "origin": "constraints[0]"}]


@pytest.mark.skipif(CAPS["netem"], reason="this kernel has sch_netem")
def test_delay_fails_before_any_change_without_netem(pair):
    before = root_qdisc(pair)
    res = module(pair, links=LINKS)
    assert res.get("failed"), res
    assert "sch_netem" in res["msg"] and CAPS["kernel"] in res["msg"]
    assert "node-a" in res["msg"] and "s1->s2" in res["msg"] and "Nothing was changed" in res["msg"]
    assert root_qdisc(pair) == before


@pytest.mark.skipif(CAPS["netem"], reason="this kernel has sch_netem")
def test_capability_check_mode_reports(pair):
    res = module(pair, links=LINKS, state="checked")
    assert not res.get("failed") and not res["changed"]
    assert res["capabilities"]["netem"] is False and res["unsatisfiable"]
    assert any("needs sch_netem" in u for u in res["unsatisfiable"])


def test_rate_only_applies_rates_and_measures(pair):
    checked = module(pair, check=True, links=LINKS, rate_only=True)
    assert checked["changed"] and "e05:" not in root_qdisc(pair)

    res = module(pair, links=LINKS, rate_only=True, _ansible_diff=True)
    assert res["changed"] and not res.get("failed"), res
    if not CAPS["netem"]:
        assert any("delay/loss not applied" in n for n in res["not_applied"]), res["not_applied"]
        assert "not applied" in json.dumps(res.get("warnings")), res.keys()
    assert "htb" in root_qdisc(pair)
    assert "e05:10" in res["diff"]["after"]

    again = module(pair, links=LINKS, rate_only=True)
    assert not again["changed"], again["commands"]

    # the HTB rate, measured by the receiver: TCP, and UDP offered above the rate
    sh("ip netns exec %s iperf3 -s -D -p 5209 -I %s" % (pair["b"], pair["tmp"] / "iperf3.pid"))
    try:
        time.sleep(0.5)
        for udp in (False, True):
            got, eff = nm.iperf3("10.78.0.2", 50_000_000, seconds=3, port=5209, udp=udp,
                                 prefix=["ip", "netns", "exec", pair["a"]])
            print("asked 50 Mbit/s (goodput %.2f), %s measured %.2f Mbit/s"
                  % (50 * eff, "UDP" if udp else "TCP", got / 1e6))
            assert abs(got - 50e6 * eff) <= 5e6 * eff
    finally:
        os.kill(int((pair["tmp"] / "iperf3.pid").read_text().strip("\0\n ")), 15)

    gone = module(pair, links=LINKS, state="absent")
    assert gone["changed"] and "e05:" not in root_qdisc(pair)
    assert not module(pair, links=LINKS, state="absent")["changed"]


def test_foreign_root_is_left_alone(pair):
    sh("ip netns exec %s tc qdisc add dev eth0 root handle 1: htb" % pair["a"])
    res = module(pair, links=LINKS, rate_only=True)
    assert res.get("failed") and "did not install" in res["msg"]
    assert not module(pair, state="absent", devices=["eth0"])["changed"]
    assert "htb 1:" in root_qdisc(pair)
