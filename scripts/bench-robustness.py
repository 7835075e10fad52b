#!/usr/bin/python3
"""AdvVis's robustness suite against the reference AutoAttack implementation, in the same run.

usage: /usr/bin/python3 scripts/bench-robustness.py AUTOATTACK_DIR [--eps 0.02,0.01] [--n 500] [--threads 2]
       [--alone] [--pgd] [--no-build]

AUTOATTACK_DIR is a checkout of github.com/fra31/auto-attack (the folder holding the `autoattack` package); it is run
as an oracle and never copied into this repository. The model is ../shared/models/fmnist-cnn-paper.onnx run in PyTorch
through scripts/bench_torch.py's ONNX interpreter (the same weights and graph as AdvVis), the data the first N
Fashion-MNIST test images of ../shared/data. For each ε the reference standard suite and `advvis robustness` run one
after the other (so both see the same machine load), and the script checks every AdvVis adversarial example with
PyTorch: inside the L∞ ball, inside [0, 1], misclassified. --alone adds the reference's APGD-CE and APGD-T each on
their own; --pgd adds AdvVis's PGD-100 (random start, α = 2.5ε/100). Prints one JSON object and Markdown table rows.
Needs Debian's /usr/bin/python3 with python3-torch and python3-onnx.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

# PyTorch's OpenMP threads spin while they wait; on a shared machine that slows it many times over (a first run here
# under load average 15 took 272 s for 20 images), so the reference gets passive waiting unless the caller chose.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(ROOT), "shared")
MODEL = os.path.join(SHARED, "models", "fmnist-cnn-paper.onnx")
DATA = os.path.join(SHARED, "data", "fashion-mnist", "fmnist-test-2000.npz")
CLI_DLL = os.path.join(ROOT, "daemon", "src", "AdvVis.Cli", "bin", "Release", "net10.0", "advvis.dll")
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from bench_torch import TorchOnnx  # noqa: E402


class Net(torch.nn.Module):
    def __init__(self, path):
        super().__init__()
        self.onnx = TorchOnnx(path)

    def forward(self, x):
        return self.onnx(x)


def reference(aa_dir, model, x, y, eps, attacks, seed=0):
    sys.path.insert(0, aa_dir)
    from autoattack import AutoAttack
    with tempfile.NamedTemporaryFile("r", suffix=".log") as log:
        version = "standard" if attacks is None else "custom"
        adversary = AutoAttack(model, norm="Linf", eps=eps, version=version, device="cpu", seed=seed, log_path=log.name,
                               attacks_to_run=[] if attacks is None else attacks)
        start, cpu = time.perf_counter(), time.process_time()
        x_adv = adversary.run_standard_evaluation(x, y, bs=250)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        lines = open(log.name).read().splitlines()
    with torch.no_grad():
        robust = (model(x_adv).argmax(1) == y).float().mean().item()
    return {"robust_accuracy": robust, "seconds": seconds, "cpu_seconds": cpu, "log": [l for l in lines if "accuracy" in l]}


def advvis(args, eps, n, extra):
    cmd = ["dotnet", CLI_DLL] + args + [MODEL, "--data", DATA, "--limit", str(n), "--eps", repr(eps), "--json"] + extra
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return json.loads(out), seconds, cpu


def check_examples(model, x, y, eps, save_dir):
    """Every AdvVis example: in the ball, in [0, 1], and misclassified by PyTorch; returns PyTorch's robust accuracy."""
    adv = torch.from_numpy(np.load(os.path.join(save_dir, "adversarial.npy")).astype(np.float32))
    linf = (adv - x).abs().flatten(1).max(1)[0]
    with torch.no_grad():
        correct = model(adv).argmax(1) == y
    return {"max_linf": linf.max().item(), "in_range": bool(((adv >= 0) & (adv <= 1)).all()),
            "inside_ball": bool((linf <= eps * (1 + 1e-5) + 1e-7).all()), "pytorch_robust_accuracy": correct.float().mean().item()}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("autoattack")
    p.add_argument("--eps", default="0.02")
    p.add_argument("--n", type=int, default=500)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--alone", action="store_true")
    p.add_argument("--pgd", action="store_true")
    p.add_argument("--no-build", action="store_true")
    a = p.parse_args()
    if not a.no_build:
        subprocess.run(["dotnet", "build", os.path.join(ROOT, "daemon", "src", "AdvVis.Cli"), "-c", "Release", "-nologo", "-v", "q",
                        "-clp:ErrorsOnly"], check=True)
    torch.set_num_threads(a.threads)
    data = np.load(DATA)
    x = torch.from_numpy(data["images"][: a.n].astype(np.float32) / 255.0).unsqueeze(1)
    y = torch.from_numpy(data["labels"][: a.n].astype(np.int64))
    model = Net(MODEL).eval()
    with torch.no_grad():
        clean = (model(x).argmax(1) == y).float().mean().item()
    results = {"omp_wait_policy": os.environ["OMP_WAIT_POLICY"], "uptime_before": subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip(), "threads": a.threads,
               "n": a.n, "pytorch_clean_accuracy": clean, "eps": []}
    for eps in [float(e) for e in a.eps.split(",")]:
        row = {"eps": eps}
        row["reference"] = reference(a.autoattack, model, x, y, eps, None)
        with tempfile.TemporaryDirectory() as d:
            ours, wall, cpu = advvis(["robustness"], eps, a.n, ["--save", d])
            # The suite's adversarial examples, checked by PyTorch.
            row["advvis"] = {"report": ours["results"][0], "wall_seconds": wall, "cpu_seconds": cpu, "check": check_examples(model, x, y, eps, d)}
        row["speedup"] = row["reference"]["seconds"] / wall
        row["cpu_speedup"] = row["reference"]["cpu_seconds"] / cpu
        row["uptime"] = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
        if a.alone:
            row["reference_apgd_ce"] = reference(a.autoattack, model, x, y, eps, ["apgd-ce"])
            row["reference_apgd_t"] = reference(a.autoattack, model, x, y, eps, ["apgd-t"])
        if a.pgd:
            pgd, pwall, pcpu = advvis(["attack", "--attack", "pgd", "--steps", "100", "--random-start", "--alpha", repr(2.5 * eps / 100)], eps, a.n, [])
            row["advvis_pgd100"] = {"adversarial_accuracy": pgd["adversarial_accuracy"], "wall_seconds": pwall, "cpu_seconds": pcpu}
        results["eps"].append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
    results["uptime_after"] = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(json.dumps(results, indent=1))
    print()
    print("| ε (L∞) | reference robust acc. | reference wall / CPU | AdvVis robust acc. (PyTorch re-check) | AdvVis wall / CPU | speed-up wall / CPU |")
    print("|---|---|---|---|---|---|")
    for r in results["eps"]:
        print(f"| {r['eps']:g} | {r['reference']['robust_accuracy']:.1%} | {r['reference']['seconds']:.1f} s / {r['reference']['cpu_seconds']:.1f} s | "
              f"{r['advvis']['report']['robust_accuracy']:.1%} ({r['advvis']['check']['pytorch_robust_accuracy']:.1%}) | {r['advvis']['wall_seconds']:.1f} s / {r['advvis']['cpu_seconds']:.1f} s | {r['speedup']:.2f}× / {r['cpu_speedup']:.2f}× |")


if __name__ == "__main__":
    main()
