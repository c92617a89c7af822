"""Unit tests of the workload parser (plugins/module_utils/workload.py).

EnOS's own run.yml examples (its shipped sample, its tutorial, its documentation) are fixtures;
expected values are worked out by hand from them.
"""
import os
import textwrap

import pytest

from ansible_collections.edge.enos.plugins.module_utils.workload import (
    WorkloadError, enabled_services, expand_args, load_workload, plan_workload, plan_table,
    services_of)

from test_topology import split_problem

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures", "workloads")
ROOT = os.path.join(os.path.dirname(__file__), "..", "..")


def fixture(name):
    return os.path.join(FIXTURES, name)


def workload(tmp_path, run_yml, files=("task.yml",)):
    (tmp_path / "run.yml").write_text(textwrap.dedent(run_yml))
    for name in files:
        (tmp_path / name).write_text("---\n  Dummy.dummy:\n    - runner: {times: {{times}}}\n")
    return str(tmp_path)


def problems(directory):
    with pytest.raises(WorkloadError) as info:
        load_workload(directory)
    return [split_problem(line) for line in str(info.value).splitlines()]


# --------------------------------------------------------------------------- EnOS's files

def test_enos_shipped_sample_parses():
    scenarios = load_workload(fixture("enos-sample"))
    assert [(s["type"], s["name"], s["enabled"]) for s in scenarios] == [
        ("rally", "Boot and list servers on Nova", True),
        ("rally", "Create and update an image on Glance", True),
        ("shaker", "shaker instance_metadata", False),
        ("shaker", "shaker dense_l2", False)]
    assert scenarios[0]["args"] == {"concurrency": [10], "times": [10],
                                    "sla_max_avg_duration": 100}
    assert scenarios[0]["file"].endswith("enos-sample/nova-boot-list-cc.yml")
    assert scenarios[3]["file"] == "openstack/dense_l2"       # a Shaker alias, kept as is


def test_enos_tutorial_parses_and_refuses_shaker_on_the_fake_driver():
    scenarios = load_workload(fixture("enos-tutorial"))
    plan = plan_workload(scenarios, services={"keystone", "nova", "neutron", "glance"},
                         compute_driver="fake")
    assert [t["args"] for t in plan["tasks"]] == [
        {"concurrency": 5, "times": 10, "sla_max_avg_duration": 30}]
    assert len(plan["refused"]) == 1
    assert "Shaker needs Nova to boot real VMs" in plan["refused"][0]["reason"]
    assert "shaker:OpenStack L3 East-West Dense" in plan["refused"][0]["reason"]


def test_enos_documentation_example_scenario_args_win():
    plan = plan_workload(load_workload(fixture("enos-docs")))
    # times: 50 (scenario) shadows times: [100] (top); concurrency 1, 2, 4 -> three runs
    assert [(t["args"]["concurrency"], t["args"]["times"]) for t in plan["tasks"]] == [
        (1, 50), (2, 50), (4, 50)]


# --------------------------------------------------------------------------- expansion

def test_two_list_args_of_2_and_3_values_give_6_tasks_per_scenario():
    plan = plan_workload(load_workload(fixture("dummy-2x3")))
    by_scenario = {}
    for task in plan["tasks"]:
        by_scenario.setdefault(task["scenario"], []).append(task)
    assert sorted(by_scenario) == ["dummy sleep", "dummy timed atomic actions"]
    for scenario, tasks in by_scenario.items():
        assert len(tasks) == 6, scenario
        assert sorted((t["args"]["concurrency"], t["args"]["times"]) for t in tasks) == [
            (1, 2), (1, 3), (1, 4), (2, 2), (2, 3), (2, 4)]
    assert all(t["args"]["sleep"] == 0.01 for t in by_scenario["dummy timed atomic actions"])
    # no leak (EnOS bug): `sleep` of the first scenario is not an arg of the second
    assert all("sleep" not in t["args"] for t in by_scenario["dummy sleep"])
    assert len({t["id"] for t in plan["tasks"]}) == 12


def test_expand_args_keeps_order_and_scalars():
    assert expand_args({"a": [1, 2], "b": "x", "c": [True, False]}) == [
        {"a": 1, "b": "x", "c": True}, {"a": 1, "b": "x", "c": False},
        {"a": 2, "b": "x", "c": True}, {"a": 2, "b": "x", "c": False}]
    assert expand_args({}) == [{}]


def test_scenario_args_do_not_leak_into_the_next_scenario(tmp_path):
    directory = workload(tmp_path, """\
        rally:
          args: {times: 10}
          scenarios:
            - {name: a, file: task.yml, args: {times: 50, sla_max_avg_duration: 30}}
            - {name: b, file: task.yml}
        """)
    plan = plan_workload(load_workload(directory))
    assert [t["args"] for t in plan["tasks"]] == [
        {"times": 50, "sla_max_avg_duration": 30}, {"times": 10}]


def test_enabled_top_and_per_scenario(tmp_path):
    directory = workload(tmp_path, """\
        rally:
          scenarios:
            - {name: kept, file: task.yml}
            - {name: dropped, file: task.yml, enabled: false}
        iperf3:
          enabled: false
          scenarios:
            - {name: wan}
        """)
    plan = plan_workload(load_workload(directory))
    assert [t["scenario"] for t in plan["tasks"]] == ["kept"]
    assert [(s["scenario"], s["reason"]) for s in plan["skipped"]] == [
        ("dropped", "disabled in run.yml"), ("wan", "disabled in run.yml")]


