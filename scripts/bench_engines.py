#!/usr/bin/env python3
"""PyTorch side of scripts/bench_engines.sh (Debian python3-torch, no torchvision needed).

  bench_engines.py export DIR          write DIR/resnet18.onnx and DIR/mobilenetv2.onnx:
                                       the standard architectures with random weights
                                       (seeded), fp32, dynamic batch, opset 13
  bench_engines.py bench DIR [--squeezenet FILE] [--batch 32] [--iters 3]
                                       time the same networks in PyTorch CPU (eval,
                                       no_grad) and print one JSON line per model; SqueezeNet
                                       1.1 gets the weights of FILE (the ONNX in ../shared)
  bench_engines.py table               read JSON lines on stdin, print the table with ratios
"""
import json
import os
import sys
import time

import torch
from torch import nn


def conv_bn(cin, cout, k, stride=1, groups=1, act=True):
    layers = [nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups, bias=False),
              nn.BatchNorm2d(cout)]
    if act:
        layers.append(nn.ReLU6(inplace=True))
    return nn.Sequential(*layers)


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.b1 = nn.BatchNorm2d(cout)
        self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.b2 = nn.BatchNorm2d(cout)
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = torch.relu(self.b1(self.c1(x)))
        y = self.b2(self.c2(y))
        return torch.relu(y + (x if self.down is None else self.down(x)))


class ResNet18(nn.Module):
    def __init__(self, classes=1000):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64),
                                  nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1))
        blocks, cin = [], 64
        for cout, stride in [(64, 1), (128, 2), (256, 2), (512, 2)]:
            blocks += [BasicBlock(cin, cout, stride), BasicBlock(cout, cout, 1)]
            cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(512, classes)

    def forward(self, x):
        x = self.blocks(self.stem(x))
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


class InvertedResidual(nn.Module):
    def __init__(self, cin, cout, stride, t):
        super().__init__()
        hid = cin * t
        layers = [] if t == 1 else [conv_bn(cin, hid, 1)]
        layers += [conv_bn(hid, hid, 3, stride, groups=hid), conv_bn(hid, cout, 1, act=False)]
        self.body = nn.Sequential(*layers)
        self.res = stride == 1 and cin == cout

    def forward(self, x):
        return x + self.body(x) if self.res else self.body(x)


class MobileNetV2(nn.Module):
    def __init__(self, classes=1000):
        super().__init__()
        layers, cin = [conv_bn(3, 32, 3, 2)], 32
        for t, c, n, s in [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                           (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]:
            for i in range(n):
                layers.append(InvertedResidual(cin, c, s if i == 0 else 1, t))
                cin = c
        layers.append(conv_bn(cin, 1280, 1))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, classes))

    def forward(self, x):
        x = nn.functional.adaptive_avg_pool2d(self.features(x), 1)
        return self.classifier(torch.flatten(x, 1))


class Fire(nn.Module):
    def __init__(self, cin, s, e):
        super().__init__()
        self.squeeze = nn.Conv2d(cin, s, 1)
        self.e1 = nn.Conv2d(s, e, 1)
        self.e3 = nn.Conv2d(s, e, 3, padding=1)

    def forward(self, x):
        x = torch.relu(self.squeeze(x))
        return torch.cat([torch.relu(self.e1(x)), torch.relu(self.e3(x))], 1)


class SqueezeNet11(nn.Module):
    """SqueezeNet 1.1 as in the Caffe2 export (ceil-mode pools, softmax output)."""

    def __init__(self, classes=1000):
        super().__init__()
        pool = lambda: nn.MaxPool2d(3, 2, ceil_mode=True)
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, 3, 2), nn.ReLU(inplace=True), pool(),
            Fire(64, 16, 64), Fire(128, 16, 64), pool(),
            Fire(128, 32, 128), Fire(256, 32, 128), pool(),
            Fire(256, 48, 192), Fire(384, 48, 192), Fire(384, 64, 256), Fire(512, 64, 256))
        self.final = nn.Conv2d(512, classes, 1)

    def forward(self, x):
        x = torch.relu(self.final(self.features(x)))
        return torch.softmax(nn.functional.adaptive_avg_pool2d(x, 1), 1)


