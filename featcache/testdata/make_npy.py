#!/usr/bin/env python3
"""Writes the NumPy reference files for featcache's .npy tests (Debian python3-numpy).

  ref_2x3.npy    float32 [[1.5, -2, 0], [3.25, 0.001, -7]]
  ref_0x512.npy  float32 zeros((0, 512))
  ref_1x70.npy   float32 arange(70).reshape(1, 70) / 8   (a longer header)

Run: /usr/bin/python3 featcache/testdata/make_npy.py
"""
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
np.save(os.path.join(HERE, "ref_2x3.npy"), np.array([[1.5, -2, 0], [3.25, 0.001, -7]], dtype=np.float32))
np.save(os.path.join(HERE, "ref_0x512.npy"), np.zeros((0, 512), dtype=np.float32))
np.save(os.path.join(HERE, "ref_1x70.npy"), (np.arange(70, dtype=np.float32) / 8).reshape(1, 70))
