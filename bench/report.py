#!/usr/bin/env python3
"""report.py — turns the two JSON outputs of kiln_bench and the whole-model
JSON of bench/whole.py (bench/run.sh) into bench/RESULTS.md: the machine,
the date, per benchmark the median and min-max over the interleaved
repetitions, and the ratios the targets of issue 5 are stated in (to the FMA
peak, to OpenBLAS, BLIS, oneDNN, XNNPACK, PyTorch and onnxruntime, to the L2
read time of the weights), plus the data of the ratio chart (bench/ratios.gp).
It opens with the targets, each marked met or missed from these numbers; a
missed one gets its paragraph from bench/limits.md (what limits it) and the
`kiln bench` per-layer profile of the models (bench/run.sh pass 4) that shows
it. Times are per-thread CPU times: the machine is shared, and wall time also
counts the time other processes held the core."""
import os
import re
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


def read_limits(path):
    """bench/limits.md: '## key' headings, each followed by the paragraph
    that says what limits that target while it is missed."""
    limits, key = {}, None
    for line in open(path) if path and os.path.exists(path) else []:
        m = re.match(r"## (\S+)", line)
        if m:
            key = m.group(1)
            limits[key] = []
        elif key and not line.startswith("#"):
            limits[key].append(line.rstrip("\n"))
    return {k: " ".join(" ".join(v).split()) for k, v in limits.items()}


def read_profile(path):
    """A `kiln bench` table: ([(node, op, median us, GFLOPS, of AVX2 peak)],
    the whole call's median us)."""
    rows, total = [], None
    for line in open(path):
        f = line.split()
        if f and f[0] == "total":
            total = float(f[-6])
        elif f and f[0].isdigit() and len(f) >= 9:
            rows.append((f[1], " ".join(f[2:-6]), float(f[-6]), f[-2], f[-1]))
    return rows, total


LAYER_BENCH = {"gemm_256": "gemm_256x256x256", "gemm_mlp64": "gemm_64x128x784",
               "conv3x3_64": "conv3x3_64x56x56_b1", "lenet_conv1": "lenet_conv1_b64",
               "lenet_conv2": "lenet_conv2_b64"}


def layer_profile_section(path, out):
    """bench/profile_layers.py's split of each layer's instructions."""
    with open(path) as f:
        doc = json.load(f)
    out.append("### The benchmarked layers' instructions\n")
    out.append("bench/profile_layers.py: one call of each layer under callgrind (instruction "
               "counts, repeatable under any load), x86-64-v3 kernels because valgrind has no "
               "AVX-512; the packing and im2col code is the same for every target. `per FMA`: "
               "the call's instructions per 8-lane FMA its FLOPs need (a 6×16 step of the "
               "micro-kernel issues 12 FMAs, 2 loads of B and 6 broadcasts of A, so no "
               "layer can go below 1.67). Split by the source file the instructions come from: micro-kernel "
               "(templates/kiln_gemm_avx2.h and the intrinsics), packing (templates/"
               "kiln_gemm.h: operand packing, im2col, edge-tile epilogues), copies (libc), "
               "other (the generated loops).\n")
    out.append("| layer | instructions per call | per FMA | micro-kernel | packing | copies | other |")
    out.append("|---|---|---|---|---|---|---|")
    for name, r in doc.items():
        sh = r["shares"]
        out.append("| %s | %s | %.2f | %s |" % (
            LAYER_BENCH.get(name, name), format(int(r["ir"]), ","),
            r["ir"] / r["fma"] if r["fma"] else 0,
            " | ".join("%.0f%%" % (100 * sh.get(c, 0))
                       for c in ("micro-kernel", "packing", "copies", "other"))))
    out.append("")


