"""`enos new -p <provider>` writes a file that `enos check` accepts and that names every key the
provider needs; the provider keys are checked before anything is reserved."""
import subprocess
import sys
from pathlib import Path

import pytest

from ansible_collections.edge.enos.plugins.module_utils.provider_common import (
    PROVIDER_KEYS, REQUIRED_KEYS, provider_problems)
from ansible_collections.edge.enos.plugins.module_utils.topology import load_topology

ROOT = Path(__file__).resolve().parents[2]
ENOS = [sys.executable, str(ROOT / "driver.py")]


@pytest.mark.parametrize("provider", ["vagrant", "g5k", "chameleon", "openstack"])
def test_enos_new_writes_a_file_enos_check_accepts(tmp_path, provider):
    out = tmp_path / ("%s.yaml" % provider)
    subprocess.run(ENOS + ["new", "-p", provider, "-o", str(out)], check=True,
                   capture_output=True, text=True)
    check = subprocess.run(ENOS + ["check", "-f", str(out)], capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stderr
    topo = load_topology(str(out))
    assert provider_problems(topo) == []
    for key in REQUIRED_KEYS[provider]:
        assert key in topo.provider, key


def test_readme_documents_every_provider_key():
    readme = (ROOT / "README.md").read_text()
    missing = ["%s.%s" % (p, k) for p, keys in PROVIDER_KEYS.items() for k in keys
               if "`%s`" % k not in readme]
    assert not missing, missing


def test_enos_check_refuses_bad_provider_keys_with_file_line_and_fix(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("provider:\n  type: g5k\n  walltime: 2h\n  job_type: batch\n  jobname: x\n"
                   "resources:\n  paravance: {compute: 1}\n")
    check = subprocess.run(ENOS + ["check", "-f", str(bad)], capture_output=True, text=True, check=False)
    assert check.returncode == 2
    assert "bad.yaml:3: provider.walltime: '2h' is not a walltime (write HH:MM:SS" in check.stderr
    assert "bad.yaml:4: provider.job_type: unknown job_type 'batch' (use one of: deploy, " \
           "allow_classic_ssh)" in check.stderr
    assert "bad.yaml:5: provider.jobname: unknown key for provider g5k (did you mean " \
           "`job_name`?)" in check.stderr
    assert "Traceback" not in check.stderr


def test_enos_fixture_files_of_testbed_providers_stay_valid():
    for name in ("vagrant-2nics.yaml", "grid5000-machines.yaml", "chameleon.yaml",
                 "tutorial.yaml"):
        topo = load_topology(str(ROOT / "tests" / "fixtures" / "enos" / name))
        assert provider_problems(topo) == [], name
