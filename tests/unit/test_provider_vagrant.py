"""Vagrant provider: the plan, the Vagrantfile (checked by `vagrant validate` for each backend),
the SSH configuration read back, and the provider keys refused before anything runs."""
import os
import shutil
import subprocess

import pytest

from ansible_collections.edge.enos.plugins.module_utils import provider_vagrant as pv
from ansible_collections.edge.enos.plugins.module_utils.provider_common import (
    ProviderError, devices_by_address, provider_problems)
from ansible_collections.edge.enos.plugins.module_utils.topology import parse_topology


def topology(**provider):
    data = {"provider": dict({"type": "vagrant", "subnet": "10.170.0.0/23"}, **provider),
            "topology": {"grp1": {"medium": {"control": 1}},
                         "grp2": {"small": {"compute": 2}}}}
    return parse_topology(data, "vagrant.yaml")


def test_plan_sizes_addresses_and_networks():
    planned = pv.plan(topology(), "enos-v1", "/env")
    assert [(m["name"], m["cpu"], m["mem"], m["ip1"], m["ip2"]) for m in planned["machines"]] == [
        ("grp1-control-1", 2, 2048, "10.170.0.10", "10.170.1.10"),
        ("grp2-compute-1", 1, 1024, "10.170.0.11", "10.170.1.11"),
        ("grp2-compute-2", 1, 1024, "10.170.0.12", "10.170.1.12")]
    mgmt, ext = planned["networks"]
    assert (mgmt["name"], mgmt["role"], mgmt["cidr"]) == ("enos-v1-mgmt", "network_interface",
                                                          "10.170.0.0/24")
    assert (ext["name"], ext["role"], ext["cidr"]) == ("enos-v1-ext", "neutron_external_interface",
                                                       "10.170.1.0/24")
    assert mgmt["free_ips"][0] == "10.170.0.200" and len(mgmt["free_ips"]) == 50
    assert planned["user"] == "vagrant" and planned["box"] == "generic/debian12"


def test_unknown_size_names_the_sizes():
    topo = parse_topology({"provider": {"type": "vagrant"},
                           "resources": {"huge": {"compute": 1}}}, "v.yaml")
    with pytest.raises(ProviderError, match=r"unknown Vagrant size 'huge' \(use one of: big, "):
        pv.plan(topo, "e", "/env")
    assert provider_problems(topo)[0][2] == "unknown Vagrant size 'huge'"
    extra = parse_topology({"provider": {"type": "vagrant", "sizes": {"huge": {"cpu": 8, "mem": 8192}}},
                            "resources": {"huge": {"compute": 1}}}, "v.yaml")
    assert pv.plan(extra, "e", "/env")["machines"][0]["cpu"] == 8


def test_bad_backend_is_refused():
    problems = provider_problems(topology(backend="vmware"))
    assert [(p[1], p[2]) for p in problems] == [("provider.backend", "unknown backend 'vmware'")]


def test_docker_vagrantfile_uses_the_environments_networks_key_and_labels():
    text = pv.render_vagrantfile(pv.plan(topology(backend="docker"), "enos-v1", "/env"))
    assert 'config.ssh.private_key_path = "/env/id_ed25519"' in text
    assert 'ip: "10.170.0.11", netmask: "255.255.255.0", name: "enos-v1-mgmt"' in text
    assert '"--label", "edge.enos.env=enos-v1"' in text
    assert 'd.image = "edge-enos/node:bookworm"' in text
    assert 'd.name = "enos-v1-grp2-compute-2"' in text
    assert pv.FORGET_NETWORKS_ENV in text


def test_ssh_config_and_devices_give_the_resource_state():
    planned = pv.plan(topology(backend="docker"), "enos-v1", "/env")
    ssh = pv.parse_ssh_config(
        "Host grp1-control-1\n  HostName 172.17.0.4\n  User root\n  Port 22\n"
        "  IdentityFile /env/id_ed25519\n\nHost grp2-compute-1\n  HostName 172.17.0.5\n"
        "  User root\n  Port 22\n  IdentityFile \"/env/id_ed25519\"\n"
        "Host grp2-compute-2\n  HostName 172.17.0.6\n  User root\n  Port 22\n"
        "  IdentityFile /env/id_ed25519\n")
    ip_out = ("1: lo    inet 127.0.0.1/8 scope host lo\n"
              "40: eth0    inet 172.17.0.%d/16 brd 172.17.255.255 scope global eth0\n"
              "42: eth1@if43    inet 10.170.0.%d/24 brd 10.170.0.255 scope global eth1\n"
              "44: eth2@if45    inet 10.170.1.%d/24 scope global eth2\n")
    devices = dict((m["name"], devices_by_address(ip_out % (4 + i, 10 + i, 10 + i)))
                   for i, m in enumerate(planned["machines"]))
    state = pv.resources(planned, ssh, devices)
    host = state["hosts"][1]
    assert host["address"] == "172.17.0.5" and host["user"] == "root" and host["port"] == 22
    assert host["interfaces"] == {
        "network_interface": {"device": "eth1", "address": "10.170.0.11", "network": "enos-v1-mgmt"},
        "neutron_external_interface": {"device": "eth2", "address": "10.170.1.11",
                                       "network": "enos-v1-ext"}}
    assert state["ssh"] == {"user": "root", "port": 22, "private_key": "/env/id_ed25519"}
    assert [n["roles"] for n in state["networks"]] == [["network_interface"],
                                                       ["neutron_external_interface"]]
    del devices["grp2-compute-2"]["10.170.1.12"]
    with pytest.raises(ProviderError, match=r"grp2-compute-2: address\(es\) 10.170.1.12 not "
                                            "configured"):
        pv.resources(planned, ssh, devices)


vagrant = pytest.mark.skipif(shutil.which("vagrant") is None,
                             reason="vagrant is not installed (scripts/setup.sh installs it)")


@vagrant
@pytest.mark.parametrize("backend", ["virtualbox", "libvirt", "docker"])
def test_vagrant_validates_the_generated_vagrantfile(tmp_path, backend):
    (tmp_path / "id_ed25519").write_text("not a key, but a file Vagrant can check exists\n")
    text = pv.render_vagrantfile(pv.plan(topology(backend=backend), "enos-v1", str(tmp_path)))
    (tmp_path / "Vagrantfile").write_text(text)
    env = dict(os.environ, VAGRANT_CHECKPOINT_DISABLE="1")
    proc = subprocess.run(["vagrant", "validate"], cwd=str(tmp_path), env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "validated successfully" in proc.stdout


@vagrant
def test_vagrant_validate_catches_a_broken_setting(tmp_path):
    text = pv.render_vagrantfile(pv.plan(topology(), "enos-v1", str(tmp_path)))
    (tmp_path / "Vagrantfile").write_text(text.replace("config.vm.box =", "config.vm.boxx ="))
    proc = subprocess.run(["vagrant", "validate"], cwd=str(tmp_path),
                          env=dict(os.environ, VAGRANT_CHECKPOINT_DISABLE="1"),
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode != 0 and "shouldn't exist: boxx" in proc.stdout + proc.stderr
