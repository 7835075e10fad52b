// Exact k-nearest-neighbour search for UMAP. Our problem sizes (2,000–10,000 items × up to a few
// thousand features) are small enough that a brute-force search is exact, deterministic and
// fast when organised like a GEMM: squared distances come from ‖q‖² + ‖r‖² − 2 q·r with a
// register-blocked SIMD dot-product kernel over cache-sized reference chunks, a bounded heap per
// query keeps the k best, and the winners' distances are then recomputed directly (difference
// form) so the reported distances do not carry the cancellation error of the expansion.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace AdvVis.Analysis.Projection;

/// <summary>Dissimilarity used in the high-dimensional space.</summary>
public enum DistanceMetric
{
    /// <summary>‖x − y‖₂.</summary>
    Euclidean,

    /// <summary>1 − cos(x, y) (umap-learn's "cosine": 0 for two zero vectors, 1 for one zero vector).</summary>
    Cosine,
}

/// <summary>k nearest neighbours of each query row, sorted by increasing distance.</summary>
public sealed class KnnResult
{
    internal KnnResult(int count, int k, int[] indices, float[] distances)
    {
        Count = count;
        K = k;
        Indices = indices;
        Distances = distances;
    }

    /// <summary>Number of query rows.</summary>
    public int Count { get; }

    /// <summary>Neighbours per row.</summary>
    public int K { get; }

    /// <summary>Row-major Count × K neighbour indices into the reference set.</summary>
    public int[] Indices { get; }

    /// <summary>Row-major Count × K distances, ascending within each row.</summary>
    public float[] Distances { get; }

    /// <summary>The neighbour indices of one query.</summary>
    public ReadOnlySpan<int> NeighborsOf(int row) => Indices.AsSpan(row * K, K);

    /// <summary>The neighbour distances of one query.</summary>
    public ReadOnlySpan<float> DistancesOf(int row) => Distances.AsSpan(row * K, K);
}

/// <summary>Exact (brute-force, blocked, SIMD) k-nearest-neighbour search.</summary>
public static class NearestNeighbors
{
    private const int QueryBlock = 32;
    private const int ChunkBytes = 128 * 1024; // reference rows per chunk sized to stay in L2

