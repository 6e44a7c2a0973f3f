#!/usr/bin/python3
"""Reference training runs for kiln's training tests: builds a model in torch,
exports its inference graph to ONNX, trains it for STEPS steps on seeded
batches, and writes what kiln's run must reproduce.

  /usr/bin/python3 tests/training/torch_train.py CASE OUTDIR

OUTDIR gets model.onnx, flags.txt (the kiln compile flags of the case),
input_K.bin (every step's batch of training input K, raw, concatenated),
batches.txt (ragged cases: each step's batch size; the model's batch dim is
symbolic and kiln compiles it with --batch, the largest),
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



class LeNet5(torch.nn.Module):
    """LeNet-5 for 1x28x28 images with BatchNormalization after each conv:
    (Conv 5x5 -> BN -> ReLU -> MaxPool 2) twice, then 400-120-84-10."""

    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(1, 6, 5, padding=2)
        self.bn1 = torch.nn.BatchNorm2d(6)
        self.conv2 = torch.nn.Conv2d(6, 16, 5)
        self.bn2 = torch.nn.BatchNorm2d(16)
        self.fc1 = torch.nn.Linear(16 * 5 * 5, 120)
        self.fc2 = torch.nn.Linear(120, 84)
        self.fc3 = torch.nn.Linear(84, 10)

    def forward(self, x):
        pool, relu = torch.nn.functional.max_pool2d, torch.relu
        x = pool(relu(self.bn1(self.conv1(x))), 2)
        x = pool(relu(self.bn2(self.conv2(x))), 2)
        x = torch.flatten(x, 1)
        return self.fc3(relu(self.fc2(relu(self.fc1(x)))))


def lenet_bn_sgd():
    """BatchNormalization in training mode (exported with TrainingMode.TRAINING:
    training_mode=1 and the running statistics as extra outputs); the
    running means are compared too (kiln updates running_var with the biased
    batch variance, as ONNX specifies, where torch uses the unbiased one)."""
    model = LeNet5()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    batches = [(torch.rand(8, 1, 28, 28), torch.randint(0, 10, (8,))) for _ in range(STEPS)]
    loss_fn = torch.nn.functional.cross_entropy
    flags = ("--train --loss sparse_softmax_ce --loss-on logits --optimizer sgd --lr 0.05 "
             "--momentum 0.9 --weight-decay 5e-4")
    export = {"training": torch.onnx.TrainingMode.TRAINING, "buffers": ("running_mean",)}
    return model, opt, batches, loss_fn, flags, ["image"], ["logits"], export


class SmallConv(torch.nn.Module):
    """Strided, dilated and grouped convolutions, average pooling (padding
    left out of the count) and a global average pool regressing 4 values."""

    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.conv2 = torch.nn.Conv2d(8, 8, 3, padding=2, dilation=2, groups=2)
        self.pool = torch.nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)
        self.fc = torch.nn.Linear(8, 4)

    def forward(self, x):
        x = torch.tanh(self.conv1(x))
        x = self.pool(torch.relu(self.conv2(x)) + x)
        return self.fc(torch.flatten(torch.nn.functional.adaptive_avg_pool2d(x, 1), 1))


def conv_mse_adamw():
    model = SmallConv()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=1e-2)
    batches = [(torch.rand(8, 3, 16, 16), torch.rand(8, 4)) for _ in range(STEPS)]
    loss_fn = torch.nn.functional.mse_loss
    flags = ("--train --loss mse --loss-on out --optimizer adamw --lr 1e-2 "
             "--weight-decay 1e-2")
    return model, opt, batches, loss_fn, flags, ["image"], ["out"]


class ConvMisc(torch.nn.Module):
    """The other convolution-family gradients: a grouped ConvTranspose with
    output_padding, InstanceNormalization, a padded ceil_mode MaxPool, a
    strided grouped 1-D Conv, LayerNormalization (opset 17) and a 1-D
    MaxPool over the whole sequence."""

    def __init__(self):
        super().__init__()
        self.up = torch.nn.ConvTranspose2d(4, 4, 3, stride=2, padding=1, output_padding=1, groups=2)
        self.inorm = torch.nn.InstanceNorm2d(4, affine=True)
        self.pool = torch.nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True)
        self.conv = torch.nn.Conv1d(4, 6, 5, stride=3, padding=2, groups=2)
        self.norm = torch.nn.LayerNorm(41)
        self.fc = torch.nn.Linear(6, 10)

    def forward(self, x):
        x = self.pool(torch.relu(self.inorm(self.up(x))))
        x = torch.sigmoid(self.norm(self.conv(torch.flatten(x, 2))))
        return self.fc(torch.flatten(torch.nn.functional.adaptive_max_pool1d(x, 1), 1))


def conv_misc_sgd():
    model = ConvMisc()
    opt = torch.optim.SGD(model.parameters(), lr=0.02, momentum=0.9)
    batches = [(torch.rand(4, 4, 10, 10), torch.randint(0, 10, (4,))) for _ in range(STEPS)]
    loss_fn = torch.nn.functional.cross_entropy
    flags = "--train --loss sparse_softmax_ce --loss-on logits --optimizer sgd --lr 0.02 --momentum 0.9"
    return model, opt, batches, loss_fn, flags, ["image"], ["logits"], {"opset": 17}

CASES = {"mlp_adam": mlp_adam, "mlp_sgd": mlp_sgd}
CASES.update({"lenet_bn_sgd": lenet_bn_sgd, "conv_mse_adamw": conv_mse_adamw,
              "conv_misc_sgd": conv_misc_sgd})


class SeqClassifier(torch.nn.Module):
    """Reads a [batch, 28, 28] image row by row (28 steps of 28 inputs) with an
    LSTM or GRU of 32 units; the last hidden state goes through a Linear to 10
    classes. Exported, the layer is one ONNX LSTM/GRU node whose W, R and B
    the exporter slices and concatenates from torch's parameters (gate order)."""

    def __init__(self, cell):
        super().__init__()
        self.rnn = cell(28, 32, batch_first=True)
        self.fc = torch.nn.Linear(32, 10)

    def forward(self, x):
        h = self.rnn(x)[1]
        h = h[0] if isinstance(h, tuple) else h
        return self.fc(h[-1])


