// Flow View data (Activation Profiles §4.3): every selected layer's outputs reduced to one aligned UMAP coordinate
// fitted on the background set; foreground items (benign/adversarial twins) transformed into the fitted axes without
// refitting; background flow bundles per layer pair and label; profile histograms and class fingerprints; and the
// divergence of each benign/adversarial pair per layer relative to the background's spread, with its diverging point.
using System.Diagnostics;
using AdvVis.Analysis.Projection;
using AdvVis.Engine;

namespace AdvVis.Analysis.Profiles;

/// <summary>Which label colours the background.</summary>
public enum LabelSource { True, Predicted }

/// <summary>A benign foreground item and its adversarial twin (indices into the foreground rows).</summary>
public sealed record ForegroundPair(int Benign, int Adversarial);

/// <summary>Settings of <see cref="ActivationProfiles.Compute"/>; every randomised step is driven by <see cref="Seed"/>.</summary>
public sealed record FlowOptions
{
    public ulong Seed { get; init; } = 42;
    /// <summary>Bins per axis of the profile histograms and class fingerprints.</summary>
    public int HistogramBins { get; init; } = 32;
    /// <summary>Bins per axis used to group background lines into bundles (coarser than the histograms).</summary>
    public int BundleBins { get; init; } = 8;
    /// <summary>
    /// Aligned UMAP settings (1-D, 15 neighbours, 200 epochs; alignment λ = 0.05, stronger than AlignedUmapOptions'
    /// 0.02 because on real activations of the paper CNN it lifts neighbouring-axis Spearman above AlignedUMAP's while
    /// every axis keeps trustworthiness within 0.02 of umap-learn's). The seed is replaced by <see cref="Seed"/>.
    /// </summary>
    public AlignedUmapOptions Projection { get; init; } = new() { AlignmentRegularisation = 0.05 };
    /// <summary>Transform foreground items jointly across layers with the fit's alignment penalty.</summary>
    public bool AlignForeground { get; init; } = true;
    /// <summary>Compute trustworthiness (k = <see cref="QualityNeighbours"/>) per axis and neighbouring-axis Spearman (O(n²·d)).</summary>
    public bool ComputeQuality { get; init; }
    public int QualityNeighbours { get; init; } = 10;
    /// <summary>Background pairs sampled to estimate each layer's spread (median pairwise distance).</summary>
    public int SpreadPairs { get; init; } = 4000;
}

/// <summary>The background and foreground of one Flow View request.</summary>
/// <param name="Background">Per selected layer, the background items' outputs (N × features), same items in every layer.</param>
/// <param name="Labels">Per background item, its class (true or predicted, see <paramref name="LabelSource"/>); −1 = unlabelled.</param>
/// <param name="Foreground">Per selected layer, the foreground items' outputs (M × features), or null.</param>
public sealed record FlowInput(IReadOnlyList<string> Layers, IReadOnlyList<DenseMatrix> Background, int[] Labels,
    LabelSource LabelSource, IReadOnlyList<DenseMatrix>? Foreground = null, IReadOnlyList<ForegroundPair>? Pairs = null);

/// <summary>One vertical axis: raw UMAP range of the background (positions are normalised by it) and optional quality.</summary>
public sealed record FlowAxis(string Layer, int Features, float Min, float Max, double? Trustworthiness);

/// <summary>
/// A bundle of background lines between axes <paramref name="Pair"/> and Pair + 1: items of <paramref name="Label"/> that
/// start in bundle bin <paramref name="FromBin"/> and end in <paramref name="ToBin"/>. Draw one curve from
/// (Pair, <paramref name="From"/>) to (Pair + 1, <paramref name="To"/>) with width ∝ <paramref name="Count"/>; the spreads
/// are the standard deviations of the member lines' end points (how tightly they were bundled).
/// </summary>
public sealed record FlowBundle(int Pair, int Label, int FromBin, int ToBin, int Count, float From, float To, float FromSpread,
    float ToSpread);

/// <summary>A label's centre line: per axis the quartiles of its items' positions (a bundling spine for the view).</summary>
public sealed record LabelSpine(int Label, int Count, float[] Q1, float[] Median, float[] Q3);

