#!/usr/bin/env python3
"""Generates train/testdata/adamw.json: a few full-batch training steps of the linear and
MLP heads run by PyTorch (torch.optim.AdamW with weight decay on weights only,
clip_grad_norm_, constant learning rate, feature standardisation with the training
mean and population std), from given initial weights. train.Fit must reproduce the
per-step losses and the final weights (1e-5).

Run from the repository root:  /usr/bin/python3 train/testdata/gen_adamw.py
"""
import json
import os

import numpy as np
import torch
import torch.nn.functional as F

rng = np.random.default_rng(7)
N, D, C, H = 10, 4, 3, 6
x = rng.normal(2, 3, size=(N, D)).astype(np.float32)
labels = (rng.random((N, C)) < 0.4).astype(np.int8)
labels[rng.random((N, C)) < 0.2] = -1
labels[0] = [1, 0, -1]


def init(shape, scale):
    return (rng.uniform(-scale, scale, size=shape)).astype(np.float32)


def masked_mean(per_entry, m):
    return (per_entry * m).sum() / m.sum().clamp(min=1)


def loss_fn(cfg, logits, y, m):
    kind = cfg["kind"]
    if kind == "bce":
        return F.binary_cross_entropy_with_logits(logits, y, weight=m, reduction="sum") / m.sum().clamp(min=1)
    if kind == "weighted":
        pw = torch.tensor(cfg["pos_weight"])
        return F.binary_cross_entropy_with_logits(logits, y, weight=m, pos_weight=pw, reduction="sum") / m.sum().clamp(min=1)
    if kind == "asl":  # Ridnik et al. 2021, as in loss/testdata/gen_losses.py
        p = torch.sigmoid(logits)
        xs_neg = (1 - p + cfg["clip"]).clamp(max=1)
        lp = y * torch.log(p.clamp(min=cfg["eps"]))
        ln = (1 - y) * torch.log(xs_neg.clamp(min=cfg["eps"]))
        pt = p * y + xs_neg * (1 - y)
        w = torch.pow(1 - pt, cfg["gamma_pos"] * y + cfg["gamma_neg"] * (1 - y))
        return masked_mean(-(lp + ln) * w, m)
    raise ValueError(kind)


def run(name, head, loss_cfg, lr, wd, clip, steps):
    X = torch.from_numpy(x)
    mean = X.double().mean(0).float()
    std = X.double().std(0, unbiased=False).float()
    Xs = (X - mean) / std
    y = torch.from_numpy((labels == 1).astype(np.float32))
    m = torch.from_numpy((labels != -1).astype(np.float32))
    if head == "linear":
        w1 = init((D, C), 0.5); b1 = init((C,), 0.2)
        ws = [w1, b1]
    else:
        w1 = init((D, H), 0.5); b1 = init((H,), 0.2); w2 = init((H, C), 0.4); b2 = init((C,), 0.2)
        ws = [w1, b1, w2, b2]
    params = [torch.nn.Parameter(torch.from_numpy(w.copy())) for w in ws]
    weights = [p for i, p in enumerate(params) if i % 2 == 0]
    biases = [p for i, p in enumerate(params) if i % 2 == 1]
    opt = torch.optim.AdamW([{"params": weights, "weight_decay": wd}, {"params": biases, "weight_decay": 0.0}],
                            lr=lr, betas=(0.9, 0.999), eps=1e-8)
    losses = []
    for _ in range(steps):
        h = Xs @ params[0] + params[1]
        if head == "mlp":
            h = torch.relu(h) @ params[2] + params[3]
        loss = loss_fn(loss_cfg, h, y, m)
        losses.append(float(loss))
        opt.zero_grad()
        loss.backward()
        if clip > 0:
            torch.nn.utils.clip_grad_norm_(params, clip)
        opt.step()
    return {"name": name, "head": head, "hidden": H if head == "mlp" else 0, "loss": loss_cfg, "lr": lr,
            "weight_decay": wd, "clip": clip, "steps": steps,
            "init": [w.tolist() for w in ws], "losses": losses,
            "final": [p.detach().numpy().ravel().tolist() for p in params]}


cases = [
    run("linear_bce_clip", "linear", {"kind": "bce"}, 0.05, 0.1, 0.3, 5),
    run("linear_weighted", "linear", {"kind": "weighted", "pos_weight": [2.0, 0.5, 4.0]}, 0.1, 0.0, 0.0, 4),
    run("mlp_asl_clip", "mlp", {"kind": "asl", "gamma_pos": 1.0, "gamma_neg": 4.0, "clip": 0.05, "eps": 1e-8},
        0.03, 0.05, 1.0, 5),
]
out = {"x": x.tolist(), "labels": labels.tolist(), "cases": cases}
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "adamw.json")
with open(path + ".tmp", "w") as f:
    json.dump(out, f)
os.replace(path + ".tmp", path)
print("wrote", path, "torch", torch.__version__)
