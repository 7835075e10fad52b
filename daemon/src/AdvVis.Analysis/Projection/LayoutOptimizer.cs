// UMAP's layout optimisation (umap-learn's optimize_layout_euclidean and, for aligned layers,
// optimize_layout_aligned_euclidean): SGD over the fuzzy graph's edges, each sampled every
// epochs_per_sample epochs (attraction), with negative_sample_rate random repulsions per sample,
// per-coordinate gradient clipping at 4 and a linearly decaying learning rate.
//
// Alignment: each layer's head update also gets −clip(λ_o · J_o(j) · (y_l(j) − y_{l+o}(j))) for
// the layers within the window (J = Jaccard similarity of the item's neighbourhoods in the two
// layers), as AlignedUMAP does. Layers are optimised in parallel, one task per layer; the
// alignment anchors are the other layers' positions at the start of the epoch (a Jacobi-style
// snapshot), so no layer reads another while it is written and the result is bit-identical
// whatever the thread count. Within a layer the edge loop is sequential, as in umap-learn with a
// fixed random_state, so a layer's result depends only on its seed.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace AdvVis.Analysis.Projection;

/// <summary>One embedding being optimised: its edges, sampling schedule, RNG and alignment anchors.</summary>
internal sealed class LayoutLayer
{
    public LayoutLayer(float[] head, float[] tail, int dimensions, bool moveOther, SparseGraph graph, int epochs, int negativeSampleRate, ulong seed)
    {
        Head = head;
        Tail = tail;
        Dimensions = dimensions;
        MoveOther = moveOther;
        TailCount = tail.Length / dimensions;
        int edges = graph.EdgeCount;
        EdgeHead = new int[edges];
        EdgeTail = new int[edges];
        EpochsPerSample = new double[edges];
        float maxWeight = graph.MaxWeight();
        int at = 0;
        for (int r = 0; r < graph.Rows; r++)
        {
            for (int e = graph.RowStarts[r]; e < graph.RowStarts[r + 1]; e++)
            {
                // umap-learn's make_epochs_per_sample: an edge of weight w is sampled n_epochs·w/w_max times.
                double samples = epochs * (graph.Weights[e] / (double)maxWeight);
                if (samples <= 0)
                    continue;
                EdgeHead[at] = r;
                EdgeTail[at] = graph.ColumnIndices[e];
                EpochsPerSample[at] = epochs / samples;
                at++;
            }
        }
        EdgeCount = at;
        EpochOfNextSample = (double[])EpochsPerSample.Clone();
        EpochsPerNegativeSample = new double[edges];
        for (int e = 0; e < edges; e++)
            EpochsPerNegativeSample[e] = EpochsPerSample[e] / negativeSampleRate;
        EpochOfNextNegativeSample = (double[])EpochsPerNegativeSample.Clone();
        Rng = new Xoshiro128StarStar(seed);
    }

    public float[] Head { get; }
    public float[] Tail { get; }
    public int Dimensions { get; }
    public int TailCount { get; }
    public bool MoveOther { get; }
    public int EdgeCount { get; }
    public int[] EdgeHead { get; }
    public int[] EdgeTail { get; }
    public double[] EpochsPerSample { get; }
    public double[] EpochOfNextSample { get; }
    public double[] EpochsPerNegativeSample { get; }
    public double[] EpochOfNextNegativeSample { get; }
    public Xoshiro128StarStar Rng;

    /// <summary>Alignment terms pulling this layer's heads toward other layers' (snapshotted) positions.</summary>
    public List<AlignmentLink> Links { get; } = [];

    /// <summary>This layer's positions at the start of the current epoch, read by its neighbours' links.</summary>
    public float[]? Snapshot { get; set; }
}

/// <summary>Pull of head j toward <see cref="Anchor"/>[j] with strength <see cref="Weights"/>[j].</summary>
internal sealed record AlignmentLink(LayoutLayer Other, float[] Weights)
{
    public float[] Anchor => Other.Snapshot!;
}

