#!/usr/bin/python3
"""Exports a small network from PyTorch (eval mode) in which every fusion
pass of kiln has something to do, with reference outputs computed by torch,
in the ONNX backend-test layout (tests/e2e/fusion.sh checks kiln against them):

    Conv+BatchNorm+ReLU, Conv(no bias)+BatchNorm+LeakyReLU  -> FusedConv (BN folded)
    Linear+Hardswish, Linear+Tanh, Linear+clamp (Clip)       -> FusedGemm
    x @ W + c, then Sigmoid                                  -> Gemm -> FusedGemm
    Linear+BatchNorm1d                                       -> Gemm (BN folded)
    t.T @ r                                                  -> Gemm with transA

Usage: /usr/bin/python3 tests/models/make_fusion.py OUT_DIR
"""
import os
import sys

import torch
from onnx import numpy_helper


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.bn1 = torch.nn.BatchNorm2d(8)
        self.conv2 = torch.nn.Conv2d(8, 16, 3, stride=2, padding=1, bias=False)
        self.bn2 = torch.nn.BatchNorm2d(16)
        self.fc1 = torch.nn.Linear(16 * 6 * 6, 32)
        self.w = torch.nn.Parameter(torch.randn(32, 24) * 0.2)
        self.c = torch.nn.Parameter(torch.randn(24) * 0.2)
        self.fc2 = torch.nn.Linear(24, 20)
        self.fc3 = torch.nn.Linear(24, 18)
        self.fc4 = torch.nn.Linear(24, 12)
        self.bn4 = torch.nn.BatchNorm1d(12)

    def forward(self, x):
        h = torch.relu(self.bn1(self.conv1(x)))
        h = torch.nn.functional.leaky_relu(self.bn2(self.conv2(h)), 0.1)
        a = torch.nn.functional.hardswish(self.fc1(torch.flatten(h, 1)))
        b = torch.sigmoid(torch.matmul(a, self.w) + self.c)
        t = torch.tanh(self.fc2(b))
        r = torch.clamp(self.fc3(b), -0.5, 0.8)
        return torch.matmul(t.transpose(0, 1), r), self.bn4(self.fc4(b))


def write_pb(path, array, name):
    with open(path, "wb") as f:
        f.write(numpy_helper.from_array(array, name).SerializeToString())


def main(out_dir):
    torch.manual_seed(0)
    model = Net()
    with torch.no_grad():  # running statistics far from 0 and 1, so folding matters
        for bn in (model.bn1, model.bn2, model.bn4):
            bn.running_mean.uniform_(-0.5, 0.5)
            bn.running_var.uniform_(0.5, 2.0)
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.uniform_(-0.3, 0.3)
    model.eval()
    os.makedirs(out_dir, exist_ok=True)
    x = torch.rand(3, 3, 12, 12)
    torch.onnx.export(model, (x,), os.path.join(out_dir, "model.onnx"),
                      input_names=["image"], output_names=["gram", "z"],
                      dynamic_axes={"image": {0: "batch"}, "z": {0: "batch"}},
                      opset_version=14, training=torch.onnx.TrainingMode.PRESERVE,
                      do_constant_folding=False)  # keep BatchNormalization for kiln to fold
    for k, batch in enumerate([3, 1]):
        d = os.path.join(out_dir, "test_data_set_%d" % k)
        os.makedirs(d, exist_ok=True)
        x = torch.rand(batch, 3, 12, 12) * 2 - 0.5
        with torch.no_grad():
            gram, z = model(x)
        write_pb(os.path.join(d, "input_0.pb"), x.numpy(), "image")
        write_pb(os.path.join(d, "output_0.pb"), gram.numpy(), "gram")
        write_pb(os.path.join(d, "output_1.pb"), z.numpy(), "z")


if __name__ == "__main__":
    main(sys.argv[1])
