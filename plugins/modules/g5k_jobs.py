#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: g5k_jobs
short_description: Grid'5000 jobs (OAR), deployments (kadeploy) and KaVLANs of a topology
description:
  - One job per Grid'5000 site with the topology's clusters and node counts, the provider's
    walltime, reservation date, queue and job type; a running or waiting job of the same name
    is reused. Deploy jobs get the kadeploy environment C(provider.env_name); KaVLAN puts the
    nodes and their second interface in the reserved VLANs when C(provider.kavlan) is true.
  - Returns the resource state (C(resources.json)); C(state=absent) deletes the environment's
    jobs, C(state=status) reports them.
  - Credentials come from C(G5K_USERNAME)/C(G5K_PASSWORD) or C(~/.python-grid5000.yaml).
version_added: "0.1.0"
author: edge.enos developers (@edge-enos)
extends_documentation_fragment: [edge.enos.provider]
options:
  api_url:
    description: The Grid'5000 API; default C(provider.api_url), else Grid'5000's.
    type: str
  state:
    description: C(present) reserves, C(absent) deletes the jobs, C(status) reports them.
    type: str
    choices: [present, absent, status]
    default: present
  timeout:
    description: Seconds to wait for a job to run and for a deployment to end.
    type: int
    default: 3600
"""

EXAMPLES = r"""
- name: Reserve and deploy the nodes
  edge.enos.g5k_jobs:
    topology: /srv/env/topology.yml
    env_dir: /srv/env
  register: g5k
"""

RETURN = r"""
resources:
  description: The resource state (state=present).
  returned: state is present
  type: dict
jobs:
  description: The environment's jobs (site, uid, state or reused).
  returned: always
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.edge.enos.plugins.module_utils.provider_common import (
    ProviderError, module_environment, reservation_args)
from ansible_collections.edge.enos.plugins.module_utils import provider_g5k as g5k


def main():
    module = AnsibleModule(
        argument_spec=reservation_args(3600, api_url=dict(type="str")),
        supports_check_mode=True,
    )
    from ansible_collections.edge.enos.plugins.module_utils.topology import (
        load_topology, TopologyError)
    params = module.params
    env_dir, recorded, environment = module_environment(params)
    try:
        import grid5000
    except ImportError:
        module.fail_json(msg="python-grid5000 is missing on the controller (pip install "
                             "python-grid5000; scripts/setup.sh installs it)")
    try:
        topo = load_topology(params["topology"])
        username, password = g5k.credentials(topo.provider)
        client = grid5000.Grid5000(
            uri=params["api_url"] or topo.provider.get("api_url", g5k.DEFAULT_API),
            username=username, password=password)
        provider = g5k.G5k(client, topo.provider, timeout=params["timeout"])
        if params["state"] == "status":
            module.exit_json(changed=False, jobs=provider.status(topo, recorded))
        if params["state"] == "absent":
            jobs = provider.status(topo, recorded)
            if not module.check_mode:
                jobs = provider.destroy(topo, recorded)
            module.exit_json(changed=bool(jobs), jobs=jobs)
        if module.check_mode:
            planned = g5k.plan_jobs(topo, topo.provider, g5k.cluster_sites(client))
            existing = [j["site"] for j in planned if provider.find_job(j["site"])]
            module.exit_json(changed=len(existing) < len(planned), jobs=planned)
        resources = provider.up(topo, environment)
    except (TopologyError, ProviderError) as exc:
        module.fail_json(msg="g5k provider: %s" % exc)
    jobs = resources["g5k"]["jobs"]
    module.exit_json(changed=not all(j["reused"] for j in jobs), jobs=jobs, resources=resources)


if __name__ == "__main__":
    main()
