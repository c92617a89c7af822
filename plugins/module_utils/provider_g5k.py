# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Grid'5000 provider: OAR jobs, kadeploy deployments, KaVLAN, subnets, resource state.

One job per Grid'5000 site, holding every cluster of that site the topology asks for
(`{cluster='paravance'}/nodes=2+...`), named `provider.job_name`; a running or waiting job of
that name is reused, as EnOS did. KaVLAN (`provider.kavlan: true`) adds a VLAN for the API
network (nodes deployed into it) and one for Neutron's external network (the second interface
put into it). A `slash_22` subnet is reserved with every job: its addresses are the free IPs
(VIPs) of the resource state. Everything here talks to the API through a python-grid5000 client
given by the caller, so that the same code runs against Grid'5000 and against a test double.
"""

from __future__ import absolute_import, division, print_function

import difflib
import ipaddress
import os
import time
from collections import OrderedDict

from ansible_collections.edge.enos.plugins.module_utils.provider_common import (
    DATE_RE, G5K_JOB_TYPES, ProviderError, format_walltime, host_entry, resource_state,
    walltime_seconds)

__metaclass__ = type

DEFAULT_API = "https://api.grid5000.fr/stable"
DEFAULT_ENV = "debian12-nfs"
ACTIVE_STATES = ("running", "waiting", "launching", "tolaunch", "toLaunch", "hold")
FAILED_STATES = ("error", "terminated", "killed")
# A job sleeps until its walltime ends (or destroy deletes it).
JOB_COMMAND = "sleep 31536000"


def credentials(provider, environ=None, home=None):
    """(username, password) from G5K_USERNAME/G5K_PASSWORD or ~/.python-grid5000.yaml."""
    environ = os.environ if environ is None else environ
    if environ.get("G5K_USERNAME") and environ.get("G5K_PASSWORD"):
        return environ["G5K_USERNAME"], environ["G5K_PASSWORD"]
    path = os.path.join(home or os.path.expanduser("~"), ".python-grid5000.yaml")
    if os.path.exists(path):
        import yaml
        with open(path) as handle:
            conf = yaml.safe_load(handle) or {}
        if conf.get("username") and conf.get("password"):
            return conf["username"], conf["password"]
    raise ProviderError("Grid'5000 credentials missing: set G5K_USERNAME and G5K_PASSWORD, or "
                        "write %s with `username:` and `password:` (mode 0600)" % path)


def settings(provider):
    """The provider keys with EnOS's defaults, checked."""
    job_type = provider.get("job_type", "deploy")
    if job_type not in G5K_JOB_TYPES:
        raise ProviderError("provider.job_type: unknown job type %r (use one of: %s)"
                            % (job_type, ", ".join(G5K_JOB_TYPES)))
    reservation = provider.get("reservation") or None
    if reservation and not DATE_RE.match(str(reservation)):
        raise ProviderError("provider.reservation: %r is not a date (write 'YYYY-MM-DD "
                            "HH:MM:SS', or false to start now)" % (reservation,))
    return {"job_name": str(provider.get("job_name", "enos")),
            "walltime": walltime_seconds(provider.get("walltime", "02:00:00")),
            "reservation": reservation, "queue": provider.get("queue", "default"),
            "job_type": job_type, "env_name": provider.get("env_name", DEFAULT_ENV),
            "kavlan": bool(provider.get("kavlan", False)),
            "key": os.path.expanduser(provider.get("key", "~/.ssh/id_rsa.pub")),
            "user": provider.get("user")}


def cluster_sites(client):
    """{cluster: site} for every cluster Grid'5000 has."""
    found = {}
    try:
        for site in client.sites.list():
            for cluster in site.clusters.list():
                found[cluster.uid] = site.uid
    except Exception as exc:
        raise _api_error("reading the sites and clusters", exc)
    return found


