#!/usr/bin/env python3
"""layers.py KILN [DIR] — the specialised layer paths of the generated code
(batch-1 GEMV, 1x1 and depthwise convolutions, the conv backward kernels)
end to end: builds one small ONNX model per case with constant weights,
computes the expected outputs with PyTorch in float64 (an independent
reference), writes ONNX backend-test folders and runs `kiln verify` on them
for the x86-64-v3 and generic targets (DIR: also copy the cases there).
Prints kiln's lines; exits 1 on a failure."""
import os
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


def main():
    kiln = sys.argv[1]
    with tempfile.TemporaryDirectory() as root:
        gemv_cases(root)
        conv_transpose_cases(root)
        cases = sorted(os.path.join(root, c) for c in os.listdir(root))
        if len(sys.argv) > 2:  # --keep-in DIR: leave the cases there too
            subprocess.run(["cp", "-r", *cases, sys.argv[2]], check=True)
        failed = False
        for target in ["x86-64-v3", "generic"]:
            print(f"== --target {target}", flush=True)
            r = subprocess.run([kiln, "verify", *cases, "--target", target, "--rtol", "1e-4",
                                "--atol", "1e-5"])
            failed |= r.returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
