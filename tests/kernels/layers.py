#!/usr/bin/env python3
"""layers.py KILN [DIR] — the specialised layer paths of the generated code
(batch-1 GEMV, 1x1 and depthwise convolutions, the conv backward kernels)
end to end: builds one small ONNX model per case with constant weights,
computes the expected outputs with PyTorch in float64 (an independent
reference), writes ONNX backend-test folders and runs `kiln verify` on them
for every target this machine runs (x86-64-v3, x86-64-v4 where the CPU
has AVX-512, x86-64, generic; aarch64 under qemu when the cross compiler
and qemu-user-static are installed). DIR: also copy the cases there.
Prints kiln's lines; exits 1 on a failure."""
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

rng = np.random.default_rng(5)


def rand(*shape):
    return rng.uniform(-1, 1, shape).astype(np.float32)


def write_case(root, name, nodes, inputs, inits, outputs, expected):
    """One backend-test folder: model.onnx and test_data_set_0."""
    d = os.path.join(root, name)
    os.makedirs(os.path.join(d, "test_data_set_0"))
    vi = [helper.make_tensor_value_info(k, TensorProto.FLOAT, v.shape) for k, v in inputs]
    vo = [helper.make_tensor_value_info(k, TensorProto.FLOAT, v.shape)
          for k, v in zip(outputs, expected)]
    graph = helper.make_graph(nodes, name, vi, vo,
                              [numpy_helper.from_array(v, k) for k, v in inits])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.save(model, os.path.join(d, "model.onnx"))
    for i, (k, v) in enumerate(inputs):
        with open(os.path.join(d, "test_data_set_0", f"input_{i}.pb"), "wb") as f:
            f.write(numpy_helper.from_array(v, k).SerializeToString())
    for i, (k, v) in enumerate(zip(outputs, expected)):
        with open(os.path.join(d, "test_data_set_0", f"output_{i}.pb"), "wb") as f:
            f.write(numpy_helper.from_array(v.astype(np.float32), k).SerializeToString())


def t64(a):
    return torch.from_numpy(np.asarray(a, dtype=np.float64))


def gemv_cases(root):
    """Batch-1 Gemm / MatMul with a constant B: widths around the GEMV
    panels (64 / 16 columns, strips of 8 / 4), transB, bias shapes, alpha."""
    for n, k, tb, bias, alpha in [(128, 784, 1, "n", 1.0), (10, 128, 1, "n", 1.0),
                                  (130, 33, 0, "1", 0.5), (7, 5, 0, None, 1.0),
                                  (64, 200, 1, "1n", 2.0), (200, 64, 0, "n", 1.0)]:
        x, w = rand(1, k), rand(n, k) if tb else rand(k, n)
        ins, expect = [("w", w)], t64(x) @ (t64(w).T if tb else t64(w))
        args = ["x", "w"]
        if bias:
            shape = {"n": (n,), "1": (1,), "1n": (1, n)}[bias]
            b = rand(*shape)
            ins.append(("b", b))
            args.append("b")
            expect = alpha * expect + t64(b)
        else:
            expect = alpha * expect
        node = helper.make_node("Gemm", args, ["y"], transB=tb, alpha=alpha)
        write_case(root, f"gemv_gemm_{n}x{k}_tb{tb}_{bias}", [node], [("x", x)], ins, ["y"],
                   [expect.numpy()])
    for n, k, rank in [(96, 50, 1), (20, 300, 2), (16, 16, 3)]:
        x = rand(k) if rank == 1 else rand(*([1] * (rank - 1)), k)
        w = rand(k, n)
        node = helper.make_node("MatMul", ["x", "w"], ["y"])
        write_case(root, f"gemv_matmul_{n}x{k}_r{rank}", [node], [("x", x)], [("w", w)], ["y"],
                   [(t64(x) @ t64(w)).numpy()])


# An activation after the product, which the fusion passes fold into a
# FusedGemm / FusedMatMul / FusedConv epilogue: (ONNX op, attributes, the
# float64 reference).
ACTS = [("Relu", {}, lambda v: np.maximum(v, 0)),
        ("LeakyRelu", {"alpha": 0.2}, lambda v: np.where(v >= 0, v, 0.2 * v)),
        ("Clip", None, lambda v: np.clip(v, -0.5, 0.75)),
        ("Sigmoid", {}, lambda v: 1 / (1 + np.exp(-v))),
        ("Tanh", {}, np.tanh),
        ("HardSwish", {}, lambda v: v * np.clip(v / 6 + 0.5, 0, 1))]


