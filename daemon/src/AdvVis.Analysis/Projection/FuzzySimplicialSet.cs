// UMAP's high-dimensional fuzzy topological representation, ported from umap-learn 0.5
// (smooth_knn_dist, compute_membership_strengths, fuzzy_simplicial_set): per-point
// bandwidths sigma and local-connectivity offsets rho by binary search, exponential membership
// strengths on the k-NN graph, then the fuzzy union P + Pᵀ − P∘Pᵀ (set_op_mix_ratio = 1).
namespace AdvVis.Analysis.Projection;

/// <summary>Construction of UMAP's fuzzy simplicial set from k-NN results.</summary>
public static class FuzzySimplicialSet
{
    private const double SmoothKTolerance = 1e-5;
    private const double MinKDistScale = 1e-3;

    /// <summary>
    /// umap-learn's smooth_knn_dist: for each row, rho = distance to the local_connectivity-th nonzero neighbour and
    /// sigma such that Σ_{j≥1} exp(−max(0, d_j − rho)/sigma) = log2(k) · bandwidth (64 bisection steps).
    /// Column 0 is skipped in the sum, as umap-learn does (it is the point itself when fitting).
    /// </summary>
    public static (float[] Sigmas, float[] Rhos) SmoothKnnDistances(KnnResult knn, double k, double localConnectivity = 1.0,
        double bandwidth = 1.0, int iterations = 64)
    {
        ArgumentNullException.ThrowIfNull(knn);
        int n = knn.Count, width = knn.K;
        double target = Math.Log2(k) * bandwidth;
        var rhos = new float[n];
        var sigmas = new float[n];
        double meanDistances = 0;
        for (int i = 0; i < knn.Distances.Length; i++)
            meanDistances += knn.Distances[i];
        meanDistances /= Math.Max(1, knn.Distances.Length);

        var nonZero = new float[width];
        for (int i = 0; i < n; i++)
        {
            ReadOnlySpan<float> d = knn.DistancesOf(i);
            int nonZeroCount = 0;
            foreach (float v in d)
                if (v > 0f)
                    nonZero[nonZeroCount++] = v;

            if (nonZeroCount >= localConnectivity)
            {
                int index = (int)Math.Floor(localConnectivity);
                double interpolation = localConnectivity - index;
                if (index > 0)
                {
                    rhos[i] = nonZero[index - 1];
                    if (interpolation > SmoothKTolerance)
                        rhos[i] += (float)(interpolation * (nonZero[index] - nonZero[index - 1]));
                }
                else
                {
                    rhos[i] = (float)(interpolation * nonZero[0]);
                }
            }
            else if (nonZeroCount > 0)
            {
                float max = 0f;
                for (int j = 0; j < nonZeroCount; j++)
                    max = Math.Max(max, nonZero[j]);
                rhos[i] = max;
            }

            double lo = 0, hi = double.PositiveInfinity, mid = 1.0;
            for (int iter = 0; iter < iterations; iter++)
            {
                double psum = 0;
                for (int j = 1; j < width; j++)
                {
                    double excess = d[j] - rhos[i];
                    psum += excess > 0 ? Math.Exp(-(excess / mid)) : 1.0;
                }
                if (Math.Abs(psum - target) < SmoothKTolerance)
                    break;
                if (psum > target)
                {
                    hi = mid;
                    mid = (lo + hi) / 2.0;
                }
                else
                {
                    lo = mid;
                    mid = double.IsPositiveInfinity(hi) ? mid * 2 : (lo + hi) / 2.0;
                }
            }

            // Guard against collapsed neighbourhoods (many duplicates): keep sigma a fraction of the mean distance.
            double sigma = mid;
            if (rhos[i] > 0f)
            {
                double meanIth = 0;
                foreach (float v in d)
                    meanIth += v;
                meanIth /= width;
                if (sigma < MinKDistScale * meanIth)
                    sigma = MinKDistScale * meanIth;
            }
            else if (sigma < MinKDistScale * meanDistances)
            {
                sigma = MinKDistScale * meanDistances;
            }
            sigmas[i] = (float)sigma;
        }
        return (sigmas, rhos);
    }

