"""EnOS's own reservation files (tests/functionnal, the docs, EnOS 8's `enos new` outputs) and
every static form: accepted, with the hosts and the WAN emulation EnOS would give them.

The expected values are read from the files by hand (EnOS's semantics: defaults between every
pair of groups, constraints override field by field)."""
import glob
import os

import pytest

from ansible_collections.edge.enos.plugins.module_utils.topology import load_topology

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures", "enos")
ENOS_FILES = sorted(glob.glob(os.path.join(FIXTURES, "functionnal", "*.yaml")) +
                    glob.glob(os.path.join(FIXTURES, "enos8-new", "*.yaml")))

# (src, dst) -> (delay_us, rate_bps, loss_pct) that EnOS applies; files not listed shape nothing
EMULATION = {
    "topology-topology.yaml": {("grp1", "grp2"): (10000, 10 ** 8, 0.0),
                               ("grp2", "grp1"): (10000, 10 ** 8, 0.0)},
    # defaults 25ms/100mbit/0.1%, overridden both ways by the symmetric constraint
    "tutorial-reservation-topo.yaml": {("grp1", "grp2"): (50000, 10 ** 9, 0.0),
                                       ("grp2", "grp1"): (50000, 10 ** 9, 0.0)},
}


def test_every_enos_file_is_covered():
    names = {os.path.basename(p) for p in ENOS_FILES}
    assert len(names) == 12, names
    assert set(EMULATION) <= names


@pytest.mark.parametrize("path", ENOS_FILES, ids=os.path.basename)
def test_enos_file_accepted_with_enos_emulation(path):
    topo = load_topology(path)
    assert len(topo.hosts) >= 1
    assert {"control", "network", "compute"} <= set(topo.roles)
    links = dict(((s, d), (l.delay_us, l.rate_bps, l.loss_pct)) for (s, d), l in topo.links().items())
    assert links == EMULATION.get(os.path.basename(path), {})


def host_fields(topo):
    return dict((h.name, (h.site, h.roles, h.address, h.user, h.keyfile, h.port)) for h in topo.hosts)


def test_static_resources_role_to_hosts_keep_everything():
    topo = load_topology(os.path.join(FIXTURES, "functionnal", "static-reservation.yaml"))
    assert host_fields(topo) == {
        "enos-2": ("compute", ["compute"], "192.168.142.243", "root",
                   ".vagrant/machines/enos-2/libvirt/private_key", None),
        "enos-0": ("control", ["control"], "192.168.142.245", "root",
                   ".vagrant/machines/enos-0/libvirt/private_key", None),
        "enos-1": ("network", ["network"], "192.168.142.244", "root",
                   ".vagrant/machines/enos-1/libvirt/private_key", None),
    }


def test_static_one_machine_in_every_role():
    topo = load_topology(os.path.join(FIXTURES, "functionnal", "packaging-reservation.yaml"))
    assert host_fields(topo) == {
        "enos-node": ("compute", ["compute", "control", "network"], "127.0.0.1", "root", None, None)}


def test_static_topology_group_role_host_or_hosts():
    topo = load_topology(os.path.join(FIXTURES, "static-topology.yaml"))
    assert host_fields(topo) == {
        "edge-a": ("grp1", ["control", "network"], "192.0.2.10", "debian", "~/.ssh/edge_a", 2222),
        "edge-b": ("grp2", ["compute"], "192.0.2.20", "root", "/keys/b", None),
        "grp2-compute-2": ("grp2", ["compute"], "192.0.2.21", None, None, 22),
    }
    assert sorted(topo.links()) == [("grp1", "grp2"), ("grp2", "grp1")]


def test_static_provider_machines_with_addresses():
    topo = load_topology(os.path.join(FIXTURES, "static-machines.yaml"))
    assert host_fields(topo) == {
        "ctl": ("control", ["control", "network"], "192.0.2.30", "admin", "/keys/ctl", 2200),
        "cpt": ("compute", ["compute"], "192.0.2.31", "root", None, None),
    }
    assert [n["cidr"] for n in topo.networks] == ["192.0.2.0/24"]


def test_enos8_new_placeholders_are_warned_with_their_line():
    topo = load_topology(os.path.join(FIXTURES, "enos8-new", "openstack.yaml"))
    lines = sorted(int(w.split(":")[1]) for w in topo.warnings if "placeholder" in w)
    assert lines == [16, 17, 18, 22]
