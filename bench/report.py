#!/usr/bin/env python3
"""report.py — turns the two JSON outputs of kiln_bench (bench/run.sh) into
bench/RESULTS.md: the machine, the date, per benchmark the median and
min-max over the interleaved repetitions, and the ratios the targets of
issue 5 are stated in (to the FMA peak, to OpenBLAS, to BLIS, to the L2
read time of the weights). Times are per-thread CPU times: the machine is
shared, and wall time also counts the time other processes held the core."""
import argparse
import datetime
import json
import platform
import statistics
import subprocess

WEIGHTS_FC1 = 784 * 128 * 4  # bytes of the batch-1 layer's weights
# kiln's targets (bench/bench.cc): x86-64-v3, x86-64-v4, x86-64, generic
IMPLS = ("kiln", "kiln_v4", "kiln_sse2", "kiln_generic", "openblas", "blis")


def load(path):
    with open(path) as f:
        doc = json.load(f)
    runs = {}
    for b in doc["benchmarks"]:
        if b.get("run_type") != "iteration" or b.get("error_occurred"):
            continue
        runs.setdefault(b["run_name"], []).append(b)
    return doc["context"], runs


def stat(runs, name, key):
    """(median, min, max) of key over the repetitions of name, or None."""
    vals = [r[key] for r in runs.get(name, [])]
    if not vals:
        return None
    return statistics.median(vals), min(vals), max(vals)


def fmt_time(s):
    return "%.1f µs (%.1f–%.1f)" % (s[0] / 1e3, s[1] / 1e3, s[2] / 1e3) if s else "—"


def fmt_rate(s):
    return "%.1f (%.1f–%.1f)" % s if s else "—"


def ratio(a, b):
    return "%.2f" % (a / b) if a and b else "—"


def machine():
    lines = subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines()
    info = {}
    for line in lines:
        k, _, v = line.partition(":")
        info[k.strip()] = v.strip()
    flags = info.get("Flags", "").split()
    isa = ", ".join(f for f in ("avx2", "fma", "avx512f") if f in flags)
    return ("%s, %s cores; L1d %s, L2 %s, L3 %s (totals over the cores); %s; Linux %s"
            % (info.get("Model name", "?"), info.get("CPU(s)", "?"), info.get("L1d cache", "?"),
               info.get("L2 cache", "?"), info.get("L3 cache", "?"), isa, platform.release()))


def section(title, ctx, runs, out):
    peak2 = stat(runs, "probe/fma_peak", "GFLOPS")
    peak512 = stat(runs, "probe/fma_peak_avx512", "GFLOPS")
    l2 = stat(runs, "probe/l2_read", "GBps")
    peak = max(p[0] for p in (peak2, peak512) if p)
    out.append("## %s\n" % title)
    out.append("OpenBLAS: %s; BLIS: %s.\n" % (ctx.get("openblas", "?"), ctx.get("blis", "?")))
    out.append("| probe | median (min–max) |")
    out.append("|---|---|")
    out.append("| FMA peak, AVX2 (GFLOPS) | %s |" % fmt_rate(peak2))
    if peak512:
        out.append("| FMA peak, AVX-512 (GFLOPS) | %s |" % fmt_rate(peak512))
    out.append("| L2 read, 256 KiB (GB/s) | %s |\n" % fmt_rate(l2))
    out.append("| layer | implementation | time | GFLOPS | of AVX2 peak | of machine peak "
               "| speed vs OpenBLAS | speed vs BLIS |")
    out.append("|---|---|---|---|---|---|---|---|")
    for layer in ("gemm_256x256x256", "gemm_64x128x784", "fc_relu_784x128_b1",
                  "conv3x3_64x56x56_b1"):
        t = {impl: stat(runs, "%s/%s" % (layer, impl), "cpu_time") for impl in IMPLS}
        for impl in IMPLS:
            g = stat(runs, "%s/%s" % (layer, impl), "GFLOPS")
            if not g:
                continue
            vs_ob = ratio(t["openblas"][0], t[impl][0]) if impl != "openblas" and t["openblas"] else ""
            vs_bl = ratio(t["blis"][0], t[impl][0]) if impl != "blis" and t["blis"] else ""
            vs_ob = vs_ob if t["openblas"] else "—"
            vs_bl = vs_bl if t["blis"] else "—"
            out.append("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
                layer, impl, fmt_time(t[impl]), fmt_rate(g), ratio(g[0], peak2[0]),
                ratio(g[0], peak), vs_ob, vs_bl))
    out.append("")
    for impl, target in (("kiln", "x86-64-v3"), ("kiln_v4", "x86-64-v4")):
        t = stat(runs, "fc_relu_784x128_b1/" + impl, "cpu_time")
        if t and l2:
            read_ns = WEIGHTS_FC1 / l2[0]  # GB/s = bytes per ns
            out.append("- Batch-1 784→128 Gemm+ReLU: kiln (%s) takes %.2f× the time to read "
                       "its %d KiB of weights at the measured L2 bandwidth (%.2f µs; target "
                       "≤ 1.3×)." % (target, t[0] / read_ns, WEIGHTS_FC1 // 1024, read_ns / 1e3))
    out.append("")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--best", required=True)
    ap.add_argument("--avx2", required=True)
    ap.add_argument("--load", nargs=2, default=["?", "?"])
    ap.add_argument("--cc", default="?")
    ap.add_argument("--reps", default="?")
    a = ap.parse_args()
    best_ctx, best = load(a.best)
    avx2_ctx, avx2 = load(a.avx2)
    out = ["# kiln benchmark results\n",
           "Written by `bench/run.sh` (bench/report.py); do not edit by hand.\n",
           "- Date: %s" % datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
           "- Machine: %s" % machine(),
           "- Compiler for the generated C: %s, `-O2 -std=c99`, no `-march` "
           "(kiln's AVX2 and AVX-512 kernels enable themselves)" % a.cc,
           "- kiln rows by target: `kiln` x86-64-v3 (AVX2+FMA), `kiln_v4` x86-64-v4 "
           "(AVX-512F), `kiln_sse2` x86-64 (SSE2), `kiln_generic` plain C99",
           "- Single-threaded; %s interleaved repetitions per benchmark (Google Benchmark "
           "`--benchmark_enable_random_interleaving`); medians with min–max; times are "
           "per-thread CPU time." % a.reps,
           "- The machine is shared with other engineers' builds (load average %s before, "
           "%s after on 2 cores): absolute numbers are noisy, compare the ratios, which are "
           "measured side by side in one run." % (a.load[0], a.load[1]),
           "- kiln's weights are pre-packed at compile time; the BLAS libraries pack theirs "
           "on every call, as a framework calling them does. Batch-1 BLAS numbers use sgemv "
           "plus a bias+ReLU loop.\n"]
    section("Pass 1: each library's own kernels for this CPU", best_ctx, best, out)
    section("Pass 2: AVX2 kernels everywhere (OpenBLAS Haswell, BLIS zen3)", avx2_ctx, avx2, out)
    print("\n".join(out))


if __name__ == "__main__":
    main()
