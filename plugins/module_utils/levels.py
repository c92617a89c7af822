# -*- coding: utf-8 -*-
# Copyright: edge.enos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The edge requirement levels, measured: what each client runs, and the study's table.

Levels (the study's): L1 operate and use one site, L2.1 several sites named explicitly,
L2.2 several sites implicitly, L3.1 an isolated site's applications answer from inside it,
L3.2 the sites a client can still reach can be managed during a partition; L4 (several VIM
versions or technologies) and L5 (several operators) need more than one deployment.

A run is a list of scenarios: ``baseline`` (the deployment as it stands), then one per
partition. In each scenario every site's client runs suites (:func:`client_suites`); the probe
(roles/levels/files/levels_probe.py) turns a suite into operations and writes one record per
operation (:data:`RECORD_KEYS`). :func:`aggregate` turns the records into the table,
:func:`levels_markdown` into Markdown. Pure Python: no Ansible, no network.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

SCHEMA = "edge.enos/levels/1"
ROWS = ("L1", "L2.1", "L2.2", "L3.1", "L3.2", "L4", "L5")
MEASURED_ROWS = ("L1", "L2.1", "L2.2", "L3.1", "L3.2")
ACTORS = ("admin", "devops", "both")
OUTCOMES = ("done", "failed", "timeout")
BASELINE = "baseline"

OUT_OF_REACH = {
    "L4": "out of reach of one deployment: needs several VIM versions or technologies "
          "(e.g. two OpenStack releases, or OpenStack next to another VIM) operated together",
    "L5": "out of reach of one deployment: needs several operators, each with its own "
          "deployment and identity service, cooperating",
}

# What a suite of each level runs: {suite level: {actor: (operation, ...)}}. During a
# partition the L1 suite runs again on every site the client can still reach: its records
# are L3.2's.
CATALOGUE = {
    "L1": {
        "admin": ("project_create", "user_create", "role_assign", "quota_set",
                  "flavor_create", "image_upload"),
        "devops": ("network_create", "subnet_create", "port_create", "server_boot",
                   "server_delete"),
        "both": ("authenticate", "metric_query"),
    },
    "L2.1": {
        "admin": ("compute_services_of_sites", "image_upload_for_site"),
        "devops": ("servers_of_sites", "server_boot_with_image_of_site", "server_delete"),
        "both": ("authenticate", "metric_query"),
    },
    "L2.2": {
        "admin": ("compute_services_all",),
        "devops": ("server_boot_anywhere", "servers_all", "server_delete"),
        "both": ("authenticate", "metric_query"),
    },
    "L3.1": {
        "devops": ("app_request",),
    },
    # asked during a partition in the sites across it, then checked after the heal
    "converge": {
        "devops": ("server_boot_across", "server_final_state"),
    },
}
CATALOGUE["L3.2"] = CATALOGUE["L1"]

DESCRIPTIONS = {
    "authenticate": "Keystone token (password), the catalog it returns",
    "project_create": "create a project",
    "user_create": "create a user in it",
    "role_assign": "give the user the member role on the project",
    "quota_set": "set the project's compute quota",
    "flavor_create": "create a flavor",
    "image_upload": "create an image and upload its data (Glance)",
    "network_create": "create a network (Neutron)",
    "subnet_create": "create a subnet on it",
    "port_create": "create a port on it",
    "server_boot": "boot a server in the site's availability zone, until ACTIVE",
    "server_delete": "delete the server, until gone",
    "metric_query": "read a metric of the server: InfluxDB when monitoring is on, else "
                    "Nova's server diagnostics",
    "compute_services_of_sites": "list the compute services of the chosen sites' zones",
    "image_upload_for_site": "upload an image made for another site of the set",
    "servers_of_sites": "list the servers of the chosen sites (one list per zone)",
    "server_boot_with_image_of_site": "boot in the client's site with the image made for "
                                      "the other site, until ACTIVE",
    "compute_services_all": "list every compute service, whatever its zone",
    "server_boot_anywhere": "boot a server without a zone (the scheduler picks), until ACTIVE",
    "servers_all": "list every server",
    "app_request": "HTTP GET to an application container on a node of the site, from a node "
                   "of the same site",
    "server_boot_across": "ask for a server in a site across the partition (no wait)",
    "server_final_state": "after the heal, the state reached by a server asked for during "
                          "the partition",
}

RECORD_KEYS = ("scenario", "client_site", "level", "actor", "operation", "sites", "outcome",
               "error", "latency_s", "started_at")


class LevelsError(ValueError):
    """A record or a plan that does not fit the catalogue."""


def operations(level, actor=None):
    """The operations of a level (and actor), in the order they run."""
    actors = CATALOGUE[level]
    if actor is not None:
        return tuple(actors.get(actor, ()))
    return tuple(op for name in ACTORS for op in actors.get(name, ()))


def actor_of(level, operation):
    for actor in ACTORS:
        if operation in CATALOGUE.get(level, {}).get(actor, ()):
            return actor
    raise LevelsError("operation %r is not one of level %s's (%s)" % (
        operation, level, ", ".join(operations(level)) if level in CATALOGUE else
        "levels: %s" % ", ".join(sorted(CATALOGUE))))


# --------------------------------------------------------------------------- plan

def default_partitions(sites):
    """Each site cut from the rest in turn, then (three sites or more) every site on its own."""
    sites = list(sites)
    out = list(sites) if len(sites) > 1 else []
    if len(sites) > 2:
        out.append("/".join(sites))
    return out


def site_pairs(sites, zones):
    """The explicit sets of L2.1: for each site with a zone, (it, the next site with a zone)."""
    zones = [s for s in sites if s in zones]
    if len(zones) < 2:
        return []
    return [[zones[i], zones[(i + 1) % len(zones)]] for i in range(len(zones))]


def client_suites(client_site, sites, zones, groups=None):
    """The suites the client of a site runs: without groups (baseline) L1 on its site, L2.1 on
    its explicit set, L2.2; with the groups of a partition, L3.1 on its site, L3.2 (the L1
    suite) on every site of its side, and servers asked in the zones across."""
    if not groups:
        suites = [{"level": "L1", "sites": [client_site]}]
        for pair in site_pairs(sites, zones):
            if pair[0] == client_site:
                suites.append({"level": "L2.1", "sites": pair})
        if len([s for s in sites if s in zones]) > 1:
            suites.append({"level": "L2.2", "sites": []})
        return suites
    side = next((g for g in groups if client_site in g), [client_site])
    suites = [{"level": "L3.1", "sites": [client_site]}]
    suites += [{"level": "L3.2", "sites": [site]} for site in side]
    across = [s for s in sites if s not in side and s in zones]
    suites += [{"level": "converge", "sites": [site]} for site in across]
    return suites


def scenario_name(partition):
    return BASELINE if partition is None else "partition %s" % partition


def _natural(text):
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def plan(hosts, partitions, parse_partition, clients=None, run_id="run"):
    """What a run does, from the inventory's hosts {name: {site, roles, address}}.

    Per site a client (a node of the site, not a control node when the site has another) and
    an application node (another node of the site when it has one); the zones (sites with
    compute nodes); the control sites; the scenarios (baseline, then each partition, parsed by
    `parse_partition(spec, sites)` into groups) with the suites of each site's client."""
    clients = dict(clients or {})
    sites = sorted(set(h["site"] for h in hosts.values() if h.get("site")), key=_natural)
    if not sites:
        raise LevelsError("no host has a site: the inventory must come from the "
                          "edge.enos.topology plugin (enos_site on every node)")
    members = dict((site, sorted((n for n, h in hosts.items() if h.get("site") == site),
                                 key=_natural)) for site in sites)
    zones = [s for s in sites if any("compute" in hosts[n].get("roles", ()) for n in members[s])]
    control = [s for s in sites if any("control" in hosts[n].get("roles", ()) for n in members[s])]
    unknown = sorted(set(clients) - set(sites))
    if unknown:
        raise LevelsError("levels_clients: unknown site(s) %s (sites: %s)" % (
            ", ".join(unknown), ", ".join(sites)))
    chosen, apps = {}, {}
    for site in sites:
        if site in clients:
            if clients[site] not in members[site]:
                raise LevelsError("levels_clients.%s: %s is not a node of %s (its nodes: %s)" % (
                    site, clients[site], site, ", ".join(members[site])))
            chosen[site] = clients[site]
        else:
            plain = [n for n in members[site] if "control" not in hosts[n].get("roles", ())]
            chosen[site] = (plain or members[site])[0]
        others = [n for n in members[site] if n != chosen[site]]
        app = (others or [chosen[site]])[0]
        apps[site] = {"host": app, "address": hosts[app].get("address")}
    if partitions is None:
        partitions = default_partitions(sites)
    scenarios = [{"name": BASELINE, "slug": "%s-b" % run_id, "partition": None, "groups": None,
                  "suites": dict((s, client_suites(s, sites, zones)) for s in sites)}]
    for index, spec in enumerate(partitions):
        try:
            groups = parse_partition(spec, sites)
        except ValueError as exc:
            raise LevelsError("levels_partitions[%d]: %s" % (index, " (".join(
                str(a) for a in exc.args) + (")" if len(exc.args) > 1 else "")))
        scenarios.append({"name": scenario_name(spec), "slug": "%s-p%d" % (run_id, index + 1),
                          "partition": spec, "groups": groups,
                          "suites": dict((s, client_suites(s, sites, zones, groups))
                                         for s in sites)})
    return {"sites": sites, "zones": zones, "control_sites": control, "clients": chosen,
            "apps": apps, "converge_client": chosen[(control or sites)[0]],
            "scenarios": scenarios, "partitions": list(partitions), "run_id": run_id}


# --------------------------------------------------------------------------- aggregation

def check_record(record, index=0):
    missing = [k for k in RECORD_KEYS if k not in record]
    if missing:
        raise LevelsError("record %d: missing %s (a probe record has %s)" % (
            index, ", ".join(missing), ", ".join(RECORD_KEYS)))
    if record["outcome"] not in OUTCOMES:
        raise LevelsError("record %d: outcome %r (one of %s)" % (
            index, record["outcome"], ", ".join(OUTCOMES)))
    if record["level"] not in CATALOGUE:
        raise LevelsError("record %d: level %r (one of %s)" % (
            index, record["level"], ", ".join(sorted(CATALOGUE))))
    if actor_of(record["level"], record["operation"]) != record["actor"]:
        raise LevelsError("record %d: %s is an operation of %s, not %s" % (
            index, record["operation"], actor_of(record["level"], record["operation"]),
            record["actor"]))


def _cell(records):
    done = [r for r in records if r["outcome"] == "done"]
    failures = []
    for r in records:
        if r["outcome"] == "done":
            continue
        failures.append({"operation": r["operation"], "sites": list(r["sites"]),
                         "client_site": r["client_site"], "outcome": r["outcome"],
                         "error": r.get("error") or ""})
    latencies = sorted(r["latency_s"] for r in done if r.get("latency_s") is not None)
    cell = {"ok": len(done), "total": len(records),
            "share": round(len(done) / len(records), 4) if records else None,
            "failures": failures}
    if latencies:
        cell["latency_s"] = {"median": latencies[len(latencies) // 2], "max": latencies[-1]}
    return cell


def _table(records, sites):
    """{row: {actor: {"all": cell, "per_site": {client site: cell}}}} of measured rows."""
    table = {}
    for row in MEASURED_ROWS:
        table[row] = {}
        for actor in ACTORS:
            mine = [r for r in records if r["level"] == row and r["actor"] == actor]
            if not mine and not operations(row, actor):
                continue
            table[row][actor] = {
                "all": _cell(mine),
                "per_site": dict((site, _cell([r for r in mine if r["client_site"] == site]))
                                 for site in sites
                                 if any(r["client_site"] == site for r in mine)),
            }
    for row, why in OUT_OF_REACH.items():
        table[row] = {"out_of_reach": why}
    return table


def _convergence(records):
    asked = dict(((r["scenario"], r.get("server") or ""), r) for r in records
                 if r["operation"] == "server_boot_across")
    out = []
    for r in records:
        if r["operation"] != "server_final_state":
            continue
        ask = asked.get((r["scenario"], r.get("server") or ""), {})
        out.append({"scenario": r["scenario"], "server": r.get("server"),
                    "sites": list(r["sites"]), "asked_from": ask.get("client_site"),
                    "asked": ask.get("outcome"), "asked_error": ask.get("error") or "",
                    "final_status": r.get("status"), "outcome": r["outcome"],
                    "error": r.get("error") or ""})
    return out


def aggregate(records, sites, partitions, zones=None, control_sites=None, metric_source=None,
              notes=None):
    """The levels result (see docs/levels.md): the study's table per scenario, per site, and
    overall (L1/L2 from the baseline, L3 over every partition), and what converged."""
    records = list(records)
    for index, record in enumerate(records):
        check_record(record, index)
    scenarios = [BASELINE] + [scenario_name(p) for p in partitions]
    unknown = sorted(set(r["scenario"] for r in records) - set(scenarios))
    if unknown:
        raise LevelsError("records of unknown scenarios %s (scenarios of this run: %s)" % (
            ", ".join(unknown), ", ".join(scenarios)))
    per_scenario = []
    for name in scenarios:
        mine = [r for r in records if r["scenario"] == name]
        per_scenario.append({"scenario": name,
                             "partition": None if name == BASELINE else name.split(" ", 1)[1],
                             "records": len(mine), "table": _table(mine, sites)})
    # the study's table: L1 and L2 as the deployment stands, L3 under every partition
    overall = [r for r in records
               if r["level"] in (("L1", "L2.1", "L2.2") if r["scenario"] == BASELINE
                                 else ("L3.1", "L3.2"))]
    return {
        "schema": SCHEMA,
        "sites": list(sites),
        "zones": list(zones or []),
        "control_sites": list(control_sites or []),
        "partitions": list(partitions),
        "metric_source": metric_source,
        "table": _table(overall, sites),
        "scenarios": per_scenario,
        "convergence": _convergence(records),
        "notes": list(notes or []),
        "operations": {"catalogue": dict((lvl, dict(CATALOGUE[lvl])) for lvl in CATALOGUE),
                       "descriptions": DESCRIPTIONS},
        "records": records,
    }


# --------------------------------------------------------------------------- Markdown

def _share(cell):
    if cell is None or not cell["total"]:
        return "not run"
    return "%d %% (%d/%d)" % (round(100.0 * cell["ok"] / cell["total"]), cell["ok"],
                              cell["total"])


def _why(cell, limit=3):
    """The failures of a cell, those that broke first, then how many were not attempted
    because of them."""
    seen, out, skipped = set(), [], {}
    for failure in cell["failures"]:
        if failure["error"].startswith("not attempted: "):
            reason = failure["error"][len("not attempted: "):]
            skipped[reason] = skipped.get(reason, 0) + 1
            continue
        key = (failure["operation"], failure["outcome"], failure["error"])
        if key in seen:
            continue
        seen.add(key)
        text = "%s on %s from %s: %s" % (failure["operation"], ",".join(failure["sites"]) or "any",
                                         failure["client_site"], failure["outcome"])
        if failure["error"]:
            text += " (%s)" % _one_line(failure["error"])
        out.append(text)
    more = len(seen) - limit
    parts = out[:limit] + (["and %d more" % more] if more > 0 else [])
    parts += ["%d not attempted (%s)" % (count, _one_line(reason))
              for reason, count in sorted(skipped.items())]
    return "; ".join(parts)


def _one_line(text, width=120):
    text = " ".join(str(text).split()).replace("|", "/")
    return text if len(text) <= width else text[:width - 3] + "..."


def _markdown_table(table, per_site_sites=None):
    lines = ["| level | admin | DevOps | both |", "| --- | --- | --- | --- |"]
    for row in ROWS:
        entry = table.get(row, {})
        if per_site_sites is not None and not any(
                data.get("per_site") for data in entry.values() if isinstance(data, dict)):
            continue  # a scenario's table shows the rows it measured
        if "out_of_reach" in entry:
            lines.append("| %s | %s | | |" % (row, entry["out_of_reach"]))
            continue
        cells = []
        for actor in ACTORS:
            data = entry.get(actor)
            if data is None:
                cells.append("-")
                continue
            if per_site_sites is None:
                cell = data["all"]
                text = _share(cell)
                if cell["failures"]:
                    text += ": " + _why(cell)
            else:
                parts = []
                for site in per_site_sites:
                    cell = data["per_site"].get(site)
                    if cell is None:
                        continue
                    part = "%s %s" % (site, _share(cell))
                    if cell["failures"]:
                        part += " (%s)" % _why(cell, limit=2)
                    parts.append(part)
                text = "<br>".join(parts) or "not run"
            cells.append(text)
        lines.append("| %s | %s |" % (row, " | ".join(cells)))
    return lines


def levels_markdown(result):
    """The levels result as Markdown: the study's table, then one table per scenario with a
    cell per client site, then what converged after each heal."""
    out = ["# Edge requirement levels, measured", ""]
    out.append("Sites: %s; control services in %s; availability zones: %s." % (
        ", ".join(result["sites"]), ", ".join(result["control_sites"]) or "unknown",
        ", ".join(result["zones"]) or "none"))
    if result.get("metric_source"):
        out.append("Metrics queried from: %s." % result["metric_source"])
    out += ["", "Each cell: share of operations that worked (done/asked) and the failures that "
            "explain it (operation on target sites from the client's site: outcome (error)). "
            "L1, L2.1, L2.2 from the deployment as it stands; L3.1 and L3.2 over every "
            "partition.", ""]
    out += _markdown_table(result["table"])
    for scenario in result["scenarios"]:
        out += ["", "## %s" % scenario["scenario"], ""]
        if not scenario["records"]:
            out.append("Nothing was measured in this scenario.")
            continue
        out += _markdown_table(scenario["table"], per_site_sites=result["sites"])
    if result["convergence"]:
        out += ["", "## After the heal: servers asked for during a partition", "",
                "| partition | server | zone | asked from | asked | final state |",
                "| --- | --- | --- | --- | --- | --- |"]
        for item in result["convergence"]:
            final = item["final_status"] or item["outcome"]
            if item["error"]:
                final += " (%s)" % _one_line(item["error"], 80)
            asked = item["asked"] or "?"
            if item["asked_error"]:
                asked += " (%s)" % _one_line(item["asked_error"], 80)
            out.append("| %s | %s | %s | %s | %s | %s |" % (
                item["scenario"].replace("partition ", ""), item["server"] or "-",
                ",".join(item["sites"]), item["asked_from"] or "-", asked, final))
    for note in result.get("notes") or []:
        out += ["", "Note: %s" % note]
    return "\n".join(out) + "\n"
