# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a deployed OpenStack offers, read from its APIs (used by `enos info`).

Needs openstacksdk (the controller's virtualenv has it). Pure reads: the catalog's services and
endpoints, the availability zones with their compute hosts, and the nova-compute services.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type


def cloud_summary(clouds_yaml, cloud="kolla-admin", timeout=20):
    """{"services": [{type, name, endpoints: {interface: url}}], "zones": {zone: [hosts]},
    "computes": {"up": n, "down": n}} of the cloud, or {"error": reason} when it does not answer."""
    try:
        import openstack
        import openstack.config
        from keystoneauth1.exceptions import ClientException
    except ImportError as exc:
        return {"error": "openstacksdk is not installed (%s)" % exc}
    try:
        config = openstack.config.OpenStackConfig(config_files=[clouds_yaml])
        conn = openstack.connection.Connection(config=config.get_one(cloud), api_timeout=timeout)
        services = []
        endpoints = list(conn.identity.endpoints())
        for service in sorted(conn.identity.services(), key=lambda s: s.type):
            urls = dict((e.interface, e.url) for e in endpoints if e.service_id == service.id)
            services.append({"type": service.type, "name": service.name, "endpoints": urls})
        summary = {"services": services}
        if any(s["type"] == "compute" for s in services):
            zones = {}
            for aggregate in conn.compute.aggregates():
                if aggregate.availability_zone:
                    zones.setdefault(aggregate.availability_zone, []).extend(aggregate.hosts or [])
            summary["zones"] = dict((zone, sorted(hosts)) for zone, hosts in sorted(zones.items()))
            states = [s.state for s in conn.compute.services() if s.binary == "nova-compute"]
            summary["computes"] = {"up": states.count("up"), "down": len(states) - states.count("up")}
        return summary
    except (openstack.exceptions.SDKException, ClientException, OSError) as exc:
        return {"error": "%s: %s" % (type(exc).__name__, str(exc).splitlines()[0] if str(exc) else "")}


def summary_lines(summary):
    """The summary as the lines `enos info` prints."""
    if "error" in summary:
        return ["OpenStack: does not answer (%s)" % summary["error"]]
    lines = ["OpenStack services:"]
    for service in summary["services"]:
        url = service["endpoints"].get("public") or next(iter(service["endpoints"].values()), "-")
        lines.append("  %-16s %-12s %s" % (service["type"], service["name"], url))
    if "zones" in summary:
        computes = summary["computes"]
        lines.append("nova-compute services: %d up, %d down" % (computes["up"], computes["down"]))
        lines.append("availability zones:")
        for zone, hosts in summary["zones"].items():
            shown = ", ".join(hosts[:4]) + (", ... (%d hosts)" % len(hosts) if len(hosts) > 4 else "")
            lines.append("  %-10s %s" % (zone, shown or "(no host)"))
    return lines
