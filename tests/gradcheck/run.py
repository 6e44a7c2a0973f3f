#!/usr/bin/env python3
"""run.py — checks every gradient rule in compiler/ir/ops.def against finite
differences in double precision. It lists the ops with a rule (list_ops.c),
writes each op's cases (cases.py: small f64 models whose inputs are trainable
params, the op's output under kiln's attached MSE loss), compiles each with
`kiln compile --train --optimizer sgd --lr 1`, links harness.c with it and
prints one line per op with the largest relative error over its cases.

Fails when an op's error passes THRESHOLD, when a case doesn't compile or
run, or when an op with a rule has no case (a new rule comes with its case
in cases.py). See README.md for the method and the threshold's reason.

  run.py --kiln KILN [-k REGEX] [-j N] [--keep DIR] [-v]
"""
import argparse
import concurrent.futures
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import cases  # noqa: E402

THRESHOLD = 1e-6  # README.md: the fd's own error is ~1e-10 or below, a wrong rule's ~1e-2 or above
STEP = 1e-3       # h = STEP * max(1, |p|) for the fourth-order central difference


def cc():
    return os.environ.get("CC", "cc")


def build_tools(work):
    """list_ops, and harness.o for every case."""
    subprocess.run([cc(), "-std=c99", "-O0", "-I", os.path.join(SRC, "runtime"), "-I", HERE, "-c",
                    os.path.join(HERE, "harness.c"), "-o", os.path.join(work, "harness.o")], check=True)
    subprocess.run([cc(), "-std=c99", "-I", os.path.join(SRC, "compiler", "ir"),
                    os.path.join(HERE, "list_ops.c"), "-o", os.path.join(work, "list_ops")], check=True)


def ops_with_rules(work):
    """(name, domain) of every op whose ninth ops.def column isn't grad_none."""
    exe = os.path.join(work, "list_ops")
    out = subprocess.run([exe], check=True, capture_output=True, text=True).stdout
    return [tuple(line.split()[:2]) for line in out.splitlines() if line.strip()]


def patch_model(model_c):
    """Makes model_train_step_v also store its loss as a double in
    gradcheck_loss (the API's float loss is too coarse for finite
    differences) and appends gradcheck_model (gradcheck.h) to model.c."""
    with open(model_c) as f:
        s = f.read()
    s, n = re.subn(r"(\*loss = \(float\)(\w+)\[0\];)", r"\1\n    gradcheck_loss = \2[0];", s)
    if n != 1 or "int model_train_step_v(" not in s:
        raise RuntimeError("can't find the loss line of model_train_step_v in model.c")
    s = s.replace("int model_train_step_v(", '#include "gradcheck.h"\nint model_train_step_v(', 1)
    s += ("\n/* added by tests/gradcheck/run.py */\n"
          "double gradcheck_loss;\n"
          "const GradcheckModel gradcheck_model = {model_init, model_train_step_v, model_set_lr,\n"
          "    model_params_save, &model_info, &model_train_info, model_PARAMS_SIZE, model_WORKSPACE_SIZE};\n")
    with open(model_c, "w") as f:
        f.write(s)


def one_line(text):
    """The first error line of a tool's stderr, or its first line."""
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    errors = [ln for ln in lines if "error" in ln]
    return (errors or lines or ["(no message)"])[0][:200]


def run_case(case, kiln, work):
    """Compiles and checks one case; returns (status, max_rel, detail)."""
    try:
        return check_case(case, kiln, work)
    except (OSError, RuntimeError, ValueError, IndexError) as e:
        return "BROKEN", None, "%s: %s" % (type(e).__name__, e)


