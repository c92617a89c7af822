#!/usr/bin/env python3
"""How long each stage of `enos deploy` takes, cold and warm.

    benchmarks/deploy_time.py [-f inventories/local.yml] [--env DIR] [--runs cold warm]
    benchmarks/deploy_time.py --env DIR --report-only     # read the runs already in DIR

A cold run starts from nothing: `enos destroy --hard --include-images`, then the Kolla images are
removed from the host's Docker, the environment's registry goes with the environment, kolla-build's
cache (~/.cache/edge-enos/kolla-build-*) is removed, and all of it is checked gone before the
deploy. A warm run is `enos deploy` on the deployed environment. `--by-hand` then runs the same
`kolla-ansible deploy` by hand (same virtualenv, inventory, globals and nodes) beside ours and
prints the ratio; `--memory` prints the peak memory of every node and of every container on it. The durations are not
measured here a second time: they are read from what the runs leave in the environment, the
ansible-runner events of each playbook run (<env>/runner/artifacts/*/job_events) and the
kolla role's <env>/logs/kolla-timings.jsonl (one line per kolla-ansible command).
"""

import argparse
import collections
import datetime
import glob
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENOS = os.path.join(os.path.dirname(sys.executable), "enos")

# Roles (as ansible-runner names them) -> stage; other roles keep their own name.
STAGES = {
    "edge.enos.common": "nodes (common)",
    "edge.enos.docker": "docker",
    "edge.enos.registry": "registry",
    "edge.enos.node_image": "provider",
    "edge.enos.kolla_images": "image build",
    "edge.enos.kolla": "kolla (config)",
    "edge.enos.openstack_init": "init",
}


def stage_of(event_data):
    role = event_data.get("role") or ""
    if role:
        name = role if "." in role else "edge.enos." + role
        return STAGES.get(name, "provider" if "provider" in role else role)
    return "other tasks"


def _time(text):
    return datetime.datetime.fromisoformat(text).timestamp()


def runner_stages(artifact_dir):
    """{stage: seconds} of one ansible-runner run, from its task events."""
    tasks = {}
    for path in glob.glob(os.path.join(artifact_dir, "job_events", "*.json")):
        with open(path) as handle:
            event = json.load(handle)
        data = event.get("event_data", {})
        if not event.get("event", "").startswith("runner_on_") or "start" not in data:
            continue
        if data.get("task_action") == "ansible.builtin.include_tasks":
            continue
        key = data.get("task_uuid")
        start, end = _time(data["start"]), _time(data.get("end") or data["start"])
        stage = stage_of(data)
        if key in tasks:
            _, s, e = tasks[key]
            tasks[key] = (stage, min(s, start), max(e, end))
        else:
            tasks[key] = (stage, start, end)
    stages = collections.OrderedDict()
    for stage, start, end in sorted(tasks.values(), key=lambda t: t[1]):
        stages[stage] = stages.get(stage, 0.0) + (end - start)
    span = (min(t[1] for t in tasks.values()), max(t[2] for t in tasks.values())) if tasks else None
    return stages, span


def kolla_stages(env_dir, span):
    """{'kolla <command>': seconds} for the kolla-ansible commands run inside span."""
    stages = collections.OrderedDict()
    path = os.path.join(env_dir, "logs", "kolla-timings.jsonl")
    if not span or not os.path.exists(path):
        return stages, 0.0
    inside = 0.0
    with open(path) as handle:
        for line in handle:
            run = json.loads(line)
            if span[0] - 1 <= run["start"] and run["end"] <= span[1] + 1:
                seconds = run["end"] - run["start"]
                name = "kolla %s%s" % (run["command"], "" if run["rc"] == 0 else " (failed)")
                stages[name] = stages.get(name, 0.0) + seconds
                inside += seconds
    return stages, inside


