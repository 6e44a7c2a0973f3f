#!/usr/bin/python3
"""Reference outputs for kiln's run-time batch tests (tests/batch/run.sh):
builds a model in torch with a symbolic batch dim, exports it to ONNX and
runs it in torch (eval mode) on ROWS seeded rows.

  /usr/bin/python3 tests/batch/ref.py CASE OUTDIR

OUTDIR gets model.onnx, x.bin (the ROWS input rows, float32) and y_K.bin
(torch's output K on them, float32).
"""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "training"))
from torch_train import MLP, LeNet5, SeqClassifier  # noqa: E402

ROWS = 8


class WithProbs(torch.nn.Module):
    """A classifier's logits and their softmax: two batch-major outputs."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        logits = self.net(x)
        return logits, torch.softmax(logits, 1)


class Centered(torch.nn.Module):
    """Subtracts the batch's maximum before a Linear layer: rows mix
    (ReduceMax over the batch axis, which kiln doesn't give the real batch),
    so kiln keeps the batch fixed."""

    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(12, 3)

    def forward(self, x):
        return self.fc(x - x.amax(0, keepdim=True))


class Attention(torch.nn.Module):
    """Scores of one self-attention head over 5 positions: a MatMul of two
    batch-major values (the batch on the same leading dim of both)."""

    def __init__(self):
        super().__init__()
        self.q = torch.nn.Linear(6, 6)
        self.k = torch.nn.Linear(6, 6)

    def forward(self, x):
        return torch.softmax(self.q(x) @ self.k(x).transpose(1, 2), -1)


def lenet():
    """LeNet-5 with BatchNormalization in inference mode: running statistics
    set away from 0 and 1 so that they matter."""
    net = LeNet5()
    for bn in (net.bn1, net.bn2):
        bn.running_mean.uniform_(-0.5, 0.5)
        bn.running_var.uniform_(0.5, 2.0)
    return WithProbs(net), torch.rand(ROWS, 1, 28, 28)


CASES = {
    "mlp": lambda: (WithProbs(MLP()), torch.rand(ROWS, 1, 28, 28)),
    "lenet": lenet,
    "gru": lambda: (WithProbs(SeqClassifier(torch.nn.GRU)), torch.rand(ROWS, 28, 28)),
    "attention": lambda: (Attention(), torch.rand(ROWS, 5, 6)),
    "centered": lambda: (Centered(), torch.rand(ROWS, 12)),
}


def main(case, out):
    torch.manual_seed(0)
    model, x = CASES[case]()
    model.eval()
    with torch.no_grad():
        ys = model(x)
    ys = ys if isinstance(ys, tuple) else (ys,)
    names = ["y%d" % k for k in range(len(ys))]
    os.makedirs(out, exist_ok=True)
    torch.onnx.export(model, (x,), os.path.join(out, "model.onnx"), input_names=["x"],
                      output_names=names, opset_version=14, do_constant_folding=False,
                      dynamic_axes={n: {0: "batch"} for n in ["x"] + names})
    x.numpy().astype(np.float32).tofile(os.path.join(out, "x.bin"))
    for k, y in enumerate(ys):
        y.numpy().astype(np.float32).tofile(os.path.join(out, "y_%d.bin" % k))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