    /// <summary>
    /// k nearest neighbours of every row of <paramref name="data"/> among the rows of <paramref name="data"/>,
    /// the row itself included at position 0 with distance 0 (umap-learn's convention: n_neighbors counts the point).
    /// </summary>
    public static KnnResult Compute(DenseMatrix data, int k, DistanceMetric metric, int maxDegreeOfParallelism = -1)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (k < 1 || k > data.Rows)
            throw new ArgumentOutOfRangeException(nameof(k), $"k must be in [1, {data.Rows}].");
        var prepared = new PreparedRows(data, metric);
        return Search(prepared, prepared, k, selfQuery: true, maxDegreeOfParallelism);
    }

    /// <summary>k nearest rows of <paramref name="reference"/> for every row of <paramref name="queries"/>.</summary>
    public static KnnResult Query(DenseMatrix queries, DenseMatrix reference, int k, DistanceMetric metric, int maxDegreeOfParallelism = -1)
    {
        ArgumentNullException.ThrowIfNull(queries);
        ArgumentNullException.ThrowIfNull(reference);
        if (queries.Columns != reference.Columns)
            throw new ArgumentException($"Queries have {queries.Columns} features, reference has {reference.Columns}.", nameof(queries));
        if (k < 1 || k > reference.Rows)
            throw new ArgumentOutOfRangeException(nameof(k), $"k must be in [1, {reference.Rows}].");
        return Search(new PreparedRows(queries, metric), new PreparedRows(reference, metric), k, selfQuery: false, maxDegreeOfParallelism);
    }

    /// <summary>Distance between two rows under <paramref name="metric"/> (direct form, used as the exact reference).</summary>
    public static float Distance(ReadOnlySpan<float> x, ReadOnlySpan<float> y, DistanceMetric metric)
    {
        if (x.Length != y.Length)
            throw new ArgumentException("Rows must have the same length.");
        if (metric == DistanceMetric.Euclidean)
        {
            double sum = 0;
            for (int i = 0; i < x.Length; i++)
            {
                double d = (double)x[i] - y[i];
                sum += d * d;
            }
            return (float)Math.Sqrt(sum);
        }
        double dot = 0, nx = 0, ny = 0;
        for (int i = 0; i < x.Length; i++)
        {
            dot += (double)x[i] * y[i];
            nx += (double)x[i] * x[i];
            ny += (double)y[i] * y[i];
        }
        return CosineFromParts(dot, nx, ny);
    }

    private static float CosineFromParts(double dot, double normSqX, double normSqY)
    {
        if (normSqX == 0 && normSqY == 0)
            return 0f;
        if (normSqX == 0 || normSqY == 0)
            return 1f;
        return (float)Math.Max(0.0, 1.0 - dot / Math.Sqrt(normSqX * normSqY));
    }

    /// <summary>Rows copied into a zero-padded SIMD-friendly layout (cosine: unit-normalised) with squared norms.</summary>
    private sealed class PreparedRows
    {
        public PreparedRows(DenseMatrix source, DistanceMetric metric)
        {
            Source = source;
            Metric = metric;
            Count = source.Rows;
            Stride = (source.Columns + 7) & ~7; // whole Vector256<float>s, no tail loops in the kernel
            Values = new float[(long)Count * Stride + 8];
            NormSq = new float[Count];
            SourceNormSq = new double[Count];
            for (int i = 0; i < Count; i++)
            {
                ReadOnlySpan<float> row = source.Data.AsSpan(i * source.Columns, source.Columns);
                double n2 = 0;
                foreach (float v in row)
                    n2 += (double)v * v;
                SourceNormSq[i] = n2;
                // Cosine distance is half the squared Euclidean distance of unit vectors, so the same
                // kernel serves both; zero rows stay zero (fixed up in the exact recomputation).
                float scale = metric == DistanceMetric.Cosine && n2 > 0 ? (float)(1.0 / Math.Sqrt(n2)) : 1f;
                Span<float> dst = Values.AsSpan(i * Stride, source.Columns);
                double packed = 0;
                for (int c = 0; c < row.Length; c++)
                {
                    dst[c] = row[c] * scale;
                    packed += (double)dst[c] * dst[c];
                }
                NormSq[i] = (float)packed;
            }
        }

        public DenseMatrix Source { get; }
        public DistanceMetric Metric { get; }
        public int Count { get; }
        public int Stride { get; }
        public float[] Values { get; }
        public float[] NormSq { get; }
        public double[] SourceNormSq { get; }
    }

    private static KnnResult Search(PreparedRows queries, PreparedRows reference, int k, bool selfQuery, int maxDegreeOfParallelism)
    {
        int n = queries.Count;
        var indices = new int[n * k];
        var distances = new float[n * k];
        // In a self query the row itself is placed first explicitly, so the heap only needs k − 1 others.
        int heapSize = selfQuery ? k - 1 : k;
        int stride = reference.Stride;
        int chunkRows = Math.Max(4, Math.Min(512, ChunkBytes / (4 * stride)) & ~3);
        int blockCount = (n + QueryBlock - 1) / QueryBlock;
        var options = new ParallelOptions { MaxDegreeOfParallelism = maxDegreeOfParallelism };

        Parallel.For(0, blockCount, options, () => new SearchScratch(QueryBlock, chunkRows, heapSize), (block, _, scratch) =>
        {
            int q0 = block * QueryBlock;
            int qCount = Math.Min(QueryBlock, n - q0);
            scratch.Reset(qCount);
            for (int r0 = 0; r0 < reference.Count; r0 += chunkRows)
            {
                int rCount = Math.Min(chunkRows, reference.Count - r0);
                ComputeDots(queries, q0, qCount, reference, r0, rCount, scratch.Dots, chunkRows);
                for (int qi = 0; qi < qCount; qi++)
                {
                    int q = q0 + qi;
                    float qNorm = queries.NormSq[q];
                    ReadOnlySpan<float> dots = scratch.Dots.AsSpan(qi * chunkRows, rCount);
                    for (int ri = 0; ri < rCount; ri++)
                    {
                        int r = r0 + ri;
                        if (selfQuery && r == q)
                            continue;
                        float d2 = Math.Max(0f, qNorm + reference.NormSq[r] - 2f * dots[ri]);
                        scratch.Heaps[qi].Offer(d2, r);
                    }
                }
            }
            for (int qi = 0; qi < qCount; qi++)
                FinishRow(queries, q0 + qi, reference, scratch.Heaps[qi], selfQuery, k, indices, distances, scratch);
            return scratch;
        }, _ => { });

        return new KnnResult(n, k, indices, distances);
    }

    /// <summary>Recomputes the candidates' distances exactly, sorts them (distance, then index) and writes the row.</summary>
    private static void FinishRow(PreparedRows queries, int q, PreparedRows reference, BoundedMaxHeap heap, bool selfQuery, int k,
        int[] indices, float[] distances, SearchScratch scratch)
    {
        int offset = 0;
        if (selfQuery)
        {
            indices[q * k] = q;
            distances[q * k] = 0f;
            offset = 1;
        }
        int m = heap.Count;
        Span<float> d = scratch.SortKeys.AsSpan(0, m);
        Span<int> idx = scratch.SortIndices.AsSpan(0, m);
        ReadOnlySpan<float> qRow = queries.Source.Data.AsSpan(q * queries.Source.Columns, queries.Source.Columns);
        for (int i = 0; i < m; i++)
        {
            int r = heap.Indices[i];
            idx[i] = r;
            ReadOnlySpan<float> rRow = reference.Source.Data.AsSpan(r * reference.Source.Columns, reference.Source.Columns);
            d[i] = queries.Metric == DistanceMetric.Euclidean
                ? MathF.Sqrt(SquaredDifference(qRow, rRow))
                : CosineFromParts(Dot(qRow, rRow), queries.SourceNormSq[q], reference.SourceNormSq[r]);
        }
        // Insertion sort: m is ~15 and the order must be deterministic on ties (index breaks them).
        for (int i = 1; i < m; i++)
        {
            float dk = d[i];
            int ik = idx[i];
            int j = i - 1;
            while (j >= 0 && (d[j] > dk || (d[j] == dk && idx[j] > ik)))
            {
                d[j + 1] = d[j];
                idx[j + 1] = idx[j];
                j--;
            }
            d[j + 1] = dk;
            idx[j + 1] = ik;
        }
        for (int i = 0; i < m; i++)
        {
            indices[q * k + offset + i] = idx[i];
            distances[q * k + offset + i] = d[i];
        }
    }

    private static float SquaredDifference(ReadOnlySpan<float> x, ReadOnlySpan<float> y)
    {
        var acc = Vector256<float>.Zero;
        int i = 0;
        for (; i <= x.Length - 8; i += 8)
        {
            var diff = Vector256.Create(x.Slice(i, 8)) - Vector256.Create(y.Slice(i, 8));
            acc = Vector256.MultiplyAddEstimate(diff, diff, acc);
        }
        float sum = Vector256.Sum(acc);
        for (; i < x.Length; i++)
        {
            float diff = x[i] - y[i];
            sum += diff * diff;
        }
        return sum;
    }

    private static double Dot(ReadOnlySpan<float> x, ReadOnlySpan<float> y)
    {
        double sum = 0;
        for (int i = 0; i < x.Length; i++)
            sum += (double)x[i] * y[i];
        return sum;
    }

    /// <summary>dots[qi * ldDots + ri] = q(q0+qi) · r(r0+ri), two queries × four references per register block.</summary>
    private static unsafe void ComputeDots(PreparedRows queries, int q0, int qCount, PreparedRows reference, int r0, int rCount,
        float[] dots, int ldDots)
    {
        int stride = reference.Stride;
        fixed (float* qBase = queries.Values)
        fixed (float* rBase = reference.Values)
        fixed (float* outBase = dots)
        {
            int qi = 0;
            for (; qi + 1 < qCount; qi += 2)
            {
                float* qa = qBase + (long)(q0 + qi) * stride;
                float* qb = qa + stride;
                int ri = 0;
                for (; ri + 3 < rCount; ri += 4)
                {
                    float* ra = rBase + (long)(r0 + ri) * stride;
                    Dot2x4(qa, qb, ra, stride, outBase + qi * ldDots + ri, outBase + (qi + 1) * ldDots + ri);
                }
                for (; ri < rCount; ri++)
                {
                    float* r = rBase + (long)(r0 + ri) * stride;
                    outBase[qi * ldDots + ri] = Dot1(qa, r, stride);
                    outBase[(qi + 1) * ldDots + ri] = Dot1(qb, r, stride);
                }
            }
            for (; qi < qCount; qi++)
            {
                float* qa = qBase + (long)(q0 + qi) * stride;
                for (int ri = 0; ri < rCount; ri++)
                    outBase[qi * ldDots + ri] = Dot1(qa, rBase + (long)(r0 + ri) * stride, stride);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Dot2x4(float* qa, float* qb, float* r, int stride, float* outA, float* outB)
    {
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        Vector256<float> b0 = default, b1 = default, b2 = default, b3 = default;
        float* r1 = r + stride, r2 = r + 2 * stride, r3 = r + 3 * stride;
        for (int i = 0; i < stride; i += 8)
        {
            var x = Vector256.Load(qa + i);
            var y = Vector256.Load(qb + i);
            var v0 = Vector256.Load(r + i);
            var v1 = Vector256.Load(r1 + i);
            var v2 = Vector256.Load(r2 + i);
            var v3 = Vector256.Load(r3 + i);
            a0 = Vector256.MultiplyAddEstimate(x, v0, a0);
            a1 = Vector256.MultiplyAddEstimate(x, v1, a1);
            a2 = Vector256.MultiplyAddEstimate(x, v2, a2);
            a3 = Vector256.MultiplyAddEstimate(x, v3, a3);
            b0 = Vector256.MultiplyAddEstimate(y, v0, b0);
            b1 = Vector256.MultiplyAddEstimate(y, v1, b1);
            b2 = Vector256.MultiplyAddEstimate(y, v2, b2);
            b3 = Vector256.MultiplyAddEstimate(y, v3, b3);
        }
        outA[0] = Vector256.Sum(a0); outA[1] = Vector256.Sum(a1); outA[2] = Vector256.Sum(a2); outA[3] = Vector256.Sum(a3);
        outB[0] = Vector256.Sum(b0); outB[1] = Vector256.Sum(b1); outB[2] = Vector256.Sum(b2); outB[3] = Vector256.Sum(b3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe float Dot1(float* x, float* y, int stride)
    {
        var acc = Vector256<float>.Zero;
        for (int i = 0; i < stride; i += 8)
            acc = Vector256.MultiplyAddEstimate(Vector256.Load(x + i), Vector256.Load(y + i), acc);
        return Vector256.Sum(acc);
    }

    private sealed class SearchScratch
    {
        public SearchScratch(int queryBlock, int chunkRows, int heapSize)
        {
            Dots = new float[queryBlock * chunkRows];
            Heaps = new BoundedMaxHeap[queryBlock];
            for (int i = 0; i < queryBlock; i++)
                Heaps[i] = new BoundedMaxHeap(heapSize);
            SortKeys = new float[heapSize];
            SortIndices = new int[heapSize];
        }

        public float[] Dots { get; }
        public BoundedMaxHeap[] Heaps { get; }
        public float[] SortKeys { get; }
        public int[] SortIndices { get; }

        public void Reset(int count)
        {
            for (int i = 0; i < count; i++)
                Heaps[i].Clear();
        }
    }

    /// <summary>Keeps the <c>capacity</c> smallest (key, index) pairs; the root is the current worst.</summary>
    private sealed class BoundedMaxHeap(int capacity)
    {
        public float[] Keys { get; } = new float[capacity];
        public int[] Indices { get; } = new int[capacity];
        public int Count { get; private set; }

        public void Clear() => Count = 0;

        public void Offer(float key, int index)
        {
            if (Count < Keys.Length)
            {
                int i = Count++;
                while (i > 0)
                {
                    int parent = (i - 1) >> 1;
                    if (!Worse(key, index, Keys[parent], Indices[parent]))
                        break;
                    Keys[i] = Keys[parent];
                    Indices[i] = Indices[parent];
                    i = parent;
                }
                Keys[i] = key;
                Indices[i] = index;
                return;
            }
            if (Count == 0 || !Worse(Keys[0], Indices[0], key, index))
                return;
            SiftDownFromRoot(key, index);
        }

        private static bool Worse(float k1, int i1, float k2, int i2) => k1 > k2 || (k1 == k2 && i1 > i2);

        private void SiftDownFromRoot(float key, int index)
        {
            int i = 0;
            int n = Count;
            while (true)
            {
                int left = 2 * i + 1;
                if (left >= n)
                    break;
                int right = left + 1;
                int worst = right < n && Worse(Keys[right], Indices[right], Keys[left], Indices[left]) ? right : left;
                if (!Worse(Keys[worst], Indices[worst], key, index))
                    break;
                Keys[i] = Keys[worst];
                Indices[i] = Indices[worst];
                i = worst;
            }
            Keys[i] = key;
            Indices[i] = index;
        }
    }
}
