#!/usr/bin/env python3
"""Writes bn_cnn.onnx: a tiny CNN with batch normalisation in every block, for the
finetune tests (frozen batch-norm statistics in a trainable tail). Random weights,
seeded; running statistics away from 0/1 so that freezing them matters.

  input [N,3,16,16] -> blk1: Conv 3x3 (8) + BN + Relu -> blk2: Conv 3x3 stride 2 (8) +
  BN + Relu -> GlobalAveragePool -> Flatten -> Gemm (4 classes)

Usage: /usr/bin/python3 make_bn.py  (needs python3-onnx and numpy)
"""
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

rng = np.random.default_rng(7)


def t(name, *shape, scale=0.3, offset=0.0):
    return numpy_helper.from_array((rng.standard_normal(shape) * scale + offset).astype(np.float32), name)


inits = [
    t("blk1.conv.w", 8, 3, 3, 3), t("blk1.conv.b", 8, scale=0.1),
    t("blk1.bn.scale", 8, scale=0.1, offset=1), t("blk1.bn.bias", 8, scale=0.1),
    t("blk1.bn.mean", 8, scale=0.2), numpy_helper.from_array((rng.random(8) + 0.5).astype(np.float32), "blk1.bn.var"),
    t("blk2.conv.w", 8, 8, 3, 3, scale=0.2), t("blk2.conv.b", 8, scale=0.1),
    t("blk2.bn.scale", 8, scale=0.1, offset=1), t("blk2.bn.bias", 8, scale=0.1),
    t("blk2.bn.mean", 8, scale=0.2), numpy_helper.from_array((rng.random(8) + 0.5).astype(np.float32), "blk2.bn.var"),
    t("fc.w", 4, 8), t("fc.b", 4, scale=0.1),
]
nodes = [
    helper.make_node("Conv", ["input", "blk1.conv.w", "blk1.conv.b"], ["blk1.conv"], name="blk1.conv", pads=[1, 1, 1, 1]),
    helper.make_node("BatchNormalization", ["blk1.conv", "blk1.bn.scale", "blk1.bn.bias", "blk1.bn.mean", "blk1.bn.var"], ["blk1.bn"], name="blk1.bn"),
    helper.make_node("Relu", ["blk1.bn"], ["blk1.relu"], name="blk1.relu"),
    helper.make_node("Conv", ["blk1.relu", "blk2.conv.w", "blk2.conv.b"], ["blk2.conv"], name="blk2.conv", pads=[1, 1, 1, 1], strides=[2, 2]),
    helper.make_node("BatchNormalization", ["blk2.conv", "blk2.bn.scale", "blk2.bn.bias", "blk2.bn.mean", "blk2.bn.var"], ["blk2.bn"], name="blk2.bn"),
    helper.make_node("Relu", ["blk2.bn"], ["blk2.relu"], name="blk2.relu"),
    helper.make_node("GlobalAveragePool", ["blk2.relu"], ["pool"], name="pool"),
    helper.make_node("Flatten", ["pool"], ["features"], name="flatten"),
    helper.make_node("Gemm", ["features", "fc.w", "fc.b"], ["logits"], name="fc", transB=1),
]
g = helper.make_graph(nodes, "bn_cnn", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 16, 16])],
                      [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 4])], inits)
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)], producer_name="multilabel-finetune-test")
m.ir_version = 7
onnx.checker.check_model(m)
onnx.save(m, "bn_cnn.onnx")
