"""A TEST DOUBLE of Blazar's lease API (OpenStack reservation service, /v1/leases).

Chameleon's Blazar cannot be reached from here. The double keeps leases in memory with the
fields Blazar returns (`id`, `name`, `status` PENDING -> STARTING -> ACTIVE, `start_date`,
`end_date`, `reservations` with their own `id` and `resource_properties`), refuses a lease
asking for more hosts of a node type than it has, and records every request. It is called
in-process through the same `request(method, path, body) -> (status, json)` function the
provider uses over a keystoneauth session.
"""

import json
import uuid

HOSTS = {"compute_skylake": 4, "compute_haswell": 2}


class BlazarDouble(object):
    def __init__(self, steps_to_active=2):
        self.leases = {}
        self.requests = []
        self.steps_to_active = steps_to_active

    def request(self, method, path, body):
        self.requests.append((method, path, body))
        parts = [p for p in path.split("/") if p]
        if parts == ["leases"] and method == "GET":
            return 200, {"leases": list(self.leases.values())}
        if parts == ["leases"] and method == "POST":
            for reservation in body["reservations"]:
                node_type = json.loads(reservation["resource_properties"])[2]
                if reservation["min"] > HOSTS.get(node_type, 0):
                    return 409, {"error_code": 409, "error_name": "NotEnoughHostsAvailable",
                                 "error_message": "Not enough hosts available"}
            lease = dict(body, id=str(uuid.uuid4()), status="PENDING", _steps=0,
                         reservations=[dict(r, id=str(uuid.uuid4()), status="pending")
                                       for r in body["reservations"]])
            self.leases[lease["id"]] = lease
            return 201, {"lease": self.public(lease)}
        if len(parts) == 2 and parts[0] == "leases":
            lease = self.leases.get(parts[1])
            if lease is None:
                return 404, {"error_code": 404, "error_message": "Lease %s not found" % parts[1]}
            if method == "DELETE":
                del self.leases[parts[1]]
                return 204, {}
            lease["_steps"] += 1
            lease["status"] = ("ACTIVE" if lease["_steps"] >= self.steps_to_active
                               else "STARTING")
            return 200, {"lease": self.public(lease)}
        return 404, {"error_code": 404, "error_message": "not found: %s" % path}

    @staticmethod
    def public(lease):
        return dict((k, v) for k, v in lease.items() if not k.startswith("_"))