/// <summary>The SGD driver.</summary>
internal static class LayoutOptimizer
{
    /// <summary>
    /// Runs <paramref name="epochs"/> epochs on all layers. Several layers are spread over at most
    /// <paramref name="maxDegreeOfParallelism"/> threads (default: the processor count) in groups balanced by edge count,
    /// and the layers of a group are interleaved edge by edge in one thread, so the CPU overlaps one layer's serial
    /// update chain with another's. Layers never read each other within an epoch (alignment anchors are snapshots), so
    /// the grouping does not change any result.
    /// </summary>
    public static void Optimize(IReadOnlyList<LayoutLayer> layers, int epochs, float initialAlpha, float a, float b, float gamma,
        int maxDegreeOfParallelism, CancellationToken cancellation = default, Action<double>? progress = null, bool vectorized = true)
    {
        bool aligned = layers.Any(l => l.Links.Count > 0);
        if (aligned)
            foreach (LayoutLayer layer in layers)
                layer.Snapshot = new float[layer.Head.Length];
        var kernels = layers.Select(l => new EpochKernel(l, a, b, gamma, vectorized)).ToArray();
        EpochKernel[][] groups = Group(kernels, maxDegreeOfParallelism);
        var options = new ParallelOptions { MaxDegreeOfParallelism = maxDegreeOfParallelism };
        float alpha = initialAlpha;
        for (int n = 0; n < epochs; n++)
        {
            cancellation.ThrowIfCancellationRequested();
            if ((n & 15) == 0)
                progress?.Invoke((double)n / epochs);
            if (aligned)
                foreach (LayoutLayer layer in layers)
                    Array.Copy(layer.Head, layer.Snapshot!, layer.Head.Length);
            float epochAlpha = alpha;
            int epoch = n;
            if (groups.Length == 1)
                EpochKernel.RunGroup(groups[0], epoch, epochAlpha);
            else
                Parallel.For(0, groups.Length, options, g => EpochKernel.RunGroup(groups[g], epoch, epochAlpha));
            alpha = initialAlpha * (1f - (float)n / epochs);
        }
    }

    /// <summary>
    /// Splits the layers into one group per thread (longest-processing-time first by edge count; order within a group is
    /// the layers' order).
    /// </summary>
    private static EpochKernel[][] Group(EpochKernel[] kernels, int maxDegreeOfParallelism)
    {
        int threads = maxDegreeOfParallelism > 0 ? maxDegreeOfParallelism : Environment.ProcessorCount;
        threads = Math.Clamp(threads, 1, Math.Max(1, kernels.Length));
        var groups = Enumerable.Range(0, threads).Select(_ => new List<int>()).ToArray();
        var load = new long[threads];
        foreach (int k in Enumerable.Range(0, kernels.Length).OrderByDescending(k => kernels[k].EdgeCount).ThenBy(k => k))
        {
            int target = 0;
            for (int g = 1; g < threads; g++)
                if (load[g] < load[target])
                    target = g;
            groups[target].Add(k);
            load[target] += Math.Max(1, kernels[k].EdgeCount);
        }
        return groups.Where(g => g.Count > 0).Select(g => g.Order().Select(k => kernels[k]).ToArray()).ToArray();
    }

    /// <summary>Compile-time embedding dimension, so the JIT unrolls the per-coordinate loops for 1-D and 2-D.</summary>
    private interface IDimension
    {
        static abstract int Value { get; }
    }

    private struct One : IDimension
    {
        public static int Value => 1;
    }

    private struct Two : IDimension
    {
        public static int Value => 2;
    }

    /// <summary>0 = read the dimension from the layer at run time.</summary>
    private struct AnyDimension : IDimension
    {
        public static int Value => 0;
    }

    /// <summary>One layer's epoch with its alignment links flattened into arrays.</summary>
    private sealed class EpochKernel
    {
        private readonly LayoutLayer _layer;
        private readonly float _a, _b, _gamma;
        private readonly float[][] _linkWeights;
        private readonly float[][] _linkAnchors;

