#!/usr/bin/python3
"""Runs an ONNX model in PyTorch and prints images/s the way `advvis bench` measures it.

usage: bench_torch.py MODEL.onnx --batch B [--backward] [--threads T] [--repeats R]
       bench_torch.py --sgemm N [--threads T]

The ONNX graph is interpreted with torch.nn.functional on the model's own weights, so both engines run exactly
the same network. Timing: warm-up of at least 2 runs and 1 s, then at least R runs and at least 2 s; the median is reported.
Needs Debian's /usr/bin/python3 with python3-torch and python3-onnx. Prints one JSON line.
"""
import argparse
import ctypes
import json
import statistics
import sys
import time

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import numpy_helper


def attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def conv_padding(a, kernel):
    pads = a.get("pads", [0] * (2 * len(kernel)))
    if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", b""):
        raise NotImplementedError("auto_pad")
    half = len(pads) // 2
    if list(pads[:half]) != list(pads[half:]):
        raise NotImplementedError("asymmetric pads")
    return list(pads[:half])


class TorchOnnx:
    def __init__(self, path):
        model = onnx.load(path)
        self.graph = model.graph
        self.consts = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in self.graph.initializer}
        for node in self.graph.node:
            if node.op_type == "Constant":
                self.consts[node.output[0]] = torch.from_numpy(numpy_helper.to_array(attrs(node)["value"]).copy())
        self.input = [i.name for i in self.graph.input if i.name not in self.consts][0]
        self.output = self.graph.output[0].name
        dims = self.graph.input[0].type.tensor_type.shape.dim
        self.shape = [d.dim_value if d.dim_value > 0 else 1 for d in dims]

    def __call__(self, x):
        v = dict(self.consts)
        v[self.input] = x
        for node in self.graph.node:
            op, a = node.op_type, attrs(node)
            i = [v[n] if n else None for n in node.input]
            if op == "Constant":
                continue
            if op == "Conv":
                w = i[1]
                k = list(w.shape[2:])
                y = F.conv2d(i[0], w, i[2] if len(i) > 2 else None, a.get("strides", [1, 1]), conv_padding(a, k),
                             a.get("dilations", [1, 1]), a.get("group", 1))
            elif op == "Relu":
                y = F.relu(i[0])
            elif op == "Clip":
                lo = float(i[1]) if len(i) > 1 and i[1] is not None else a.get("min", -np.inf)
                hi = float(i[2]) if len(i) > 2 and i[2] is not None else a.get("max", np.inf)
                y = F.hardtanh(i[0], lo, hi) if (lo, hi) == (0.0, 6.0) else torch.clamp(i[0], lo, hi)
            elif op == "Add":
                y = i[0] + i[1]
            elif op == "Identity":
                y = i[0]
            elif op == "MaxPool":
                k = a["kernel_shape"]
                y = F.max_pool2d(i[0], k, a.get("strides", k), conv_padding(a, k), a.get("dilations", [1, 1]),
                                 bool(a.get("ceil_mode", 0)))
            elif op == "GlobalAveragePool":
                y = F.adaptive_avg_pool2d(i[0], 1)
            elif op == "GlobalMaxPool":
                y = F.adaptive_max_pool2d(i[0], 1)
            elif op == "Flatten":
                y = torch.flatten(i[0], a.get("axis", 1))
            elif op == "Gemm":
                w = i[1].t() if a.get("transB", 0) else i[1]
                y = i[0] @ w
                if len(i) > 2 and i[2] is not None:
                    y = y + i[2]
            else:
                raise NotImplementedError(op)
            v[node.output[0]] = y
        return v[self.output]


def openblas(threads):
    """Debian's libopenblas0 through ctypes, or None when it is not installed."""
    for name in ("libopenblas.so.0", "/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0"):
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            continue
        lib.openblas_set_num_threads(threads)
        return lib
    return None


def timed(fn, repeats):
    warm = time.perf_counter()
    runs = 0
    while runs < 2 or (time.perf_counter() - warm < 1 and runs < 100000):  # same warm-up as `advvis bench`
        fn()
        runs += 1
    times, start = [], time.perf_counter()
    while len(times) < repeats or (time.perf_counter() - start < 2 and len(times) < 1000):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), len(times)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("model", nargs="?")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--backward", action="store_true")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--sgemm", type=int)
    args = p.parse_args()
    torch.set_num_threads(args.threads)

    if args.sgemm:
        n = args.sgemm
        rng = np.random.default_rng(0)
        a = torch.from_numpy(rng.random((n, n), dtype=np.float32))
        b = torch.from_numpy(rng.random((n, n), dtype=np.float32))
        median, runs = timed(lambda: torch.mm(a, b), args.repeats)
        print(json.dumps({"engine": "pytorch", "sgemm": n, "gflops": 2 * n ** 3 / median / 1e9, "medianSeconds": median}))
        blas = openblas(args.threads)
        if blas is not None:
            an, bn = a.numpy(), b.numpy()
            cn = np.zeros((n, n), dtype=np.float32)
            ptr = lambda m: m.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
            # cblas_sgemm(RowMajor=101, NoTrans=111, NoTrans, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc)
            call = lambda: blas.cblas_sgemm(101, 111, 111, n, n, n, ctypes.c_float(1.0), ptr(an), n, ptr(bn), n,
                                            ctypes.c_float(0.0), ptr(cn), n)
            median, runs = timed(call, args.repeats)
            print(json.dumps({"engine": "openblas", "sgemm": n, "gflops": 2 * n ** 3 / median / 1e9, "medianSeconds": median}))
        return

    net = TorchOnnx(args.model)
    shape = [args.batch] + net.shape[1:]
    x0 = torch.from_numpy(np.random.default_rng(0).random(shape, dtype=np.float32))

    if args.backward:
        def once():
            x = x0.clone().requires_grad_(True)
            y = net(x)
            y.backward(torch.ones_like(y))
            return x.grad
    else:
        def once():
            with torch.no_grad():
                return net(x0)

    median, runs = timed(once, args.repeats)
    print(json.dumps({"engine": "pytorch", "model": args.model.split("/")[-1], "batch": args.batch, "threads": args.threads,
                      "backward": args.backward, "repeats": runs, "medianSeconds": median,
                      "imagesPerSecond": args.batch / median}))


if __name__ == "__main__":
    sys.exit(main())