def load_squeezenet(path):
    """Copies the Conv weights of the ONNX file, in graph order, into SqueezeNet11."""
    import onnx
    from onnx import numpy_helper
    m = onnx.load(path)
    inits = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    convs = [n for n in m.graph.node if n.op_type == "Conv"]
    net = SqueezeNet11().eval()
    mods = [mod for mod in net.modules() if isinstance(mod, nn.Conv2d)]
    if len(mods) != len(convs):
        raise SystemExit(f"squeezenet: {len(convs)} Conv nodes in the ONNX, {len(mods)} in the torch model")
    with torch.no_grad():
        for mod, node in zip(mods, convs):
            w, b = inits[node.input[1]], inits[node.input[2]]
            if tuple(w.shape) != tuple(mod.weight.shape):
                raise SystemExit(f"squeezenet: {node.input[1]} shape {w.shape} != {tuple(mod.weight.shape)}")
            mod.weight.copy_(torch.from_numpy(w.astype("float32")))
            mod.bias.copy_(torch.from_numpy(b.astype("float32")))
    return net


def models():
    torch.manual_seed(0)
    return {"resnet18": ResNet18().eval(), "mobilenetv2": MobileNetV2().eval()}


def export(d):
    os.makedirs(d, exist_ok=True)
    x = torch.randn(1, 3, 224, 224)
    for name, net in models().items():
        torch.onnx.export(net, x, os.path.join(d, name + ".onnx"), input_names=["input"],
                          output_names=["output"], opset_version=13,
                          dynamic_axes={"input": {0: "n"}, "output": {0: "n"}})
        print(f"exported {name}", file=sys.stderr)


def bench(d, squeezenet, batch, iters):
    torch.set_num_threads(os.cpu_count())
    nets = models()
    if squeezenet:
        nets["squeezenet1.1"] = load_squeezenet(squeezenet)
    x = torch.randn(batch, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    for name, net in nets.items():
        with torch.no_grad():
            net(x)  # warm-up
            t0 = time.perf_counter()
            for _ in range(iters):
                net(x)
            el = time.perf_counter() - t0
        print(json.dumps({"model": name, "engine": "pytorch-cpu", "batch": batch, "iters": iters,
                          "images_per_s": batch * iters / el,
                          "note": f"torch {torch.__version__}, {torch.get_num_threads()} threads"}), flush=True)


def table():
    rows = [json.loads(l) for l in sys.stdin if l.strip().startswith("{")]
    order = ["ort-bare", "ort-engine", "gomlx-engine", "pytorch-cpu"]
    res = {}
    for r in rows:
        res.setdefault(r["model"], {})[r["engine"]] = r["images_per_s"]
    hdr = f"{'model':<14}" + "".join(f"{e:>14}" for e in order) + f"{'ort/bare':>10}{'ort/torch':>11}{'ort/gomlx':>11}"
    print("images/s, batch 32 at 224x224")
    print(hdr)
    for m, v in res.items():
        cells = "".join(f"{v[e]:>14.2f}" if e in v else f"{'-':>14}" for e in order)

        def ratio(a, b):
            return f"{v[a] / v[b]:.2f}x" if a in v and b in v and v[b] > 0 else "-"
        print(f"{m:<14}{cells}{ratio('ort-engine', 'ort-bare'):>10}{ratio('ort-engine', 'pytorch-cpu'):>11}{ratio('ort-engine', 'gomlx-engine'):>11}")
    for r in rows:
        if "max_abs_diff_vs_ort" in r:
            print(f"{r['model']}: pure-Go vs ONNX Runtime outputs, max abs diff {r['max_abs_diff_vs_ort']:.3g}")


def main():
    a = sys.argv[1:]
    if not a:
        raise SystemExit(__doc__)
    if a[0] == "export":
        export(a[1])
    elif a[0] == "bench":
        opts = {"--squeezenet": "", "--batch": "32", "--iters": "3"}
        rest = a[2:]
        for i in range(0, len(rest), 2):
            opts[rest[i]] = rest[i + 1]
        bench(a[1], opts["--squeezenet"], int(opts["--batch"]), int(opts["--iters"]))
    elif a[0] == "table":
        table()
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
