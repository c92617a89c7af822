"""Unit tests of the topology model (plugins/module_utils/topology.py).

Expected values are worked out by hand from the fixture files and EnOS's semantics; the
line numbers are those of the fixture files.
"""
import os
import re
from collections import OrderedDict

import pytest

from ansible_collections.edge.enos.plugins.module_utils.topology import (
    TopologyError, expand_links, expand_range, load_topology, parse_delay, parse_loss, parse_rate)

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures")


def fixture(kind, name):
    return os.path.join(FIXTURES, kind, name)


def good(name):
    return load_topology(fixture("enos", name))


def write(tmp_path, text, name="topology.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def names(hosts):
    return [h.name for h in hosts]


def split_problem(line):
    """'FILE:LINE: key: problem (fix)' -> (file, line, key, problem, fix); fails on other shapes."""
    match = re.match(r"^(?P<file>[^:]+):(?P<line>\d+): (?P<key>\S+): (?P<rest>.+)$", line)
    assert match, "not FILE:LINE: key: problem (fix): %r" % line
    rest = match.group("rest")
    assert rest.endswith(")"), "no (fix) at the end of %r" % line
    depth = 0
    for start in range(len(rest) - 1, -1, -1):
        depth += {")": 1, "(": -1}.get(rest[start], 0)
        if depth == 0:
            break
    problem, fix = rest[:start].rstrip(), rest[start + 1:-1]
    assert problem and fix.strip(), "empty problem or fix in %r" % line
    return match.group("file"), int(match.group("line")), match.group("key"), problem, fix


def problems_of(path):
    with pytest.raises(TopologyError) as info:
        load_topology(path)
    lines = str(info.value).splitlines()
    assert len(lines) == len(info.value.problems)
    return [split_problem(line) for line in lines]


def only_problem(path):
    problems = problems_of(path)
    assert len(problems) == 1, problems
    return problems[0]


# --------------------------------------------------------------------------- EnOS's own files

def test_tutorial_flat_per_cluster():
    topo = good("tutorial.yaml")
    assert topo.provider["type"] == "g5k"
    assert topo.provider["job_name"] == "enos" and topo.provider["walltime"] == "04:00:00"
    assert names(topo.hosts) == ["compute-1", "network-1", "control-1"]
    assert all(h.cluster == "paravance" for h in topo.hosts)
    assert {role: names(hosts) for role, hosts in topo.roles.items()} == {
        "compute": ["compute-1"], "network": ["network-1"], "control": ["control-1"]}
    # flat resources: each role is a group for network constraints, as in EnOS
    assert {site: names(hosts) for site, hosts in topo.sites.items()} == {
        "compute": ["compute-1"], "network": ["network-1"], "control": ["control-1"]}
    assert topo.registry["type"] == "internal" and topo.registry["port"] == 4000
    assert topo.enable_monitoring is True
    assert topo.kolla["docker_namespace"] == "beyondtheclouds"
    assert topo.kolla["enable_heat"] == "yes"
    assert topo.links() == {}
    assert topo.placement == dict.fromkeys(("registry", "influx", "grafana", "bench"), "control-1")


def test_tutorial_warnings_name_line_and_replacement():
    path = fixture("enos", "tutorial.yaml")
    warnings = load_topology(path).warnings
    by_key = dict((split_warning(w, path)) for w in warnings)
    assert set(by_key) == {(27, "kolla_repo"), (28, "kolla_ref"), (32, "kolla.kolla_install_type"),
                           (18, "registry.ceph")}
    assert "kolla-ansible" in by_key[(27, "kolla_repo")]
    assert "kolla-ansible" in by_key[(28, "kolla_ref")]
    assert "remove it" in by_key[(32, "kolla.kolla_install_type")]


def split_warning(text, path):
    match = re.match(r"^(?P<file>[^:]+):(?P<line>\d+): (?P<key>\S+): deprecated: (?P<msg>.+)$", text)
    assert match, text
    assert match.group("file") == path
    return (int(match.group("line")), match.group("key")), match.group("msg")


def test_tutorial_topology_two_groups():
    path = fixture("enos", "tutorial-topology.yaml")
    topo = load_topology(path)
    assert {site: names(hosts) for site, hosts in topo.sites.items()} == {
        "grp1": ["grp1-control-1", "grp1-network-1"], "grp2": ["grp2-compute-1"]}
    assert {role: names(hosts) for role, hosts in topo.roles.items()} == {
        "control": ["grp1-control-1"], "network": ["grp1-network-1"], "compute": ["grp2-compute-1"]}
    host = topo.host("grp2-compute-1")
    assert (host.site, host.cluster, host.roles, host.index) == ("grp2", "paravance", ["compute"], 1)
    assert topo.enable_monitoring is True
    assert topo.placement["registry"] == "grp1-control-1"
    # the symmetric constraint (50ms, 1gbit, 0%) overrides the defaults in both directions
    links = topo.links()
    assert sorted(links) == [("grp1", "grp2"), ("grp2", "grp1")]
    for link in links.values():
        assert (link.delay_us, link.jitter_us, link.rate_bps, link.loss_pct) == (50000, 0, 10 ** 9, 0.0)
        assert link.origin == "constraints[0]"
    warnings = dict(split_warning(w, path) for w in topo.warnings)
    assert set(warnings) == {(34, "kolla_repo"), (35, "kolla_ref"), (38, "kolla.kolla_install_type")}


def test_topology_with_ranges():
    path = fixture("enos", "topology-ranges.yaml")
    topo = load_topology(path)
    assert topo.provider["type"] == "vagrant"
    assert list(topo.sites) == ["grp1", "grp2", "grp3", "grp4", "grp5", "grp7", "grp8"]
    for site in ("grp2", "grp3", "grp4"):
        assert names(topo.sites[site]) == ["%s-compute-1" % site, "%s-compute-2" % site]
        assert all(h.cluster == "medium" for h in topo.sites[site])
    for site in ("grp5", "grp7", "grp8"):
        assert names(topo.sites[site]) == ["%s-compute-1" % site]
        assert topo.sites[site][0].cluster == "small"
    assert len(topo.hosts) == 2 + 3 * 2 + 3
    assert len(topo.roles["compute"]) == 9
    assert topo.kolla == {"enable_heat": "no"}
    assert topo.enable_monitoring is False

    links = topo.links()
    members = ["grp1", "grp2", "grp3", "grp4", "grp5", "grp7"]      # grp8 is excepted
    assert set(links) == {(s, d) for s in members for d in members if s != d}
    # constraints[0]: grp1 <-> grp2..4, 5ms 1gbit, loss from the default (0), symetric
    for site in ("grp2", "grp3", "grp4"):
        for pair in (("grp1", site), (site, "grp1")):
            link = links[pair]
            assert (link.delay_us, link.rate_bps, link.loss_pct, link.origin) == (
                5000, 10 ** 9, 0.0, "constraints[0]")
    # constraints[1]: grp5, grp7 -> grp1 only; rate falls back to the default 100mbit
    for site in ("grp5", "grp7"):
        link = links[(site, "grp1")]
        assert (link.delay_us, link.rate_bps, link.loss_pct, link.origin) == (
            150000, 10 ** 8, 2.0, "constraints[1]")
        back = links[("grp1", site)]
        assert (back.delay_us, back.rate_bps, back.origin) == (10000, 10 ** 8, "default")
    assert links[("grp2", "grp3")].as_dict() == {
        "delay_us": 10000, "jitter_us": 0, "rate_bps": 10 ** 8, "loss_pct": 0.0, "network": None,
        "origin": "default"}
    warnings = dict(split_warning(w, path) for w in topo.warnings)
    assert set(warnings) == {(38, "kolla_repo"), (39, "kolla_ref"),
                             (30, "network_constraints.constraints[0].symetric")}
    assert "symmetric" in warnings[(30, "network_constraints.constraints[0].symetric")]


def test_grid5000_provider_machines():
    topo = good("grid5000-machines.yaml")
    assert topo.provider["type"] == "g5k"
    assert names(topo.hosts) == ["compute-1", "network-1", "control-1", "control-2"]
    assert [h.cluster for h in topo.hosts] == ["paravance", "paravance", "parasilo", "parasilo"]
    assert names(topo.roles["control"]) == ["control-1", "control-2"]
    assert names(topo.roles["monitoring"]) == ["control-1", "control-2"]
    assert topo.host("control-2").roles == ["control", "monitoring"]
    assert [n["id"] for n in topo.networks] == ["int-net"]
    assert topo.warnings == []


def test_vagrant_two_nics():
    topo = good("vagrant-2nics.yaml")
    assert topo.provider["type"] == "vagrant" and topo.provider["backend"] == "libvirt"
    assert names(topo.hosts) == ["control-1", "compute-1", "compute-2"]
    assert {role: len(hosts) for role, hosts in topo.roles.items()} == {"control": 1, "compute": 2}
    assert topo.kolla_ansible == "22.2.0"
    assert topo.kolla == {"enable_heat": "no"}
    assert topo.warnings == []


def test_static_anchors_and_several_roles_on_one_host():
    path = fixture("enos", "static.yaml")
    topo = load_topology(path)
    assert topo.provider["type"] == "static"
    assert names(topo.hosts) == ["enos-0", "enos-1"]
    node0, node1 = topo.hosts
    assert node0.roles == ["control", "network"] and node1.roles == ["compute"]
    assert (node0.address, node0.user, node0.keyfile) == ("192.0.2.10", "root", "keys/enos-0")
    assert (node1.address, node1.user, node1.keyfile) == ("192.0.2.11", "root", "keys/enos-1")
    assert {role: names(hosts) for role, hosts in topo.roles.items()} == {
        "control": ["enos-0"], "network": ["enos-0"], "compute": ["enos-1"]}
    assert topo.registry["type"] == "none"
    assert [n["cidr"] for n in topo.networks] == ["192.0.2.0/24", "198.51.100.0/24"]
    assert topo.placement["registry"] == "enos-0"
    warnings = dict(split_warning(w, path) for w in topo.warnings)
    assert set(warnings) == {(17, "kolla_ref"), (18, "kolla_repo")}


def test_chameleon():
    path = fixture("enos", "chameleon.yaml")
    topo = load_topology(path)
    assert topo.provider["type"] == "chameleonkvm"
    assert names(topo.hosts) == ["compute-1", "control-1"]
    assert {role: names(hosts) for role, hosts in topo.roles.items()} == {
        "compute": ["compute-1"], "control": ["control-1"]}
    assert topo.kolla == {"enable_heat": False}
    warnings = dict(split_warning(w, path) for w in topo.warnings)
    assert set(warnings) == {(4, "kolla_ref"), (5, "kolla_repo")}
    assert all("kolla-ansible" in msg for msg in warnings.values())


def test_vmong5k():
    path = fixture("enos", "vmong5k.yaml")
    topo = load_topology(path)
    assert topo.provider["type"] == "vmong5k"
    assert names(topo.hosts) == ["compute-1", "control-1"]
    assert [h.cluster for h in topo.hosts] == ["parapluie", "paravance"]
    assert topo.host("control-1").roles == ["control", "network"]
    assert names(topo.roles["network"]) == ["control-1"]
    warnings = dict(split_warning(w, path) for w in topo.warnings)
    assert set(warnings) == {(2, "kolla_ref"), (3, "kolla_repo")}


def test_static_merge_key_may_override_a_field(tmp_path):
    # `<<: *anchor` then a key of its own is plain YAML, not a duplicate key
    path = write(tmp_path, (
        "hosts:\n"
        "  node0: &node0 {address: 192.0.2.10, user: root}\n"
        "provider: static\n"
        "resources:\n"
        "  control:\n"
        "  - <<: *node0\n"
        "    user: debian\n"))
    topo = load_topology(path)
    assert (topo.hosts[0].address, topo.hosts[0].user) == ("192.0.2.10", "debian")


# --------------------------------------------------------------------------- units

@pytest.mark.parametrize("text, us", [
    ("10us", 10), ("10ms", 10000), ("1s", 1000000), ("1.5ms", 1500), ("250 ms", 250000),
    ("0ms", 0), (0, 0), ("0", 0),
])
def test_parse_delay(text, us):
    assert parse_delay(text) == us


@pytest.mark.parametrize("text, bps", [
    ("8bit", 8), ("64kbit", 64000), ("10tbit", 10 ** 13), ("100mbit", 10 ** 8), ("1gbit", 10 ** 9), ("2.5gbit", 25 * 10 ** 8),
    # the bps forms are bytes per second, as in tc
    ("1bps", 8), ("1kbps", 8000), ("10mbps", 8 * 10 ** 7), ("1gbps", 8 * 10 ** 9),
])
def test_parse_rate(text, bps):
    assert parse_rate(text) == bps


@pytest.mark.parametrize("text, pct", [("0.1%", 0.1), ("2%", 2.0), ("100%", 100.0), ("0%", 0.0),
                                       (0, 0.0), ("0", 0.0),
                                       # EnOSlib documents loss as a bare percentage
                                       (0.5, 0.5), ("1", 1.0), (1, 1.0)])
def test_parse_loss(text, pct):
    assert parse_loss(text) == pct


@pytest.mark.parametrize("parser, value", [
    (parse_delay, 10), (parse_delay, "10"), (parse_delay, 1.5),
    (parse_rate, 100), (parse_rate, "100"),
])
def test_unitless_non_zero_refused(parser, value):
    with pytest.raises(ValueError, match="no unit"):
        parser(value)


@pytest.mark.parametrize("parser, value", [
    (parse_delay, "-10ms"), (parse_delay, -1), (parse_rate, "-1mbit"), (parse_loss, "-1%"),
    (parse_loss, -0.5),
])
def test_negative_refused(parser, value):
    with pytest.raises(ValueError, match="negative"):
        parser(value)


@pytest.mark.parametrize("parser, units", [
    (parse_delay, ("us", "ms", "s")),
    (parse_rate, ("kbit", "mbit", "gbit", "mbps")),
    (parse_loss, ("%",)),
])
def test_unknown_unit_names_the_units_to_use(parser, units):
    with pytest.raises(ValueError) as info:
        parser("10 parsecs")
    message = str(info.value)
    assert "parsecs" in message
    for unit in units:
        assert re.search(r"\b%s\b" % re.escape(unit) if unit != "%" else "%", message), (unit, message)


@pytest.mark.parametrize("value", ["101%", 101, "100.5"])
def test_loss_above_100_refused(value):
    with pytest.raises(ValueError, match="above 100"):
        parse_loss(value)


@pytest.mark.parametrize("parser, value, limit", [
    # would round to no delay at all: refused rather than silently unshaped
    (parse_delay, "0.4us", "below 1us"), (parse_delay, "0.0001ms", "below 1us"),
    (parse_delay, "61s", "at most 60s"), (parse_delay, "99999999999999999999ms", "at most 60s"),
    (parse_rate, "1bit", "at least 8bit"), (parse_rate, "0.5bps", "at least 8bit"),
    (parse_rate, "11tbit", "at most 10tbit"),
    (parse_loss, float("nan"), "not a loss"), (parse_delay, float("inf"), "not a delay"),
    (parse_delay, None, "not a delay"), (parse_loss, True, "not a loss"),
])
def test_out_of_bounds_values_name_the_limit(parser, value, limit):
    with pytest.raises(ValueError, match=limit):
        parser(value)


def test_bounds_accept_their_limits():
    assert parse_delay("1us") == 1 and parse_delay("60s") == 60 * 10 ** 6
    assert parse_rate("8bit") == 8 and parse_rate("1bps") == 8


# --------------------------------------------------------------------------- ranges

@pytest.mark.parametrize("text, expected", [
    ("grp1", ["grp1"]),
    ("grp[2-4]", ["grp2", "grp3", "grp4"]),
    ("grp[1,3,5-7]", ["grp1", "grp3", "grp5", "grp6", "grp7"]),
    ("grp[3]", ["grp3"]),
    ("n[01-03]", ["n01", "n02", "n03"]),
    ("n[08-11]", ["n08", "n09", "n10", "n11"]),
    ("site[1-2]-edge", ["site1-edge", "site2-edge"]),
])
def test_expand_range(text, expected):
    assert expand_range(text) == expected


@pytest.mark.parametrize("text", ["grp[4-2]", "grp[a-b]", "grp[2-4)", "grp[]", "grp[1-2-3]",
                                  "grp[1,,2]", "grp2-4]"])
def test_malformed_range_refused(text):
    with pytest.raises(ValueError, match="malformed range"):
        expand_range(text)


def test_range_in_topology_and_constraints(tmp_path):
    topo = load_topology(write(tmp_path, (
        "topology:\n"
        "  edge[01-03]:\n"
        "    c: {compute: 1}\n"
        "network_constraints:\n"
        "  constraints:\n"
        "    - {src: 'edge[01,03]', dst: edge02, delay: 7ms}\n")))
    assert list(topo.sites) == ["edge01", "edge02", "edge03"]
    assert sorted(topo.links()) == [("edge01", "edge02"), ("edge03", "edge02")]
    assert {link.delay_us for link in topo.links().values()} == {7000}


# --------------------------------------------------------------------------- constraint semantics

FOUR_SITES = (
    "topology:\n"
    "  grp1: {c: {control: 1}}\n"
    "  grp[2-4]: {c: {compute: 1}}\n"
    "network_constraints:\n")


def links_of(tmp_path, constraints):
    return load_topology(write(tmp_path, FOUR_SITES + constraints)).links()


def test_defaults_on_every_ordered_pair(tmp_path):
    links = links_of(tmp_path, "  default_delay: 10ms\n  default_rate: 1gbit\n  default_loss: 0\n")
    sites = ["grp1", "grp2", "grp3", "grp4"]
    assert set(links) == {(s, d) for s in sites for d in sites if s != d}
    assert len(links) == 12
    for link in links.values():
        assert (link.delay_us, link.jitter_us, link.rate_bps, link.loss_pct, link.origin) == (
            10000, 0, 10 ** 9, 0.0, "default")


def test_groups_minus_except(tmp_path):
    links = links_of(tmp_path, (
        "  default_delay: 10ms\n"
        "  groups: [grp1, grp2, grp3]\n"
        "  except: [grp3]\n"))
    assert sorted(links) == [("grp1", "grp2"), ("grp2", "grp1")]


def test_except_with_range(tmp_path):
    links = links_of(tmp_path, "  default_delay: 10ms\n  except: 'grp[3-4]'\n")
    assert sorted(links) == [("grp1", "grp2"), ("grp2", "grp1")]


def test_constraint_overrides_one_direction(tmp_path):
    links = links_of(tmp_path, (
        "  default_delay: 10ms\n"
        "  groups: [grp1, grp2]\n"
        "  constraints:\n"
        "    - {src: grp1, dst: grp2, delay: 50ms}\n"))
    assert (links[("grp1", "grp2")].delay_us, links[("grp1", "grp2")].origin) == (50000, "constraints[0]")
    assert (links[("grp2", "grp1")].delay_us, links[("grp2", "grp1")].origin) == (10000, "default")


@pytest.mark.parametrize("spelling", ["symmetric", "symetric"])
def test_symmetric_constraint_both_directions(tmp_path, spelling):
    topo = load_topology(write(tmp_path, FOUR_SITES + (
        "  constraints:\n"
        "    - src: grp1\n"
        "      dst: grp2\n"
        "      delay: 20ms\n"
        "      %s: true\n" % spelling)))
    links = topo.links()
    assert sorted(links) == [("grp1", "grp2"), ("grp2", "grp1")]
    assert {link.delay_us for link in links.values()} == {20000}
    deprecated = [w for w in topo.warnings if "symetric" in w]
    assert len(deprecated) == (1 if spelling == "symetric" else 0)
    if deprecated:
        assert re.match(r"^.+:9: network_constraints\.constraints\[0\]\.symetric: deprecated: .*symmetric",
                        deprecated[0])


def test_excluded_group_is_left_out_of_every_rule_with_a_warning(tmp_path):
    # EnOS: a group in `except` is in no rule at all, even one that names it
    topo = load_topology(write(tmp_path, FOUR_SITES + (
        "  default_delay: 10ms\n"
        "  except: [grp3]\n"
        "  constraints:\n"
        "    - {src: grp3, dst: grp1, delay: 30ms}\n"
        "    - {src: grp1, dst: 'grp[2-3]', delay: 40ms}\n")))
    links = topo.links()
    assert not any("grp3" in pair for pair in links)
    assert len(links) == 6
    assert links[("grp1", "grp2")].delay_us == 40000
    warnings = [w for w in topo.warnings if "not applied" in w]
    assert len(warnings) == 2
    assert re.match(r"^.+:8: network_constraints\.constraints\[0\]: not applied to grp3 "
                    r"\(in `except`\).*shapes nothing", warnings[0]), warnings[0]
    assert re.match(r"^.+:9: network_constraints\.constraints\[1\]: not applied to grp3 "
                    r"\(in `except`\)", warnings[1]), warnings[1]
    assert "shapes nothing" not in warnings[1]


def test_constraint_outside_groups_is_not_applied(tmp_path):
    topo = load_topology(write(tmp_path, FOUR_SITES + (
        "  default_delay: 10ms\n"
        "  groups: [grp1, grp2]\n"
        "  constraints:\n"
        "    - {src: grp3, dst: grp4, delay: 30ms, symmetric: true}\n")))
    assert sorted(topo.links()) == [("grp1", "grp2"), ("grp2", "grp1")]
    assert {l.delay_us for l in topo.links().values()} == {10000}
    (warning,) = [w for w in topo.warnings if "not applied" in w]
    assert re.match(r"^.+:8: network_constraints\.constraints\[0\]: not applied to grp3 \(not in "
                    r"`groups`\), grp4 \(not in `groups`\)", warning), warning


def test_constraints_on_one_pair_merge_field_by_field(tmp_path):
    links = links_of(tmp_path, (
        "  default_delay: 10ms\n"
        "  default_rate: 100mbit\n"
        "  groups: [grp1, grp2]\n"
        "  constraints:\n"
        "    - {src: grp1, dst: grp2, delay: 50ms}\n"
        "    - {src: grp1, dst: grp2, loss: 1%}\n"
        "    - {src: grp2, dst: grp1, rate: 1gbit, symmetric: true}\n"))
    assert links[("grp1", "grp2")].as_dict() == {
        "delay_us": 50000, "jitter_us": 0, "rate_bps": 10 ** 9, "loss_pct": 1.0, "network": None,
        "origin": "constraints[0]+constraints[1]+constraints[2]"}
    assert links[("grp2", "grp1")].as_dict() == {
        "delay_us": 10000, "jitter_us": 0, "rate_bps": 10 ** 9, "loss_pct": None, "network": None,
        "origin": "constraints[2]"}


def test_src_equal_dst_shapes_traffic_inside_the_site(tmp_path):
    links = links_of(tmp_path, (
        "  default_delay: 10ms\n"
        "  groups: [grp1, grp2]\n"
        "  constraints:\n"
        "    - {src: grp2, dst: grp2, delay: 2ms, rate: 1gbit}\n"))
    assert sorted(links) == [("grp1", "grp2"), ("grp2", "grp1"), ("grp2", "grp2")]
    assert (links[("grp2", "grp2")].delay_us, links[("grp2", "grp2")].rate_bps) == (2000, 10 ** 9)
    assert links[("grp2", "grp1")].delay_us == 10000


def test_iter_links_by_source_matches_the_whole_matrix(tmp_path):
    topo = load_topology(write(tmp_path, FOUR_SITES + (
        "  default_delay: 10ms\n"
        "  constraints:\n"
        "    - {src: grp1, dst: 'grp[2-4]', delay: 20ms, symmetric: true}\n"
        "    - {src: grp3, dst: grp3, loss: 1%}\n")))
    whole = topo.links()
    for site in topo.sites:
        assert expand_links(topo.constraints, [site]) == OrderedDict(
            (pair, link) for pair, link in whole.items() if pair[0] == site)


def test_unset_fields_fall_back_to_defaults(tmp_path):
    links = links_of(tmp_path, (
        "  default_delay: 10ms\n"
        "  default_jitter: 1ms\n"
        "  default_rate: 100mbit\n"
        "  default_loss: 0.5%\n"
        "  default_network: network_interface\n"
        "  groups: [grp1, grp2]\n"
        "  constraints:\n"
        "    - {src: grp1, dst: grp2, rate: 10mbps}\n"))
    assert links[("grp1", "grp2")].as_dict() == {
        "delay_us": 10000, "jitter_us": 1000, "rate_bps": 8 * 10 ** 7, "loss_pct": 0.5,
        "network": "network_interface", "origin": "constraints[0]"}


def test_enable_false_gives_no_links(tmp_path):
    topo = load_topology(write(tmp_path, FOUR_SITES + (
        "  enable: false\n"
        "  default_delay: 10ms\n"
        "  constraints:\n"
        "    - {src: grp1, dst: grp2, delay: 50ms}\n")))
    assert topo.links() == {}
    assert topo.constraints["enabled"] is False


def test_nothing_to_shape_is_left_out(tmp_path):
    assert links_of(tmp_path, "  default_delay: 0ms\n  default_loss: 0\n") == {}
    links = links_of(tmp_path, (
        "  default_delay: 10ms\n"
        "  groups: [grp1, grp2]\n"
        "  constraints:\n"
        "    - {src: grp1, dst: grp2, delay: 0ms}\n"))
    assert list(links) == [("grp2", "grp1")]


def test_expand_links_for_some_sources(tmp_path):
    topo = load_topology(write(tmp_path, FOUR_SITES + (
        "  default_delay: 10ms\n"
        "  constraints:\n"
        "    - {src: grp1, dst: grp2, delay: 20ms, symmetric: true}\n")))
    mine = expand_links(topo.constraints, sources=["grp2"])
    assert mine == dict((pair, link) for pair, link in topo.links().items() if pair[0] == "grp2")
    assert sorted(mine) == [("grp2", "grp1"), ("grp2", "grp3"), ("grp2", "grp4")]
    assert mine[("grp2", "grp1")].delay_us == 20000 and mine[("grp2", "grp3")].delay_us == 10000


def test_no_network_constraints_no_links(tmp_path):
    assert load_topology(write(tmp_path, FOUR_SITES.replace("network_constraints:\n", ""))).links() == {}


# --------------------------------------------------------------------------- bad files

BAD = [
    # fixture, line, key, in the problem, in the fix
    ("unknown-top-level-key.yaml", 5, "network_constraint", "unknown key", "`network_constraints`"),
    ("unknown-group.yaml", 13, "network_constraints.constraints[0].dst", "group 'grp3' does not exist",
     r"grp[12]"),
    ("malformed-range.yaml", 6, "topology.grp[4-2]", "malformed range", "2-4"),
    ("negative-number.yaml", 10, "network_constraints.default_delay", "negative", r"\d+ms"),
    ("unitless-number.yaml", 10, "network_constraints.default_delay", "no unit", "10ms"),
    ("zero-machines.yaml", 2, "resources", "zero machines", "at least one"),
    ("count-not-integer.yaml", 6, "topology.grp1.paravance.compute", "1.5 is not an integer",
     "whole number"),
    ("yaml-syntax.yaml", 4, "(file)", "YAML syntax error", "indentation"),
    ("duplicate-key.yaml", 6, "compute", "duplicate key (first at line 5)", "keep one `compute:`"),
    ("unknown-provider.yaml", 3, "provider.type", "unknown provider 'vagrnt'", "`vagrant`"),
    ("unknown-registry-type.yaml", 5, "registry.type", "unknown registry type 'intern'", "`internal`"),
    ("external-registry-without-ip.yaml", 5, "registry.ip", "needs its `ip`", "ip: "),
    ("unknown-placement.yaml", 6, "placement.registry", "'compute-3' is neither a host",
     r"compute-[12]"),
    # names that would merge with a group of the inventory, or are not names at all
    ("name-site-like-role.yaml", 4, "topology.bench", "also a role of this topology", "site-bench"),
    ("name-site-all.yaml", 4, "topology.all", "Ansible's own group", "site-all"),
    ("name-role-enos-group.yaml", 4, "resources.enos_registry", "edge.enos's group",
     "rename the role"),
    ("name-cluster-like-kolla-group.yaml", 4, "topology.grp1.storage", "Kolla's group",
     "cluster-storage"),
    ("name-null-key.yaml", 4, "topology.None", "a null key cannot name a site", "name"),
    ("name-boolean-key.yaml", 4, "resources.True", "the boolean true", "quote it"),
    ("name-trailing-space.yaml", 4, "topology.grp2\\x20", "leading or trailing whitespace",
     "letters, digits"),
    ("name-control-character.yaml", 4, "topology.grp\\x1b2", "control character", "letters"),
    ("name-non-ascii-digits.yaml", 4, "topology.grp[\u0662-\u0663]", "digits 0-9", "grp\\[2-4\\]"),
    ("name-list-key.yaml", 4, "(file)", "a list is used as a key", "name: value"),
    # static hosts
    ("static-duplicate-alias.yaml", 7, "resources.compute[0]",
     "alias 'node-1' already names another host (line 5: 192.0.2.10)", "its own alias"),
    ("static-without-addresses.yaml", 3, "topology", "needs the address of every machine",
     "address: "),
    ("static-bad-port.yaml", 5, "resources.control[0].port", "70000 is not a TCP port", "65535"),
    # bounds: refused before the memory or the time is spent
    ("bounds-range.yaml", 3, "topology.grp[1-1000000000]", "more than 10000 names", "split"),
    ("bounds-count.yaml", 3, "resources.compute", "more than 100000 machines", "at most 100000"),
    ("bounds-too-many-sites.yaml", 4, "topology.site[1-2500]", "more than 2000 sites",
     "at most 2000"),
    ("bounds-alias-bomb.yaml", 7, "(file)", "expands to more than 200000 values", "aliases"),
    ("bounds-deep.yaml", 3, "(file)", "nests deeper than 40 levels", "flatten"),
    ("bounds-recursive-alias.yaml", 3, "(file)", "a recursive structure", "write the value out"),
    ("bounds-delay.yaml", 6, "network_constraints.default_delay", "below 1us", "at least 1us"),
    ("bounds-absurd-delay.yaml", 8, "network_constraints.constraints[0].delay",
     "above the limit of 60s", "at most 60s"),
    # EnOS 8's `enos new -p static` leaves the machines to describe: no addresses, no machines
    ("enos8-new-static.yaml", 17, "resources", "still holds the placeholder '<refer to the doc",
     "enos new -p static"),
]


@pytest.mark.parametrize("name, line, key, problem, fix", BAD, ids=[b[0] for b in BAD])
def test_bad_file_refused_with_line_key_and_fix(name, line, key, problem, fix):
    path = fixture("bad", name)
    got = only_problem(path)
    assert got[:3] == (path, line, key)
    assert problem in got[3]
    assert re.search(fix, got[4]), got


def test_non_utf8_file_refused_with_line_key_and_fix(non_utf8_file):
    got = only_problem(non_utf8_file)
    assert got[:3] == (non_utf8_file, 4, "(file)")
    assert "not UTF-8 text (byte 0xe9" in got[3]
    assert "UTF-8" in got[4], got


def test_every_bad_fixture_is_covered():
    listed = {b[0] for b in BAD} | {"several-problems.yaml"}
    assert set(os.listdir(os.path.join(FIXTURES, "bad"))) == listed


def test_several_problems_all_reported():
    path = fixture("bad", "several-problems.yaml")
    got = dict(((line, key), (problem, fix)) for _path, line, key, problem, fix in problems_of(path))
    assert set(got) == {
        (8, "topology.grp2.paravance.compute"),
        (10, "registry.type"),
        (12, "network_constraints.default_delay"),
        (15, "network_constraints.constraints[0].dst"),
        (17, "enable_monitorin"),
    }
    assert "not an integer" in got[(8, "topology.grp2.paravance.compute")][0]
    assert "`internal`" in got[(10, "registry.type")][1]
    assert "no unit" in got[(12, "network_constraints.default_delay")][0]
    assert "'grp9' does not exist" in got[(15, "network_constraints.constraints[0].dst")][0]
    assert "`enable_monitoring`" in got[(17, "enable_monitorin")][1]


def test_every_duplicate_key_reported(tmp_path):
    path = write(tmp_path, "resources:\n  control: 1\n  control: 2\nregistry: {type: none}\nregistry: {}\n")
    got = [(problem[1], problem[2]) for problem in problems_of(path)]
    assert got == [(3, "control"), (5, "registry")]


@pytest.mark.parametrize("text, line, key", [
    ("resources:\n  control: -1\n", 2, "resources.control"),
    ("resources:\n  compute: two\n", 2, "resources.compute"),
    ("resources:\n  compute: true\n", 2, "resources.compute"),
    ("resources:\n  paravance:\n    control: 1\n    compute: 1.5\n", 4, "resources.paravance.compute"),
    ("resources:\n  control: 1\nnetwork_constraints:\n  default_rate: 0\n", 4,
     "network_constraints.default_rate"),
    ("resources:\n  control: 1\nnetwork_constraints:\n  default_rate: 100\n", 4,
     "network_constraints.default_rate"),
    ("resources:\n  control: 1\nnetwork_constraints:\n  default_loss: -1%\n", 4,
     "network_constraints.default_loss"),
    ("resources:\n  control: 1\nnetwork_constraints:\n  default_rate: 10 parsecs\n", 4,
     "network_constraints.default_rate"),
    ("resources:\n  control: 1\nregistry:\n  type: internal\n  port: 70000\n", 5, "registry.port"),
    ("resources:\n  control: 1\nnetwork_constraints:\n  default_dealy: 10ms\n", 4,
     "network_constraints.default_dealy"),
    ("topology:\n  grp1: {c: {control: 1}}\nnetwork_constraints:\n  constraints:\n"
     "    - {src: grp1, dst: grp1, dealy: 1ms}\n", 5, "network_constraints.constraints[0].dealy"),
    ("topology:\n  grp1: {c: {control: 1}}\nnetwork_constraints:\n  constraints:\n"
     "    - {src: 'grp[a-b]', dst: grp1, delay: 1ms}\n", 5, "network_constraints.constraints[0].src"),
])
def test_more_bad_inputs(tmp_path, text, line, key):
    path = write(tmp_path, text)
    got = only_problem(path)
    assert got[:3] == (path, line, key)


def test_provider_given_as_a_name_is_located(tmp_path):
    path = write(tmp_path, "provider: vagrnt\nresources:\n  control: 1\n")
    got = only_problem(path)
    assert got[:3] == (path, 1, "provider.type")
    assert "`vagrant`" in got[4]


def test_placement_that_is_not_a_name_is_refused(tmp_path):
    path = write(tmp_path, "resources:\n  control: 1\nplacement:\n  registry: [control-1]\n")
    got = only_problem(path)
    assert got[:3] == (path, 4, "placement.registry")


def test_missing_file_is_a_topology_error(tmp_path):
    with pytest.raises(TopologyError, match="cannot read the file"):
        load_topology(str(tmp_path / "nope.yaml"))


def test_oversized_file_refused_before_it_is_read(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_text("resources: {control: 1}\n" + "# padding\n" * (5 * 2 ** 20 // 10))
    (_path, line, key, problem, fix), = problems_of(str(path))
    assert (line, key) == (1, "(file)")
    assert "larger than 4 MiB" in problem and "ranges" in fix
