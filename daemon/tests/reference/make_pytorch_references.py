#!/usr/bin/python3
"""PyTorch reference logits and input gradients for the three fixed-random-weight CNNs.

    /usr/bin/python3 make_pytorch_references.py OUT_DIR MODELS_DIR

OUT_DIR is normally daemon/tests/testdata/pytorch; MODELS_DIR holds the ONNX files that
make_reference_models.sh wrote (normally daemon/tests/.cache/models).
Each torch module is rebuilt exactly as ../shared/tools/make-reference-models.py builds it
(its own builder functions, after torch.manual_seed(0), in eval mode), then run in float64:

    x  = RandomState(1234).rand(shape) as float32      (input.npy)
    C  = RandomState(4321).standard_normal(logits shape) as float32  (cotangent.npy)
    L  = sum(logits * C)
    input_grad = dL/dx                                 (input_grad.npy)

plus one intermediate activation and dL/d(activation), with the ONNX tensor name that holds it.
The ONNX file is cross-checked against the module with onnx_numpy_eval (onnx 1.12 has no ReferenceEvaluator).
Needs Debian's python3-torch, python3-torchvision and python3-onnx.
"""
import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import hashlib
import importlib.util
import json
import sys

import numpy as np
import onnx
import torch
import torchvision

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ next to the scripts in the repo
from onnx_numpy_eval import evaluate  # noqa: E402

SHARED_TOOL = os.path.normpath(os.path.join(HERE, "..", "..", "..", "..", "shared", "tools",
                                            "make-reference-models.py"))
TOLERANCE = 1e-4

# model stem -> (builder name in make-reference-models.py, batch, module whose output is the intermediate)
MODELS = {
    "resnet18-cifar": ("resnet18_cifar", 2, "layer2"),
    "mobilenetv2": ("mobilenetv2", 1, "features.8"),
    "vgg11-bn-cifar": ("vgg11_bn_cifar", 2, "features.14"),
}


def load_shared_tool():
    spec = importlib.util.spec_from_file_location("make_reference_models", SHARED_TOOL)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def rel_err(a, b):
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-30))


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def make_one(tool, stem, builder, batch, inter_module, out_dir, models_dir):
    torch.manual_seed(0)
    model, shape = getattr(tool, builder)()
    model.eval()
    model.double()
    shape = (batch,) + tuple(shape[1:])

    x32 = np.random.RandomState(1234).rand(*shape).astype(np.float32)
    x = torch.from_numpy(x32.astype(np.float64)).requires_grad_(True)

    captured = {}

    def hook(_module, _inputs, output):
        output.retain_grad()
        captured["act"] = output

    handle = dict(model.named_modules())[inter_module].register_forward_hook(hook)
    logits = model(x)
    handle.remove()

    c32 = np.random.RandomState(4321).standard_normal(tuple(logits.shape)).astype(np.float32)
    loss = (logits * torch.from_numpy(c32.astype(np.float64))).sum()
    loss.backward()

    logits64 = logits.detach().numpy()
    grad64 = x.grad.numpy()
    act64 = captured["act"].detach().numpy()
    act_grad64 = captured["act"].grad.numpy()
    for name, arr in (("logits", logits64), ("input_grad", grad64), ("intermediate_grad", act_grad64)):
        if not np.all(np.isfinite(arr)) or not np.any(arr != 0):
            raise SystemExit(f"{stem}: {name} is not finite or all zero")

    # Cross-check: the ONNX export run by an independent evaluator must give the module's logits.
    onnx_path = os.path.join(models_dir, stem + ".onnx")
    onnx_model = onnx.load(onnx_path)
    values = evaluate(onnx_model, {"input": x32})
    onnx_logits = values["logits"]
    logits_err = rel_err(onnx_logits, logits64)
    # Find the ONNX tensor that holds the intermediate activation.
    produced = [o for n in onnx_model.graph.node for o in n.output if o]
    candidates = [(rel_err(values[o], act64), o) for o in produced
                  if o in values and values[o].shape == act64.shape]
    act_err, act_name = min(candidates) if candidates else (float("inf"), None)
    ok = logits_err < TOLERANCE and act_err < TOLERANCE
    print(f"{stem}: onnx-vs-torch logits rel err {logits_err:.2e}, intermediate {inter_module} = "
          f"ONNX '{act_name}' rel err {act_err:.2e} -> {'OK' if ok else 'FAIL'}")

    d = os.path.join(out_dir, stem)
    os.makedirs(d, exist_ok=True)
    np.save(os.path.join(d, "input.npy"), x32)
    np.save(os.path.join(d, "logits.npy"), logits64.astype(np.float32))
    np.save(os.path.join(d, "cotangent.npy"), c32)
    np.save(os.path.join(d, "input_grad.npy"), grad64.astype(np.float32))
    np.save(os.path.join(d, "intermediate.npy"), act64.astype(np.float32))
    np.save(os.path.join(d, "intermediate_grad.npy"), act_grad64.astype(np.float32))
    meta = {
        "model": stem + ".onnx",
        "model_sha256": sha256(onnx_path),
        "made_by": "daemon/tests/reference/make_pytorch_references.py",
        "torch_version": torch.__version__,
        "torchvision_version": torchvision.__version__,
        "numpy_version": np.__version__,
        "onnx_version": onnx.__version__,
        "module": f"make-reference-models.py {builder}() after torch.manual_seed(0), eval(), then .double()",
        "compute_dtype": "float64",
        "stored_dtype": "float32 (all .npy files; computed in float64 and rounded once)",
        "batch": batch,
        "input_name": "input",
        "output_name": "logits",
        "files": {
            "input.npy": {"shape": list(x32.shape), "what": "x = RandomState(1234).rand(shape), float32, in [0,1)"},
            "logits.npy": {"shape": list(logits64.shape), "what": "module(x)"},
            "cotangent.npy": {"shape": list(c32.shape),
                              "what": "C = RandomState(4321).standard_normal(logits shape), float32"},
            "input_grad.npy": {"shape": list(grad64.shape), "what": "dL/dx"},
            "intermediate.npy": {"shape": list(act64.shape),
                                 "what": f"output of torch module '{inter_module}' = ONNX tensor '{act_name}'"},
            "intermediate_grad.npy": {"shape": list(act_grad64.shape), "what": "dL/d(intermediate)"},
        },
        "loss": "L = sum(logits * C) over all elements (so dL/dlogits = C)",
        "intermediate_torch_module": inter_module,
        "intermediate_onnx_tensor": act_name,
        "cross_check": {
            "evaluator": "onnx_numpy_eval.py (float64 numpy, written from the ONNX spec; onnx "
                         + onnx.__version__ + " has no onnx.reference.ReferenceEvaluator)",
            "logits_rel_err": logits_err,
            "intermediate_rel_err": act_err,
            "rel_err_definition": "max|onnx - torch| / max|torch|",
            "tolerance": TOLERANCE,
            "passed": ok,
        },
    }
    with open(os.path.join(d, "meta.json"), "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")
    return ok


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    out_dir, models_dir = sys.argv[1], sys.argv[2]
    torch.set_num_threads(1)
    tool = load_shared_tool()
    ok = True
    for stem, (builder, batch, inter) in MODELS.items():
        ok &= make_one(tool, stem, builder, batch, inter, out_dir, models_dir)
    if not ok:
        sys.exit("cross-check failed")


if __name__ == "__main__":
    main()
