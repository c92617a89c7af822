"""The node preparation of edge.enos.common, checked on the converged containers."""

import json

import pytest

WANTED = {
    "net.ipv4.ip_forward": "1",
    "net.ipv4.ip_nonlocal_bind": "1",
    "net.ipv6.ip_nonlocal_bind": "1",
    "net.bridge.bridge-nf-call-iptables": "1",
    "net.bridge.bridge-nf-call-ip6tables": "1",
}
NODES = ("common-rw", "common-ro")


def _address(host, name):
    # the other container's address, asked from inside this one (its engine's view)
    out = host.run("getent ahostsv4 %s", name)
    assert out.rc == 0, out.stderr
    return out.stdout.split()[0]


@pytest.mark.parametrize("package", ["python3", "fping", "iperf3", "procps"])
def test_packages(host, package):
    assert host.package(package).is_installed


def test_hosts_lists_every_node_first(host):
    lines = host.file("/etc/hosts").content_string.splitlines()
    begin = lines.index("# BEGIN edge.enos nodes")
    end = lines.index("# END edge.enos nodes")
    assert begin == 0, "the block must come before the engine's own entries"
    block = dict(reversed(line.split()) for line in lines[begin + 1:end])
    assert sorted(block) == sorted(NODES)
    own = host.interface.default().addresses
    assert block[host.backend.get_hostname()] in own


def test_nodes_resolve_each_other(host):
    for name in NODES:
        address = _address(host, name)
        ping = host.run("fping -c1 -t500 %s", address)
        assert ping.rc == 0, ping.stderr


def test_sysctl_file(host):
    conf = host.file("/etc/sysctl.d/90-edge-enos.conf")
    assert conf.mode == 0o644
    lines = {line.split(" = ")[0]: line.split(" = ")[1]
             for line in conf.content_string.splitlines() if " = " in line}
    available = {key for key in WANTED if host.run("sysctl -n %s", key).rc == 0}
    assert lines == {key: WANTED[key] for key in available}


def test_sysctl_live(host):
    """Set where /proc/sys is writable; on the read-only node, left as the kernel had them."""
    writable = host.run("sh -c 'cat /proc/sys/net/ipv4/ip_nonlocal_bind > /proc/sys/net/ipv4/ip_nonlocal_bind'").rc == 0
    if host.backend.get_hostname() == "common-rw":
        assert writable
        for key, value in WANTED.items():
            assert host.sysctl(key) == int(value), key
    else:
        assert not writable, "this node should have a read-only /proc/sys"
        assert host.sysctl("net.ipv4.ip_nonlocal_bind") == 0


def test_problems_recorded(host):
    """What could not be set is recorded on the node, each parameter named."""
    fact = json.loads(host.file("/etc/ansible/facts.d/edge_enos_common.fact").content_string)
    unset = [key for key, value in WANTED.items()
             if host.run("sysctl -n %s", key).stdout.strip() != value]
    for key in unset:
        assert any(key in problem for problem in fact["sysctl_problems"]), (key, fact)
    if host.backend.get_hostname() == "common-ro":
        assert unset, "a read-only /proc/sys left nothing unset?"