def plan_jobs(topo, provider, known_clusters):
    """The jobs to submit: one per Grid'5000 site, in the order the topology names them."""
    conf = settings(provider)
    by_site = OrderedDict()
    for host in topo.hosts:
        if not host.cluster:
            raise ProviderError("topology: host %s has no Grid'5000 cluster (write "
                                "`site: {paravance: {role: count}}`)" % host.name)
        if host.cluster not in known_clusters:
            close = difflib.get_close_matches(host.cluster, list(known_clusters), n=1)
            raise ProviderError("topology: unknown Grid'5000 cluster %r (%s)" % (
                host.cluster, "did you mean %r?" % close[0] if close else
                "clusters: %s" % ", ".join(sorted(known_clusters))))
        site = known_clusters[host.cluster]
        job = by_site.setdefault(site, {"site": site, "clusters": OrderedDict(), "hosts": []})
        job["clusters"].setdefault(host.cluster, []).append(host.name)
    jobs = []
    for site, job in by_site.items():
        parts = []
        vlans = 0
        if conf["kavlan"]:
            vlans = 2
            parts.append("{type='kavlan'}/vlan=%d" % vlans)
        parts.append("slash_22=1")
        parts.extend("{cluster='%s'}/nodes=%d" % (cluster, len(names))
                     for cluster, names in job["clusters"].items())
        types = [conf["job_type"]]
        jobs.append({
            "site": site, "name": conf["job_name"], "clusters": job["clusters"],
            "resources": "%s,walltime=%s" % ("+".join(parts), format_walltime(conf["walltime"])),
            "walltime": conf["walltime"], "types": types, "queue": conf["queue"],
            "reservation": conf["reservation"], "vlans": vlans})
    return jobs


def job_payload(job):
    """The body of POST /sites/{site}/jobs (Grid'5000 API, OAR job submission)."""
    payload = {"name": job["name"], "resources": job["resources"], "command": JOB_COMMAND,
               "types": list(job["types"])}
    if job["queue"] != "default":
        payload["queue"] = job["queue"]
    if job["reservation"]:
        payload["reservation"] = str(job["reservation"])
    return payload


def _api_error(action, exc):
    text = str(exc)
    body = getattr(exc, "response_body", None)
    if body:  # the API's own explanation (OAR's message) is in the body
        try:
            import json
            answer = json.loads(body)
            text = "%s: %s" % (text, answer.get("description") or answer.get("message") or body)
        except (ValueError, AttributeError, TypeError):
            text = "%s: %s" % (text, body)
    hint = ""
    if "401" in text or "Unauthorized" in text:
        hint = " (credentials refused: check G5K_USERNAME/G5K_PASSWORD)"
    elif "enough" in text.lower() or "quota" in text.lower() or "admission" in text.lower():
        hint = " (ask for fewer nodes, another cluster, or a later provider.reservation)"
    return ProviderError("Grid'5000: %s failed: %s%s" % (action, text.strip()[:500], hint))


