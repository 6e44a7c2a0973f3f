#!/usr/bin/env python3
"""whole.py — whole-model benchmarks for bench/run.sh: kiln against PyTorch
(eager, no_grad, torch.set_num_threads(1)) and onnxruntime (npm
onnxruntime-node, intraOpNumThreads 1), single-threaded, in one run.

The models (MLP 784-128-10, LeNet-5, an LSTM sequence classifier) are built
in torch and exported to ONNX into OUT/; kiln compiles each one, and the
generated C is built into a shared library (with bench/kiln_loop.c) that
this process loads with ctypes, so kiln's and torch's calls alternate in one
process. onnxruntime runs in a Node.js co-process (bench/ort_server.js) that
this script drives over a pipe, so its samples alternate with the others too.
Each sample times a loop of calls (kiln: the loop runs in C; torch and
onnxruntime: their own per-call paths) and divides. Times are CPU time (of
the calling thread; onnxruntime: of its whole single-session process), as
in kiln_bench: the machine is shared, and wall time would also count the
time other processes held the core. Every implementation's
outputs are checked against torch's before anything is timed, and each
training step's first losses against torch's.

Writes OUT/whole.json: per case and implementation the per-call times (ns)
of every repetition; bench/report.py turns it into tables and the chart."""
import argparse
import ctypes
import json
import os
import random
import re
import subprocess
import sys
import time
import warnings

import numpy as np
import torch
import torch.nn as nn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# ---- the models ----

class MLP(nn.Module):
    """784 -> 128 (ReLU) -> 10 logits; input [N, 784]."""

    def __init__(self):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(784, 128), nn.Linear(128, 10)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x)))


class LeNet5(nn.Module):
    """LeNet-5 with ReLU and max pooling; input [N, 1, 28, 28]."""

    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(1, 6, 5, padding=2), nn.Conv2d(6, 16, 5)
        self.fc1, self.fc2, self.fc3 = nn.Linear(400, 120), nn.Linear(120, 84), nn.Linear(84, 10)

    def forward(self, x):
        x = torch.max_pool2d(torch.relu(self.conv1(x)), 2)
        x = torch.max_pool2d(torch.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        return self.fc3(torch.relu(self.fc2(torch.relu(self.fc1(x)))))


class LSTMClassifier(nn.Module):
    """Each 28x28 image as 28 steps of 28 features: LSTM(128), the last
    hidden state, Linear(128 -> 10); input [N, 28, 28]."""

    def __init__(self):
        super().__init__()
        self.lstm, self.fc = nn.LSTM(28, 128, batch_first=True), nn.Linear(128, 10)

    def forward(self, x):
        _, (h, _) = self.lstm(x)
        return self.fc(h[-1])


MODELS = {"mlp": (MLP, (784,)), "lenet5": (LeNet5, (1, 28, 28)), "lstm": (LSTMClassifier, (28, 28))}
INFER = [("mlp", 1), ("mlp", 64), ("lenet5", 1), ("lenet5", 64), ("lstm", 1), ("lstm", 64)]
TRAIN = [("mlp", 64), ("lenet5", 64)]


def export(model, shape, path):
    with warnings.catch_warnings():  # the exporter's notes on LSTM batch sizes and shapes
        warnings.simplefilter("ignore")
        torch.onnx.export(model, torch.zeros(shape), path, input_names=["x"],
                          output_names=["logits"], opset_version=14)


def export_one_node(path):
    """A model of one Relu on a [1] tensor: onnxruntime's fixed per-call cost."""
    import onnx
    from onnx import TensorProto, helper
    g = helper.make_graph([helper.make_node("Relu", ["x"], ["logits"])], "one_node",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                          [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1])])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 14)]), path)


# ---- kiln through ctypes ----

