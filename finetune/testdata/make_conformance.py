#!/usr/bin/env python3
"""Reference values for finetune's gradient conformance suite (conformance_test.go).

Each case is a small ONNX graph (nodes with ONNX attributes) of an op the trainer
differentiates through, its inputs (seeded random values), the upstream gradient r, the
output y and, for loss = sum(y * r), the gradient of every trainable input, all computed
by PyTorch (float32) as an independent implementation of the same ops. The Go test builds
the same ONNX graph, lowers it as the trainer does for each backend (finetune/lower.go),
imports it with onnx-gomlx and compares values and gradients.

Usage: /usr/bin/python3 finetune/testdata/make_conformance.py > finetune/testdata/conformance.json
(Debian python3-torch 1.13.)
"""
import json
import sys

import torch
import torch.nn.functional as F

torch.manual_seed(13)
cases = []


def t(*shape):
    return torch.randn(*shape, dtype=torch.float32)


def ints(v):
    return {"ints": list(v)}


def add(name, nodes, inputs, fn, grad=None, train_bn=False, consts=(), shapes=None):
    """inputs: list of (name, tensor); grad: names to differentiate (default all but consts)."""
    grad = [n for n, _ in inputs if n not in consts] if grad is None else grad
    ts = {}
    for n, v in inputs:
        v = v.clone().detach()
        v.requires_grad_(n in grad)
        ts[n] = v
    y = fn(ts)
    r = t(*y.shape)
    loss = (y * r).sum()
    loss.backward()
    cases.append({
        "name": name, "nodes": nodes, "train_bn": train_bn, "shapes": shapes or {},
        "inputs": [{"name": n, "shape": list(v.shape), "data": v.detach().flatten().tolist(),
                    "grad": n in grad, "const": n in consts} for n, v in ts.items()],
        "out_shape": list(y.shape), "y": y.detach().flatten().tolist(), "r": r.flatten().tolist(),
        "loss": loss.item(),
        "grads": {n: ts[n].grad.flatten().tolist() for n in grad},
    })


def node(op, inputs, outputs=("y",), **attrs):
    return {"op": op, "inputs": list(inputs), "outputs": list(outputs), "attrs": attrs}


# --- convolutions: 1x1, 3x3, stride 1/2, padding, dilation, groups, depthwise.
def conv(name, x, w, stride=1, pad=0, dil=1, group=1, bias=True):
    attrs = {"kernel_shape": ints(w.shape[2:]), "strides": ints([stride, stride]),
             "pads": ints([pad] * 4), "dilations": ints([dil, dil]), "group": {"i": group}}
    ins = [("x", x), ("w", w)] + ([("b", t(w.shape[0]))] if bias else [])
    add(name, [node("Conv", [n for n, _ in ins], **attrs)], ins,
        lambda v: F.conv2d(v["x"], v["w"], v.get("b"), stride, pad, dil, group))


conv("conv1x1", t(2, 4, 5, 5), t(6, 4, 1, 1))
conv("conv1x1_s2", t(2, 4, 6, 6), t(6, 4, 1, 1), stride=2)
conv("conv3x3_s1_p1", t(2, 3, 6, 6), t(4, 3, 3, 3), pad=1)
conv("conv3x3_s2", t(2, 3, 7, 7), t(4, 3, 3, 3), stride=2)
conv("conv3x3_s2_p1", t(2, 3, 8, 8), t(4, 3, 3, 3), stride=2, pad=1)
conv("conv3x3_dil2_p2", t(2, 3, 9, 9), t(4, 3, 3, 3), pad=2, dil=2)
conv("conv3x3_group2_p1", t(2, 4, 6, 6), t(6, 2, 3, 3), pad=1, group=2)
conv("conv3x3_depthwise_p1", t(2, 4, 6, 6), t(4, 1, 3, 3), pad=1, group=4, bias=False)
conv("conv3x3_depthwise_s2_p1", t(2, 4, 7, 7), t(4, 1, 3, 3), stride=2, pad=1, group=4)


# --- pooling.
def maxpool(name, x, k, s, pads=(0, 0, 0, 0)):
    attrs = {"kernel_shape": ints([k, k]), "strides": ints([s, s]), "pads": ints(pads)}

    def fn(v):
        # ONNX pads order: top, left, bottom, right; F.pad order: left, right, top, bottom.
        xp = F.pad(v["x"], (pads[1], pads[3], pads[0], pads[2]), value=float("-inf"))
        return F.max_pool2d(xp, k, s)
    add(name, [node("MaxPool", ["x"], **attrs)], [("x", x)], fn)


maxpool("maxpool_2x2_s2", t(2, 3, 6, 6), 2, 2)
maxpool("maxpool_3x3_s2_overlap", t(2, 3, 7, 7), 3, 2)
maxpool("maxpool_3x3_s2_pad_end", t(2, 3, 8, 8), 3, 2, (0, 0, 1, 1))  # SqueezeNet's ceil mode
maxpool("maxpool_3x3_s1_p1", t(2, 3, 5, 5), 3, 1, (1, 1, 1, 1))


def avgpool(name, x, k, s, p=0, include=0):
    attrs = {"kernel_shape": ints([k, k]), "strides": ints([s, s]), "pads": ints([p] * 4), "count_include_pad": {"i": include}}
    add(name, [node("AveragePool", ["x"], **attrs)], [("x", x)],
        lambda v: F.avg_pool2d(v["x"], k, s, p, count_include_pad=bool(include)))


