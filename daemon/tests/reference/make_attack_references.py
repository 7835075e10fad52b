#!/usr/bin/python3
"""PyTorch references for the C# attacks (AdvVis.Attacks) on fmnist-cnn-paper.onnx.

The network is rebuilt in PyTorch from the ONNX file's own weights (Conv/Relu/MaxPool/GlobalMaxPool/Flatten/Gemm, read
node by node), checked against nothing but itself in float64 vs float32, and attacked with textbook implementations:
FGSM (Goodfellow et al.), PGD L-inf and L2 (Madry et al.; no random start), untargeted, cross-entropy on the logits,
inputs = Fashion-MNIST pixels / 255 in [0, 1].

Writes OUT_DIR (default daemon/tests/testdata/attacks/):
  fmnist_attacks.json     settings, clean/adversarial accuracy over the 2,000 images, per-image adversarial predictions
  fgsm_inputs.npy         float32 [8,1,28,28] the first 8 images
  fgsm_adversarial.npy    float32 [8,1,28,28] their FGSM images (eps 0.03)
  fgsm_gradient.npy       float32 [8,1,28,28] dCE/dx at the inputs (pixels with |g| ~ 0 may round to either sign)

Run: /usr/bin/python3 daemon/tests/reference/make_attack_references.py   (Debian's python3-torch, python3-onnx)
Seeded, single-threaded, deterministic: two runs give identical files.
"""
import hashlib, json, os, sys
import numpy as np
import onnx
from onnx import numpy_helper
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.path.normpath(os.path.join(HERE, "../../../../shared"))
MODEL = os.path.join(SHARED, "models/fmnist-cnn-paper.onnx")
DATA = os.path.join(SHARED, "data/fashion-mnist/fmnist-test-2000.npz")
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.normpath(os.path.join(HERE, "../testdata/attacks"))

FGSM_EPS = 0.03
PGD = dict(eps=0.03, alpha=0.0075, steps=10)
PGD_L2 = dict(eps=0.5, alpha=0.125, steps=10)
BATCH = 250

torch.set_num_threads(1)
torch.manual_seed(0)


class OnnxNet(nn.Module):
    """Executes the ONNX graph's nodes with torch.nn.functional, weights taken from the initializers."""

    def __init__(self, model):
        super().__init__()
        self.nodes = list(model.graph.node)
        self.weights = {i.name: torch.from_numpy(numpy_helper.to_array(i).copy()) for i in model.graph.initializer}
        self.input_name = model.graph.input[0].name
        self.output_name = model.graph.output[0].name
        supported = {"Conv", "Relu", "MaxPool", "GlobalMaxPool", "Flatten", "Gemm"}
        for n in self.nodes:
            if n.op_type not in supported:
                raise SystemExit(f"unsupported op {n.op_type}")

    def forward(self, x):
        values = {self.input_name: x}
        values.update({k: v.to(x.dtype) for k, v in self.weights.items()})
        for n in self.nodes:
            a = {att.name: onnx.helper.get_attribute_value(att) for att in n.attribute}
            ins = [values[i] for i in n.input]
            if n.op_type == "Conv":
                p = a.get("pads", [0, 0, 0, 0])
                assert p[0] == p[2] and p[1] == p[3]
                y = F.conv2d(ins[0], ins[1], ins[2] if len(ins) > 2 else None, stride=a.get("strides", 1),
                             padding=(p[0], p[1]), dilation=a.get("dilations", 1), groups=a.get("group", 1))
            elif n.op_type == "Relu":
                y = F.relu(ins[0])
            elif n.op_type == "MaxPool":
                assert a.get("pads", [0, 0, 0, 0]) == [0, 0, 0, 0] and a.get("ceil_mode", 0) == 0
                y = F.max_pool2d(ins[0], a["kernel_shape"], a["strides"])
            elif n.op_type == "GlobalMaxPool":
                y = torch.amax(ins[0], dim=(2, 3), keepdim=True)
            elif n.op_type == "Flatten":
                y = torch.flatten(ins[0], a.get("axis", 1))
            elif n.op_type == "Gemm":
                assert a.get("transB", 0) == 1 and a.get("alpha", 1.0) == 1.0 and a.get("beta", 1.0) == 1.0
                y = F.linear(ins[0], ins[1], ins[2])
            values[n.output[0]] = y
        return values[self.output_name]


