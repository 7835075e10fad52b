#!/usr/bin/python3
"""Export torchvision classifiers (random weights) to ONNX with their PyTorch logits and input gradients.

    /usr/bin/python3 make_classifier_references.py OUT_DIR [NAME ...]
    /usr/bin/python3 make_classifier_references.py --list

Without names it makes the small set the test suite uses (SUITE below); NAME may be any key of MODELS, or
"all" for every model in the table. For each NAME it writes

    OUT_DIR/NAME.onnx          torch.onnx.export of the module (input 'input', output 'logits', dynamic batch)
    OUT_DIR/NAME/input.npy     x = RandomState(1234).rand(shape), float32 in [0, 1)
    OUT_DIR/NAME/logits.npy    module(x), computed in float64, stored as float32
    OUT_DIR/NAME/cotangent.npy C = RandomState(4321).standard_normal(logits shape), float32
    OUT_DIR/NAME/input_grad.npy  dL/dx for L = sum(logits * C), float64 then float32
    OUT_DIR/NAME/meta.json     versions, opset, shapes, sha256 of the ONNX file

and skips a model whose meta.json already records the same recipe. Weights come from torch.manual_seed(0) before
the module is built (no download); the module runs in eval mode, and the float64 reference is the same module
after .double(), so it has exactly the exported float32 weights. Exports are single-threaded and seeded; with
Debian's torch 1.13 two runs give byte-identical files.

The "tiny-*" models are torchvision's own classes (SwinTransformer, VisionTransformer, ConvNeXt) with small widths,
so the test suite exercises the same exported graphs (shift masks, class token, layer norms) in seconds.
Needs Debian's python3-torch, python3-torchvision and python3-onnx (run with /usr/bin/python3).
"""
import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import hashlib
import json
import sys
import time
import warnings

import numpy as np
import onnx
import torch
import torchvision
from torchvision.models import convnext, swin_transformer, vision_transformer

RECIPE = 2  # bump when the way a model is built, exported or referenced changes


def tiny_swin():
    # 40x40 input: a 10x10 patch grid and 4x4 windows, so windows are padded (10 % 4 != 0) and shifted by 2.
    return swin_transformer.SwinTransformer(patch_size=[4, 4], embed_dim=16, depths=[2, 2], num_heads=[2, 4],
                                            window_size=[4, 4], stochastic_depth_prob=0.0, num_classes=10), 40


def tiny_vit():
    return vision_transformer.VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=2,
                                                hidden_dim=32, mlp_dim=64, num_classes=10), 32


def tiny_convnext():
    blocks = [convnext.CNBlockConfig(16, 32, 2), convnext.CNBlockConfig(32, None, 2)]
    return convnext.ConvNeXt(blocks, stochastic_depth_prob=0.0, num_classes=10), 32


def tv(name, size=224, **kwargs):
    return lambda: (getattr(torchvision.models, name)(weights=None, **kwargs), size)


# name -> (builder, opset, batch[, dynamic spatial axes]). Opsets vary on purpose: MobileNetV3-Small at 13 exports hardswish as
# HardSigmoid * x, at 14+ as HardSwish; opset 17 is the first with LayerNormalization.
MODELS = {
    "tiny-swin": (tiny_swin, 17, 2),
    # Height and width symbolic too: the shift-mask subgraph cannot fold at load and runs with every input.
    "tiny-swin-dynamic": (tiny_swin, 17, 2, True),
    "tiny-vit": (tiny_vit, 17, 2),
    "tiny-vit-opset13": (tiny_vit, 13, 2),
    "tiny-convnext": (tiny_convnext, 17, 2),
    "mobilenet_v3_small": (tv("mobilenet_v3_small"), 13, 1),
    "mobilenet_v3_large": (tv("mobilenet_v3_large"), 17, 1),
    "efficientnet_b0": (tv("efficientnet_b0"), 13, 1),
    "convnext_tiny": (tv("convnext_tiny"), 17, 1),
    "vit_b_32": (tv("vit_b_32"), 17, 1),
    "vit_b_16": (tv("vit_b_16"), 14, 1),
    "swin_t": (tv("swin_t"), 17, 1),
    "resnet50": (tv("resnet50"), 13, 1),
    "densenet121": (tv("densenet121"), 13, 1),
    "googlenet": (tv("googlenet", aux_logits=False, init_weights=True), 13, 1),
    "inception_v3": (tv("inception_v3", 299, aux_logits=False, init_weights=True), 13, 1),
    "shufflenet_v2_x1_0": (tv("shufflenet_v2_x1_0"), 11, 1),
    "regnet_y_400mf": (tv("regnet_y_400mf"), 13, 1),
    "mnasnet1_0": (tv("mnasnet1_0"), 13, 1),
    "squeezenet1_1": (tv("squeezenet1_1"), 9, 1),
    "alexnet": (tv("alexnet"), 13, 1),
    "resnext50_32x4d": (tv("resnext50_32x4d"), 13, 1),
    "efficientnet_v2_s": (tv("efficientnet_v2_s", 384), 17, 1),
    "regnet_x_400mf": (tv("regnet_x_400mf"), 13, 1),
    "mobilenet_v2": (tv("mobilenet_v2"), 12, 1),
    "vgg11_bn": (tv("vgg11_bn"), 11, 1),
    "wide_resnet50_2": (tv("wide_resnet50_2"), 13, 1),
}