def profile_section(folder, out):
    """Per model, the layers that take 5% or more of kiln's call, by time."""
    out.append("## Where kiln's time goes\n")
    out.append("`kiln bench` on the same ONNX files (bench/run.sh pass 4, the host target): "
               "each layer timed alone inside one call of the generated code, medians. The "
               "layers with 5% or more of the call, largest first; `of AVX2 peak` is against "
               "the AVX2 FMA peak that `kiln bench` measures in the same run.\n")
    for name in sorted(n for n in os.listdir(folder) if n.endswith(".txt")):
        rows, total = read_profile(os.path.join(folder, name))
        if not rows or not total:
            continue
        out.append("**%s** — whole call %.1f µs\n" % (name[:-4], total))
        out.append("| node | op | median µs | share of the call | GFLOPS | of AVX2 peak |")
        out.append("|---|---|---|---|---|---|")
        for node, op, us, gf, pk in sorted(rows, key=lambda r: -r[2]):
            if us >= 0.05 * total:
                out.append("| %s | %s | %.1f | %.0f%% | %s | %s |"
                           % (node, op, us, 100 * us / total, gf, pk))
        out.append("")


def host_kiln(runs):
    """kiln's row for the target --target host picks: v4 where it ran."""
    return "kiln_v4" if stat(runs, "gemm_256x256x256/kiln_v4", "cpu_time") else "kiln"


