#!/usr/bin/env python3
"""Reference resizes for imageio's Fill, made with Pillow's BILINEAR filter.

Run from the repository root with Debian's python3-pil and python3-numpy:

    /usr/bin/python3 imageio/testdata/gen_resize_ref.py [../shared/data/miml-scenes/images]

Writes imageio/testdata/resize_ref/<case>.npy (uint8 H x W x 3) for synthetic images whose
pixels follow an integer formula that the Go test reproduces exactly, and, when the MIML
images folder is given, imageio/testdata/miml_ref.json with summary numbers (per-channel
mean and standard deviation of the Pillow result; no pixels) for three real JPEGs.

The resize conventions are torchvision's: Resize(shorter) scales the shorter side to
`shorter` and the longer one to int(shorter * long / short); CenterCrop takes the offset
int(round((size - crop) / 2)).
"""
import json
import os
import sys

import numpy as np
from PIL import Image


def synthetic(w, h):
    """Gradients, a checkerboard and a hashed texture: smooth areas and sharp edges."""
    y, x = np.mgrid[0:h, 0:w].astype(np.int64)
    out = np.zeros((h, w, 3), np.uint8)
    for c in range(3):
        v = (x * (3 + c) + y * (5 - c) + ((x * 31 + y * 17 + c * 7) * (x ^ y) % 23) * 4
             + (((x // 8) + (y // 8)) % 2) * 90 + c * 40)
        out[:, :, c] = (v % 256).astype(np.uint8)
    return out


def shorter_crop(img, shorter, cw, ch):
    w, h = img.size
    if w <= h:
        rw, rh = shorter, int(shorter * h / w)
    else:
        rw, rh = int(shorter * w / h), shorter
    r = img.resize((rw, rh), Image.BILINEAR)
    left = int(round((rw - cw) / 2.0))
    top = int(round((rh - ch) / 2.0))
    return r.crop((left, top, left + cw, top + ch))


MIML_IMAGES = ["2.jpg", "957.jpg", "2000.jpg"]  # 640x416, 384x256, 101x150 (upscaled)

CASES = [
    # name, source w, h, mode, out w, h, shorter
    ("land_crop64", 301, 203, "shorter-crop", 64, 64, 72),
    ("land_squish", 301, 203, "squish", 50, 90, 0),
    ("land_up", 151, 101, "squish", 180, 120, 0),
    ("port_crop", 151, 229, "shorter-crop", 48, 40, 56),
    ("port_same", 151, 229, "shorter-crop", 100, 120, 151),
    # a source box, as a random resized crop uses: box (37, 21, 187, 131) -> 64x48
    ("land_box", 301, 203, "box", 64, 48, 0),
]
BOX = (37, 21, 187, 131)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    outdir = os.path.join(here, "resize_ref")
    os.makedirs(outdir, exist_ok=True)
    for name, sw, sh, mode, ow, oh, shorter in CASES:
        img = Image.fromarray(synthetic(sw, sh), "RGB")
        if mode == "squish":
            r = img.resize((ow, oh), Image.BILINEAR)
        elif mode == "box":
            r = img.resize((ow, oh), Image.BILINEAR, box=BOX)
        else:
            r = shorter_crop(img, shorter, ow, oh)
        arr = np.asarray(r, dtype=np.uint8)
        assert arr.shape == (oh, ow, 3), arr.shape
        np.save(os.path.join(outdir, name + ".npy"), arr)
        print(name, arr.shape)
    if len(sys.argv) > 1:
        ref = {"pillow": Image.__version__, "resize": "shorter 224, center crop 224x224, BILINEAR", "images": {}}
        for name in MIML_IMAGES:
            img = Image.open(os.path.join(sys.argv[1], name)).convert("RGB")
            arr = np.asarray(shorter_crop(img, 224, 224, 224), dtype=np.float64)
            ref["images"][name] = {
                "mean": [round(float(arr[:, :, c].mean()), 4) for c in range(3)],
                "std": [round(float(arr[:, :, c].std()), 4) for c in range(3)],
            }
        with open(os.path.join(here, "miml_ref.json"), "w") as f:
            json.dump(ref, f, indent=1, sort_keys=True)
            f.write("\n")
        print("miml_ref.json written")


if __name__ == "__main__":
    main()