SUITE = ["tiny-swin", "tiny-swin-dynamic", "tiny-vit", "tiny-vit-opset13", "tiny-convnext", "mobilenet_v3_small", "mobilenet_v3_large"]


def untrained_defaults(model):
    """Undoes initialisations that make an untrained model a poor reference: ViT's zero head gives zero logits and
    zero gradients, and ConvNeXt's layer scale of 1e-6 mutes every block. Zero weight matrices are drawn from
    N(0, 0.02^2) and layer scales set to 0.5, both under the same seed."""
    with torch.no_grad():
        for pname, p in model.named_parameters():
            if p.dim() >= 2 and not torch.any(p != 0):
                p.normal_(0.0, 0.02)
            elif pname.endswith("layer_scale"):
                p.fill_(0.5)


def rel_err(a, b):
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-30))


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def recipe(name):
    _, opset, batch, *dynamic = MODELS[name]
    return {"recipe": RECIPE, "name": name, "opset": opset, "batch": batch,
            "torch_version": torch.__version__, "torchvision_version": torchvision.__version__,
            **({"dynamic_spatial": True} if dynamic else {})}


def up_to_date(out_dir, name):
    meta_path = os.path.join(out_dir, name, "meta.json")
    onnx_path = os.path.join(out_dir, name + ".onnx")
    if not (os.path.isfile(meta_path) and os.path.isfile(onnx_path)):
        return False
    with open(meta_path) as f:
        meta = json.load(f)
    return all(meta.get(k) == v for k, v in recipe(name).items()) and meta.get("model_sha256") == sha256(onnx_path)


def make_one(out_dir, name):
    builder, opset, batch, *dynamic = MODELS[name]
    axes = {0: "batch", 2: "height", 3: "width"} if dynamic else {0: "batch"}
    torch.manual_seed(0)
    model, size = builder()
    untrained_defaults(model)
    model.eval()
    shape = (batch, 3, size, size)
    onnx_path = os.path.join(out_dir, name + ".onnx")
    started = time.time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, torch.zeros(*shape), onnx_path, opset_version=opset,
                          input_names=["input"], output_names=["logits"],
                          dynamic_axes={"input": axes, "logits": {0: "batch"}})
    exported = time.time() - started

    x32 = np.random.RandomState(1234).rand(*shape).astype(np.float32)
    # PyTorch's own float32 run, for scale: how far float32 arithmetic alone lands from the float64 reference.
    xf = torch.from_numpy(x32).requires_grad_(True)
    logits_f = model(xf)
    c32 = np.random.RandomState(4321).standard_normal(tuple(logits_f.shape)).astype(np.float32)
    (logits_f * torch.from_numpy(c32)).sum().backward()
    logits_f, grad_f = logits_f.detach().numpy(), xf.grad.numpy()

    model.double()
    x = torch.from_numpy(x32.astype(np.float64)).requires_grad_(True)
    logits = model(x)
    (logits * torch.from_numpy(c32.astype(np.float64))).sum().backward()
    logits64 = logits.detach().numpy()
    grad64 = x.grad.numpy()
    for what, arr in (("logits", logits64), ("input_grad", grad64)):
        if not np.all(np.isfinite(arr)) or not np.any(arr != 0):
            raise SystemExit(f"{name}: {what} is not finite or all zero")

    d = os.path.join(out_dir, name)
    os.makedirs(d, exist_ok=True)
    np.save(os.path.join(d, "input.npy"), x32)
    np.save(os.path.join(d, "logits.npy"), logits64.astype(np.float32))
    np.save(os.path.join(d, "cotangent.npy"), c32)
    np.save(os.path.join(d, "input_grad.npy"), grad64.astype(np.float32))
    graph = onnx.load(onnx_path).graph
    meta = dict(recipe(name))
    meta.update({
        "model": name + ".onnx",
        "model_sha256": sha256(onnx_path),
        "made_by": "daemon/tests/reference/make_classifier_references.py",
        "onnx_version": onnx.__version__,
        "numpy_version": np.__version__,
        "input_shape": list(shape),
        "logits_shape": list(logits64.shape),
        "operators": sorted({n.op_type for n in graph.node}),
        "export_seconds": round(exported, 1),
        "loss": "L = sum(logits * C); input_grad = dL/dx; computed in float64",
        "torch_float32_rel_err": {"logits": rel_err(logits_f, logits64), "input_grad": rel_err(grad_f, grad64)},
    })
    with open(os.path.join(d, "meta.json"), "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")
    print(f"{name}: opset {opset}, {os.path.getsize(onnx_path)} bytes, export {exported:.1f}s, "
          f"total {time.time() - started:.1f}s", flush=True)


def main():
    args = sys.argv[1:]
    if args == ["--list"]:
        print("\n".join(MODELS))
        return
    if not args or args[0].startswith("-"):
        sys.exit(__doc__)
    out_dir, names = args[0], args[1:] or SUITE
    if names == ["all"]:
        names = list(MODELS)
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        sys.exit(f"unknown model(s): {', '.join(unknown)}; --list shows the table")
    torch.set_num_threads(1)
    os.makedirs(out_dir, exist_ok=True)
    for name in names:
        if up_to_date(out_dir, name):
            print(f"{name}: up to date in {out_dir}")
            continue
        make_one(out_dir, name)


if __name__ == "__main__":
    main()
