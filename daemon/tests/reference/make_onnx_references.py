#!/usr/bin/python3
"""Reference outputs, final and intermediate, for every model in ../shared/models, from an independent ONNX evaluator.

    /usr/bin/python3 make_onnx_references.py [OUT_DIR]     (default: daemon/tests/testdata/onnxref)

For each MODEL.onnx it writes OUT_DIR/MODEL/:
  input.npy           float32, seeded (RandomState(1234)), in the range of the model's preprocessing
  intermediates.npz   node-output name -> float32 array: the graph output and every float node output
                      (squeezenet: the graph output and 6 chosen intermediates, to stay small)
  meta.json           model sha256, input name and shape, how the input was made, the tensor list
Values are computed in float64 and rounded once to float32.
The values come from onnx_numpy_eval.py (a float64 numpy interpreter written from the ONNX spec), because Debian's
onnx 1.12 has no onnx.reference.ReferenceEvaluator; where the installed onnx has it (1.13+), its float32 results
are compared with the stored ones as well (same tolerance), so the data never depends on which onnx is installed.
Every stored tensor is checked against a second run of the graph with torch.nn.functional (float64), within 1e-4
relative to the tensor's largest magnitude, and the script classifies a few real images from ../shared/data as a
sanity check (printed and put in meta.json).
Needs Debian's python3-onnx (numpy); python3-torch for the second opinion and python3-pil for the sanity check.
"""
import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import glob
import gzip
import hashlib
import json
import sys

import numpy as np
import onnx

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ next to the scripts in the repo
import onnx_numpy_eval  # noqa: E402

SHARED = os.path.normpath(os.path.join(HERE, "..", "..", "..", "..", "shared"))
MODELS_DIR = os.path.join(SHARED, "models")
DATA_DIR = os.path.join(SHARED, "data")
DEFAULT_OUT = os.path.normpath(os.path.join(HERE, "..", "testdata", "onnxref"))

try:
    from onnx.reference import ReferenceEvaluator
except ImportError:
    ReferenceEvaluator = None

CAFFE_BGR_MEAN = (104.0, 117.0, 123.0)

# model stem -> input kind (the model's preprocessing, from ../shared/models/README.md)
INPUT_KIND = {
    "mnist-zoo-opset7": "unit",               # pixels / 255
    "fmnist-cnn-paper": "unit",
    "fmnist-cnn-wide": "unit",
    "mnist-cnn-pytorch-opset11": "symmetric",  # (x/255 - 0.5) / 0.5
    "cifar10-tutorialnet-opset9": "symmetric",
    "squeezenet1.0-fp32": "caffe",            # BGR, 0..255, minus mean (104, 117, 123)
    "squeezenet1.0-fp32-logits": "caffe",
}

# squeezenet: besides the graph output, keep only these (small enough, and each a different operator)
SQUEEZENET_KEEP = ["fire2/squeeze1x1_2", "pool3_1", "fire5/concat_1", "fire9/concat_2", "conv10_2", "pool10_1",
                   "fire6/squeeze1x1_2"]
MAX_KEEP = 6
TOLERANCE = 1e-4


def _torch_version():
    try:
        import torch
        return torch.__version__
    except ImportError:
        return "not installed"


def evaluator_name():
    return "onnx_numpy_eval.py (float64 numpy, written from the ONNX spec)"


def run_all(model, feeds):
    """Every node output (float64 where floating) for the given feeds."""
    return onnx_numpy_eval.evaluate(model, feeds)


def reference_evaluator_check(model, feeds, arrays):
    """Largest relative error of onnx.reference.ReferenceEvaluator (float32) against the stored tensors."""
    if ReferenceEvaluator is None:
        return f"skipped (onnx {onnx.__version__} has no onnx.reference.ReferenceEvaluator)"
    m = onnx.ModelProto()
    m.CopyFrom(model)
    known = {o.name for o in m.graph.output}
    for node in m.graph.node:
        for o in node.output:
            if o and o not in known:
                m.graph.output.append(onnx.ValueInfoProto(name=o))
                known.add(o)
    names = [o.name for o in m.graph.output]
    outs = dict(zip(names, ReferenceEvaluator(m).run(None, {k: v.astype(np.float32) for k, v in feeds.items()})))
    worst = 0.0
    for name, ref in arrays.items():
        ref64 = ref.astype(np.float64)
        err = float(np.max(np.abs(outs[name].astype(np.float64) - ref64)) / max(np.max(np.abs(ref64)), 1e-30))
        worst = max(worst, err)
    return worst