class G5k(object):
    """Jobs of one environment on Grid'5000 (client: a grid5000.Grid5000)."""

    def __init__(self, client, provider, poll=5.0, timeout=3600, log=None):
        self.client, self.provider, self.poll, self.timeout = client, provider, poll, timeout
        self.conf = settings(provider)
        self.log = log or (lambda message: None)

    # jobs -----------------------------------------------------------------
    def find_job(self, site):
        """The active job of this environment's name on a site, or None."""
        try:
            jobs = self.client.sites[site].jobs.list(name=self.conf["job_name"],
                                                     state="running,waiting,launching")
        except Exception as exc:  # python-grid5000 raises its own errors per verb
            raise _api_error("listing the jobs of %s" % site, exc)
        for job in jobs:
            if job.name == self.conf["job_name"] and job.state in ACTIVE_STATES:
                return job
        return None

    def submit(self, planned):
        """[(planned job, job object, reused)]: reuse a job of the same name, else submit."""
        done = []
        for job in planned:
            found = self.find_job(job["site"])
            if found is not None:
                self.log("reusing job %s on %s (%s)" % (found.uid, job["site"], found.state))
                done.append((job, found, True))
                continue
            try:
                created = self.client.sites[job["site"]].jobs.create(job_payload(job))
            except Exception as exc:
                raise _api_error("submitting %s on %s" % (job["resources"], job["site"]), exc)
            self.log("submitted job %s on %s: %s" % (created.uid, job["site"], job["resources"]))
            done.append((job, created, False))
        return done

    def wait_running(self, job):
        deadline = time.time() + self.timeout
        while True:
            job.refresh()
            if job.state == "running":
                return job
            if job.state in FAILED_STATES:
                raise ProviderError("Grid'5000: job %s on %s ended in state %s before it ran"
                                    % (job.uid, job.site, job.state))
            if time.time() > deadline:
                raise ProviderError("Grid'5000: job %s on %s still %s after %ds (it is "
                                    "scheduled at %s; use provider.reservation for later "
                                    "starts)" % (job.uid, job.site, job.state, self.timeout,
                                                 getattr(job, "scheduled_at", "?")))
            time.sleep(self.poll)

    # deployment and VLANs -------------------------------------------------
    def deploy(self, site, nodes, vlan=None):
        with open(self.conf["key"]) as handle:
            key = handle.read()
        body = {"nodes": nodes, "environment": self.conf["env_name"], "key": key}
        if vlan:
            body["vlan"] = str(vlan)
        try:
            deployment = self.client.sites[site].deployments.create(body)
        except Exception as exc:
            raise _api_error("deploying %s on %s" % (self.conf["env_name"], site), exc)
        deadline = time.time() + self.timeout
        while deployment.status not in ("terminated", "error", "canceled"):
            if time.time() > deadline:
                raise ProviderError("Grid'5000: deployment %s still %s"
                                    % (deployment.uid, deployment.status))
            time.sleep(self.poll)
            deployment.refresh()
        failed = sorted(n for n, r in (getattr(deployment, "result", {}) or {}).items()
                        if r.get("state") != "OK")
        if deployment.status != "terminated" or failed:
            raise ProviderError("Grid'5000: deployment of %s failed on %s (kadeploy status %s)"
                                % (self.conf["env_name"], ", ".join(failed) or site,
                                   deployment.status))

    def put_in_vlan(self, site, vlan, interfaces):
        try:
            self.client.sites[site].vlans[str(vlan)].nodes.submit({"nodes": interfaces})
        except Exception as exc:
            raise _api_error("putting %s in VLAN %s" % (", ".join(interfaces), vlan), exc)

    def adapters(self, site, cluster, node_uid):
        node = self.client.sites[site].clusters[cluster].nodes[node_uid]
        usable = [a for a in node.network_adapters
                  if a.get("enabled") and not a.get("management") and a.get("interface") == "Ethernet"]
        mounted = [a for a in usable if a.get("mounted")]
        others = [a for a in usable if not a.get("mounted")]
        return mounted, others

    # the whole path -------------------------------------------------------
    def up(self, topo, environment):
        known = cluster_sites(self.client)
        planned = plan_jobs(topo, self.provider, known)
        jobs = []
        hosts, networks = [], []
        for job, obj, reused in self.submit(planned):
            obj = self.wait_running(obj)
            by_type = getattr(obj, "resources_by_type", {}) or {}
            vlans = list(by_type.get("vlans", []))
            if job["vlans"] and len(vlans) < job["vlans"]:
                raise ProviderError("Grid'5000: job %s on %s has %d VLAN(s), %d asked"
                                    % (obj.uid, job["site"], len(vlans), job["vlans"]))
            assigned = sorted(obj.assigned_nodes)
            jobs.append({"site": job["site"], "uid": obj.uid, "reused": reused,
                         "nodes": assigned, "vlans": vlans,
                         "subnets": list(by_type.get("subnets", []))})
            if self.conf["job_type"] == "deploy" and not reused:
                self.deploy(job["site"], assigned, vlans[0] if vlans else None)
            site_hosts = self._hosts(job, assigned, vlans)
            if vlans and not reused:
                self.put_in_vlan(job["site"], vlans[1], [h.pop("_ext_fqdn") for h in site_hosts
                                                         if "_ext_fqdn" in h])
            for entry in site_hosts:
                entry.pop("_ext_fqdn", None)
            hosts.extend(site_hosts)
            networks.extend(self._networks(job, obj.uid, vlans, by_type.get("subnets", [])))
        user = self.conf["user"] or ("root" if self.conf["job_type"] == "deploy"
                                     else self.client.username)
        key = self.conf["key"][:-4] if self.conf["key"].endswith(".pub") else self.conf["key"]
        return resource_state(environment, "g5k", {"user": user, "private_key": key, "port": 22},
                              networks, hosts, g5k={"jobs": jobs})

    def _hosts(self, job, assigned, vlans):
        entries = []
        for cluster, names in job["clusters"].items():
            nodes = [n for n in assigned if n.split(".")[0].rsplit("-", 1)[0] == cluster]
            if len(nodes) < len(names):
                raise ProviderError("Grid'5000: job on %s got %d node(s) of %s, %d asked"
                                    % (job["site"], len(nodes), cluster, len(names)))
            for name, fqdn in zip(names, nodes):
                uid = fqdn.split(".")[0]
                mounted, others = self.adapters(job["site"], cluster, uid)
                if not mounted:
                    raise ProviderError("Grid'5000: %s has no mounted Ethernet adapter in the "
                                        "reference API" % fqdn)
                primary = mounted[0]
                address = fqdn
                if vlans:
                    address = "%s-kavlan-%s.%s.grid5000.fr" % (uid, vlans[0], job["site"])
                interfaces = {"network_interface": (primary["device"], primary.get("ip"),
                                                    "%s-%s-api" % (job["name"], job["site"]))}
                entry = None
                if others:
                    interfaces["neutron_external_interface"] = (
                        others[0]["device"], None, "%s-%s-ext" % (job["name"], job["site"]))
                entry = host_entry(name, address, interfaces)
                entry["g5k_node"] = fqdn
                if vlans and others:
                    entry["_ext_fqdn"] = "%s-%s.%s.grid5000.fr" % (uid, others[0]["device"],
                                                                   job["site"])
                entries.append(entry)
        return entries

    def _networks(self, job, uid, vlans, subnets):
        free = []
        cidr = None
        if subnets:
            net = ipaddress.ip_network(subnets[0])
            cidr = str(net)
            free = [str(a) for a in list(net.hosts())[:50]]
        api = {"name": "%s-%s-api" % (job["name"], job["site"]), "site": job["site"],
               "roles": ["network_interface"], "cidr": cidr, "gateway": None,
               "free_ips": free, "job": uid}
        if vlans:
            api["vlan"] = vlans[0]
        networks = [api]
        ext = {"name": "%s-%s-ext" % (job["name"], job["site"]), "site": job["site"],
               "roles": ["neutron_external_interface"], "cidr": None, "gateway": None,
               "free_ips": [], "job": uid}
        if len(vlans) > 1:
            ext["vlan"] = vlans[1]
        networks.append(ext)
        return networks

    # destroy and status ---------------------------------------------------
    def jobs_of(self, topo, recorded):
        """(site, job) of this environment: those recorded, else found by name."""
        found = []
        recorded_jobs = ((recorded or {}).get("g5k") or {}).get("jobs") or []
        for entry in recorded_jobs:
            try:
                job = self.client.sites[entry["site"]].jobs[entry["uid"]]
            except Exception:
                continue
            if job.state in ACTIVE_STATES:
                found.append((entry["site"], job))
        if recorded_jobs:
            return found
        known = cluster_sites(self.client)
        for site in OrderedDict((known.get(h.cluster), 1) for h in topo.hosts if h.cluster):
            if site:
                job = self.find_job(site)
                if job is not None:
                    found.append((site, job))
        return found

    def destroy(self, topo, recorded):
        deleted = []
        for site, job in self.jobs_of(topo, recorded):
            try:
                job.delete()
            except Exception as exc:
                raise _api_error("deleting job %s on %s" % (job.uid, site), exc)
            deleted.append({"site": site, "uid": job.uid})
        return deleted

    def status(self, topo, recorded):
        return [{"site": site, "uid": job.uid, "state": job.state,
                 "nodes": list(getattr(job, "assigned_nodes", []) or [])}
                for site, job in self.jobs_of(topo, recorded)]