    /// <summary>
    /// Directed membership strengths exp(−(d − rho)/sigma) (1 within rho) as a CSR graph, rows = queries.
    /// When <paramref name="bipartite"/> is false a point's edge to itself gets weight 0 and is dropped.
    /// </summary>
    public static SparseGraph MembershipStrengths(KnnResult knn, float[] sigmas, float[] rhos, int columns, bool bipartite)
    {
        ArgumentNullException.ThrowIfNull(knn);
        int n = knn.Count, k = knn.K;
        var rowStarts = new int[n + 1];
        var cols = new List<int>(n * k);
        var weights = new List<float>(n * k);
        var rowCols = new int[k];
        var rowWeights = new float[k];
        for (int i = 0; i < n; i++)
        {
            int count = 0;
            ReadOnlySpan<int> idx = knn.NeighborsOf(i);
            ReadOnlySpan<float> dist = knn.DistancesOf(i);
            for (int j = 0; j < k; j++)
            {
                if (idx[j] < 0)
                    continue;
                float value;
                if (!bipartite && idx[j] == i)
                    value = 0f;
                else if (dist[j] - rhos[i] <= 0f || sigmas[i] == 0f)
                    value = 1f;
                else
                    value = (float)Math.Exp(-((dist[j] - rhos[i]) / (double)sigmas[i]));
                if (value == 0f)
                    continue; // scipy's eliminate_zeros
                rowCols[count] = idx[j];
                rowWeights[count] = value;
                count++;
            }
            Array.Sort(rowCols, rowWeights, 0, count);
            for (int j = 0; j < count; j++)
            {
                // A k-NN row never repeats a column; if a caller's does, keep the sum like scipy's COO → CSR.
                if (j > 0 && rowCols[j] == rowCols[j - 1])
                {
                    weights[^1] += rowWeights[j];
                    continue;
                }
                cols.Add(rowCols[j]);
                weights.Add(rowWeights[j]);
            }
            rowStarts[i + 1] = cols.Count;
        }
        return new SparseGraph(n, columns, rowStarts, cols.ToArray(), weights.ToArray());
    }

    /// <summary>
    /// The symmetric fuzzy simplicial set of a self-k-NN result:
    /// mix·(P + Pᵀ − P∘Pᵀ) + (1 − mix)·(P∘Pᵀ), with P the directed membership strengths.
    /// </summary>
    public static SparseGraph Build(KnnResult knn, double localConnectivity = 1.0, double setOpMixRatio = 1.0)
    {
        ArgumentNullException.ThrowIfNull(knn);
        var (sigmas, rhos) = SmoothKnnDistances(knn, knn.K, localConnectivity);
        SparseGraph directed = MembershipStrengths(knn, sigmas, rhos, knn.Count, bipartite: false);
        return Symmetrize(directed, setOpMixRatio);
    }

    /// <summary>Fuzzy union / intersection mix of a square graph with its transpose.</summary>
    public static SparseGraph Symmetrize(SparseGraph p, double setOpMixRatio = 1.0)
    {
        ArgumentNullException.ThrowIfNull(p);
        if (p.Rows != p.Columns)
            throw new ArgumentException("Symmetrization needs a square graph.", nameof(p));
        int n = p.Rows;
        SparseGraph pt = Transpose(p);
        var rowStarts = new int[n + 1];
        var cols = new List<int>(2 * p.EdgeCount);
        var weights = new List<float>(2 * p.EdgeCount);
        for (int i = 0; i < n; i++)
        {
            // Merge two column-sorted rows: P[i, :] and Pᵀ[i, :].
            int a = p.RowStarts[i], aEnd = p.RowStarts[i + 1];
            int b = pt.RowStarts[i], bEnd = pt.RowStarts[i + 1];
            while (a < aEnd || b < bEnd)
            {
                int ca = a < aEnd ? p.ColumnIndices[a] : int.MaxValue;
                int cb = b < bEnd ? pt.ColumnIndices[b] : int.MaxValue;
                float va = 0f, vb = 0f;
                int c;
                if (ca == cb) { c = ca; va = p.Weights[a++]; vb = pt.Weights[b++]; }
                else if (ca < cb) { c = ca; va = p.Weights[a++]; }
                else { c = cb; vb = pt.Weights[b++]; }
                // float32 arithmetic like scipy on umap-learn's float32 matrices.
                float product = va * vb;
                float value = (float)(setOpMixRatio * (va + vb - product) + (1.0 - setOpMixRatio) * product);
                if (value != 0f)
                {
                    cols.Add(c);
                    weights.Add(value);
                }
            }
            rowStarts[i + 1] = cols.Count;
        }
        return new SparseGraph(n, n, rowStarts, cols.ToArray(), weights.ToArray());
    }

    /// <summary>Transpose, with rows sorted by column (counting sort, stable).</summary>
    public static SparseGraph Transpose(SparseGraph g)
    {
        ArgumentNullException.ThrowIfNull(g);
        var counts = new int[g.Columns + 1];
        for (int e = 0; e < g.EdgeCount; e++)
            counts[g.ColumnIndices[e] + 1]++;
        for (int c = 0; c < g.Columns; c++)
            counts[c + 1] += counts[c];
        var rowStarts = (int[])counts.Clone();
        var cols = new int[g.EdgeCount];
        var weights = new float[g.EdgeCount];
        var next = (int[])counts.Clone();
        for (int r = 0; r < g.Rows; r++)
        {
            for (int e = g.RowStarts[r]; e < g.RowStarts[r + 1]; e++)
            {
                int at = next[g.ColumnIndices[e]]++;
                cols[at] = r;
                weights[at] = g.Weights[e];
            }
        }
        return new SparseGraph(g.Columns, g.Rows, rowStarts, cols, weights);
    }
}