avgpool("avgpool_2x2_s2", t(2, 3, 6, 6), 2, 2)
avgpool("avgpool_3x3_s2_p1", t(2, 3, 7, 7), 3, 2, 1)
avgpool("avgpool_3x3_s1_p1_include", t(2, 3, 5, 5), 3, 1, 1, 1)
add("globalavgpool", [node("GlobalAveragePool", ["x"])], [("x", t(2, 3, 5, 5))], lambda v: v["x"].mean((2, 3), keepdim=True))

# --- batch normalisation: frozen (running statistics) and with batch statistics.
bn_in = [("x", t(4, 3, 4, 4)), ("scale", t(3)), ("bias", t(3)), ("mean", t(3) * 0.1), ("var", torch.rand(3) + 0.5)]
add("batchnorm_frozen", [node("BatchNormalization", ["x", "scale", "bias", "mean", "var"], epsilon={"f": 1e-5})], bn_in,
    lambda v: F.batch_norm(v["x"], v["mean"], v["var"], v["scale"], v["bias"], False, 0.1, 1e-5),
    grad=["x", "scale", "bias"], consts=("mean", "var"))
add("batchnorm_batch_stats", [node("BatchNormalization", ["x", "scale", "bias", "mean", "var"], epsilon={"f": 1e-5})], bn_in,
    lambda v: F.batch_norm(v["x"], v["mean"].clone(), v["var"].clone(), v["scale"], v["bias"], True, 0.1, 1e-5),
    grad=["x", "scale", "bias"], consts=("mean", "var"), train_bn=True)

# --- element-wise and dense ops.
add("relu", [node("Relu", ["x"])], [("x", t(2, 3, 4))], lambda v: F.relu(v["x"]))
add("clip_relu6", [node("Clip", ["x", "lo", "hi"])], [("x", t(2, 3, 4) * 5), ("lo", torch.tensor(0.0)), ("hi", torch.tensor(6.0))],
    lambda v: torch.clamp(v["x"], 0, 6), consts=("lo", "hi"))
add("sigmoid", [node("Sigmoid", ["x"])], [("x", t(2, 3, 4))], lambda v: torch.sigmoid(v["x"]))
add("silu", [node("Sigmoid", ["x"], ["s"]), node("Mul", ["x", "s"])], [("x", t(2, 3, 4))], lambda v: F.silu(v["x"]))
add("add_broadcast", [node("Add", ["a", "b"])], [("a", t(2, 3, 4)), ("b", t(3, 1))], lambda v: v["a"] + v["b"])
add("mul_broadcast", [node("Mul", ["a", "b"])], [("a", t(2, 3, 4)), ("b", t(1, 4))], lambda v: v["a"] * v["b"])
add("concat_axis1", [node("Concat", ["a", "b"], axis={"i": 1})], [("a", t(2, 3, 4, 4)), ("b", t(2, 5, 4, 4))],
    lambda v: torch.cat([v["a"], v["b"]], 1))
add("gemm_transb", [node("Gemm", ["a", "w", "c"], transB={"i": 1})], [("a", t(3, 5)), ("w", t(4, 5)), ("c", t(4))],
    lambda v: v["a"] @ v["w"].T + v["c"])
add("matmul", [node("MatMul", ["a", "b"])], [("a", t(3, 5)), ("b", t(5, 4))], lambda v: v["a"] @ v["b"])
# A Fire module (squeeze 1x1, expand 1x1 and 3x3, ReLU, Concat) as in SqueezeNet 1.1.
fire_in = [("x", t(2, 8, 6, 6)), ("ws", t(4, 8, 1, 1)), ("bs", t(4)), ("w1", t(6, 4, 1, 1)), ("b1", t(6)), ("w3", t(6, 4, 3, 3)), ("b3", t(6))]
add("fire_module", [
    node("Conv", ["x", "ws", "bs"], ["s"], kernel_shape=ints([1, 1])), node("Relu", ["s"], ["sr"]),
    node("Conv", ["sr", "w1", "b1"], ["e1"], kernel_shape=ints([1, 1])), node("Relu", ["e1"], ["e1r"]),
    node("Conv", ["sr", "w3", "b3"], ["e3"], kernel_shape=ints([3, 3]), pads=ints([1, 1, 1, 1])), node("Relu", ["e3"], ["e3r"]),
    node("Concat", ["e1r", "e3r"], axis={"i": 1})], fire_in,
    lambda v: torch.cat([F.relu(F.conv2d(F.relu(F.conv2d(v["x"], v["ws"], v["bs"])), v["w1"], v["b1"])),
                         F.relu(F.conv2d(F.relu(F.conv2d(v["x"], v["ws"], v["bs"])), v["w3"], v["b3"], padding=1))], 1),
    shapes={"s": [2, 4, 6, 6], "sr": [2, 4, 6, 6], "e1": [2, 6, 6, 6], "e3": [2, 6, 6, 6]})

json.dump({"generator": "finetune/testdata/make_conformance.py", "torch": torch.__version__, "opset": 13, "cases": cases},
          sys.stdout, separators=(",", ":"))
