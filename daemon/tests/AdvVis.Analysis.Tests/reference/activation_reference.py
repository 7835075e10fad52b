#!/usr/bin/python3
"""Reference figures for AdvVis.Analysis (Architecture, Profiles, Layers) on real activations.

Run with the Debian interpreter (apt-get install umap-learn python3-protobuf):
    /usr/bin/python3 daemon/tests/AdvVis.Analysis.Tests/reference/activation_reference.py

Independent of the C# engine: the ONNX file is decoded here from the protobuf wire format (no onnx
package is installed) and fmnist-cnn-paper.onnx is evaluated with a float64 numpy interpreter of the
six operators it uses. Writes activation_reference.json next to this script:
  * per-layer checksums and a few full activation rows (the C# engine must reproduce them);
  * numpy Layer View reductions (mean, max, difference, direct; spatial-max and sum-|.| unit values);
  * umap-learn UMAP 1-D / 2-D trustworthiness (k = 10) per layer, and AlignedUMAP 1-D over the 5 layers.
"""
import json
import os
import struct
import sys
import time

os.environ.setdefault("NUMBA_NUM_THREADS", "2")

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
# ../shared beside the repository root (this file is daemon/tests/AdvVis.Analysis.Tests/reference/).
SHARED = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "..", "..", "shared"))
MODEL = os.path.join(SHARED, "models", "fmnist-cnn-paper.onnx")
DATA = os.path.join(SHARED, "data", "fashion-mnist", "fmnist-test-2000.npz")

# The Flow View layers: the output of each conv block (after its max-pool) and the logits.
FLOW_LAYERS = [
    "/blocks.0/blocks.0.2/MaxPool_output_0",
    "/blocks.1/blocks.1.2/MaxPool_output_0",
    "/blocks.2/blocks.2.2/MaxPool_output_0",
    "/blocks.3/blocks.3.2/MaxPool_output_0",
    "logits",
]
# Layer View reductions are checked on a conv layer before pooling (signed values would need a linear layer;
# the logits layer is signed and 1 × 1 "spatial").
REDUCTION_LAYERS = ["/blocks.1/blocks.1.1/Relu_output_0", "logits"]
REDUCTION_SET = list(range(0, 100))
DIFF_PAIR = (3, 7)
DIRECT_ITEM = 5
ROW_ITEMS = [0, 1, 1999]


# ---------------------------------------------------------------- protobuf wire format
def varint(buf, pos):
    result = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def fields(buf):
    pos = 0
    while pos < len(buf):
        key, pos = varint(buf, pos)
        num, wire = key >> 3, key & 7
        if wire == 0:
            val, pos = varint(buf, pos)
        elif wire == 1:
            val = buf[pos:pos + 8]
            pos += 8
        elif wire == 2:
            n, pos = varint(buf, pos)
            val = buf[pos:pos + n]
            pos += n
        elif wire == 5:
            val = buf[pos:pos + 4]
            pos += 4
        else:
            raise ValueError(f"wire type {wire}")
        yield num, wire, val


def signed64(v):
    return v - (1 << 64) if v >= 1 << 63 else v


def ints(wire, val):
    if wire == 0:
        return [signed64(val)]
    out, pos = [], 0
    while pos < len(val):
        v, pos = varint(val, pos)
        out.append(signed64(v))
    return out


def parse_tensor(buf):
    dims, name, raw, floats, dtype = [], "", None, [], 1
    for num, wire, val in fields(buf):
        if num == 1:
            dims += ints(wire, val)
        elif num == 2:
            dtype = val
        elif num == 4:
            floats += list(struct.unpack(f"<{len(val) // 4}f", val)) if wire == 2 else [struct.unpack("<f", val)[0]]
        elif num == 8:
            name = val.decode()
        elif num == 9:
            raw = val
    assert dtype == 1, f"initializer {name}: only float32 expected"
    arr = np.frombuffer(raw, dtype="<f4") if raw is not None else np.array(floats, dtype=np.float32)
    return name, arr.reshape(dims).astype(np.float64)