        private readonly bool _vectorized;

        public EpochKernel(LayoutLayer layer, float a, float b, float gamma, bool vectorized)
        {
            _vectorized = vectorized;
            _layer = layer;
            _a = a;
            _b = b;
            _gamma = gamma;
            _linkWeights = layer.Links.Select(l => l.Weights).ToArray();
            // Optimize allocates every layer's snapshot before building the kernels, so the anchors are fixed arrays.
            _linkAnchors = layer.Links.Select(l => l.Anchor).ToArray();
        }

        public int EdgeCount => _layer.EdgeCount;

        /// <summary>
        /// One epoch of every layer in <paramref name="group"/>, interleaved three or two layers at a time when they share
        /// a dimension (each layer's own updates stay in their sequential order, so results are those of separate runs).
        /// </summary>
        public static void RunGroup(EpochKernel[] group, int epoch, float alpha)
        {
            int dim = group[0]._layer.Dimensions;
            bool sameDimension = group.All(k => k._layer.Dimensions == dim);
            int at = 0;
            while (at < group.Length)
            {
                int remaining = group.Length - at;
                int take = !sameDimension ? 1 : remaining == 4 ? 2 : Math.Min(3, remaining);
                switch (take, dim)
                {
                    case (1, _): group[at].Run(epoch, alpha); break;
                    case (2, 1): Run2<One>(group[at], group[at + 1], epoch, alpha); break;
                    case (2, 2): Run2<Two>(group[at], group[at + 1], epoch, alpha); break;
                    case (2, _): Run2<AnyDimension>(group[at], group[at + 1], epoch, alpha); break;
                    case (3, 1): Run3<One>(group[at], group[at + 1], group[at + 2], epoch, alpha); break;
                    case (3, 2): Run3<Two>(group[at], group[at + 1], group[at + 2], epoch, alpha); break;
                    default: Run3<AnyDimension>(group[at], group[at + 1], group[at + 2], epoch, alpha); break;
                }
                at += take;
            }
        }