def act_nodes(i, src, dst):
    """The nodes of activation ACTS[i] from src to dst, and Clip's bound
    initializers."""
    op, attrs, _ = ACTS[i]
    if op == "Clip":
        return ([helper.make_node("Clip", [src, "lo", "hi"], [dst])],
                [("lo", np.array(-0.5, np.float32)), ("hi", np.array(0.75, np.float32))])
    return [helper.make_node(op, [src], [dst], **attrs)], []


def gemv_act_cases(root):
    """Batch-1 Gemm and MatMul followed by each activation: the fused
    epilogue on the GEMV path (a tail panel too: N not a multiple of 64)."""
    for i, (op, _, ref) in enumerate(ACTS):
        n, k = (100, 96) if i % 2 else (64, 200)
        x, w, b = rand(1, k), rand(k, n), rand(n)
        nodes, extra = act_nodes(i, "t", "y")
        if i % 2:
            first = helper.make_node("Gemm", ["x", "w", "b"], ["t"])
            ins, pre = [("w", w), ("b", b)], t64(x) @ t64(w) + t64(b)
        else:
            first = helper.make_node("MatMul", ["x", "w"], ["t"])
            ins, pre = [("w", w)], t64(x) @ t64(w)
        write_case(root, f"gemv_{first.op_type.lower()}_{op.lower()}", [first] + nodes,
                   [("x", x)], ins + extra, ["y"], [ref(pre.numpy())])


def dwconv_act_cases(root):
    """Depthwise Conv followed by an activation (FusedConv on the depthwise
    path)."""
    for i in (0, 3, 5):
        op, _, ref = ACTS[i]
        x, w, b = rand(2, 8, 12, 12), rand(8, 1, 3, 3), rand(8)
        y = torch.nn.functional.conv2d(t64(x), t64(w), t64(b), padding=1, groups=8)
        conv = helper.make_node("Conv", ["x", "w", "b"], ["t"], kernel_shape=[3, 3],
                                pads=[1, 1, 1, 1], group=8)
        nodes, extra = act_nodes(i, "t", "y")
        write_case(root, f"conv_dw_{op.lower()}", [conv] + nodes, [("x", x)],
                   [("w", w), ("b", b)] + extra, ["y"], [ref(y.numpy())])


def conv_cases(root):
    """The Conv specialisations: 1x1 (stride 1, no padding: a plain GEMM on
    NCHW) in 2-D and 1-D, dense on narrow images (oc16), and depthwise (group = channels, multiplier 1 or
    2) with strides, padding and dilation."""
    for name, x_shape, w_shape, attrs, bias in [
            ("1x1", (2, 24, 9, 11), (40, 24, 1, 1), {}, True),
            ("1x1_1d", (3, 16, 50), (20, 16, 1), {}, False),
            ("1x1_strided", (1, 16, 12, 12), (20, 16, 1, 1), {"strides": [2, 2]}, True),
            ("dw3x3_p1", (2, 16, 14, 13), (16, 1, 3, 3), {"pads": [1, 1, 1, 1], "group": 16}, True),
            ("dw3x3_s2", (1, 8, 15, 16), (8, 1, 3, 3), {"pads": [1, 0, 1, 1], "strides": [2, 2],
                                                        "group": 8}, False),
            ("dw5x5_d2", (1, 6, 20, 21), (6, 1, 5, 5), {"pads": [4, 4, 4, 4], "dilations": [2, 2],
                                                        "group": 6}, True),
            ("dw_mult2", (2, 4, 10, 10), (8, 1, 3, 3), {"pads": [1, 1, 1, 1], "group": 4}, True),
            ("dw1d_k3", (2, 12, 40), (12, 1, 3), {"pads": [1, 1], "group": 12}, True),
            # dense, 16 output channels a vector on x86-64-v4 (narrow images):
            # edge tiles in both dims, two channel blocks, dilation, 1-D
            ("oc16_k5", (2, 6, 13, 12), (32, 6, 5, 5), {"pads": [1, 0, 1, 1]}, True),
            ("oc16_d2", (1, 4, 12, 11), (16, 4, 3, 3), {"dilations": [2, 2]}, False),
            ("oc16_1d", (2, 5, 20), (16, 5, 7), {}, True)]:
        x, w = rand(*x_shape), rand(*w_shape)
        ins, args = [("w", w)], ["x", "w"]
        b = rand(w_shape[0]) if bias else None
        if bias:
            ins.append(("b", b))
            args.append("b")
        nsp = len(x_shape) - 2
        pads = attrs.get("pads", [0] * 2 * nsp)
        xp = np.pad(np.float64(x), [(0, 0), (0, 0)] + [(pads[j], pads[nsp + j]) for j in range(nsp)])
        f = torch.nn.functional.conv1d if nsp == 1 else torch.nn.functional.conv2d
        y = f(t64(xp), t64(w), t64(b) if bias else None, stride=attrs.get("strides", 1),
              dilation=attrs.get("dilations", 1), groups=attrs.get("group", 1))
        node = helper.make_node("Conv", args, ["y"], kernel_shape=list(w_shape[2:]), **attrs)
        write_case(root, f"conv_{name}", [node], [("x", x)], ins, ["y"], [y.numpy()])


