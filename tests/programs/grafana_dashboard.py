#!/usr/bin/env python3
"""tuning/grafana-ringlog.json is a dashboard Grafana's JSON model loads: its panels are laid
out on the 24-column grid without overlapping, each has a unique id, a known type and queries
with unique refIds on the dashboard's Prometheus variable; every variable it uses is defined;
every query is PromQL that promtool parses; every ringlog metric it queries is one a running
`ringlog serve` (with [ship]) exposes; and it shows what operators watch: events/s per channel,
durable lag, ring use, ship lag, latency percentiles.

usage: grafana_dashboard.py <ringlog binary> <dashboard json>"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

PANEL_TYPES = {"timeseries", "stat", "gauge", "bargauge", "table", "text", "row", "heatmap"}
GRAFANA_VARIABLES = {"__rate_interval": "1m", "__range": "1h", "__interval": "15s"}
problems = []


def check(condition, what):
    if not condition:
        problems.append(what)


def layout(panels):
    cells = {}
    for panel in panels:
        grid = panel.get("gridPos", {})
        x, y, w, h = (grid.get(k) for k in ("x", "y", "w", "h"))
        if not all(isinstance(v, int) for v in (x, y, w, h)):
            problems.append(f"panel {panel.get('title')}: gridPos needs integer x, y, w, h")
            continue
        check(w > 0 and h > 0 and x >= 0 and y >= 0 and x + w <= 24,
              f"panel {panel['title']}: gridPos {grid} leaves the 24-column grid")
        for row in range(y, y + h):
            for column in range(x, x + w):
                other = cells.setdefault((row, column), panel["title"])
                check(other == panel["title"], f"panels {other} and {panel['title']} overlap")


def queries(dashboard, variables):
    """Every query's PromQL, with the dashboard's and Grafana's variables filled in."""
    found = []
    for panel in dashboard["panels"]:
        check(isinstance(panel.get("id"), int), f"panel {panel.get('title')}: no integer id")
        check(panel.get("type") in PANEL_TYPES, f"panel {panel.get('title')}: type {panel.get('type')}")
        check(panel.get("datasource", {}).get("uid") == "${datasource}",
              f"panel {panel.get('title')}: not on the $datasource variable")
        ref_ids = [t.get("refId") for t in panel.get("targets", [])]
        check(ref_ids and len(set(ref_ids)) == len(ref_ids), f"panel {panel['title']}: refIds {ref_ids}")
        for target in panel.get("targets", []):
            found.append((panel["title"], target.get("expr", "")))
    for title, expr in found:
        for name in re.findall(r"\$\{?(\w+)", expr):
            check(name in variables or name in GRAFANA_VARIABLES, f"{title}: ${name} is not defined")
    filled = []
    for title, expr in found:
        for name, value in {**GRAFANA_VARIABLES, "instance": ".*"}.items():
            expr = expr.replace("${" + name + "}", value).replace("$" + name, value)
        filled.append((title, expr))
    return filled


def exposed_families(ringlog):
    """The metric families a running service with [ship] exposes (NATS need not answer)."""
    scratch = tempfile.mkdtemp()
    try:
        config = os.path.join(scratch, "ringlog.toml")
        with open(config, "w") as f:
            f.write(f'[service]\nname = "grafana-test"\nruntime_dir = "{scratch}/run"\n'
                    f'[journal]\ndirectory = "{scratch}/journal"\n'
                    '[ship]\nnats = ["nats://127.0.0.1:1"]\n')
        service = subprocess.Popen([ringlog, "serve", "--config", config],
                                   stdout=subprocess.DEVNULL)
        try:
            status = ["--service", "grafana-test", "--runtime-dir", f"{scratch}/run"]
            deadline = time.monotonic() + 60
            while True:
                scrape = subprocess.run([ringlog, "status", "--prometheus", *status],
                                        capture_output=True, text=True)
                if scrape.returncode == 0 or time.monotonic() > deadline:
                    break
                time.sleep(0.02)
        finally:
            service.terminate()
            service.wait(timeout=60)
        if scrape.returncode != 0:
            sys.exit(f"FAIL: the service gave no status: {scrape.stderr}")
        return dict(re.findall(r"^# TYPE (\S+) (\S+)$", scrape.stdout, re.M))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def main():
    ringlog, path = sys.argv[1], sys.argv[2]
    dashboard = json.load(open(path))
    for key in ("title", "uid", "schemaVersion", "panels", "templating", "time"):
        check(key in dashboard, f"no top-level {key}")
    check(isinstance(dashboard.get("schemaVersion"), int), "schemaVersion is no integer")
    ids = [p.get("id") for p in dashboard["panels"]]
    check(len(set(ids)) == len(ids), f"panel ids repeat: {ids}")
    variables = {v["name"] for v in dashboard["templating"]["list"]}
    check({"datasource", "instance"} <= variables, f"variables {variables}")
    layout(dashboard["panels"])
    filled = queries(dashboard, variables)

    families = exposed_families(ringlog)
    for title, expr in filled:
        for name in set(re.findall(r"\bringlog_\w+", expr)):
            family = re.sub(r"_(bucket|sum|count)$", "", name)
            known = name in families or families.get(family) == "histogram"
            check(known, f"{title}: {name} is not exposed by ringlog serve")
    everything = " ".join(expr for _, expr in filled)
    for watched in ("ringlog_publisher_journaled_events_total", "ringlog_journal_durable_events_total",
                    "ringlog_publisher_ring_used_bytes", "ringlog_ship_lag_seconds",
                    "histogram_quantile(0.99, sum by (instance, channel, le) "
                    "(rate(ringlog_publisher_durable_latency_seconds_bucket"):
        check(watched in everything, f"no panel shows {watched}")

    # promtool parses PromQL in rule files: each query as a recording rule.
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as rules:
        rules.write("groups:\n  - name: dashboard\n    rules:\n")
        for number, (_, expr) in enumerate(filled):
            rules.write(f"      - record: dashboard:query{number}\n        expr: {json.dumps(expr)}\n")
    parsed = subprocess.run(["promtool", "check", "rules", rules.name], capture_output=True, text=True)
    os.unlink(rules.name)
    check(parsed.returncode == 0, f"promtool rejects a query: {parsed.stdout}{parsed.stderr}")

    if problems:
        print("FAIL:\n  " + "\n  ".join(dict.fromkeys(problems)))
        sys.exit(1)
    print(f"OK: {len(dashboard['panels'])} panels, {len(filled)} queries, all on exposed metrics")


if shutil.which("promtool") is None:
    print("SKIP: no promtool (Debian's prometheus package)")
    sys.exit(77)
main()
