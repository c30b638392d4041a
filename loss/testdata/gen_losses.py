#!/usr/bin/env python3
"""Generates loss/testdata/losses.json: reference loss values and gradients (w.r.t.
the logits) computed by PyTorch for the multi-label losses of package loss.

Run from the repository root:  /usr/bin/python3 loss/testdata/gen_losses.py
Needs python3-torch (Debian). Computation is in float32, like the Go side (saturation and clamps then agree); the
Go tests compare at 1e-5 (absolute, plus 1e-5 relative above 1).

Normalisation (as in package loss): sum over known entries / number of known entries.
"""
import json
import os

import numpy as np
import torch
import torch.nn.functional as F

rng = np.random.default_rng(20211)
N, C = 7, 5
logits = rng.normal(0, 3, size=(N, C)).astype(np.float32)
# Extremes and the exact-zero logit (softplus/sigmoid kinks, clamps, saturation).
logits[0, :] = np.array([0.0, 25.0, -25.0, 18.0, -18.0], dtype=np.float32)
logits[1, :] = np.array([0.05, -0.05, 3.0, -3.0, 40.0], dtype=np.float32)
targets = (rng.random((N, C)) < 0.4).astype(np.float32)
targets[0, :] = [1, 1, 1, 0, 0]
targets[1, :] = [0, 1, 0, 1, 0]
mask = (rng.random((N, C)) > 0.25).astype(np.float32)
mask[0, :] = 1
mask[1, :] = [1, 1, 1, 1, 0]  # an unknown entry with an extreme logit
mask[6, :] = 0                 # a fully unknown row
pos_weight = np.array([1.0, 2.5, 7.0, 10.0, 1.3], dtype=np.float32)


def masked_mean(per_entry, m):
    return (per_entry * m).sum() / m.sum().clamp(min=1)


def bce(x, y, m, cfg):
    return F.binary_cross_entropy_with_logits(x, y, weight=m, reduction="sum") / m.sum().clamp(min=1)


def weighted(x, y, m, cfg):
    pw = torch.tensor(cfg["pos_weight"], dtype=torch.float32)
    return F.binary_cross_entropy_with_logits(x, y, weight=m, pos_weight=pw, reduction="sum") / m.sum().clamp(min=1)


def focal(x, y, m, cfg):
    # Lin et al. 2017, sigmoid form.
    ce = F.binary_cross_entropy_with_logits(x, y, reduction="none")
    p = torch.sigmoid(x)
    p_t = p * y + (1 - p) * (1 - y)
    l = ce * (1 - p_t) ** cfg["gamma"]
    if cfg["alpha"] >= 0:
        l = (cfg["alpha"] * y + (1 - cfg["alpha"]) * (1 - y)) * l
    return masked_mean(l, m)


def asl(x, y, m, cfg):
    # Ridnik et al. 2021, the math of the reference AsymmetricLoss (written here from the paper).
    gp, gn, clip, eps = cfg["gamma_pos"], cfg["gamma_neg"], cfg["clip"], cfg["eps"]
    xs_pos = torch.sigmoid(x)
    xs_neg = 1 - xs_pos
    if clip > 0:
        xs_neg = (xs_neg + clip).clamp(max=1)
    los_pos = y * torch.log(xs_pos.clamp(min=eps))
    los_neg = (1 - y) * torch.log(xs_neg.clamp(min=eps))
    loss = los_pos + los_neg
    if gp > 0 or gn > 0:
        pt = xs_pos * y + xs_neg * (1 - y)
        gamma = gp * y + gn * (1 - y)
        w = torch.pow(1 - pt, gamma)
        if cfg.get("detach_focal"):
            w = w.detach()
        loss = loss * w
    return masked_mean(-loss, m)


# Class statistics of the distribution-balanced loss: positives and known images per
# class (class 3 has no positive: n clamps to 1 and the prior to 1e-4).
db_counts = [500.0, 40.0, 3.0, 0.0, 120.0]
db_known = [1000.0, 900.0, 1000.0, 10.0, 130.0]


