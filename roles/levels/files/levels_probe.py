# Copyright: edge.enos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run the operations of the edge requirement levels against OpenStack, from this node.

Self-contained (Python 3 standard library only: the nodes need nothing installed), so that the
requests leave from a node of the site and cross the emulated WAN as a user's would. It speaks
the REST APIs of Keystone, Nova, Glance and Neutron directly, each operation under its own
deadline, and prints one JSON document: {"records": [...], "notes": [...]}, one record per
operation with its outcome (done, failed with the error, timeout) and latency.

    python3 levels_probe.py TASK.json

TASK.json: {"mode": "suites" | "converge" | "cleanup", "cloud": {auth_url, username, password,
project_name, user_domain_name, project_domain_name, region_name, interface, verify}
(or "cloud_file": the path of that JSON), "scenario", "client_site", "name_prefix",
"suites": [{"level", "sites"}], "zones", "timeout", "boot_timeout", "flavor", "image",
"server_nic": "port" | "none", "influx": {url, database} | null, "app": {"url", "token"} |
null, "servers": [names] (converge)}.
The operation names are those of edge.enos's plugins/module_utils/levels.py CATALOGUE.
"""

import json
import socket
import ssl
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

NOVA_VERSION = "2.60"  # zone filters, "networks": "none", diagnostics


class Timeout(Exception):
    pass


class Failed(Exception):
    pass


def _timed_out(exc):
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return True
    return isinstance(exc, urllib.error.URLError) and isinstance(
        getattr(exc, "reason", None), (socket.timeout, TimeoutError))


class Deadline:
    def __init__(self, seconds):
        self.end = time.monotonic() + seconds
        self.seconds = seconds

    def left(self):
        left = self.end - time.monotonic()
        if left <= 0:
            raise Timeout("no answer within %gs" % self.seconds)
        return left


def http(method, url, deadline, body=None, headers=None, raw=None, verify=True):
    """(status, headers, decoded JSON or text) of one request; Timeout or Failed otherwise."""
    data = raw
    all_headers = {"Accept": "application/json"}
    if body is not None:
        data = json.dumps(body).encode()
        all_headers["Content-Type"] = "application/json"
    all_headers.update(headers or {})
    request = urllib.request.Request(url, data=data, method=method, headers=all_headers)
    context = None
    if url.startswith("https") and not verify:
        context = ssl._create_unverified_context()
    try:
        with urllib.request.urlopen(request, timeout=deadline.left(), context=context) as answer:
            text = answer.read().decode("utf-8", "replace")
            status, answer_headers = answer.status, answer.headers
    except urllib.error.HTTPError as exc:
        text = exc.read().decode("utf-8", "replace")
        raise Failed("HTTP %d from %s %s: %s" % (exc.code, method, _path(url), _message(text)))
    except Timeout:
        raise
    except Exception as exc:  # connection refused, unreachable, reset, DNS...
        if _timed_out(exc):
            raise Timeout("no answer within %gs (%s %s)"
                          % (deadline.seconds, method, _path(url)))
        reason = getattr(exc, "reason", exc)
        raise Failed("%s %s: %s" % (method, _path(url), reason))
    try:
        return status, answer_headers, json.loads(text) if text.strip() else None
    except ValueError:
        return status, answer_headers, text


def _path(url):
    parts = urllib.parse.urlsplit(url)
    return "%s%s" % (parts.netloc, parts.path)


def _message(text):
    try:
        data = json.loads(text)
    except ValueError:
        return " ".join(text.split())[:300]
    if isinstance(data, dict):
        for value in data.values():
            if isinstance(value, dict) and "message" in value:
                return str(value["message"])[:300]
        if "message" in data:
            return str(data["message"])[:300]
    return " ".join(text.split())[:300]


class Cloud:
    """A Keystone session: the token, the catalog, and requests to the services."""

    def __init__(self, config):
        self.config = config
        self.verify = config.get("verify", True)
        self.token = None
        self.catalog = []
        self.domain_id = "default"

    def authenticate(self, deadline):
        auth_url = self.config["auth_url"].rstrip("/")
        if not auth_url.endswith("/v3"):
            auth_url += "/v3"
        self.identity, self.token = auth_url, None
        body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": self.config["username"], "password": self.config["password"],
            "domain": {"name": self.config.get("user_domain_name", "Default")}}}},
            "scope": {"project": {"name": self.config["project_name"], "domain": {
                "name": self.config.get("project_domain_name", "Default")}}}}}
        _status, headers, data = http("POST", auth_url + "/auth/tokens", deadline, body=body,
                                      verify=self.verify)
        self.token = headers.get("X-Subject-Token")
        self.catalog = data["token"].get("catalog", [])
        self.domain_id = data["token"]["project"]["domain"]["id"]

    def endpoint(self, service_type):
        interface = self.config.get("interface", "public").replace("URL", "")
        region = self.config.get("region_name")
        for service in self.catalog:
            if service.get("type") != service_type:
                continue
            for endpoint in service.get("endpoints", []):
                if endpoint.get("interface") == interface and (
                        not region or endpoint.get("region_id", endpoint.get("region")) == region):
                    return endpoint["url"].rstrip("/")
        raise Failed("no %s endpoint (%s) in the catalog" % (service_type, interface))

    def call(self, service, method, path, deadline, body=None, raw=None, headers=None):
        if service == "identity":
            base = self.identity
        else:
            base = self.endpoint(service)
            if service == "network" and not base.endswith("/v2.0"):
                base += "/v2.0"
            if service == "image" and not base.endswith("/v2"):
                base += "/v2"
        all_headers = {"X-Auth-Token": self.token}
        if service == "compute":
            all_headers["OpenStack-API-Version"] = "compute %s" % NOVA_VERSION
        all_headers.update(headers or {})
        return http(method, base + path, deadline, body=body, raw=raw, headers=all_headers,
                    verify=self.verify)[2]


class Probe:
    def __init__(self, task):
        self.task = task
        self.records, self.notes = [], []
        self.timeout = float(task.get("timeout", 30))
        self.boot_timeout = float(task.get("boot_timeout", 180))
        self.zones = set(task.get("zones", []))
        cloud = task.get("cloud")
        if cloud is None:
            with open(task["cloud_file"]) as handle:
                cloud = json.load(handle)
        self.cloud = Cloud(cloud)
        self.authenticated = None  # error text when authentication failed
        self.counter = 0

    # -- recording
    def run(self, level, actor, operation, sites, func, needs=None, timeout=None, **extra):
        """Run func(deadline) as one operation; returns its value, None when it did not work.
        `needs`: error text of a prerequisite that failed: not attempted, recorded failed."""
        record = {"scenario": self.task["scenario"], "client_site": self.task["client_site"],
                  "level": level, "actor": actor, "operation": operation, "sites": list(sites),
                  "outcome": "failed", "error": "", "latency_s": None,
                  "started_at": time.time()}
        record.update(extra)
        value = None
        if needs:
            record["error"] = "not attempted: %s" % needs
        else:
            deadline = Deadline(timeout or self.timeout)
            start = time.monotonic()
            try:
                value = func(deadline)
                record["outcome"] = "done"
            except Timeout as exc:
                record["outcome"], record["error"] = "timeout", str(exc)
            except Failed as exc:
                record["error"] = str(exc)
            except Exception as exc:  # an answer of an unexpected shape
                record["error"] = "%s: %s" % (type(exc).__name__, exc)
            record["latency_s"] = round(time.monotonic() - start, 4)
        if isinstance(value, dict) and "_record" in value:
            record.update(value.pop("_record"))
        self.records.append(record)
        return value if record["outcome"] == "done" else None

    def name(self, what):
        self.counter += 1
        return "%s-%s-%d" % (self.task["name_prefix"], what, self.counter)

    def failure(self, operation):
        for record in reversed(self.records):
            if record["operation"] == operation:
                return "%s %s: %s" % (operation, record["outcome"], record["error"])
        return "%s did not run" % operation

    def auth(self, level, sites):
        self.run(level, "both", "authenticate", sites, self.cloud.authenticate)
        self.authenticated = None if self.cloud.token else self.failure("authenticate")
        return self.authenticated

    # -- building blocks
    def lookup(self, deadline, kind):
        if kind == "flavor":
            flavors = self.cloud.call("compute", "GET", "/flavors", deadline)["flavors"]
            found = [f["id"] for f in flavors if f["name"] == self.task.get("flavor", "m1.tiny")]
        else:
            images = self.cloud.call("image", "GET", "/images?name=%s" % urllib.parse.quote(
                self.task.get("image", "enos-tiny")), deadline)["images"]
            found = [i["id"] for i in images]
        if not found:
            raise Failed("no %s named %s" % (kind, self.task.get(kind)))
        return found[0]

    def upload_image(self, deadline, name, properties=None):
        body = dict({"name": name, "disk_format": "raw", "container_format": "bare"},
                    **(properties or {}))
        image = self.cloud.call("image", "POST", "/images", deadline, body=body)
        self.cloud.call("image", "PUT", "/images/%s/file" % image["id"], deadline,
                        raw=b"\0" * 65536, headers={"Content-Type": "application/octet-stream"})
        return image["id"]

    def boot(self, deadline, name, zone=None, image_id=None, port_id=None, wait=True):
        server = {"name": name, "flavorRef": self.lookup(deadline, "flavor"),
                  "imageRef": image_id or self.lookup(deadline, "image"),
                  "networks": [{"port": port_id}] if port_id else "none"}
        if zone:
            server["availability_zone"] = zone
        created = self.cloud.call("compute", "POST", "/servers", deadline, body={"server": server})
        server_id = created["server"]["id"]
        if not wait:
            return server_id
        while True:
            status, fault = self.server_status(deadline, server_id)
            if status == "ACTIVE":
                return server_id
            if status == "ERROR":
                raise Failed("server %s went to ERROR: %s" % (name, fault or "no fault given"))
            time.sleep(min(1.0, deadline.left()))

    def server_status(self, deadline, server_id):
        server = self.cloud.call("compute", "GET", "/servers/%s" % server_id, deadline)["server"]
        return server["status"], (server.get("fault") or {}).get("message")

    def delete_server(self, deadline, server_id):
        self.cloud.call("compute", "DELETE", "/servers/%s" % server_id, deadline)
        while True:
            try:
                self.server_status(deadline, server_id)
            except Failed as exc:
                if "HTTP 404" in str(exc):
                    return
                raise
            time.sleep(min(1.0, deadline.left()))

    def metric(self, deadline, server_id):
        influx = self.task.get("influx")
        if influx:
            query = urllib.parse.urlencode({"db": influx["database"], "q": (
                "SELECT last(*) FROM /.*/ WHERE time > now() - 5m LIMIT 1")})
            answer = http("GET", "%s/query?%s" % (influx["url"].rstrip("/"), query), deadline)[2]
            if not any(r.get("series") for r in (answer or {}).get("results", [])):
                raise Failed("InfluxDB answered with no metric of the last 5 minutes")
            return True
        if not server_id:
            raise Failed("no server to read the diagnostics of")
        return self.cloud.call("compute", "GET", "/servers/%s/diagnostics" % server_id, deadline)

    def services(self, deadline, zones=None):
        services = self.cloud.call("compute", "GET", "/os-services?binary=nova-compute",
                                   deadline)["services"]
        up = set(s["zone"] for s in services if s.get("state") == "up")
        missing = [z for z in (zones or []) if z not in up]
        if missing:
            raise Failed("no nova-compute up in zone(s) %s (up: %s)" % (
                ", ".join(missing), ", ".join(sorted(up)) or "none"))
        if not up:
            raise Failed("no nova-compute is up")
        return sorted(up)

    # -- suites
    def suite_l1(self, level, site):
        sites = [site]
        needs = self.auth(level, sites)
        run = self.run

        project = run(level, "admin", "project_create", sites, lambda d: self.cloud.call(
            "identity", "POST", "/projects", d, body={"project": {
                "name": self.name("project"), "domain_id": self.cloud.domain_id}})["project"]["id"],
            needs=needs)
        user = run(level, "admin", "user_create", sites, lambda d: self.cloud.call(
            "identity", "POST", "/users", d, body={"user": {
                "name": self.name("user"), "domain_id": self.cloud.domain_id,
                "default_project_id": project, "password": self.name("pw")}})["user"]["id"],
            needs=needs or (None if project else self.failure("project_create")))

        def assign(deadline):
            roles = self.cloud.call("identity", "GET", "/roles?name=member", deadline)["roles"]
            if not roles:
                raise Failed("no role named member")
            self.cloud.call("identity", "PUT", "/projects/%s/users/%s/roles/%s" % (
                project, user, roles[0]["id"]), deadline)
            return True
        run(level, "admin", "role_assign", sites, assign,
            needs=needs or (None if user else self.failure("user_create")))
        run(level, "admin", "quota_set", sites, lambda d: self.cloud.call(
            "compute", "PUT", "/os-quota-sets/%s" % project, d,
            body={"quota_set": {"instances": 10, "cores": 20}}),
            needs=needs or (None if project else self.failure("project_create")))
        run(level, "admin", "flavor_create", sites, lambda d: self.cloud.call(
            "compute", "POST", "/flavors", d, body={"flavor": {
                "name": self.name("flavor"), "ram": 64, "vcpus": 1, "disk": 0}}), needs=needs)
        run(level, "admin", "image_upload", sites,
            lambda d: self.upload_image(d, self.name("image")), needs=needs)

        network = run(level, "devops", "network_create", sites, lambda d: self.cloud.call(
            "network", "POST", "/networks", d, body={"network": {"name": self.name("net")}}
        )["network"]["id"], needs=needs)
        subnet = run(level, "devops", "subnet_create", sites, lambda d: self.cloud.call(
            "network", "POST", "/subnets", d, body={"subnet": {
                "name": self.name("subnet"), "network_id": network, "ip_version": 4,
                "cidr": "10.254.%d.0/24" % (self.counter % 250)}})["subnet"]["id"],
            needs=needs or (None if network else self.failure("network_create")))
        port = run(level, "devops", "port_create", sites, lambda d: self.cloud.call(
            "network", "POST", "/ports", d, body={"port": {
                "name": self.name("port"), "network_id": network}})["port"]["id"],
            needs=needs or (None if subnet else self.failure("subnet_create")))
        if site not in self.zones:
            self.notes.append("%s has no availability zone (no compute): no server booted "
                              "there" % site)
            return
        with_port = self.task.get("server_nic", "port") == "port"
        server = run(level, "devops", "server_boot", sites, lambda d: self.boot(
            d, self.name("server"), zone=site, port_id=port if with_port else None),
            needs=needs or (None if port or not with_port else self.failure("port_create")),
            timeout=self.boot_timeout)
        self.metric_and_delete(level, sites, server, needs, "server_boot")

    def metric_and_delete(self, level, sites, server, needs, boot_operation):
        self.run(level, "both", "metric_query", sites, lambda d: self.metric(d, server),
                 needs=needs or (None if server or self.task.get("influx")
                                 else self.failure(boot_operation)))
        self.run(level, "devops", "server_delete", sites,
                 lambda d: self.delete_server(d, server),
                 needs=needs or (None if server else self.failure(boot_operation)),
                 timeout=self.boot_timeout)

    def suite_l21(self, sites):
        level, (here, there) = "L2.1", sites
        needs = self.auth(level, sites)
        self.run(level, "admin", "compute_services_of_sites", sites,
                 lambda d: self.services(d, sites), needs=needs)
        image = self.run(level, "admin", "image_upload_for_site", [there], lambda d: (
            self.upload_image(d, self.name("image-for-%s" % there), {"enos_site": there})),
            needs=needs)

        def list_sites(deadline):
            return dict((zone, len(self.cloud.call(
                "compute", "GET", "/servers/detail?availability_zone=%s" % zone,
                deadline)["servers"])) for zone in sites)
        self.run(level, "devops", "servers_of_sites", sites, list_sites, needs=needs)
        server = self.run(level, "devops", "server_boot_with_image_of_site", sites,
                          lambda d: self.boot(d, self.name("server"), zone=here, image_id=image),
                          needs=needs or (None if image else self.failure(
                              "image_upload_for_site")), timeout=self.boot_timeout)
        self.metric_and_delete(level, sites, server, needs, "server_boot_with_image_of_site")

    def suite_l22(self):
        level, sites = "L2.2", []
        needs = self.auth(level, sites)
        self.run(level, "admin", "compute_services_all", sites, self.services, needs=needs)
        server = self.run(level, "devops", "server_boot_anywhere", sites,
                          lambda d: self.boot(d, self.name("server")), needs=needs,
                          timeout=self.boot_timeout)
        self.run(level, "devops", "servers_all", sites, lambda d: len(self.cloud.call(
            "compute", "GET", "/servers/detail", d)["servers"]), needs=needs)
        self.metric_and_delete(level, sites, server, needs, "server_boot_anywhere")

    def suite_l31(self, site):
        app = self.task.get("app") or {}

        def request(deadline):
            if not app.get("url"):
                raise Failed(app.get("error") or "no application container in %s" % site)
            _status, _headers, body = http("GET", app["url"], deadline)
            if app.get("token") not in str(body):
                raise Failed("the application answered without its token: %r" % str(body)[:80])
            return True
        self.run("L3.1", "devops", "app_request", [site], request)

    def suite_converge(self, site):
        """A server asked for in a site across the partition: the request only."""
        if not self.cloud.token and not self.authenticated:
            self.auth_quiet()
        needs = None if self.cloud.token else self.authenticated
        name = self.name("across-%s" % site)
        self.run("converge", "devops", "server_boot_across", [site],
                 lambda d: self.boot(d, name, zone=site, wait=False), needs=needs, server=name)

    def auth_quiet(self):
        try:
            self.cloud.authenticate(Deadline(self.timeout))
            return None
        except (Timeout, Failed) as exc:
            self.authenticated = "authenticate: %s" % exc
            return self.authenticated

    def converge(self):
        """After the heal: the state each server asked for during the partition reached."""
        needs = self.auth_quiet()
        wanted = list(self.task.get("servers", []))
        found = {}
        if not needs:
            try:
                for server in self.cloud.call("compute", "GET", "/servers/detail?name=%s" %
                                              urllib.parse.quote("^" + self.task["name_prefix"]),
                                              Deadline(self.timeout))["servers"]:
                    found[server["name"]] = server
            except (Timeout, Failed) as exc:
                needs = "listing the servers: %s" % exc
        for name in wanted + sorted(n for n in found if n not in wanted):
            server = found.get(name)
            zone = (server or {}).get("OS-EXT-AZ:availability_zone") or ""

            def settle(deadline, server=server, name=name):
                if server is None:
                    raise Failed("no server named %s exists" % name)
                while True:
                    status, fault = self.server_status(deadline, server["id"])
                    if status == "ACTIVE":
                        return {"_record": {"status": status}}
                    if status == "ERROR":
                        raise Failed("ERROR: %s" % (fault or "no fault given"))
                    time.sleep(min(2.0, deadline.left()))
            self.run("converge", "devops", "server_final_state", [zone] if zone else [],
                     settle, needs=needs, timeout=self.boot_timeout, server=name)
        for record in self.records:
            if record["outcome"] == "done":
                record.setdefault("status", "ACTIVE")
            elif record["outcome"] == "timeout":
                record.setdefault("status", "BUILD")
            else:
                record.setdefault("status", "ERROR" if record["error"].startswith("ERROR")
                                  else "missing")

    def cleanup(self):
        """Delete what the run made (every name starts with the run's prefix)."""
        needs = self.auth_quiet()
        if needs:
            self.notes.append("cleanup not done: %s" % needs)
            return
        prefix = self.task["name_prefix"]
        kinds = [("compute", "/servers/detail?name=%s" % urllib.parse.quote("^" + prefix),
                  "servers", "/servers/%s"),
                 ("network", "/ports", "ports", "/ports/%s"),
                 ("network", "/subnets", "subnets", "/subnets/%s"),
                 ("network", "/networks", "networks", "/networks/%s"),
                 ("image", "/images?limit=1000", "images", "/images/%s"),
                 ("compute", "/flavors", "flavors", "/flavors/%s"),
                 ("identity", "/users", "users", "/users/%s"),
                 ("identity", "/projects", "projects", "/projects/%s")]
        deleted, left = 0, []
        for service, listing, key, path in kinds:
            try:
                items = self.cloud.call(service, "GET", listing, Deadline(self.timeout))[key]
            except (Timeout, Failed) as exc:
                left.append("%s: %s" % (key, exc))
                continue
            for item in items:
                if not str(item.get("name", "")).startswith(prefix):
                    continue
                try:
                    if key == "servers":
                        self.delete_server(Deadline(self.boot_timeout), item["id"])
                    else:
                        self.cloud.call(service, "DELETE", path % item["id"],
                                        Deadline(self.timeout))
                    deleted += 1
                except (Timeout, Failed) as exc:
                    left.append("%s %s: %s" % (key, item["name"], exc))
        self.notes.append("cleanup: %d resource(s) deleted" % deleted)
        self.notes += ["cleanup left %s" % item for item in left]

    def main(self):
        mode = self.task.get("mode", "suites")
        if mode == "converge":
            self.converge()
        elif mode == "cleanup":
            self.cleanup()
        else:
            for suite in self.task["suites"]:
                level, sites = suite["level"], suite["sites"]
                if level in ("L1", "L3.2"):
                    self.suite_l1(level, sites[0])
                elif level == "L2.1":
                    self.suite_l21(sites)
                elif level == "L2.2":
                    self.suite_l22()
                elif level == "L3.1":
                    self.suite_l31(sites[0])
                elif level == "converge":
                    self.suite_converge(sites[0])
                else:
                    raise SystemExit("levels_probe: unknown level %r in the task" % level)
        return {"records": self.records, "notes": self.notes}


def main(argv):
    if len(argv) != 2:
        raise SystemExit("usage: levels_probe.py TASK.json")
    with open(argv[1]) as handle:
        task = json.load(handle)
    json.dump(Probe(task).main(), sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(sys.argv)
