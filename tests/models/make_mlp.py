#!/usr/bin/python3
"""Exports the 784-128-10 MLP used by kiln's end-to-end tests from PyTorch and
writes reference data computed by torch, in the ONNX backend-test layout:

    mlp/model.onnx
    mlp/test_data_set_0/{input_0.pb, output_0.pb, output_1.pb}   batch 4
    mlp/test_data_set_1/...                                       batch 1

Outputs: the logits and their softmax. The batch dimension is symbolic
("batch"), so kiln fixes it from the data or from --batch.
Run with Debian's interpreter: /usr/bin/python3 tests/models/make_mlp.py
"""
import os
import sys

import numpy as np
import torch
from onnx import numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))


class MLP(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.flatten = torch.nn.Flatten()
        self.fc1 = torch.nn.Linear(784, 128)
        self.relu = torch.nn.ReLU()
        self.fc2 = torch.nn.Linear(128, 10)

    def forward(self, x):
        logits = self.fc2(self.relu(self.fc1(self.flatten(x))))
        return logits, torch.softmax(logits, dim=1)


def write_pb(path, array, name):
    with open(path, "wb") as f:
        f.write(numpy_helper.from_array(array, name).SerializeToString())


def main(out_dir):
    torch.manual_seed(0)
    model = MLP().eval()
    os.makedirs(out_dir, exist_ok=True)
    x = torch.rand(4, 1, 28, 28)
    torch.onnx.export(model, (x,), os.path.join(out_dir, "model.onnx"),
                      input_names=["image"], output_names=["logits", "probs"],
                      dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"},
                                    "probs": {0: "batch"}},
                      opset_version=13)
    for k, batch in enumerate([4, 1]):
        d = os.path.join(out_dir, "test_data_set_%d" % k)
        os.makedirs(d, exist_ok=True)
        x = torch.rand(batch, 1, 28, 28)
        with torch.no_grad():
            logits, probs = model(x)
        write_pb(os.path.join(d, "input_0.pb"), x.numpy(), "image")
        write_pb(os.path.join(d, "output_0.pb"), logits.numpy(), "logits")
        write_pb(os.path.join(d, "output_1.pb"), probs.numpy(), "probs")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "mlp"))