def db(x, y, m, cfg):
    # Wu et al. 2020, "Distribution-Balanced Loss for Multi-Label Classification in
    # Long-Tailed Datasets", written from the paper's equations:
    #   P^C_i = 1/C * 1/n_i, P^I(k) = 1/C * sum_{i: y_i^k = 1} 1/n_i, r = P^C_i / P^I(k),
    #   r_hat = alpha + sigmoid(beta * (r - mu));
    #   NTR: y log(1+e^{-(z-nu)}) + 1/lambda (1-y) log(1+e^{lambda (z-nu)}),
    #   nu_i = kappa * b_i, b_i = -log(1/p_i - 1), p_i = n_i / N;
    # focal factor gamma on each term's probability, sigmoid(z') for positives and
    # sigmoid(lambda z') for negatives. Images without a known positive: r_hat = 1.
    alpha, beta, mu = cfg["db_alpha"], cfg["db_beta"], cfg["db_mu"]
    kappa, lam, gamma = cfg["db_kappa"], cfg["db_lambda"], cfg.get("gamma", 0.0)
    n = torch.tensor(cfg["class_counts"], dtype=torch.float32)
    known = torch.tensor(cfg["class_known"], dtype=torch.float32)
    C = x.shape[1]
    yk = y * m
    pc = (1.0 / C) / n.clamp(min=1)                       # [C]
    pi = (yk * pc).sum(dim=1, keepdim=True)               # [N, 1]
    r = pc / torch.where(pi > 0, pi, torch.ones_like(pi))
    rhat = alpha + torch.sigmoid(beta * (r - mu))
    rhat = torch.where(pi > 0, rhat, torch.ones_like(rhat)).detach()
    p = (n / known).clamp(min=1e-4, max=1 - 1e-4)
    nu = kappa * -torch.log(1 / p - 1)
    z = x - nu
    q_pos = torch.sigmoid(z)
    q_neg = torch.sigmoid(lam * z)
    l_pos = (1 - q_pos) ** gamma * F.softplus(-z)
    l_neg = (1.0 / lam) * q_neg ** gamma * F.softplus(lam * z)
    per = rhat * (yk * l_pos + (1 - yk) * l_neg)
    return masked_mean(per, m)


db_default = {"kind": "db", "gamma": 2.0, "db_alpha": 0.1, "db_beta": 10.0, "db_mu": 0.2, "db_kappa": 0.05,
              "db_lambda": 2.0, "class_counts": db_counts, "class_known": db_known}

cases = [
    ("bce", {"kind": "bce"}, bce),
    ("weighted", {"kind": "weighted", "pos_weight": pos_weight.tolist()}, weighted),
    ("focal_default", {"kind": "focal", "gamma": 2.0, "alpha": 0.25}, focal),
    ("focal_noalpha_g1.5", {"kind": "focal", "gamma": 1.5, "alpha": -1.0}, focal),
    ("focal_g0_is_bce_alpha", {"kind": "focal", "gamma": 0.0, "alpha": 0.6}, focal),
    ("asl_default", {"kind": "asl", "gamma_pos": 0.0, "gamma_neg": 4.0, "clip": 0.05, "eps": 1e-8}, asl),
    ("asl_g1_g3.5_m0.1", {"kind": "asl", "gamma_pos": 1.0, "gamma_neg": 3.5, "clip": 0.1, "eps": 1e-8}, asl),
    ("asl_noclip_detach", {"kind": "asl", "gamma_pos": 1.0, "gamma_neg": 2.0, "clip": 0.0, "eps": 1e-8,
                           "detach_focal": True}, asl),
    ("db_default", db_default, db),
    ("db_nofocal_l5_k0.3", dict(db_default, gamma=0.0, db_lambda=5.0, db_kappa=0.3, db_mu=0.5, db_alpha=0.0), db),
    ("db_g1.5_beta3", dict(db_default, gamma=1.5, db_beta=3.0, db_lambda=1.0), db),
]

out = {"logits": logits.tolist(), "targets": targets.tolist(), "mask": mask.tolist(), "cases": []}
for name, cfg, fn in cases:
    x = torch.tensor(logits, dtype=torch.float32, requires_grad=True)
    y = torch.tensor(targets, dtype=torch.float32)
    m = torch.tensor(mask, dtype=torch.float32)
    l = fn(x, y, m, cfg)
    l.backward()
    g = x.grad.numpy()
    assert np.all(np.isfinite(g)), name
    assert np.all(g[mask == 0] == 0), name
    out["cases"].append({"name": name, "config": cfg, "loss": float(l), "grad": g.tolist()})

path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "losses.json")
with open(path + ".tmp", "w") as f:
    json.dump(out, f, indent=1)
os.replace(path + ".tmp", path)
print("wrote", path, "torch", torch.__version__)
