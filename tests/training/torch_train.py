#!/usr/bin/python3
"""Reference training runs for kiln's training tests: builds a model in torch,
exports its inference graph to ONNX, trains it for STEPS steps on seeded
batches, and writes what kiln's run must reproduce.

  /usr/bin/python3 tests/training/torch_train.py CASE OUTDIR

OUTDIR gets model.onnx, flags.txt (the kiln compile flags of the case),
input_K.bin (every step's batch of training input K, raw, concatenated),
losses.txt (torch's loss before each step) and params/NAME.bin (the
parameters after the last step, raw float32).
"""
import os
import sys

import numpy as np
import torch

STEPS = 20


class MLP(torch.nn.Module):
    """The 784-128-10 MLP of tests/models/make_mlp.py."""

    def __init__(self):
        super().__init__()
        self.flatten = torch.nn.Flatten()
        self.fc1 = torch.nn.Linear(784, 128)
        self.relu = torch.nn.ReLU()
        self.fc2 = torch.nn.Linear(128, 10)

    def forward(self, x):
        return self.fc2(self.relu(self.fc1(self.flatten(x))))


def mlp_adam():
    model = MLP()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    batches = [(torch.rand(16, 1, 28, 28), torch.randint(0, 10, (16,))) for _ in range(STEPS)]
    loss_fn = torch.nn.functional.cross_entropy
    flags = "--train --loss sparse_softmax_ce --loss-on logits --optimizer adam --lr 1e-3"
    return model, opt, batches, loss_fn, flags, ["image"], ["logits"]


def mlp_sgd():
    model = MLP()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4, nesterov=True)
    batches = [(torch.rand(8, 1, 28, 28), torch.rand(8, 10)) for _ in range(STEPS)]
    loss_fn = torch.nn.functional.mse_loss
    flags = ("--train --loss mse --loss-on logits --optimizer sgd --lr 0.05 --momentum 0.9 "
             "--weight-decay 5e-4 --nesterov")
    return model, opt, batches, loss_fn, flags, ["image"], ["logits"]


CASES = {"mlp_adam": mlp_adam, "mlp_sgd": mlp_sgd}


def main(case, out):
    torch.manual_seed(0)
    model, opt, batches, loss_fn, flags, in_names, out_names = CASES[case]()
    os.makedirs(os.path.join(out, "params"), exist_ok=True)
    torch.onnx.export(model, (batches[0][0],), os.path.join(out, "model.onnx"),
                      input_names=in_names, output_names=out_names, opset_version=14,
                      do_constant_folding=False, training=torch.onnx.TrainingMode.PRESERVE)
    with open(os.path.join(out, "flags.txt"), "w") as f:
        f.write(flags + "\n")
    with open(os.path.join(out, "input_0.dims.json"), "w") as f:
        f.write(str(list(batches[0][0].shape)) + "\n")
    with open(os.path.join(out, "input_0.bin"), "wb") as fx, \
            open(os.path.join(out, "input_1.bin"), "wb") as fy:
        for x, y in batches:
            fx.write(x.numpy().astype(np.float32).tobytes())
            fy.write(y.numpy().astype(np.int64 if y.dtype == torch.int64 else np.float32).tobytes())
    losses = []
    model.train()
    for x, y in batches:
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        losses.append(loss.item())
        loss.backward()
        opt.step()
    with open(os.path.join(out, "losses.txt"), "w") as f:
        f.write("".join("%.9g\n" % v for v in losses))
    for name, p in model.named_parameters():
        p.detach().numpy().astype(np.float32).tofile(os.path.join(out, "params", name + ".bin"))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