class DeepSeqClassifier(SeqClassifier):
    """SeqClassifier with two stacked bidirectional layers: two ONNX nodes,
    the second one's input gradient flowing into the first; the Linear reads
    both directions' last hidden states."""

    def __init__(self, cell):
        torch.nn.Module.__init__(self)
        self.rnn = cell(28, 32, num_layers=2, bidirectional=True, batch_first=True)
        self.fc = torch.nn.Linear(64, 10)

    def forward(self, x):
        h = self.rnn(x)[1]
        h = h[0] if isinstance(h, tuple) else h
        return self.fc(torch.cat((h[-2], h[-1]), 1))  # the last layer, both directions


def seq_adam(cell, eps=1e-8, cls=SeqClassifier):
    model = cls(cell)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=eps)
    batches = [(torch.rand(8, 28, 28), torch.randint(0, 10, (8,))) for _ in range(STEPS)]
    loss_fn = torch.nn.functional.cross_entropy
    flags = "--train --loss sparse_softmax_ce --loss-on logits --optimizer adam --lr 1e-3 --eps %g" % eps
    return model, opt, batches, loss_fn, flags, ["image"], ["logits"]


# gru_adam: one weight_hh element's first gradient cancels to ~5e-10 (float64),
# where float32 rounding leaves torch at -3.8e-10 and kiln at -7.2e-10; Adam's
# first step g / (|g| + eps) would turn that into a 3e-5 parameter difference
# with eps 1e-8, so this case uses eps 1e-6.
def lstm_adam_ragged():
    """lstm_adam with a run-time batch: 20 sequences in batches of at most 8."""
    model, opt, _, loss_fn, flags, ins, outs = seq_adam(torch.nn.LSTM)
    batches = ragged(20, 8, lambda n: torch.rand(n, 28, 28), lambda n: torch.randint(0, 10, (n,)))
    return model, opt, batches, loss_fn, flags + " --batch 8", ins, outs, {"dynamic": True}


CASES.update({"lstm_adam": lambda: seq_adam(torch.nn.LSTM),
              "gru_adam": lambda: seq_adam(torch.nn.GRU, eps=1e-6),
              "lstm2_bidir_adam": lambda: seq_adam(torch.nn.LSTM, cls=DeepSeqClassifier),
              "gru2_bidir_adam": lambda: seq_adam(torch.nn.GRU, eps=1e-6, cls=DeepSeqClassifier)})

def ragged(samples, batch, make_x, make_y):
    """Epochs over `samples` seeded samples in batches of `batch`, the last
    one short (50 in 16s: 16, 16, 16, 2), for STEPS steps."""
    x, y = make_x(samples), make_y(samples)
    starts = list(range(0, samples, batch))
    return [(x[s:s + batch], y[s:s + batch]) for k in range(STEPS)
            for s in [starts[k % len(starts)]]]


def mlp_adam_ragged():
    """mlp_adam with a run-time batch: 50 samples in batches of at most 16."""
    model, opt, _, loss_fn, flags, ins, outs = mlp_adam()
    batches = ragged(50, 16, lambda n: torch.rand(n, 1, 28, 28), lambda n: torch.randint(0, 10, (n,)))
    return model, opt, batches, loss_fn, flags + " --batch 16", ins, outs, {"dynamic": True}


def lenet_bn_sgd_ragged():
    """lenet_bn_sgd with a run-time batch: BatchNormalization's statistics
    and the loss's mean over the real rows only (20 samples, batches of 8)."""
    model, opt, _, loss_fn, flags, ins, outs, export = lenet_bn_sgd()
    batches = ragged(20, 8, lambda n: torch.rand(n, 1, 28, 28), lambda n: torch.randint(0, 10, (n,)))
    return model, opt, batches, loss_fn, flags + " --batch 8", ins, outs, dict(export, dynamic=True)


