# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The OpenStack and Chameleon providers: plan, checks, apply and destroy with openstacksdk.

`plan()` is pure: names and what to create, from the topology (the topology's cluster or
flavour is the Nova flavor; on Chameleon bare metal it is the Blazar node type). `Cloud` applies
a plan through an openstack.connection.Connection: it finds each resource by name first (a
second `up` changes nothing), records the id of everything it creates, and `destroy` deletes
exactly those, newest first; what it found and did not create (an existing network, keypair,
external network) is never touched. `Blazar` reserves Chameleon's bare-metal nodes.
"""

from __future__ import absolute_import, division, print_function

import datetime
import difflib
import ipaddress
import json
import time

from ansible_collections.edge.enos.plugins.module_utils.provider_common import (
    DATE_RE, ProviderError, host_entry, resource_state, walltime_seconds)

__metaclass__ = type

DEFAULT_SUBNET = "10.87.0.0/24"
VIP_PORTS = 2
CHAMELEON_TYPES = ("chameleon", "chameleonbaremetal")


def plan(topo, environment, public_key=None, provider=None, private_key=None):
    """Everything to find or create, by name; pure."""
    provider = dict(topo.provider if provider is None else provider)
    prefix = str(provider.get("prefix") or environment)
    chameleon = provider.get("type") in CHAMELEON_TYPES
    network = provider.get("network")
    if isinstance(network, str):
        network = {"name": network}
    cidr = str(provider.get("subnet", DEFAULT_SUBNET))
    try:
        ipaddress.ip_network(cidr)
    except ValueError:
        raise ProviderError("provider.subnet: %r is not a network (write a cidr such as "
                            "10.87.0.0/24)" % cidr)
    # external_network: null on a cloud without a provider network: no router, no floating IP
    external = provider.get("external_network", "public")
    gateway = bool(provider.get("gateway", False)) and bool(external)
    floating = bool(provider.get("floating_ips", not gateway)) and bool(external)
    servers = []
    for host in topo.hosts:
        if not host.cluster:
            raise ProviderError("topology: host %s has no flavor (write `site: {m1.large: "
                                "{role: count}}`)" % host.name)
        servers.append({"host": host.name, "name": "%s-%s" % (prefix, host.name),
                        "flavor": "baremetal" if chameleon else host.cluster,
                        "node_type": host.cluster if chameleon else None})
    planned = {
        "environment": environment, "prefix": prefix, "chameleon": chameleon,
        "image": provider.get("image"), "user": provider.get("user"),
        "keypair": {"name": provider.get("key_name") or "%s-key" % prefix,
                    "create": not provider.get("key_name"), "public_key": public_key},
        "network": {"name": (network or {}).get("name") or "%s-net" % prefix,
                    "create": not network, "subnet": "%s-subnet" % prefix, "cidr": cidr,
                    "dns_nameservers": list(provider.get("dns_nameservers") or [])},
        "router": None if network or not external else {"name": "%s-router" % prefix},
        "external_network": external,
        "security_group": {"name": "%s-sg" % prefix,
                           "ssh_from": list(provider.get("allowed_networks") or ["0.0.0.0/0"])},
        "servers": servers, "floating_ips": floating, "gateway": gateway,
        "vip_ports": ["%s-vip-%d" % (prefix, i) for i in range(1, VIP_PORTS + 1)],
        "network_interface": provider.get("network_interface", "eth0"),
        "private_key": private_key,
    }
    if chameleon:
        planned["lease"] = lease_request(topo, provider)
    return planned


def lease_request(topo, provider, now=None):
    """Blazar's POST /v1/leases body: one physical:host reservation per node type."""
    seconds = walltime_seconds(provider.get("walltime"))
    start = provider.get("reservation") or None
    if start and not DATE_RE.match(str(start)):
        raise ProviderError("provider.reservation: %r is not a date (write 'YYYY-MM-DD HH:MM',"
                            " UTC, or false to start now)" % (start,))
    if start:
        begin = datetime.datetime.strptime(str(start)[:16], "%Y-%m-%d %H:%M")
    else:  # a minute ahead, so that the lease does not start in the past
        begin = (now or datetime.datetime.utcnow()) + datetime.timedelta(minutes=1)
    end = begin + datetime.timedelta(seconds=seconds)
    counts = {}
    for host in topo.hosts:
        counts[host.cluster] = counts.get(host.cluster, 0) + 1
    return {"name": provider.get("lease_name", "enos-lease"),
            "start_date": "now" if not start else begin.strftime("%Y-%m-%d %H:%M"),
            "end_date": end.strftime("%Y-%m-%d %H:%M"),
            "reservations": [{"resource_type": "physical:host", "min": n, "max": n,
                              "hypervisor_properties": "",
                              "resource_properties": json.dumps(["=", "$node_type", t])}
                             for t, n in sorted(counts.items())],
            "events": []}


