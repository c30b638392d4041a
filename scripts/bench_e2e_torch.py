#!/usr/bin/env python3
"""PyTorch end to end for `multilabel bench e2e` (Debian python3-torch 1.13, python3-pil):
image files -> PIL decode -> resize (shorter side 256, BILINEAR, i.e. antialiased like
torchvision's Resize on PIL images) -> center crop 224 -> normalised tensor -> network,
with PyTorch's own DataLoader (worker processes) feeding the network, the way a PyTorch
user would write it without torchvision (not installed on Debian).

  bench_e2e_torch.py --model resnet18|mobilenetv2|squeezenet1.1 --list FILE
                     [--onnx SQUEEZENET.onnx] [--batch 32] [--threads 2] [--workers 2]
                     [--min-time 3]

Prints one JSON line: {"images_per_s": ..., "note": ...}. The networks (and the SqueezeNet
weight loading) come from scripts/bench_engines.py; ResNet-18 and MobileNetV2 have random
weights, which does not change their speed.
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_engines  # noqa: E402

MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


class Files(torch.utils.data.Dataset):
    def __init__(self, paths, short=256, crop=224):
        self.paths, self.short, self.crop = paths, short, crop

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        im = Image.open(self.paths[i]).convert("RGB")
        w, h = im.size
        s = self.short
        if w <= h:
            nw, nh = s, int(s * h / w)
        else:
            nw, nh = int(s * w / h), s
        im = im.resize((nw, nh), Image.BILINEAR)
        left, top = int(round((nw - self.crop) / 2.0)), int(round((nh - self.crop) / 2.0))
        im = im.crop((left, top, left + self.crop, top + self.crop))
        a = (np.asarray(im, dtype=np.float32) / 255.0 - MEAN) / STD
        return torch.from_numpy(a.transpose(2, 0, 1).copy())


def features(name, onnx_path):
    if name == "squeezenet1.1":
        net = bench_engines.load_squeezenet(onnx_path)
        return net.features.eval()  # the feature map, pooled below
    net = bench_engines.models()[name]
    if name == "resnet18":
        return torch.nn.Sequential(net.stem, net.blocks).eval()
    return net.features.eval()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--list", required=True)
    ap.add_argument("--onnx", default="")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    ap.add_argument("--min-time", type=float, default=3.0)
    a = ap.parse_args()
    with open(a.list) as f:
        paths = [l.strip() for l in f if l.strip()]
    torch.set_num_threads(a.threads)
    net = features(a.model, a.onnx)
    ds = Files(paths)

    def one_pass(items):
        dl = torch.utils.data.DataLoader(torch.utils.data.Subset(ds, items), batch_size=a.batch,
                                         num_workers=a.workers, shuffle=False)
        n = 0
        with torch.no_grad():
            for x in dl:
                y = torch.flatten(torch.nn.functional.adaptive_avg_pool2d(net(x), 1), 1)
                n += y.shape[0]
        return n

    one_pass(list(range(min(a.batch, len(paths)))))  # warm-up
    best, t_all = 0.0, time.perf_counter()
    while best == 0.0 or time.perf_counter() - t_all < a.min_time:
        t0 = time.perf_counter()
        n = one_pass(list(range(len(paths))))
        best = max(best, n / (time.perf_counter() - t0))
    print(json.dumps({"model": a.model, "images_per_s": best,
                      "note": f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
                              f"DataLoader {a.workers} workers, PIL {Image.__version__}"}), flush=True)


if __name__ == "__main__":
    main()
