#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: backup_archive
short_description: Pack everything an experiment produced into one tarball (EnOS's backup)
description:
  - Runs on the controller. Writes C(<environment>-<UTC time>.tar.gz) into O(dest) with
    C(manifest.json) (sha256 and size of every file, versions, image digests per node, bench runs
    with their Rally task ids and time windows, what was skipped and why).
  - The nodes' files (Kolla logs and configuration by default) are streamed over SSH with the
    environment's key, one file in memory at a time; every value of O(passwords_file), private
    keys and password-like assignments are redacted; C(passwords.yml) itself is never included.
  - With O(influx), an InfluxDB portable backup is taken online on that node (no gap in the
    metrics) and the series of each bench run's time window are added as CSV.
version_added: "0.1.0"
author: edge.enos developers (@edge-enos)
options:
  env_dir:
    description: The environment directory.
    type: path
    required: true
  dest:
    description: Directory the tarball is written to.
    type: path
    required: true
  nodes:
    description: "C([{name, address, user, key, port}]) of the nodes to read files from."
    type: list
    elements: dict
    default: []
  node_paths:
    description: "C([{paths: [...], name: folder}]): absolute paths read on every node, stored under C(nodes/<host>/<name>/)."
    type: list
    elements: dict
    default:
      - {name: kolla-logs, paths: [/var/lib/docker/volumes/kolla_logs/_data]}
      - {name: kolla-config, paths: [/etc/kolla]}
  influx:
    description: "C({node, url, rpc}): the InfluxDB node (a name of O(nodes)), its HTTP URL and backup service address; omit when monitoring is off."
    type: dict
  passwords_file:
    description: Kolla's passwords.yml; every value in it is redacted wherever it appears.
    type: path
notes:
  - Check mode reports what would be done and writes nothing.
"""

EXAMPLES = r"""
- name: Back up the environment
  edge.enos.backup_archive:
    env_dir: "{{ enos_env_dir }}"
    dest: "{{ enos_env_dir }}/backups"
    nodes:
      - {name: grp1-control-1, address: 10.201.1.10, user: root, key: "{{ enos_env_dir }}/id_ed25519"}
    passwords_file: "{{ enos_env_dir }}/kolla/passwords.yml"
"""

RETURN = r"""
path:
  description: The tarball written.
  type: str
  returned: success, not in check mode
files:
  description: Number of files in the tarball (manifest.json excepted).
  type: int
  returned: success, not in check mode
skipped:
  description: What was not backed up, and why.
  type: list
  elements: dict
  returned: success, not in check mode
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.edge.enos.plugins.module_utils import backup as bk


def main():
    module = AnsibleModule(argument_spec=dict(
        env_dir=dict(type="path", required=True),
        dest=dict(type="path", required=True),
        nodes=dict(type="list", elements="dict", default=[]),
        node_paths=dict(type="list", elements="dict", default=[
            {"name": "kolla-logs", "paths": ["/var/lib/docker/volumes/kolla_logs/_data"]},
            {"name": "kolla-config", "paths": ["/etc/kolla"]}]),
        influx=dict(type="dict"),
        passwords_file=dict(type="path", no_log=False),
    ), supports_check_mode=True)
    p = module.params
    if module.check_mode:
        module.exit_json(changed=True, msg="would write a backup of %s into %s" % (
            p["env_dir"], p["dest"]))
    root = os.path.abspath(os.path.join(os.path.dirname(bk.__file__), "..", ".."))
    messages = []
    try:
        path, manifest = bk.backup(
            p["env_dir"], p["dest"], p["nodes"], root, influx=p["influx"],
            node_paths=[(entry["paths"], entry["name"]) for entry in p["node_paths"]],
            passwords_file=p["passwords_file"], log=messages.append)
    except (bk.BackupError, OSError) as exc:
        module.fail_json(msg="backup failed: %s" % exc)
    module.exit_json(changed=True, path=path, files=len(manifest["files"]),
                     skipped=manifest["skipped"], log=messages)


if __name__ == "__main__":
    main()