class Kiln:
    """A kiln-compiled model in a shared library: run(x) or step(x, labels)."""

    def __init__(self, kiln, onnx_path, out, name, train):
        gen = os.path.join(out, name)
        cmd = [kiln, "compile", onnx_path, "-o", gen, "--prefix", "model", "--quiet", "--stats"]
        if train:
            cmd += ["--train", "--loss", "sparse_softmax_ce", "--loss-on", "logits",
                    "--optimizer", "adam"]
        stats = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        # per entry (inference, then the training step): the planned tensors'
        # bytes and their liveness lower bound, from --stats
        self.workspace = [[int(w.replace(",", "")) for w in m.groups()] for m in re.finditer(
            r"^workspace: ([\d,]+) bytes.*lower bound ([\d,]+)", stats, re.M)]
        so = os.path.join(out, name + ".so")
        subprocess.run(["cc", "-O2", "-std=c99", "-shared", "-fPIC", "-I", gen,
                        os.path.join(gen, "model.c"), os.path.join(ROOT, "bench", "kiln_loop.c"),
                        "-o", so, "-lm"] + (["-DKILN_LOOP_TRAIN"] if train else []), check=True)
        self.lib = ctypes.CDLL(so)
        self.lib.bench_workspace_size.restype = ctypes.c_size_t
        self.lib.bench_loop.restype = ctypes.c_double
        self.lib.bench_loop.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int]
        size = self.lib.bench_workspace_size()
        self.ws_buf = np.zeros(size + 64, dtype=np.uint8)
        off = (-self.ws_buf.ctypes.data) % 64
        self.ws = ctypes.c_void_p(self.ws_buf.ctypes.data + off)
        if self.lib.bench_init(self.ws) != 0:
            raise RuntimeError("%s: model_init failed" % name)

    @staticmethod
    def _ptrs(arrays):
        return (ctypes.c_void_p * len(arrays))(*[a.ctypes.data for a in arrays])

    def bind(self, inputs, outputs):
        self.ins = ctypes.cast(self._ptrs(inputs), ctypes.c_void_p)
        self.outs = ctypes.cast(self._ptrs(outputs), ctypes.c_void_p)
        self.keep = (inputs, outputs)

    def loop(self, n):
        """n calls in C; returns ns per call."""
        t = self.lib.bench_loop(self.ws, self.ins, self.outs, n)
        if t < 0:
            raise RuntimeError("a kiln call failed")
        return t / n


# ---- onnxruntime in a Node.js co-process ----

