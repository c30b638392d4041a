#!/usr/bin/env python3
"""Trains the same head as train.BenchmarkFitLinear / BenchmarkFitMLP in PyTorch and prints
its time: 1,200 x 512 random features, 5 labels (30% positive), 100 epochs, batch 64,
AdamW (lr 1e-3, weight decay 1e-4 on weights only), warmup(2 epochs)+cosine per step,
gradient-norm clipping at 5, EMA 0.99 of the weights, feature standardisation, BCE.
No validation (like the Go benchmark). Uses the threads torch is given (--threads).

Usage: /usr/bin/python3 scripts/bench_head.py [--head linear|mlp] [--threads N] [--repeat R]
Prints: "torch <head> wall_s=<seconds> cpu_s=<seconds> threads=<n> peak_rss_mb=<MiB>" (best of R;
the peak resident memory of this process, torch included).
"""
import argparse
import math
import time

import os
import sys

import numpy as np
import torch

sys.dont_write_bytecode = True  # no __pycache__ in the checkout
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchutil import peak_rss_mb  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--head", default="linear", choices=["linear", "mlp"])
ap.add_argument("--threads", type=int, default=0)
ap.add_argument("--repeat", type=int, default=1)
ap.add_argument("--epochs", type=int, default=100)
args = ap.parse_args()
if args.threads > 0:
    torch.set_num_threads(args.threads)

rng = np.random.default_rng(1)
n, dim, c = 1200, 512, 5
x = rng.normal(size=(n, dim)).astype(np.float32)
y = (rng.random((n, c)) < 0.3).astype(np.float32)


def run():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    X = torch.from_numpy(x)
    X = (X - X.mean(0)) / X.std(0, unbiased=False).clamp(min=1e-6)
    Y = torch.from_numpy(y)
    if args.head == "linear":
        model = torch.nn.Linear(dim, c)
    else:
        model = torch.nn.Sequential(torch.nn.Linear(dim, 512), torch.nn.ReLU(), torch.nn.Dropout(0.2),
                                    torch.nn.Linear(512, c))
    decay = [p for name, p in model.named_parameters() if not name.endswith("bias")]
    no_decay = [p for name, p in model.named_parameters() if name.endswith("bias")]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 1e-4}, {"params": no_decay, "weight_decay": 0}], lr=1e-3)
    ema = [p.detach().clone() for p in model.parameters()]
    epochs, bs = args.epochs, 64
    steps_per_epoch = math.ceil(n / bs)
    total = epochs * steps_per_epoch
    warm = 2 * steps_per_epoch
    step = 0
    for epoch in range(epochs):
        perm = torch.randperm(n, generator=g)
        for b in range(steps_per_epoch):
            idx = perm[b * bs:(b + 1) * bs]
            lr = 1e-3 * (step + 1) / warm if step < warm else 1e-3 * 0.5 * (1 + math.cos(math.pi * (step - warm) / (total - warm)))
            for group in opt.param_groups:
                group["lr"] = lr
            loss = torch.nn.functional.binary_cross_entropy_with_logits(model(X[idx]), Y[idx])
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            d = min(0.99, (1 + step) / (10 + step))
            with torch.no_grad():
                for e, p in zip(ema, model.parameters()):
                    e.mul_(d).add_(p, alpha=1 - d)
            step += 1
    return float(loss)


best_wall, best_cpu = float("inf"), float("inf")
for _ in range(args.repeat):
    w0, c0 = time.perf_counter(), time.process_time()
    run()
    best_wall = min(best_wall, time.perf_counter() - w0)
    best_cpu = min(best_cpu, time.process_time() - c0)
print(f"torch {args.head} wall_s={best_wall:.3f} cpu_s={best_cpu:.3f} threads={torch.get_num_threads()} peak_rss_mb={peak_rss_mb():.1f}")
