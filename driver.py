"""enos: the command line of edge.enos.

Each verb validates the topology, then runs the matching playbook of the collection through
ansible-runner with live progress, and ends with a summary and an exit code:
0 done, 1 a playbook failed, 2 invalid input, 3 the verb is not available.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import sys
import time

ROOT = os.path.dirname(os.path.abspath(__file__))
COLLECTIONS = os.path.join(ROOT, "collections")
if os.path.isdir(os.path.join(COLLECTIONS, "ansible_collections", "edge", "enos")):
    sys.path.insert(0, COLLECTIONS)

from ansible_collections.edge.enos.plugins.module_utils.cloud_info import cloud_summary, summary_lines  # noqa: E402
from ansible_collections.edge.enos.plugins.module_utils.topology import (  # noqa: E402
    TopologyError, format_delay, format_rate, iter_links, link_kinds, load_topology, parse_topology,
    read_yaml)
from ansible_collections.edge.enos.plugins.module_utils.provider_common import (  # noqa: E402
    format_problems, provider_problems)
from ansible_collections.edge.enos.plugins.module_utils import bench  # noqa: E402
from ansible_collections.edge.enos.plugins.module_utils.workload import (  # noqa: E402
    WorkloadError, load_workload, plan_table)
from ansible_collections.edge.enos.plugins.module_utils.annotations import annotate  # noqa: E402

EXIT_OK, EXIT_FAILED, EXIT_INVALID, EXIT_UNAVAILABLE = 0, 1, 2, 3
DEFAULT_TOPOLOGY = "reservation.yaml"
STATE_FILE = "resources.json"
REQUIREMENTS = os.path.join(ROOT, "requirements.yml")


class UsageError(Exception):
    """Bad input from the user: printed as is, exit code 2."""


# --------------------------------------------------------------------------- environments

def resolve_env(env_opt, create=False):
    """The environment directory: --env, else ./current (the newest); created on `up`."""
    if env_opt:
        path = os.path.abspath(env_opt)
        if create:
            os.makedirs(path, exist_ok=True)
        return path
    current = os.path.abspath("current")
    if os.path.isdir(current):
        return os.path.realpath(current)
    if not create:
        raise UsageError("no environment here: ./current does not exist (run `enos up` or "
                         "`enos deploy` first, or give one with --env DIR)")
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = os.path.abspath("env_%s" % stamp)
    os.makedirs(path)
    if os.path.islink(current):
        os.unlink(current)
    os.symlink(os.path.basename(path), current)
    return path


def topology_file(args, env_dir):
    """The topology to use: -f, else the copy kept in the environment, else ./reservation.yaml."""
    if getattr(args, "file", None):
        return os.path.abspath(args.file)
    kept = os.path.join(env_dir, "topology.yml") if env_dir else None
    if kept and os.path.exists(kept):
        return kept
    return os.path.abspath(DEFAULT_TOPOLOGY)


def prepare_env(env_dir, source):
    """Keep a copy of the topology in the environment and an inventory file pointing at it."""
    os.makedirs(os.path.join(env_dir, "logs"), exist_ok=True)
    kept = os.path.join(env_dir, "topology.yml")
    if os.path.abspath(source) != kept:
        shutil.copyfile(source, kept)
    inventory = os.path.join(env_dir, "inventory.yml")
    with open(inventory, "w") as handle:
        handle.write("# written by enos: the environment's topology as an inventory\n"
                     "plugin: edge.enos.topology\nreservation: topology.yml\nenv: %s\n"
                     % json.dumps(env_dir))
    return inventory


def validated(path):
    try:
        topo = load_topology(path)
    except TopologyError as exc:
        raise UsageError("invalid topology, nothing was changed:\n%s" % exc)
    problems = provider_problems(topo)
    if problems:
        raise UsageError("invalid topology, nothing was changed:\n%s"
                         % format_problems(path, problems))
    for warning in topo.warnings:
        print("warning: %s" % warning, file=sys.stderr)
    return topo


# --------------------------------------------------------------------------- playbook runs

class Progress(object):
    """Live progress from ansible-runner events: plays, the tasks that ran (skipped ones are not
    listed), failures, and what roles say to the user.

    Convention: a role tells the user something with an `ansible.builtin.debug` task (its `msg`,
    a line or a list of lines); `enos` prints it under the task, once per distinct message.
    Diagnostics meant for debugging use `verbosity: 1` and stay hidden."""

    DEBUG_ACTIONS = ("debug", "ansible.builtin.debug", "ansible.legacy.debug")

    def __init__(self, verb, verbose=False, stream=None):
        self.verb, self.verbose, self.stream = verb, verbose, stream
        self.started = time.time()
        self.failures = []
        self.steps = []     # [role, task, started, ended, hosts]: where the run's time went
        self.pending_task = None
        self.said = set()

    def elapsed(self):
        return "%5.0fs" % (time.time() - self.started)

    def __call__(self, event):
        kind = event.get("event") or ""
        data = event.get("event_data", {})
        now = time.time()
        if self.steps and self.steps[-1][3] is None and kind in (
                "playbook_on_play_start", "playbook_on_task_start", "playbook_on_stats"):
            self.steps[-1][3] = now
        if kind.startswith("runner_on_") and self.steps and data.get("host"):
            self.steps[-1][4].add(data["host"])
        if kind == "playbook_on_play_start":
            self.pending_task = None
            self.emit("PLAY %s" % data.get("play", ""))
        elif kind == "playbook_on_task_start":
            self.steps.append([data.get("role") or "-", data.get("task", ""), now, None, set()])
            self.pending_task = data.get("task", "")
        elif kind in ("runner_on_failed", "runner_on_unreachable") and not data.get("ignore_errors"):
            self.task_ran()
            result = data.get("res", {}) or {}
            message = result.get("msg") or result.get("stderr") or result.get("reason") or ""
            if result.get("_ansible_no_log"):
                message = "(output hidden: the task handles secrets)"
            line = "  ! %s: %s: %s" % (data.get("host"), data.get("task"), str(message).strip()[:2000])
            self.failures.append(line)
            self.emit(line)
        elif kind in ("runner_on_ok", "runner_on_failed", "runner_on_unreachable"):
            self.task_ran()
            result = data.get("res") or {}
            if data.get("task_action") in self.DEBUG_ACTIONS and not result.get("_ansible_no_log"):
                self.say(data.get("task_uuid"), result)
            self.progress(result)
            if self.verbose:
                self.emit("    ok: %s%s" % (data.get("host"), " (changed)" if result.get("changed") else ""))
        elif kind == "runner_item_on_ok":
            self.progress(data.get("res") or {})
        elif kind == "verbose" and "WARNING" in event.get("stdout", ""):
            self.emit(event["stdout"].strip())
        return True

    def task_ran(self):
        if self.pending_task is not None:
            self.emit("  %s" % self.pending_task)
            self.pending_task = None

    def progress(self, result):
        """A long task's step (`progress` in a module's result): hosts in step report the same
        line, printed once."""
        line = result.get("progress")
        if line and ("progress", line) not in self.said:
            self.said.add(("progress", line))
            self.emit("    %s" % line)

    def say(self, task, result):
        items = [result] + [r for r in result.get("results") or [] if isinstance(r, dict)]
        for item in items:
            message = item.get("msg")
            if message is None or (task, repr(message)) in self.said:
                continue
            self.said.add((task, repr(message)))
            lines = message if isinstance(message, list) else str(message).splitlines()
            for line in lines:
                self.emit("    | %s" % (line if isinstance(line, str) else json.dumps(line)))

    def emit(self, line):
        print("[%s %s] %s" % (self.verb, self.elapsed(), line), file=self.stream or sys.stdout,
              flush=True)


def playbook_path(name):
    return os.path.join(ROOT, "playbooks", "%s.yml" % name)


def run_playbook(verb, name, env_dir, inventory, extravars=None, verbose=False, tags=None):
    path = playbook_path(name)
    if not os.path.exists(path):
        print("enos %s: this release has no playbooks/%s.yml yet, so `enos %s` cannot run."
              % (verb, name, verb), file=sys.stderr)
        return EXIT_UNAVAILABLE
    missing = missing_collections(REQUIREMENTS)
    if missing:
        print("enos %s: the Ansible collection%s %s %s not installed: install %s with\n"
              "  ansible-galaxy collection install -r %s\n(or `pip install ansible`, which "
              "bundles them)" % (verb, "s" if len(missing) > 1 else "", ", ".join(missing),
                                 "are" if len(missing) > 1 else "is",
                                 "them" if len(missing) > 1 else "it",
                                 REQUIREMENTS), file=sys.stderr)
        return EXIT_UNAVAILABLE
    import ansible_runner

    runner_dir = os.path.join(env_dir, "runner")
    os.makedirs(runner_dir, exist_ok=True)
    forget_previous_settings(runner_dir)
    envvars = {
        "ANSIBLE_CONFIG": os.path.join(ROOT, "ansible.cfg"),
        "ANSIBLE_COLLECTIONS_PATH": os.pathsep.join(
            [COLLECTIONS, os.path.expanduser("~/.ansible/collections")]),
        "ENOS_ENV": env_dir,
        "PATH": os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")]),
        "ANSIBLE_FORCE_COLOR": "0",
    }
    extravars = dict(extravars or {}, enos_env_dir=env_dir)
    progress = Progress(verb, verbose)
    progress.emit("running %s (log: %s)" % (os.path.relpath(path), os.path.join(
        runner_dir, "artifacts")))
    annotate(env_dir, "enos %s start" % verb, text="playbook %s" % name, tags=["enos", verb])
    runner = ansible_runner.run(
        private_data_dir=runner_dir, playbook=path, inventory=inventory, extravars=extravars,
        envvars=envvars, event_handler=progress, quiet=True, tags=tags,
        suppress_env_files=True,
        ident="%s-%s" % (name, datetime.datetime.now().strftime("%Y%m%d-%H%M%S")))
    problem = annotate(env_dir, "enos %s end" % verb, text="playbook %s rc=%s" % (name, runner.rc),
                       tags=["enos", verb])
    summarize(progress, runner)
    if problem:
        print("note: %s (kept in reports/events.jsonl)" % problem, file=sys.stderr)
    return EXIT_OK if runner.rc == 0 else EXIT_FAILED


def forget_previous_settings(runner_dir):
    """ansible-runner writes env/envvars, env/extravars ... only when they are absent and then
    prefers them to what it is given: a run would inherit the first run's PATH, ANSIBLE_CONFIG,
    collections path and extra variables. Each run passes its own, and none are kept."""
    for name in ("envvars", "extravars", "passwords", "settings", "cmdline", "ssh_key"):
        try:
            os.unlink(os.path.join(runner_dir, "env", name))
        except FileNotFoundError:
            pass


def collection_roots():
    """Where Ansible looks for collections from a run of this driver."""
    roots = [COLLECTIONS, os.path.expanduser("~/.ansible/collections"),
             "/usr/share/ansible/collections"]
    roots += [p for p in os.environ.get("ANSIBLE_COLLECTIONS_PATH", "").split(os.pathsep) if p]
    roots += [p for p in sys.path if p and os.path.isdir(os.path.join(p, "ansible_collections"))]
    parts = ROOT.split(os.sep)
    if parts[-3:-2] == ["ansible_collections"]:  # installed as a collection
        roots.append(os.sep.join(parts[:-3]))
    return roots


def missing_collections(requirements=REQUIREMENTS):
    """Collections of requirements.yml that no collection root holds."""
    import yaml
    with open(requirements) as handle:
        wanted = (yaml.safe_load(handle) or {}).get("collections") or []
    names = [c["name"] if isinstance(c, dict) else str(c) for c in wanted]
    roots = collection_roots()
    return [name for name in names
            if not any(os.path.isdir(os.path.join(root, "ansible_collections", *name.split(".")))
                       for root in roots)]


def summarize(progress, runner):
    stats = runner.stats or {}
    hosts = sorted(set().union(*[set(stats.get(k, {})) for k in
                                 ("ok", "changed", "failures", "dark", "skipped")]) or set())
    print("\nenos %s: %s in %s (rc=%s)" % (progress.verb, "done" if runner.rc == 0 else "FAILED",
                                           progress.elapsed().strip(), runner.rc))
    for host in hosts:
        print("  %-28s ok=%-4d changed=%-4d failed=%-3d unreachable=%-3d skipped=%d" % (
            host, stats.get("ok", {}).get(host, 0), stats.get("changed", {}).get(host, 0),
            stats.get("failures", {}).get(host, 0), stats.get("dark", {}).get(host, 0),
            stats.get("skipped", {}).get(host, 0)))
    for line in progress.failures:
        print(line)
    for line in slowest(progress.steps):
        print(line)


def slowest(steps, count=5):
    """What dominated the run: time per role and the slowest tasks (wall clock)."""
    done = [(role, task, end - start, len(hosts)) for role, task, start, end, hosts in steps
            if end is not None]
    total = sum(step[2] for step in done)
    if not done or total < 1:
        return []
    per_role = {}
    for role, _task, seconds, _hosts in done:
        per_role[role] = per_role.get(role, 0) + seconds
    lines = ["time by role: " + ", ".join(
        "%s %.0fs" % (role.split(".")[-1], seconds)
        for role, seconds in sorted(per_role.items(), key=lambda kv: -kv[1]) if seconds >= 0.5)]
    lines.append("slowest tasks:")
    for role, task, seconds, hosts in sorted(done, key=lambda step: -step[2])[:count]:
        lines.append("  %5.1fs %3.0f%%  %s%s (%d host%s)" % (
            seconds, 100.0 * seconds / total, "" if role == "-" else role.split(".")[-1] + " : ",
            task, hosts, "" if hosts == 1 else "s"))
    return lines


# --------------------------------------------------------------------------- verbs

MATRIX_MAX_SITES = 24


def links_table(topo):
    """The constraints matrix: one row per source site, one column per destination; beyond
    MATRIX_MAX_SITES sites, the distinct link kinds with how many pairs have each."""
    sites = list(topo.sites)
    if len(sites) > MATRIX_MAX_SITES:
        return links_kinds(topo)
    links = topo.links()
    if not links:
        return "no WAN constraints"

    def cell(src, dst):
        link = links.get((src, dst))
        if link is None:
            return "-" if src == dst else "."
        return describe_link(link.as_dict())

    rows = [["src \\ dst"] + sites] + [[s] + [cell(s, d) for d in sites] for s in sites]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows)


def describe_link(fields):
    parts = [format_delay(fields.get("delay_us") or 0)]
    if fields.get("jitter_us"):
        parts[0] += "~" + format_delay(fields["jitter_us"])
    if fields.get("rate_bps"):
        parts.append(format_rate(fields["rate_bps"]))
    if fields.get("loss_pct"):
        parts.append("%g%%" % fields["loss_pct"])
    return "/".join(parts)


def links_kinds(topo):
    kinds = link_kinds(topo.constraints)
    if not kinds:
        return "no WAN constraints"
    lines = ["%d shaped ordered pairs among %d sites (too many for a matrix; `--json` lists "
             "them all):" % (sum(k[1] for k in kinds), len(topo.sites))]
    for fields, count, (src, dst) in sorted(kinds, key=lambda kind: -kind[1]):
        lines.append("  %-28s %8d pairs  from %s, e.g. %s->%s"
                     % (describe_link(fields), count, fields.get("origin"), src, dst))
    return "\n".join(lines)


def json_links(constraints):
    """The links as JSON texts, one at a time; the defaults' part is encoded once."""
    default = constraints.get("default")
    default_tail = json.dumps(default)[1:]
    for src, dst, fields in iter_links(constraints):
        tail = default_tail if fields is default else json.dumps(dict(default, **fields))[1:]
        yield '{"src": %s, "dst": %s, %s' % (json.dumps(src), json.dumps(dst), tail)


