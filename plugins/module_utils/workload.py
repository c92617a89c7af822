# -*- coding: utf-8 -*-
# Copyright: edge.enos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""EnOS workloads (``enos bench --workload DIR``): parse, validate and expand ``DIR/run.yml``.

The format is EnOS's::

    rally:                         # a bench type: rally, shaker, or iperf3 (local data plane)
      enabled: true                # default true; a scenario runs when both levels say so
      args: {concurrency: [1, 2], times: [10]}    # every list is expanded (cartesian product)
      scenarios:
        - name: boot and list servers
          file: nova-boot-list-cc.yml              # a Jinja template, relative to DIR
          args: {sla_max_avg_duration: 30}         # wins over the top-level args
          plugin: plugins/                         # Rally --plugin-paths, relative to DIR
          osprofiler: true                         # trace the iterations (Rally only)

Unlike EnOS, a scenario's args never leak into the next scenario. Problems are reported as
``FILE:LINE: key: problem (fix)`` with the topology's helpers.
"""

from __future__ import annotations

import itertools
import os
import re

from ansible_collections.edge.enos.plugins.module_utils.topology import (
    Problem, TopologyError, _did_you_mean, _line, plain, read_yaml)

__all__ = ["WorkloadError", "load_workload", "expand_args", "plan_workload", "services_of",
           "enabled_services", "WORKLOAD_FILE", "BENCH_TYPES"]

WORKLOAD_FILE = "run.yml"
BENCH_TYPES = ("rally", "shaker", "iperf3")
TOP_KEYS = ("enabled", "args", "scenarios")
SCENARIO_KEYS = {
    "rally": ("name", "file", "args", "enabled", "plugin", "osprofiler", "services"),
    # EnOS: `file` is a Shaker scenario alias (openstack/dense_l2), not a path of the workload
    "shaker": ("name", "file", "args", "enabled"),
    "iperf3": ("name", "args", "enabled", "sites"),
}
IPERF3_ARGS = {"duration": 5, "count": 20, "interval_ms": 20, "parallel": 1}

# Rally scenario/context name prefixes -> the OpenStack service they need (Kolla's enable_*)
SERVICE_PREFIXES = (
    ("Authenticate", "keystone"), ("Keystone", "keystone"), ("Nova", "nova"),
    ("Glance", "glance"), ("Neutron", "neutron"), ("Cinder", "cinder"), ("Heat", "heat"),
    ("Swift", "swift"), ("Designate", "designate"), ("Octavia", "octavia"),
    ("Manila", "manila"), ("Magnum", "magnum"), ("Ironic", "ironic"), ("Barbican", "barbican"),
)
# contexts that need a service although the scenario's name does not say so
CONTEXT_SERVICES = {"network": "neutron", "images": "glance", "servers": "nova",
                    "flavors": "nova", "volumes": "cinder", "stacks": "heat"}
_SCENARIO_RE = re.compile(r"^\s*\"?(?P<name>[A-Z][A-Za-z0-9]*)\.[a-z_0-9]+\"?\s*:", re.M)
_CONTEXT_RE = re.compile(r"^\s+\"?(?P<name>%s)\"?\s*:" % "|".join(CONTEXT_SERVICES), re.M)


class WorkloadError(TopologyError):
    """Every problem of a workload; str() has one `FILE:LINE: key: problem (fix)` per line."""


class _Workload(object):
    def __init__(self, directory):
        self.directory = directory
        self.path = os.path.join(directory, WORKLOAD_FILE)
        self.problems = []
        self.scenarios = []          # [{type, index, name, file, args, plugins, osprofiler, ...}]

    def error(self, container, key, dotted, problem, fix=None, path=None):
        self.problems.append(Problem(path or self.path, _line(container, key), dotted, problem,
                                     fix))

    def bool_key(self, container, key, dotted):
        value = container.get(key, True)
        if not isinstance(value, bool):
            self.error(container, key, dotted, "must be true or false, got %r" % (value,),
                       "write `%s: true` or `%s: false`" % (key, key))
            return True
        return value

    def args(self, container, dotted):
        args = container.get("args", {})
        if args is None:
            return {}
        if not isinstance(args, dict):
            self.error(container, "args", dotted, "must be a mapping of template arguments",
                       "write e.g. `args: {times: [10], concurrency: [1, 2]}`")
            return {}
        for key, value in args.items():
            if isinstance(value, list) and not value:
                self.error(args, key, "%s.%s" % (dotted, key), "an empty list gives no run",
                           "give at least one value, e.g. `%s: [1]`" % key)
        return args

    def relative_path(self, container, key, dotted, kind):
        value = container.get(key)
        if not isinstance(value, str) or not value.strip():
            self.error(container, key, dotted, "must be the path of a %s, relative to the "
                       "workload directory" % kind, "write e.g. `%s: my-task.yml`" % key)
            return None
        path = os.path.normpath(os.path.join(self.directory, value))
        if not os.path.exists(path):
            self.error(container, key, dotted, "%s does not exist" % path,
                       "put the %s in %s or fix the path" % (kind, self.directory))
            return None
        return path


def load_workload(directory):
    """Read and validate DIR/run.yml; return the list of scenarios (plain dicts).

    Each scenario: {type, index, name, enabled, args (merged, not expanded), file, plugins,
    osprofiler, services (declared or None), sites (iperf3), line}. Raises WorkloadError.
    """
    wl = _Workload(os.path.abspath(directory))
    if not os.path.isdir(wl.directory):
        raise WorkloadError([Problem(directory, None, None, "is not a directory",
                                     "give the workload directory that holds run.yml")])
    try:
        with open(wl.path) as handle:
            text = handle.read()
    except (IOError, OSError) as exc:
        raise WorkloadError([Problem(wl.path, None, None, "cannot read the file: %s"
                                     % getattr(exc, "strerror", exc),
                                     "write a run.yml with `rally:` scenarios (see the "
                                     "collection's workloads/default/run.yml)")])
    try:
        data = read_yaml(text, wl.path)
    except TopologyError as exc:
        raise WorkloadError(exc.problems)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise WorkloadError([Problem(wl.path, getattr(data, "line", 1), None,
                                     "the file must be a mapping of bench types",
                                     "start with `rally:` (or shaker:, iperf3:)")])
    for bench_type, section in data.items():
        if bench_type not in BENCH_TYPES:
            wl.error(data, bench_type, bench_type, "unknown bench type",
                     _did_you_mean(bench_type, BENCH_TYPES) or
                     "use %s" % ", ".join(BENCH_TYPES))
            continue
        _parse_section(wl, data, bench_type, section)
    if wl.problems:
        raise WorkloadError(wl.problems)
    return wl.scenarios


def _parse_section(wl, data, bench_type, section):
    if section is None:
        return
    if not isinstance(section, dict):
        wl.error(data, bench_type, bench_type, "must be a mapping",
                 "indent `enabled`, `args` and `scenarios` under `%s:`" % bench_type)
        return
    for key in section:
        if key not in TOP_KEYS:
            wl.error(section, key, "%s.%s" % (bench_type, key), "unknown key",
                     _did_you_mean(key, TOP_KEYS) or "known keys: %s" % ", ".join(TOP_KEYS))
    enabled = wl.bool_key(section, "enabled", "%s.enabled" % bench_type)
    top_args = wl.args(section, "%s.args" % bench_type)
    scenarios = section.get("scenarios") or []
    if not isinstance(scenarios, list):
        wl.error(section, "scenarios", "%s.scenarios" % bench_type, "must be a list",
                 "write `- name: ...` items under `scenarios:`")
        return
    for index, scenario in enumerate(scenarios):
        dotted = "%s.scenarios[%d]" % (bench_type, index)
        if not isinstance(scenario, dict):
            wl.error(scenarios, index, dotted, "must be a mapping",
                     "write `- {name: ..., file: ...}`")
            continue
        known = SCENARIO_KEYS[bench_type]
        for key in scenario:
            if key not in known:
                wl.error(scenario, key, "%s.%s" % (dotted, key), "unknown key",
                         _did_you_mean(key, known) or "known keys: %s" % ", ".join(known))
        name = scenario.get("name")
        if not isinstance(name, str) or not name.strip():
            wl.error(scenario, "name", dotted + ".name", "every scenario needs a name",
                     "write `name: boot and list servers`")
            name = "%s-%d" % (bench_type, index)
        # a copy: the scenario's args must not leak into the top level (EnOS's update() did)
        args = dict(top_args)
        args.update(wl.args(scenario, dotted + ".args"))
        entry = {"type": bench_type, "index": index, "name": name, "line": _line(scenarios, index),
                 "enabled": enabled and wl.bool_key(scenario, "enabled", dotted + ".enabled"),
                 "args": plain(args), "file": None, "plugins": [], "osprofiler": False,
                 "services": None, "sites": None}
        if bench_type == "rally":
            entry["file"] = wl.relative_path(scenario, "file", dotted + ".file", "Rally task file")
            if entry["file"]:
                _check_template(wl, entry["file"], dotted + ".file")
            if "plugin" in scenario:
                plugin = wl.relative_path(scenario, "plugin", dotted + ".plugin", "Rally plugin")
                entry["plugins"] = [plugin] if plugin else []
            entry["osprofiler"] = scenario.get("osprofiler", False)
            if not isinstance(entry["osprofiler"], bool):
                wl.error(scenario, "osprofiler", dotted + ".osprofiler", "must be true or false",
                         "write `osprofiler: true` to trace this scenario's iterations")
            entry["services"] = _string_list(wl, scenario, "services", dotted)
        elif bench_type == "shaker":
            if not isinstance(scenario.get("file"), str):
                wl.error(scenario, "file", dotted + ".file", "must name a Shaker scenario",
                         "write e.g. `file: openstack/dense_l2`")
            entry["file"] = scenario.get("file")
        else:
            entry["sites"] = _string_list(wl, scenario, "sites", dotted)
            own_args = scenario.get("args") or {}
            for key in args:
                if key not in IPERF3_ARGS:
                    wl.error(own_args if key in own_args else section.get("args"), key,
                             "%s.args.%s" % (dotted, key), "unknown iperf3 argument",
                             _did_you_mean(key, IPERF3_ARGS) or
                             "known: %s" % ", ".join(IPERF3_ARGS))
            entry["args"] = dict(IPERF3_ARGS, **entry["args"])
        wl.scenarios.append(entry)


def _string_list(wl, scenario, key, dotted):
    value = scenario.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        wl.error(scenario, key, "%s.%s" % (dotted, key), "must be a list of names",
                 "write e.g. `%s: [grp1, grp2]`" % key if key == "sites" else
                 "write e.g. `%s: [nova, neutron]`" % key)
        return None
    return list(value)


def _check_template(wl, path, dotted):
    """A Jinja syntax error in a task file, reported at its own line."""
    import jinja2
    try:
        with open(path) as handle:
            source = handle.read()
        jinja2.Environment().parse(source)
    except jinja2.TemplateSyntaxError as exc:
        wl.problems.append(Problem(path, exc.lineno, dotted, "Jinja syntax error: %s"
                                   % exc.message, "fix the template near this line"))
    except (IOError, OSError, UnicodeDecodeError) as exc:
        wl.problems.append(Problem(path, None, dotted, "cannot read the task file: %s" % exc,
                                   "give a readable text file"))


def expand_args(args):
    """Cartesian product of every list-valued arg: [{...}, ...] in a stable order (the keys in
    the order written, the values in the order listed). No list arg: one combination."""
    keys = list(args)
    choices = [args[k] if isinstance(args[k], list) else [args[k]] for k in keys]
    return [dict(zip(keys, combo)) for combo in itertools.product(*choices)]


def services_of(scenario):
    """The OpenStack services a scenario needs: its `services:`, else what its task file names
    (Rally scenario prefixes such as NovaServers, contexts such as `network`)."""
    if scenario.get("services") is not None:
        return sorted(set(scenario["services"]))
    if scenario["type"] == "shaker":
        return ["heat", "neutron", "nova"]
    if scenario["type"] != "rally" or not scenario.get("file"):
        return []
    with open(scenario["file"]) as handle:
        text = handle.read()
    found = set()
    for match in _SCENARIO_RE.finditer(text):
        for prefix, service in SERVICE_PREFIXES:
            if match.group("name").startswith(prefix):
                found.add(service)
    found.update(CONTEXT_SERVICES[m.group("name")] for m in _CONTEXT_RE.finditer(text))
    return sorted(found)


def _truthy(value):
    return value is True or str(value).strip().lower() in ("yes", "true", "1", "on")


def enabled_services(globals_):
    """Kolla globals -> the set of OpenStack services enabled (enable_<service>)."""
    core = _truthy(globals_.get("enable_openstack_core", "yes"))
    services = set()
    for _prefix, service in SERVICE_PREFIXES:
        default = core if service in ("keystone", "nova", "glance", "neutron", "heat") else False
        if _truthy(globals_.get("enable_%s" % service, default)):
            services.add(service)
    return services


def plan_workload(scenarios, services=None, compute_driver=None):
    """The runs of a workload: one task per scenario and combination of args.

    services: the set of OpenStack services enabled (None: do not check). compute_driver:
    'fake' when Nova cannot run real servers (Shaker is refused then).
    Returns {"tasks": [...], "skipped": [{scenario, type, reason}], "refused": [...]}.
    """
    tasks, skipped, refused = [], [], []
    for scenario in scenarios:
        label = "%s:%s" % (scenario["type"], scenario["name"])
        if not scenario["enabled"]:
            skipped.append({"scenario": scenario["name"], "type": scenario["type"],
                            "reason": "disabled in run.yml"})
            continue
        if scenario["type"] == "shaker":
            why = ("Nova runs the fake driver here" if compute_driver == "fake" else
                   "this release does not run Shaker yet")
            refused.append({"scenario": scenario["name"], "type": "shaker", "reason": (
                "%s: Shaker needs Nova to boot real VMs (with Heat and Shaker's agent image); "
                "%s. Disable the shaker section, or measure the data plane between sites with "
                "an `iperf3:` scenario" % (label, why))})
            continue
        needed = services_of(scenario)
        missing = [s for s in needed if services is not None and s not in services]
        if missing:
            skipped.append({"scenario": scenario["name"], "type": scenario["type"],
                            "reason": "needs %s, not enabled in this deployment (kolla: %s)" % (
                                ", ".join(missing),
                                ", ".join("enable_%s: \"yes\"" % s for s in missing))})
            continue
        slug = re.sub(r"[^a-z0-9]+", "-", scenario["name"].lower()).strip("-")[:40] or "scenario"
        for number, args in enumerate(expand_args(scenario["args"]), 1):
            tasks.append({
                "id": "%s-%02d-%s-%d" % (scenario["type"], scenario["index"], slug, number),
                "type": scenario["type"], "scenario": scenario["name"],
                "file": scenario["file"], "args": args, "plugins": scenario["plugins"],
                "osprofiler": scenario["osprofiler"], "services": needed,
                "sites": scenario["sites"]})
    return {"tasks": tasks, "skipped": skipped, "refused": refused}


def plan_table(plan):
    """The expanded plan as text, one line per task, then what is skipped and why."""
    lines = []
    for task in plan["tasks"]:
        args = ", ".join("%s=%s" % kv for kv in sorted(task["args"].items()))
        flags = " [osprofiler]" if task["osprofiler"] else ""
        where = os.path.basename(task["file"]) if task["file"] else ",".join(task["sites"] or [])
        lines.append("  %-44s %-28s %s%s" % (task["id"], where or "all sites", args, flags))
    for entry in plan["skipped"]:
        lines.append("  skipped %s:%s: %s" % (entry["type"], entry["scenario"], entry["reason"]))
    for entry in plan["refused"]:
        lines.append("  refused %s" % entry["reason"])
    return "\n".join(lines)
