"""The local provider's plan: one route per node whatever the number of sites, and the WAN
router's interfaces; plus the management console protocol of the UML router."""

import os
import socket
import struct
import threading

from ansible_collections.edge.enos.plugins.module_utils.local_uml import (
    COMMAND_LINE_BUDGET, MCONSOLE_MAGIC, MCONSOLE_MAX_DATA, MCONSOLE_VERSION, mconsole)
from ansible_collections.edge.enos.plugins.module_utils.topology import parse_topology
from ansible_collections.edge.enos.plugins.modules.local_plan import build_plan


def plan(sites, subnet="10.180.0.0/16"):
    topo = parse_topology({"provider": {"type": "local"},
                           "topology": {"grp[1-%d]" % sites: {"local": {"compute": 1}}}},
                          "scale.yml")
    return build_plan(topo, "/tmp/env", "scale", subnet, "10.199.80.0/30", "img")


def test_every_node_has_one_route_through_its_site_router_address():
    big = plan(100)
    assert len(big["nodes"]) == 100 and len(big["router"]["interfaces"]) == 100
    for number, node in enumerate(big["nodes"], 1):
        assert node["routes"] == [{"cidr": "10.180.0.0/16", "via": "10.180.%d.254" % number}]
    assert plan(1)["nodes"][0]["routes"] == []


def test_the_router_takes_every_site_gateway():
    router = plan(30)["router"]
    assert [i["address"] for i in router["interfaces"]] == ["10.180.%d.254" % n for n in range(1, 31)]
    names = [i["veth_router"] for i in router["interfaces"]] + [router["mgmt"]["veth_router"]]
    assert len(set(names)) == 31 and max(len(n) for n in names) <= 15   # IFNAMSIZ


def test_mconsole_sends_the_command_and_reads_a_multi_part_reply(tmp_path):
    path = str(tmp_path / "mconsole")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(path)
    seen = []

    def answer():
        data, client = server.recvfrom(12 + MCONSOLE_MAX_DATA)
        magic, version, length = struct.unpack("III", data[:12])
        seen.append((magic, version, data[12:12 + length].decode()))
        for more, text in ((1, b"part one, "), (0, b"part two")):
            server.sendto(struct.pack("iii", 0, more, len(text)) + text, client)

    thread = threading.Thread(target=answer)
    thread.start()
    ok, reply = mconsole(path, "config vec120:transport=raw,ifname=eabcdefr120")
    thread.join()
    server.close()
    assert seen == [(MCONSOLE_MAGIC, MCONSOLE_VERSION, "config vec120:transport=raw,ifname=eabcdefr120")]
    assert ok and reply == "part one, part two"
    assert not [n for n in os.listdir(tmp_path) if n != "mconsole"]   # its reply socket is gone
    assert COMMAND_LINE_BUDGET < 4096
