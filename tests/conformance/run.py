#!/usr/bin/python3
"""Conformance runner: every case of the ONNX backend test data (Debian's
libonnx-testdata) through `kiln verify`, one process per case.

Each case ends as PASS, FAIL (outputs differ), REJECT (kiln's one-line error),
BROKEN (kiln accepted the model but its C did not build or crashed), CRASH
(kiln itself died) or HANG (past the time limit). The run fails on any
BROKEN, CRASH or HANG, and on any case listed in expected_pass.txt that no
longer passes. tolerances/*.txt hold per-case tolerances ("case: rtol atol —
why"), reasons/*.txt the real limit behind each case kiln can't pass
("case: reason"); one file per op family. With --update it rewrites expected_pass.txt and STATUS.md.

  /usr/bin/python3 tests/conformance/run.py --kiln build/kiln [--update] [-j 2] [-k REGEX]
"""
import argparse
import concurrent.futures
import collections
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = "/usr/share/libonnx-testdata/data"
FOLDERS = ["node", "pytorch-converted", "pytorch-operator", "simple"]
TIMEOUT = 300


def read_list(path):
    """Lines of a file without comments; 'case: text' becomes {case: text}."""
    out = {}
    if os.path.exists(path):
        for line in open(path):
            line = "" if line.lstrip().startswith("#") else line.strip()
            if line:
                case, _, text = line.partition(":")
                out[case.strip()] = text.strip()
    return out


def ops_of(model_path):
    """The op types of a model, read with the onnx package (None if unavailable)."""
    try:
        import onnx
        m = onnx.load(model_path, load_external_data=False)
        return sorted({(n.domain + "::" if n.domain not in ("", "ai.onnx") else "") + n.op_type
                       for n in m.graph.node})
    except Exception:
        return ["?"]


def run_case(kiln, case_dir, rtol, atol, target=None):
    try:
        p = subprocess.run([kiln, "verify", case_dir, "--rtol", rtol, "--atol", atol] +
                           (["--target", target] if target else []),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=TIMEOUT,
                           text=True, errors="replace")
    except subprocess.TimeoutExpired:
        return "HANG", "no result after %d s" % TIMEOUT
    if p.returncode < 0 or p.returncode > 1:
        return "CRASH", "kiln exited with status %d: %s" % (p.returncode, p.stdout.strip()[-300:])
    for line in p.stdout.splitlines():
        for tag in ("PASS", "FAIL", "REJECT", "BROKEN"):
            if line.startswith(tag + " "):
                rest = line[len(tag) + 1:]
                why = rest.split(": ", 1)[1] if ": " in rest else ""
                if tag == "PASS" and "(specialized" in rest:
                    why = "specialized"
                return tag, why
    return "CRASH", "no verdict in kiln's output: " + p.stdout.strip()[-300:]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kiln", required=True)
    ap.add_argument("--data", default=DATA)
    ap.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("-k", "--filter", default="")
    ap.add_argument("--target", help="passed to kiln verify (default: its own, host)")
    ap.add_argument("--update", action="store_true", help="rewrite expected_pass.txt and STATUS.md")
    args = ap.parse_args()
    if not os.path.isdir(args.data):
        print("conformance: %s is missing (install Debian's libonnx-testdata)" % args.data)
        return 1
    tolerances, reasons = {}, {}
    for name in sorted(os.listdir(os.path.join(HERE, "tolerances"))):
        tolerances.update(read_list(os.path.join(HERE, "tolerances", name)))
    for name in sorted(os.listdir(os.path.join(HERE, "reasons"))):
        reasons.update(read_list(os.path.join(HERE, "reasons", name)))
    expected = read_list(os.path.join(HERE, "expected_pass.txt"))
    cases = []
    for folder in FOLDERS:
        d = os.path.join(args.data, folder)
        for name in sorted(os.listdir(d)) if os.path.isdir(d) else []:
            key = folder + "/" + name
            if re.search(args.filter, key):
                cases.append(key)
    results = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futs = {}
        for key in cases:
            tol = tolerances.get(key, "")
            rtol, atol = (tol.split()[:2] if tol else ["1e-3", "1e-5"])
            futs[pool.submit(run_case, args.kiln, os.path.join(args.data, key), rtol, atol,
                             args.target)] = key
        for f in concurrent.futures.as_completed(futs):
            results[futs[f]] = f.result()
    counts = collections.Counter(r[0] for r in results.values())
    bad = []
    for key in cases:
        tag, why = results[key]
        if tag in ("BROKEN", "CRASH", "HANG"):
            bad.append("%s %s: %s" % (tag, key, why))
        elif key in expected and tag != "PASS":
            bad.append("REGRESSION %s: was passing, now %s: %s" % (key, tag, why))
    if args.update and not args.filter and not args.target:
        write_expected(cases, results)
        write_status(args, cases, results, reasons, tolerances)
    for line in bad:
        print(line)
    print("conformance: " + ", ".join("%d %s" % (counts[t], t) for t in
                                      ("PASS", "FAIL", "REJECT", "BROKEN", "CRASH", "HANG")))
    print("conformance: %d problem(s) (BROKEN, CRASH, HANG or a regression of expected_pass.txt)"
          % len(bad))
    return 1 if bad else 0


