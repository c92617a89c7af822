"""Runs inside the UML lab (as root): one link a->b shaped three ways, measured as
`enos tc --test` measures it (one-way loss test, rate test offered above the rate).

argv[1]: work dir with proofs.json ({"link", "variants": {name: link actually applied}}).
Writes results.json: {variant: {"loss_test": {...}, "rate_bps", "efficiency"}}."""
import json
import os
import subprocess
import sys
import time

WORK = sys.argv[1]
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "collections"))
from ansible_collections.edge.enos.plugins.module_utils import netem as nm  # noqa: E402
from ansible_collections.edge.enos.plugins.module_utils import wan_test as wt  # noqa: E402

spec = json.load(open(os.path.join(WORK, "proofs.json")))
HOSTS = {"a": {"site": "a", "interfaces": {"network_interface": {"device": "eth0", "address": "10.77.9.1"}}},
         "b": {"site": "b", "interfaces": {"network_interface": {"device": "eth0", "address": "10.77.9.2"}}}}
A = ["ip", "netns", "exec", "pa"]


def sh(cmd):
    subprocess.run(cmd, shell=True, check=True)


sh("ip netns add pa && ip netns add pb")
sh("ip link add eth0 netns pa type veth peer name eth0 netns pb")
for ns, addr in (("pa", "10.77.9.1"), ("pb", "10.77.9.2")):
    sh("ip -n %s link set lo up && ip -n %s link set eth0 up && ip -n %s addr add %s/24 dev eth0"
       % (ns, ns, ns, addr))
sh("ip netns exec pb iperf3 -s -D -p 5201")
time.sleep(1)
results = {}
asked = spec["link"]
for name, applied in sorted(spec["variants"].items()):
    sh("ip netns exec pa tc qdisc del dev eth0 root 2>/dev/null || true")
    plan = nm.compile_plan([applied], HOSTS, "a")
    if plan["devices"]:
        batch = os.path.join(WORK, "%s.tc" % name)
        with open(batch, "w") as f:
            f.write("\n".join(nm.render_batch(plan)) + "\n")
        sh("ip netns exec pa tc -batch %s" % batch)
    loss = wt.loss_test(asked)
    rate = wt.rate_test(asked, 3)
    out = {"loss_test": nm.iperf3_loss("10.77.9.2", loss["pps"], loss["seconds"], loss["length"],
                                       prefix=A)}
    time.sleep(0.5)
    out["rate_bps"], out["efficiency"] = nm.iperf3("10.77.9.2", rate["offered_bps"], rate["seconds"],
                                                   udp=rate["udp"], prefix=A)
    out["offered_bps"] = rate["offered_bps"]
    results[name] = out
    print(name, json.dumps(out), flush=True)
with open(os.path.join(WORK, "results.json"), "w") as f:
    json.dump(results, f, indent=1)
