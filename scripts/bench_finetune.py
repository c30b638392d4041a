#!/usr/bin/env python3
"""Fine-tuning speed of SqueezeNet 1.1 in PyTorch, the peer of finetune.BenchmarkStepTail
and BenchmarkStepWhole: AdamW steps (discriminative LRs: tail 1e-4, head 1e-3, weight
decay 1e-4, clipping at 5) on BCE with a linear head for 5 labels, on random inputs.

  tail:  fire9 + global average pool + head, on cached fire8 activations [32,512,13,13]
         (the frozen prefix already run: the tail-only design)
  whole: the whole network + head on 224x224 images, batch 8
  resnet18, mobilenet_v2: the whole ResNet-18 / MobileNetV2 (torch_archs.py, torchvision's
         layouts; batch norms with batch statistics, as in train mode) + head on 224x224
         images, batch --whole-batch

The architecture is SqueezeNet 1.1's (torchvision layout) with random weights: speed does
not depend on the values. Prints "torch <mode> images_per_s=<v> params=<n> ... images_per_cpu_s=<v> peak_rss_mb=<MiB>" per mode
(peak_rss_mb: this process's peak resident memory so far, torch included; finetune.BenchTrain
runs one mode per process).
Usage: /usr/bin/python3 scripts/bench_finetune.py [--threads N] [--seconds S] [--modes tail,whole] [--whole-batch B]
(finetune.BenchTrain, behind `multilabel bench train`, runs it with --whole-batch 32.)
"""
import argparse
import time

import os
import sys

import torch
import torch.nn as nn

sys.dont_write_bytecode = True  # no __pycache__ in the checkout
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchutil import peak_rss_mb  # noqa: E402
from torch_archs import ARCHS  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--threads", type=int, default=0)
ap.add_argument("--seconds", type=float, default=10)
ap.add_argument("--modes", default="tail,whole", help="comma list of tail, whole, resnet18, mobilenet_v2")
ap.add_argument("--whole-batch", type=int, default=8, help="batch of the whole-network mode")
args = ap.parse_args()
if args.threads > 0:
    torch.set_num_threads(args.threads)
torch.manual_seed(0)


class Fire(nn.Module):
    def __init__(self, cin, s, e):
        super().__init__()
        self.squeeze = nn.Conv2d(cin, s, 1)
        self.e1 = nn.Conv2d(s, e, 1)
        self.e3 = nn.Conv2d(s, e, 3, padding=1)

    def forward(self, x):
        x = torch.relu(self.squeeze(x))
        return torch.cat([torch.relu(self.e1(x)), torch.relu(self.e3(x))], 1)


def squeezenet_features():
    return nn.Sequential(
        nn.Conv2d(3, 64, 3, stride=2), nn.ReLU(), nn.MaxPool2d(3, 2, ceil_mode=True),
        Fire(64, 16, 64), Fire(128, 16, 64), nn.MaxPool2d(3, 2, ceil_mode=True),
        Fire(128, 32, 128), Fire(256, 32, 128), nn.MaxPool2d(3, 2, ceil_mode=True),
        Fire(256, 48, 192), Fire(384, 48, 192), Fire(384, 64, 256), Fire(512, 64, 256))


class Net(nn.Module):
    def __init__(self, body):
        super().__init__()
        self.body = body
        self.head = nn.Linear(512, 5)

    def forward(self, x):
        return self.head(self.body(x).mean((2, 3)))


class ArchNet(nn.Module):
    """A torch_archs network's pooled features (its classifier unused) + a 5-label head."""

    def __init__(self, arch):
        super().__init__()
        self.net = ARCHS[arch]()
        for m in (getattr(self.net, "fc", None), getattr(self.net, "classifier", None)):
            if m is not None:
                m.requires_grad_(False)
        self.body = self.net
        self.head = nn.Linear(self.net.feature_dim, 5)

    def forward(self, x):
        return self.head(self.net.embed(x))


def bench(mode):
    if mode == "tail":
        net, b, shape = Net(Fire(512, 64, 256)), 32, (512, 13, 13)
    elif mode == "whole":
        net, b, shape = Net(squeezenet_features()), args.whole_batch, (3, 224, 224)
    else:
        net, b, shape = ArchNet(mode), args.whole_batch, (3, 224, 224)
    x = torch.rand((b,) + shape) * 2
    y = (torch.rand(b, 5) < 0.5).float()
    body = [p for p in net.body.parameters() if p.requires_grad]
    opt = torch.optim.AdamW([{"params": body, "lr": 1e-4}, {"params": net.head.parameters(), "lr": 1e-3}], weight_decay=1e-4)
    lossf = nn.BCEWithLogitsLoss()

    def step():
        opt.zero_grad()
        loss = lossf(net(x), y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_([p for p in net.parameters() if p.requires_grad], 5)
        opt.step()

    step()
    n, t0, c0 = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - t0 < args.seconds or n < 2:
        step()
        n += 1
    dt, dc = time.perf_counter() - t0, time.process_time() - c0
    params = sum(p.numel() for p in body)
    print(f"torch {mode} images_per_s={n * b / dt:.2f} params={params} threads={torch.get_num_threads()} images_per_cpu_s={n * b / dc:.2f} peak_rss_mb={peak_rss_mb():.1f}")


for m in args.modes.split(","):
    bench(m.strip())