/// <summary>
/// Per label, a heatmap: <see cref="Density"/>[axis][bin] = share of the label's items in that bin (rows sum to 1);
/// <see cref="Concentration"/>[axis] = the largest share (bright = condensed, as the paper reads fingerprints).
/// </summary>
public sealed record ClassFingerprint(int Label, int Count, float[][] Density, float[] Concentration);

/// <summary>Per layer: how far a benign item and its twin are, absolutely and relative to the background's spread.</summary>
/// <param name="Distance">Euclidean distance of the two outputs in the layer's own space.</param>
/// <param name="BackgroundSpread">Median Euclidean distance between background items in that layer.</param>
/// <param name="Relative">Distance / BackgroundSpread (0 = identical, 1 = as far apart as typical background items).</param>
/// <param name="ProfileDistance">|difference| of the two normalised profile positions on the axis.</param>
public sealed record LayerDivergence(string Layer, double Distance, double BackgroundSpread, double Relative, double ProfileDistance);

/// <summary>
/// A pair's divergence across the selected layers. The diverging point is between axes <see cref="DivergingAfter"/> and
/// <see cref="DivergingAfter"/> + 1, where <see cref="LayerDivergence.Relative"/> grows most (<see cref="Jump"/>); −1 with
/// a single layer.
/// </summary>
public sealed record PairDivergence(ForegroundPair Pair, IReadOnlyList<LayerDivergence> Layers, int DivergingAfter, double Jump,
    int ProfileDivergingAfter);

public sealed record FlowTimings(double ProjectionSeconds, double ForegroundSeconds, double SummariesSeconds, double QualitySeconds);

/// <summary>Everything the Flow View draws. Positions are normalised per axis to the background's [0, 1] range.</summary>
/// <param name="Background">[axis][item] background positions.</param>
/// <param name="Foreground">[axis][item] foreground positions (may fall slightly outside [0, 1]).</param>
/// <param name="Histograms">[axis][label][bin] counts of background items (labels 0..LabelCount−1).</param>
/// <param name="Alignment">Mean Spearman correlation of neighbouring axes' background orderings (when quality is computed).</param>
public sealed record FlowResult(IReadOnlyList<FlowAxis> Axes, float[][] Background, float[][] Foreground, int[] Labels,
    LabelSource LabelSource, int LabelCount, IReadOnlyList<FlowBundle> Bundles, IReadOnlyList<LabelSpine> Spines,
    int[][][] Histograms, IReadOnlyList<ClassFingerprint> Fingerprints, IReadOnlyList<PairDivergence> Divergences,
    double? Alignment, FlowTimings Timings)
{
    /// <summary>The fitted projection (kept so that more foreground items can be placed later without refitting).</summary>
    public AlignedUmapModel? Model { get; init; }
}

public static class ActivationProfiles
{
    /// <summary>Collects activations with <see cref="Activations.Collect"/> and computes the Flow View data.</summary>
    /// <param name="background">Background images [N, ...] in model input space.</param>
    /// <param name="trueLabels">True labels of the background; with <see cref="LabelSource.Predicted"/> the model's predictions colour it instead.</param>
    /// <param name="foreground">Foreground images [M, ...], or null.</param>
    public static FlowResult Compute(Model model, IReadOnlyList<string> layers, Tensor background, int[]? trueLabels,
        LabelSource labelSource, Tensor? foreground, IReadOnlyList<ForegroundPair>? pairs, FlowOptions options,
        CancellationToken cancellation = default, IProgress<double>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(background);
        ActivationSet bg = Activations.Collect(model, layers, background, predict: labelSource == LabelSource.Predicted,
            cancellation: cancellation, progress: Scaled(progress, 0, 0.2));
        ActivationSet? fg = foreground is null ? null
            : Activations.Collect(model, layers, foreground, cancellation: cancellation, progress: Scaled(progress, 0.2, 0.25));
        int[] labels = labelSource == LabelSource.Predicted ? bg.Predicted!
            : trueLabels ?? throw new ArgumentException("True labels are needed for LabelSource.True.", nameof(trueLabels));
        var input = new FlowInput(layers, bg.Layers.Select(l => l.Values).ToArray(), labels, labelSource,
            fg?.Layers.Select(l => l.Values).ToArray(), pairs);
        return Compute(input, options, cancellation, Scaled(progress, 0.25, 1.0));
    }

