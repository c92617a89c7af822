"""Run a shell script as PID 1 of a user-mode-linux kernel that uses this machine's root fs.

The kernel has sch_netem (the host's does not): see the project's notes on the netem UML lab.
The script's output and its result files come back through the shared filesystem."""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

# UML on hosts with AVX-512/AMX CPUs: see the module's docstring
from ansible_collections.edge.enos.plugins.module_utils.local_uml import (
    hide_xstate, kernel_env_args, shell_exports)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PYTHON = os.path.join(REPO, ".venv", "bin", "python")
MODULES = ("veth", "sch_netem", "sch_htb", "cls_u32", "bridge", "ifb")

PROLOGUE = """#!/bin/sh
if [ -z "$GLIBC_TUNABLES" ]; then
  {exports}
  exec "$0" "$@"
fi
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
export PYTHONPATH={repo}/collections PYTHONDONTWRITEBYTECODE=1 WORK={work} PYTHON={python}
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t tmpfs tmpfs /run
mkdir -p /run/netns /dev/shm /lib/modules
mount -t tmpfs tmpfs /dev/shm
mount --bind /usr/lib/uml/modules /lib/modules
for m in {modules}; do modprobe $m; done
ip link set lo up
cd {work}
(
{body}
) > {work}/out.log 2>&1
echo $? > {work}/rc
poweroff -f
"""


def available():
    return shutil.which("linux.uml") is not None and os.geteuid() == 0


def run(body, files=None, timeout=900, mem="1500M"):
    """Boot UML, run `body` (sh; $WORK is the work dir, $PYTHON the project's python) inside it.

    `files` ({name: text}) are written into the work dir first. Returns (rc, log, work dir);
    the caller removes the work dir (results the body wrote are in it)."""
    work = tempfile.mkdtemp(prefix="enos-uml-", dir="/tmp")
    for name, text in (files or {}).items():
        with open(os.path.join(work, name), "w") as f:
            f.write(text)
    init = os.path.join(work, "init.sh")
    with open(init, "w") as f:
        f.write(PROLOGUE.format(exports=shell_exports(), repo=REPO, python=PYTHON, modules=" ".join(MODULES), work=work, body=body))
    os.chmod(init, 0o755)
    proc = subprocess.Popen(
        ["linux.uml", "mem=%s" % mem, "rootfstype=hostfs", "rootflags=/", "rw",
         "init=%s" % init, "con=null", "con0=fd:0,fd:1"] + kernel_env_args(),
        stdin=subprocess.DEVNULL, stdout=open(os.path.join(work, "console.log"), "w"),
        stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=hide_xstate)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        proc.wait()
    log = _read(os.path.join(work, "out.log"))
    rc = _read(os.path.join(work, "rc")).strip()
    return (int(rc) if rc else -1), log, work


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""
