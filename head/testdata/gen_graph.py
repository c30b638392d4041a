"""Reference values for the graph head (head/graph.go), computed with PyTorch 1.13 from
the ML-GCN description (Chen et al., CVPR 2019), independently of the Go code:

  P(j|i) = M_ij / N_i; A_ij = 1 when i != j, M_ij > 0 and P(j|i) >= tau;
  a row with k > 0 links: A'_ii = 1 - p, A'_ij = p / k; a row without: A'_ii = 1;
  W = A' . LeakyReLU_0.2(A' . E) . V;  logits = x . W^T + b.

Gradients are those of sum(logits * R) for a fixed R, with respect to E, b and V.
Run: /usr/bin/python3 head/testdata/gen_graph.py > head/testdata/graph.json
"""
import json

import numpy as np
import torch

torch.set_default_dtype(torch.float64)
rng = np.random.default_rng(14)
L, H, C, N = 5, 3, 4, 6
tau, p = 0.4, 0.2

# Training labels: label 4 never positive (isolated), label 3 only with label 0.
y = np.array([
    [1, 1, 0, 1, 0],
    [1, 0, 1, 0, 0],
    [1, 1, 0, 0, 0],
    [0, 1, 1, 0, 0],
    [0, 0, 1, 0, 0],
    [1, 0, 0, 1, 0],
    [0, 1, 0, 0, 0],
    [1, 0, -1, 0, 0],  # unknown counts as not positive
], dtype=np.int64)
pos = (y == 1).astype(np.float64)
n_i = pos.sum(0)
m = pos.T @ pos
adj = np.zeros((L, L))
for i in range(L):
    nb = [j for j in range(L) if j != i and n_i[i] > 0 and m[i, j] > 0 and m[i, j] / n_i[i] >= tau]
    if not nb:
        adj[i, i] = 1
        continue
    adj[i, i] = 1 - p
    for j in nb:
        adj[i, j] = p / len(nb)

E = torch.tensor(rng.uniform(-1, 1, (L, H)), requires_grad=True)
b = torch.tensor(rng.normal(0, 0.5, L), requires_grad=True)
V = torch.tensor(rng.uniform(-0.5, 0.5, (H, C)), requires_grad=True)
x = torch.tensor(rng.normal(0, 1, (N, C)))
R = torch.tensor(rng.normal(0, 1, (N, L)))
A = torch.tensor(adj)

W = A @ torch.nn.functional.leaky_relu(A @ E, 0.2) @ V
logits = x @ W.T + b
(logits * R).sum().backward()


def flat(t):
    return [float(v) for v in t.detach().reshape(-1).tolist()]


print(json.dumps({
    "labels": L, "hidden": H, "in": C, "n": N, "tau": tau, "p": p,
    "y": y.tolist(), "adj": flat(A),
    "e": flat(E), "b": flat(b), "v": flat(V), "x": flat(x), "r": flat(R),
    "w": flat(W), "logits": flat(logits),
    "grad_e": flat(E.grad), "grad_b": flat(b.grad), "grad_v": flat(V.grad),
}, indent=1))
