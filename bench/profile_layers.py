#!/usr/bin/python3
"""profile_layers.py — where a layer's instructions go (bench/run.sh pass 4).

Each bench model (bench/models/NAME.kir) is compiled by kiln for x86-64-v3
(valgrind 3.19 has no AVX-512, so the v4 kernels can't run under it; the
packing and im2col code is the same for both), built with a small driver and
run under `valgrind --tool=callgrind` twice, with 1 and with 1 + CALLS calls
of the model; the difference, divided by CALLS, is one call's instructions
without the driver and the set-up. They are split by the source file that
callgrind attributes them to (inlined code keeps its own file):
  micro-kernel  templates/kiln_gemm_avx2.h, kiln_gemv.h and the compiler's
                intrinsics headers (the FMAs, loads and broadcasts)
  packing       templates/kiln_gemm.h: operand packing, im2col gathering,
                the epilogue of edge tiles
  copies        libc's memcpy/memmove/memset
  other         everything else (the generated loops themselves)
Writes one JSON object {name: {"ir": per call, "fma": 8-lane FMAs needed,
shares...}} to --out. Instruction counts are repeatable whatever the load.

  /usr/bin/python3 bench/profile_layers.py --kiln build/kiln --out prof.json
      [--work DIR] [MODEL...]
"""
import argparse
import json
import os
import re
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = ["gemm_256", "gemm_mlp64", "conv3x3_64", "lenet_conv1", "lenet_conv2"]
CALLS = 4

DRIVER = r"""
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include "m.h"
/* Runs the model 1 + (argv[1]) times on fixed inputs. */
int main(int argc, char **argv)
{
    int calls = 1 + atoi(argv[1]);
    void *ins[16], *outs[16];
    for (int i = 0; i < m_info.num_inputs; i++) {
        size_t n = 1;
        for (int d = 0; d < m_info.inputs[i].rank; d++)
            n *= (size_t)m_info.inputs[i].dims[d];
        float *x = malloc(n * sizeof *x);
        for (size_t j = 0; j < n; j++)
            x[j] = (float)(j % 17) * 0.0625f - 0.5f;
        ins[i] = x;
    }
    for (int i = 0; i < m_info.num_outputs; i++) {
        size_t n = 1;
        for (int d = 0; d < m_info.outputs[i].rank; d++)
            n *= (size_t)m_info.outputs[i].dims[d];
        outs[i] = malloc(n * sizeof(float));
    }
    void *ws = malloc(m_WORKSPACE_SIZE);
    if (!ws || m_init(ws) != 0)
        return 1;
    for (int c = 0; c < calls; c++)
        if (m_run_v(ws, (const void *const *)ins, outs) != 0)
            return 1;
    printf("%g\n", (double)((float *)outs[0])[0]);
    return 0;
}
"""


def flops_of(kiln, model):
    """The model's FLOPs, from kiln compile --stats (the total line)."""
    out = subprocess.run([kiln, "compile", model, "--stats", "-o", tempfile.mkdtemp()],
                         capture_output=True, text=True, check=True).stdout
    m = re.search(r"total[^\n]*?([\d,]+) FLOPs", out) or re.search(r"([\d,]+) FLOPs", out)
    return int(m.group(1).replace(",", "")) if m else 0


def callgrind(exe, calls, work):
    """{source file: instructions} of one run under callgrind."""
    out = os.path.join(work, "cg.%d" % calls)
    subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out, exe,
                    str(calls)], capture_output=True, check=True)
    text = subprocess.run(["callgrind_annotate", "--inclusive=no", "--threshold=100", out],
                          capture_output=True, text=True, check=True).stdout
    per = {}
    for line in text.splitlines():
        m = re.match(r"\s*([\d,]+) \([ \d.]+%\)\s+(\S+?):(\S+)", line)
        if m and m.group(2) != "PROGRAM":
            key = os.path.basename(m.group(2)), m.group(3)
            per[key] = per.get(key, 0) + int(m.group(1).replace(",", ""))
    return per


def category(path, func):
    if path.endswith("intrin.h") or path in ("kiln_gemm_avx2.h", "kiln_gemv.h"):
        return "micro-kernel"
    if path == "kiln_gemm.h":
        return "packing"
    if re.search(r"mem(cpy|move|set)", func) or re.search(r"mem(move|set)", path):
        return "copies"
    return "other"


def profile(kiln, name, work):
    d = os.path.join(work, name)
    model = os.path.join(HERE, "models", name + ".kir")
    subprocess.run([kiln, "compile", model, "-o", d, "--prefix", "m", "--target", "x86-64-v3",
                    "--quiet"], check=True)
    with open(os.path.join(d, "driver.c"), "w") as f:
        f.write(DRIVER)
    exe = os.path.join(d, "drv")
    subprocess.run(["cc", "-O2", "-g", "-std=c99", "-I", d, os.path.join(d, "m.c"),
                    os.path.join(d, "driver.c"), "-o", exe, "-lm"], check=True)
    one, more = callgrind(exe, 0, d), callgrind(exe, CALLS, d)
    shares = {}
    for key in set(one) | set(more):
        diff = (more.get(key, 0) - one.get(key, 0)) / CALLS
        c = category(*key)
        shares[c] = shares.get(c, 0) + diff
    total = sum(shares.values())
    flops = flops_of(kiln, model)
    return {"ir": total, "fma": flops / 16,
            "shares": {c: v / total for c, v in shares.items() if total}}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kiln", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--work", default=None)
    ap.add_argument("models", nargs="*", default=MODELS)
    a = ap.parse_args()
    work = a.work or tempfile.mkdtemp(prefix="kiln-prof-")
    res = {name: profile(a.kiln, name, work) for name in a.models}
    with open(a.out, "w") as f:
        json.dump(res, f, indent=1)
    for name, r in res.items():
        print("%-12s %12.0f instr/call  %.2f per 8-lane FMA  %s" % (
            name, r["ir"], r["ir"] / r["fma"] if r["fma"] else 0,
            ", ".join("%s %.0f%%" % (c, 100 * v) for c, v in sorted(r["shares"].items()))))


if __name__ == "__main__":
    main()
