# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # The options every testbed provider module takes (edge.enos.provider).
    DOCUMENTATION = r"""
options:
  topology:
    description: The topology file.
    type: path
    required: true
  env_dir:
    description: The environment directory (its C(resources.json) records what was made).
    type: path
    required: true
  environment:
    description:
      - Name of the environment (prefix and label of what is made). Default, the name in
        C(resources.json), else C(enos-) and a short hash of the environment directory.
    type: str
"""
