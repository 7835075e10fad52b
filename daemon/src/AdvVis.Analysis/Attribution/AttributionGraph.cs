// MASSIF (Das et al.) / Bluff: attribution graphs that compare a model's response to benign images of one class and to
// their attacked versions. Nodes: per layer the units with the highest importance (mean over images of the unit's
// spatial-max activation) on either set, classed suppressed / emphasized / shared by the relative change of importance.
// Edges: between consecutive layers, the influence of unit p on unit q = Σ_hw A_p · ∂(Σ_hw Z_q)/∂A_p, where A_p is the
// earlier layer's activation and Z_q the later conv's own (pre-activation) output. Everything between them (pooling,
// ReLU, BN, the conv) is piecewise linear in A_p, so this is exactly "activation × weight": for p → maxpool → conv → q
// it is Σ over q's output positions of Σ_kernel W[q,p,·,·] · pooled(A_p). Averaged over the images of each set.
using System.Diagnostics;
using AdvVis.Analysis.NeuronSpace;
using AdvVis.Analysis.ReceptiveFields;
using AdvVis.Engine;

namespace AdvVis.Analysis.Attribution;

public enum UnitGroup
{
    /// <summary>Highly activated by both benign and attacked images.</summary>
    Shared,
    /// <summary>Activated by benign images, much less by attacked ones.</summary>
    Suppressed,
    /// <summary>Little activated by benign images, much more by attacked ones.</summary>
    Emphasized,
    /// <summary>Below the activity floor on both sets.</summary>
    Inactive,
}

/// <summary>MASSIF's feature visualization (activation maximization), provided by the Layers analysis.</summary>
public interface IFeatureVisualizer
{
    /// <summary>An input-shaped image that maximizes <paramref name="unit"/> of <paramref name="layer"/>.</summary>
    Tensor Visualize(Model model, string layer, int unit, CancellationToken cancellation);
}

/// <summary>Adapts a delegate to <see cref="IFeatureVisualizer"/>.</summary>
public sealed class DelegateFeatureVisualizer(Func<Model, string, int, CancellationToken, Tensor> visualize) : IFeatureVisualizer
{
    public Tensor Visualize(Model model, string layer, int unit, CancellationToken cancellation) => visualize(model, layer, unit, cancellation);
}

/// <summary>An attack over a batch of images in pixel space: returns the adversarial batch for budget <c>epsilon</c>.</summary>
public delegate Tensor AttackFunction(Tensor images, int[] labels, float epsilon, CancellationToken cancellation);

public sealed record AttributionOptions
{
    /// <summary>Layers of the graph in graph order; null = every convolutional layer found in the graph.</summary>
    public IReadOnlyList<string>? Layers { get; init; }
    public int TopUnitsPerLayer { get; init; } = 10;
    public int TopEdgesPerUnit { get; init; } = 3;
    /// <summary>Suppressed when (adv − benign) / max(benign, adv) ≤ −SuppressedThreshold.</summary>
    public double SuppressedThreshold { get; init; } = 0.5;
    /// <summary>Emphasized when (adv − benign) / max(benign, adv) ≥ EmphasizedThreshold.</summary>
    public double EmphasizedThreshold { get; init; } = 0.5;
    /// <summary>Inactive when max(benign, adv) &lt; ActivityFloor × the layer's largest importance.</summary>
    public double ActivityFloor { get; init; } = 0.05;
    public int BatchSize { get; init; } = 64;
}

public sealed record AttributionNode(string Layer, int LayerIndex, int Unit, float BenignImportance, float AdversarialImportance,
    float RelativeChange, UnitGroup Group);

public sealed record AttributionEdge(int FromLayerIndex, int FromUnit, int ToLayerIndex, int ToUnit, float BenignInfluence, float AdversarialInfluence);

/// <param name="BenignImportance">[layer][unit] for every unit, not only the graph's nodes.</param>
public sealed record AttributionGraph(int BenignClass, int TargetClass, int ImageCount, IReadOnlyList<string> Layers,
    float[][] BenignImportance, float[][] AdversarialImportance, IReadOnlyList<AttributionNode> Nodes, IReadOnlyList<AttributionEdge> Edges,
    AttributionOptions Options, TimeSpan Elapsed);

public static class AttributionGraphs
{
    /// <summary>The group of a unit from its benign and adversarial importance and the layer's largest importance.</summary>
    public static (UnitGroup Group, float RelativeChange) Classify(float benign, float adversarial, float layerMax, AttributionOptions options)
    {
        float top = Math.Max(benign, adversarial);
        if (top <= 0 || top < options.ActivityFloor * layerMax) return (UnitGroup.Inactive, 0f);
        float r = (adversarial - benign) / top;
        if (r <= -options.SuppressedThreshold) return (UnitGroup.Suppressed, r);
        if (r >= options.EmphasizedThreshold) return (UnitGroup.Emphasized, r);
        return (UnitGroup.Shared, r);
    }

    public static IReadOnlyList<UnitLayer> ResolveLayers(Model model, IReadOnlyList<string>? names) =>
        names is null ? ModelProbe.ConvolutionLayers(model) : names.Select(n => ModelProbe.Layer(model, n)).ToList();

    /// <summary>Mean over images of each unit's spatial-max activation, per layer.</summary>
    public static float[][] Importance(Model model, Tensor images, IReadOnlyList<string> layers, int batchSize, CancellationToken cancellation = default)
    {
        var sums = new double[layers.Count][];
        int n = images.Shape[0];
        for (int start = 0; start < n; start += batchSize)
        {
            int count = Math.Min(batchSize, n - start);
            var pass = model.Forward(ModelProbe.Slice(images, start, count), new RunOptions { Capture = layers.ToArray(), StopAfterCaptures = true, Cancellation = cancellation });
            for (int l = 0; l < layers.Count; l++)
            {
                var m = ModelProbe.UnitMaxima(pass[layers[l]]);
                sums[l] ??= new double[m[0].Length];
                foreach (var row in m) for (int u = 0; u < row.Length; u++) sums[l][u] += row[u];
            }
        }
        return sums.Select(s => s.Select(v => (float)(v / n)).ToArray()).ToArray();
    }