    /// <summary>Computes the Flow View data from activations already collected.</summary>
    public static FlowResult Compute(FlowInput input, FlowOptions options, CancellationToken cancellation = default,
        IProgress<double>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(options);
        int layerCount = input.Layers.Count;
        if (layerCount == 0 || input.Background.Count != layerCount)
            throw new ArgumentException("One background matrix per selected layer is needed.", nameof(input));
        int n = input.Background[0].Rows;
        if (input.Labels.Length != n)
            throw new ArgumentException($"{input.Labels.Length} labels for {n} background items.", nameof(input));
        if (input.Foreground is { } fgLayers && fgLayers.Count != layerCount)
            throw new ArgumentException("One foreground matrix per selected layer is needed.", nameof(input));
        int m = input.Foreground?[0].Rows ?? 0;
        foreach (ForegroundPair p in input.Pairs ?? [])
            if ((uint)p.Benign >= (uint)m || (uint)p.Adversarial >= (uint)m)
                throw new ArgumentException($"Pair ({p.Benign}, {p.Adversarial}) is outside the {m} foreground items.", nameof(input));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.HistogramBins, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.BundleBins, 1);

        var watch = Stopwatch.StartNew();
        AlignedUmapOptions projection = options.Projection with { Layer = options.Projection.Layer with { Seed = options.Seed } };
        AlignedUmapModel fitted = AlignedUmap.Fit(input.Background, projection, cancellation, Scaled(progress, 0, 0.8));
        IReadOnlyList<DenseMatrix> embeddings = fitted.Embeddings;
        double projectionSeconds = watch.Elapsed.TotalSeconds;

        watch.Restart();
        IReadOnlyList<DenseMatrix>? placed = input.Foreground is null || m == 0 ? null
            : fitted.TransformAll(input.Foreground, options.AlignForeground, SplitMix64.Derive(options.Seed, 77), cancellation);
        double foregroundSeconds = watch.Elapsed.TotalSeconds;
        progress?.Report(0.9);

        watch.Restart();
        var axes = new FlowAxis[layerCount];
        var bgPos = new float[layerCount][];
        var fgPos = new float[layerCount][];
        for (int l = 0; l < layerCount; l++)
        {
            float[] raw = embeddings[l].Column(0);
            float min = raw.Length == 0 ? 0 : raw.Min(), max = raw.Length == 0 ? 1 : raw.Max();
            float range = max > min ? max - min : 1f;
            bgPos[l] = Array.ConvertAll(raw, v => (v - min) / range);
            fgPos[l] = placed is null ? [] : Array.ConvertAll(placed[l].Column(0), v => (v - min) / range);
            axes[l] = new FlowAxis(input.Layers[l], input.Background[l].Columns, min, max, null);
        }
        int labelCount = Math.Max(0, input.Labels.DefaultIfEmpty(-1).Max() + 1);
        int[][][] histograms = Histograms(bgPos, input.Labels, labelCount, options.HistogramBins);
        var fingerprints = Fingerprints(histograms, input.Labels, labelCount);
        var bundles = Bundles(bgPos, input.Labels, options.BundleBins);
        var spines = Spines(bgPos, input.Labels, labelCount);
        var divergences = new List<PairDivergence>();
        if (input.Pairs is { Count: > 0 } pairs)
        {
            double[] spreads = input.Background.Select((b, l) => BackgroundSpread(b, options.SpreadPairs, SplitMix64.Derive(options.Seed, 500 + (ulong)l))).ToArray();
            foreach (ForegroundPair pair in pairs)
                divergences.Add(Divergence(pair, input, spreads, fgPos));
        }
        double summariesSeconds = watch.Elapsed.TotalSeconds;

