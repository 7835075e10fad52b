// Li et al. §5.2.2: agglomerative clustering of a layer's units by the distance between their receptive fields
// (L2 between RF images; or 1 − IoU of RF masks; or L2 between activation maps), drawn as a dendrogram, with the
// union and intersection of the RFs under any subtree. The linkage matrix follows scipy.cluster.hierarchy.linkage:
// merge t joins clusters Left < Right at Height into cluster id n + t of Size leaves.
using AdvVis.Analysis.ReceptiveFields;

namespace AdvVis.Analysis.Clustering;

public enum Linkage { Single, Complete, Average, Ward }

public enum UnitDistance
{
    /// <summary>L2 between the units' RF images (step-4 masked images), concatenated over the given images.</summary>
    ReceptiveFieldL2,
    /// <summary>1 − IoU of the RF masks, averaged over the given images.</summary>
    ReceptiveFieldIoU,
    /// <summary>L2 between the units' upsampled activation maps, concatenated over the given images.</summary>
    ActivationMapL2,
}

public readonly record struct Merge(int Left, int Right, double Height, int Size);

public sealed record Dendrogram(int LeafCount, Merge[] Merges, TimeSpan Elapsed)
{
    public int Root => LeafCount + Merges.Length - 1;

    /// <summary>The leaves (units) under a node: a leaf id &lt; n, or a merge id n + t.</summary>
    public int[] Leaves(int node)
    {
        var result = new List<int>();
        var stack = new Stack<int>();
        stack.Push(node);
        while (stack.Count > 0)
        {
            int x = stack.Pop();
            if (x < LeafCount) { result.Add(x); continue; }
            var m = Merges[x - LeafCount];
            stack.Push(m.Right); stack.Push(m.Left);
        }
        return result.ToArray();
    }

    /// <summary>Left-to-right leaf order for drawing (scipy's dendrogram order without reordering).</summary>
    public int[] LeafOrder() => LeafCount == 1 ? [0] : Leaves(Root);

    /// <summary>The node ids from a leaf up to the root (to highlight a selected unit).</summary>
    public int[] PathToRoot(int leaf)
    {
        var parent = new int[LeafCount + Merges.Length];
        Array.Fill(parent, -1);
        for (int t = 0; t < Merges.Length; t++) { parent[Merges[t].Left] = LeafCount + t; parent[Merges[t].Right] = LeafCount + t; }
        var path = new List<int> { leaf };
        while (parent[path[^1]] >= 0) path.Add(parent[path[^1]]);
        return path.ToArray();
    }

    /// <summary>Union of the RF masks of every unit under <paramref name="node"/> on one image.</summary>
    public bool[] Union(ReceptiveFieldSet rfs, int node) => rfs.Union(Leaves(node));
    public bool[] Intersection(ReceptiveFieldSet rfs, int node) => rfs.Intersection(Leaves(node));

    /// <summary>scipy's linkage matrix rows [left, right, height, size].</summary>
    public double[][] ToLinkageMatrix() => Merges.Select(m => new[] { (double)m.Left, m.Right, m.Height, m.Size }).ToArray();
}

public static class HierarchicalClustering
{
    /// <summary>Pairwise distances between units over one or more images' RF sets (benign and adversarial, say).</summary>
    public static double[,] UnitDistances(IReadOnlyList<ReceptiveFieldSet> sets, UnitDistance metric = UnitDistance.ReceptiveFieldL2)
    {
        if (sets.Count == 0) throw new ArgumentException("Give at least one image's receptive fields.");
        int n = sets[0].UnitCount;
        var d = new double[n, n];
        if (metric == UnitDistance.ReceptiveFieldIoU)
        {
            for (int i = 0; i < n; i++)
                for (int j = i + 1; j < n; j++)
                {
                    double s = 0;
                    foreach (var set in sets) s += 1 - ReceptiveField.IoU(set.Masks[i], set.Masks[j]);
                    d[i, j] = d[j, i] = s / sets.Count;
                }
            return d;
        }
        var vectors = new float[n][];
        for (int u = 0; u < n; u++)
            vectors[u] = sets.SelectMany(s => metric == UnitDistance.ReceptiveFieldL2 ? s.MaskedImage(u) : s.UpsampledMaps[u]).ToArray();
        Parallel.For(0, n, i =>
        {
            for (int j = i + 1; j < n; j++)
            {
                double s = 0;
                var a = vectors[i]; var b = vectors[j];
                for (int k = 0; k < a.Length; k++) { double t = a[k] - b[k]; s += t * t; }
                d[i, j] = d[j, i] = Math.Sqrt(s);
            }
        });
        return d;
    }

    /// <summary>Agglomerative clustering of a symmetric distance matrix (Lance–Williams updates; Ward on Euclidean distances as scipy).</summary>
    public static Dendrogram Cluster(double[,] distances, Linkage linkage = Linkage.Average, CancellationToken cancellation = default)
    {
        var sw = System.Diagnostics.Stopwatch.StartNew();
        int n = distances.GetLength(0);
        if (n == 0 || distances.GetLength(1) != n) throw new ArgumentException("Need a square, non-empty distance matrix.");
        var d = (double[,])distances.Clone();
        var id = Enumerable.Range(0, n).ToArray();
        var size = Enumerable.Repeat(1, n).ToArray();
        var active = Enumerable.Repeat(true, n).ToArray();
        var merges = new Merge[n - 1];
        for (int t = 0; t < n - 1; t++)
        {
            cancellation.ThrowIfCancellationRequested();
            int bi = -1, bj = -1; double best = double.PositiveInfinity;
            for (int i = 0; i < n; i++)
            {
                if (!active[i]) continue;
                for (int j = i + 1; j < n; j++)
                    if (active[j] && d[i, j] < best) { best = d[i, j]; bi = i; bj = j; }
            }
            if (bi < 0) { bi = Array.IndexOf(active, true); bj = Array.FindIndex(active, bi + 1, a => a); best = d[bi, bj]; }
            int ni = size[bi], nj = size[bj];
            for (int k = 0; k < n; k++)
            {
                if (!active[k] || k == bi || k == bj) continue;
                double dki = d[k, bi], dkj = d[k, bj], nk = size[k];
                double v = linkage switch
                {
                    Linkage.Single => Math.Min(dki, dkj),
                    Linkage.Complete => Math.Max(dki, dkj),
                    Linkage.Average => (ni * dki + nj * dkj) / (ni + nj),
                    _ => Math.Sqrt(Math.Max(0, ((ni + nk) * dki * dki + (nj + nk) * dkj * dkj - nk * best * best) / (ni + nj + nk))),
                };
                d[k, bi] = d[bi, k] = v;
            }
            merges[t] = new Merge(Math.Min(id[bi], id[bj]), Math.Max(id[bi], id[bj]), best, ni + nj);
            id[bi] = n + t; size[bi] = ni + nj; active[bj] = false;
        }
        // Lance–Williams merges of these linkages come out in non-decreasing height; a stable sort guards rounding ties.
        return new Dendrogram(n, merges, sw.Elapsed);
    }

    /// <summary>Convenience: distances over the RF sets, then the dendrogram.</summary>
    public static Dendrogram ClusterUnits(IReadOnlyList<ReceptiveFieldSet> sets, UnitDistance metric = UnitDistance.ReceptiveFieldL2,
        Linkage linkage = Linkage.Average, CancellationToken cancellation = default)
    {
        var sw = System.Diagnostics.Stopwatch.StartNew();
        var dg = Cluster(UnitDistances(sets, metric), linkage, cancellation);
        return dg with { Elapsed = sw.Elapsed };
    }
}