    /// <summary>
    /// influence[q][p] averaged over images: the influence of every unit p of <paramref name="from"/> on each unit q in
    /// <paramref name="toUnits"/> of <paramref name="to"/>.
    /// </summary>
    public static float[][] Influence(Model model, Tensor images, UnitLayer from, UnitLayer to, IReadOnlyList<int> toUnits, int batchSize,
        CancellationToken cancellation = default)
    {
        int n = images.Shape[0];
        var sums = new double[toUnits.Count][];
        for (int start = 0; start < n; start += batchSize)
        {
            int count = Math.Min(batchSize, n - start);
            var pass = model.Forward(ModelProbe.Slice(images, start, count), new RunOptions
            {
                Capture = [from.ValueName, to.LinearValueName], RecordForBackward = true, Cancellation = cancellation,
            });
            var a = pass[from.ValueName];
            var z = pass[to.LinearValueName];
            int qc = z.Shape[1], zhw = z.Length / (count * qc);
            int pc = a.Shape[1], ahw = a.Length / (count * pc);
            for (int k = 0; k < toUnits.Count; k++)
            {
                cancellation.ThrowIfCancellationRequested();
                var seed = Tensor.Zeros(z.Shape);
                for (int i = 0; i < count; i++) seed.Data.AsSpan((i * qc + toUnits[k]) * zhw, zhw).Fill(1f);
                var g = pass.Backward(new Dictionary<string, Tensor> { [to.LinearValueName] = seed }, [from.ValueName], cancellation)[from.ValueName];
                var s = sums[k] ??= new double[pc];
                for (int i = 0; i < count; i++)
                    for (int p = 0; p < pc; p++)
                    {
                        int off = (i * pc + p) * ahw;
                        double acc = 0;
                        for (int j = 0; j < ahw; j++) acc += (double)a.Data[off + j] * g.Data[off + j];
                        s[p] += acc;
                    }
            }
        }
        return sums.Select(s => s.Select(v => (float)(v / n)).ToArray()).ToArray();
    }

    /// <summary>
    /// The combined benign/attacked attribution graph for images of <paramref name="benignClass"/> and their attacked versions
    /// (targeting <paramref name="targetClass"/>; pass −1 for an untargeted attack).
    /// </summary>
    public static AttributionGraph Build(Model model, Tensor benignImages, Tensor adversarialImages, int benignClass, int targetClass,
        AttributionOptions? options = null, CancellationToken cancellation = default, IProgress<double>? progress = null)
    {
        options ??= new AttributionOptions();
        var sw = Stopwatch.StartNew();
        var layers = ResolveLayers(model, options.Layers);
        var names = layers.Select(l => l.ValueName).ToList();
        var impB = Importance(model, benignImages, names, options.BatchSize, cancellation);
        progress?.Report(0.1);
        var impA = Importance(model, adversarialImages, names, options.BatchSize, cancellation);
        progress?.Report(0.2);

        var nodes = new List<AttributionNode>();
        var selected = new List<int[]>();
        for (int l = 0; l < layers.Count; l++)
        {
            float layerMax = Math.Max(impB[l].Max(), impA[l].Max());
            var top = Enumerable.Range(0, impB[l].Length).OrderByDescending(u => Math.Max(impB[l][u], impA[l][u])).ThenBy(u => u)
                .Take(options.TopUnitsPerLayer).ToArray();
            selected.Add(top);
            foreach (var u in top)
            {
                var (group, r) = Classify(impB[l][u], impA[l][u], layerMax, options);
                nodes.Add(new AttributionNode(names[l], l, u, impB[l][u], impA[l][u], r, group));
            }
        }

        var edges = new List<AttributionEdge>();
        for (int l = 1; l < layers.Count; l++)
        {
            var infB = Influence(model, benignImages, layers[l - 1], layers[l], selected[l], options.BatchSize, cancellation);
            var infA = Influence(model, adversarialImages, layers[l - 1], layers[l], selected[l], options.BatchSize, cancellation);
            for (int k = 0; k < selected[l].Length; k++)
            {
                var best = selected[l - 1].OrderByDescending(p => Math.Max(infB[k][p], infA[k][p])).ThenBy(p => p).Take(options.TopEdgesPerUnit);
                foreach (var p in best)
                    edges.Add(new AttributionEdge(l - 1, p, l, selected[l][k], infB[k][p], infA[k][p]));
            }
            progress?.Report(0.2 + 0.8 * l / Math.Max(1, layers.Count - 1));
        }
        progress?.Report(1.0);
        return new AttributionGraph(benignClass, targetClass, benignImages.Shape[0], names, impB, impA, nodes, edges, options, sw.Elapsed);
    }

    /// <summary>Hover details of a node: dataset example patches (RF crops of its top-activating images) and, when a visualizer is given, its feature visualization.</summary>
    public static (IReadOnlyList<ExamplePatch> Patches, Tensor? FeatureVisualization) Describe(Model model, Tensor datasetImages, string layer, int unit,
        int patchCount = 6, IFeatureVisualizer? visualizer = null, RfOptions? rf = null, CancellationToken cancellation = default)
    {
        var patches = ContextImages.ExamplePatches(model, datasetImages, layer, unit, patchCount, rf, 128, cancellation);
        return (patches, visualizer?.Visualize(model, layer, unit, cancellation));
    }
}