def conv_transpose_cases(root):
    """Stride-1 ConvTranspose (the conv input gradient's kernel), run as the
    flipped Conv on the implicit-GEMM path: pads, dilations, 1-D, an
    output_padding-free output_shape, bias or none."""
    for name, x_shape, w_shape, attrs, bias in [
            ("k5_p0", (2, 6, 10, 10), (6, 16, 5, 5), {}, True),
            ("k3_p1", (1, 8, 9, 7), (8, 5, 3, 3), {"pads": [1, 1, 1, 1]}, False),
            ("k3_d2_p2", (1, 4, 8, 8), (4, 9, 3, 3), {"pads": [2, 1, 2, 1],
                                                     "dilations": [2, 2]}, True),
            ("k5x3_p21", (2, 3, 12, 11), (3, 7, 5, 3), {"pads": [2, 1, 0, 1]}, True),
            ("1d_k4", (3, 8, 60), (8, 6, 4), {"pads": [3, 0]}, True)]:
        x, w = rand(*x_shape), rand(*w_shape)
        ins, args = [("w", w)], ["x", "w"]
        b = rand(w_shape[1]) if bias else None
        if bias:
            ins.append(("b", b))
            args.append("b")
        nsp = len(x_shape) - 2
        pads = attrs.get("pads", [0] * 2 * nsp)
        dil = attrs.get("dilations", [1] * nsp)
        tf = torch.nn.functional.conv_transpose1d if nsp == 1 else torch.nn.functional.conv_transpose2d
        full = tf(t64(x), t64(w), t64(b) if bias else None, dilation=dil)
        # ONNX pads cut pb from the start and pe from the end of every dim
        idx = tuple([slice(None), slice(None)] +
                    [slice(pads[j], full.shape[2 + j] - pads[nsp + j]) for j in range(nsp)])
        node = helper.make_node("ConvTranspose", args, ["y"], kernel_shape=list(w_shape[2:]),
                                **attrs)
        write_case(root, f"convtranspose_{name}", [node], [("x", x)], ins, ["y"],
                   [full[idx].numpy()])


def sigmoid(v):
    return 1 / (1 + np.exp(-v))


def rnn_forward_cases(root):
    """LSTM, GRU (linear_before_reset 0) and RNN with constant W, R, B,
    whose input projections of all steps run as one GEMM with W pre-packed
    (and for LSTM and RNN each step's H_{t-1} R^T as one GEMM with R
    pre-packed); expected Y from the ONNX equations in numpy float64."""
    T, B, I = 7, 5, 24
    for op, G, H in [("LSTM", 4, 16), ("GRU", 3, 16), ("RNN", 1, 32)]:
        x, w, r, b = rand(T, B, I), rand(1, G * H, I), rand(1, G * H, H), rand(1, 2 * G * H)
        X, W, R, Wb, Rb = (np.float64(v) for v in (x, w[0], r[0], b[0, :G * H], b[0, G * H:]))
        h, c, ys = np.zeros((B, H)), np.zeros((B, H)), []
        for t in range(T):
            if op == "RNN":
                h = np.tanh(X[t] @ W.T + h @ R.T + Wb + Rb)
            elif op == "LSTM":  # gates i o f c
                z = X[t] @ W.T + h @ R.T + Wb + Rb
                i, o, f, g = (z[:, k * H:(k + 1) * H] for k in range(4))
                c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
                h = sigmoid(o) * np.tanh(c)
            else:  # gates z r h
                xz = X[t] @ W.T + Wb
                hz = h @ R[:2 * H].T + Rb[:2 * H]
                zt = sigmoid(xz[:, :H] + hz[:, :H])
                rt = sigmoid(xz[:, H:2 * H] + hz[:, H:])
                ht = np.tanh(xz[:, 2 * H:] + (rt * h) @ R[2 * H:].T + Rb[2 * H:])
                h = (1 - zt) * ht + zt * h
            ys.append(h)
        node = helper.make_node(op, ["x", "w", "r", "b"], ["y"], hidden_size=H)
        write_case(root, f"{op.lower()}_const_weights", [node], [("x", x)],
                   [("w", w), ("r", r), ("b", b)], ["y"], [np.stack(ys)[:, None]])