def report(env_dir, artifact_dirs):
    """{stage: seconds} for a set of runner runs (e.g. the playbooks of one `enos deploy`)."""
    total = collections.OrderedDict()
    wall = 0.0
    for artifact_dir in artifact_dirs:
        stages, span = runner_stages(artifact_dir)
        wall += span[1] - span[0] if span else 0.0
        kolla, kolla_seconds = kolla_stages(env_dir, span)
        for stage, seconds in stages.items():
            if stage == "kolla (config)":
                # the kolla role's own time includes the kolla-ansible commands: show them apart
                total[stage] = total.get(stage, 0.0) + seconds - kolla_seconds
                for name, kseconds in kolla.items():
                    total[name] = total.get(name, 0.0) + kseconds
            else:
                total[stage] = total.get(stage, 0.0) + seconds
    total["total (playbooks)"] = wall
    return total


def artifacts(env_dir):
    return sorted(glob.glob(os.path.join(env_dir, "runner", "artifacts", "*")), key=os.path.getmtime)


def enos(*args):
    print("$ enos %s" % " ".join(args), flush=True)
    started = time.time()
    rc = subprocess.call([ENOS] + list(args), cwd=ROOT, stdout=subprocess.DEVNULL)
    print("  rc=%d in %.0f s" % (rc, time.time() - started), flush=True)
    return rc


KOLLA_CACHE = os.path.expanduser("~/.cache/edge-enos")


def kolla_images_in_docker():
    out = subprocess.run(["docker", "images", "--format", "{{.Repository}}:{{.Tag}}"],
                         capture_output=True, text=True, check=True).stdout.split()
    return [name for name in out if name.startswith("kolla/")]


def make_cold():
    """Remove every Kolla image and kolla-build's cache, and check that they are gone."""
    images = kolla_images_in_docker()
    if images:
        subprocess.run(["docker", "rmi", "-f"] + images, stdout=subprocess.DEVNULL, check=False)
    for build_dir in glob.glob(os.path.join(KOLLA_CACHE, "kolla-build-*")):
        subprocess.run(["rm", "-rf", build_dir], check=True)
    left = kolla_images_in_docker() + glob.glob(os.path.join(KOLLA_CACHE, "kolla-build-*"))
    if left:
        sys.exit("cold run impossible, still there: %s" % ", ".join(left))
    print("cold: %d Kolla images and kolla-build's cache removed, checked gone" % len(images), flush=True)


def by_hand(env_dir):
    """Seconds of `kolla-ansible deploy` run by hand with the environment's configuration."""
    config = os.path.join(env_dir, "kolla")
    venv = glob.glob(os.path.join(KOLLA_CACHE, "kolla-ansible-*", "bin"))
    if not venv:
        sys.exit("no kolla-ansible virtualenv in %s: deploy once first" % KOLLA_CACHE)
    environ = {"PATH": venv[0] + ":/usr/sbin:/usr/bin:/sbin:/bin", "HOME": os.environ["HOME"],
               "LANG": "C.UTF-8", "ANSIBLE_CONFIG": os.path.join(config, "ansible.cfg")}
    started = time.time()
    with open(os.path.join(env_dir, "logs", "kolla-by-hand-deploy.log"), "w") as log:
        rc = subprocess.call(["kolla-ansible", "deploy", "-i", "inventory", "--configdir", "."],
                             cwd=config, env=environ, stdout=log, stderr=subprocess.STDOUT)
    seconds = time.time() - started
    print("by hand: kolla-ansible deploy rc=%d in %.0f s" % (rc, seconds), flush=True)
    return seconds if rc == 0 else None


def memory(env_dir):
    """{node: (peak bytes, {container: peak bytes})} from the cgroups of the environment's nodes."""
    with open(os.path.join(env_dir, "resources.json")) as handle:
        environment = json.load(handle)["environment"]
    nodes = subprocess.run(["docker", "ps", "--filter", "label=edge.enos.env=%s" % environment,
                            "--filter", "label=edge.enos.host", "--format", "{{.Names}}"],
                           capture_output=True, text=True, check=True).stdout.split()
    script = ("cat /sys/fs/cgroup/memory.peak; for c in $(docker ps -q); do "
              "n=$(docker inspect -f '{{.Name}} {{.Id}}' $c); set -- $n; "
              "p=$(cat /sys/fs/cgroup/system.slice/docker-$2.scope/memory.peak 2>/dev/null "
              "|| cat /sys/fs/cgroup/docker/$2/memory.peak 2>/dev/null || echo 0); echo \"$1 $p\"; done")
    result = {}
    for node in nodes:
        out = subprocess.run(["docker", "exec", node, "sh", "-c", script], capture_output=True,
                             text=True, check=False).stdout.split("\n")
        containers = dict((line.split()[0].lstrip("/"), int(line.split()[1]))
                          for line in out[1:] if len(line.split()) == 2)
        result[node] = (int(out[0]) if out and out[0].strip().isdigit() else 0, containers)
    return result


