# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How `enos tc --test` measures N sites in time that grows with N, not N^2.

Pure Python (no Ansible import). Three phases, planned here and run by every site's prober at
the same absolute times (so no per-pair Ansible round trip):

1. RTT and loss: every prober pings all other sites in one fping run, all probers at once, paced
   so that the WAN router sees at most `budget_pps` probes per second in total.
2. Link tests on a sample of ordered pairs that covers every distinct constraint (every pair
   when there are few): a one-way loss test (thousands of paced UDP datagrams, enough to tell
   1 % from 0 %), then a rate test where a rate is asked (TCP, or UDP offered above the rate on
   lossy links). The pairs run side by side in rounds: a site sends at most one test and
   receives at most one per round, and a round offers no more than the router can carry (its
   capacity is measured once and kept).
"""
from __future__ import annotations

import math

# one-way loss test: paced UDP datagrams of LOSS_PAYLOAD bytes
LOSS_PACKETS = 3000
LOSS_PAYLOAD = 100
LOSS_WIRE_BYTES = LOSS_PAYLOAD + 8 + 20 + 14 + 4
LOSS_MAX_PPS = 500
LOSS_MAX_SECONDS = 8
# a lossy link's rate test offers this much more than the asked rate, so that a link that is
# not shaped delivers too much and fails
UDP_OVERLOAD = 1.25
# a round uses at most this share of the router's measured capacity
CAPACITY_SHARE = 0.8
SLOT_MARGIN_S = 2.0


def constraint_key(link):
    return (link.get("delay_us") or 0, link.get("jitter_us") or 0, link.get("rate_bps") or 0,
            link.get("loss_pct") or 0)


def fping_pacing(n_sites, count, budget_pps=2000, min_interval_ms=10):
    """Per-target interval and inter-packet interval (ms) of each prober's fping, and the
    phase's length in seconds, for n_sites probers pinging each other at once."""
    targets = max(1, n_sites - 1)
    total = n_sites * targets                      # ordered pairs, each probed every interval
    per_target = max(min_interval_ms, int(math.ceil(1000.0 * total / budget_pps)))
    between = max(1, per_target // targets)
    return {"count": count, "interval_ms": per_target, "period_ms": between,
            "seconds": count * per_target / 1000.0 + 3.0}


def loss_test(link):
    """Paced UDP parameters of the loss test of one link: {packets, pps, rate_bps, seconds}."""
    rate = link.get("rate_bps")
    pps = LOSS_MAX_PPS
    if rate:
        pps = min(pps, int(0.5 * rate / (8.0 * LOSS_WIRE_BYTES)))
    pps = max(pps, 50)
    seconds = min(LOSS_MAX_SECONDS, int(math.ceil(LOSS_PACKETS / float(pps))))
    return {"packets": pps * seconds, "pps": pps, "seconds": seconds,
            "rate_bps": pps * LOSS_PAYLOAD * 8, "length": LOSS_PAYLOAD}


def rate_test(link, seconds):
    """How the rate of one link is tested, or None when no rate is asked."""
    rate = link.get("rate_bps")
    if not rate:
        return None
    udp = bool(link.get("loss_pct"))
    # TCP leaves its slow start out of the measure: about ten round trips of the link
    omit = 0 if udp else max(1, int(math.ceil(20 * (link.get("delay_us") or 0) / 1e6)))
    return {"udp": udp, "seconds": seconds, "omit": omit,
            "offered_bps": int(rate * UDP_OVERLOAD) if udp else int(rate)}


def sample_pairs(links, max_pairs=30):
    """The ordered pairs that get link tests: every pair when there are at most max_pairs,
    else for every distinct constraint the pairs spread over as many sites as possible, up to
    max_pairs in all (at least one per constraint).

    Returns (selected [(src, dst)], reasons {(src, dst): text}, represented_by
    {(src, dst): representative pair} for the pairs not selected)."""
    pairs = sorted((l["src"], l["dst"]) for l in links if l["src"] != l["dst"])
    by_pair = {(l["src"], l["dst"]): l for l in links}
    if len(pairs) <= max_pairs:
        return pairs, {p: "every pair is tested (%d pairs)" % len(pairs) for p in pairs}, {}
    groups = {}
    for pair in pairs:
        groups.setdefault(constraint_key(by_pair[pair]), []).append(pair)
    share = max(1, max_pairs // len(groups))
    selected, reasons, represented = [], {}, {}
    for key, members in sorted(groups.items()):
        used, chosen = set(), []
        # spread: prefer pairs whose sites are not yet in this constraint's sample
        for pair in sorted(members, key=lambda p: (p[0] in used) + (p[1] in used)):
            if len(chosen) >= share:
                break
            if pair[0] in used and pair[1] in used and len(chosen) > 0:
                continue
            chosen.append(pair)
            used.update(pair)
        for pair in chosen:
            reasons[pair] = "sample of %d of the %d pairs with constraint %s" % (
                len(chosen), len(members), describe_key(key))
        for i, pair in enumerate(p for p in members if p not in chosen):
            represented[pair] = chosen[i % len(chosen)]
        selected.extend(chosen)
    return sorted(selected), reasons, represented


def describe_key(key):
    delay, jitter, rate, loss = key
    parts = ["delay %gms" % (delay / 1000.0)]
    if jitter:
        parts.append("jitter %gms" % (jitter / 1000.0))
    parts.append("rate %gmbit" % (rate / 1e6) if rate else "no rate")
    if loss:
        parts.append("loss %g%%" % loss)
    return "(%s)" % ", ".join(parts)


def schedule_rounds(pairs, offered_bps, capacity_bps=None, max_parallel=None):
    """Pack ordered pairs into rounds run side by side.

    In a round a site sends at most one test and receives at most one, a pair never runs beside
    its reverse (a TCP test's acknowledgements would queue behind the reverse test's data in the
    shaped class and the test would measure less than the link carries), the offered rates sum to
    at most CAPACITY_SHARE x capacity_bps (None: no limit) and there are at most max_parallel
    tests. A pair whose own offer exceeds the share still gets a round of its own.
    offered_bps: {pair: bit/s}. Returns [[pair]]."""
    budget = capacity_bps * CAPACITY_SHARE if capacity_bps else None
    # biggest offers first: they are the hardest to place; then by shift (dst - src) around
    # the ring of sites: the pairs of one shift make a round where every site sends once
    index = {s: i for i, s in enumerate(sorted({s for p in pairs for s in p}))}
    n = max(1, len(index))
    todo = sorted(pairs, key=lambda p: (-offered_bps.get(p, 0),
                                        (index[p[1]] - index[p[0]]) % n, index[p[0]]))
    rounds = []
    while todo:
        senders, receivers, load, this, rest = set(), set(), 0.0, [], []
        for pair in todo:
            offer = offered_bps.get(pair, 0)
            fits = (pair[0] not in senders and pair[1] not in receivers
                    and (pair[1], pair[0]) not in this
                    and (max_parallel is None or len(this) < max_parallel)
                    and (budget is None or not this or load + offer <= budget))
            if fits:
                this.append(pair)
                senders.add(pair[0])
                receivers.add(pair[1])
                load += offer
            else:
                rest.append(pair)
        rounds.append(sorted(this))
        todo = rest
    return rounds


def plan(links, sites, count=30, budget_pps=2000, capacity_bps=None, max_parallel=None,
         max_pairs=30, rate_seconds=3, start_at=0.0):
    """The whole measurement: fping pacing, the link-test sample, its rounds and per-prober jobs.

    links: normalized links (src, dst, delay_us, jitter_us, rate_bps, loss_pct).
    sites: the sites that have a prober. fping starts at start_at (absolute); link-test times
    are offsets from the start of the link-test phase, fixed when it begins (every prober has
    then finished fping). capacity_bps: what the router carries of UDP; a lossy link whose rate
    test would offer more than its share cannot be proven here, and the coverage says so.
    Returns {"fping", "rounds", "jobs": {src site: [job]}, "coverage", "seconds"}."""
    links = [l for l in links if l["src"] in sites and l["dst"] in sites]
    by_pair = {(l["src"], l["dst"]): l for l in links}
    fping = fping_pacing(len(sites), count, budget_pps)
    selected, reasons, represented = sample_pairs(links, max_pairs)
    tests, unprovable = {}, {}
    for pair in selected:
        link = by_pair[pair]
        rate = rate_test(link, rate_seconds)
        if rate and rate["udp"] and capacity_bps and \
                rate["offered_bps"] > capacity_bps * CAPACITY_SHARE:
            unprovable[pair] = (
                "rate not provable through this router: a lossy link's test offers %.0f Mbit/s "
                "of UDP, the router carries %.0f Mbit/s" % (rate["offered_bps"] / 1e6,
                                                            capacity_bps / 1e6))
            rate = None
        tests[pair] = {"loss": loss_test(link), "rate": rate}
    offered = {p: max(t["loss"]["rate_bps"], (t["rate"] or {}).get("offered_bps", 0))
               for p, t in tests.items()}
    rounds = schedule_rounds(selected, offered, capacity_bps, max_parallel)
    jobs = {s: [] for s in sites}
    at = 0.0
    round_times = []
    for index, pairs in enumerate(rounds):
        slot = max(t["loss"]["seconds"] + (t["rate"]["seconds"] + t["rate"]["omit"] + 1 if t["rate"] else 0)
                   for t in (tests[p] for p in pairs)) + SLOT_MARGIN_S
        round_times.append({"round": index + 1, "at": at, "seconds": slot, "pairs": pairs})
        for pair in pairs:
            jobs[pair[0]].append(dict(tests[pair], dst=pair[1], at=at, round=index + 1))
        at += slot
    coverage = {"%s->%s" % p: {"measured": True, "why": reasons[p]} for p in selected}
    for pair, why in unprovable.items():
        coverage["%s->%s" % pair]["unprovable"] = why
    coverage.update({"%s->%s" % p: {"measured": False, "represented_by": "%s->%s" % r,
                                    "why": "same constraint as %s->%s, which is tested" % r}
                     for p, r in represented.items()})
    return {"fping": fping, "rounds": round_times, "jobs": jobs, "coverage": coverage,
            "start_at": start_at, "links_seconds": at, "seconds": fping["seconds"] + at}
