"""The engine installed by edge.enos.docker, checked on the converged containers."""

import json




def _info(host):
    out = host.run("docker info --format '{{json .}}'")
    assert out.rc == 0, out.stderr
    return json.loads(out.stdout)


def test_packages(host):
    for package in ("docker.io", "python3-docker", "python3-dbus"):
        assert host.package(package).is_installed, package


def test_service_enabled_and_running(host):
    docker = host.service("docker")
    assert docker.is_enabled
    assert docker.is_running


def test_engine_configuration(host):
    info = _info(host)
    assert info["Driver"] == "overlay2"
    assert info["LoggingDriver"] == "json-file"
    daemon = json.loads(host.file("/etc/docker/daemon.json").content_string)
    assert daemon["iptables"] is False and daemon["bridge"] == "none"
    assert daemon["log-opts"] == {"max-size": "50m", "max-file": "3"}
    # the registry node's address, as the engine itself reports it
    registry = daemon["insecure-registries"][0].split(":")[0]
    assert daemon["insecure-registries"] == [f"{registry}:5000", f"{registry}:5001"]
    assert daemon["registry-mirrors"] == [f"http://{registry}:5001"]
    assert info["RegistryConfig"]["Mirrors"] == [f"http://{registry}:5001/"]
    insecure = {name for name, index in info["RegistryConfig"]["IndexConfigs"].items() if not index["Secure"]}
    assert {f"{registry}:5000", f"{registry}:5001"} <= insecure


def test_registry_is_docker_a(host):
    daemon = json.loads(host.file("/etc/docker/daemon.json").content_string)
    registry = daemon["insecure-registries"][0].split(":")[0]
    # the address docker-a has on the engine's network is the one every node was given
    ping = host.run("fping -c1 -t500 %s", registry)
    assert ping.rc == 0, ping.stderr
    if host.backend.get_hostname() == "docker-a":
        assert registry in host.interface.default().addresses


def test_run_is_shared(host):
    assert host.run("findmnt -no PROPAGATION /run").stdout.strip() == "shared"
    assert host.file("/etc/systemd/system/docker.service.d/edge-enos-shared-run.conf").exists


def test_python_sdk_talks_to_engine(host):
    out = host.run("python3 -c 'import docker; print(docker.from_env().version()[\"Version\"])'")
    assert out.rc == 0, out.stderr
    assert out.stdout.strip() == _info(host)["ServerVersion"]


def test_engine_stores_images(host):
    """An image imported from a tarball lands in the engine's overlay2 store."""
    out = host.run(
        "tar -C /etc -c hostname | docker import - edge-enos-test/imported:1 >/dev/null"
        " && docker image inspect --format '{{.RootFS.Type}}' edge-enos-test/imported:1"
        " && docker rmi edge-enos-test/imported:1 >/dev/null")
    assert out.rc == 0, out.stderr
    assert out.stdout.strip() == "layers"


def test_privileged_containers_start_in_a_nested_engine(host):
    """The node is a container whose bounding set lacks capabilities: without the runtime
    wrapper, `docker run --privileged` and `docker exec` into such a container fail with
    "unable to apply caps"."""
    bounding = int(host.file("/proc/1/status").content_string.split("CapBnd:")[1].split()[0], 16)
    last = int(host.file("/proc/sys/kernel/cap_last_cap").content_string)
    daemon = json.loads(host.file("/etc/docker/daemon.json").content_string)
    if bounding == 2 ** (last + 1) - 1:
        assert "default-runtime" not in daemon
        return
    assert daemon["default-runtime"] == "runc-capfilter"
    # started, then entered by `docker exec` (as Kolla does to compare configurations)
    out = host.run("tar -C / -ch usr/bin/true usr/bin/sleep lib64/ld-linux-x86-64.so.2"
                   " lib/x86_64-linux-gnu/libc.so.6"
                   " | docker import - edge-enos-test/priv:1 >/dev/null"
                   " && docker run -d --name edge-enos-priv --privileged --entrypoint /usr/bin/sleep"
                   " edge-enos-test/priv:1 300 >/dev/null"
                   " && docker exec edge-enos-priv /usr/bin/true"
                   " ; rc=$? ; docker rm -f edge-enos-priv >/dev/null 2>&1;"
                   " docker rmi edge-enos-test/priv:1 >/dev/null; exit $rc")
    assert out.rc == 0, out.stderr
