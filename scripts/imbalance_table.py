#!/usr/bin/env python3
"""Tables from the log lines of scripts/imbalance_study.go (its stderr), paired per case.

    go run scripts/imbalance_study.go -world miml ... 2> miml.log
    python3 scripts/imbalance_table.py miml.log [more.log ...] --base uniform+bce --labels 5 --rare 1 [--only R1,R2]

Each log line "CASE RECIPE rare AP X mAP Y" is one trained head. Only cases where every
recipe ran are kept (so an interrupted study still gives a paired table). Columns: mean
rare-label AP, its paired difference against --base (mean ± sd over cases, standard
error, cases where it is higher), mAP and its difference, and the difference on the
other labels, (labels·ΔmAP − rare·Δrare)/(labels − rare): does a recipe help the rare
label, or every label?
"""
import argparse
import collections
import math
import re
import statistics as st

ap = argparse.ArgumentParser()
ap.add_argument("logs", nargs="+")
ap.add_argument("--base", default="uniform+bce")
ap.add_argument("--labels", type=int, default=5, help="labels in the mAP")
ap.add_argument("--rare", type=int, default=1, help="labels in the rare-label AP")
ap.add_argument("--only", default="", help="comma-separated recipes to keep (default: all in the logs)")
a = ap.parse_args()

rows = collections.defaultdict(dict)
order = []
line = re.compile(r"(\S+/\d+) (\S+)\s+rare AP ([\d.]+) mAP ([\d.]+)")
for path in a.logs:
    for l in open(path):
        m = line.search(l)
        if m:
            case, rec = m.group(1), m.group(2)
            rows[case][rec] = (float(m.group(3)), float(m.group(4)))
            if rec not in order:
                order.append(rec)
if a.only:
    order = [r for r in a.only.split(",")]
cases = [c for c in rows if all(r in rows[c] for r in order)]
labels = sorted({c.split("/")[0] for c in cases})
per = collections.Counter(c.split("/")[0] for c in cases)
print(f"{len(cases)} cases ({', '.join(f'{k} ×{per[k]}' for k in labels)}), paired against {a.base}\n")
print("| recipe | rare AP | Δ rare AP (mean ± sd) | ± s.e. | cases Δ > 0 | mAP | Δ mAP | Δ AP other labels |")
print("|---|---|---|---|---|---|---|---|")
L, R = a.labels, a.rare
for r in order:
    d = [rows[c][r][0] - rows[c][a.base][0] for c in cases]
    dm = [rows[c][r][1] - rows[c][a.base][1] for c in cases]
    sd = st.stdev(d) if len(d) > 1 else 0.0
    other = (L * st.mean(dm) - R * st.mean(d)) / (L - R)
    print(f"| {r} | {st.mean(rows[c][r][0] for c in cases):.4f} | {st.mean(d):+.4f} ± {sd:.4f} | {sd / math.sqrt(len(d)):.4f} | "
          f"{sum(x > 0 for x in d)}/{len(d)} | {st.mean(rows[c][r][1] for c in cases):.4f} | {st.mean(dm):+.4f} | {other:+.4f} |")
if len(labels) > 1:
    print("\nΔ rare AP per label made rare (mean over seeds)\n")
    print("| recipe | " + " | ".join(labels) + " |\n|---|" + "---|" * len(labels))
    for r in order:
        cells = []
        for lab in labels:
            cs = [c for c in cases if c.split("/")[0] == lab]
            cells.append(f"{st.mean(rows[c][r][0] - rows[c][a.base][0] for c in cs):+.4f}")
        print(f"| {r} | " + " | ".join(cells) + " |")