# Recurrent backward in f32 (the GEMM path) against the same model in f64
# (the loop path, which tests/gradcheck checks against finite differences):
# one SGD step with lr 1 from the same parameters, so p0 - p1 is the
# gradient. Shapes big enough for the blocked GEMMs; X a parameter so dX
# flows too.
RNN_CASES = [
    ("gru_bidir_seqlens", "x[5,6,20] w[2,48,20] r[2,48,16] b[2,96]",
     '%ys, %yh = GRU(%x, %w, %r, %b, %sl) {hidden_size = 16, direction = "bidirectional"}'),
    ("lstm_peep_layout1", "x[6,5,20] w[2,64,20] r[2,64,16] b[2,128] p[2,48]",
     '%ys, %yh, %yc = LSTM(%x, %w, %r, %b, %sl, _, _, %p) {hidden_size = 16, layout = 1, '
     'direction = "bidirectional"}'),
    ("rnn_reverse", "x[5,6,20] w[1,16,20] r[1,16,16] b[1,32]",
     '%ys, %yh = RNN(%x, %w, %r, %b, %sl) {hidden_size = 16, direction = "reverse"}'),
    # without sequence_lens each step's recurrent products are one GEMM over the batch
    ("lstm_bidir_steps", "x[5,8,20] w[2,64,20] r[2,64,16] b[2,128]",
     '%ys, %yh, %yc = LSTM(%x, %w, %r, %b) {hidden_size = 16, direction = "bidirectional"}'),
    ("lstm_peep_layout1_steps", "x[8,5,20] w[1,64,20] r[1,64,16] b[1,128] p[1,48]",
     '%ys, %yh, %yc = LSTM(%x, %w, %r, %b, _, _, _, %p) {hidden_size = 16, layout = 1}'),
    ("gru_lbr_bidir_steps", "x[5,8,20] w[2,48,20] r[2,48,16] b[2,96]",
     '%ys, %yh = GRU(%x, %w, %r, %b) {hidden_size = 16, direction = "bidirectional", '
     'linear_before_reset = 1}'),
    ("gru_lbr_layout1_steps", "x[8,5,20] w[1,48,20] r[1,48,16] b[1,96]",
     '%ys, %yh = GRU(%x, %w, %r, %b) {hidden_size = 16, layout = 1, linear_before_reset = 1}'),
    ("rnn_reverse_steps", "x[5,8,20] w[1,32,20] r[1,32,32] b[1,64]",
     '%ys, %yh = RNN(%x, %w, %r, %b) {hidden_size = 32, direction = "reverse"}'),
]


def rnn_kir(name, params, node, dtype):
    lines = ['graph "%s" opset 14' % name]
    for spec in params.split():
        pname, dims = spec[:-1].split("[")
        shape = [int(d) for d in dims.split(",")]
        data = np.random.default_rng(len(pname) + len(name)).uniform(-0.5, 0.5, shape)
        data = data.astype(np.float32).ravel()  # exact in both f32 and f64
        lines.append("param %%%s : %s[%s] = [%s]" % (pname, dtype, ", ".join(map(str, shape)),
                                                     ", ".join(repr(float(v)) for v in data)))
    if "%sl" in node:
        lines.append("const %sl : i32[6] = [5, 3, 4, 5, 1, 2]")
    lines.append(node)
    lines.append("output %ys")
    return "\n".join(lines).replace("output %ys", "%y = Identity(%ys)\noutput %y") + "\n"


