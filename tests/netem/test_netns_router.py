"""The local testbed's WAN router as a network namespace: the kind this kernel must give.

Two Docker networks (two sites) joined by edge.enos.local_router with kind=auto: a kernel with
sch_netem must get a netns router, one without it a user-mode-linux router (this test then
forces kind=netns to check the netns path with what the kernel has: rates). Two "nodes" are
network namespaces plugged into the sites' bridges. The router is shaped with edge.enos.netem
(placement router; delay too where the kernel has netem), measured, partitioned and healed
with edge.enos.netem_events, all through the modules' entry points inside the router's netns.
"""
import json
import os
import re
import subprocess
import sys

import pytest

import umllab
from ansible_collections.edge.enos.plugins.module_utils import netem as nm

CAPS = nm.kernel_capabilities()
MODULES = os.path.join(umllab.REPO, "plugins", "modules")
ENV = dict(os.environ, PYTHONPATH=os.path.join(umllab.REPO, "collections"))
pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or subprocess.run(["docker", "info"], capture_output=True, check=False).returncode,
    reason="needs root and a Docker engine")
TAG = "%04x" % (os.getpid() % 0xFFFF)
SITES = {"s1": "10.152.1", "s2": "10.152.2"}


def sh(cmd, check=True):
    return subprocess.run(cmd, shell=True, check=check, capture_output=True, text=True).stdout


def module(name, args, tmp, netns=None):
    path = tmp / ("%s-args.json" % name)
    path.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": args}))
    prefix = ["ip", "netns", "exec", netns] if netns else []
    proc = subprocess.run(prefix + [sys.executable, os.path.join(MODULES, name + ".py"), str(path)],
                          capture_output=True, text=True, env=ENV, check=False)
    return json.loads(proc.stdout[proc.stdout.index("{"):])


@pytest.fixture
def sites(tmp_path):
    nets, nodes = [], []
    router = {"name": "enos-nr-%s" % TAG, "state_dir": str(tmp_path / "router"),
              "authorized_key": str(tmp_path / "key.pub"), "memory": "128m",
              "mgmt": {"host_address": "10.199.52.1/30", "router_address": "10.199.52.2",
                       "veth_host": "enr%sm" % TAG, "veth_router": "enr%sn" % TAG},
              "interfaces": []}
    sh("ssh-keygen -q -t ed25519 -N '' -f %s" % (tmp_path / "key"))
    try:
        for i, (name, prefix) in enumerate(sorted(SITES.items())):
            net = "enos-nr-%s-%s" % (TAG, name)
            sh("docker network create --subnet %s.0/24 --gateway %s.1 %s" % (prefix, prefix, net))
            nets.append(net)
            router["interfaces"].append({"site": name, "network": net, "address": prefix + ".254",
                                         "cidr": prefix + ".0/24", "veth_host": "enr%s%dh" % (TAG, i),
                                         "veth_router": "enr%s%dr" % (TAG, i)})
            bridge = json.loads(sh("docker network inspect %s" % net))[0]["Id"][:12]
            ns = "enos-nr-%s-n%d" % (TAG, i)
            sh("ip netns add %s" % ns)
            nodes.append(ns)
            sh("ip link add enr%s%dx type veth peer name eth0 netns %s" % (TAG, i, ns))
            sh("ip link set enr%s%dx master br-%s up" % (TAG, i, bridge))
            sh("ip -n %s link set lo up; ip -n %s link set eth0 up; ip -n %s addr add %s.10/24 dev eth0;"
               " ip -n %s route add default via %s.254" % (ns, ns, ns, prefix, ns, prefix))
        yield {"router": router, "nodes": nodes, "tmp": tmp_path}
    finally:
        module("local_router", dict(router, state="absent"), tmp_path)
        for ns in nodes:
            sh("ip netns del %s" % ns, check=False)
        for net in nets:
            sh("docker network rm %s" % net, check=False)


def rtt(ns, address, count=20):
    out = sh("ip netns exec %s fping -q -C %d -p 20 -t 1000 %s 2>&1" % (ns, count, address), check=False)
    values = out.split(" : ", 1)[1].split() if " : " in out else []
    got = sorted(float(v) for v in values if v != "-")
    return 100.0 * (count - len(got)) / max(1, count), (got[len(got) // 2] if got else None)


def test_router_kind_follows_the_kernel_and_shapes_partitions_heals(sites):
    tmp, router = sites["tmp"], sites["router"]
    auto = module("local_router", dict(router, kind="auto"), tmp)
    assert not auto.get("failed"), auto
    assert auto["router"]["kind"] == ("netns" if CAPS["netem"] else "uml"), auto["msg"]
    if not CAPS["netem"]:
        # what this kernel can give the netns path: rates (checked), no delay
        module("local_router", dict(router, state="absent"), tmp)
        auto = module("local_router", dict(router, kind="netns"), tmp)
        assert auto["router"]["kind"] == "netns", auto
    rns = router["name"]
    ifaces = auto["router"]["interfaces"]
    delay = 20000 if CAPS["netem"] else 0
    links = [{"src": a, "dst": b, "delay_us": delay, "rate_bps": 20_000_000}
             for a, b in (("s1", "s2"), ("s2", "s1"))]
    shaped = module("netem", {"placement": "router", "links": links, "router_interfaces": ifaces},
                    tmp, netns=rns)
    assert shaped["changed"] and not shaped.get("failed"), shaped
    n1, n2 = sites["nodes"]
    sh("ip netns exec %s fping -q -c 3 %s.10" % (n1, SITES["s2"]), check=False)     # ARP
    loss, base = rtt(n1, SITES["s2"] + ".10")
    assert loss == 0 and base is not None
    if CAPS["netem"]:
        assert 40 <= base <= 43, base
    # the rate, through the router
    sh("ip netns exec %s iperf3 -s -D -p 5211 -I %s" % (n2, tmp / "iperf.pid"))
    try:
        import time
        time.sleep(0.5)
        got, eff = nm.iperf3(SITES["s2"] + ".10", 0, seconds=3, port=5211,
                             prefix=["ip", "netns", "exec", n1])
        assert abs(got - 20e6 * eff) <= 2e6 * eff, got
    finally:
        os.kill(int((tmp / "iperf.pid").read_text().strip("\0\n ")), 15)

    prefixes = {s: [i["cidr"]] for s, i in ifaces.items()}
    cut = module("netem_events", {"state": "partitioned", "groups": [["s1"], ["s2"]],
                                  "prefixes": prefixes}, tmp, netns=rns)
    assert cut["changed"] and not cut.get("failed"), cut
    assert rtt(n1, SITES["s2"] + ".10")[0] == 100.0 and rtt(n2, SITES["s1"] + ".10")[0] == 100.0
    assert rtt(n1, SITES["s1"] + ".254")[0] == 0          # the site's own side still answers
    assert not module("netem_events", {"state": "partitioned", "groups": [["s1"], ["s2"]],
                                       "prefixes": prefixes}, tmp, netns=rns)["changed"]
    before = sh("ip netns exec %s tc -s qdisc show" % rns)
    healed = module("netem_events", {"state": "healed"}, tmp, netns=rns)
    assert healed["changed"] and rtt(n1, SITES["s2"] + ".10")[0] == 0
    after = sh("ip netns exec %s tc -s qdisc show" % rns)

    # heal touched no queue: the same qdiscs, their counters only grew
    def sent(text):
        return [int(x) for x in re.findall(r"Sent (\d+) bytes", text)]

    assert len(sent(before)) == len(sent(after)) and all(a >= b for a, b in zip(sent(after), sent(before)))
