#!/usr/bin/python3
"""Make the small ONNX fixtures of the backbone tests with Debian's python3-torch and
python3-onnx (run from this directory: /usr/bin/python3 make_fixtures.py).

tiny_gemm.onnx         conv-relu-conv-relu-avgpool-Flatten-Gemm, fp32, opset 13, batch fixed to 1
tiny_reshape_fp16.onnx the same net with view(1, -1) (a Reshape hard-coding batch 1) instead of
                       Flatten, converted to float16 (weights, input, output), IR version 3 style
                       (every initializer also listed among the graph inputs)
tiny_ref.json          a batch of 2 inputs [2,3,32,32] and PyTorch's pooled features [2,16] and
                       logits [2,5] for both nets (the fp16 ones computed in float32 from the
                       float16-rounded weights and input, which is what a float32 conversion must give)
"""
import json

import numpy as np
import onnx
from onnx import numpy_helper, TensorProto
import torch
import torch.nn as nn


class Tiny(nn.Module):
    def __init__(self, reshape):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(16, 5)
        self.reshape = reshape

    def features(self, x):
        x = torch.relu(self.conv1(x))
        x = torch.relu(self.conv2(x))
        x = self.pool(x)
        return x.view(1, -1) if self.reshape else torch.flatten(x, 1)

    def forward(self, x):
        return self.fc(self.features(x))


torch.manual_seed(7)
net = Tiny(reshape=False).eval()
net_r = Tiny(reshape=True).eval()
net_r.load_state_dict(net.state_dict())

x1 = torch.zeros(1, 3, 32, 32)
torch.onnx.export(net, x1, "tiny_gemm.onnx", input_names=["image"], output_names=["logits"],
                  opset_version=13, do_constant_folding=True)
torch.onnx.export(net_r, x1, "tiny_reshape_fp16.onnx", input_names=["image"], output_names=["logits"],
                  opset_version=13, do_constant_folding=True)

# float16 conversion of the second model, IR 3 style.
m = onnx.load("tiny_reshape_fp16.onnx")
g = m.graph
for i, t in enumerate(g.initializer):
    a = numpy_helper.to_array(t)
    if a.dtype == np.float32:
        g.initializer[i].CopyFrom(numpy_helper.from_array(a.astype(np.float16), t.name))
for v in list(g.input) + list(g.output):
    v.type.tensor_type.elem_type = TensorProto.FLOAT16
for t in g.initializer:
    vi = onnx.helper.make_tensor_value_info(t.name, t.data_type, list(t.dims))
    g.input.append(vi)
onnx.checker.check_model(m)
onnx.save(m, "tiny_reshape_fp16.onnx")

gen = torch.Generator().manual_seed(11)
# Multiples of 1/64 in [-2, 2): exact in float16 and short in JSON.
x = torch.randint(-128, 128, (2, 3, 32, 32), generator=gen).float() / 64
with torch.no_grad():
    feats = torch.stack([net.features(x[i:i + 1])[0] for i in range(2)])
    logits = net(x)
    net_h = Tiny(reshape=False).eval()
    net_h.load_state_dict({k: v.half().float() for k, v in net.state_dict().items()})
    xh = x.half().float()
    feats_h = torch.stack([net_h.features(xh[i:i + 1])[0] for i in range(2)])
    logits_h = net_h(xh)

ref = {
    "input_shape": [2, 3, 32, 32],
    "input": x.flatten().tolist(),
    "features": feats.flatten().tolist(),
    "logits": logits.flatten().tolist(),
    "features_fp16": feats_h.flatten().tolist(),
    "logits_fp16": logits_h.flatten().tolist(),
}
with open("tiny_ref.json", "w") as f:
    json.dump(ref, f)
print("ok", torch.__version__, onnx.__version__)