def rnn_grads(kiln, root, name, params, node, dtype):
    """The gradients (p0 - p1) after one SGD step of the case in dtype."""
    d = os.path.join(root, "%s_%s" % (name, dtype))
    os.makedirs(d)
    with open(os.path.join(d, "m.kir"), "w") as f:
        f.write(rnn_kir(name, params, node, dtype))
    subprocess.run([kiln, "compile", os.path.join(d, "m.kir"), "-o", os.path.join(d, "gen"),
                    "--prefix", "model", "--train", "--loss", "mse", "--loss-on", "y",
                    "--optimizer", "sgd", "--lr", "1"], check=True)
    src = os.path.dirname(os.path.abspath(__file__))
    harness = os.path.join(src, "..", "training", "train_harness.c")
    gen = os.path.join(d, "gen")
    cs = [os.path.join(gen, f) for f in os.listdir(gen) if f.endswith(".c")]
    subprocess.run(["cc", "-O2", "-std=c99", "-I", gen, *cs, harness, "-lm", "-o",
                    os.path.join(d, "train")], check=True)
    # labels: Y's T*D*B*H values (the same count in either layout)
    dims = {spec.split("[")[0]: [int(v) for v in spec[:-1].split("[")[1].split(",")]
            for spec in params.split()}
    count = dims["x"][0] * dims["x"][1] * dims["r"][0] * dims["r"][2]
    labels = np.random.default_rng(1).uniform(-1, 1, count)
    labels.astype(np.float32 if dtype == "f32" else np.float64).tofile(os.path.join(d, "l.bin"))
    if os.environ.get("LAYERS_SHOW_GEMM"):  # which products took the blocked path
        print(name, dtype, sum(open(f).read().count("for the whole batch") for f in cs))
    subprocess.run([os.path.join(d, "train"), "1", d, os.path.join(d, "l.bin")], check=True,
                   stdout=subprocess.DEVNULL)
    sys.path.insert(0, os.path.join(src, "..", "training"))
    import compare
    p1 = compare.read_params(os.path.join(d, "kiln_params.bin"))
    p0 = {}
    for spec in params.split():
        pname, dims = spec[:-1].split("[")
        shape = [int(v) for v in dims.split(",")]
        p0[pname] = np.random.default_rng(len(pname) + len(name)).uniform(
            -0.5, 0.5, shape).astype(np.float32).astype(np.float64)
    return {k: p0[k] - p1[k].astype(np.float64) for k in p0}


def rnn_backward_check(kiln, root):
    ok = True
    for name, params, node in RNN_CASES:
        g32 = rnn_grads(kiln, root, name, params, node, "f32")
        g64 = rnn_grads(kiln, root, name, params, node, "f64")
        worst = 0.0
        for k in g64:
            scale = np.abs(g64[k]).max()
            err = np.abs(g32[k] - g64[k]).max() / scale if scale else 0.0
            worst = max(worst, err)
        # f32 gradients of a 5-6 step recurrence: ~1e-6 relative to the largest
        status = "PASS" if worst < 1e-4 else "FAIL"
        ok &= status == "PASS"
        print("%s rnn backward f32 vs f64 %s: max error %.2g of the largest gradient"
              % (status, name, worst), flush=True)
    return ok


def targets():
    """(target, extra kiln verify arguments) for every target this machine
    can run, natively or under qemu."""
    out = [("x86-64-v3", []), ("x86-64", []), ("generic", [])]
    with open("/proc/cpuinfo") as f:
        if " avx512f" in f.read():
            out.insert(1, ("x86-64-v4", []))
    if shutil.which("aarch64-linux-gnu-gcc") and shutil.which("qemu-aarch64-static"):
        out.append(("aarch64", ["--cc", "aarch64-linux-gnu-gcc", "--emulator",
                                "qemu-aarch64-static -L /usr/aarch64-linux-gnu"]))
    return out


def main():
    kiln = sys.argv[1]
    with tempfile.TemporaryDirectory() as root:
        gemv_cases(root)
        gemv_act_cases(root)
        conv_cases(root)
        dwconv_act_cases(root)
        conv_transpose_cases(root)
        rnn_forward_cases(root)
        cases = sorted(os.path.join(root, c) for c in os.listdir(root))
        if len(sys.argv) > 2:  # --keep-in DIR: leave the cases there too
            subprocess.run(["cp", "-r", *cases, sys.argv[2]], check=True)
        failed = False
        for target, extra in targets():
            print(f"== --target {target}", flush=True)
            r = subprocess.run([kiln, "verify", *cases, "--target", target, "--rtol", "1e-4",
                                "--atol", "1e-5", *extra])
            failed |= r.returncode != 0
        failed |= not rnn_backward_check(kiln, root)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