def write_json(data, stream, links=None):
    """json.dump of `data`, with `links` (an iterator of JSON texts) streamed as data["links"]:
    a 1,000-site topology has a million links, which are never all in memory."""
    if links is None:
        json.dump(data, stream, indent=2)
        stream.write("\n")
        return
    head = json.dumps(data, indent=2)
    stream.write(head[:-2] + ',\n  "links": [')
    for number, link in enumerate(links):
        stream.write((",\n    " if number else "\n    ") + link)
    stream.write("\n  ]\n}\n")


def validated_workload(directory):
    try:
        return load_workload(directory)
    except WorkloadError as exc:
        raise UsageError("invalid workload, nothing was run:\n%s" % exc)


def default_workload():
    """EnOS's default (./workload) when there is one, else the collection's own."""
    local = os.path.abspath("workload")
    return local if os.path.isdir(local) else os.path.join(ROOT, "workloads", "default")


def cmd_check(args):
    if args.workload:
        scenarios = validated_workload(args.workload)
        topo = validated(os.path.abspath(args.file)) if args.file else None
        plan = bench.plan_for(scenarios, topo)
        print("%s: valid (%d scenarios, %d tasks)" % (
            args.workload, len(scenarios), len(plan["tasks"])))
        print(plan_table(plan))
        return EXIT_OK
    topo = validated(os.path.abspath(args.file or DEFAULT_TOPOLOGY))
    summary = topo.summary(links=False)
    if args.json:
        write_json(summary, sys.stdout, json_links(topo.constraints))
        return EXIT_OK
    print("%s: valid (%d hosts, provider %s, registry %s)" % (
        args.file, summary["hosts"], summary["provider"], summary["registry"]))
    print("sites:")
    for site, names in summary["sites"].items():
        shown = ", ".join(names[:8]) + (", ... (%d more)" % (len(names) - 8) if len(names) > 8 else "")
        print("  %-12s %d host(s): %s" % (site, len(names), shown))
    print("roles:")
    for role, count in summary["roles"].items():
        print("  %-16s %d" % (role, count))
    print("services: %s" % ", ".join("%s on %s" % kv for kv in sorted(topo.placement.items())))
    print("WAN constraints (one-way delay/rate/loss, src row -> dst column, '.' not shaped):")
    print(links_table(topo))
    return EXIT_OK