class Blazar(object):
    """Leases through Blazar's REST API. request(method, path, body) -> (status, json)."""

    def __init__(self, request, poll=10.0, timeout=1800):
        self.request, self.poll, self.timeout = request, poll, timeout

    def find(self, name):
        status, body = self.request("GET", "/leases", None)
        if status >= 400:
            raise ProviderError("Blazar: listing leases failed (%s): %s" % (status, body))
        for lease in body.get("leases", []):
            ended = lease.get("status") in ("TERMINATED", "ERROR", "TERMINATING")
            if lease["name"] == name and not ended:
                return lease
        return None

    def ensure(self, request_body):
        """(lease, created): the running lease of that name, or a new one; waits for ACTIVE."""
        lease = self.find(request_body["name"])
        created = lease is None
        if created:
            status, body = self.request("POST", "/leases", request_body)
            if status >= 400:
                message = (body or {}).get("error_message") or body
                raise ProviderError("Blazar: lease %s refused (%s): %s%s" % (
                    request_body["name"], status, message,
                    " (fewer nodes, another node type or a later provider.reservation)"
                    if "not enough" in str(message).lower() or "quota" in str(message).lower()
                    else ""))
            lease = body["lease"]
        deadline = time.time() + self.timeout
        while lease.get("status") != "ACTIVE":
            if lease.get("status") in ("ERROR", "TERMINATED"):
                raise ProviderError("Blazar: lease %s is %s" % (lease["name"], lease["status"]))
            if time.time() > deadline:
                raise ProviderError("Blazar: lease %s still %s after %ds"
                                    % (lease["name"], lease.get("status"), self.timeout))
            time.sleep(self.poll)
            status, body = self.request("GET", "/leases/%s" % lease["id"], None)
            lease = body["lease"]
        return lease, created

    def delete(self, lease_id):
        status, body = self.request("DELETE", "/leases/%s" % lease_id, None)
        if status >= 400 and status != 404:
            raise ProviderError("Blazar: deleting lease %s failed (%s): %s"
                                % (lease_id, status, body))
        return status != 404


def reservation_ids(lease):
    """{node_type: reservation id} of a lease."""
    found = {}
    for reservation in lease.get("reservations", []):
        props = reservation.get("resource_properties") or "[]"
        try:
            node_type = json.loads(props)[2]
        except (ValueError, IndexError, TypeError):
            continue
        found[node_type] = reservation["id"]
    return found


