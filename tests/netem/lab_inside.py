"""Runs as the workload of the UML lab (inside the user-mode-linux kernel, as root).

Reads lab.json (nodes, links, hosts map) from the work dir given as argv[1], builds one network
namespace per node on a shared bridge, then: base RTT; apply edge.enos.netem on every node
(the module's main entry point, one process per node); RTT/loss matrix, IPv6 RTT and HTB rate;
second apply (changed? qdisc counters kept?); reset; RTT again. Writes results.json.
"""
import json
import os
import subprocess
import sys
import time

WORK = sys.argv[1]
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODULE = os.path.join(REPO, "plugins", "modules", "netem.py")
sys.path.insert(0, os.path.join(REPO, "collections"))
from ansible_collections.edge.enos.plugins.module_utils import netem as nm  # noqa: E402

lab = json.load(open(os.path.join(WORK, "lab.json")))
nodes = lab["nodes"]               # {name: {"ns", "site", "v4", "v6"}}
results = {"events": []}


def sh(cmd, check=True):
    proc = subprocess.run(cmd, shell=True, capture_output=True, text=True, check=False)
    if check and proc.returncode:
        raise RuntimeError("%s: %s" % (cmd, proc.stderr))
    return proc.stdout


def log(msg):
    results["events"].append("%.1f %s" % (time.time(), msg))
    print(msg, flush=True)


def setup():
    sh("ip link add br0 type bridge && ip link set br0 up")
    for i, (name, n) in enumerate(sorted(nodes.items())):
        ns = n["ns"]
        sh("ip netns add %s" % ns)
        sh("ip link add v%d type veth peer name eth0 netns %s" % (i, ns))
        sh("ip link set v%d master br0 up" % i)
        sh("ip -n %s link set lo up && ip -n %s link set eth0 up" % (ns, ns))
        sh("ip -n %s addr add %s/24 dev eth0" % (ns, n["v4"]))
        sh("ip -n %s addr add %s/64 dev eth0 nodad" % (ns, n["v6"]))


def module(name, args):
    """Run the module's main() in the node's namespace, as Ansible would, with an args file."""
    path = os.path.join(WORK, "args-%s.json" % name)
    with open(path, "w") as f:
        json.dump({"ANSIBLE_MODULE_ARGS": args}, f)
    out = sh("ip netns exec %s %s %s %s" % (nodes[name]["ns"], sys.executable, MODULE, path),
             check=False)
    return json.loads(out[out.index("{"):])


def apply_all(state="present"):
    out = {}
    for name in sorted(nodes):
        args = {"state": state, "links": lab["links"], "hosts": lab["hosts"], "host": name}
        out[name] = module(name, args)
    return out


def rtt_matrix(count, interval_ms, family="v4"):
    """{src: {dst: rtt_stats}} with every node probing every other node at the same time."""
    procs = {}
    for src, n in nodes.items():
        targets = [m[family] for dst, m in sorted(nodes.items()) if dst != src]
        procs[src] = subprocess.Popen(
            ["ip", "netns", "exec", n["ns"], "fping", "-q", "-C", str(count), "-p",
             str(interval_ms), "-t", "2000", "-B", "1", "-r", "0"] + targets,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    by_addr = {m[family]: dst for dst, m in nodes.items()}
    matrix = {}
    for src, proc in procs.items():
        out, _err = proc.communicate()
        matrix[src] = {}
        for line in out.splitlines():
            if " : " in line:
                addr, values = line.split(" : ", 1)
                samples = [None if v == "-" else float(v) for v in values.split()]
                matrix[src][by_addr[addr.strip()]] = nm.rtt_stats(samples)
    return matrix


def qdisc_stats(name):
    return json.loads(sh("ip netns exec %s tc -s -j qdisc show dev eth0" % nodes[name]["ns"]))


def main():
    setup()
    sh("ip netns exec %s fping -q -c 3 %s" % (nodes[lab["a"]]["ns"], " ".join(
        n["v4"] for n in nodes.values())), check=False)   # ARP/ND warm-up
    log("base")
    results["base"] = rtt_matrix(10, 20)
    log("apply")
    t = time.time()
    results["apply1"] = apply_all()
    results["apply1_seconds"] = time.time() - t
    results["tc_after_apply"] = sh("ip netns exec %s tc -s qdisc show dev eth0; "
                                   "ip netns exec %s tc filter show dev eth0"
                                   % (nodes[lab["a"]]["ns"], nodes[lab["a"]]["ns"]))
    log("measure")
    results["shaped"] = rtt_matrix(lab["count"], lab["interval_ms"])
    a, b = lab["v6_pair"]
    v6 = ["ip", "netns", "exec", nodes[a]["ns"]]
    nm.fping_rtts([nodes[b]["v6"]], count=3, prefix=v6)          # neighbour discovery first
    results["v6"] = nm.rtt_stats(nm.fping_rtts([nodes[b]["v6"]], count=20, prefix=v6)[nodes[b]["v6"]])
    log("iperf3")
    src, dst = lab["rate_pair"]
    sh("ip netns exec %s iperf3 -s -D -p 5201" % nodes[dst]["ns"])
    time.sleep(1)
    rate, eff = nm.iperf3(nodes[dst]["v4"], lab["rate_bps"], seconds=5,
                          prefix=["ip", "netns", "exec", nodes[src]["ns"]])
    results["rate"] = {"src": src, "dst": dst, "measured_bps": rate, "efficiency": eff}
    log("second apply")
    results["stats_before"] = qdisc_stats(lab["a"])
    results["apply2"] = apply_all()
    results["stats_after"] = qdisc_stats(lab["a"])
    log("reset")
    results["reset"] = apply_all(state="absent")
    results["reset2"] = apply_all(state="absent")
    results["after_reset"] = rtt_matrix(10, 20)
    results["tc_after_reset"] = sh("ip netns exec %s tc qdisc show dev eth0" % nodes[lab["a"]]["ns"])


try:
    main()
except Exception as exc:  # the host side reports it
    results["error"] = "%s: %s" % (type(exc).__name__, exc)
    raise
finally:
    with open(os.path.join(WORK, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