STARTER = """\
---
# An edge.enos topology (EnOS reservation format). Check it with `enos check -f {name}`.
# It is also an Ansible inventory source: ansible-inventory -i {name} --graph
plugin: edge.enos.topology

provider:
  type: {provider}
{provider_block}
{topology_block}
# internal: a registry on one node serves the others; external: {{type: external, ip, port}}; none
registry:
  type: internal

enable_monitoring: false

# kolla-ansible release (22.2.0 = OpenStack 2026.1) and globals.yml overrides
kolla-ansible: 22.2.0
kolla:
  enable_keystone: "yes"

# WAN between sites: delay is one-way on the sender's side (RTT = delay a->b + delay b->a).
# Units: delay us/ms/s; rate bit/kbit/mbit/gbit (bps/kbps/mbps = bytes per second); loss %.
network_constraints:
  enable: true
  default_delay: 25ms
  default_rate: 100mbit
  default_loss: 0%
  constraints:
    - src: grp1
      dst: grp[2-3]
      delay: 50ms
      rate: 1gbit
      symmetric: true
"""

COUNTED_TOPOLOGY = """\
# Sites (groups) -> cluster (or flavour) -> role -> number of machines.
# Ranges describe many sites at once: grp[2-4] is grp2, grp3 and grp4.
topology:
  grp1:
    {cluster}:
      control: 1
      network: 1
  grp[2-3]:
    {cluster}:
      compute: 1
"""