def grad_ce(net, x, y):
    x = x.clone().requires_grad_(True)
    loss = F.cross_entropy(net(x), y, reduction="sum")
    (g,) = torch.autograd.grad(loss, x)
    return g


def fgsm(net, x, y, eps):
    return torch.clamp(x + eps * torch.sign(grad_ce(net, x, y)), 0, 1)


def pgd_linf(net, x, y, eps, alpha, steps):
    adv = x.clone()
    for _ in range(steps):
        adv = adv + alpha * torch.sign(grad_ce(net, adv, y))
        adv = torch.min(torch.max(adv, x - eps), x + eps).clamp(0, 1)
    return adv


def pgd_l2(net, x, y, eps, alpha, steps):
    adv = x.clone()
    for _ in range(steps):
        g = grad_ce(net, adv, y)
        norm = g.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, 1, 1, 1)
        adv = adv + alpha * g / norm
        delta = adv - x
        dn = delta.flatten(1).norm(dim=1).view(-1, 1, 1, 1)
        delta = delta * torch.clamp(eps / dn.clamp_min(1e-12), max=1.0)
        adv = (x + delta).clamp(0, 1)
    return adv


def main():
    os.makedirs(OUT, exist_ok=True)
    model = onnx.load(MODEL)
    net = OnnxNet(model).eval()
    d = np.load(DATA)
    images = torch.from_numpy(d["images"].astype(np.float32)[:, None] / np.float32(255))
    labels = torch.from_numpy(d["labels"].astype(np.int64))

    # float64 vs float32 sanity check of the rebuilt net.
    with torch.no_grad():
        l32 = net(images[:64]); l64 = net(images[:64].double())
    assert (l32.double() - l64).abs().max().item() < 1e-4 * l64.abs().max().item() + 1e-5

    def run(attack, **kw):
        preds = []
        for s in range(0, len(images), BATCH):
            x, y = images[s:s + BATCH], labels[s:s + BATCH]
            adv = attack(net, x, y, **kw)
            with torch.no_grad():
                preds.append(net(adv).argmax(1))
        return torch.cat(preds)

    with torch.no_grad():
        clean = torch.cat([net(images[s:s + BATCH]).argmax(1) for s in range(0, len(images), BATCH)])
    results = {}
    for name, fn, kw in [("fgsm", fgsm, {"eps": FGSM_EPS}), ("pgd_linf", pgd_linf, PGD), ("pgd_l2", pgd_l2, PGD_L2)]:
        preds = run(fn, **kw)
        results[name] = {"settings": kw, "adversarial_accuracy": float((preds == labels).double().mean()),
                         "predictions": preds.tolist()}
        print(f"{name} {kw}: adversarial accuracy {results[name]['adversarial_accuracy']:.4f}")

    x8, y8 = images[:8], labels[:8]
    np.save(os.path.join(OUT, "fgsm_inputs.npy"), x8.numpy().astype(np.float32))
    np.save(os.path.join(OUT, "fgsm_adversarial.npy"), fgsm(net, x8, y8, FGSM_EPS).detach().numpy().astype(np.float32))
    np.save(os.path.join(OUT, "fgsm_gradient.npy"), grad_ce(net, x8, y8).numpy().astype(np.float32))

    meta = {
        "model": "fmnist-cnn-paper.onnx",
        "model_sha256": hashlib.sha256(open(MODEL, "rb").read()).hexdigest(),
        "data": "fashion-mnist/fmnist-test-2000.npz (images/255, float32)",
        "count": len(images),
        "loss": "cross-entropy on the logits, summed over the batch; untargeted; no random start",
        "torch_version": torch.__version__,
        "clean_accuracy": float((clean == labels).double().mean()),
        "fgsm_sample": {"count": 8, "eps": FGSM_EPS},
        "attacks": results,
    }
    with open(os.path.join(OUT, "fmnist_attacks.json"), "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    print(f"clean accuracy {meta['clean_accuracy']:.4f}; wrote {OUT}")


if __name__ == "__main__":
    main()
