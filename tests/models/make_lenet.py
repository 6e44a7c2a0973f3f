#!/usr/bin/python3
"""Exports a LeNet-5 (28x28 input: conv 5x5 1->6 pad 2, ReLU, max-pool 2,
conv 5x5 6->16, ReLU, max-pool 2, 400-120-84-10 with ReLUs) from PyTorch and
writes reference data computed by torch, in the ONNX backend-test layout:

    lenet/model.onnx
    lenet/test_data_set_0/{input_0.pb, output_0.pb}   batch 4
    lenet/test_data_set_1/...                         batch 1

The batch dimension is symbolic ("batch"), so kiln fixes it from the data.
Used by tests/e2e/targets.sh (each --target, aarch64 under qemu).
Run with Debian's interpreter: /usr/bin/python3 tests/models/make_lenet.py DIR
"""
import os
import sys

import torch
from onnx import numpy_helper


class LeNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = torch.nn.Conv2d(6, 16, 5)
        self.fc1 = torch.nn.Linear(16 * 5 * 5, 120)
        self.fc2 = torch.nn.Linear(120, 84)
        self.fc3 = torch.nn.Linear(84, 10)

    def forward(self, x):
        relu, pool = torch.nn.functional.relu, torch.nn.functional.max_pool2d
        x = pool(relu(self.conv1(x)), 2)
        x = pool(relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        return self.fc3(relu(self.fc2(relu(self.fc1(x)))))


def write_pb(path, array, name):
    with open(path, "wb") as f:
        f.write(numpy_helper.from_array(array, name).SerializeToString())


def main(out_dir):
    torch.manual_seed(0)
    model = LeNet().eval()
    os.makedirs(out_dir, exist_ok=True)
    x = torch.rand(4, 1, 28, 28)
    torch.onnx.export(model, (x,), os.path.join(out_dir, "model.onnx"),
                      input_names=["image"], output_names=["logits"],
                      dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}},
                      opset_version=13)
    for k, batch in enumerate([4, 1]):
        d = os.path.join(out_dir, "test_data_set_%d" % k)
        os.makedirs(d, exist_ok=True)
        x = torch.rand(batch, 1, 28, 28)
        with torch.no_grad():
            logits = model(x)
        write_pb(os.path.join(d, "input_0.pb"), x.numpy(), "image")
        write_pb(os.path.join(d, "output_0.pb"), logits.numpy(), "logits")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "lenet")
