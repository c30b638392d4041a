#!/usr/bin/env python3
"""Reference values for package metric, computed with scikit-learn.

Run with Debian's python3-sklearn and python3-numpy:

    /usr/bin/python3 metric/testdata/gen_reference.py > metric/testdata/reference.json

Conventions (the same as package metric's documentation):
- truth is 1/0/-1; -1 entries are unknown and left out. A class's figures use only its
  known rows; the example-based figures use each image's known labels only, averaged
  over images with at least one known label.
- a label is predicted when score >= threshold; top-k keeps an image's k highest scores
  (stable sort: ties go to the lower label index) that also pass the threshold.
- CP/CR/macro-F1 average over classes with at least one known positive; OP/OR/OF1 and
  micro-F1 pool the known entries of all classes.
scikit-learn's multilabel ranking functions need at least two label columns, so an image
with a single known label is scored by hand with their documented values (coverage 1 if
the label is positive else 0, ranking loss 0, LRAP 1).
"""
import json
import sys

import numpy as np
from sklearn.metrics import (accuracy_score, average_precision_score, coverage_error,
                             f1_score, hamming_loss, label_ranking_average_precision_score,
                             label_ranking_loss, precision_score, recall_score)


def make_case(name, rng, n, labels, prevalence, unknown_frac=0.0, tie_step=None,
              empty_classes=(), threshold=0.5, per_class_thresholds=False, topk=3):
    L = len(labels)
    truth = (rng.random((n, L)) < prevalence).astype(np.int64)
    for j in empty_classes:
        truth[:, j] = 0
    # Scores correlated with the truth so that figures are not trivial.
    raw = 0.35 * truth + 0.65 * rng.random((n, L))
    if tie_step is not None:
        raw = np.round(raw / tie_step) * tie_step
    raw = np.clip(raw, 0.0, 1.0)
    scores = raw.astype(np.float32).astype(np.float64)  # exactly what Go's float32 holds
    if unknown_frac > 0:
        mask = rng.random((n, L)) < unknown_frac
        truth[mask] = -1
        truth[0, :] = -1  # an image with no known label at all
        truth[1, :] = -1
        truth[1, 0] = 1   # an image with a single known label
    if per_class_thresholds:
        ths = [float(np.float64(np.float32(t))) for t in rng.uniform(0.3, 0.7, size=L)]
    else:
        ths = None
    return dict(name=name, labels=labels, scores=scores.tolist(), truth=truth.tolist(),
                threshold=threshold, thresholds=ths, topk=topk)


def six(t, p, known, has_pos):
    L = t.shape[1]
    ps, rs = [], []
    for j in range(L):
        if not has_pos[j]:
            continue
        k = known[:, j]
        ps.append(precision_score(t[k, j], p[k, j], zero_division=0))
        rs.append(recall_score(t[k, j], p[k, j], zero_division=0))
    cp, cr = float(np.mean(ps)), float(np.mean(rs))
    cf1 = 2 * cp * cr / (cp + cr) if cp + cr > 0 else 0.0
    tf, pf = t[known], p[known]
    op = precision_score(tf, pf, zero_division=0)
    orr = recall_score(tf, pf, zero_division=0)
    of1 = 2 * op * orr / (op + orr) if op + orr > 0 else 0.0
    return dict(CP=cp, CR=cr, CF1=cf1, OP=float(op), OR=float(orr), OF1=float(of1))


def expected(case):
    labels = case["labels"]
    s = np.array(case["scores"], dtype=np.float64)
    t = np.array(case["truth"], dtype=np.int64)
    n, L = t.shape
    known = t >= 0
    th = np.array(case["thresholds"] if case["thresholds"] else [case["threshold"]] * L)
    out = {}
    per_ap, has_pos = {}, []
    for j in range(L):
        k = known[:, j]
        hp = bool((t[k, j] == 1).any())
        has_pos.append(hp)
        per_ap[labels[j]] = float(average_precision_score(t[k, j], s[k, j])) if hp else None
    aps = [v for v in per_ap.values() if v is not None]
    out["mAP"] = float(np.mean(aps))
    out["per_class_ap"] = per_ap

    p = (s >= th[None, :]).astype(np.int64)
    out.update(six(t, p, known, has_pos))

    k = case["topk"]
    pk = np.zeros_like(p)
    for i in range(n):
        top = np.argsort(-s[i], kind="stable")[:k]
        for j in top:
            if s[i, j] >= th[j]:
                pk[i, j] = 1
    for key, v in six(t, pk, known, has_pos).items():
        out[f"{key}_top{k}"] = v

    f1s = [f1_score(t[known[:, j], j], p[known[:, j], j], zero_division=0)
           for j in range(L) if has_pos[j]]
    out["macro_F1"] = float(np.mean(f1s))
    out["micro_F1"] = float(f1_score(t[known], p[known], zero_division=0))
    out["hamming_loss"] = float(hamming_loss(t[known], p[known]))

    subset, cov, rl, lr = [], [], [], []
    for i in range(n):
        kk = known[i]
        m = int(kk.sum())
        if m == 0:
            continue
        ti, si, pi = t[i, kk][None, :], s[i, kk][None, :], p[i, kk][None, :]
        subset.append(accuracy_score(ti, pi))
        if m == 1:
            cov.append(1.0 if ti[0, 0] == 1 else 0.0)
            rl.append(0.0)
            lr.append(1.0)
            continue
        cov.append(coverage_error(ti, si))
        rl.append(label_ranking_loss(ti, si))
        lr.append(label_ranking_average_precision_score(ti, si))
    out["subset_accuracy"] = float(np.mean(subset))
    out["coverage"] = float(np.mean(cov))
    out["ranking_loss"] = float(np.mean(rl))
    out["lrap"] = float(np.mean(lr))
    out["n_images"] = n
    out["n_labels"] = L
    out["threshold"] = float(case["threshold"])
    return out


def weighted_cases(rng):
    cases = []
    for c in range(4):
        n = 50
        y = (rng.random(n) < 0.3).astype(np.int64)
        y[0] = 1
        s = np.round(rng.random(n) * (10 if c % 2 else 1000)) / (10 if c % 2 else 1000)
        s = s.astype(np.float32).astype(np.float64)
        w = rng.integers(0, 4, size=n)
        w[0] = 1
        ap = average_precision_score(y, s, sample_weight=w)
        cases.append(dict(scores=s.tolist(), truth=y.tolist(), weights=w.tolist(), ap=float(ap)))
    return cases


def main():
    rng = np.random.default_rng(20261126)
    cases = [
        make_case("continuous", rng, 60, ["a", "b", "c", "d", "e", "f"], 0.3),
        make_case("ties and an empty class", rng, 80,
                  ["traffic light", "stop sign", "dog", "cat", "no positives here"], 0.25,
                  tie_step=0.1, empty_classes=(4,), topk=2),
        make_case("unknown entries", rng, 70,
                  ["person", "fire hydrant", "dining table", "x", "y", "z", "never"], 0.3,
                  unknown_frac=0.15, tie_step=0.05, empty_classes=(6,),
                  per_class_thresholds=True, topk=3),
        make_case("threshold 0.3 top1", rng, 40, ["p q", "r", "s", "t"], 0.4,
                  unknown_frac=0.1, threshold=0.3, topk=1),
        make_case("coarse ties", rng, 30, ["u", "v", "w"], 0.5, tie_step=0.25, topk=2),
    ]
    for c in cases:
        c["expected"] = expected(c)
    json.dump(dict(cases=cases, weighted_ap=weighted_cases(rng)), sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
