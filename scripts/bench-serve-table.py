#!/usr/bin/env python3
"""Turns the output of scripts/bench-serve-hostile.sh into markdown tables: one row per
(repeat, mode, build) with the hostile/baseline ratio of real throughput and of server
CPU per real request, then the median ratio per (mode, build).

    python3 scripts/bench-serve-table.py hostile.out
"""
import json
import statistics
import sys


def main(path):
    runs = {}  # (rep, mode, build) -> {"base": row, "hostile": row, "hproc": row, "load": [..]}
    key = phase = None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("## rep="):
                kv = dict(x.split("=", 1) for x in line[3:].split())
                key = (int(kv["rep"]), kv["mode"], kv["build"])
                phase = kv["phase"]
                runs.setdefault(key, {"load": []})["load"].append(kv.get("load", "?"))
            elif line == "## hostile-process":
                phase = "hproc"
            elif line.startswith("[") and key is not None:
                runs[key][phase] = json.loads(line)[0]
    print("| mode | rep | build | load avg | base req/s | hostile req/s | ratio | base CPU ms/req | hostile CPU ms/req | CPU ratio | hostile p50/p99 ms | non-2xx | server peak RSS MiB | hostile replies |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    ratios = {}
    for (rep, mode, build), r in sorted(runs.items(), key=lambda kv: (kv[0][1], kv[0][0], kv[0][2])):
        if "base" not in r or "hostile" not in r:
            continue
        b, h = r["base"], r["hostile"]
        ratio = h["real"]["requests_per_s"] / b["real"]["requests_per_s"] if b["real"]["requests_per_s"] else float("nan")
        cb = b["server_cpu_per_real_request_ns"] / 1e6
        ch = h["server_cpu_per_real_request_ns"] / 1e6
        cratio = ch / cb if cb else float("nan")
        ratios.setdefault((mode, build), []).append((ratio, cratio, ch))
        hp = r.get("hproc", h)
        replies = ""
        if hp.get("bomb"):
            bo = hp["bomb"]
            replies = f"{bo['requests']} bomb reqs {bo['codes']}, {bo['transport_errors']} transport errs"
        if hp.get("slow_bodies"):
            s = hp["slow_bodies"]
            replies = f"{s['connections']} conns, replies {s['codes']}, {s['closed_early']} closed"
        nh = h["real"]["non_2xx"] + h["real"]["transport_errors"]
        print(f"| {mode} | {rep} | {build} | {'/'.join(r['load'])} | {b['real']['requests_per_s']:.1f} | {h['real']['requests_per_s']:.1f} | "
              f"**{ratio:.2f}** | {cb:.2f} | {ch:.2f} | {cratio:.2f} | {h['real']['p50_ns'] / 1e6:.0f}/{h['real']['p99_ns'] / 1e6:.0f} | {nh} | "
              f"{max(b['server_rss_mib_start_peak'][1], h['server_rss_mib_start_peak'][1]):.0f} | {replies} |")
    print()
    print("| mode | build | runs | ratios | median ratio | median CPU ratio | median hostile CPU ms/req |")
    print("|---|---|---|---|---|---|---|")
    for (mode, build), v in sorted(ratios.items()):
        rs = ", ".join(f"{x[0]:.2f}" for x in v)
        print(f"| {mode} | {build} | {len(v)} | {rs} | **{statistics.median(x[0] for x in v):.2f}** | "
              f"{statistics.median(x[1] for x in v):.2f} | {statistics.median(x[2] for x in v):.2f} |")


if __name__ == "__main__":
    main(sys.argv[1])
