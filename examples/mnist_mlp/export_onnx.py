#!/usr/bin/python3
"""Exports the MLP of model.kir from PyTorch to ONNX, for `run.sh --onnx`:

    Flatten -> Linear(784, 128) -> ReLU -> Linear(128, 10)   (logits)

(with --hidden 0: Flatten -> Linear(784, 10), a softmax regression, which
examples/embed uses as its second model)

with the parameters initialised as Keras does (and as model.kir says):
Glorot-uniform weights, zero biases. The same names as model.kir (image,
fc1.weight, ..., logits), so kiln compiles both into the same C API. The
batch dimension is symbolic; kiln fixes it with --batch.
Run with Debian's interpreter: /usr/bin/python3 export_onnx.py OUT.onnx [--hidden N]
"""
import argparse

import torch


class MLP(torch.nn.Module):
    def __init__(self, hidden):
        super().__init__()
        self.flatten = torch.nn.Flatten()
        if hidden:
            self.fc1 = torch.nn.Linear(784, hidden)
            self.relu = torch.nn.ReLU()
            self.fc2 = torch.nn.Linear(hidden, 10)
            layers = (self.fc1, self.fc2)
        else:
            self.fc1 = torch.nn.Linear(784, 10)
            layers = (self.fc1,)
        for layer in layers:
            torch.nn.init.xavier_uniform_(layer.weight)
            torch.nn.init.zeros_(layer.bias)
        self.hidden = hidden

    def forward(self, image):
        x = self.fc1(self.flatten(image))
        return self.fc2(self.relu(x)) if self.hidden else x


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", nargs="?", default="model.onnx")
    parser.add_argument("--hidden", type=int, default=128, help="0: no hidden layer")
    args = parser.parse_args()
    torch.manual_seed(1)
    model = MLP(args.hidden).eval()
    torch.onnx.export(model, (torch.zeros(1, 1, 28, 28),), args.out,
                      input_names=["image"], output_names=["logits"],
                      dynamic_axes={"image": {0: "N"}, "logits": {0: "N"}},
                      opset_version=13)


if __name__ == "__main__":
    main()