# Static machines have addresses: one per host, so no ranges. The addresses below are from
# TEST-NET-1 (192.0.2.0/24, never routed): replace them, and the user and key, with your own.
STATIC_TOPOLOGY = """\
# Sites (groups) -> role -> one host or a list of hosts {{address, alias, user, keyfile, port}}.
# Replace the addresses (192.0.2.x is a documentation range), user and keyfile with yours.
topology:
  grp1:
    control:
      {{address: 192.0.2.11, alias: node-1, user: root, keyfile: ~/.ssh/id_rsa, port: 22}}
    network:
      {{address: 192.0.2.12, alias: node-2, user: root, keyfile: ~/.ssh/id_rsa, port: 22}}
  grp2:
    compute:
      - {{address: 192.0.2.13, alias: node-3, user: root, keyfile: ~/.ssh/id_rsa, port: 22}}
  grp3:
    compute:
      - {{address: 192.0.2.14, alias: node-4, user: root, keyfile: ~/.ssh/id_rsa, port: 22}}
"""

PROVIDER_BLOCKS = {
    "local": ("  memory_per_node: 2g\n", "local"),
    "static": ("", "static"),
    # cluster/flavour below: tiny, small, medium, big, large or extra-large
    "vagrant": ("  backend: virtualbox          # virtualbox | libvirt | docker (the node image)\n"
                "  box: generic/debian12\n"
                "  subnet: 192.168.142.0/23      # API/management /24, then Neutron external /24\n",
                "medium"),
    # cluster below: a Grid'5000 cluster; credentials: G5K_USERNAME/G5K_PASSWORD
    "g5k": ("  job_name: enos                # a running job of this name is reused\n"
            "  walltime: '02:00:00'          # quoted: YAML reads 02:00:00 as a number\n"
            "  job_type: deploy              # deploy (kadeploy env_name) | allow_classic_ssh\n"
            "  env_name: debian12-nfs\n"
            "  queue: default                # default | production | besteffort\n"
            "  reservation: false            # or 'YYYY-MM-DD HH:MM:SS' (Europe/Paris)\n"
            "  kavlan: false                 # true: KaVLANs for the API and external networks\n"
            "  key: ~/.ssh/id_rsa.pub\n",
            "paravance"),
    # cluster below: a Chameleon node type; credentials: the project's openrc (OS_*)
    "chameleon": ("  image: CC-Ubuntu22.04\n  user: cc\n"
                  "  walltime: '02:00:00'          # length of the Blazar lease\n"
                  "  lease_name: enos-lease        # a lease of this name is reused\n"
                  "  external_network: public\n  floating_ips: true\n",
                  "compute_skylake"),
    # cluster below: a Nova flavor; credentials: `cloud` in clouds.yaml, or an openrc (OS_*)
    "openstack": ("  cloud: mycloud\n  image: debian-12\n  user: debian\n"
                  "  subnet: 10.87.0.0/24          # network made for the environment\n"
                  "  external_network: public      # router gateway and floating IPs\n"
                  "  floating_ips: true            # or gateway: true (one floating IP)\n",
                  "m1.large"),
}


