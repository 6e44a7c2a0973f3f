#!/usr/bin/env python3
"""cast_saturate.py KILN — Cast from float to each integer type on the values
C leaves undefined (NaN, ±Inf, out of range) and on the edges around them,
through the generated kernel (`kiln run`, the value is an input) and through
constant folding (`--const-input`, the same value folded at compile time).
Both must follow kiln's documented rule (SECURITY.md): toward zero, saturating
at the type's limits, NaN to 0. The expected values are computed here from
that rule with Python's integers, not by kiln."""
import math, os, subprocess, sys, tempfile
import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto

kiln = sys.argv[1]
values = [math.nan, math.inf, -math.inf, 1e30, -1e30, 3.7, -3.7, -0.5, -1.0, 127.9, 128.0,
          -128.0, -129.0, 255.5, 256.0, 65535.5, 65536.0, 2147483520.0, 2147483648.0,
          -2147483648.0, 4294967040.0, 4294967296.0, 9.2233715e18, 9.223372e18 * 2, -9.223372e18 * 2]
x = np.array(values, dtype=np.float32)
types = {TensorProto.INT8: (8, True), TensorProto.INT16: (16, True), TensorProto.INT32: (32, True),
         TensorProto.INT64: (64, True), TensorProto.UINT8: (8, False), TensorProto.UINT16: (16, False),
         TensorProto.UINT32: (32, False), TensorProto.UINT64: (64, False)}

def rule(v, bits, signed):
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    if math.isnan(v):
        return 0
    if math.isinf(v):
        return hi if v > 0 else lo
    return max(lo, min(hi, math.trunc(v)))

fails = 0
with tempfile.TemporaryDirectory() as tmp:
    xpb = os.path.join(tmp, "x.pb")
    with open(xpb, "wb") as f:
        f.write(numpy_helper.from_array(x, "x").SerializeToString())
    for to, (bits, signed) in types.items():
        graph = helper.make_graph([helper.make_node("Cast", ["x"], ["y"], to=to)], "cast",
                                  [helper.make_tensor_value_info("x", TensorProto.FLOAT, [len(values)])],
                                  [helper.make_tensor_value_info("y", to, [len(values)])])
        model = os.path.join(tmp, "cast.onnx")
        onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), model)
        want = [rule(float(v), bits, signed) for v in x]
        for how, flag in (("kernel", "--input"), ("folded", "--const-input")):
            out = os.path.join(tmp, how)
            arg = xpb if flag == "--input" else "x=" + xpb
            r = subprocess.run([kiln, "run", model, flag, arg, "-o", out, "--quiet"],
                               capture_output=True, text=True)
            if r.returncode != 0:
                print("FAIL: %s to %s: kiln run: %s" % (how, TensorProto.DataType.Name(to), r.stderr.strip()))
                fails += 1
                continue
            got = numpy_helper.to_array(onnx.load_tensor(os.path.join(out, "output_0.pb"))).tolist()
            bad = [(float(v), g, w) for v, g, w in zip(x, got, want) if g != w]
            name = TensorProto.DataType.Name(to)
            if bad:
                fails += 1
                print("FAIL: %s Cast to %s: (input, got, want) %s" % (how, name, bad[:4]))
            else:
                print("ok: %s Cast to %s: %d values" % (how, name, len(want)))
print("%d failed" % fails)
sys.exit(1 if fails else 0)
