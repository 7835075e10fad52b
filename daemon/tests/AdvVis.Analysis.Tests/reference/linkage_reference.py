#!/usr/bin/python3
"""Reference linkage matrices for the unit clustering tests (Clustering/HierarchicalClustering.cs).

Run with Debian's python3 (scipy comes with python3-sklearn): /usr/bin/python3 linkage_reference.py
Writes linkage_reference.json beside this script: the points (so the C# test needs no RNG of numpy's) and
scipy.cluster.hierarchy.linkage(pdist(points), method) for single, complete, average and ward.
"""
import json
import os

import numpy as np
from scipy.cluster.hierarchy import linkage
from scipy.spatial.distance import pdist

rng = np.random.RandomState(20240601)
cases = []
for name, n, d, blobs in [("uniform", 31, 6, 0), ("blobs", 40, 12, 4)]:
    if blobs:
        centres = rng.uniform(-5, 5, size=(blobs, d))
        points = centres[rng.randint(0, blobs, size=n)] + rng.normal(0, 0.7, size=(n, d))
    else:
        points = rng.uniform(0, 1, size=(n, d))
    points = points.astype(np.float64)
    dist = pdist(points)
    cases.append({
        "name": name,
        "points": points.tolist(),
        "linkage": {m: linkage(dist, method=m).tolist() for m in ("single", "complete", "average", "ward")},
    })

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "linkage_reference.json")
with open(out, "w") as f:
    json.dump({"scipy": __import__("scipy").__version__, "cases": cases}, f, indent=0)
print("wrote", out)