        watch.Restart();
        double? alignment = null;
        if (options.ComputeQuality)
        {
            for (int l = 0; l < layerCount; l++)
            {
                cancellation.ThrowIfCancellationRequested();
                axes[l] = axes[l] with { Trustworthiness = ProjectionQuality.Trustworthiness(input.Background[l], embeddings[l], options.QualityNeighbours) };
            }
            alignment = layerCount > 1 ? ProjectionQuality.MeanNeighbourSpearman(embeddings) : null;
        }
        progress?.Report(1.0);
        return new FlowResult(axes, bgPos, fgPos, (int[])input.Labels.Clone(), input.LabelSource, labelCount, bundles, spines,
            histograms, fingerprints, divergences, alignment,
            new FlowTimings(projectionSeconds, foregroundSeconds, summariesSeconds, watch.Elapsed.TotalSeconds)) { Model = fitted };
    }

    internal static int Bin(float position, int bins) => Math.Clamp((int)(position * bins), 0, bins - 1);

    /// <summary>[axis][label][bin] counts of background items (unlabelled items are skipped).</summary>
    public static int[][][] Histograms(float[][] positions, int[] labels, int labelCount, int bins)
    {
        var result = new int[positions.Length][][];
        for (int l = 0; l < positions.Length; l++)
        {
            result[l] = Enumerable.Range(0, labelCount).Select(_ => new int[bins]).ToArray();
            for (int i = 0; i < labels.Length; i++)
                if (labels[i] >= 0)
                    result[l][labels[i]][Bin(positions[l][i], bins)]++;
        }
        return result;
    }

    public static IReadOnlyList<ClassFingerprint> Fingerprints(int[][][] histograms, int[] labels, int labelCount)
    {
        var result = new List<ClassFingerprint>();
        for (int c = 0; c < labelCount; c++)
        {
            int count = labels.Count(v => v == c);
            var density = new float[histograms.Length][];
            var concentration = new float[histograms.Length];
            for (int l = 0; l < histograms.Length; l++)
            {
                density[l] = histograms[l][c].Select(v => count == 0 ? 0f : (float)v / count).ToArray();
                concentration[l] = density[l].DefaultIfEmpty(0f).Max();
            }
            result.Add(new ClassFingerprint(c, count, density, concentration));
        }
        return result;
    }

    /// <summary>Groups background lines per layer pair by (label, start bin, end bin); largest bundles first per pair.</summary>
    public static IReadOnlyList<FlowBundle> Bundles(float[][] positions, int[] labels, int bins)
    {
        var result = new List<FlowBundle>();
        for (int l = 0; l + 1 < positions.Length; l++)
        {
            var groups = new Dictionary<(int Label, int From, int To), List<int>>();
            for (int i = 0; i < labels.Length; i++)
            {
                var key = (labels[i], Bin(positions[l][i], bins), Bin(positions[l + 1][i], bins));
                if (!groups.TryGetValue(key, out var list))
                    groups[key] = list = [];
                list.Add(i);
            }
            foreach (var ((label, from, to), members) in groups.OrderByDescending(g => g.Value.Count).ThenBy(g => g.Key))
            {
                var (fromMean, fromStd) = MeanStd(members.Select(i => positions[l][i]));
                var (toMean, toStd) = MeanStd(members.Select(i => positions[l + 1][i]));
                result.Add(new FlowBundle(l, label, from, to, members.Count, fromMean, toMean, fromStd, toStd));
            }
        }
        return result;
    }

    private static (float Mean, float Std) MeanStd(IEnumerable<float> values)
    {
        double sum = 0, sq = 0;
        int n = 0;
        foreach (float v in values)
        {
            sum += v;
            sq += (double)v * v;
            n++;
        }
        double mean = sum / n;
        return ((float)mean, (float)Math.Sqrt(Math.Max(0, sq / n - mean * mean)));
    }

    public static IReadOnlyList<LabelSpine> Spines(float[][] positions, int[] labels, int labelCount)
    {
        var result = new List<LabelSpine>();
        for (int c = 0; c < labelCount; c++)
        {
            int[] members = Enumerable.Range(0, labels.Length).Where(i => labels[i] == c).ToArray();
            var q1 = new float[positions.Length];
            var med = new float[positions.Length];
            var q3 = new float[positions.Length];
            for (int l = 0; l < positions.Length && members.Length > 0; l++)
            {
                float[] values = members.Select(i => positions[l][i]).Order().ToArray();
                q1[l] = Quantile(values, 0.25);
                med[l] = Quantile(values, 0.5);
                q3[l] = Quantile(values, 0.75);
            }
            result.Add(new LabelSpine(c, members.Length, q1, med, q3));
        }
        return result;
    }

    /// <summary>Linear-interpolated quantile of sorted values (numpy's default).</summary>
    internal static float Quantile(float[] sorted, double q)
    {
        double pos = q * (sorted.Length - 1);
        int lo = (int)Math.Floor(pos), hi = Math.Min(lo + 1, sorted.Length - 1);
        return (float)(sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]));
    }

    /// <summary>Median Euclidean distance over <paramref name="pairs"/> random background pairs (all pairs when fewer).</summary>
    public static double BackgroundSpread(DenseMatrix background, int pairs, ulong seed)
    {
        int n = background.Rows;
        if (n < 2)
            return 0;
        var distances = new List<double>();
        long all = (long)n * (n - 1) / 2;
        if (all <= pairs)
        {
            for (int i = 0; i < n; i++)
                for (int j = i + 1; j < n; j++)
                    distances.Add(Euclidean(background.Row(i), background.Row(j)));
        }
        else
        {
            var rng = new Xoshiro128StarStar(seed);
            for (int t = 0; t < pairs; t++)
            {
                int i = rng.NextInt(n), j = rng.NextInt(n - 1);
                if (j >= i)
                    j++;
                distances.Add(Euclidean(background.Row(i), background.Row(j)));
            }
        }
        distances.Sort();
        int mid = distances.Count / 2;
        return distances.Count % 2 == 1 ? distances[mid] : 0.5 * (distances[mid - 1] + distances[mid]);
    }

    internal static double Euclidean(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double sum = 0;
        for (int i = 0; i < a.Length; i++)
        {
            double d = (double)a[i] - b[i];
            sum += d * d;
        }
        return Math.Sqrt(sum);
    }

    private static PairDivergence Divergence(ForegroundPair pair, FlowInput input, double[] spreads, float[][] fgPos)
    {
        var layers = new LayerDivergence[input.Layers.Count];
        for (int l = 0; l < layers.Length; l++)
        {
            DenseMatrix f = input.Foreground![l];
            double distance = Euclidean(f.Row(pair.Benign), f.Row(pair.Adversarial));
            double relative = spreads[l] > 0 ? distance / spreads[l] : 0;
            double profile = Math.Abs(fgPos[l][pair.Benign] - fgPos[l][pair.Adversarial]);
            layers[l] = new LayerDivergence(input.Layers[l], distance, spreads[l], relative, profile);
        }
        var (after, jump) = LargestIncrease(layers.Select(d => d.Relative).ToArray());
        var (profileAfter, _) = LargestIncrease(layers.Select(d => d.ProfileDistance).ToArray());
        return new PairDivergence(pair, layers, after, jump, profileAfter);
    }

    /// <summary>The index l maximising values[l+1] − values[l] (first on ties), and that increase; (−1, 0) for one value.</summary>
    public static (int After, double Jump) LargestIncrease(double[] values)
    {
        int best = -1;
        double jump = double.NegativeInfinity;
        for (int l = 0; l + 1 < values.Length; l++)
            if (values[l + 1] - values[l] > jump)
            {
                jump = values[l + 1] - values[l];
                best = l;
            }
        return best < 0 ? (-1, 0) : (best, jump);
    }

    internal static IProgress<double>? Scaled(IProgress<double>? progress, double from, double to) =>
        progress is null ? null : new ScaledProgress(progress, from, to);

    private sealed class ScaledProgress(IProgress<double> inner, double from, double to) : IProgress<double>
    {
        public void Report(double value) => inner.Report(from + (to - from) * Math.Clamp(value, 0, 1));
    }
}
