"""The local provider brings up a real multi-site testbed on this machine, and removes it.

    .venv/bin/pytest -m docker tests/integration/test_local_testbed.py

Three sites with one node each (containers with systemd and sshd), a WAN router between the
site networks (user-mode-linux here, since the host kernel has no sch_netem). The tests run in
order on one environment and remove it at the end; traffic goes only to the containers and the
router that they create.
"""

import hashlib
import json
import os
import re
import stat
import tempfile
import time
import uuid
from pathlib import Path

import pytest
import yaml

import local_helpers as h

pytestmark = [pytest.mark.docker,
              pytest.mark.skipif(h.usable() is not None, reason=str(h.usable()))]

SUBNET, ROUTER_SUBNET = "10.233.0.0/16", "10.199.33.0/30"
SITES = {"grp1": {"control": 1}, "grp2": {"compute": 1}, "grp3": {"compute": 1}}


class Bed:
    def __init__(self, base):
        self.base = Path(base)
        self.env = "t3it-%s" % uuid.uuid4().hex[:4]
        self.env_dir = self.base / "env"
        self.topology = h.write_topology(self.base / "topology.yml", self.env, SUBNET,
                                         ROUTER_SUBNET, SITES)
        self.key = self.env_dir / "id_ed25519"
        self.veth_prefix = "e" + hashlib.sha1(self.env.encode()).hexdigest()[:6]

    def run(self, name, *extra):
        return h.playbook(name, self.topology, self.env_dir, *extra)

    def hosts(self):
        return dict((host["name"], host) for host in h.resources(self.env_dir)["hosts"])

    def container(self, host):
        return "%s-%s" % (self.env, host)


@pytest.fixture(scope="module")
def testbed():
    with tempfile.TemporaryDirectory(prefix="enos-local-") as base:
        bed = Bed(base)
        rc, out = bed.run("provider")
        bed.first_output = out
        try:
            assert rc == 0, out[-4000:]
            yield bed
        finally:
            if h.labelled(bed.env) != {"containers": [], "networks": [], "volumes": []}:
                bed.run("destroy", "-e", "enos_destroy_hard=true")
            h.force_cleanup(bed.env, bed.env_dir)


def test_resources_describe_every_node(testbed):
    res = h.resources(testbed.env_dir)
    assert res["environment"] == testbed.env and res["provider"] == "local"
    assert sorted(testbed.hosts()) == ["grp1-control-1", "grp2-compute-1", "grp3-compute-1"]
    for name, host in testbed.hosts().items():
        site = name.split("-")[0]
        inspect = json.loads(h.dexec(testbed.container(name), "ip", "-j", "-4", "addr").stdout)
        held = dict((a["local"], i["ifname"]) for i in inspect for a in i["addr_info"])
        for interface in host["interfaces"].values():
            assert held[interface["address"]] == interface["device"]
        assert host["address"].startswith("10.233.%d." % int(site[3:]))
    # the kind this kernel must give: a netns router where the kernel has sch_netem
    kind = "netns" if h.kernel_has_netem() else "uml"
    assert res["router"]["kind"] == kind
    assert res["router"]["interfaces"]["grp2"]["address"] == "10.233.2.254"
    assert "WAN router %s-wan (%s) started" % (testbed.env, kind) in testbed.first_output


def test_every_node_answers_ssh_with_the_environment_key(testbed):
    assert stat.S_IMODE(os.stat(testbed.key).st_mode) == 0o600
    for name, host in testbed.hosts().items():
        proc = h.ssh(host["address"], testbed.key, "hostname; systemctl is-system-running; "
                     "findmnt -no PROPAGATION /run")
        assert proc.returncode in (0, 1), proc.stderr          # is-system-running: 1 = degraded
        hostname, state, propagation = proc.stdout.split()
        assert hostname == name
        assert state in ("running", "degraded")
        assert propagation == "shared"


def test_sites_reach_each_other_through_the_router(testbed):
    hosts = testbed.hosts()
    src, dst = hosts["grp1-control-1"], hosts["grp3-compute-1"]
    trace = h.dexec(testbed.container("grp1-control-1"), "traceroute", "-n", "-q", "1", "-w", "2",
                    dst["address"])
    hops = re.findall(r"^\s*\d+\s+(\S+)", trace.stdout, re.M)
    assert hops == ["10.233.1.254", dst["address"]], trace.stdout

    # a real delay on the router's interface toward grp3 shows in the RTT between the sites
    router = h.resources(testbed.env_dir)["router"]
    device = router["interfaces"]["grp3"]["device"]
    add = h.ssh(router["ssh"]["address"], testbed.key,
                "tc qdisc replace dev %s root netem delay 40ms" % device, timeout=120)
    assert add.returncode == 0, add.stderr
    try:
        ping = h.dexec(testbed.container("grp1-control-1"), "ping", "-c", "5", "-i", "0.2",
                       dst["address"])
        rtt_min = float(re.search(r"= ([\d.]+)/", ping.stdout).group(1))
        assert 40 <= rtt_min < 60, ping.stdout
    finally:
        h.ssh(router["ssh"]["address"], testbed.key, "tc qdisc del dev %s root" % device,
              timeout=120)
    assert src["address"] != dst["address"]


def test_second_run_changes_nothing(testbed):
    rc, out = testbed.run("provider")
    assert rc == 0, out[-4000:]
    assert h.changed_count(out) == 0, out[-6000:]
    assert "(uml) running" in out


