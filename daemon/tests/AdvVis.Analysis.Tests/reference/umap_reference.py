#!/usr/bin/python3
"""Reference figures for AdvVis.Analysis.Projection, computed with umap-learn + scikit-learn.

Run with the Debian interpreter (apt-get install umap-learn):
    /usr/bin/python3 daemon/tests/AdvVis.Analysis.Tests/reference/umap_reference.py

Writes umap_reference.json next to this script. Everything here is reproducible from
files the C# tests can read themselves: the Fashion-MNIST npz and a SplitMix64 stream
(`splitmix_uniform`) that the C# tests re-implement bit-for-bit, so no large binary
fixtures have to be committed.
"""
import json
import os
import sys
import time

os.environ.setdefault("NUMBA_NUM_THREADS", "2")

import numpy as np
import scipy
import scipy.stats
import sklearn
import umap
from sklearn.manifold import trustworthiness
from umap.umap_ import find_ab_params

HERE = os.path.dirname(os.path.abspath(__file__))
# ../shared beside the repository root (this file is daemon/tests/AdvVis.Analysis.Tests/reference/).
SHARED = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "..", "..", "shared"))
DATA = os.path.join(SHARED, "data", "fashion-mnist", "fmnist-test-2000.npz")
MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)

# The synthetic "network" the aligned tests project: widths of layers after the pixel layer.
LAYER_WIDTHS = [512, 256, 128, 64]
LAYER_SEED = 20240601


def splitmix_uniform(seed, count):
    """count doubles in [0,1): SplitMix64(seed + (i+1)*golden), top 53 bits. Mirrored in C# (SplitMixStream)."""
    with np.errstate(over="ignore"):
        i = np.arange(1, count + 1, dtype=np.uint64)
        z = np.uint64(seed) + i * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) * (1.0 / 9007199254740992.0)


def load_pixels():
    d = np.load(DATA)
    x = d["images"].reshape(d["images"].shape[0], -1).astype(np.float64) / 255.0
    return x.astype(np.float32), d["labels"]


def synthetic_layers(pixels):
    """Pixel layer followed by He-uniform random dense layers (ReLU except the last), float64 math, float32 out."""
    layers = [pixels.astype(np.float32)]
    current = pixels.astype(np.float64)
    for li, width in enumerate(LAYER_WIDTHS):
        fan_in = current.shape[1]
        u = splitmix_uniform(LAYER_SEED + li, fan_in * width).reshape(fan_in, width)
        w = (2.0 * u - 1.0) * np.sqrt(6.0 / fan_in)
        current = current @ w
        if li < len(LAYER_WIDTHS) - 1:
            current = np.maximum(current, 0.0)
        layers.append(current.astype(np.float32))
    return layers


def spearman_chain(embeddings):
    return [float(scipy.stats.spearmanr(embeddings[i][:, 0], embeddings[i + 1][:, 0]).correlation)
            for i in range(len(embeddings) - 1)]


def main():
    out = {
        "versions": {"umap": umap.__version__, "sklearn": sklearn.__version__, "numpy": np.__version__,
                     "python": sys.version.split()[0]},
        "data": DATA,
        "layer_widths": LAYER_WIDTHS,
        "layer_seed": LAYER_SEED,
    }

    # 1. find_ab_params (scipy curve_fit) for a few (spread, min_dist).
    out["ab_params"] = []
    for spread, min_dist in [(1.0, 0.1), (1.0, 0.0), (1.0, 0.5), (2.0, 0.25)]:
        a, b = find_ab_params(spread, min_dist)
        out["ab_params"].append({"spread": spread, "min_dist": min_dist, "a": float(a), "b": float(b)})

    # 2. sklearn trustworthiness on a fixed embedding generated from the SplitMix stream.
    n_fixed, d_fixed = 300, 20
    xs = splitmix_uniform(7, n_fixed * d_fixed).reshape(n_fixed, d_fixed)
    ys = xs[:, :2] + 0.3 * splitmix_uniform(8, n_fixed * 2).reshape(n_fixed, 2)
    out["fixed_trustworthiness"] = {
        "n": n_fixed, "d": d_fixed, "x_seed": 7, "y_seed": 8, "y_noise": 0.3,
        "k5": float(trustworthiness(xs, ys, n_neighbors=5)),
        "k10": float(trustworthiness(xs, ys, n_neighbors=10)),
    }

    pixels, _ = load_pixels()

    # Warm numba's JIT on a small problem so the wall times below measure the algorithms.
    umap.UMAP(n_components=1, random_state=0, n_epochs=20).fit(pixels[:300])
    umap.AlignedUMAP(n_components=1, random_state=0, n_epochs=10).fit(
        [pixels[:300], pixels[:300]], relations=[{i: i for i in range(300)}])

    # 3. Plain UMAP 1-D / 2-D on the 2,000 images.
    for dim in (1, 2):
        t0 = time.perf_counter()
        emb = umap.UMAP(n_components=dim, random_state=42).fit_transform(pixels)
        wall = time.perf_counter() - t0
        out[f"umap_{dim}d"] = {"trustworthiness_k10": float(trustworthiness(pixels, emb, n_neighbors=10)),
                               "wall_s": wall, "n_epochs": 500, "n_neighbors": 15, "min_dist": 0.1}

    # 4. AlignedUMAP 1-D over the synthetic 5-layer sequence.
    layers = synthetic_layers(pixels)
    n = pixels.shape[0]
    relations = [{i: i for i in range(n)} for _ in range(len(layers) - 1)]
    out["layer_checksums"] = [float(np.abs(l).astype(np.float64).sum()) for l in layers]
    for window in (1, 3):
        t0 = time.perf_counter()
        aligned = umap.AlignedUMAP(n_components=1, random_state=42, alignment_window_size=window,
                                   alignment_regularisation=1e-2).fit(layers, relations=relations)
        wall = time.perf_counter() - t0
        embs = aligned.embeddings_
        out[f"aligned_umap_1d_window{window}"] = {
            "n_layers": len(layers), "n_epochs": 200, "alignment_regularisation": 1e-2,
            "trustworthiness_k10": [float(trustworthiness(layers[i], embs[i], n_neighbors=10)) for i in range(len(layers))],
            "spearman_neighbours": spearman_chain(embs),
            "wall_s": wall,
        }
        out[f"aligned_umap_1d_window{window}"]["mean_trustworthiness"] = float(
            np.mean(out[f"aligned_umap_1d_window{window}"]["trustworthiness_k10"]))
        out[f"aligned_umap_1d_window{window}"]["mean_spearman"] = float(
            np.mean(np.abs(out[f"aligned_umap_1d_window{window}"]["spearman_neighbours"])))

    # 5. Unaligned baseline: independent 1-D UMAP per layer (how much alignment buys).
    indep = [umap.UMAP(n_components=1, random_state=42, n_epochs=200).fit_transform(l) for l in layers]
    out["independent_umap_1d"] = {
        "trustworthiness_k10": [float(trustworthiness(layers[i], indep[i], n_neighbors=10)) for i in range(len(layers))],
        "spearman_neighbours": spearman_chain(indep),
    }

    with open(os.path.join(HERE, "umap_reference.json"), "w") as f:
        json.dump(out, f, indent=2)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