def cmd_new(args):
    name = args.output
    if os.path.exists(name) and not args.force:
        raise UsageError("%s exists; nothing was written (use --force to overwrite it, or "
                         "-o OTHER.yaml)" % name)
    block, cluster = PROVIDER_BLOCKS[args.provider]
    topology = (STATIC_TOPOLOGY if args.provider == "static" else COUNTED_TOPOLOGY).format(
        cluster=cluster)
    text = STARTER.format(name=name, provider=args.provider, provider_block=block,
                          topology_block=topology)
    written = parse_topology(read_yaml(text, name), name)  # what we write must check
    if provider_problems(written):
        raise UsageError(format_problems(name, provider_problems(written)))
    try:
        with open(name, "w") as handle:
            handle.write(text)
    except (IOError, OSError) as exc:
        raise UsageError("cannot write %s: %s (give a writable path with -o FILE)"
                         % (name, exc.strerror or exc))
    print("wrote %s (provider %s): edit it, then `enos check -f %s`" % (name, args.provider, name))
    return EXIT_OK


def cmd_info(args):
    env_dir = resolve_env(args.env)
    topo = validated(topology_file(args, env_dir))
    state_path = os.path.join(env_dir, STATE_FILE)
    state = {}
    if os.path.exists(state_path):
        try:
            with open(state_path) as handle:
                state = json.load(handle)
        except (IOError, OSError, ValueError) as exc:
            raise UsageError("%s cannot be read (%s): run `enos up` again to rewrite it"
                             % (state_path, exc))
        if not isinstance(state, dict):
            raise UsageError("%s is not a resource state: run `enos up` again to rewrite it"
                             % state_path)
    provided = dict((h["name"], h) for h in state.get("hosts", []))
    clouds_yaml = os.path.join(env_dir, "clouds.yaml")
    cloud = cloud_summary(clouds_yaml) if os.path.exists(clouds_yaml) else None
    if args.json:
        write_json({"env": env_dir, "topology": topo.summary(), "resources": state,
                    "openstack": cloud}, sys.stdout)
        return EXIT_OK
    print("environment: %s (%s)" % (env_dir, state.get("environment") or "not provisioned"))
    print("%-24s %-8s %-18s %s" % ("host", "site", "roles", "addresses"))
    for host in topo.hosts:
        interfaces = provided.get(host.name, {}).get("interfaces", {})
        addresses = ", ".join("%s=%s(%s)" % (role, i.get("address"), i.get("device"))
                              for role, i in sorted(interfaces.items())) or host.address or "-"
        print("%-24s %-8s %-18s %s" % (host.name, host.site, ",".join(host.roles), addresses))
    router = state.get("router")
    if router:
        print("WAN router: %s (%s, pid %s)" % (router.get("name"), router.get("kind"),
                                               router.get("pid")))
        for site, interface in sorted(router.get("interfaces", {}).items()):
            print("  %-8s %s %s" % (site, interface.get("device"), interface.get("address")))
    print("services: %s" % ", ".join("%s on %s" % kv for kv in sorted(topo.placement.items())))
    print("WAN constraints:\n%s" % links_table(topo))
    if cloud is not None:
        print("\n".join(summary_lines(cloud)))
    return EXIT_OK