def check_case(case, kiln, work):
    d = os.path.join(work, case.slug)
    os.makedirs(d, exist_ok=True)
    kir = os.path.join(d, "m.kir")
    with open(kir, "w") as f:
        f.write(case.kir)
    files = []
    for k, (is_int, data) in enumerate(case.input_data):
        if data is None:
            files.append("-")
            continue
        files.append(os.path.join(d, "input_%d.bin" % k))
        with open(files[-1], "wb") as f:
            f.write(struct.pack(("<%dq" if is_int else "<%dd") % len(data), *data))
    gen = os.path.join(d, "gen")
    shutil.rmtree(gen, ignore_errors=True)
    cmd = [kiln, "compile", kir, "-o", gen, "--prefix", "model", "--train",
           "--optimizer", "sgd", "--lr", "1"] + case.flags
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        return "REJECT", None, one_line(r.stderr)
    patch_model(os.path.join(gen, "model.c"))
    exe = os.path.join(d, "harness")
    srcs = sorted(os.path.join(gen, f) for f in os.listdir(gen) if f.endswith(".c"))
    r = subprocess.run([cc(), "-std=c99", "-O0", "-Werror=incompatible-pointer-types", "-I", gen,
                        "-I", HERE] + srcs + [os.path.join(work, "harness.o"), "-lm", "-o", exe],
                       capture_output=True, text=True)
    if r.returncode != 0:
        return "BROKEN", None, "the generated C doesn't build: " + one_line(r.stderr)
    try:
        r = subprocess.run([exe, d, repr(STEP), ",".join(files) or "-"] + case.checked, capture_output=True,
                           text=True, timeout=60)
    except subprocess.TimeoutExpired:
        return "BROKEN", None, "the harness timed out"
    if r.returncode != 0:
        return "BROKEN", None, "the harness failed (%d): %s" % (r.returncode, one_line(r.stderr))
    worst, detail = None, []
    for line in r.stdout.splitlines():
        f = line.split()
        if f[0] == "param":
            detail.append("%s: rel %s abs %s (fd %s, analytic %s)" % (f[1], f[3], f[4], f[5], f[6]))
        elif f[0] == "result":
            worst = float(f[1])
    if worst is None or worst != worst:
        return "BROKEN", None, "no result from the harness"
    return ("PASS" if worst <= THRESHOLD else "FAIL"), worst, "; ".join(detail)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kiln", required=True)
    ap.add_argument("-k", help="only cases whose OP/variant matches this regex")
    ap.add_argument("-j", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--keep", help="work in DIR and keep it (m.kir, gen/, harness per case)")
    ap.add_argument("-v", action="store_true", help="one line per case, with each parameter's error")
    a = ap.parse_args()
    t0 = time.time()
    work = a.keep or tempfile.mkdtemp(prefix="kiln-gradcheck-")
    os.makedirs(work, exist_ok=True)
    try:
        return check(a, work, t0)
    finally:
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)


def check(a, work, t0):
    build_tools(work)
    ruled = ops_with_rules(work)
    rule_names = {name for name, _ in ruled}
    all_cases = cases.all_cases()
    covered = {}
    for c in all_cases:
        for op in c.covers:
            covered.setdefault(op, []).append(c)
    todo = [c for c in all_cases if any(op in rule_names for op in c.covers)]
    if a.k:
        todo = [c for c in todo if re.search(a.k, c.slug.replace("__", "/"))]
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, a.j)) as pool:
        results = dict(zip([c.slug for c in todo],
                           pool.map(lambda c: run_case(c, os.path.abspath(a.kiln), work), todo)))
    bad = 0
    print("gradcheck: %d ops with a gradient rule, %d cases, threshold %.0e (max relative error)"
          % (len(ruled), len(todo), THRESHOLD))
    for name, domain in ruled:
        label = name if domain == "-" else "%s::%s" % (domain, name)
        mine = [c for c in covered.get(name, []) if c.slug in results]
        if not mine:
            if a.k:
                continue
            print("%-28s NO CASE: add one to tests/gradcheck/cases.py" % label)
            bad += 1
            continue
        res = [(c, results[c.slug]) for c in mine]
        failed = [c for c, (status, _, _) in res if status != "PASS"]
        if failed:
            bad += 1
            print("%-28s FAIL  %d/%d cases" % (label, len(failed), len(mine)))
        else:
            worst = max(rel for _, (_, rel, _) in res)
            print("%-28s ok    %.1e  (%d case%s)" % (label, worst, len(mine), "" if len(mine) == 1 else "s"))
        for c, (status, rel, detail) in res:
            if a.v or status != "PASS":
                print("    %-40s %-6s %-7s  %s" % (c.slug.replace("__", "/"), status,
                                                  "%.1e" % rel if rel is not None else "-", detail))
    waiting = sorted({c.primary for c in all_cases} - rule_names)
    if waiting and not a.k:
        print("cases waiting for a rule (not run): %s" % " ".join(waiting))
    print("gradcheck: %s, %d op%s failing, %.0f s" % ("FAIL" if bad else "PASS", bad,
                                                      "" if bad == 1 else "s", time.time() - t0))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
