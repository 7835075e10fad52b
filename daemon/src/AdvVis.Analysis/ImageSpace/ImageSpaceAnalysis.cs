// Li et al. §5.1, image space: a 2-D projection of the penultimate activations of benign and adversarial images,
// the prediction matrix (true label × adversarial label) and the image pairs with the four sorting measures.
using System.Diagnostics;
using AdvVis.Analysis.NeuronSpace;
using AdvVis.Analysis.Projection;
using AdvVis.Engine;

namespace AdvVis.Analysis.ImageSpace;

public sealed record ImageSpaceOptions
{
    /// <summary>Tensor whose activations are projected; null = the data input of the last dense layer.</summary>
    public string? Layer { get; init; }
    public int BatchSize { get; init; } = 128;
    /// <summary>UMAP settings (seed included). Benign and adversarial points are fitted together, so both plots share one space.</summary>
    public UmapOptions Umap { get; init; } = new() { Seed = 42 };
    /// <summary>Skip the projection (e.g. when the view only needs the matrix and the pairs).</summary>
    public bool Project { get; init; } = true;
}

/// <summary>One benign/adversarial pair with everything the image grid shows and sorts by.</summary>
public sealed record ImagePair(int Index, int TrueLabel, int BenignLabel, int AdversarialLabel,
    float PerturbationL2, float BenignLabelProbabilityOnBenign, float BenignLabelProbabilityOnAdversarial,
    float AdversarialLabelProbabilityOnBenign, float AdversarialLabelProbabilityOnAdversarial)
{
    /// <summary>p_benign(bId) − p_adversarial(bId), bId = the benign prediction.</summary>
    public float BenignProbabilityDrop => BenignLabelProbabilityOnBenign - BenignLabelProbabilityOnAdversarial;
    /// <summary>p_adversarial(aId) − p_benign(aId), aId = the adversarial prediction.</summary>
    public float AdversarialProbabilityGain => AdversarialLabelProbabilityOnAdversarial - AdversarialLabelProbabilityOnBenign;
    /// <summary>Correct before the attack and misclassified after it: the pairs the paper analyses.</summary>
    public bool BenignCorrect => BenignLabel == TrueLabel;
    public bool AttackSucceeded => BenignCorrect && AdversarialLabel != TrueLabel;
}

/// <summary>The paper's four orderings of the image grid.</summary>
public enum PairOrder { PerturbationAscending, PerturbationDescending, BenignProbabilityDrop, AdversarialProbabilityGain }

/// <param name="BenignXY">n×2 projection of the benign images (null when not projected).</param>
/// <param name="AdversarialXY">n×2 projection of the adversarial images, in the same space.</param>
/// <param name="PredictionMatrix">[true label][adversarial label] counts over all pairs.</param>
public sealed record ImageSpaceResult(string Layer, int ClassCount, float[][]? BenignXY, float[][]? AdversarialXY,
    int[][] PredictionMatrix, IReadOnlyList<ImagePair> Pairs, float[][] BenignProbabilities, float[][] AdversarialProbabilities,
    TimeSpan ForwardTime, TimeSpan ProjectionTime)
{
    public IReadOnlyList<ImagePair> Sorted(PairOrder order, IEnumerable<ImagePair>? subset = null)
    {
        var items = (subset ?? Pairs).ToList();
        return order switch
        {
            PairOrder.PerturbationAscending => items.OrderBy(p => p.PerturbationL2).ThenBy(p => p.Index).ToList(),
            PairOrder.PerturbationDescending => items.OrderByDescending(p => p.PerturbationL2).ThenBy(p => p.Index).ToList(),
            PairOrder.BenignProbabilityDrop => items.OrderByDescending(p => p.BenignProbabilityDrop).ThenBy(p => p.Index).ToList(),
            _ => items.OrderByDescending(p => p.AdversarialProbabilityGain).ThenBy(p => p.Index).ToList(),
        };
    }

    /// <summary>The pairs of one prediction-matrix cell (a click on the matrix).</summary>
    public IReadOnlyList<ImagePair> Cell(int trueLabel, int adversarialLabel) =>
        Pairs.Where(p => p.TrueLabel == trueLabel && p.AdversarialLabel == adversarialLabel).ToList();
}

public static class ImageSpaceAnalysis
{
    public static ImageSpaceResult Analyze(Model model, Tensor benign, Tensor adversarial, int[] labels, ImageSpaceOptions? options = null,
        CancellationToken cancellation = default, IProgress<double>? progress = null)
    {
        options ??= new ImageSpaceOptions();
        int n = benign.Shape[0];
        if (adversarial.Shape[0] != n || labels.Length != n || benign.Length != adversarial.Length)
            throw new ArgumentException("Benign images, adversarial images and labels must match one to one.");
        string layer = options.Layer ?? ModelProbe.PenultimateValue(model);
        var sw = Stopwatch.StartNew();
        var (outB, capB) = ModelProbe.RunBatched(model, benign, [layer], options.BatchSize, null, cancellation,
            progress is null ? null : new Progress<double>(p => progress.Report(0.25 * p)));
        var (outA, capA) = ModelProbe.RunBatched(model, adversarial, [layer], options.BatchSize, null, cancellation,
            progress is null ? null : new Progress<double>(p => progress.Report(0.25 + 0.25 * p)));
        bool probs = ModelProbe.OutputIsProbability(model);
        var pB = ModelProbe.Probabilities(outB, probs);
        var pA = ModelProbe.Probabilities(outA, probs);
        var forward = sw.Elapsed;
        int k = pB[0].Length;

        var matrix = Enumerable.Range(0, k).Select(_ => new int[k]).ToArray();
        var pairs = new List<ImagePair>(n);
        int per = benign.Length / n;
        for (int i = 0; i < n; i++)
        {
            int b = ModelProbe.ArgMax(pB[i]), a = ModelProbe.ArgMax(pA[i]);
            double l2 = 0;
            for (int j = 0; j < per; j++) { double d = adversarial.Data[i * per + j] - benign.Data[i * per + j]; l2 += d * d; }
            if ((uint)labels[i] < (uint)k) matrix[labels[i]][a]++;
            pairs.Add(new ImagePair(i, labels[i], b, a, (float)Math.Sqrt(l2), pB[i][b], pA[i][b], pB[i][a], pA[i][a]));
        }

        float[][]? xyB = null, xyA = null;
        sw.Restart();
        if (options.Project)
        {
            var fb = capB[layer]; var fa = capA[layer];
            int d = fb.Length / n;
            var data = new float[2 * n * d];
            fb.Data.AsSpan(0, n * d).CopyTo(data);
            fa.Data.AsSpan(0, n * d).CopyTo(data.AsSpan(n * d));
            var umap = Umap.Fit(new DenseMatrix(data, 2 * n, d), options.Umap with { NeighborCount = Math.Min(options.Umap.NeighborCount, 2 * n - 1) });
            var e = umap.Embedding;
            xyB = Enumerable.Range(0, n).Select(i => new[] { e[i, 0], e[i, 1] }).ToArray();
            xyA = Enumerable.Range(0, n).Select(i => new[] { e[n + i, 0], e[n + i, 1] }).ToArray();
        }
        progress?.Report(1.0);
        return new ImageSpaceResult(layer, k, xyB, xyA, matrix, pairs, pB, pA, forward, sw.Elapsed);
    }
}
