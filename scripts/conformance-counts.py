#!/usr/bin/python3
"""Per-operator counts of the ONNX project's node tests (libonnx-testdata) run by `advvis onnx-test`.

    /usr/bin/python3 scripts/conformance-counts.py [OP ...]

Builds nothing: it runs daemon/src/AdvVis.Cli's built advvis over every case folder of the node, pytorch-converted
and pytorch-operator suites and prints, for each operator named (default: every operator some case uses), how many
of the cases that use it passed, failed or were reported unsupported, with the reasons for the last two.
Needs Debian's python3-onnx (to read which operators each case uses).
"""
import collections
import glob
import json
import os
import subprocess
import sys

import onnx

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
DATA = "/usr/share/libonnx-testdata/data"
SUITES = ("node", "pytorch-converted", "pytorch-operator")


def main():
    cli = glob.glob(os.path.join(ROOT, "daemon/src/AdvVis.Cli/bin/*/net*/advvis"))
    if not cli:
        sys.exit("build the CLI first: dotnet build daemon/src/AdvVis.Cli")
    cases = sorted(d for s in SUITES for d in glob.glob(os.path.join(DATA, s, "*")) if os.path.isdir(d))
    run = subprocess.run([cli[0], "onnx-test", *cases, "--json"], capture_output=True, text=True)
    results = json.loads(run.stdout)["cases"]
    ops_of = {}
    for d in cases:
        try:
            ops_of[d] = {n.op_type for n in onnx.load(os.path.join(d, "model.onnx")).graph.node}
        except Exception:  # a case the reader refuses counts for no operator
            ops_of[d] = set()
    counts = collections.defaultdict(collections.Counter)
    reasons = collections.defaultdict(collections.Counter)
    for d, r in zip(cases, results):
        for op in ops_of[d]:
            counts[op][r["status"]] += 1
            if r["status"] != "passed":
                reasons[op][(r["detail"] or "")[:110]] += 1
    wanted = sys.argv[1:] or sorted(counts)
    print(f"{'operator':24} passed failed unsupported")
    for op in wanted:
        c = counts[op]
        print(f"{op:24} {c['passed']:6} {c['failed']:6} {c['unsupported']:11}")
        for why, n in reasons[op].most_common():
            print(f"{'':26}{n} x {why}")


if __name__ == "__main__":
    main()
