"""edge.enos.topology through the real ansible-inventory command."""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
LOCAL = os.path.join(ROOT, "inventories", "local.yml")


def inventory(source, env_dir, *args):
    env = dict(os.environ, ENOS_ENV=str(env_dir), ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"))
    env.pop("ANSIBLE_INVENTORY", None)
    return subprocess.run([os.path.join(BIN, "ansible-inventory"), "-i", str(source)] + list(args),
                          env=env, cwd=ROOT, capture_output=True, text=True, check=False, timeout=120)


def listed(source, env_dir, *args):
    """`ansible-inventory --list`, whose values must be plain as a static YAML inventory's."""
    result = inventory(source, env_dir, "--list", *args)
    assert result.returncode == 0, result.stderr
    assert "__ansible_unsafe" not in result.stdout
    return json.loads(result.stdout)


def members(data, group):
    return data.get(group, {}).get("hosts", [])


def provider_state(env_dir, router=False, topology=LOCAL):
    """A provider's resource state for the local topology, with the copy of the topology the
    environment was made from (as `enos` and the providers keep it)."""
    shutil.copyfile(str(topology), str(env_dir / "topology.yml"))
    hosts = [{"name": name, "address": "10.201.%d.%d" % (site, 10 + i),
              "interfaces": {"network_interface": {"device": "eth0",
                                                   "address": "10.201.%d.%d" % (site, 10 + i)}}}
             for i, (name, site) in enumerate([("grp1-control-1", 1), ("grp1-network-1", 1),
                                               ("grp2-compute-1", 2), ("grp2-compute-2", 2),
                                               ("grp3-compute-1", 3)])]
    state = {"version": 1, "environment": "enos-test", "provider": "local",
             "ssh": {"user": "root", "private_key": str(env_dir / "id_ed25519")},
             "networks": [{"name": "enos-test-grp1", "site": "grp1", "cidr": "10.201.1.0/24"}],
             "hosts": hosts}
    if router:
        state["router"] = {"kind": "uml", "name": "enos-test-wan", "ssh": {"address": "10.199.0.2"},
                           "interfaces": {"grp1": {"device": "vec0", "address": "10.201.1.254"}}}
    (env_dir / "resources.json").write_text(json.dumps(state))
    return state


def test_graph_shows_role_site_kolla_and_service_groups(tmp_path):
    result = inventory(LOCAL, tmp_path, "--graph")
    assert result.returncode == 0, result.stderr
    for group in ("@control:", "@compute:", "@network:", "@storage:", "@monitoring:",
                  "@deployment:", "@baremetal:", "@grp1:", "@grp2:", "@grp3:", "@enos_registry:",
                  "@enos_influx:", "@enos_grafana:", "@enos_bench:"):
        assert group in result.stdout


def test_planned_hosts_have_no_address_before_provisioning(tmp_path):
    data = listed(LOCAL, tmp_path)
    hostvars = data["_meta"]["hostvars"]
    assert sorted(hostvars) == ["grp1-control-1", "grp1-network-1", "grp2-compute-1",
                                "grp2-compute-2", "grp3-compute-1"]
    assert all("ansible_host" not in v for v in hostvars.values())
    assert hostvars["grp2-compute-2"]["enos_site"] == "grp2"
    assert hostvars["grp2-compute-2"]["enos_roles"] == ["compute"]
    assert members(data, "compute") == ["grp2-compute-1", "grp2-compute-2", "grp3-compute-1"]
    assert members(data, "enos_registry") == ["grp1-control-1"]


def test_provider_state_gives_addresses_keys_and_router(tmp_path):
    provider_state(tmp_path, router=True)
    data = listed(LOCAL, tmp_path)
    hostvars = data["_meta"]["hostvars"]
    assert hostvars["grp2-compute-1"]["ansible_host"] == "10.201.2.12"
    assert hostvars["grp2-compute-1"]["ansible_user"] == "root"
    assert hostvars["grp2-compute-1"]["ansible_ssh_private_key_file"] == str(tmp_path / "id_ed25519")
    assert hostvars["grp2-compute-1"]["enos_interfaces"]["network_interface"]["device"] == "eth0"
    assert members(data, "enos_wan_router") == ["enos-test-wan"]
    assert hostvars["enos-test-wan"]["ansible_host"] == "10.199.0.2"
    assert hostvars["enos-test-wan"]["enos_router_interfaces"]["grp1"]["device"] == "vec0"
    # the router is not a node: Kolla and the node roles must not see it
    assert "enos-test-wan" not in members(data, "baremetal")


def test_all_vars_carry_the_compact_constraints(tmp_path):
    data = listed(LOCAL, tmp_path)
    all_vars = data["_meta"]["hostvars"]["grp3-compute-1"]
    constraints = all_vars["enos_network_constraints"]
    assert constraints["members"] == ["grp1", "grp2", "grp3"]
    assert constraints["default"]["delay_us"] == 25000
    assert all_vars["enos_env_dir"] == str(tmp_path)
    assert all_vars["enos_registry"]["type"] == "internal"
    assert all_vars["enos_kolla"]["enable_keystone"] == "yes"


def test_links_filter_expands_one_site(tmp_path):
    env = dict(os.environ, ENOS_ENV=str(tmp_path), ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"))
    result = subprocess.run(
        [os.path.join(BIN, "ansible"), "-i", LOCAL, "grp3-compute-1", "-c", "local", "-m",
         "ansible.builtin.debug", "-a",
         "msg={{ enos_network_constraints | edge.enos.links(sources=enos_site) | to_json }}"],
        env=env, cwd=ROOT, capture_output=True, text=True, check=False, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    payload = result.stdout[result.stdout.index("["):result.stdout.rindex("]") + 1]
    links = json.loads(payload.replace("\\\"", "\""))
    by_dst = dict((link["dst"], link) for link in links)
    assert sorted(by_dst) == ["grp1", "grp2"]
    assert by_dst["grp1"]["delay_us"] == 60000 and by_dst["grp1"]["rate_bps"] == 50000000
    assert by_dst["grp2"]["delay_us"] == 25000 and by_dst["grp2"]["origin"] == "default"


def test_reservation_option_reads_an_enos_file_and_keyed_groups(tmp_path):
    shutil.copy(os.path.join(ROOT, "tests", "fixtures", "enos", "tutorial-topology.yaml"),
                tmp_path / "reservation.yaml")
    source = tmp_path / "inventory.yml"
    source.write_text("plugin: edge.enos.topology\nreservation: reservation.yaml\n"
                      "keyed_groups:\n  - key: enos_cluster\n    prefix: cluster\n"
                      "compose:\n  enos_label: enos_site ~ '-' ~ enos_roles[0]\n")
    data = listed(source, tmp_path)
    assert members(data, "grp2") == ["grp2-compute-1"]
    assert sorted(members(data, "cluster_paravance")) == ["grp1-control-1", "grp1-network-1",
                                                          "grp2-compute-1"]
    assert data["_meta"]["hostvars"]["grp1-network-1"]["enos_label"] == "grp1-network"


def test_invalid_topology_is_reported_with_file_and_line(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("plugin: edge.enos.topology\ntopology:\n  grp1: {local: {control: 1}}\n"
                   "network_constraints:\n  constraints:\n    - {src: grp1, dst: grp7, delay: 5ms}\n")
    result = inventory(bad, tmp_path, "--list")
    assert "%s:6: network_constraints.constraints[0].dst: group 'grp7' does not exist" % bad \
        in result.stderr
    assert "Traceback" not in result.stderr


def test_cache_is_refreshed_when_the_provider_state_changes(tmp_path):
    source = tmp_path / "cached.yml"
    shutil.copy(LOCAL, source)
    with open(source, "a") as handle:
        handle.write("cache: true\ncache_plugin: ansible.builtin.jsonfile\n"
                     "cache_connection: %s\ncache_timeout: 3600\n" % (tmp_path / "cache"))
    first = listed(source, tmp_path)
    assert "ansible_host" not in first["_meta"]["hostvars"]["grp1-control-1"]
    assert os.listdir(tmp_path / "cache"), "the plugin wrote no cache entry"
    provider_state(tmp_path, topology=source)
    second = listed(source, tmp_path)
    assert second["_meta"]["hostvars"]["grp1-control-1"]["ansible_host"] == "10.201.1.10"


@pytest.mark.parametrize("name", ["static.yaml", "grid5000-machines.yaml", "vmong5k.yaml"])
def test_enos_forms_as_inventory(tmp_path, name):
    shutil.copy(os.path.join(ROOT, "tests", "fixtures", "enos", name), tmp_path / "reservation.yaml")
    source = tmp_path / "inventory.yml"
    source.write_text("plugin: edge.enos.topology\nreservation: reservation.yaml\n")
    data = listed(source, tmp_path)
    assert members(data, "control"), data
    if name == "static.yaml":
        hostvars = data["_meta"]["hostvars"]
        assert hostvars["enos-0"]["ansible_host"] == "192.0.2.10"
        assert hostvars["enos-0"]["ansible_ssh_private_key_file"] == "keys/enos-0"
        assert members(data, "network") == ["enos-0"]


def test_state_of_another_topology_is_ignored_with_a_warning(tmp_path):
    provider_state(tmp_path, router=True)
    other = tmp_path / "other.yml"
    shutil.copy(LOCAL, other)
    with open(other, "a") as handle:
        handle.write("# another experiment, same host names\n")
    result = inventory(other, tmp_path, "--list")
    assert result.returncode == 0, result.stderr
    hostvars = json.loads(result.stdout)["_meta"]["hostvars"]
    assert all("ansible_host" not in v for v in hostvars.values())
    assert "enos-test-wan" not in hostvars
    warning = " ".join(result.stderr.split())
    assert "%s: not used for %s" % (tmp_path / "resources.json", other) in warning
    assert "was made from %s" % (tmp_path / "topology.yml") in warning
    # the same state without the environment's copy of its topology cannot be tied to any file
    os.unlink(str(tmp_path / "topology.yml"))
    result = inventory(LOCAL, tmp_path, "--list")
    assert "ansible_host" not in json.loads(result.stdout)["_meta"]["hostvars"]["grp1-control-1"]
    assert "keeps no copy of its topology" in " ".join(result.stderr.split())


def test_state_of_the_environment_own_copy_is_used(tmp_path):
    provider_state(tmp_path)
    source = tmp_path / "inventory.yml"
    source.write_text("plugin: edge.enos.topology\nreservation: topology.yml\n")
    data = listed(source, tmp_path)
    assert data["_meta"]["hostvars"]["grp1-control-1"]["ansible_host"] == "10.201.1.10"


def test_everything_enos_check_accepts_the_plugin_accepts(tmp_path):
    fixtures = os.path.join(ROOT, "tests", "fixtures", "enos")
    paths = sorted(glob.glob(os.path.join(fixtures, "*.yaml")) +
                   glob.glob(os.path.join(fixtures, "*", "*.yaml")))
    assert len(paths) >= 20
    sources = []
    for number, path in enumerate(paths):
        with open(path, "rb") as handle:
            text = handle.read()
        if b"plugin:" not in text:  # made an inventory source, after its `---` if it has one
            head, marker, rest = (b"\n" + text).partition(b"\n---\n")
            text = (head + marker + b"plugin: edge.enos.topology\n" + rest if marker
                    else b"plugin: edge.enos.topology\n" + text)
        source = tmp_path / ("%02d-%s" % (number, os.path.basename(path)))
        source.write_bytes(text)
        sources.append(str(source))
    env = dict(os.environ, ENOS_ENV=str(tmp_path / "env"),
               ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"),
               ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED="true")
    command = [os.path.join(BIN, "ansible-inventory"), "--list"]
    for source in sources:
        command += ["-i", source]
    result = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True,
                            check=False, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "__ansible_unsafe" not in result.stdout
    hostvars = json.loads(result.stdout)["_meta"]["hostvars"]
    # the static forms keep their connection settings
    connection = ("ansible_host", "ansible_user", "ansible_port", "ansible_ssh_private_key_file")
    assert {k: hostvars["edge-a"][k] for k in connection} == {
        "ansible_host": "192.0.2.10", "ansible_user": "debian", "ansible_port": 2222,
        "ansible_ssh_private_key_file": "~/.ssh/edge_a"}
    assert hostvars["ctl"]["ansible_port"] == 2200 and hostvars["ctl"]["ansible_user"] == "admin"
    assert hostvars["enos-2"]["ansible_host"] == "192.168.142.243"


@pytest.mark.parametrize("text, line, message", [
    ("plugin: edge.enos.topology\nresources: {control: 1}\nkolla: {x: \xe9}\n", 3,
     "not UTF-8 text"),
    ("plugin: edge.enos.topology\nresources: {control: 1}\nkeyed_groups: 5\n", 1,
     "plugin options"),
    ("plugin: edge.enos.topology\ntopology:\n  all: {local: {compute: 1}}\n", 3,
     "Ansible's own group"),
])
def test_plugin_errors_carry_file_and_line(tmp_path, text, line, message):
    source = tmp_path / "bad.yml"
    source.write_bytes(text.encode("latin-1"))
    result = inventory(source, tmp_path, "--list")
    error = " ".join(result.stderr.split())
    assert "%s:%d: " % (source, line) in error, result.stderr
    assert message in error
    assert "Traceback" not in result.stderr
