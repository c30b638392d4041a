#!/usr/bin/env python3
"""Makes the conformance fixture for package enginetest with PyTorch (Debian python3-torch).

Writes, next to this script:
  tiny.onnx       a small fp32 CNN (Conv, Relu, MaxPool, Concat, Add, GlobalAveragePool,
                  Flatten, Gemm), input "x" [N,3,8,8] with a dynamic batch, output "y" [N,5]
  tiny_ref.json   {"input_shape", "output_shape", "n", "input": [...], "output": [...]}:
                  a seeded batch of 4 inputs and PyTorch's outputs for them (flat, C order).

Run: /usr/bin/python3 engine/enginetest/testdata/make_tiny.py
"""
import json
import os

import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.sq = nn.Conv2d(4, 2, 1)
        self.e1 = nn.Conv2d(2, 3, 1)
        self.e3 = nn.Conv2d(2, 3, 3, padding=1)
        self.fc = nn.Linear(6, 5)

    def forward(self, x):
        x = self.pool(torch.relu(self.conv1(x)))
        s = torch.relu(self.sq(x))
        x = torch.cat([torch.relu(self.e1(s)), torch.relu(self.e3(s))], 1)
        x = x + 0.5 * x.mean(dim=1, keepdim=True)
        x = nn.functional.adaptive_avg_pool2d(x, 1)
        return self.fc(torch.flatten(x, 1))


def main():
    torch.manual_seed(1234)
    net = Tiny().eval()
    gen = torch.Generator().manual_seed(99)
    x = torch.randn(4, 3, 8, 8, generator=gen)
    with torch.no_grad():
        y = net(x)
    torch.onnx.export(net, x[:1], os.path.join(HERE, "tiny.onnx"), input_names=["x"],
                      output_names=["y"], dynamic_axes={"x": {0: "n"}, "y": {0: "n"}},
                      opset_version=13)
    ref = {"input_shape": [3, 8, 8], "output_shape": [5], "n": 4,
           "input": [float(v) for v in x.flatten().tolist()],
           "output": [float(v) for v in y.flatten().tolist()]}
    with open(os.path.join(HERE, "tiny_ref.json"), "w") as f:
        json.dump(ref, f)
        f.write("\n")


if __name__ == "__main__":
    main()
