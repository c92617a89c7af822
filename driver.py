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

from ansible_collections.edge.enos.plugins.module_utils.topology import (  # noqa: E402
    TopologyError, format_delay, format_rate, load_topology)
from ansible_collections.edge.enos.plugins.module_utils.annotations import annotate  # noqa: E402

EXIT_OK, EXIT_FAILED, EXIT_INVALID, EXIT_UNAVAILABLE = 0, 1, 2, 3
DEFAULT_TOPOLOGY = "reservation.yaml"
STATE_FILE = "resources.json"


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
    for warning in topo.warnings:
        print("warning: %s" % warning, file=sys.stderr)
    return topo


# --------------------------------------------------------------------------- playbook runs

class Progress(object):
    """Live progress from ansible-runner events: plays, tasks, failures; no result contents."""

    def __init__(self, verb, verbose=False, stream=sys.stdout):
        self.verb, self.verbose, self.stream = verb, verbose, stream
        self.started = time.time()
        self.failures = []

    def elapsed(self):
        return "%5.0fs" % (time.time() - self.started)

    def __call__(self, event):
        kind = event.get("event")
        data = event.get("event_data", {})
        if kind == "playbook_on_play_start":
            self.emit("PLAY %s" % data.get("play", ""))
        elif kind == "playbook_on_task_start":
            self.emit("  %s" % data.get("task", ""))
        elif kind in ("runner_on_failed", "runner_on_unreachable") and not data.get("ignore_errors"):
            result = data.get("res", {}) or {}
            message = result.get("msg") or result.get("stderr") or result.get("reason") or ""
            if result.get("_ansible_no_log"):
                message = "(output hidden: the task handles secrets)"
            line = "  ! %s: %s: %s" % (data.get("host"), data.get("task"), str(message).strip()[:2000])
            self.failures.append(line)
            self.emit(line)
        elif kind == "runner_on_ok" and self.verbose:
            changed = (data.get("res") or {}).get("changed")
            self.emit("    ok: %s%s" % (data.get("host"), " (changed)" if changed else ""))
        elif kind == "verbose" and "WARNING" in event.get("stdout", ""):
            self.emit(event["stdout"].strip())
        return True

    def emit(self, line):
        print("[%s %s] %s" % (self.verb, self.elapsed(), line), file=self.stream, flush=True)


def playbook_path(name):
    return os.path.join(ROOT, "playbooks", "%s.yml" % name)


def run_playbook(verb, name, env_dir, inventory, extravars=None, verbose=False, tags=None):
    path = playbook_path(name)
    if not os.path.exists(path):
        print("enos %s: this release has no playbooks/%s.yml yet, so `enos %s` cannot run."
              % (verb, name, verb), file=sys.stderr)
        return EXIT_UNAVAILABLE
    import ansible_runner

    runner_dir = os.path.join(env_dir, "runner")
    os.makedirs(runner_dir, exist_ok=True)
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
        ident="%s-%s" % (name, datetime.datetime.now().strftime("%Y%m%d-%H%M%S")))
    problem = annotate(env_dir, "enos %s end" % verb, text="playbook %s rc=%s" % (name, runner.rc),
                       tags=["enos", verb])
    summarize(progress, runner)
    if problem:
        print("note: %s (kept in reports/events.jsonl)" % problem, file=sys.stderr)
    return EXIT_OK if runner.rc == 0 else EXIT_FAILED


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


# --------------------------------------------------------------------------- verbs

def links_table(topo):
    """The constraints matrix: one row per source site, one column per destination."""
    sites = list(topo.sites)
    links = topo.links()
    if not links:
        return "no WAN constraints"

    def cell(src, dst):
        if src == dst:
            return "-"
        link = links.get((src, dst))
        if link is None:
            return "."
        parts = [format_delay(link.delay_us)]
        if link.jitter_us:
            parts[0] += "~" + format_delay(link.jitter_us)
        if link.rate_bps:
            parts.append(format_rate(link.rate_bps))
        if link.loss_pct:
            parts.append("%g%%" % link.loss_pct)
        return "/".join(parts)

    rows = [["src \\ dst"] + sites] + [[s] + [cell(s, d) for d in sites] for s in sites]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows)


def cmd_check(args):
    topo = validated(os.path.abspath(args.file or DEFAULT_TOPOLOGY))
    summary = topo.summary()
    if args.json:
        print(json.dumps(summary, indent=2))
        return EXIT_OK
    print("%s: valid (%d hosts, provider %s, registry %s)" % (
        args.file, summary["hosts"], summary["provider"], summary["registry"]))
    print("sites:")
    for site, names in summary["sites"].items():
        print("  %-12s %d host(s): %s" % (site, len(names), ", ".join(names)))
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

PROVIDER_BLOCKS = {
    "local": ("  memory_per_node: 2g\n", "local"),
    "static": ("", "static"),
    "vagrant": ("  backend: virtualbox\n  box: generic/debian12\n", "medium"),
    "g5k": ("  job_name: enos\n  walltime: '02:00:00'\n", "paravance"),
    "chameleon": ("  key_name: my-key\n  image: CC-Ubuntu22.04\n  user: cc\n", "compute_skylake"),
    "openstack": ("  key_name: my-key\n  image: debian-12\n  user: debian\n", "m1.large"),
}


def cmd_new(args):
    name = args.output
    if os.path.exists(name) and not args.force:
        raise UsageError("%s exists; nothing was written (use --force to overwrite it, or "
                         "-o OTHER.yaml)" % name)
    block, cluster = PROVIDER_BLOCKS[args.provider]
    text = STARTER.format(name=name, provider=args.provider, provider_block=block, cluster=cluster)
    with open(name, "w") as handle:
        handle.write(text)
    load_topology(name)
    print("wrote %s (provider %s): edit it, then `enos check -f %s`" % (name, args.provider, name))
    return EXIT_OK


def cmd_info(args):
    env_dir = resolve_env(args.env)
    topo = validated(topology_file(args, env_dir))
    state_path = os.path.join(env_dir, STATE_FILE)
    state = {}
    if os.path.exists(state_path):
        with open(state_path) as handle:
            state = json.load(handle)
    provided = dict((h["name"], h) for h in state.get("hosts", []))
    if args.json:
        print(json.dumps({"env": env_dir, "topology": topo.summary(), "resources": state},
                         indent=2))
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
    if args.test and args.reset:
        raise UsageError("--test and --reset go separately: `enos tc --test` measures, "
                         "`enos tc --reset` removes the rules")
    action = "test" if args.test else "reset" if args.reset else "apply"
    return _run_verb(args, "tc", "tc", {"netem_action": action, "netem_rate_only": args.rate_only})


def cmd_bench(args):
    extravars = {"bench_workload": os.path.abspath(args.workload)} if args.workload else {}
    return _run_verb(args, "bench", "bench", extravars)


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
        print("enos backup: %s (check it with `enos backup --verify %s`)" % (written[-1],
                                                                          written[-1]))
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
    p.add_argument("--rate-only", action="store_true",
                   help="on kernels without sch_netem, apply rates and report delay/loss as "
                        "not applied instead of failing")
    p = verb("bench", cmd_bench, "run Rally/Shaker workloads")
    p.add_argument("--workload", help="workload directory")
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


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except UsageError as exc:
        print("enos %s: %s" % (args.verb, exc), file=sys.stderr)
        return EXIT_INVALID
    except KeyboardInterrupt:
        print("enos %s: interrupted" % args.verb, file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
