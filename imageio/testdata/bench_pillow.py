#!/usr/bin/env python3
"""Peer benchmark: Pillow + numpy decode, resize (shorter side 256, BILINEAR), center crop
224, normalize (ImageNet mean/std) and transpose to CHW, the torchvision eval transform,
single process. Compare with `go test ./imageio -bench LoaderMIML -cpu 1` (one worker).

    /usr/bin/python3 imageio/testdata/bench_pillow.py ../shared/data/miml-scenes/images
"""
import glob
import os
import sys
import time

import numpy as np
from PIL import Image

MEAN = np.array([0.485, 0.456, 0.406], np.float32).reshape(3, 1, 1)
STD = np.array([0.229, 0.224, 0.225], np.float32).reshape(3, 1, 1)


def load(path):
    img = Image.open(path).convert("RGB")
    w, h = img.size
    rw, rh = (256, int(256 * h / w)) if w <= h else (int(256 * w / h), 256)
    img = img.resize((rw, rh), Image.BILINEAR)
    l, t = int(round((rw - 224) / 2.0)), int(round((rh - 224) / 2.0))
    x = np.asarray(img.crop((l, t, l + 224, t + 224)), np.float32).transpose(2, 0, 1) / 255
    return (x - MEAN) / STD


def main():
    paths = sorted(glob.glob(os.path.join(sys.argv[1], "*.jpg")))
    t0, c0 = time.perf_counter(), time.process_time()
    for p in paths:
        load(p)
    dt, dc = time.perf_counter() - t0, time.process_time() - c0
    print(f"pillow: {len(paths)} images, {len(paths) / dt:.1f} images/s, {1000 * dc / len(paths):.3f} cpu-ms/image (one process)")


if __name__ == "__main__":
    main()