def mlp_mse_ragged():
    """mlp_sgd (kiln's attached MSE loss) with a run-time batch: 20 samples
    in batches of at most 8."""
    model, opt, _, loss_fn, flags, ins, outs = mlp_sgd()
    batches = ragged(20, 8, lambda n: torch.rand(n, 1, 28, 28), lambda n: torch.rand(n, 10))
    return model, opt, batches, loss_fn, flags + " --batch 8", ins, outs, {"dynamic": True}


def conv_misc_sgd_ragged():
    """conv_misc_sgd with a run-time batch (ConvTranspose, InstanceNorm,
    LayerNorm and their gradients): 10 samples in batches of at most 4."""
    model, opt, _, loss_fn, flags, ins, outs, export = conv_misc_sgd()
    batches = ragged(10, 4, lambda n: torch.rand(n, 4, 10, 10), lambda n: torch.randint(0, 10, (n,)))
    return model, opt, batches, loss_fn, flags + " --batch 4", ins, outs, dict(export, dynamic=True)


class WithMSE(torch.nn.Module):
    """The model computes its own loss: the mean squared error written out
    (the exporter has no mse_loss), a ReduceMean over every element, the
    batch axis included."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x, y):
        return ((self.net(x) - y) ** 2).mean()


def mse_inside_ragged():
    """--loss-output with a run-time batch: the ReduceMean over the batch
    and its gradient cover the real rows only (20 samples, batches of 8)."""
    model = WithMSE(MLP())
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    batches = ragged(20, 8, lambda n: torch.rand(n, 1, 28, 28), lambda n: torch.rand(n, 10))
    flags = "--train --loss-output loss --optimizer sgd --lr 0.05 --momentum 0.9 --batch 8"
    return (model, opt, batches, None, flags, ["image", "target"], ["loss"],
            {"dynamic": True, "loss_inside": True})


CASES.update({"mlp_adam_ragged": mlp_adam_ragged, "mse_inside_ragged": mse_inside_ragged, "conv_misc_sgd_ragged": conv_misc_sgd_ragged, "lenet_bn_sgd_ragged": lenet_bn_sgd_ragged,
              "mlp_mse_ragged": mlp_mse_ragged, "lstm_adam_ragged": lstm_adam_ragged})


def main(case, out):
    torch.manual_seed(0)
    spec = CASES[case]()
    model, opt, batches, loss_fn, flags, in_names, out_names = spec[:7]
    # optional export settings: "training" (a torch.onnx.TrainingMode), "opset", and
    # "buffers" (name suffixes of float buffers compared like parameters)
    export = spec[7] if len(spec) > 7 else {}
    os.makedirs(os.path.join(out, "params"), exist_ok=True)
    # (tracing in training mode updates BatchNorm's running statistics once; the model
    # file holds the updated ones, and torch trains on from them too)
    # "loss_inside": the model takes (x, y) and returns the loss (--loss-output)
    inside = export.get("loss_inside", False)
    dynamic = {name: {0: "batch"} for name in in_names + ([] if inside else out_names)}
    torch.onnx.export(model, batches[0] if inside else (batches[0][0],), os.path.join(out, "model.onnx"),
                      input_names=in_names, output_names=out_names,
                      dynamic_axes=dynamic if export.get("dynamic") else None,
                      opset_version=export.get("opset", 14), do_constant_folding=False,
                      training=export.get("training", torch.onnx.TrainingMode.PRESERVE))
    with open(os.path.join(out, "flags.txt"), "w") as f:
        f.write(flags + "\n")
    with open(os.path.join(out, "input_0.dims.json"), "w") as f:
        f.write(str(list(batches[0][0].shape)) + "\n")
    if export.get("dynamic"):
        with open(os.path.join(out, "batches.txt"), "w") as f:
            f.write("".join("%d\n" % len(x) for x, _ in batches))
    with open(os.path.join(out, "input_0.bin"), "wb") as fx, \
            open(os.path.join(out, "input_1.bin"), "wb") as fy:
        for x, y in batches:
            fx.write(x.numpy().astype(np.float32).tobytes())
            fy.write(y.numpy().astype(np.int64 if y.dtype == torch.int64 else np.float32).tobytes())
    losses = []
    model.train()
    for x, y in batches:
        opt.zero_grad()
        loss = model(x, y) if inside else loss_fn(model(x), y)
        losses.append(loss.item())
        loss.backward()
        opt.step()
    with open(os.path.join(out, "losses.txt"), "w") as f:
        f.write("".join("%.9g\n" % v for v in losses))
    for name, p in model.named_parameters():
        p.detach().numpy().astype(np.float32).tofile(os.path.join(out, "params", name + ".bin"))
    for name, b in model.named_buffers():
        if b.is_floating_point() and name.endswith(tuple(export.get("buffers", ()))):
            b.numpy().astype(np.float32).tofile(os.path.join(out, "params", name + ".bin"))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
