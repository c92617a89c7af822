"""A TEST DOUBLE of the Grid'5000 REST API, on 127.0.0.1 (Grid'5000 is not reachable from here).

It answers the calls the g5k provider makes, with the payload shapes Grid'5000 documents
(https://api.grid5000.fr/doc/: `{"items": [...], "total", "offset"}` lists, jobs with `uid`,
`state`, `assigned_nodes`, `resources_by_type`, deployments with `status` and `result`, reference
nodes with `network_adapters`), checks HTTP Basic credentials, keeps every request it received
(`requests`) and every job submitted (`submitted`), and refuses a job asking for more nodes than
a cluster has, with OAR's words.
"""

import base64
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

SITES = {
    "rennes": {"paravance": 4, "parasilo": 2},
    "nancy": {"gros": 3},
}
USER, PASSWORD = "alice", "s3cret"


def _node(site, cluster, index):
    base = {"rennes": 16, "nancy": 144}[site]
    return {
        "uid": "%s-%d" % (cluster, index), "type": "node",
        "network_adapters": [
            {"device": "eno1", "interface": "Ethernet", "enabled": True, "mounted": True,
             "management": False, "ip": "172.%d.%d.%d" % (base, len(cluster), index),
             "mac": "00:00:00:00:00:%02x" % index},
            {"device": "eno2", "interface": "Ethernet", "enabled": True, "mounted": False,
             "management": False},
            {"device": "bmc", "interface": "Ethernet", "enabled": True, "mounted": False,
             "management": True},
        ],
    }


class G5kApiDouble(object):
    def __init__(self):
        self.requests = []
        self.submitted = []
        self.jobs = {}          # uid -> job dict
        self.deployments = {}
        self.vlan_moves = []
        self.next_uid = 1000
        self.lock = threading.Lock()
        double = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _auth_ok(self):
                expected = "Basic " + base64.b64encode(
                    ("%s:%s" % (USER, PASSWORD)).encode()).decode()
                return self.headers.get("Authorization") == expected

            def _send(self, code, body):
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self, method):
                url = urlparse(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"null") if length else None
                with double.lock:
                    double.requests.append((method, url.path, parse_qs(url.query), body))
                    if not self._auth_ok():
                        return self._send(401, {"code": 401, "message": "Unauthorized"})
                    code, answer = double.route(method, url.path, parse_qs(url.query), body)
                self._send(code, answer)

            def do_GET(self):
                self._handle("GET")

            def do_POST(self):
                self._handle("POST")

            def do_DELETE(self):
                self._handle("DELETE")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    @staticmethod
    def items(values):
        return {"items": values, "total": len(values), "offset": 0}

    def route(self, method, path, query, body):
        parts = [p for p in path.split("/") if p]
        if parts == ["sites"]:
            return 200, self.items([{"uid": s, "type": "site"} for s in SITES])
        if len(parts) < 2 or parts[0] != "sites" or parts[1] not in SITES:
            return 404, {"code": 404, "message": "Not found: %s" % path}
        site, rest = parts[1], parts[2:]
        if not rest:
            return 200, {"uid": site, "type": "site", "name": site.capitalize()}
        if len(rest) == 2 and rest[0] == "clusters" and rest[1] in SITES[site]:
            return 200, {"uid": rest[1], "type": "cluster"}
        if len(rest) == 2 and rest[0] == "vlans":
            return 200, {"uid": rest[1], "type": "kavlan-local" if int(rest[1]) < 4 else "kavlan"}
        if rest == ["clusters"]:
            return 200, self.items([{"uid": c, "type": "cluster"} for c in SITES[site]])
        if len(rest) == 4 and rest[0] == "clusters" and rest[2] == "nodes":
            cluster, uid = rest[1], rest[3]
            index = int(uid.rsplit("-", 1)[1])
            return 200, _node(site, cluster, index)
        if rest == ["jobs"] and method == "GET":
            states = (query.get("state", [""])[0] or "").split(",")
            name = query.get("name", [None])[0]
            found = [j for j in self.jobs.values() if j["site"] == site
                     and (not name or j["name"] == name) and (states == [""] or j["state"] in states)]
            return 200, self.items(found)
        if rest == ["jobs"] and method == "POST":
            return self.submit(site, body)
        if len(rest) == 2 and rest[0] == "jobs":
            job = self.jobs.get(int(rest[1]))
            if job is None or job["site"] != site:
                return 404, {"code": 404, "message": "Job %s not found" % rest[1]}
            if method == "DELETE":
                job["state"] = "error"  # what OAR shows for a deleted job
                return 202, {"status": "Delete request registered", "oardel_output": "",
                             "api_timestamp": 0, "uid": job["uid"]}
            if job["state"] == "waiting":  # scheduled: running on the next look
                job["state"] = "running"
            return 200, job
        if rest == ["deployments"] and method == "POST":
            uid = "D-%d" % len(self.deployments)
            deployment = {"uid": uid, "site": site, "status": "processing",
                          "nodes": body["nodes"], "environment": body["environment"],
                          "vlan": body.get("vlan"), "key": body.get("key")}
            self.deployments[uid] = deployment
            return 201, deployment
        if len(rest) == 2 and rest[0] == "deployments":
            deployment = self.deployments[rest[1]]
            deployment["status"] = "terminated"
            deployment["result"] = dict((n, {"state": "OK", "macro": None, "micro": None})
                                        for n in deployment["nodes"])
            return 200, deployment
        if len(rest) == 3 and rest[0] == "vlans" and rest[2] == "nodes" and method == "POST":
            self.vlan_moves.append((site, rest[1], list(body["nodes"])))
            return 200, dict((n, {"status": "success", "message": "ok"}) for n in body["nodes"])
        return 404, {"code": 404, "message": "Not found: %s" % path}

    def submit(self, site, body):
        resources = body.get("resources", "")
        pattern = r"\{cluster='([^']+)'\}/nodes=(\d+)"
        asked = dict((c, int(n)) for c, n in re.findall(pattern, resources))
        for cluster, count in asked.items():
            total = SITES[site].get(cluster, 0)
            if count > total:
                return 400, {"code": 400, "message": "Bad Request", "title": "Bad Request",
                             "description": "There are not enough resources for your request "
                                            "(%s has %d nodes, %d asked)" % (cluster, total, count)}
        uid = self.next_uid
        self.next_uid += 1
        vlans = int((re.search(r"/vlan=(\d+)", resources) or [0, 0])[1])
        nodes = ["%s-%d.%s.grid5000.fr" % (c, i, site) for c, n in asked.items()
                 for i in range(1, n + 1)]
        job = {"uid": uid, "site": site, "user": USER, "name": body.get("name"),
               "state": "waiting", "queue": body.get("queue", "default"),
               "types": body.get("types", []), "command": body.get("command"),
               "reservation": body.get("reservation"),
               "walltime": _walltime(resources), "assigned_nodes": nodes,
               "resources_by_type": {"cores": nodes,
                                     "vlans": [str(4 + i) for i in range(vlans)],
                                     "subnets": ["10.158.%d.0/22" % (4 * len(self.jobs))]},
               "scheduled_at": 0, "started_at": 0}
        self.jobs[uid] = job
        self.submitted.append(dict(body, site=site))
        return 201, dict(job, state="waiting")


def _walltime(resources):
    match = re.search(r"walltime=(\d+):(\d+):(\d+)", resources)
    if not match:
        return 3600
    h, m, s = (int(x) for x in match.groups())
    return h * 3600 + m * 60 + s