def _run_verb(args, verb, playbook, extravars=None, create=False):
    if args.file:  # refuse a bad file before an environment directory is made for it
        validated(os.path.abspath(args.file))
    env_dir = resolve_env(args.env, create=create)
    source = topology_file(args, env_dir)
    if not args.file:
        validated(source)
    inventory = prepare_env(env_dir, source)
    print("enos %s: environment %s, topology %s" % (verb, env_dir, source))
    return run_playbook(verb, playbook, env_dir, inventory, extravars, verbose=args.verbose)


def cmd_up(args):
    return _run_verb(args, "up", "up", create=True)


def cmd_deploy(args):
    return _run_verb(args, "deploy", "deploy", create=True)


def cmd_os(args):
    action = "deploy"
    if args.reconfigure:
        action = "reconfigure"
    elif args.pull:
        action = "pull"
    if args.kolla_args:
        action = " ".join(a for a in args.kolla_args if a != "--")
    return _run_verb(args, "os", "os", {"kolla_action": action})


def cmd_init(args):
    return _run_verb(args, "init", "init")


def cmd_tc(args):
    chosen = [flag for flag, on in (("--test", args.test), ("--reset", args.reset),
                                    ("--partition", args.partition is not None),
                                    ("--heal", args.heal), ("--events", args.events is not None),
                                    ("--events-log", args.events_log))
              if on]
    if len(chosen) > 1:
        raise UsageError("%s go separately: give one of them per run" % " and ".join(chosen))
    extravars = {"netem_rate_only": args.rate_only}
    if args.partition is not None or args.events is not None:
        extravars.update(_network_events_vars(args))
    elif args.heal or args.events_log:
        extravars["netem_action"] = "heal" if args.heal else "events_log"
    else:
        extravars["netem_action"] = "test" if args.test else "reset" if args.reset else "apply"
    return _run_verb(args, "tc", "tc", extravars)


def _network_events_vars(args):
    """--partition/--events checked against the topology before anything runs."""
    from ansible_collections.edge.enos.plugins.module_utils import timeline

    env_dir = resolve_env(args.env)
    topo = validated(topology_file(args, env_dir))
    if args.partition is not None:
        try:
            timeline.parse_partition(args.partition, list(topo.sites))
        except ValueError as exc:
            raise UsageError("--partition %s: %s" % (args.partition, " (".join(exc.args) + (
                ")" if len(exc.args) > 1 else "")))
        return {"netem_action": "partition", "netem_partition": args.partition}
    out = {"netem_action": "events", "netem_events_wait": args.wait}
    if args.events:
        path = os.path.abspath(args.events)
        try:
            timeline.load_file(path, list(topo.sites))
        except timeline.TimelineError as exc:
            raise UsageError("invalid timeline, nothing was changed:\n%s" % exc)
        out["netem_events_file"] = path
    else:
        if not topo.network_events:
            raise UsageError("the topology has no network_events: give a timeline with "
                             "--events FILE, or add `network_events:` to the topology")
        out["netem_events"] = topo.raw["network_events"]
    return out


def cmd_levels(args):
    extravars = {}
    if args.partition is not None:
        extravars["levels_partitions"] = [p for p in args.partition if p]
    return _run_verb(args, "levels", "levels", extravars)


def cmd_bench(args):
    if args.compare:
        env_dir = resolve_env(args.env) if not all(os.path.isdir(r) for r in args.compare) else None
        try:
            runs = [bench.load_run(bench.run_dir(env_dir, run)) for run in args.compare]
        except TopologyError as exc:
            raise UsageError(str(exc))
        print(bench.compare_table(*runs))
        return EXIT_OK
    directory = os.path.abspath(args.workload or default_workload())
    scenarios = validated_workload(directory)
    if args.file:
        validated(os.path.abspath(args.file))
    try:
        env_dir = resolve_env(args.env)
    except UsageError:
        if not (args.dry_run and args.file):  # a plan needs a topology, a run an environment
            raise
        env_dir = None
    topo = validated(topology_file(args, env_dir))
    plan = bench.plan_for(scenarios, topo, env_dir)
    print("enos bench: workload %s" % directory)
    print(plan_table(plan))
    if plan["refused"] or plan["problems"]:
        raise UsageError("nothing was run:\n%s" % "\n".join(
            [r["reason"] for r in plan["refused"]] + plan["problems"]))
    if args.dry_run:
        return EXIT_OK
    if not plan["tasks"]:
        raise UsageError("nothing to run: every scenario is disabled or skipped")
    run_id = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d-%H%M%S")
    run = bench.run_dir(env_dir, run_id)
    os.makedirs(run)
    plan.update(workload=directory, run_id=run_id)
    with open(os.path.join(run, "plan.json"), "w") as handle:
        json.dump(plan, handle, indent=1)
    code = _run_verb(args, "bench", "bench", {"bench_run_dir": run})
    summary_path = os.path.join(run, "summary.json")
    if os.path.exists(summary_path):
        summary = bench.load_run(run)
        print("\n" + bench.summary_table(summary))
        failures = bench.failures(summary)
        for line in failures:
            print("FAILED %s" % line)
        if failures:
            code = code or EXIT_FAILED
    print("reports: %s" % run)
    return code


