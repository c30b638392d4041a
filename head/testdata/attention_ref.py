#!/usr/bin/env python3
"""Independent reference for the attention head (head.AttentionGraph,
headparams.Params.Logits): the same layer written with torch.nn.MultiheadAttention and
torch.nn.LayerNorm, on a tiny case with seeded weights. Writes attention_ref.json with
the inputs, weights, logits, the masked-BCE loss and its gradients w.r.t. every weight.

Run: /usr/bin/python3 head/testdata/attention_ref.py  (torch 1.13)
"""
import json
import math
import os

import numpy as np
import torch

torch.manual_seed(0)
rng = np.random.default_rng(7)

N, C, H, W = 3, 6, 2, 3  # images, channels, map
T = H * W
D, HEADS, FFN, LABELS, MAXQ = 8, 2, 12, 5, 2  # 5 labels over 2 queries: group 3, 6 slots
K = min(LABELS, MAXQ)
G = (LABELS + K - 1) // K

x = rng.normal(size=(N, C, T)).astype(np.float32)
mean = rng.normal(size=(C,)).astype(np.float32) * 0.3
std = (0.5 + rng.random(size=(C,))).astype(np.float32)
y = rng.integers(0, 2, size=(N, LABELS)).astype(np.float32)


def rnd(*shape, s=0.5):
    return (rng.normal(size=shape) * s).astype(np.float32)


w = {
    "wp": rnd(C, D), "bp": rnd(D, s=0.1), "q": rnd(K, D, s=1.0),
    "ln1_g": 1 + rnd(D, s=0.1), "ln1_b": rnd(D, s=0.1),
    "wq": rnd(D, D), "bq": rnd(D, s=0.1), "wk": rnd(D, D), "bk": rnd(D, s=0.1),
    "wv": rnd(D, D), "bv": rnd(D, s=0.1), "wo": rnd(D, D), "bo": rnd(D, s=0.1),
    "ln2_g": 1 + rnd(D, s=0.1), "ln2_b": rnd(D, s=0.1),
    "f1": rnd(D, FFN), "fb1": rnd(FFN, s=0.1), "f2": rnd(FFN, D), "fb2": rnd(D, s=0.1),
    "ln3_g": 1 + rnd(D, s=0.1), "ln3_b": rnd(D, s=0.1),
    "wg": rnd(K, D, G), "bg": rnd(LABELS, s=0.1),
}
order = ["wp", "bp", "q", "ln1_g", "ln1_b", "wq", "bq", "wk", "bk", "wv", "bv", "wo", "bo",
         "ln2_g", "ln2_b", "f1", "fb1", "f2", "fb2", "ln3_g", "ln3_b", "wg", "bg"]
tw = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in w.items()}



def forward(tw):
    z = (torch.tensor(x, dtype=torch.float64) - torch.tensor(mean, dtype=torch.float64)[None, :, None]) \
        / torch.tensor(std, dtype=torch.float64)[None, :, None]
    tokens = torch.relu(z.transpose(1, 2) @ tw["wp"] + tw["bp"])  # [N, T, D]
    q1 = torch.nn.functional.layer_norm(tw["q"], (D,), tw["ln1_g"], tw["ln1_b"], 1e-5)
    qb = q1.unsqueeze(0).expand(N, K, D)
    in_w = torch.cat([tw["wq"].T, tw["wk"].T, tw["wv"].T], 0)
    in_b = torch.cat([tw["bq"], tw["bk"], tw["bv"]], 0)
    o, att = torch.nn.functional.multi_head_attention_forward(
        qb.transpose(0, 1), tokens.transpose(0, 1), tokens.transpose(0, 1), D, HEADS,
        in_w, in_b, None, None, False, 0.0, tw["wo"].T, tw["bo"], training=False,
        need_weights=True, average_attn_weights=True)
    o = o.transpose(0, 1)  # [N, K, D]
    u = torch.nn.functional.layer_norm(q1 + o, (D,), tw["ln2_g"], tw["ln2_b"], 1e-5)
    f = torch.relu(u @ tw["f1"] + tw["fb1"]) @ tw["f2"] + tw["fb2"]
    v = torch.nn.functional.layer_norm(u + f, (D,), tw["ln3_g"], tw["ln3_b"], 1e-5)
    logits = torch.einsum("nkd,kdg->nkg", v, tw["wg"]).reshape(N, K * G)[:, :LABELS] + tw["bg"]
    return logits, att


logits, att = forward(tw)
loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, torch.tensor(y, dtype=torch.float64))
loss.backward()

out = {
    "n": N, "channels": C, "tokens": T, "dim": D, "heads": HEADS, "ffn": FFN,
    "labels": LABELS, "queries": K, "group": G,
    "x": x.reshape(-1).tolist(), "mean": mean.tolist(), "std": std.tolist(), "y": y.reshape(-1).tolist(),
    "weights": {k: w[k].reshape(-1).tolist() for k in order},
    "logits": logits.detach().numpy().reshape(-1).tolist(),
    "attention": att.detach().numpy().reshape(-1).tolist(),  # [N, K, T], head-averaged
    "loss": float(loss),
    "grads": {k: tw[k].grad.numpy().reshape(-1).tolist() for k in order},
    "torch": torch.__version__,
}
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "attention_ref.json")
with open(path + ".tmp", "w") as fh:
    json.dump(out, fh)
os.replace(path + ".tmp", path)
print("wrote", path, "loss", float(loss))

# GeM pooling (head.PoolGraph, headparams.Params.PoolMaps): (mean_t max(x, 1e-6)^p)^(1/p)
# on a ReLU-like map (zeros included), then a linear layer; the BCE loss's gradient
# with respect to p and the weights.
gx = np.maximum(rng.normal(size=(N, C, T)), 0).astype(np.float32)
gw = rnd(C, LABELS)
gb = rnd(LABELS, s=0.1)
p = torch.tensor([2.5], dtype=torch.float64, requires_grad=True)
tgw = torch.tensor(gw, dtype=torch.float64, requires_grad=True)
tgb = torch.tensor(gb, dtype=torch.float64, requires_grad=True)
pooled = torch.tensor(gx, dtype=torch.float64).clamp(min=1e-6).pow(p).mean(dim=2).pow(1 / p)
glogits = pooled @ tgw + tgb
gloss = torch.nn.functional.binary_cross_entropy_with_logits(glogits, torch.tensor(y, dtype=torch.float64))
gloss.backward()
gem = {
    "n": N, "channels": C, "tokens": T, "labels": LABELS, "p": 2.5,
    "x": gx.reshape(-1).tolist(), "w": gw.reshape(-1).tolist(), "b": gb.tolist(), "y": y.reshape(-1).tolist(),
    "pooled": pooled.detach().numpy().reshape(-1).tolist(), "logits": glogits.detach().numpy().reshape(-1).tolist(),
    "loss": float(gloss), "grad_p": float(p.grad[0]), "grad_w": tgw.grad.numpy().reshape(-1).tolist(),
}
gpath = os.path.join(os.path.dirname(os.path.abspath(__file__)), "gem_ref.json")
with open(gpath + ".tmp", "w") as fh:
    json.dump(gem, fh)
os.replace(gpath + ".tmp", gpath)
print("wrote", gpath, "loss", float(gloss))