def parse_attribute(buf):
    name, value = "", None
    ilist = []
    for num, wire, val in fields(buf):
        if num == 1:
            name = val.decode()
        elif num == 2:
            value = struct.unpack("<f", val)[0]
        elif num == 3:
            value = signed64(val)
        elif num == 8:
            ilist += ints(wire, val)
    return name, (ilist if ilist else value)


def parse_node(buf):
    node = {"inputs": [], "outputs": [], "name": "", "op": "", "attrs": {}}
    for num, wire, val in fields(buf):
        if num == 1:
            node["inputs"].append(val.decode())
        elif num == 2:
            node["outputs"].append(val.decode())
        elif num == 3:
            node["name"] = val.decode()
        elif num == 4:
            node["op"] = val.decode()
        elif num == 5:
            k, v = parse_attribute(val)
            node["attrs"][k] = v
    return node


def load_onnx(path):
    with open(path, "rb") as f:
        model = f.read()
    graph = next(val for num, _, val in fields(model) if num == 7)
    nodes, weights = [], {}
    for num, _, val in fields(graph):
        if num == 1:
            nodes.append(parse_node(val))
        elif num == 5:
            k, v = parse_tensor(val)
            weights[k] = v
    return nodes, weights


# ---------------------------------------------------------------- float64 interpreter
def conv(x, w, b, attrs):
    assert attrs.get("group", 1) == 1 and all(d == 1 for d in attrs.get("dilations", [1, 1]))
    pads = attrs.get("pads", [0, 0, 0, 0])
    sh, sw = attrs.get("strides", [1, 1])
    x = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    oh, ow = (h - kh) // sh + 1, (wd - kw) // sw + 1
    out = np.zeros((n, o, oh, ow))
    for dy in range(kh):
        for dx in range(kw):
            patch = x[:, :, dy:dy + sh * oh:sh, dx:dx + sw * ow:sw]
            out += np.einsum("nchw,oc->nohw", patch, w[:, :, dy, dx])
    return out + (b.reshape(1, -1, 1, 1) if b is not None else 0)


def maxpool(x, attrs):
    kh, kw = attrs["kernel_shape"]
    sh, sw = attrs.get("strides", [1, 1])
    assert not any(attrs.get("pads", [0, 0, 0, 0])) and not attrs.get("ceil_mode", 0)
    n, c, h, w = x.shape
    oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
    out = np.full((n, c, oh, ow), -np.inf)
    for dy in range(kh):
        for dx in range(kw):
            out = np.maximum(out, x[:, :, dy:dy + sh * oh:sh, dx:dx + sw * ow:sw])
    return out


def run(nodes, weights, x):
    values = dict(weights)
    values["input"] = x
    for nd in nodes:
        ins = [values[i] if i else None for i in nd["inputs"]]
        op, a = nd["op"], nd["attrs"]
        if op == "Conv":
            y = conv(ins[0], ins[1], ins[2] if len(ins) > 2 else None, a)
        elif op == "Relu":
            y = np.maximum(ins[0], 0.0)
        elif op == "MaxPool":
            y = maxpool(ins[0], a)
        elif op == "GlobalMaxPool":
            y = ins[0].max(axis=(2, 3), keepdims=True)
        elif op == "Flatten":
            y = ins[0].reshape(ins[0].shape[0], -1)
        elif op == "Gemm":
            aa, bb = ins[0], ins[1]
            if a.get("transA", 0):
                aa = aa.T
            if a.get("transB", 0):
                bb = bb.T
            y = a.get("alpha", 1.0) * aa @ bb + (a.get("beta", 1.0) * ins[2] if len(ins) > 2 else 0)
        else:
            raise NotImplementedError(op)
        values[nd["outputs"][0]] = y
    return values


def unit_values(act, how):
    """act: [C, H, W] or [F]; spatial max or sum of |.| per unit (channel)."""
    a = act.reshape(act.shape[0], -1) if act.ndim > 1 else act.reshape(-1, 1)
    return (a.max(axis=1) if how == "max" else np.abs(a).sum(axis=1)).tolist()