class Ort:
    def __init__(self, ort_dir):
        env = dict(os.environ, NODE_PATH=os.path.join(ort_dir, "node_modules"))
        self.p = subprocess.Popen(["node", os.path.join(ROOT, "bench", "ort_server.js")],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        self.ask("ping")

    def ask(self, line):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()
        reply = self.p.stdout.readline().strip()
        if not reply.startswith("ok"):
            raise RuntimeError("ort_server: %s -> %s" % (line, reply or "(died)"))
        return reply[3:]

    def load(self, name, path, shape, data_path, out_path):
        self.ask("load %s %s %s %s %s" % (name, path, "x".join(map(str, shape)), data_path, out_path))

    def loop(self, name, n):
        return float(self.ask("run %s %d" % (name, n)))

    def close(self):
        self.p.stdin.close()
        self.p.wait()


def torch_loop(fn, n):
    """n calls; this thread's CPU time per call (torch runs single-threaded
    in the calling thread)."""
    t0 = time.thread_time_ns()
    for _ in range(n):
        fn()
    return (time.thread_time_ns() - t0) / n


def calibrate(loop, target_s):
    """Calls per sample so that one sample takes about target_s."""
    loop(3)
    n = 1
    while True:
        t = loop(n) * n * 1e-9
        if t >= target_s / 4 or n >= 1 << 20:
            return max(1, int(n * target_s / max(t, 1e-9)))
        n *= 4


def check(name, got, want, tol):
    err = float(np.max(np.abs(got - want)))
    scale = float(np.max(np.abs(want)))
    if not err <= tol * max(1.0, scale):
        sys.exit("whole.py: %s differs from torch by %g (tolerance %g)" % (name, err, tol))
    return err


def setup_inference(args, ort, cases, checks, workspace):
    """Per (model, batch): kiln, torch and onnxruntime loops, checked first."""
    for mname, batch in INFER:
        cls, shape = MODELS[mname]
        torch.manual_seed(0)
        model = cls().eval()
        x = torch.rand((batch,) + shape)
        name = "%s_b%d" % (mname, batch)
        path = os.path.join(args.out, name + ".onnx")
        export(model, x.shape, path)
        with torch.no_grad():
            want = model(x).numpy()
        k = Kiln(args.kiln, path, args.out, name, False)
        xk, yk = np.ascontiguousarray(x.numpy()), np.zeros(want.shape, dtype=np.float32)
        k.bind([xk], [yk])
        k.loop(1)
        checks[name + "/kiln"] = check(name + " kiln", yk, want, 1e-4)
        workspace[name] = k.workspace[0]
        impls = {"kiln": k.loop}

        def run_torch(model=model, x=x):
            with torch.no_grad():
                return model(x)
        impls["torch"] = lambda n, f=run_torch: torch_loop(f, n)
        if ort:
            xin, yout = os.path.join(args.out, name + ".in"), os.path.join(args.out, name + ".ort")
            xk.tofile(xin)
            ort.load(name, path, x.shape, xin, yout)
            got = np.fromfile(yout, dtype=np.float32).reshape(want.shape)
            checks[name + "/onnxruntime"] = check(name + " onnxruntime", got, want, 1e-4)
            impls["onnxruntime"] = lambda n, name=name: ort.loop(name, n)
        cases.append({"kind": "inference", "model": mname, "batch": batch, "impls": impls})


def setup_training(args, cases, checks, workspace):
    """Per model: one training step (forward, backward, Adam) in kiln and torch,
    from the same weights on the same batch; the first 3 losses must agree."""
    for mname, batch in TRAIN:
        cls, shape = MODELS[mname]
        torch.manual_seed(0)
        model = cls().train()
        x = torch.rand((batch,) + shape)
        labels = torch.randint(0, 10, (batch,))
        name = "%s_train_b%d" % (mname, batch)
        path = os.path.join(args.out, name + ".onnx")
        export(model, x.shape, path)
        k = Kiln(args.kiln, path, args.out, name, True)
        workspace[name] = k.workspace[-1]
        xk, lk = np.ascontiguousarray(x.numpy()), labels.numpy().astype(np.int64)
        loss = np.zeros(1, dtype=np.float32)
        k.bind([xk, lk], [loss])
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        crit = nn.CrossEntropyLoss()

        def step(model=model, x=x, labels=labels, opt=opt, crit=crit):
            opt.zero_grad(set_to_none=True)
            out = crit(model(x), labels)
            out.backward()
            opt.step()
            return out
        for s in range(3):
            want = float(step())
            k.loop(1)
            checks["%s/step%d" % (name, s)] = check("%s step %d loss" % (name, s), loss,
                                                    np.float32(want), 1e-4)
        impls = {"kiln": k.loop, "torch": lambda n, f=step: torch_loop(f, n)}
        cases.append({"kind": "train", "model": mname, "batch": batch, "impls": impls})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kiln", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--ort", help="folder with node_modules/onnxruntime-node (build/ort)")
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--min-time", type=float, default=0.02, help="seconds per sample")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(1)
    ort = None
    if args.ort and os.path.isdir(os.path.join(args.ort, "node_modules", "onnxruntime-node")):
        ort = Ort(args.ort)
    else:
        print("whole.py: onnxruntime-node not found (scripts/setup.sh installs it into build/ort); "
              "skipped", file=sys.stderr)
    cases, checks, workspace = [], {}, {}
    setup_inference(args, ort, cases, checks, workspace)
    setup_training(args, cases, checks, workspace)
    if ort:
        one = os.path.join(args.out, "one_node.onnx")
        export_one_node(one)
        xin = os.path.join(args.out, "one_node.in")
        np.zeros(1, dtype=np.float32).tofile(xin)
        ort.load("one_node", one, (1,), xin, os.path.join(args.out, "one_node.ort"))
        cases.append({"kind": "overhead", "model": "one_node", "batch": 1,
                      "impls": {"onnxruntime": lambda n: ort.loop("one_node", n)}})
    # calibrate every loop, then interleave: each repetition visits the
    # cases and their implementations in a fresh random order
    calls = {(i, impl): calibrate(f, args.min_time)
             for i, c in enumerate(cases) for impl, f in c["impls"].items()}
    samples = {key: [] for key in calls}
    rng = random.Random(1)
    for _ in range(args.reps):
        keys = list(calls)
        rng.shuffle(keys)
        for i, impl in keys:
            samples[(i, impl)].append(cases[i]["impls"][impl](calls[(i, impl)]))
    if ort:
        ort.close()
    doc = {"reps": args.reps, "min_time": args.min_time, "torch": torch.__version__,
           "max_abs_diff_vs_torch": checks, "workspace_and_lower_bound": workspace, "cases": []}
    for i, c in enumerate(cases):
        doc["cases"].append({"kind": c["kind"], "model": c["model"], "batch": c["batch"],
                             "ns": {impl: samples[(i, impl)] for impl in c["impls"]},
                             "calls_per_sample": {impl: calls[(i, impl)] for impl in c["impls"]}})
    with open(os.path.join(args.out, "whole.json"), "w") as f:
        json.dump(doc, f, indent=1)


if __name__ == "__main__":
    main()
