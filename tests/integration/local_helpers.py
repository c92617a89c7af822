"""Helpers of the local testbed tests: run the collection's playbooks on a topology written in
a temporary directory, and look at what carries an environment's label."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"
LABEL = "edge.enos.env"
SSH_OPTS = ["-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"]


def usable():
    """Why these tests cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root (veth pairs, the WAN router)"
    if not shutil.which("docker") or subprocess.run(["docker", "info"], capture_output=True, check=False).returncode:
        return "needs a running Docker engine (scripts/setup.sh starts one)"
    return None


def kernel_has_netem():
    """This kernel has sch_netem (probed in a throwaway network namespace)."""
    return subprocess.run(["unshare", "-n", "tc", "qdisc", "add", "dev", "lo", "root", "netem",
                           "delay", "1ms"], capture_output=True, check=False).returncode == 0


def write_topology(path, environment, subnet, router_subnet, sites, memory="512m", extra=None):
    """A grouped topology: `sites` maps site -> {role: count}, all in cluster `local`."""
    data = {"plugin": "edge.enos.topology",
            "provider": {"type": "local", "memory_per_node": memory, "environment": environment,
                         "subnet": subnet, "router_subnet": router_subnet},
            "topology": {site: {"local": roles} for site, roles in sites.items()},
            "registry": {"type": "none"}}
    data.update(extra or {})
    Path(path).write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def playbook(name, topology, env_dir, *extra, timeout=900):
    """Run playbooks/<name>.yml; returns (returncode, stdout + stderr)."""
    env = dict(os.environ, ENOS_ENV=str(env_dir), ANSIBLE_FORCE_COLOR="0", ANSIBLE_NOCOLOR="1")
    argv = [str(ANSIBLE_PLAYBOOK), "-i", str(topology), str(ROOT / "playbooks" / ("%s.yml" % name))]
    proc = subprocess.run(argv + list(extra), cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)
    return proc.returncode, proc.stdout + proc.stderr


def changed_count(output, host="localhost"):
    match = re.search(r"^%s\s*:\s*ok=\d+\s+changed=(\d+)" % re.escape(host), output, re.M)
    assert match, "no PLAY RECAP line for %s in:\n%s" % (host, output[-3000:])
    return int(match.group(1))


def labelled(environment):
    """{'containers': [...], 'networks': [...], 'volumes': [...]} names carrying the label."""
    flt = "label=%s=%s" % (LABEL, environment)
    found = {}
    for kind, argv in (("containers", ["ps", "-a", "--format", "{{.Names}}"]),
                       ("networks", ["network", "ls", "--format", "{{.Name}}"]),
                       ("volumes", ["volume", "ls", "--format", "{{.Name}}"])):
        out = subprocess.run(["docker"] + argv + ["--filter", flt], capture_output=True,
                             text=True, check=True).stdout
        found[kind] = out.split()
    return found


def resources(env_dir):
    return json.loads((Path(env_dir) / "resources.json").read_text())


def ssh(address, key, command, timeout=60):
    return subprocess.run(["ssh", "-i", str(key)] + SSH_OPTS + ["root@%s" % address, command],
                          capture_output=True, text=True, timeout=timeout, check=False)


def dexec(container, *argv):
    return subprocess.run(["docker", "exec", container] + list(argv), capture_output=True,
                          text=True, check=False)


def links_with_prefix(prefix):
    out = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, check=False).stdout
    return [line.split(":")[1].strip().split("@")[0] for line in out.splitlines()
            if line.split(":")[1].strip().startswith(prefix)]


def force_cleanup(environment, env_dir):
    """Last resort after a failed test: remove what carries the label, and the router."""
    found = labelled(environment)
    for kind, rm in (("containers", ["rm", "-f", "-v"]), ("networks", ["network", "rm"]),
                     ("volumes", ["volume", "rm", "-f"])):
        if found[kind]:
            subprocess.run(["docker"] + rm + found[kind], capture_output=True, check=False)
    state = Path(env_dir) / "router" / "state.json"
    if state.exists():
        data = json.loads(state.read_text())
        cmdline = Path("/proc/%s/cmdline" % data.get("pid")).read_bytes() \
            if Path("/proc/%s/cmdline" % data.get("pid")).exists() else b""
        if ("umid=%s-wan" % environment).encode() in cmdline.split(b"\0"):
            os.killpg(data["pid"], 9)
        for name in data.get("veths", []):
            subprocess.run(["ip", "link", "del", name], capture_output=True, check=False)
