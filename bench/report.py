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


def layer_table(runs, peak2, peak, out, layers, baselines):
    """One row per (layer, implementation): time, GFLOPS, fractions of the
    peaks, and the speed relative to each baseline (its time / this time)."""
    impls = ("kiln", "kiln_generic") + tuple(b for b, _ in baselines)
    out.append("| layer | implementation | time | GFLOPS | of AVX2 peak | of machine peak | "
               + " | ".join("speed vs %s" % label for _, label in baselines) + " |")
    out.append("|---" * (6 + len(baselines)) + "|")
    for layer in layers:
        t = {impl: stat(runs, "%s/%s" % (layer, impl), "cpu_time") for impl in impls}
        for impl in impls:
            g = stat(runs, "%s/%s" % (layer, impl), "GFLOPS")
            if not g:
                continue
            vs = [("" if impl == b else ratio(t[b][0], t[impl][0])) if t[b] else "—"
                  for b, _ in baselines]
            out.append("| %s | %s | %s | %s | %s | %s | %s |" % (
                layer, impl, fmt_time(t[impl]), fmt_rate(g), ratio(g[0], peak2),
                ratio(g[0], peak), " | ".join(vs)))


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
    layer_table(runs, peak2[0], peak, out,
                ("gemm_256x256x256", "gemm_64x128x784", "fc_relu_784x128_b1"),
                (("openblas", "OpenBLAS"), ("blis", "BLIS")))
    out.append("\noneDNN: %s; XNNPACK: %s. Convolutions: kiln NCHW, oneDNN its own blocked "
               "layouts (format_tag_any), XNNPACK NHWC; only the convolution is timed.\n"
               % (ctx.get("onednn", "?"), ctx.get("xnnpack", "?")))
    layer_table(runs, peak2[0], peak, out,
                ("conv3x3_64x56x56_b1", "lenet_conv1_b64", "lenet_conv2_b64"),
                (("onednn", "oneDNN"), ("xnnpack", "XNNPACK")))
    t = stat(runs, "fc_relu_784x128_b1/kiln", "cpu_time")
    if t and l2:
        read_ns = WEIGHTS_FC1 / l2[0]  # GB/s = bytes per ns
        out.append("\nBatch-1 784→128 Gemm+ReLU: kiln takes %.2f× the time to read its %d KiB "
                   "of weights at the measured L2 bandwidth (%.2f µs; target ≤ 1.3×).\n"
                   % (t[0] / read_ns, WEIGHTS_FC1 // 1024, read_ns / 1e3))
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
           "(kiln's AVX2 kernels enable themselves)" % a.cc,
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
    section("Pass 2: AVX2 kernels where the library allows (OpenBLAS Haswell, BLIS zen3, "
            "oneDNN ONEDNN_MAX_CPU_ISA=AVX2; XNNPACK can't be pinned)", avx2_ctx, avx2, out)
    print("\n".join(out))


if __name__ == "__main__":
    main()
