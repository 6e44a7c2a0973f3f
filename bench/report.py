#!/usr/bin/env python3
"""report.py — turns the two JSON outputs of kiln_bench and the whole-model
JSON of bench/whole.py (bench/run.sh) into bench/RESULTS.md: the machine,
the date, per benchmark the median and min-max over the interleaved
repetitions, and the ratios the targets of issue 5 are stated in (to the FMA
peak, to OpenBLAS, BLIS, oneDNN, XNNPACK, PyTorch and onnxruntime, to the L2
read time of the weights), plus the data of the ratio chart (bench/ratios.gp). Times are per-thread CPU times: the machine is
shared, and wall time also counts the time other processes held the core."""
import argparse
import datetime
import json
import platform
import statistics
import subprocess

WEIGHTS_FC1 = 784 * 128 * 4  # bytes of the batch-1 layer's weights
# kiln's targets (bench/bench.cc): x86-64-v3, x86-64-v4, x86-64, generic
KILN_IMPLS = ("kiln", "kiln_v4", "kiln_sse2", "kiln_generic")  # x86-64-v3, -v4, x86-64, generic


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
    impls = KILN_IMPLS + tuple(b for b, _ in baselines)
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
            label = runs["%s/%s" % (layer, impl)][0].get("label")  # oneDNN's chosen kernel
            out.append("| %s | %s | %s | %s | %s | %s | %s |" % (
                layer, "%s (%s)" % (impl, label) if label else impl, fmt_time(t[impl]),
                fmt_rate(g), ratio(g[0], peak2),
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
    out.append("Targets: faster than oneDNN and XNNPACK on every shape; the dense 3×3 "
               "convolution at ≥ 0.70 of the AVX2 peak.\n")
    layer_table(runs, peak2[0], peak, out,
                ("conv3x3_64x56x56_b1", "lenet_conv1_b64", "lenet_conv2_b64"),
                (("onednn", "oneDNN"), ("xnnpack", "XNNPACK")))
    out.append("\nkiln's convolution specialisations on the same image: 1×1 (a plain GEMM on "
               "NCHW) and depthwise 3×3 (FLOPs: 9 multiply-adds per output).\n")
    layer_table(runs, peak2[0], peak, out, ("conv1x1_64x56x56_b1", "dwconv3x3_64x56x56_b1"), ())
    out.append("")
    for impl, target in (("kiln", "x86-64-v3"), ("kiln_v4", "x86-64-v4")):
        t = stat(runs, "fc_relu_784x128_b1/" + impl, "cpu_time")
        if t and l2:
            read_ns = WEIGHTS_FC1 / l2[0]  # GB/s = bytes per ns
            out.append("- Batch-1 784→128 Gemm+ReLU: kiln (%s) takes %.2f× the time to read "
                       "its %d KiB of weights at the measured L2 bandwidth (%.2f µs; target "
                       "≤ 1.3×)." % (target, t[0] / read_ns, WEIGHTS_FC1 // 1024, read_ns / 1e3))
    out.append("")


def med_range(ns):
    """(median, min, max) of a list of ns, or None."""
    return (statistics.median(ns), min(ns), max(ns)) if ns else None


def whole_section(path, out, chart):
    """The whole-model tables from bench/whole.py's JSON; chart (a list) gets
    (label, speed vs PyTorch, vs onnxruntime, vs onnxruntime minus its
    per-call overhead) per case for the gnuplot chart."""
    with open(path) as f:
        doc = json.load(f)
    over = next((med_range(c["ns"]["onnxruntime"]) for c in doc["cases"]
                 if c["kind"] == "overhead"), None)
    out.append("## Whole models, single thread\n")
    out.append("kiln's generated C built into a shared library and called from the same Python "
               "process as PyTorch %s (eager, `torch.no_grad()`, `torch.set_num_threads(1)`); "
               "onnxruntime-node in a Node.js co-process driven over a pipe "
               "(`intraOpNumThreads: 1`, sequential, all graph optimizations). %d repetitions, "
               "each visiting every case and implementation in a fresh random order; a sample "
               "times a loop of calls (about %.0f ms) and divides; CPU time (kiln and PyTorch: "
               "of the calling thread; onnxruntime: of its process). Every implementation's outputs "
               "were checked against PyTorch's before timing (largest difference %.1e), and each "
               "training step's first three losses against PyTorch's.\n"
               % (doc["torch"], doc["reps"], doc["min_time"] * 1e3,
                  max(doc["max_abs_diff_vs_torch"].values() or [0])))
    if over:
        out.append("onnxruntime's fixed per-call overhead (a one-node model, Relu on one float, "
                   "through onnxruntime-node): %s; the last column subtracts its median.\n"
                   % fmt_time(over))
    out.append("Targets: faster than PyTorch, and faster than onnxruntime even after "
               "subtracting its per-call overhead (speeds above 1).\n")
    out.append("| model | batch | kiln | PyTorch | onnxruntime | speed vs PyTorch | "
               "speed vs onnxruntime | vs onnxruntime minus overhead |")
    out.append("|---|---|---|---|---|---|---|---|")
    for c in doc["cases"]:
        if c["kind"] != "inference":
            continue
        t = {k: med_range(v) for k, v in c["ns"].items()}
        k, pt, rt = t.get("kiln"), t.get("torch"), t.get("onnxruntime")
        net = rt[0] - over[0] if rt and over else None
        row = (ratio(pt[0], k[0]) if pt else "—", ratio(rt[0], k[0]) if rt else "—",
               ratio(net, k[0]) if net and net > 0 else "—")
        out.append("| %s | %d | %s | %s | %s | %s | %s | %s |" % (
            c["model"], c["batch"], fmt_time(k), fmt_time(pt), fmt_time(rt), *row))
        chart.append(("%s b%d" % (c["model"], c["batch"]), *row))
    out.append("\n## Training step (forward, backward, Adam), single thread\n")
    out.append("PyTorch: `zero_grad`, forward, `CrossEntropyLoss`, `backward`, `Adam.step`; kiln: "
               "`model_train_step_v` of `kiln compile --train --loss sparse_softmax_ce "
               "--optimizer adam`, from the same weights on the same batch. Target: ≥ 3× "
               "PyTorch's speed.\n")
    out.append("| model | batch | kiln | PyTorch | speed vs PyTorch |")
    out.append("|---|---|---|---|---|")
    for c in doc["cases"]:
        if c["kind"] != "train":
            continue
        k, pt = med_range(c["ns"]["kiln"]), med_range(c["ns"]["torch"])
        out.append("| %s | %d | %s | %s | %s |" % (c["model"], c["batch"], fmt_time(k),
                                                  fmt_time(pt), ratio(pt[0], k[0])))
        chart.append(("%s train b%d" % (c["model"], c["batch"]), ratio(pt[0], k[0]), "—", "—"))
    out.append("\n## Memory plan\n")
    out.append("The workspace kiln plans for the tensors of each model (`kiln compile --stats`), "
               "next to the liveness lower bound: the most bytes live at one step of the schedule "
               "(the training step's for the `train` rows). Target: ≤ 1.1× the bound.\n")
    out.append("| model | workspace (bytes) | lower bound (bytes) | ratio |")
    out.append("|---|---|---|---|")
    for name, (ws, bound) in doc.get("workspace_and_lower_bound", {}).items():
        out.append("| %s | %s | %s | %s |" % (name, format(ws, ","), format(bound, ","),
                                             ratio(ws, bound)))
    out.append("")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--best", required=True)
    ap.add_argument("--avx2", required=True)
    ap.add_argument("--load", nargs=2, default=["?", "?"])
    ap.add_argument("--cc", default="?")
    ap.add_argument("--reps", default="?")
    ap.add_argument("--whole", help="bench/whole.py's whole.json")
    ap.add_argument("--chart-data", help="write the ratios for bench/ratios.gp here")
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
    section("Pass 2: AVX2 kernels where the library allows (OpenBLAS Haswell, BLIS zen3, "
            "oneDNN ONEDNN_MAX_CPU_ISA=AVX2; XNNPACK can't be pinned)", avx2_ctx, avx2, out)
    chart = []
    if a.whole:
        whole_section(a.whole, out, chart)
    if a.chart_data:
        with open(a.chart_data, "w") as f:
            f.write("# case, speed of kiln vs PyTorch, vs onnxruntime, vs onnxruntime minus "
                    "its per-call overhead (other's time / kiln's; '-' for none)\n")
            for label, *r in chart:
                f.write('"%s" %s\n' % (label, " ".join(x if x not in ("", "—") else "-" for x in r)))
    out.append("![speed of kiln relative to PyTorch and onnxruntime](ratios.png)\n"
               if chart else "")
    print("\n".join(out))


if __name__ == "__main__":
    main()
