"""The registry set up by edge.enos.registry, checked on the converged containers."""

import json

import pytest


def _registry(host):
    # the endpoint the node's engine was given: reg-a's address and port 5000
    daemon = json.loads(host.file("/etc/docker/daemon.json").content_string)
    return daemon["insecure-registries"][0]


def _get(host, url):
    out = host.run("python3 -c 'import sys, urllib.request; r = urllib.request.urlopen(sys.argv[1], timeout=5);"
                   " print(r.status); print(r.read().decode())' %s", url)
    assert out.rc == 0, out.stderr
    status, body = out.stdout.split("\n", 1)
    return int(status), body


def test_every_node_uses_reg_a(host):
    endpoint = _registry(host)
    assert endpoint.endswith(":5000")
    daemon = json.loads(host.file("/etc/docker/daemon.json").content_string)
    if host.backend.get_hostname() == "reg-c":
        # external: the registry itself is the Docker Hub mirror, as in EnOS
        assert daemon["registry-mirrors"] == [f"http://{endpoint}"]
    else:
        address = endpoint.split(":")[0]
        assert daemon["registry-mirrors"] == [f"http://{address}:5001"]


def test_registry_answers_v2(host):
    status, body = _get(host, f"http://{_registry(host)}/v2/")
    assert status == 200
    assert json.loads(body) == {}


@pytest.mark.parametrize("unit, running", [("docker-registry", True), ("docker-registry-mirror", False)])
def test_services_on_reg_a(host, unit, running):
    if host.backend.get_hostname() != "reg-a":
        assert not host.exists("docker-registry") or not host.service(unit).is_running
        return
    service = host.service(unit)
    assert service.is_running is running
    assert service.is_enabled is running
    if running:
        assert host.socket("tcp://0.0.0.0:5000").is_listening or host.socket("tcp://:::5000").is_listening
    else:
        # installed, ready for when the upstream answers, but not started
        assert host.file("/etc/docker/registry/mirror.yml").contains("remoteurl: http://127.0.0.1:9")


def test_registry_config(host):
    if host.backend.get_hostname() != "reg-a":
        pytest.skip("the registry runs on reg-a only")
    config = host.file("/etc/docker/registry/config.yml")
    assert config.contains('addr: ":5000"')
    assert not config.contains("htpasswd")
    assert host.file("/var/lib/docker-registry").user == "docker-registry"
