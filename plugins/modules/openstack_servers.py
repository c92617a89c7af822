#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: openstack_servers
short_description: Machines of a topology from an OpenStack cloud or Chameleon
description:
  - Finds or creates a keypair, a network, subnet and router (or uses an existing network), a
    security group, ports whose addresses are kept free for VIPs, one server per topology host
    (the host's cluster or flavour is the flavor), and floating IPs or one gateway host.
  - On Chameleon (C(provider.type) chameleon or chameleonbaremetal) a Blazar lease of the
    topology's node types comes first, and servers are scheduled in it.
  - Flavors, image, keypair, networks and quota are checked before anything is created.
  - Everything created is recorded in C(resources.json); C(state=absent) deletes exactly that.
  - Credentials, C(provider.cloud) (clouds.yaml) or the C(OS_*) variables of an openrc.
version_added: "0.1.0"
author: edge.enos developers (@edge-enos)
extends_documentation_fragment: [edge.enos.provider]
options:
  state:
    description: C(present) creates, C(absent) deletes what was created, C(status) reports.
    type: str
    choices: [present, absent, status]
    default: present
  timeout:
    description: Seconds to wait for servers (and a lease) to become active.
    type: int
    default: 1800
"""

EXAMPLES = r"""
- name: Create the servers
  edge.enos.openstack_servers:
    topology: /srv/env/topology.yml
    env_dir: /srv/env
  register: cloud
"""

RETURN = r"""
resources:
  description: The resource state (state=present), with C(openstack.created).
  returned: state is present
  type: dict
created:
  description: What this environment created (kind, id, name).
  returned: always
  type: list
  elements: dict
servers:
  description: Status of each host's server (state=status).
  returned: state is status
  type: dict
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.edge.enos.plugins.module_utils.provider_common import (
    ProviderError, module_environment, reservation_args)
from ansible_collections.edge.enos.plugins.module_utils import provider_openstack as po


def connect(provider):
    import openstack
    cloud = provider.get("cloud")
    if not cloud and not os.environ.get("OS_AUTH_URL") and not os.environ.get("OS_CLOUD"):
        raise ProviderError("OpenStack credentials missing: set provider.cloud to an entry of "
                            "clouds.yaml, or source the project's openrc (OS_AUTH_URL, "
                            "OS_USERNAME, OS_PASSWORD, OS_PROJECT_NAME)")
    try:
        conn = openstack.connect(cloud=cloud) if cloud else openstack.connect()
        conn.authorize()
    except Exception as exc:
        raise ProviderError("OpenStack: cannot authenticate (%s): check provider.cloud or the "
                            "OS_* variables" % str(exc).strip()[:300])
    return conn


def blazar_for(conn, timeout):
    def request(method, path, body):
        response = conn.session.request(
            path, method, json=body, raise_exc=False,
            endpoint_filter={"service_type": "reservation", "interface": "public"})
        try:
            answer = response.json() if response.content else {}
        except ValueError:
            answer = {"error_message": response.text}
        return response.status_code, answer
    return po.Blazar(request, timeout=timeout)


def main():
    module = AnsibleModule(
        argument_spec=reservation_args(1800),
        supports_check_mode=True,
    )
    from ansible_collections.edge.enos.plugins.module_utils.topology import (
        load_topology, TopologyError)
    params = module.params
    env_dir, recorded, environment = module_environment(params)
    created = (recorded.get("openstack") or {}).get("created", [])
    try:
        topo = load_topology(params["topology"])
        public_key = private_key = None
        if not topo.provider.get("key_name"):  # the environment's own key becomes the keypair
            private_key = os.path.join(env_dir, "id_ed25519")
            if params["state"] == "present":
                with open(private_key + ".pub") as handle:
                    public_key = handle.read().strip()
        planned = po.plan(topo, environment, public_key, private_key=private_key)
        conn = connect(topo.provider)
        blazar = blazar_for(conn, params["timeout"]) if planned["chameleon"] else None
        cloud = po.Cloud(conn, created, timeout=params["timeout"])
        if params["state"] == "status":
            module.exit_json(changed=False, servers=cloud.status(planned), created=created)
        if params["state"] == "absent":
            if module.check_mode:
                module.exit_json(changed=bool(created), created=created)
            deleted = cloud.destroy(blazar)
            module.exit_json(changed=bool(deleted), created=deleted)
        if module.check_mode:
            cloud.check(planned)
            states = cloud.status(planned)
            module.exit_json(changed=any(s == "absent" for s in states.values()),
                             servers=states, created=created)
        before = len(cloud.created)
        resources = cloud.up(planned, blazar)
    except (TopologyError, ProviderError, IOError, OSError) as exc:
        module.fail_json(msg="%s provider: %s" % (topo.provider.get("type", "openstack")
                                                  if "topo" in locals() else "openstack", exc))
    module.exit_json(changed=len(cloud.created) != before, created=cloud.created,
                     resources=resources)


if __name__ == "__main__":
    main()