class Cloud(object):
    """Applies a plan through an openstacksdk connection; `created` lists what it made."""

    def __init__(self, conn, created=None, timeout=1800, poll=3.0, log=None):
        self.conn, self.timeout, self.poll = conn, timeout, poll
        self.created = list(created or [])
        self.log = log or (lambda message: None)

    def _made(self, kind, resource):
        if not any(c["kind"] == kind and c["id"] == resource.id for c in self.created):
            self.created.append({"kind": kind, "id": resource.id, "name": resource.name})
        self.log("created %s %s" % (kind, resource.name))

    # checks before anything is created -----------------------------------
    def check(self, planned):
        problems = []
        flavors = dict((f.name, f) for f in self.conn.compute.flavors())
        for server in planned["servers"]:
            if server["flavor"] not in flavors:
                close = difflib.get_close_matches(server["flavor"], list(flavors), n=1)
                problems.append("unknown flavor %r for %s (%s)" % (
                    server["flavor"], server["host"], "did you mean %r?" % close[0] if close
                    else "flavors: %s" % ", ".join(sorted(flavors))))
                break
        if not planned["image"] or self.conn.image.find_image(planned["image"]) is None:
            problems.append("image %r not found (provider.image: an image of `openstack image "
                            "list`)" % planned["image"])
        if not planned["keypair"]["create"] and \
                self.conn.compute.find_keypair(planned["keypair"]["name"]) is None:
            problems.append("keypair %r not found (provider.key_name: one of `openstack keypair"
                            " list`, or leave it out to use the environment's key)"
                            % planned["keypair"]["name"])
        if not planned["network"]["create"] and \
                self.conn.network.find_network(planned["network"]["name"]) is None:
            problems.append("network %r not found (provider.network)" % planned["network"]["name"])
        if (planned["router"] or planned["floating_ips"] or planned["gateway"]) and \
                self.conn.network.find_network(planned["external_network"]) is None:
            problems.append("external network %r not found (provider.external_network)"
                            % planned["external_network"])
        if not problems:
            problems.extend(self.quota_problems(planned, flavors))
        if problems:
            raise ProviderError("; ".join(problems))

    def quota_problems(self, planned, flavors):
        existing = set(s.name for s in self.conn.compute.servers())
        new = [s for s in planned["servers"] if s["name"] not in existing]
        if not new:
            return []
        limits = self.conn.compute.get_limits().absolute
        need = {"instances": len(new),
                "cores": sum(flavors[s["flavor"]].vcpus for s in new),
                "ram": sum(flavors[s["flavor"]].ram for s in new)}
        have = {"instances": (limits.instances, limits.instances_used),
                "cores": (limits.total_cores, limits.total_cores_used),
                "ram": (limits.total_ram, limits.total_ram_used)}
        problems = []
        for what, (limit, used) in sorted(have.items()):
            if limit is not None and limit >= 0 and used + need[what] > limit:
                problems.append("quota: %d more %s needed, %d of %d used (ask for fewer or "
                                "smaller servers, or a larger quota)"
                                % (need[what], what, used, limit))
        return problems

    # up --------------------------------------------------------------------
    def ensure_keypair(self, planned):
        spec = planned["keypair"]
        found = self.conn.compute.find_keypair(spec["name"])
        if found is None and spec["create"]:
            found = self.conn.compute.create_keypair(name=spec["name"],
                                                     public_key=spec["public_key"])
            self._made("keypair", found)
        return found

    def ensure_network(self, planned):
        spec = planned["network"]
        net = self.conn.network.find_network(spec["name"])
        if net is None:
            net = self.conn.network.create_network(name=spec["name"])
            self._made("network", net)
        subnet = self.conn.network.find_subnet(spec["subnet"], network_id=net.id) \
            if spec["create"] else next(iter(self.conn.network.subnets(network_id=net.id)), None)
        if subnet is None and spec["create"]:
            subnet = self.conn.network.create_subnet(
                name=spec["subnet"], network_id=net.id, ip_version=4, cidr=spec["cidr"],
                dns_nameservers=spec["dns_nameservers"])
            self._made("subnet", subnet)
        if subnet is None:
            raise ProviderError("network %s has no subnet" % spec["name"])
        if planned["router"]:
            router = self.conn.network.find_router(planned["router"]["name"])
            if router is None:
                ext = self.conn.network.find_network(planned["external_network"])
                router = self.conn.network.create_router(
                    name=planned["router"]["name"],
                    external_gateway_info={"network_id": ext.id})
                self._made("router", router)
            attached = [p for p in self.conn.network.ports(device_id=router.id)
                        if any(ip.get("subnet_id") == subnet.id for ip in p.fixed_ips)]
            if not attached:
                self.conn.network.add_interface_to_router(router, subnet_id=subnet.id)
                self.created.append({"kind": "router_interface", "id": router.id,
                                     "name": router.name, "subnet_id": subnet.id})
        return net, subnet

    def ensure_security_group(self, planned, subnet):
        spec = planned["security_group"]
        group = self.conn.network.find_security_group(spec["name"])
        if group is not None:
            return group
        group = self.conn.network.create_security_group(
            name=spec["name"], description="edge.enos environment %s" % planned["environment"])
        self._made("security_group", group)
        rules = [dict(protocol="tcp", port_range_min=22, port_range_max=22, remote_ip_prefix=c)
                 for c in spec["ssh_from"]]
        rules += [dict(protocol="icmp", remote_ip_prefix="0.0.0.0/0"),
                  dict(protocol=None, remote_ip_prefix=subnet.cidr)]
        for rule in rules:
            self.conn.network.create_security_group_rule(
                security_group_id=group.id, direction="ingress", ethertype="IPv4", **rule)
        return group

    def ensure_vip_ports(self, planned, net):
        addresses = []
        for name in planned["vip_ports"]:
            port = self.conn.network.find_port(name, network_id=net.id)
            if port is None:
                port = self.conn.network.create_port(name=name, network_id=net.id)
                self._made("port", port)
            addresses.extend(ip["ip_address"] for ip in port.fixed_ips)
        return addresses

    def ensure_servers(self, planned, net, group, keypair, reservations=None):
        image = self.conn.image.find_image(planned["image"])
        servers = {}
        for spec in planned["servers"]:
            server = self.conn.compute.find_server(spec["name"])
            if server is None:
                flavor = self.conn.compute.find_flavor(spec["flavor"])
                extra = {}
                if reservations:
                    extra["scheduler_hints"] = {"reservation": reservations[spec["node_type"]]}
                server = self.conn.compute.create_server(
                    name=spec["name"], flavor_id=flavor.id, image_id=image.id,
                    key_name=keypair.name, networks=[{"uuid": net.id}],
                    security_groups=[{"name": group.name}],
                    metadata={"edge.enos.env": planned["environment"],
                              "edge.enos.host": spec["host"]}, **extra)
                self._made("server", server)
            servers[spec["host"]] = server
        for host, server in servers.items():
            servers[host] = self.conn.compute.wait_for_server(
                server, status="ACTIVE", failures=["ERROR"], interval=self.poll,
                wait=self.timeout)
        return servers

    def ensure_floating_ip(self, planned, server):
        ext = self.conn.network.find_network(planned["external_network"])
        ports = list(self.conn.network.ports(device_id=server.id))
        for fip in self.conn.network.ips(port_id=ports[0].id) if ports else []:
            return fip.floating_ip_address
        fip = self.conn.network.create_ip(floating_network_id=ext.id, port_id=ports[0].id)
        self.created.append({"kind": "floating_ip", "id": fip.id,
                             "name": fip.floating_ip_address})
        return fip.floating_ip_address

    def up(self, planned, blazar=None):
        self.check(planned)
        reservations, lease = None, None
        if planned["chameleon"]:
            lease, created = blazar.ensure(planned["lease"])
            if created:
                self.created.append({"kind": "lease", "id": lease["id"], "name": lease["name"]})
            reservations = reservation_ids(lease)
        keypair = self.ensure_keypair(planned)
        net, subnet = self.ensure_network(planned)
        group = self.ensure_security_group(planned, subnet)
        free_ips = self.ensure_vip_ports(planned, net)
        servers = self.ensure_servers(planned, net, group, keypair, reservations)
        return self.resources(planned, net, subnet, servers, free_ips)

    def resources(self, planned, net, subnet, servers, free_ips):
        hosts = []
        gateway_address = None
        for index, spec in enumerate(planned["servers"]):
            server = servers[spec["host"]]
            fixed = [a["addr"] for a in server.addresses.get(net.name, [])
                     if a.get("OS-EXT-IPS:type", "fixed") == "fixed"]
            if not fixed:
                raise ProviderError("server %s has no address on %s" % (server.name, net.name))
            address, proxy = fixed[0], None
            if planned["floating_ips"] or (planned["gateway"] and index == 0):
                address = self.ensure_floating_ip(planned, server)
                if index == 0:
                    gateway_address = address
            elif planned["gateway"]:
                proxy = "%s@%s" % (planned["user"], gateway_address)
            entry = host_entry(spec["host"], address, {"network_interface": (
                planned["network_interface"], fixed[0], net.name)}, proxy_jump=proxy)
            entry["server_id"] = server.id
            hosts.append(entry)
        networks = [{"name": net.name, "site": None, "roles": ["network_interface"],
                     "cidr": subnet.cidr, "gateway": subnet.gateway_ip, "free_ips": free_ips}]
        return resource_state(planned["environment"], "chameleon" if planned["chameleon"]
                              else "openstack",
                              dict({"user": planned["user"], "port": 22},
                                   **({"private_key": planned["private_key"]}
                                      if planned["private_key"] else {})),
                              networks, hosts, openstack={"created": self.created})

    # destroy ---------------------------------------------------------------
    def destroy(self, blazar=None):
        """Delete what `created` lists, newest first; returns what was deleted."""
        deleted = []
        servers = [c for c in self.created if c["kind"] == "server"]
        for entry in servers:
            server = self.conn.compute.get_server(entry["id"]) if self._exists(
                self.conn.compute.find_server, entry["id"]) else None
            if server is not None:
                self.conn.compute.delete_server(server)
                self.conn.compute.wait_for_delete(server, interval=self.poll, wait=self.timeout)
                deleted.append(entry)
        for entry in reversed(self.created):
            kind = entry["kind"]
            if kind == "server":
                continue
            if kind == "router_interface":
                router = self.conn.network.find_router(entry["id"])
                if router is not None:
                    self.conn.network.remove_interface_from_router(
                        router, subnet_id=entry["subnet_id"])
                    deleted.append(entry)
                continue
            if kind == "lease":
                if blazar is not None and blazar.delete(entry["id"]):
                    deleted.append(entry)
                continue
            finder, remover = {
                "floating_ip": (self.conn.network.find_ip, self.conn.network.delete_ip),
                "port": (self.conn.network.find_port, self.conn.network.delete_port),
                "security_group": (self.conn.network.find_security_group,
                                   self.conn.network.delete_security_group),
                "router": (self.conn.network.find_router, self.conn.network.delete_router),
                "subnet": (self.conn.network.find_subnet, self.conn.network.delete_subnet),
                "network": (self.conn.network.find_network, self.conn.network.delete_network),
                "keypair": (self.conn.compute.find_keypair, self.conn.compute.delete_keypair),
            }[kind]
            found = finder(entry["name"] if kind == "keypair" else entry["id"])
            if found is not None:
                remover(found)
                deleted.append(entry)
        self.created = []
        return deleted

    @staticmethod
    def _exists(finder, name_or_id):
        return finder(name_or_id) is not None

    def status(self, planned):
        found = {}
        for spec in planned["servers"]:
            server = self.conn.compute.find_server(spec["name"])
            found[spec["host"]] = server.status if server is not None else "absent"
        return found
