#!/usr/bin/env bash
# deploy/monitoring: the alert rules pass `promtool check rules` and their unit tests
# (`promtool test rules`), and the Grafana dashboard is valid JSON whose queries name only
# metrics haid exports (the list in docs/monitoring.md's table, checked against the live
# /metrics by monitoring_e2e_test).
set -euo pipefail
src=$1
cd "$src/deploy/monitoring"
promtool check rules hai-alerts.yml
promtool test rules hai-alerts-test.yml
python3 - "$src" <<'PY'
import json, re, sys
src = sys.argv[1]
d = json.load(open(f"{src}/deploy/monitoring/grafana-hai.json"))
doc = open(f"{src}/docs/monitoring.md").read()
known = set(re.findall(r"`(hai_[a-z_]+)`", doc))
exprs = [t["expr"] for p in d["panels"] for t in p.get("targets", [])]
exprs += re.findall(r"expr: \|?\s*\n?((?:.+\n)+?)\s+for:", open(f"{src}/deploy/monitoring/hai-alerts.yml").read())
bad = []
for e in exprs:
    for name in re.findall(r"\b(hai_[a-z_]+)", e):
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        if name not in known and base not in known:
            bad.append(name)
if bad:
    sys.exit("queries name metrics docs/monitoring.md does not list: " + ", ".join(sorted(set(bad))))
print(f"{len(exprs)} queries name only documented metrics")
PY
