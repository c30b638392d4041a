"""Summarises scripts/heads_cooc.sh's JSON lines: per data set, head and pooling, the
mean ± standard deviation over seeds of test mAP, CF1, OF1 and the training seconds,
then the mean per-label test AP."""
import json
import statistics
import sys
from collections import defaultdict

runs = defaultdict(list)
for line in open(sys.argv[1]):
    r = json.loads(line)
    runs[(r["set"], r["head"], r["pool"])].append(r["result"])


def ms(v):
    if len(v) < 2:
        return "%.3f" % v[0]
    return "%.3f ± %.3f" % (statistics.mean(v), statistics.stdev(v))


print("| data | head | pool | seeds | test mAP | CF1 | OF1 | train s |")
print("|---|---|---|---|---|---|---|---|")
for (s, h, p), rs in runs.items():
    t = [r["test"] for r in rs]
    print("| %s | %s | %s | %d | %s | %s | %s | %.1f |" % (
        s, h, p, len(rs), ms([x["mAP"] for x in t]), ms([x["CF1"] for x in t]),
        ms([x["OF1"] for x in t]), statistics.mean(r["seconds"]["train"] for r in rs)))
print()
for (s, h, p), rs in runs.items():
    per = defaultdict(list)
    for r in rs:
        for c in r["test"]["per_class"]:
            if c.get("ap") is not None and c.get("positives", 0) > 0:
                per[c["label"]].append(c["ap"])
    cells = ", ".join("%s %.3f" % (l, statistics.mean(v)) for l, v in per.items())
    print("%s %s/%s per-label AP: %s" % (s, h, p, cells))