def main():
    nodes, weights = load_onnx(MODEL)
    d = np.load(DATA)
    images = d["images"].astype(np.float64) / 255.0
    x = images.astype(np.float32).astype(np.float64).reshape(-1, 1, 28, 28)
    out = {"model": MODEL, "data": DATA, "nodes": [[nd["name"], nd["op"]] for nd in nodes],
           "flow_layers": FLOW_LAYERS, "reduction_layers": REDUCTION_LAYERS}

    acts = {}
    for start in range(0, x.shape[0], 250):
        values = run(nodes, weights, x[start:start + 250])
        for name in set(FLOW_LAYERS + REDUCTION_LAYERS):
            acts.setdefault(name, []).append(values[name])
    acts = {k: np.concatenate(v) for k, v in acts.items()}

    out["layers"] = {}
    for name, a in acts.items():
        flat = a.reshape(a.shape[0], -1)
        out["layers"][name] = {
            "shape": list(a.shape[1:]),
            "sum": float(flat.sum()), "abs_sum": float(np.abs(flat).sum()),
            "rows": {str(i): flat[i].tolist() for i in ROW_ITEMS},
        }
    logits = acts["logits"]
    out["predicted"] = logits.argmax(axis=1).tolist()
    out["accuracy"] = float((logits.argmax(axis=1) == d["labels"]).mean())

    out["reductions"] = {"set": REDUCTION_SET, "difference": list(DIFF_PAIR), "direct": DIRECT_ITEM}
    for name in REDUCTION_LAYERS:
        a = acts[name]
        sub = a[REDUCTION_SET]
        red = {"mean": sub.mean(axis=0), "max": sub.max(axis=0),
               "difference": a[DIFF_PAIR[0]] - a[DIFF_PAIR[1]], "direct": a[DIRECT_ITEM]}
        out["reductions"][name] = {
            k: {"values": v.reshape(-1).tolist(), "unit_max": unit_values(v, "max"), "unit_sum_abs": unit_values(v, "abs")}
            for k, v in red.items()}

    # ------------------------------------------------------------ umap-learn on the Flow View layers
    import scipy.stats
    import sklearn
    import umap
    from sklearn.manifold import trustworthiness
    out["versions"] = {"umap": umap.__version__, "sklearn": sklearn.__version__, "numpy": np.__version__,
                       "python": sys.version.split()[0]}
    layers = [acts[n].reshape(acts[n].shape[0], -1).astype(np.float32) for n in FLOW_LAYERS]
    umap.UMAP(n_components=1, random_state=0, n_epochs=20).fit(layers[0][:300])  # numba warm-up
    out["umap"] = {}
    for dim in (1, 2):
        tw, walls = [], []
        for layer in layers:
            t0 = time.perf_counter()
            emb = umap.UMAP(n_components=dim, random_state=42).fit_transform(layer)
            walls.append(time.perf_counter() - t0)
            tw.append(float(trustworthiness(layer, emb, n_neighbors=10)))
        out["umap"][f"{dim}d"] = {"trustworthiness_k10": tw, "wall_s": walls}
    n = layers[0].shape[0]
    relations = [{i: i for i in range(n)} for _ in range(len(layers) - 1)]
    t0 = time.perf_counter()
    aligned = umap.AlignedUMAP(n_components=1, random_state=42, alignment_regularisation=1e-2).fit(layers, relations=relations)
    wall = time.perf_counter() - t0
    embs = aligned.embeddings_
    spear = [float(scipy.stats.spearmanr(embs[i][:, 0], embs[i + 1][:, 0]).correlation) for i in range(len(embs) - 1)]
    out["aligned_umap_1d"] = {
        "trustworthiness_k10": [float(trustworthiness(layers[i], embs[i], n_neighbors=10)) for i in range(len(layers))],
        "spearman_neighbours": spear, "mean_abs_spearman": float(np.mean(np.abs(spear))), "wall_s": wall}

    with open(os.path.join(HERE, "activation_reference.json"), "w") as f:
        json.dump(out, f)
    summary = {k: v for k, v in out.items() if k not in ("layers", "reductions", "predicted")}
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