def graph_input(model):
    inits = {t.name for t in model.graph.initializer}
    ins = [i for i in model.graph.input if i.name not in inits]
    if len(ins) != 1:
        raise SystemExit(f"expected one graph input, got {[i.name for i in ins]}")
    dims = [d.dim_value if d.HasField("dim_value") else None for d in ins[0].type.tensor_type.shape.dim]
    return ins[0].name, dims


def smooth_caffe_image(rs, h, w):
    """A photo-like input: smooth random colours plus grain, 0..255, BGR minus the Caffe mean."""
    low = rs.uniform(0.0, 255.0, size=(3, 8, 8))
    ys, xs = np.linspace(0, 7, h), np.linspace(0, 7, w)
    rows = np.stack([[np.interp(xs, np.arange(8), low[c, r]) for r in range(8)] for c in range(3)])  # 3,8,w
    img = np.stack([np.stack([np.interp(ys, np.arange(8), rows[c, :, j]) for j in range(w)], axis=1)
                    for c in range(3)])  # 3,h,w
    img = np.clip(img + rs.uniform(-16.0, 16.0, size=img.shape), 0.0, 255.0)
    return img - np.array(CAFFE_BGR_MEAN).reshape(3, 1, 1)


def make_input(kind, shape):
    rs = np.random.RandomState(1234)
    if kind == "unit":
        x, how = rs.rand(*shape), "RandomState(1234).rand(shape): uniform [0,1) (pixels / 255)"
    elif kind == "symmetric":
        x, how = rs.uniform(-1.0, 1.0, size=shape), "RandomState(1234).uniform(-1,1,shape) ((x/255-0.5)/0.5)"
    elif kind == "caffe":
        x = np.stack([smooth_caffe_image(rs, shape[2], shape[3]) for _ in range(shape[0])])
        how = ("RandomState(1234): 8x8 uniform[0,255] colours bilinearly upsampled, + uniform[-16,16) grain, "
               "clipped to [0,255], minus Caffe BGR mean (104,117,123); roughly [-123,151]")
    else:
        raise ValueError(kind)
    return x.astype(np.float32), how


# ---- second opinion: the same graph run with PyTorch's kernels (torch.nn.functional, float64) ----

def _torch_same_pads(in_sp, k, s, d, upper):
    pads = []
    for i in range(len(k)):
        out = -(-in_sp[i] // s[i])
        total = max((out - 1) * s[i] + (k[i] - 1) * d[i] + 1 - in_sp[i], 0)
        lo = total // 2 if upper else total - total // 2
        pads.append((lo, total - lo))
    return pads


def torch_evaluate(model, feeds):
    """Run the graph with torch.nn.functional; returns float64 numpy arrays for every node output."""
    import torch
    import torch.nn.functional as F
    from onnx import numpy_helper
    opset = next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))

    def t(a):
        a = np.asarray(a)
        return torch.from_numpy(a.astype(np.float64) if a.dtype.kind == "f" else a.copy())

    v = {i.name: t(numpy_helper.to_array(i)) for i in model.graph.initializer}
    v.update({k: t(a) for k, a in feeds.items()})
    for node in model.graph.node:
        a = {x.name: onnx.helper.get_attribute_value(x) for x in node.attribute}
        x = [v[i] for i in node.input if i]
        op = node.op_type
        if op in ("Conv", "MaxPool"):
            k = list(a.get("kernel_shape", x[1].shape[2:] if op == "Conv" else None))
            s = list(a.get("strides", [1, 1]))
            d = list(a.get("dilations", [1, 1]))
            ap = a.get("auto_pad", b"NOTSET")
            ap = ap.decode() if isinstance(ap, bytes) else ap
            if ap.startswith("SAME"):
                pp = _torch_same_pads(list(x[0].shape[2:]), k, s, d, ap == "SAME_UPPER")
            elif ap == "VALID":
                pp = [(0, 0), (0, 0)]
            else:
                p = list(a.get("pads", [0, 0, 0, 0]))
                pp = [(p[0], p[2]), (p[1], p[3])]
            fill = 0.0 if op == "Conv" else float("-inf")
            xin = F.pad(x[0], (pp[1][0], pp[1][1], pp[0][0], pp[0][1]), value=fill)
            if op == "Conv":
                y = F.conv2d(xin, x[1], x[2] if len(x) > 2 else None, stride=s, dilation=d, groups=a.get("group", 1))
            else:
                y = F.max_pool2d(xin, k, stride=s, dilation=d, ceil_mode=bool(a.get("ceil_mode", 0)))
            outs = [y]
        elif op == "Relu":
            outs = [F.relu(x[0])]
        elif op == "GlobalMaxPool":
            outs = [torch.amax(x[0], dim=(2, 3), keepdim=True)]
        elif op == "GlobalAveragePool":
            outs = [F.adaptive_avg_pool2d(x[0], 1)]
        elif op == "Add":
            outs = [torch.add(x[0], x[1])]
        elif op == "MatMul":
            outs = [torch.matmul(x[0], x[1])]
        elif op == "Gemm":
            A = x[0].t() if a.get("transA", 0) else x[0]
            B = x[1].t() if a.get("transB", 0) else x[1]
            y = a.get("alpha", 1.0) * torch.mm(A, B)
            outs = [y + a.get("beta", 1.0) * x[2] if len(x) > 2 else y]
        elif op == "Reshape":
            shape = [int(z) for z in x[1].tolist()]
            outs = [x[0].reshape([x[0].shape[i] if z == 0 else z for i, z in enumerate(shape)])]
        elif op == "Flatten":
            outs = [torch.flatten(x[0], start_dim=a.get("axis", 1))]
        elif op == "Concat":
            outs = [torch.cat(x, dim=a["axis"])]
        elif op == "Dropout":
            outs = [x[0].clone(), None]
        elif op == "Softmax":
            if opset >= 13:
                outs = [torch.softmax(x[0], dim=a.get("axis", -1))]
            else:
                ax = a.get("axis", 1)
                outs = [torch.softmax(x[0].flatten(ax), dim=-1).reshape(x[0].shape)]
        elif op == "Constant":
            outs = [t(numpy_helper.to_array(a["value"]))]
        else:
            raise NotImplementedError(op)
        for name, val in zip(node.output, outs):
            if name and val is not None:
                v[name] = val
    return {k: val.numpy() for k, val in v.items()}


