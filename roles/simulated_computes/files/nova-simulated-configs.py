#!/usr/bin/python3
"""Write one Kolla config directory per simulated nova-compute host.

Usage: nova-simulated-configs.py SOURCE_DIR HOSTNAME SUFFIX COUNT

SOURCE_DIR is the node's real nova-compute config (nova.conf, config.json, compute_id). Each
simulated host N gets SOURCE_DIR-sim<N>/ with `host` and `log_file` set in nova.conf and a
compute_id of its own (a UUID derived from its host name, so that reruns change nothing).
Directories beyond COUNT are removed. Prints one JSON line: {"changed": [...], "removed": [...]}.
"""
import filecmp
import glob
import json
import os
import re
import shutil
import sys
import uuid


def render(source, target, host, number):
    os.makedirs(target, exist_ok=True)
    for name in os.listdir(source):
        src, dst = os.path.join(source, name), os.path.join(target, name)
        if name == "nova.conf":
            with open(src) as handle:
                text = handle.read()
            text = re.sub(r"^\[DEFAULT\]\n",
                          "[DEFAULT]\nhost = %s\nlog_file = /var/log/kolla/nova/nova-compute-sim%d.log\n"
                          % (host, number), text, count=1, flags=re.M)
            with open(dst, "w") as handle:
                handle.write(text)
        elif name == "compute_id":
            with open(dst, "w") as handle:
                handle.write(str(uuid.uuid5(uuid.NAMESPACE_DNS, host)))
        elif os.path.isfile(src):
            shutil.copyfile(src, dst)
        shutil.copymode(src, dst)


def same(a, b):
    if not os.path.isdir(b):
        return False
    cmp = filecmp.dircmp(a, b)
    return not (cmp.left_only or cmp.right_only or
                filecmp.cmpfiles(a, b, cmp.common_files, shallow=False)[1:] != ([], []))


def main():
    source, hostname, suffix, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    changed, removed = [], []
    for number in range(1, count + 1):
        target = "%s%s%d" % (source, suffix, number)
        staging = target + ".new"
        shutil.rmtree(staging, ignore_errors=True)
        render(source, staging, "%s%s%d" % (hostname, suffix, number), number)
        if same(staging, target):
            shutil.rmtree(staging)
        else:
            shutil.rmtree(target, ignore_errors=True)
            os.rename(staging, target)
            changed.append(number)
    for path in glob.glob("%s%s*" % (source, suffix)):
        tail = path[len(source + suffix):]
        if tail.isdigit() and int(tail) > count:
            shutil.rmtree(path)
            removed.append(int(tail))
    print(json.dumps({"changed": changed, "removed": sorted(removed)}))


if __name__ == "__main__":
    main()
