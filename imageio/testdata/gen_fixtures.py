#!/usr/bin/env python3
"""Small image fixtures that Go's standard library cannot encode.

Run from the repository root with Debian's python3-pil:

    /usr/bin/python3 imageio/testdata/gen_fixtures.py

Every image is 48x32 with four flat quadrants: top-left red, top-right green,
bottom-left blue, bottom-right white (see quadrants() in decode_test.go); the alpha
WebP makes the bottom-right quadrant transparent black instead (white once composited).
"""
import os

from PIL import Image

W, H = 48, 32
COLORS = {"tl": (255, 0, 0), "tr": (0, 255, 0), "bl": (0, 0, 255), "br": (255, 255, 255)}


def quadrants(mode="RGB", transparent_br=False):
    img = Image.new("RGBA", (W, H))
    px = img.load()
    for y in range(H):
        for x in range(W):
            key = ("t" if y < H // 2 else "b") + ("l" if x < W // 2 else "r")
            if transparent_br and key == "br":
                px[x, y] = (0, 0, 0, 0)  # transparent black: Go composites it on white
            else:
                px[x, y] = COLORS[key] + (255,)
    if mode == "RGBA":
        return img
    return img.convert("RGB")


def main():
    d = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
    os.makedirs(d, exist_ok=True)
    rgb = quadrants()
    rgb.save(os.path.join(d, "progressive.jpg"), "JPEG", quality=90, progressive=True)
    rgb.convert("CMYK").save(os.path.join(d, "cmyk.jpg"), "JPEG", quality=90)
    rgb.save(os.path.join(d, "ycc444.jpg"), "JPEG", quality=90, subsampling=0)
    rgb.save(os.path.join(d, "ycc422.jpg"), "JPEG", quality=90, subsampling=1)
    rgb.save(os.path.join(d, "lossy.webp"), "WEBP", quality=90)
    rgb.save(os.path.join(d, "lossless.webp"), "WEBP", lossless=True)
    quadrants("RGBA", transparent_br=True).save(os.path.join(d, "alpha.webp"), "WEBP", lossless=True)
    quadrants("RGBA", transparent_br=True).save(os.path.join(d, "lossy_alpha.webp"), "WEBP", quality=90)
    for f in sorted(os.listdir(d)):
        print(f, os.path.getsize(os.path.join(d, f)))


if __name__ == "__main__":
    main()