        public void Run(int epoch, float alpha)
        {
            switch (_layer.Dimensions)
            {
                case 1: Run<One>(epoch, alpha); break;
                case 2: Run<Two>(epoch, alpha); break;
                default: Run<AnyDimension>(epoch, alpha); break;
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot loop: skip tier-0 code entirely
        private void Run<TDim>(int n, float alpha) where TDim : struct, IDimension
        {
            int dim = TDim.Value == 0 ? _layer.Dimensions : TDim.Value;
            var x = new Runner<TDim>(this, stackalloc float[3 * dim], stackalloc float[32], stackalloc int[8]);
            int count = _layer.EdgeCount;
            for (int i = 0; i < count; i++)
                if (x.Due(i, n))
                    x.Edge(i, n, alpha);
            x.Finish();
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static void Run2<TDim>(EpochKernel kx, EpochKernel ky, int n, float alpha) where TDim : struct, IDimension
        {
            int dim = TDim.Value == 0 ? kx._layer.Dimensions : TDim.Value;
            var x = new Runner<TDim>(kx, stackalloc float[3 * dim], stackalloc float[32], stackalloc int[8]);
            var y = new Runner<TDim>(ky, stackalloc float[3 * dim], stackalloc float[32], stackalloc int[8]);
            int cx = kx._layer.EdgeCount, cy = ky._layer.EdgeCount, common = Math.Min(cx, cy);
            int i = 0;
            for (; i < common; i++)
            {
                if (x.Due(i, n))
                    x.Edge(i, n, alpha);
                if (y.Due(i, n))
                    y.Edge(i, n, alpha);
            }
            for (int e = i; e < cx; e++)
                if (x.Due(e, n))
                    x.Edge(e, n, alpha);
            for (int e = i; e < cy; e++)
                if (y.Due(e, n))
                    y.Edge(e, n, alpha);
            x.Finish();
            y.Finish();
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static void Run3<TDim>(EpochKernel kx, EpochKernel ky, EpochKernel kz, int n, float alpha) where TDim : struct, IDimension
        {
            int dim = TDim.Value == 0 ? kx._layer.Dimensions : TDim.Value;
            var x = new Runner<TDim>(kx, stackalloc float[3 * dim], stackalloc float[32], stackalloc int[8]);
            var y = new Runner<TDim>(ky, stackalloc float[3 * dim], stackalloc float[32], stackalloc int[8]);
            var z = new Runner<TDim>(kz, stackalloc float[3 * dim], stackalloc float[32], stackalloc int[8]);
            int cx = kx._layer.EdgeCount, cy = ky._layer.EdgeCount, cz = kz._layer.EdgeCount;
            int common = Math.Min(cx, Math.Min(cy, cz));
            int i = 0;
            for (; i < common; i++)
            {
                if (x.Due(i, n))
                    x.Edge(i, n, alpha);
                if (y.Due(i, n))
                    y.Edge(i, n, alpha);
                if (z.Due(i, n))
                    z.Edge(i, n, alpha);
            }
            // Tails: whichever layers have edges left, still interleaved pairwise where two do.
            for (int e = i; e < Math.Max(cx, Math.Max(cy, cz)); e++)
            {
                if (e < cx && x.Due(e, n))
                    x.Edge(e, n, alpha);
                if (e < cy && y.Due(e, n))
                    y.Edge(e, n, alpha);
                if (e < cz && z.Due(e, n))
                    z.Edge(e, n, alpha);
            }
            x.Finish();
            y.Finish();
            z.Finish();
        }

        /// <summary>One layer's edge loop state (arrays and RNG hoisted out of the kernel) and its per-edge update.</summary>
        private ref struct Runner<TDim> where TDim : struct, IDimension
        {
            private readonly LayoutLayer _layer;
            private readonly int _dim;
            private readonly float[] _head, _tail;
            private readonly bool _sameArrays, _moveOther, _vectorized;
            private readonly float[][] _linkWeights, _linkAnchors;
            private readonly int _linkCount, _tailCount;
            private readonly float _a, _b, _gamma, _twoGammaB;
            private readonly int[] _edgeHead, _edgeTail;
            private readonly double[] _nextSample, _perSample, _nextNegative, _perNegative;
            private readonly Span<float> _position, _pull, _total, _tx, _ty, _gx, _gy;
            private readonly Span<int> _others;
            private Xoshiro128StarStar _rng;

            public Runner(EpochKernel kernel, Span<float> perDimension, Span<float> lanes, Span<int> others)
            {
                LayoutLayer layer = kernel._layer;
                _layer = layer;
                _dim = TDim.Value == 0 ? layer.Dimensions : TDim.Value;
                _head = layer.Head;
                _tail = layer.Tail;
                _sameArrays = ReferenceEquals(_head, _tail);
                _moveOther = layer.MoveOther;
                _vectorized = kernel._vectorized;
                _linkWeights = kernel._linkWeights;
                _linkAnchors = kernel._linkAnchors;
                _linkCount = _linkWeights.Length;
                _tailCount = layer.TailCount;
                _a = kernel._a;
                _b = kernel._b;
                _gamma = kernel._gamma;
                _twoGammaB = 2f * _gamma * _b;
                _edgeHead = layer.EdgeHead;
                _edgeTail = layer.EdgeTail;
                _nextSample = layer.EpochOfNextSample;
                _perSample = layer.EpochsPerSample;
                _nextNegative = layer.EpochOfNextNegativeSample;
                _perNegative = layer.EpochsPerNegativeSample;
                _position = perDimension[.._dim];
                _pull = perDimension.Slice(_dim, _dim);
                _total = perDimension.Slice(2 * _dim, _dim);
                _tx = lanes[..8];
                _ty = lanes.Slice(8, 8);
                _gx = lanes.Slice(16, 8);
                _gy = lanes.Slice(24, 8);
                _others = others;
                _rng = layer.Rng; // written back by Finish
            }

            public void Finish() => _layer.Rng = _rng;

            /// <summary>Whether edge <paramref name="i"/> is sampled in epoch <paramref name="n"/> (checked before the call).</summary>
            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            public readonly bool Due(int i, int n) => !(_nextSample[i] > n);

            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            public void Edge(int i, int n, float alpha) // only for a due edge: the callers check Due first
            {
                int dim = TDim.Value == 0 ? _dim : TDim.Value;
                float[] head = _head, tail = _tail;
                float[][] linkWeights = _linkWeights, linkAnchors = _linkAnchors;
                int linkCount = _linkCount;
                float a = _a, b = _b;
                int j = _edgeHead[i];
                int jo = j * dim, ko = _edgeTail[i] * dim;

                float distSq = 0f;
                for (int d = 0; d < dim; d++)
                {
                    float diff = head[jo + d] - tail[ko + d];
                    distSq += diff * diff;
                }
                float attract = 0f;
                if (distSq > 0f)
                {
                    float powB = FastMath.Pow(distSq, b);
                    attract = -2f * a * b * (powB / distSq) / (a * powB + 1f); // d^(2(b−1)) = d^(2b) / d²
                }
                for (int d = 0; d < dim; d++)
                {
                    float c = head[jo + d];
                    float grad = Clip(attract * (c - tail[ko + d]));
                    float step = grad;
                    if (linkCount > 0) // AlignedUMAP applies the pull with every head update, positive and negative
                        step = Clip(grad - AlignmentPull(linkWeights, linkAnchors, j, jo + d, c));
                    head[jo + d] = c + step * alpha;
                    if (_moveOther)
                        tail[ko + d] -= grad * alpha;
                }
                _nextSample[i] += _perSample[i];

                // Negative samples: every repulsion is evaluated at the head's position after the attraction step and
                // the clipped steps are summed (umap-learn moves the head between them). Independent evaluations keep
                // the CPU's pipelines busy instead of serialising ~100-cycle pow/div chains; the difference is
                // second order in the step size.
                double perNegative = _perNegative[i];
                int negativeSamples = (int)((n - _nextNegative[i]) / perNegative);
                if (negativeSamples > 0)
                {
                    Span<float> position = _position, pull = _pull, total = _total;
                    for (int d = 0; d < dim; d++)
                    {
                        position[d] = head[jo + d];
                        pull[d] = linkCount > 0 ? AlignmentPull(linkWeights, linkAnchors, j, jo + d, position[d]) : 0f;
                        total[d] = 0f;
                    }
                    int tailCount = _tailCount;
                    int p = 0;
                    if (TDim.Value is 1 or 2 && _vectorized)
                    {
                        // Eight repulsions at a time in SIMD lanes (bit-identical to the scalar loop below: the same
                        // IEEE operations per lane, and the lanes' steps are added to the totals in sample order).
                        Span<float> tx = _tx, ty = _ty, gx = _gx, gy = _gy;
                        Span<int> others = _others;
                        for (; p < negativeSamples; p += 8)
                        {
                            int lanes = Math.Min(8, negativeSamples - p);
                            for (int q = 0; q < lanes; q++)
                            {
                                int other = _rng.NextInt(tailCount);
                                others[q] = other;
                                tx[q] = tail[other * dim];
                                ty[q] = TDim.Value == 2 ? tail[other * dim + 1] : 0f;
                            }
                            NegativeLanes<TDim>(tx, ty, position, pull, linkCount > 0, a, b, _twoGammaB, gx, gy);
                            for (int q = 0; q < lanes; q++)
                            {
                                if (_sameArrays && others[q] == j)
                                    continue; // the head itself (at distance 0) is skipped, as below
                                total[0] += gx[q];
                                if (TDim.Value == 2)
                                    total[1] += gy[q];
                            }
                        }
                    }
                    float gamma = _gamma;
                    for (; p < negativeSamples; p++)
                    {
                        int other = _rng.NextInt(tailCount);
                        int oo = other * dim;
                        float negDistSq = 0f;
                        for (int d = 0; d < dim; d++)
                        {
                            float diff = position[d] - tail[oo + d];
                            negDistSq += diff * diff;
                        }
                        float repulse;
                        if (negDistSq > 0f)
                            repulse = 2f * gamma * b / ((0.001f + negDistSq) * (a * FastMath.Pow(negDistSq, b) + 1f));
                        else if (_sameArrays && j == other)
                            continue;
                        else
                            repulse = 0f;
                        for (int d = 0; d < dim; d++)
                        {
                            float grad = repulse > 0f ? Clip(repulse * (position[d] - tail[oo + d])) : 4f;
                            total[d] += linkCount > 0 ? Clip(grad - pull[d]) : grad;
                        }
                    }
                    for (int d = 0; d < dim; d++)
                        head[jo + d] = position[d] + total[d] * alpha;
                }
                _nextNegative[i] += negativeSamples * perNegative;
            }
        }
    }

    /// <summary>
    /// The clipped repulsive steps of up to eight negative samples at tails (<paramref name="tx"/>, <paramref name="ty"/>)
    /// from <paramref name="position"/>, alignment pull included; a lane whose squared distance is not positive gets the
    /// scalar loop's step of 4 (the caller skips a sample of the head itself).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void NegativeLanes<TDim>(ReadOnlySpan<float> tx, ReadOnlySpan<float> ty, ReadOnlySpan<float> position,
        ReadOnlySpan<float> pull, bool aligned, float a, float b, float twoGammaB, Span<float> gx, Span<float> gy)
        where TDim : struct, IDimension
    {
        Vector256<float> four = Vector256.Create(4f), zero = Vector256<float>.Zero;
        Vector256<float> dx = Vector256.Create(position[0]) - Vector256.Create(tx);
        Vector256<float> distSq = zero + dx * dx;
        Vector256<float> dy = zero;
        if (TDim.Value == 2)
        {
            dy = Vector256.Create(position[1]) - Vector256.Create(ty);
            distSq += dy * dy;
        }
        Vector256<float> repulse = Vector256.Create(twoGammaB) /
            ((Vector256.Create(0.001f) + distSq) * (Vector256.Create(a) * FastMath.Pow(distSq, b) + Vector256<float>.One));
        Vector256<float> positive = Vector256.GreaterThan(distSq, zero);
        Vector256<float> useRepulse = positive & Vector256.GreaterThan(repulse, zero);
        Vector256<float> stepX = Vector256.ConditionalSelect(useRepulse, Clip(repulse * dx), four);
        if (aligned)
            stepX = Clip(stepX - Vector256.Create(pull[0]));
        stepX.CopyTo(gx);
        if (TDim.Value == 2)
        {
            Vector256<float> stepY = Vector256.ConditionalSelect(useRepulse, Clip(repulse * dy), four);
            if (aligned)
                stepY = Clip(stepY - Vector256.Create(pull[1]));
            stepY.CopyTo(gy);
        }
    }

    /// <summary>Lane-wise <see cref="Clip(float)"/> with the same comparisons.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Clip(Vector256<float> v)
    {
        Vector256<float> four = Vector256.Create(4f), minusFour = Vector256.Create(-4f);
        return Vector256.ConditionalSelect(Vector256.GreaterThan(v, four), four,
            Vector256.ConditionalSelect(Vector256.LessThan(v, minusFour), minusFour, v));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Clip(float v) => v > 4f ? 4f : v < -4f ? -4f : v;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float AlignmentPull(float[][] weights, float[][] anchors, int item, int coordinate, float c)
    {
        float pull = 0f;
        for (int l = 0; l < weights.Length; l++)
            pull += Clip(weights[l][item] * (c - anchors[l][coordinate]));
        return pull;
    }
}
