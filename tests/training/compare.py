#!/usr/bin/python3
"""Compares kiln's training run with torch's (torch_train.py):
  compare.py OUTDIR KILN_LOSSES
The loss at every step and every parameter after the last step must agree
within 1e-4 relative; prints the largest differences."""
import os
import sys

import numpy as np

RTOL = 1e-4
# Parameters near zero: a relative bound alone would demand more than float32
# rounding of the updates gives, so differences below 1e-6 absolute pass too.
ATOL = 1e-6


def read_params(path):
    """The table and payload of a kiln parameter file (runtime/kiln_params.h)."""
    data = open(path, "rb").read()
    assert data[:8] == b"KILNPRM1", "not a kiln parameter file"
    table_size, payload_size = (int.from_bytes(data[16 + 8 * i:24 + 8 * i], "little") for i in range(2))
    table = data[40:40 + table_size].decode()
    payload = data[40 + table_size:]
    assert len(payload) == payload_size
    params = {}
    for line in table.splitlines():
        name, dtype, dims, off = line.split(" ")
        shape = [] if dims == "scalar" else [int(d) for d in dims.split("x")]
        np_dtype = {1: np.float32, 7: np.int64, 11: np.float64}[int(dtype)]
        count = int(np.prod(shape)) if shape else 1
        params[name] = np.frombuffer(payload, np_dtype, count, int(off)).reshape(shape)
    return params


def main(out, kiln_losses):
    ok = True
    want = np.loadtxt(os.path.join(out, "losses.txt"))
    got = np.loadtxt(kiln_losses)
    rel = np.abs(got - want) / np.abs(want)
    print("losses: %d steps, max relative difference %.3g" % (len(want), rel.max()))
    if len(got) != len(want) or rel.max() > RTOL:
        print("FAIL: losses differ\n  torch %s\n  kiln  %s" % (want, got))
        ok = False
    params = read_params(os.path.join(out, "kiln_params.bin"))
    for name in sorted(os.listdir(os.path.join(out, "params"))):
        pname = name[:-4]
        ref = np.fromfile(os.path.join(out, "params", name), np.float32)
        mine = params[pname].astype(np.float32).ravel()
        diff = np.abs(mine - ref)
        bad = diff > RTOL * np.abs(ref) + ATOL
        print("param %-12s max abs diff %.3g, max rel diff %.3g%s" % (
            pname, diff.max(), (diff / np.maximum(np.abs(ref), 1e-12)).max(),
            "  FAIL: %d elements" % bad.sum() if bad.any() else ""))
        ok = ok and not bad.any()
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
