#!/usr/bin/env python3
"""Exports ResNet-18 and MobileNetV2 (torchvision's architectures, written out in
torch_archs.py) to ONNX with RANDOM weights, for the speed rows of `multilabel bench
train` and for the whole-network gradient test of package finetune. The weights are
not pretrained: they are drawn from numpy's seeded generator (He-normal convolutions,
batch norms near identity with non-trivial running statistics), so the same files come
out of any torch version, and speed does not depend on the values. Never use these
models for accuracy figures.

Writes into --out (default ~/.cache/multilabel/benchmodels; the files are 12-47 MB and
are never committed):
  resnet18.onnx, mobilenet_v2.onnx         input [N,3,224,224] (bench train)
  resnet18-64.onnx, mobilenet_v2-64.onnx   the same weights, input [N,3,64,64] (tests)
With --reference FILE it also writes the gradient reference (committed as
finetune/testdata/archgrad.json): for each model at 64x64 and 2 images,
x[i] = sin(0.731 i + 0.1) (float32, row-major [2,3,64,64]),
batch norms with batch statistics (train mode) and frozen (eval mode), features f = the global-average-pooled
output, loss = sum(f * r) with r[i] = cos(1.37 i), and the loss's gradients with respect to a
few parameters (ONNX initializer names): their first 512 values and L2 norm, computed
in float64, with the relative error of PyTorch's own float32 gradient.

Usage: /usr/bin/python3 scripts/make_bench_models.py [--out DIR] [--reference FILE]
Needs Debian's python3-torch (1.13) and numpy; no torchvision.
"""
import argparse
import copy
import json
import os
import sys

import numpy as np
import torch

sys.dont_write_bytecode = True  # no __pycache__ in the checkout
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_archs import ARCHS  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--out", default=os.path.expanduser("~/.cache/multilabel/benchmodels"))
ap.add_argument("--reference", default="")
ap.add_argument("--models", default="resnet18,mobilenet_v2")
args = ap.parse_args()

# Gradients compared by the test, per model: the first convolution (the deepest path),
# a batch-norm scale in the middle, and the last convolution's weights.
PROBES = {
    "resnet18": ["conv1.weight", "layer2.0.bn1.weight", "layer3.1.conv2.weight", "layer4.1.bn2.bias"],
    "mobilenet_v2": ["features.0.0.weight", "features.4.conv.1.0.weight", "features.10.conv.2.weight", "features.18.1.weight"],
}


HEAD = 512  # leading gradient values stored per probe (plus the sum and the L2 norm of all)


def init(model, seed):
    """Seeded numpy initialisation of every parameter and buffer (version-independent)."""
    rng = np.random.default_rng(seed)
    sd = model.state_dict()
    for name, t in sd.items():
        shape = tuple(t.shape)
        if name.endswith("num_batches_tracked"):
            continue
        if name.endswith("running_mean"):
            v = rng.normal(0, 0.1, shape)
        elif name.endswith("running_var"):
            v = 0.5 + rng.random(shape)
        elif t.dim() == 4:  # convolution: He normal, fan out
            v = rng.normal(0, np.sqrt(2.0 / (shape[0] * shape[2] * shape[3])), shape)
        elif t.dim() == 2:  # linear
            v = rng.normal(0, 0.01, shape)
        elif name.endswith("weight"):  # batch-norm scale
            v = 1 + rng.normal(0, 0.1, shape)
        else:  # biases, batch-norm shifts
            v = rng.normal(0, 0.05, shape)
        sd[name] = torch.from_numpy(np.asarray(v, dtype=np.float32))
    model.load_state_dict(sd)


def export(model, path, size):
    model.eval()
    x = torch.zeros(1, 3, size, size)
    tmp = f"{path}.{os.getpid()}.tmp"  # unique: test packages may generate at the same time
    torch.onnx.export(model, x, tmp, input_names=["input"], output_names=["logits"], opset_version=13,
                      do_constant_folding=False, training=torch.onnx.TrainingMode.PRESERVE,
                      dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}})
    os.replace(tmp, path)


def grads_of(name, model, dtype, train_bn):
    """The features, the loss sum(f*r) and the probed gradients, computed in dtype."""
    m = model.to(dtype)
    m.train(train_bn)
    x = torch.from_numpy(np.sin(np.arange(2 * 3 * 64 * 64) * 0.731 + 0.1).astype(np.float32).reshape(2, 3, 64, 64)).to(dtype)
    f = m.embed(x)
    r = torch.from_numpy(np.cos(np.arange(f.numel()) * 1.37).astype(np.float32).reshape(tuple(f.shape))).to(dtype)
    loss = (f * r).sum()
    params = dict(m.named_parameters())
    g = torch.autograd.grad(loss, [params[p] for p in PROBES[name]])
    return x, r, f.detach().double(), float(loss), [t.detach().double().flatten() for t in g]


def reference(name, model, train_bn):
    # Inputs given by formulas the Go test computes too (no arrays in the reference).
    # The reference values are computed in float64 (model.double()); f32_rel_err is how
    # far PyTorch's own float32 gradient is from them (relative L2): the batch
    # statistics of 2 images at 2x2 (the last stages) make some gradients
    # ill-conditioned, and the test's tolerance follows.
    state = copy.deepcopy(model.state_dict())
    x, r, f, loss, g64 = grads_of(name, model, torch.float64, train_bn)
    model.load_state_dict(state)
    _, _, _, loss32, g32 = grads_of(name, model, torch.float32, train_bn)
    model.load_state_dict(state)
    model.float()
    params = dict(model.named_parameters())
    return {"name": name + ("-train-bn" if train_bn else "-frozen-bn"), "model": f"{name}-64.onnx", "train_bn": train_bn,
            "x_shape": list(x.shape), "r_shape": list(r.shape), "loss": loss, "loss_f32": loss32, "f": f.flatten().tolist(),
            "grads": {p: {"n": a.numel(), "head": a[:HEAD].tolist(), "l2": float(a.norm()),
                          "f32_rel_err": float((b - a).norm() / a.norm())}
                      for p, a, b in zip(PROBES[name], g64, g32)},
            "weights_head": {p: params[p].detach().flatten()[:8].tolist() for p in PROBES[name]}}


os.makedirs(args.out, exist_ok=True)
refs = []
for seed, name in enumerate(args.models.split(",")):
    torch.manual_seed(seed)
    model = ARCHS[name]()
    init(model, 1000 + seed)
    for size, suffix in [(224, ""), (64, "-64")]:
        p = os.path.join(args.out, f"{name}{suffix}.onnx")
        export(model, p, size)
        print(f"wrote {p}")
    if args.reference:
        refs += [reference(name, model, True), reference(name, model, False)]
if args.reference:
    with open(args.reference + ".tmp", "w") as fh:
        json.dump({"generator": "scripts/make_bench_models.py", "torch": torch.__version__,
                   "note": "random weights (numpy seeded), not pretrained", "cases": refs}, fh)
    os.replace(args.reference + ".tmp", args.reference)
    print(f"wrote {args.reference}")
