#!/usr/bin/python3
"""Exports a small network from PyTorch whose activations and norms come out
of torch.onnx.export as chains of elementwise ops, for kiln's
fuse_elementwise pass (one FusedElementwise loop per chain), with reference
outputs computed by torch in the ONNX backend-test layout
(tests/e2e/fusion.sh checks kiln against them):

    nn.GELU (erf)             Div, Erf, Add, Mul, Mul      -> one FusedElementwise
    LayerNorm's tail          Div, Mul, Add (and Add, Sqrt) -> two
    SiLU                      Sigmoid, Mul                  -> one
    GELU(approximate='tanh')  Mul, Mul, Mul, Add, Mul, Tanh, Add, Mul, Mul -> one
    x * 0.5 + y (same shape), then LeakyReLU(0.2)          -> one, with alpha

Usage: /usr/bin/python3 tests/models/make_elementwise.py OUT_DIR
"""
import os
import sys

import torch
from onnx import numpy_helper


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(16, 32)
        self.ln = torch.nn.LayerNorm(32)
        self.fc2 = torch.nn.Linear(32, 24)
        self.fc3 = torch.nn.Linear(24, 8)

    def forward(self, x):
        h = torch.nn.functional.gelu(self.fc1(x))
        h = self.ln(h)
        h = torch.nn.functional.silu(self.fc2(h))
        g = torch.nn.functional.gelu(self.fc3(h), approximate="tanh")
        return torch.nn.functional.leaky_relu(g * 0.5 + x[:, :8], 0.2)


def write_pb(path, array, name):
    with open(path, "wb") as f:
        f.write(numpy_helper.from_array(array, name).SerializeToString())


def main(out_dir):
    torch.manual_seed(0)
    model = Net().eval()
    os.makedirs(out_dir, exist_ok=True)
    x = torch.rand(3, 16)
    torch.onnx.export(model, (x,), os.path.join(out_dir, "model.onnx"),
                      input_names=["x"], output_names=["y"],
                      dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}}, opset_version=14)
    for k, batch in enumerate([3, 1]):
        d = os.path.join(out_dir, "test_data_set_%d" % k)
        os.makedirs(d, exist_ok=True)
        x = torch.randn(batch, 16) * 2
        with torch.no_grad():
            y = model(x)
        write_pb(os.path.join(d, "input_0.pb"), x.numpy(), "x")
        write_pb(os.path.join(d, "output_0.pb"), y.numpy(), "y")


if __name__ == "__main__":
    main(sys.argv[1])