def targets_section(best, whole_path, limits, out):
    """The issue's targets, each measured (pass 1: every library's own best
    kernels, kiln's host target) and marked met or missed."""
    kiln = host_kiln(best)
    peak = max(p[0] for p in (stat(best, "probe/fma_peak", "GFLOPS"),
                              stat(best, "probe/fma_peak_avx512", "GFLOPS")) if p)
    l2 = stat(best, "probe/l2_read", "GBps")
    rows = []

    def t(layer, impl):
        v = stat(best, "%s/%s" % (layer, impl), "cpu_time")
        return v[0] if v else None

    def mine(layer):  # the host target's row, or x86-64-v3's where only that ran
        return kiln if t(layer, kiln) else "kiln"

    def speed(layer, libs):
        ks = t(layer, mine(layer))
        got = [(lab, t(layer, lib) / ks) for lib, lab in libs if t(layer, lib) and ks]
        return got, bool(got) and all(v > 1 for _, v in got)

    def frac(layer):
        g = stat(best, "%s/%s" % (layer, mine(layer)), "GFLOPS")
        return g[0] / peak if g else 0

    blas = (("openblas", "OpenBLAS"), ("blis", "BLIS"))
    convs = (("onednn", "oneDNN"), ("xnnpack", "XNNPACK"))
    for layer, key, label in (("gemm_256x256x256", "gemm256", "GEMM 256³"),
                              ("gemm_64x128x784", "gemm_mlp64", "GEMM 64×128×784")):
        f = frac(layer)
        rows.append((key + "_peak", "%s ≥ 0.80 of peak" % label, "%.2f" % f, f >= 0.80))
        got, ok = speed(layer, blas)
        rows.append((key + "_blas", "%s faster than OpenBLAS and BLIS" % label,
                     ", ".join("%.2f× %s" % (v, lab) for lab, v in got), ok))
    fc = t("fc_relu_784x128_b1", mine("fc_relu_784x128_b1"))
    if fc and l2:
        x = fc / (WEIGHTS_FC1 / l2[0])
        rows.append(("fc_b1", "Batch-1 784→128 Gemm+ReLU ≤ 1.3× the L2 read time of its "
                     "weights", "%.2f×" % x, x <= 1.3))
    got, ok = speed("conv3x3_64x56x56_b1", convs)
    rows.append(("conv3x3_libs", "Conv 3×3 64→64 56² faster than oneDNN and XNNPACK",
                 ", ".join("%.2f× %s" % (v, lab) for lab, v in got), ok))
    f = frac("conv3x3_64x56x56_b1")
    rows.append(("conv3x3_peak", "Conv 3×3 64→64 56² ≥ 0.70 of peak", "%.2f" % f, f >= 0.70))
    parts, all_ok = [], True
    for layer in ("lenet_conv1_b64", "lenet_conv2_b64"):
        got, ok = speed(layer, convs)
        all_ok = all_ok and ok
        parts.append("%s: %s" % (layer.split("_")[1],
                                 ", ".join("%.2f× %s" % (v, lab) for lab, v in got)))
    rows.append(("lenet_convs", "LeNet's convs faster than oneDNN and XNNPACK",
                 "; ".join(parts), all_ok))
    if whole_path:
        doc = json.load(open(whole_path))
        over = next((statistics.median(c["ns"]["onnxruntime"]) for c in doc["cases"]
                     if c["kind"] == "overhead"), None)
        vs_pt, vs_ort, train = [], [], []
        for c in doc["cases"]:
            m = {k: statistics.median(v) for k, v in c["ns"].items() if v}
            name = "%s b%d" % (c["model"], c["batch"])
            if c["kind"] == "inference":
                vs_pt.append((name, m["torch"] / m["kiln"]))
                if "onnxruntime" in m and over:  # None: its time is within the overhead
                    net = m["onnxruntime"] - over
                    vs_ort.append((name, net / m["kiln"] if net > 0 else None))
            elif c["kind"] == "train":
                train.append((name, m["torch"] / m["kiln"]))
        fmt = lambda xs: ", ".join("%s %s" % (n, "%.2f×" % v if v else "—") for n, v in xs)
        rows.append(("whole_torch", "Whole models faster than PyTorch", fmt(vs_pt),
                     all(v > 1 for _, v in vs_pt)))
        rows.append(("whole_ort", "Whole models faster than onnxruntime minus its per-call "
                     "overhead", fmt(vs_ort), bool(vs_ort) and all(v and v > 1 for _, v in vs_ort)))
        rows.append(("train", "Training step (batch 64) ≥ 3× PyTorch", fmt(train),
                     all(v >= 3 for _, v in train)))
        ws = doc.get("workspace_and_lower_bound", {})
        worst = max((w / b for w, b in ws.values() if b), default=0)
        rows.append(("workspace", "Workspace ≤ 1.1× the liveness lower bound",
                     "at most %.2f× (%d models)" % (worst, len(ws)), 0 < worst <= 1.1))
    out.append("## Targets\n")
    out.append("Each target of issue 5, as measured in this run (layers: pass 1, kiln's "
               "`%s` row, the target `--target host` picks here, against each library's own "
               "best kernels, or its `kiln` (x86-64-v3) row where the bench has no other; "
               "peak: the higher of the two FMA probes, %.0f GFLOPS).\n"
               % (kiln, peak))
    out.append("| target | measured | |")
    out.append("|---|---|---|")
    for key, label, measured, ok in rows:
        out.append("| %s | %s | %s |" % (label, measured, "met" if ok else "**missed**"))
    missed = [(key, label) for key, label, _, ok in rows if not ok]
    if missed:
        out.append("\n### What limits the missed targets\n")
        out.append("From bench/limits.md (written by hand from the profiles in "
                   "\"Where kiln's time goes\" below and the layer tables).\n")
        for key, label in missed:
            out.append("- **%s.** %s" % (label, limits.get(key, "(no entry in bench/limits.md for `%s`)" % key)))
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
    ap.add_argument("--profiles", help="folder of `kiln bench` tables (bench/run.sh pass 4)")
    ap.add_argument("--limits", help="bench/limits.md: what limits each missed target")
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
    targets_section(best, a.whole, read_limits(a.limits), out)
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
    if a.profiles and os.path.isdir(a.profiles):
        profile_section(a.profiles, out)
        if os.path.exists(os.path.join(a.profiles, "layers.json")):
            layer_profile_section(os.path.join(a.profiles, "layers.json"), out)
    print("\n".join(out))


if __name__ == "__main__":
    main()