def test_a_restarted_node_keeps_its_names_and_routes(testbed):
    """A restarted container gets its networks in no fixed order (eth0 and eth1 swap), without
    the routes set in it, and an /etc/hosts rewritten by Docker (the node's name on its first
    network's address), which the node's own engine copies into its containers before `enos up`
    could fix anything. The node sets its interface names and routes again as it starts, and its
    /etc/hosts is the environment's file, kept as written."""
    name = "grp3-compute-1"
    container = testbed.container(name)
    entry = "10.233.3.10 %s # written by the test" % name
    assert h.dexec(container, "sh", "-c", "echo '%s' >> /etc/hosts" % entry).returncode == 0
    wanted = dict((i["address"], i["device"]) for i in testbed.hosts()[name]["interfaces"].values())

    def network():
        held = dict((a["local"], i["ifname"]) for i in json.loads(
            h.dexec(container, "ip", "-j", "-4", "addr").stdout or "[]") for a in i["addr_info"])
        route = h.dexec(container, "ip", "route", "get", "10.233.1.10").stdout
        return {a: held.get(a) for a in wanted}, "via 10.233.3.254" in route

    for attempt in range(3):      # the order Docker attaches networks in varies from one start to the next
        os.system("docker restart -t 5 %s >/dev/null" % container)
        deadline = time.time() + 60
        while network() != (wanted, True) and time.time() < deadline:
            time.sleep(1)
        assert network() == (wanted, True), "after restart %d: %s" % (attempt + 1, network())
    hosts = h.dexec(container, "cat", "/etc/hosts").stdout
    assert entry in hosts and "localhost" in hosts, hosts
    names = [line.split()[0] for line in hosts.splitlines() if line.split()[1:2] == [name]]
    assert names == ["10.233.3.10"], hosts


def test_a_removed_node_is_recreated_and_said_so(testbed):
    name = "grp2-compute-1"
    assert h.dexec(testbed.container(name), "true").returncode == 0
    os.system("docker rm -f %s >/dev/null" % testbed.container(name))
    rc, out = testbed.run("provider")
    assert rc == 0, out[-4000:]
    assert "node container %s (%s) was gone: recreated" % (testbed.container(name), name) in out
    address = testbed.hosts()[name]["address"]
    assert h.ssh(address, testbed.key, "hostname").stdout.strip() == name
    route = h.dexec(testbed.container(name), "ip", "route", "get", "10.233.1.10").stdout
    assert "via 10.233.2.254" in route, route


def test_static_provider_names_the_machines_that_do_not_answer(testbed, tmp_path):
    hosts = testbed.hosts()

    def machine(alias, address):
        return {"address": address, "alias": alias, "user": "root", "keyfile": str(testbed.key)}

    def static_run(compute):
        topo = tmp_path / "static.yml"
        topo.write_text(yaml.safe_dump({
            "plugin": "edge.enos.topology", "provider": {"type": "static"},
            "resources": {"control": [machine("s-control", hosts["grp1-control-1"]["address"])],
                          "compute": [compute]}}))
        return h.playbook("provider", topo, tmp_path / "env", timeout=300)

    # an address of the testbed's own grp1 network that no container holds
    rc, out = static_run(machine("s-ghost", "10.233.1.99"))
    text = " ".join(out.split())
    assert rc != 0
    assert ("1 static machine(s) do not answer SSH, nothing was changed: "
            "s-ghost (root@10.233.1.99:") in text, text
    assert not (tmp_path / "env" / "resources.json").exists()

    rc, out = static_run(machine("s-compute", hosts["grp3-compute-1"]["address"]))
    assert rc == 0, out[-4000:]
    static = h.resources(tmp_path / "env")
    assert static["provider"] == "static"
    assert sorted((x["name"], x["interfaces"]["network_interface"]["device"])
                  for x in static["hosts"]) == [("s-compute", "eth0"), ("s-control", "eth0")]


def test_destroy_hard_leaves_nothing_of_the_environment(testbed):
    state = json.loads((testbed.env_dir / "router" / "state.json").read_text())
    rc, out = testbed.run("destroy", "-e", "enos_destroy_hard=true")
    assert rc == 0, out[-4000:]
    assert h.labelled(testbed.env) == {"containers": [], "networks": [], "volumes": []}
    assert h.links_with_prefix(testbed.veth_prefix) == []
    assert not Path("/proc/%d" % state["pid"]).exists() or \
        b"umid=" not in Path("/proc/%d/cmdline" % state["pid"]).read_bytes()
    assert not testbed.key.exists() and not (testbed.env_dir / "resources.json").exists()


def test_a_topology_too_big_for_the_memory_is_refused_before_anything(tmp_path):
    env = "t3big-%s" % uuid.uuid4().hex[:4]
    topo = h.write_topology(tmp_path / "topology.yml", env, "10.234.0.0/16", "10.199.34.0/30",
                            {"grp1": {"control": 1}, "grp2": {"compute": 2}}, memory="4096g")
    rc, out = h.playbook("provider", topo, tmp_path / "env")
    assert rc != 0
    text = " ".join(out.split())
    assert re.search(r"not enough memory for this topology: 3 new node\(s\) x 4096\.0 GiB "
                     r"\(provider.memory_per_node = 4096g\) \+ 256 MiB for the WAN router = "
                     r"12288\.2 GiB needed, but the controller has [\d.]+ GiB available", text), text
    assert h.labelled(env) == {"containers": [], "networks": [], "volumes": []}
    assert not (tmp_path / "env").exists()