def print_memory(usage):
    mib = 1024 * 1024
    total = 0
    for node, (peak, containers) in sorted(usage.items()):
        total += peak
        print("\n%s: peak %.0f MiB" % (node, peak / mib))
        for name, value in sorted(containers.items(), key=lambda kv: -kv[1]):
            print("  %-32s %7.0f MiB" % (name, value / mib))
    print("\nall nodes: peak %.0f MiB (sum of the nodes' peaks)" % (total / mib))


def run(kind, topology, env_dir):
    before = set(artifacts(env_dir))
    if kind == "cold":
        if os.path.exists(os.path.join(env_dir, "resources.json")):
            enos("destroy", "--hard", "--include-images", "--env", env_dir)
        make_cold()
        before = set(artifacts(env_dir))
    started = time.time()
    rc = enos("deploy", "-f", topology, "--env", env_dir)
    wall = time.time() - started
    return rc, wall, [a for a in artifacts(env_dir) if a not in before]


def print_table(columns):
    names = []
    for stages in columns.values():
        names += [n for n in stages if n not in names]
    width = max(12, max(len(k) for k in columns) + 2)
    print("\n%-20s" % "stage" + "".join(k.rjust(width) for k in columns))
    for name in names:
        print("%-20s" % name + "".join(
            ("%.1fs" % c[name] if name in c else "-").rjust(width) for c in columns.values()))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-f", "--file", default=os.path.join(ROOT, "inventories", "local.yml"))
    parser.add_argument("--env", default=os.path.join(ROOT, "benchmarks", "env_deploy_time"))
    parser.add_argument("--runs", nargs="+", default=["cold", "warm"], choices=["cold", "warm"])
    parser.add_argument("--report-only", action="store_true",
                        help="do not deploy: report every run found in --env, one column each")
    parser.add_argument("--json", help="also write the durations to this file")
    parser.add_argument("--by-hand", action="store_true",
                        help="then run kolla-ansible deploy by hand on the same nodes and compare")
    parser.add_argument("--memory", action="store_true",
                        help="then print the peak memory of every node and container")
    args = parser.parse_args(argv)
    env_dir = os.path.abspath(args.env)

    columns = collections.OrderedDict()
    if args.report_only:
        for artifact_dir in artifacts(env_dir):
            columns[os.path.basename(artifact_dir)] = report(env_dir, [artifact_dir])
    else:
        for kind in args.runs:
            rc, wall, runs = run(kind, os.path.abspath(args.file), env_dir)
            stages = report(env_dir, runs)
            stages["total (wall)"] = wall
            columns[kind if rc == 0 else kind + " FAILED"] = stages
    if not columns:
        print("no run found in %s" % env_dir, file=sys.stderr)
        return 1
    print_table(columns)
    if args.by_hand:
        seconds = by_hand(env_dir)
        ours = [c for k, c in columns.items() if "FAILED" not in k]
        ours = ours[-1].get("kolla deploy") if ours else None
        if seconds and ours:
            print("kolla deploy: ours %.0f s, by hand %.0f s, ratio %.2f" % (ours, seconds, ours / seconds))
            columns["by hand"] = {"kolla deploy": seconds}
    if args.memory:
        print_memory(memory(env_dir))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(columns, handle, indent=2)
    return 0 if all("FAILED" not in k for k in columns) else 1


if __name__ == "__main__":
    sys.exit(main())
