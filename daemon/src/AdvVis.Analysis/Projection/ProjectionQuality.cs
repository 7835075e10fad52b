// Quality measures for projections: trustworthiness exactly as scikit-learn's
// sklearn.manifold.trustworthiness defines it (Venna & Kaski: penalise embedded neighbours by how
// far outside the input-space k-neighbourhood they rank), and Spearman rank correlation (with
// average ranks for ties, as scipy.stats.spearmanr) for comparing layers' 1-D orderings.
using System.Runtime.Intrinsics;

namespace AdvVis.Analysis.Projection;

/// <summary>Trustworthiness and rank-correlation measures.</summary>
public static class ProjectionQuality
{
    /// <summary>sklearn.manifold.trustworthiness(X, Y, n_neighbors=k) for float inputs (computed in double precision).</summary>
    public static double Trustworthiness(DenseMatrix x, DenseMatrix y, int k = 10, DistanceMetric metric = DistanceMetric.Euclidean,
        int maxDegreeOfParallelism = -1)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        return Trustworthiness(Array.ConvertAll(x.Data, v => (double)v), x.Rows, x.Columns,
            Array.ConvertAll(y.Data, v => (double)v), y.Columns, k, metric, maxDegreeOfParallelism);
    }

    /// <summary>sklearn.manifold.trustworthiness for row-major double inputs (x: n × dx, y: n × dy).</summary>
    public static double Trustworthiness(double[] x, int count, int xColumns, double[] y, int yColumns, int k = 10,
        DistanceMetric metric = DistanceMetric.Euclidean, int maxDegreeOfParallelism = -1)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        if (x.Length != (long)count * xColumns || y.Length != (long)count * yColumns)
            throw new ArgumentException("Matrix sizes do not match the row count.");
        if (k < 1 || k >= count / 2.0)
            throw new ArgumentOutOfRangeException(nameof(k), $"n_neighbors ({k}) should be less than n_samples / 2 ({count / 2.0}).");

        double[] xNormSq = RowNormsSq(x, count, xColumns);
        var penalties = new long[count];
        var options = new ParallelOptions { MaxDegreeOfParallelism = maxDegreeOfParallelism };
        Parallel.For(0, count, options, () => (new double[count], new double[count], new int[k]), (i, _, scratch) =>
        {
            var (inputDist, embeddedDist, neighbours) = scratch;
            for (int m = 0; m < count; m++)
            {
                inputDist[m] = InputDistance(x, xColumns, xNormSq, i, m, metric);
                embeddedDist[m] = SquaredDistance(y.AsSpan(i * yColumns, yColumns), y.AsSpan(m * yColumns, yColumns));
            }
            // Embedded k-NN excluding the point itself (sklearn's kneighbors() on the fitted data), ties by index.
            SmallestK(embeddedDist, i, neighbours);
            long penalty = 0;
            foreach (int j in neighbours)
            {
                // Input-space rank of j among i's neighbours (1 = nearest); stable order on exact ties.
                double dj = inputDist[j];
                int rank = 1;
                for (int m = 0; m < count; m++)
                    if (m != i && (inputDist[m] < dj || (inputDist[m] == dj && m < j)))
                        rank++;
                if (rank > k)
                    penalty += rank - k;
            }
            penalties[i] = penalty;
            return scratch;
        }, _ => { });

        long total = 0;
        foreach (long p in penalties)
            total += p;
        double n = count;
        return 1.0 - total * (2.0 / (n * k * (2.0 * n - 3.0 * k - 1.0)));
    }

    /// <summary>Spearman's rank correlation (average ranks for ties; NaN when either input is constant).</summary>
    public static double SpearmanCorrelation(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        if (a.Length != b.Length)
            throw new ArgumentException("Inputs must have the same length.");
        if (a.Length < 2)
            return double.NaN;
        double[] ra = AverageRanks(a), rb = AverageRanks(b);
        return PearsonCorrelation(ra, rb);
    }

    /// <summary>Mean |Spearman| between consecutive layers' first embedding coordinate.</summary>
    public static double MeanNeighbourSpearman(IReadOnlyList<DenseMatrix> embeddings)
    {
        ArgumentNullException.ThrowIfNull(embeddings);
        if (embeddings.Count < 2)
            return double.NaN;
        double sum = 0;
        for (int l = 0; l + 1 < embeddings.Count; l++)
            sum += Math.Abs(SpearmanCorrelation(embeddings[l].Column(0), embeddings[l + 1].Column(0)));
        return sum / (embeddings.Count - 1);
    }

    /// <summary>Pearson correlation of two equally long sequences.</summary>
    public static double PearsonCorrelation(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        int n = a.Length;
        double ma = 0, mb = 0;
        for (int i = 0; i < n; i++)
        {
            ma += a[i];
            mb += b[i];
        }
        ma /= n;
        mb /= n;
        double sab = 0, saa = 0, sbb = 0;
        for (int i = 0; i < n; i++)
        {
            double da = a[i] - ma, db = b[i] - mb;
            sab += da * db;
            saa += da * da;
            sbb += db * db;
        }
        return saa == 0 || sbb == 0 ? double.NaN : sab / Math.Sqrt(saa * sbb);
    }

    /// <summary>1-based ranks, tied values sharing the mean of their ranks (scipy.stats.rankdata "average").</summary>
    public static double[] AverageRanks(ReadOnlySpan<float> values)
    {
        int n = values.Length;
        var order = new int[n];
        var keys = values.ToArray();
        for (int i = 0; i < n; i++)
            order[i] = i;
        Array.Sort(keys, order);
        var ranks = new double[n];
        for (int start = 0; start < n;)
        {
            int end = start + 1;
            while (end < n && keys[end] == keys[start])
                end++;
            double rank = (start + 1 + end) / 2.0; // mean of ranks start+1 … end
            for (int t = start; t < end; t++)
                ranks[order[t]] = rank;
            start = end;
        }
        return ranks;
    }

    private static double[] RowNormsSq(double[] x, int count, int columns)
    {
        var result = new double[count];
        for (int i = 0; i < count; i++)
        {
            double s = 0;
            foreach (double v in x.AsSpan(i * columns, columns))
                s += v * v;
            result[i] = s;
        }
        return result;
    }

    private static double InputDistance(double[] x, int columns, double[] normSq, int i, int m, DistanceMetric metric)
    {
        ReadOnlySpan<double> a = x.AsSpan(i * columns, columns), b = x.AsSpan(m * columns, columns);
        if (metric == DistanceMetric.Euclidean)
            return SquaredDistance(a, b); // monotone in the distance: ranks are what matter
        double dot = 0;
        for (int c = 0; c < columns; c++)
            dot += a[c] * b[c];
        double denom = Math.Sqrt(normSq[i] * normSq[m]);
        return denom == 0 ? (normSq[i] == normSq[m] ? 0 : 1) : 1.0 - dot / denom;
    }

    private static double SquaredDistance(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        var acc = Vector256<double>.Zero;
        int c = 0;
        for (; c <= a.Length - 4; c += 4)
        {
            var d = Vector256.Create(a.Slice(c, 4)) - Vector256.Create(b.Slice(c, 4));
            acc += d * d;
        }
        double sum = Vector256.Sum(acc);
        for (; c < a.Length; c++)
        {
            double d = a[c] - b[c];
            sum += d * d;
        }
        return sum;
    }

    /// <summary>Indices of the k smallest entries other than <paramref name="self"/>, ascending (ties by index).</summary>
    private static void SmallestK(double[] distances, int self, int[] result)
    {
        int k = result.Length, size = 0;
        for (int m = 0; m < distances.Length; m++)
        {
            if (m == self)
                continue;
            double d = distances[m];
            if (size == k && !(d < distances[result[k - 1]]))
                continue; // later indices lose ties
            int at = size < k ? size++ : k - 1;
            while (at > 0 && distances[result[at - 1]] > d)
            {
                result[at] = result[at - 1];
                at--;
            }
            result[at] = m;
        }
    }
}
