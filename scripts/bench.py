#!/usr/bin/python3
"""Engine speed against PyTorch and ONNX Runtime on this machine: prints a markdown ratio table (and writes it with --out).

usage: /usr/bin/python3 scripts/bench.py [--threads 2] [--rounds 2] [--repeats 5] [--case FILE:BATCH ...] [--out docs/benchmarks.md] [--no-build]

For every model and batch size it runs `advvis bench` (forward, then forward+backward to the input), the same
ONNX graph in PyTorch (scripts/bench_torch.py) and, forward only, in ONNX Runtime 1.32 (daemon/tests/AdvVis.OrtBench,
a benchmark-only program: all graph optimizations, intra-op threads = --threads), interleaved, `--rounds` times, and
keeps each side's best median: other jobs on a shared machine slow every side, and interleaving plus best-of-rounds
keeps the ratios fair. `--case fmnist-cnn-paper.onnx:256` (repeatable) runs only the named rows.
Also SGEMM 1024^3 GFLOP/s against OpenBLAS (ctypes) and torch.mm, and peak RSS of MobileNetV2 forward+backward.
PyTorch columns are left empty when Debian's python3-torch is not installed. This is a benchmark, not a test.
"""
import argparse
import datetime
import json
import os
import platform
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = os.path.join(ROOT, "daemon", "tests", ".cache", "models")
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "models")
CLI_DLL = os.path.join(ROOT, "daemon", "src", "AdvVis.Cli", "bin", "Release", "net10.0", "advvis.dll")
TORCH = ["/usr/bin/python3", os.path.join(ROOT, "scripts", "bench_torch.py")]
ORT_PROJECT = os.path.join(ROOT, "daemon", "tests", "AdvVis.OrtBench")
ORT_DLL = os.path.join(ORT_PROJECT, "bin", "Release", "net10.0", "ort-bench.dll")

# PyTorch's OpenMP threads spin while they wait; when other jobs share the cores that collapses its 2-thread speed
# (ResNet-18 batch 1: ~5 instead of ~45 images/s here), so PyTorch gets the better of its default and passive waiting.
TORCH_ENVS = [None, dict(os.environ, OMP_WAIT_POLICY="PASSIVE")]

CASES = [  # (model path, batch sizes)
    (os.path.join(SHARED, "fmnist-cnn-paper.onnx"), [256, 1]),
    (os.path.join(MODELS, "resnet18-cifar.onnx"), [64, 1]),
    (os.path.join(MODELS, "mobilenetv2.onnx"), [8, 1]),
]


def run_json(cmd, env=None):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    try:
        return json.loads(out[out.index("{"):])  # advvis prints one (indented) object
    except json.JSONDecodeError:
        return json.loads([line for line in out.splitlines() if line.startswith("{")][-1])


def run_ort(cmd):
    """ORT's images/s, or 0 where it cannot run the row (a file whose batch dimension is fixed at 1)."""
    try:
        return run_json(cmd)["imagesPerSecond"]
    except subprocess.CalledProcessError as e:
        print(f"onnxruntime: {e.stderr.strip()}", file=sys.stderr)
        return 0.0


