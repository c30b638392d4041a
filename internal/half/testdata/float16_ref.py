# Reference float32 -> float16 conversions (round to nearest even) from NumPy, for
# model/randomize_test.go. Run: /usr/bin/python3 float16_ref.py > float16_ref.txt
import numpy as np

vals = [0.0, -0.0, 1.0, -1.0, 0.1, 0.2718, -3.14159, 65504.0, 65520.0, 1e6, -1e6,
        6.1035156e-05, 6.0e-05, 5.9604645e-08, 2.9e-08, 3.0e-08, 1e-9, 1.0009765625,
        1.00048828125, 1.00146484375, 2048.5, 0.333333, 1234.567, -0.000123]
rng = np.random.default_rng(7)
vals += list(rng.normal(0, 0.3, 40).astype(np.float32))
for v in vals:
    f = np.float32(v)
    h = f.astype(np.float16)
    print("%08x %04x" % (f.view(np.uint32), h.view(np.uint16)))
