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


WORKLOADS = os.path.join(ROOT, "tests", "fixtures", "workloads")
LOCAL = os.path.join(ROOT, "inventories", "local.yml")


def test_check_workload_prints_the_expanded_plan():
    result = enos("check", "--workload", os.path.join(WORKLOADS, "dummy-2x3"))
    assert result.returncode == 0, result.stderr
    assert "valid (2 scenarios, 12 tasks)" in result.stdout
    assert "concurrency=2, sleep=0.01, times=4" in result.stdout


def test_check_workload_refuses_bad_input_with_file_line_and_fix(tmp_path):
    (tmp_path / "run.yml").write_text("rally:\n  scenarios:\n    - {name: a, file: nope.yml}\n")
    result = enos("check", "--workload", str(tmp_path))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "%s:3: rally.scenarios[0].file: " % (tmp_path / "run.yml") in result.stderr
    assert "nothing was run" in result.stderr


def test_bench_dry_run_prints_the_plan_and_runs_nothing(tmp_path):
    import yaml
    result = enos("bench", "--dry-run", "-f", LOCAL, "--workload",
                  os.path.join(ROOT, "workloads", "default"), cwd=str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "rally-02-nova-boot-and-list-servers-1" in result.stdout
    assert "iperf3-00-data-plane-between-sites-1" in result.stdout
    assert not os.listdir(str(tmp_path))
    # a deployment of Keystone alone: the other services' scenarios are skipped, with the reason
    topology = yaml.safe_load(open(LOCAL))
    topology["kolla"] = {"enable_keystone": "yes"}
    (tmp_path / "keystone.yml").write_text(yaml.safe_dump(topology))
    result = enos("bench", "--dry-run", "-f", "keystone.yml", "--workload",
                  os.path.join(ROOT, "workloads", "default"), cwd=str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "rally-00-keystone-authenticate-1" in result.stdout
    assert "skipped rally:nova boot and list servers: needs neutron, nova" in result.stdout


def test_bench_refuses_shaker_on_the_fake_driver_before_anything_runs(tmp_path):
    result = enos("bench", "-f", LOCAL, "-e", str(tmp_path / "env"), "--workload",
                  os.path.join(WORKLOADS, "enos-tutorial"), cwd=str(tmp_path))
    assert result.returncode == 2
    assert "Shaker needs Nova to boot real VMs" in result.stderr
    assert not (tmp_path / "env").exists()


def test_bench_compare_two_runs(tmp_path):
    for run, factor in (("A", 1), ("B", 3)):
        (tmp_path / run).mkdir()
        total = {"iterations": 10, "success_pct": 100.0, "min": 1.0, "median": 2.0 * factor,
                 "p90": 3.0, "p95": 4.0, "max": 5.0}
        workload = {"scenario": "NovaServers.boot_and_list_server", "actions": {"total": total}}
        summary = {"run_id": run, "tasks": [{"id": "t", "type": "rally", "scenario": "boot",
                                             "args": {}, "workloads": [workload]}]}
        (tmp_path / run / "summary.json").write_text(json.dumps(summary))
    result = enos("bench", "--compare", str(tmp_path / "A"),
                  str(tmp_path / "B"))
    assert result.returncode == 0, result.stderr
    row = [line for line in result.stdout.splitlines() if line.startswith("boot")][0].split()
    assert row[3:6] == ["2.000", "6.000", "+200.0%"]
    missing = enos("bench", "--compare", str(tmp_path / "A"), str(tmp_path))
    assert missing.returncode == 2 and "no summary.json" in missing.stderr


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


def test_summary_says_which_roles_and_tasks_took_the_time(monkeypatch):
    sys.path.insert(0, ROOT)
    import driver

    now = [0.0]
    monkeypatch.setattr(driver.time, "time", lambda: now[0])
    progress = driver.Progress("up", stream=open(os.devnull, "w"))
    for at, kind, data in [
            (0.0, "playbook_on_play_start", {"play": "nodes"}),
            (0.5, "playbook_on_task_start", {"task": "Run the node containers",
                                             "role": "edge.enos.local_provider"}),
            (10.0, "runner_on_ok", {"host": "localhost"}),
            (10.5, "playbook_on_task_start", {"task": "Install the engine",
                                              "role": "edge.enos.docker"}),
            (30.0, "runner_on_ok", {"host": "n1"}),
            (40.0, "runner_on_failed", {"host": "n2", "task": "Install the engine",
                                        "res": {"msg": "no space left"}}),
            (40.5, "playbook_on_task_start", {"task": "Say hello", "role": None}),
            (41.5, "playbook_on_stats", {})]:
        now[0] = at
        progress({"event": kind, "event_data": data})
    assert progress.failures == ["  ! n2: Install the engine: no space left"]
    lines = driver.slowest(progress.steps)
    assert lines[0] == "time by role: docker 30s, local_provider 10s, - 1s"
    assert lines[1] == "slowest tasks:"
    assert lines[2].split() == ["30.0s", "73%", "docker", ":", "Install", "the", "engine",
                                "(2", "hosts)"]
    assert "local_provider : Run the node containers (1 host)" in lines[3]


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