def test_plugin_osprofiler_and_iperf3_defaults(tmp_path):
    (tmp_path / "plugins").mkdir()
    directory = workload(tmp_path, """\
        rally:
          scenarios:
            - {name: traced, file: task.yml, plugin: plugins, osprofiler: true}
        iperf3:
          args: {duration: 2}
          scenarios:
            - {name: wan, sites: [grp1, grp2]}
        """)
    plan = plan_workload(load_workload(directory))
    rally, iperf = plan["tasks"]
    assert rally["osprofiler"] is True and rally["plugins"] == [str(tmp_path / "plugins")]
    assert iperf["args"] == {"duration": 2, "count": 20, "interval_ms": 20, "parallel": 1}
    assert iperf["sites"] == ["grp1", "grp2"]
    assert "[osprofiler]" in plan_table(plan)


# --------------------------------------------------------------------------- services

def test_services_are_read_from_the_task_files():
    scenarios = load_workload(fixture("enos-sample"))
    assert services_of(scenarios[0]) == ["neutron", "nova"]     # NovaServers + network context
    assert services_of(scenarios[1]) == ["glance"]
    assert services_of(load_workload(fixture("dummy-2x3"))[0]) == []


def test_scenarios_of_services_not_enabled_are_skipped_with_the_reason():
    scenarios = load_workload(fixture("enos-sample"))
    services = enabled_services({"enable_openstack_core": "no", "enable_keystone": "yes",
                                 "enable_glance": "yes"})
    assert services == {"keystone", "glance"}
    plan = plan_workload(scenarios, services=services)
    assert {t["scenario"] for t in plan["tasks"]} == {"Create and update an image on Glance"}
    skipped = dict((s["scenario"], s["reason"]) for s in plan["skipped"])
    assert skipped["Boot and list servers on Nova"] == (
        'needs neutron, nova, not enabled in this deployment '
        '(kolla: enable_neutron: "yes", enable_nova: "yes")')


def test_default_workload_ships_and_parses():
    scenarios = load_workload(os.path.join(ROOT, "workloads", "default"))
    needs = {s["name"]: services_of(s) for s in scenarios if s["type"] == "rally"}
    assert {"keystone", "nova", "glance", "neutron"} == set().union(*needs.values())
    plan = plan_workload(scenarios, services={"keystone"})
    rally = [t for t in plan["tasks"] if t["type"] == "rally"]
    assert len(rally) == 2 and all(t["services"] == ["keystone"] for t in rally)
    assert [t["type"] for t in plan["tasks"] if t["type"] != "rally"] == ["iperf3"]
    for path in {s["file"] for s in scenarios if s["type"] == "rally"}:
        text = open(path).read()
        assert "http://" not in text and "https://" not in text, path


# --------------------------------------------------------------------------- errors

def test_missing_run_yml(tmp_path):
    with pytest.raises(WorkloadError) as info:
        load_workload(str(tmp_path))
    assert str(info.value).startswith("%s: (file): cannot read the file" % (tmp_path / "run.yml"))


def test_errors_name_file_line_key_and_fix(tmp_path):
    directory = workload(tmp_path, """\
        rally:
          enabld: true
          args: {times: []}
          scenarios:
            - name: a
              file: missing.yml
              osprofiler: "yes"
            - file: task.yml
              plugin: nowhere
        shakr: {}
        iperf3:
          scenarios:
            - {name: wan, args: {durations: 3}}
        """)
    found = [(os.path.basename(f), line, key, problem) for f, line, key, problem, _fix
             in problems(directory)]
    assert found == [
        ("run.yml", 2, "rally.enabld", "unknown key"),
        ("run.yml", 3, "rally.args.times", "an empty list gives no run"),
        ("run.yml", 6, "rally.scenarios[0].file",
         "%s does not exist" % (tmp_path / "missing.yml")),
        ("run.yml", 7, "rally.scenarios[0].osprofiler", "must be true or false"),
        ("run.yml", 8, "rally.scenarios[1].name", "every scenario needs a name"),
        ("run.yml", 9, "rally.scenarios[1].plugin", "%s does not exist" % (tmp_path / "nowhere")),
        ("run.yml", 10, "shakr", "unknown bench type"),
        ("run.yml", 13, "iperf3.scenarios[0].args.durations", "unknown iperf3 argument"),
    ]
    fixes = [fix for *_rest, fix in problems(directory)]
    assert fixes[0] == "did you mean `enabled`?" and fixes[6] == "did you mean `shaker`?"


def test_jinja_syntax_error_is_reported_in_the_task_file(tmp_path):
    directory = workload(tmp_path, """\
        rally:
          scenarios:
            - {name: a, file: bad.yml}
        """, files=())
    (tmp_path / "bad.yml").write_text("---\n  Dummy.dummy:\n    - runner: {times: {{times}\n")
    [(path, line, key, problem, _fix)] = problems(directory)
    assert (path, line, key) == (str(tmp_path / "bad.yml"), 3, "rally.scenarios[0].file")
    assert problem.startswith("Jinja syntax error")


def test_yaml_errors_and_duplicate_keys(tmp_path):
    directory = workload(tmp_path, "rally:\n  args: {times: 1}\n  args: {times: 2}\n")
    [(_path, line, key, problem, _fix)] = problems(directory)
    assert (line, key, problem) == (3, "args", "duplicate key (first at line 2)")
    directory = workload(tmp_path, "rally: [\n")
    assert problems(directory)[0][3].startswith("YAML syntax error")