def info_document(env_dir, topo):
    state_path = os.path.join(env_dir, STATE_FILE)
    state = {}
    if os.path.exists(state_path):
        with open(state_path) as handle:
            state = json.load(handle)
    return {"env": env_dir, "topology": topo.summary(), "resources": state}


def cmd_backup(args):
    if args.verify:
        return verify_backup(args.verify)
    env_dir = resolve_env(args.env)
    topo = validated(topology_file(args, env_dir))
    os.makedirs(os.path.join(env_dir, "reports"), exist_ok=True)
    with open(os.path.join(env_dir, "reports", "info.json"), "w") as handle:
        json.dump(info_document(env_dir, topo), handle, indent=2)
    backup_dir = os.path.abspath(args.backup_dir or os.path.join(env_dir, "backups"))
    started = time.time()
    code = _run_verb(args, "backup", "backup", {"backup_dir": backup_dir})
    written = sorted(os.path.join(backup_dir, f) for f in os.listdir(backup_dir)
                     if f.endswith(".tar.gz") and os.path.getmtime(os.path.join(backup_dir, f))
                     >= started - 1) if os.path.isdir(backup_dir) else []
    if code == EXIT_OK and written:
        print("enos backup: %s (check it with `enos backup --verify %s`)"
              % (written[-1], written[-1]))
    return code


def verify_backup(path):
    from ansible_collections.edge.enos.plugins.module_utils import backup as bk
    try:
        result = bk.verify(os.path.abspath(path))
    except bk.BackupError as exc:
        raise UsageError(str(exc))
    for problem in result["problems"]:
        print("  ! %s" % problem)
    for skipped in result["skipped"]:
        print("  skipped in the backup: %s (%s)" % (skipped["what"], skipped["why"]))
    restored = result.get("restore")
    if isinstance(restored, dict):
        for database in ("collectd", "cadvisor"):
            print("  restored %s: %s" % (database, ", ".join(
                "%s=%d points" % kv for kv in sorted(restored[database].items())) or "no point"))
        for run_id, counts in sorted(restored["windows"].items()):
            print("  run %s window: %s" % (run_id, ", ".join(
                "%s=%d" % kv for kv in sorted(counts.items())) or "no point"))
    ok = not result["problems"] and (restored is None or (
        isinstance(restored, dict) and restored["collectd"]))
    print("enos backup --verify: %s %s" % (path, "OK" if ok else "FAILED"))
    return EXIT_OK if ok else EXIT_FAILED


def cmd_report(args):
    from ansible_collections.edge.enos.plugins.module_utils import report
    from ansible_collections.edge.enos.plugins.module_utils.annotations import influx_url
    if args.backup:
        source = os.path.abspath(args.backup)
        if not os.path.isfile(source):
            raise UsageError("%s: no such backup tarball (give one written by `enos backup`)"
                             % args.backup)
        env_dir = None
    else:
        env_dir = resolve_env(args.env)
        source = env_dir
    out = os.path.abspath(args.output or os.path.join(env_dir or os.path.dirname(source),
                                                      "reports" if env_dir else "",
                                                      "report.html"))
    os.makedirs(os.path.dirname(out), exist_ok=True)
    result = report.build_from(source, out, live_url=influx_url(env_dir) if env_dir else None)
    print("enos report: %s (sections: %s; %d bench run(s))" % (
        out, ", ".join(result["sections"]) or "none", result["runs"]))
    return EXIT_OK


def cmd_destroy(args):
    return _run_verb(args, "destroy", "destroy", {
        "enos_destroy_hard": args.hard, "enos_destroy_include_images": args.include_images})