def write_expected(cases, results):
    with open(os.path.join(HERE, "expected_pass.txt"), "w") as f:
        f.write("# Cases that pass today; run.py fails if one stops passing.\n")
        f.write("# Regenerate with: /usr/bin/python3 tests/conformance/run.py --kiln build/kiln --update\n")
        for key in cases:
            if results[key][0] == "PASS":
                f.write(key + "\n")


def write_status(args, cases, results, reasons, tolerances):
    by_op = collections.defaultdict(collections.Counter)
    by_folder = collections.defaultdict(collections.Counter)
    for key in cases:
        tag = results[key][0]
        by_folder[key.split("/")[0]][tag] += 1
        if key.startswith("node/"):
            for op in ops_of(os.path.join(args.data, key, "model.onnx")):
                by_op[op][tag] += 1
    lines = ["# Conformance status", "",
             "Generated by `tests/conformance/run.py --update` over Debian's libonnx-testdata; "
             "do not edit by hand.", "",
             "| folder | cases | pass | fail | rejected | broken/crash/hang |", "|---|---|---|---|---|---|"]
    total = collections.Counter()
    for folder in FOLDERS:
        c = by_folder[folder]
        total.update(c)
        lines.append("| %s | %d | %d | %d | %d | %d |" % (folder, sum(c.values()), c["PASS"], c["FAIL"],
                     c["REJECT"], c["BROKEN"] + c["CRASH"] + c["HANG"]))
    lines.append("| **total** | %d | %d | %d | %d | %d |" % (sum(total.values()), total["PASS"], total["FAIL"],
                 total["REJECT"], total["BROKEN"] + total["CRASH"] + total["HANG"]))
    lines += ["", "## Node cases by op", "",
              "A case counts under every op its model contains.", "",
              "| op | pass | fail | rejected |", "|---|---|---|---|"]
    for op in sorted(by_op, key=str.lower):
        c = by_op[op]
        lines.append("| %s | %d | %d | %d |" % (op, c["PASS"], c["FAIL"], c["REJECT"] + c["BROKEN"]))
    lines += ["", "## Cases that do not pass, with the reason", "",
              "Reasons come from `reasons/*.txt` (a real limit of kiln); a case without one is work not yet done.", "",
              "| case | result | reason or kiln's message |", "|---|---|---|"]
    for key in cases:
        tag, why = results[key]
        if tag != "PASS":
            text = reasons.get(key) or why
            lines.append("| %s | %s | %s |" % (key, tag, text.replace("|", "\\|")[:200]))
    special = [k for k in cases if results[k] == ("PASS", "specialized")]
    if special:
        lines += ["", "## Cases passed by specializing on input values", "",
                  "These models take an output-shaping value (Resize's scales or sizes, OneHot's depth, "
                  "…) as a graph input. kiln needs static shapes, so `kiln verify` compiled them with "
                  "their small inputs frozen to the data set's values, as `kiln compile --freeze` does.", ""]
        lines += ["- " + k for k in special]
    if tolerances:
        lines += ["", "## Cases with their own tolerance", "", "| case | rtol atol — why |", "|---|---|"]
        for key, text in sorted(tolerances.items()):
            lines.append("| %s | %s |" % (key, text))
    with open(os.path.join(HERE, "STATUS.md"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