def torch_second_opinion(model, feeds, arrays):
    """Largest max|torch - ref| / max|ref| over the stored tensors, or a reason it was not computed."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return "skipped (no torch)"
    tv = torch_evaluate(model, feeds)
    worst = 0.0
    for name, ref in arrays.items():
        ref64 = ref.astype(np.float64)
        err = float(np.max(np.abs(tv[name] - ref64)) / max(np.max(np.abs(ref64)), 1e-30))
        worst = max(worst, err)
    return worst


# ---- sanity check on real data (printed and recorded, not saved as references) ----

def _mnist_images(n):
    with gzip.open(os.path.join(DATA_DIR, "mnist", "t10k-images-idx3-ubyte.gz")) as f:
        imgs = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)[:n]
    with gzip.open(os.path.join(DATA_DIR, "mnist", "t10k-labels-idx1-ubyte.gz")) as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)[:n]
    return imgs[:, None].astype(np.float64) / 255.0, labels


def _fmnist_images(n):
    d = np.load(os.path.join(DATA_DIR, "fashion-mnist", "fmnist-test-2000.npz"))
    return d["images"][:n, None].astype(np.float64) / 255.0, d["labels"][:n]


def _cifar_images():
    from PIL import Image
    files = sorted(glob.glob(os.path.join(DATA_DIR, "cifar10", "foolbox_samples", "*.png")))
    imgs = [np.asarray(Image.open(f).convert("RGB"), np.float64).transpose(2, 0, 1) / 255.0 for f in files]
    labels = [int(os.path.basename(f).rsplit("_", 1)[1].split(".")[0]) for f in files]
    return np.stack(imgs), np.array(labels)


def _panda():
    from PIL import Image
    im = Image.open(os.path.join(DATA_DIR, "imagenet", "giant_panda_byassine.jpg")).convert("RGB")
    s = 256.0 / min(im.size)
    im = im.resize((round(im.size[0] * s), round(im.size[1] * s)), Image.BILINEAR)
    left, top = (im.size[0] - 224) // 2, (im.size[1] - 224) // 2
    a = np.asarray(im.crop((left, top, left + 224, top + 224)), np.float64)[:, :, ::-1].transpose(2, 0, 1)
    return (a - np.array(CAFFE_BGR_MEAN).reshape(3, 1, 1))[None], np.array([388])


def sanity(stem, model, in_name, out_name, batch_fixed):
    try:
        if stem.startswith("mnist"):
            x, y = _mnist_images(200)
            if stem == "mnist-cnn-pytorch-opset11":
                x = (x - 0.5) / 0.5
            what = "first 200 MNIST t10k digits"
        elif stem.startswith("fmnist"):
            x, y = _fmnist_images(200)
            what = "first 200 Fashion-MNIST test images"
        elif stem.startswith("cifar10"):
            x, y = _cifar_images()
            x = (x - 0.5) / 0.5
            what = "20 foolbox CIFAR-10 samples"
        elif stem.startswith("squeezenet"):
            x, y = _panda()
            what = "giant_panda_byassine.jpg (expected class 388)"
        else:
            return None
    except (ImportError, OSError) as e:
        return f"skipped ({e})"
    step = 1 if batch_fixed else 50
    preds = []
    for i in range(0, len(x), step):
        out = run_all(model, {in_name: x[i:i + step]})[out_name]
        preds.append(out.reshape(out.shape[0], -1).argmax(axis=1))
    preds = np.concatenate(preds)
    return f"{what}: {int((preds == y).sum())}/{len(y)} correct" + (
        f" (predicted {preds.tolist()})" if len(y) == 1 else "")


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def make_one(path, out_root):
    stem = os.path.basename(path)[:-len(".onnx")]
    if stem not in INPUT_KIND:
        raise SystemExit(f"{stem}: unknown preprocessing; add it to INPUT_KIND")
    model = onnx.load(path)
    in_name, dims = graph_input(model)
    out_name = model.graph.output[0].name
    batch_fixed = dims[0] is not None
    shape = (dims[0] if batch_fixed else 2,) + tuple(dims[1:])
    x, how = make_input(INPUT_KIND[stem], shape)

    values = run_all(model, {in_name: x})
    tensors = []
    for node in model.graph.node:
        for o in node.output:
            if o and np.asarray(values[o]).dtype.kind == "f":
                tensors.append((o, node.op_type, node.name))
    if stem.startswith("squeezenet"):
        keep = [t for t in tensors if t[0] in SQUEEZENET_KEEP and t[0] != out_name][:MAX_KEEP]
        tensors = keep + [t for t in tensors if t[0] == out_name]
    arrays = {}
    for name, _, _ in tensors:
        a = np.asarray(values[name])
        if not np.all(np.isfinite(a)):
            raise SystemExit(f"{stem}: {name} has non-finite values")
        arrays[name] = a.astype(np.float32)

    final = arrays[out_name]
    check = sanity(stem, model, in_name, out_name, batch_fixed)
    second = torch_second_opinion(model, {in_name: x}, arrays)
    if isinstance(second, float) and second > TOLERANCE:
        raise SystemExit(f"{stem}: torch.nn.functional disagrees with the evaluator: rel err {second:.2e}")
    third = reference_evaluator_check(model, {in_name: x}, arrays)
    if isinstance(third, float) and third > TOLERANCE:
        raise SystemExit(f"{stem}: onnx ReferenceEvaluator disagrees with the evaluator: rel err {third:.2e}")
    print(f"{stem}: input {list(x.shape)} [{x.min():.3g}, {x.max():.3g}], {len(arrays)} tensors, "
          f"output {out_name} {list(final.shape)} [{final.min():.4g}, {final.max():.4g}]; "
          f"torch.nn.functional max rel err {second if isinstance(second, str) else f'{second:.2e}'}; "
          f"sanity: {check}")

    d = os.path.join(out_root, stem)
    os.makedirs(d, exist_ok=True)
    np.save(os.path.join(d, "input.npy"), x)
    np.savez(os.path.join(d, "intermediates.npz"), **arrays)
    meta = {
        "model": os.path.basename(path),
        "model_sha256": sha256(path),
        "made_by": "daemon/tests/reference/make_onnx_references.py",
        "evaluator": evaluator_name(),
        "numpy_version": np.__version__,
        "compute_dtype": "float64",
        "stored_dtype": "float32",
        "input_name": in_name,
        "input_shape": list(x.shape),
        "input": how,
        "output_name": out_name,
        "npz": "intermediates.npz: one entry per tensor, key = ONNX tensor name (np.savez, uncompressed; "
               "zip entry = name + '.npy')",
        "all_node_outputs": not stem.startswith("squeezenet"),
        "tensors": [{"name": n, "op": op, "node": nn, "shape": list(arrays[n].shape)} for n, op, nn in tensors],
        "torch_functional_check": {
            "what": "the same graph run op by op with torch.nn.functional in float64 (torch "
                    + _torch_version() + "); max over stored tensors of max|torch - stored| / max|stored|",
            "max_rel_err": second,
            "tolerance": TOLERANCE,
        },
        "onnx_reference_evaluator_check": third,
        "sanity_check": check,
    }
    with open(os.path.join(d, "meta.json"), "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")


def main():
    if len(sys.argv) > 2:
        sys.exit(__doc__)
    out_root = sys.argv[1] if len(sys.argv) == 2 else DEFAULT_OUT
    print("evaluator:", evaluator_name())
    paths = sorted(glob.glob(os.path.join(MODELS_DIR, "*.onnx")))
    if not paths:
        sys.exit(f"no models in {MODELS_DIR}")
    for p in paths:
        make_one(p, out_root)


if __name__ == "__main__":
    main()