def build_parser():
    parser = argparse.ArgumentParser(
        prog="enos", description="Experimental eNvironment for OpenStack, on edge topologies.")
    sub = parser.add_subparsers(dest="verb", metavar="VERB")
    sub.required = True

    def verb(name, func, help_text, topology=True, env=True):
        p = sub.add_parser(name, help=help_text, description=help_text)
        if topology:
            p.add_argument("-f", "--file", help="topology file (default: the environment's "
                           "copy, else ./%s)" % DEFAULT_TOPOLOGY)
        if env:
            p.add_argument("-e", "--env", help="environment directory (default ./current)")
        p.add_argument("-v", "--verbose", action="store_true", help="show every task result")
        p.set_defaults(func=func)
        return p

    p = verb("new", cmd_new, "write a commented starting topology file", topology=False, env=False)
    p.add_argument("-p", "--provider", default="local", choices=sorted(PROVIDER_BLOCKS))
    p.add_argument("-o", "--output", default=DEFAULT_TOPOLOGY)
    p.add_argument("--force", action="store_true", help="overwrite an existing file")
    p = verb("check", cmd_check, "validate a topology file and show its sites, roles and "
             "constraints", env=False)
    p.add_argument("--json", action="store_true")
    p.add_argument("--workload", help="check a workload directory (its run.yml) instead; with "
                   "-f, also which scenarios the topology's services allow")
    verb("up", cmd_up, "get the machines, install Docker and the registry")
    p = verb("os", cmd_os, "deploy OpenStack with Kolla-Ansible")
    p.add_argument("--reconfigure", action="store_true")
    p.add_argument("--pull", action="store_true", help="only pull the images")
    p.add_argument("kolla_args", nargs=argparse.REMAINDER,
                   help="after --: a kolla-ansible action to run (e.g. -- prechecks)")
    verb("init", cmd_init, "bootstrap OpenStack (flavors, image, networks, router)")
    verb("deploy", cmd_deploy, "up + os + init")
    p = verb("tc", cmd_tc, "apply the WAN constraints between sites")
    p.add_argument("--test", action="store_true", help="measure the links and report")
    p.add_argument("--reset", action="store_true", help="remove the rules")
    p.add_argument("--partition", metavar="SITES",
                   help="cut SITES from the other sites, both ways (grp3, grp[2-3], grp1,grp2; "
                        "sides separated by /: grp1,grp2/grp3)")
    p.add_argument("--heal", action="store_true", help="remove every cut; the constraints "
                   "in force stay, no queue is reset")
    p.add_argument("--events", nargs="?", const="", metavar="FILE",
                   help="run a timeline of partitions, flapping links and constraint changes in "
                        "the background (FILE, else the topology's network_events)")
    p.add_argument("--wait", action="store_true", help="with --events: wait for the end of "
                   "the timeline and write its log into the reports")
    p.add_argument("--events-log", action="store_true", help="collect the log of the "
                   "timeline started by --events into the reports (network_events.json)")
    p.add_argument("--rate-only", action="store_true",
                   help="on kernels without sch_netem, apply rates and report delay/loss as "
                        "not applied instead of failing")
    p = verb("levels", cmd_levels, "measure the edge requirement levels (L1-L3) from a client "
             "in each site, as the deployment stands and under partitions; writes "
             "reports/levels.json and levels.md")
    p.add_argument("--partition", action="append", metavar="SITES",
                   help="a partition to measure (as `enos tc --partition`), repeatable; "
                        "default each site in turn, then every site apart; '' for none")
    p = verb("bench", cmd_bench, "run Rally/Shaker/iperf3 workloads; reports in "
             "<env>/reports/bench/<run id>/")
    p.add_argument("--workload", help="workload directory holding run.yml (default ./workload, "
                   "else the collection's workloads/default)")
    p.add_argument("--dry-run", action="store_true", help="print the expanded plan, run nothing")
    p.add_argument("--compare", nargs=2, metavar=("RUN_A", "RUN_B"),
                   help="compare two runs (run ids of the environment, or run directories)")
    p = verb("backup", cmd_backup, "pack reports, traces, metrics and logs into one tarball")
    p.add_argument("--backup_dir", "--backup-dir", dest="backup_dir")
    p.add_argument("--verify", metavar="FILE", help="check a backup tarball's manifest and "
                   "restore its InfluxDB part into a throw-away InfluxDB on loopback")
    p = verb("report", cmd_report, "write one self-contained HTML report of the experiment",
             topology=False)
    p.add_argument("--backup", metavar="TARBALL", help="build it from a backup tarball "
                   "(default: from the live environment)")
    p.add_argument("-o", "--output", help="HTML file (default: <env>/reports/report.html)")
    p = verb("destroy", cmd_destroy, "remove OpenStack; with --hard, the machines too")
    p.add_argument("--hard", action="store_true", help="remove every container, network, "
                   "volume and key of the environment")
    p.add_argument("--include-images", action="store_true", help="also remove Kolla's images")
    p = verb("info", cmd_info, "show the environment's nodes, sites, roles and addresses")
    p.add_argument("--json", action="store_true")
    return parser


EXIT_BROKEN_PIPE, EXIT_INTERNAL = 141, 70


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        code = args.func(args)
        sys.stdout.flush()  # a closed pipe shows here, not at exit
        return code
    except UsageError as exc:
        print("enos %s: %s" % (args.verb, exc), file=sys.stderr)
        return EXIT_INVALID
    except TopologyError as exc:
        print("enos %s: invalid topology, nothing was changed:\n%s" % (args.verb, exc),
              file=sys.stderr)
        return EXIT_INVALID
    except KeyboardInterrupt:
        print("enos %s: interrupted" % args.verb, file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away (`enos check | head`): stop quietly, as a command-line tool does
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except Exception as exc:  # pylint: disable=broad-except
        if os.environ.get("ENOS_DEBUG"):
            raise
        print("enos %s: internal error: %s: %s (run again with ENOS_DEBUG=1 for the traceback, "
              "and report it)" % (args.verb, type(exc).__name__, exc), file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
