#!/usr/bin/python3
"""Reference values for calib.FitPlatt: scikit-learn's LogisticRegression on one
label's logits at a time (the known entries only), C = 1/PlattRidge (the slope's L2
penalty λ·a²/2 on the summed log-loss, intercept unpenalised), lbfgs to a tight
tolerance. The logits are drawn here, seeded: labels whose scores are too sharp (a < 1),
too soft (a > 1), shifted (b != 0), with unknown entries (-1), and one nearly separated.

    /usr/bin/python3 calib/testdata/gen_platt.py > calib/testdata/platt.json
"""
import json

import numpy as np
from sklearn.linear_model import LogisticRegression

RIDGE = 1e-4  # calib.PlattRidge
rng = np.random.default_rng(15)
n = 240
# (true slope, true shift, logit spread, share unknown) per label: the truth is drawn
# from sigma(a*z + b), so the fit should come out near (a, b).
specs = [(0.5, 0.0, 4.0, 0.0), (2.0, -1.0, 1.5, 0.0), (1.0, 1.5, 2.0, 0.1), (0.7, -2.0, 3.0, 0.2), (6.0, 0.5, 2.0, 0.0)]
z = np.zeros((n, len(specs)))
y = np.zeros((n, len(specs)), dtype=int)
for c, (a, b, spread, unk) in enumerate(specs):
    z[:, c] = rng.normal(0, spread, n)
    p = 1 / (1 + np.exp(-(a * z[:, c] + b)))
    y[:, c] = (rng.random(n) < p).astype(int)
    y[rng.random(n) < unk, c] = -1
z = np.float32(z)
out = {"ridge": RIDGE, "logits": z.tolist(), "truth": y.tolist(), "a": [], "b": []}
for c in range(len(specs)):
    k = y[:, c] >= 0
    m = LogisticRegression(C=1 / RIDGE, tol=1e-12, max_iter=100000).fit(z[k, c:c + 1].astype(np.float64), y[k, c])
    out["a"].append(float(m.coef_[0, 0]))
    out["b"].append(float(m.intercept_[0]))
print(json.dumps(out))