def run_jsons(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def torch_available():
    try:
        subprocess.run(["/usr/bin/python3", "-c", "import torch, onnx"], check=True, capture_output=True)
        return True
    except (OSError, subprocess.CalledProcessError):
        return False


def machine():
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    except OSError:
        lscpu = ""
    model = re.search(r"Model name:\s*(.+)", lscpu)
    flags = re.search(r"Flags:\s*(.+)", lscpu)
    simd = [f for f in ("avx2", "fma", "avx512f") if flags and f" {f} " in f" {flags.group(1)} "]
    return f"{model.group(1).strip() if model else platform.processor()}, {os.cpu_count()} cores, {' '.join(simd)}"


def load():
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--out")
    p.add_argument("--no-build", action="store_true")
    p.add_argument("--case", action="append", default=[], help="FILE:BATCH, e.g. resnet18-cifar.onnx:64; repeatable")
    args = p.parse_args()

    if not os.path.exists(os.path.join(MODELS, "mobilenetv2.onnx")):
        subprocess.run(["sh", os.path.join(ROOT, "daemon", "tests", "reference", "make_reference_models.sh"), MODELS], check=True)
    if not args.no_build:
        for project in (os.path.join(ROOT, "daemon", "src", "AdvVis.Cli"), ORT_PROJECT):
            subprocess.run(["dotnet", "build", project, "-c", "Release", "-nologo", "-v", "q", "-clp:ErrorsOnly"], check=True)
    ours = ["dotnet", CLI_DLL, "bench"]
    ort = ["dotnet", ORT_DLL]
    wanted = {(c.rsplit(":", 1)[0], int(c.rsplit(":", 1)[1])) for c in args.case}
    have_torch = torch_available()
    t = ["--threads", str(args.threads)]
    loads = [load()]

    rows = []
    for model, batches in CASES:
        for batch in batches:
            if wanted and (os.path.basename(model), batch) not in wanted:
                continue
            for backward in (False, True):
                flags = ["--batch", str(batch), "--repeats", str(args.repeats)] + t + (["--backward"] if backward else [])
                best_ours, best_torch, best_ort = 0.0, 0.0, 0.0
                for _ in range(args.rounds):
                    best_ours = max(best_ours, run_json(ours + [model] + flags + ["--json"])["imagesPerSecond"])
                    if have_torch:
                        for env in TORCH_ENVS:
                            best_torch = max(best_torch, run_json(TORCH + [model] + flags, env)["imagesPerSecond"])
                    if not backward:  # ORT has no gradients
                        best_ort = max(best_ort, run_ort(ort + [model] + flags))
                rows.append((os.path.basename(model), batch, "fwd+bwd" if backward else "forward", best_ours, best_torch, best_ort))
                print(f"{rows[-1][0]} b{batch} {rows[-1][2]}: ours {best_ours:.1f}  pytorch {best_torch:.1f}  onnxruntime {best_ort:.1f} img/s",
                      file=sys.stderr)

    gemm_ours = max(run_json(ours + ["--sgemm", "1024", "--json"] + t)["gflops"] for _ in range(args.rounds))
    gemm_blas = gemm_torch = 0.0
    if have_torch:
        for _ in range(args.rounds):
            for r in run_jsons(TORCH + ["--sgemm", "1024"] + t):
                if r["engine"] == "openblas":
                    gemm_blas = max(gemm_blas, r["gflops"])
                else:
                    gemm_torch = max(gemm_torch, r["gflops"])

    rss = None
    try:
        proc = subprocess.run(["/usr/bin/time", "-v"] + ours + [os.path.join(MODELS, "mobilenetv2.onnx"), "--batch", "8", "--backward",
                                                                 "--repeats", "1"] + t, capture_output=True, text=True, check=True)
        m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
        rss = int(m.group(1)) / 1024 if m else None
    except (OSError, subprocess.CalledProcessError):
        pass
    loads.append(load())

    def ratio(a, b):
        return f"{a / b:.2f}×" if b > 0 else "–"

    def rate(x):
        return f"{x:.1f}" if x > 0 else "–"

    lines = [
        f"Machine: {machine()}. Date: {datetime.date.today().isoformat()}. Threads: {args.threads} (torch.set_num_threads({args.threads})).",
        f"Load average (1 min) before/after: {loads[0]:.1f} / {loads[1]:.1f}. Each figure is the best of {args.rounds} interleaved rounds;",
        f"each round is the median of ≥{args.repeats} timed runs (≥2 s) after ≥2 warm-up runs and ≥1 s. PyTorch: best of OMP_WAIT_POLICY default and PASSIVE.",
        f"ONNX Runtime 1.32 (CPU): ORT_ENABLE_ALL, intra-op threads {args.threads}, inter-op 1; forward only (it has no gradients).",
        "",
        "| model | batch | pass | AdvVis img/s | PyTorch img/s | AdvVis / PyTorch | ORT img/s | AdvVis / ORT |",
        "|---|---:|---|---:|---:|---:|---:|---:|",
    ]
    for name, batch, kind, a, b, o in rows:
        lines.append(f"| {name} | {batch} | {kind} | {a:.1f} | {rate(b)} | {ratio(a, b)} | {rate(o)} | {ratio(a, o)} |")
    lines += [
        "",
        "| SGEMM 1024³ | GFLOP/s |",
        "|---|---:|",
        f"| AdvVis `Kernels.Gemm` | {gemm_ours:.1f} |",
        f"| OpenBLAS (cblas_sgemm) | {gemm_blas:.1f} |" if gemm_blas else "| OpenBLAS | not installed |",
        f"| PyTorch torch.mm | {gemm_torch:.1f} |" if gemm_torch else "| PyTorch | not installed |",
        f"| AdvVis / OpenBLAS | {ratio(gemm_ours, gemm_blas)} |",
        "",
        f"Peak RSS, MobileNetV2 forward+backward batch 8: {rss:.0f} MiB" if rss else "Peak RSS: /usr/bin/time not available",
    ]
    table = "\n".join(lines)
    print(table)
    if args.out:
        with open(args.out, "w") as f:
            f.write(HEADER + table + "\n")


HEADER = """# Benchmarks

Made by `/usr/bin/python3 scripts/bench.py --out docs/benchmarks.md` (AdvVis `advvis bench` against the same ONNX graphs
run by PyTorch 1.13 through `scripts/bench_torch.py` and, forward only, by ONNX Runtime 1.32 through
`daemon/tests/AdvVis.OrtBench`, interleaved in one run on one machine). Ratio > 1 means AdvVis is faster.
forward = inference only; fwd+bwd = forward recorded for backward plus the gradient with respect to the input.

"""

if __name__ == "__main__":
    main()
