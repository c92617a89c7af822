"""The `enos` command: check, new, info and the verbs' plumbing, through the real console script."""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ENOS = os.path.join(os.path.dirname(sys.executable), "enos")
GOOD = sorted(glob.glob(os.path.join(ROOT, "tests", "fixtures", "enos", "*.yaml")))
BAD = sorted(glob.glob(os.path.join(ROOT, "tests", "fixtures", "bad", "*.yaml")))


def enos(*args, cwd=ROOT):
    return subprocess.run([ENOS] + list(args), cwd=cwd, capture_output=True, text=True, check=False, timeout=120)


@pytest.mark.parametrize("path", GOOD + [os.path.join(ROOT, "inventories", "local.yml")],
                         ids=os.path.basename)
def test_check_accepts_enos_reservations(path):
    result = enos("check", "-f", path)
    assert result.returncode == 0, result.stderr
    assert ": valid (" in result.stdout
    assert "sites:" in result.stdout and "roles:" in result.stdout


@pytest.mark.parametrize("path", BAD, ids=os.path.basename)
def test_check_refuses_bad_input_with_file_line_and_fix(path):
    result = enos("check", "-f", path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    problems = [line for line in result.stderr.splitlines() if line.startswith(path + ":")]
    assert problems, result.stderr
    for line in problems:
        location = line[len(path) + 1:].split(":", 1)[0]
        assert location.isdigit(), line
        assert line.rstrip().endswith(")"), "no fix given: %s" % line


def test_check_prints_the_constraints_matrix():
    result = enos("check", "-f", os.path.join(ROOT, "inventories", "local.yml"))
    rows = dict((line.split()[0], line.split()[1:]) for line in result.stdout.splitlines()
                if line.startswith("grp"))
    assert rows["grp1"] == ["-", "25ms/100mbit", "60ms/50mbit"]
    assert rows["grp2"][2] == "40ms/100mbit/1%"
    as_json = json.loads(enos("check", "--json", "-f",
                              os.path.join(ROOT, "inventories", "local.yml")).stdout)
    assert as_json["hosts"] == 5 and len(as_json["links"]) == 6


def test_check_on_a_missing_file_says_what_to_do(tmp_path):
    result = enos("check", "-f", str(tmp_path / "nope.yaml"))
    assert result.returncode == 2
    assert "cannot read the file" in result.stderr and "enos new" in result.stderr


@pytest.mark.parametrize("provider", ["local", "static", "vagrant", "g5k", "chameleon", "openstack"])
def test_new_writes_a_valid_commented_file(tmp_path, provider):
    result = enos("new", "-p", provider, cwd=str(tmp_path))
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "reservation.yaml").read_text()
    assert text.count("#") > 5
    check = enos("check", "-f", "reservation.yaml", cwd=str(tmp_path))
    assert check.returncode == 0, check.stderr


def test_new_never_overwrites_without_force(tmp_path):
    target = tmp_path / "reservation.yaml"
    target.write_text("precious: true\n")
    result = enos("new", cwd=str(tmp_path))
    assert result.returncode == 2 and "--force" in result.stderr
    assert target.read_text() == "precious: true\n"


def test_invalid_topology_stops_a_verb_before_anything_runs(tmp_path):
    bad = os.path.join(ROOT, "tests", "fixtures", "bad", "unknown-group.yaml")
    result = enos("up", "-f", bad, "-e", str(tmp_path / "env"))
    assert result.returncode == 2
    assert "nothing was changed" in result.stderr
    assert not (tmp_path / "env").exists()


def test_verb_without_playbook_says_so(tmp_path):
    result = enos("bench", "-f", os.path.join(ROOT, "inventories", "local.yml"),
                  "-e", str(tmp_path / "env"))
    assert result.returncode == 3
    assert "bench.yml" in result.stderr


def test_info_shows_nodes_sites_roles_and_addresses(tmp_path):
    env = tmp_path / "env"
    env.mkdir()
    (env / "topology.yml").write_text(open(os.path.join(ROOT, "inventories", "local.yml")).read())
    (env / "resources.json").write_text(json.dumps({
        "environment": "enos-x", "hosts": [{"name": "grp2-compute-1", "address": "10.201.2.10",
                                            "interfaces": {"network_interface": {
                                                "device": "eth0", "address": "10.201.2.10"}}}],
        "router": {"kind": "uml", "name": "enos-x-wan", "pid": 42,
                   "interfaces": {"grp2": {"device": "vec1", "address": "10.201.2.254"}}}}))
    result = enos("info", "-e", str(env))
    assert result.returncode == 0, result.stderr
    line = [l for l in result.stdout.splitlines() if l.startswith("grp2-compute-1")][0]
    assert "grp2" in line and "compute" in line and "10.201.2.10(eth0)" in line
    assert "WAN router: enos-x-wan (uml, pid 42)" in result.stdout


def test_backup_verify_refuses_what_is_not_a_backup(tmp_path):
    bogus = tmp_path / "x.tar.gz"
    bogus.write_bytes(b"nope")
    result = enos("backup", "--verify", str(bogus))
    assert result.returncode == 2
    assert "not a readable backup tarball" in result.stderr


def test_report_from_a_missing_tarball_says_so(tmp_path):
    result = enos("report", "--backup", str(tmp_path / "none.tar.gz"))
    assert result.returncode == 2
    assert "no such backup tarball" in result.stderr


def test_report_of_an_environment_without_results(tmp_path):
    result = enos("report", "--env", str(tmp_path))
    assert result.returncode == 0, result.stderr
    page = (tmp_path / "reports" / "report.html").read_text()
    assert "no WAN measurement" in page and "no bench run" in page
