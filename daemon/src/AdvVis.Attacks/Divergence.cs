// Where in the network an adversarial example leaves its class: per-layer distances between the benign and
// adversarial activations relative to the background's spread, the diverging point, and the most changed units there.
// (A compact, computed version of the Activation Profiles paper's Flow/Layer views; the views themselves live elsewhere.)
using AdvVis.Engine;

namespace AdvVis.Attacks;

/// <summary>One layer's comparison of the benign and adversarial activations.</summary>
public sealed record LayerDivergence(
    int Index, string Name, string OpType, int[] Shape,
    /// <summary>‖a_adv − a_benign‖₂.</summary>
    double Distance,
    /// <summary>The background's spread: RMS distance of background activations to their mean (or ‖a_benign‖₂ without background).</summary>
    double Spread,
    /// <summary>Distance / Spread: comparable across layers of different sizes and magnitudes.</summary>
    double Relative,
    double Cosine,
    /// <summary>Relative − the previous layer's Relative (the input's for the first layer).</summary>
    double Jump,
    /// <summary>With background: which class centroid (benign label vs adversarial class) each point is nearer to.</summary>
    string? BenignNearest, string? AdversarialNearest);

/// <summary>A unit (channel) of the diverging layer: its maximum over positions for both images and the change.</summary>
public sealed record UnitChange(int Unit, float Benign, float Adversarial, float Difference, float BackgroundStd, float Score);

public sealed record DivergingPoint(int LayerIndex, string Layer, double Score, string PreviousLayer, string Rule);

public sealed record DivergenceReport(
    double InputRelative, IReadOnlyList<LayerDivergence> Layers, DivergingPoint? Diverging, string? LeavesClassAt,
    IReadOnlyList<UnitChange> TopUnits, int BackgroundCount, string SpreadDefinition,
    float[]? BenignUnitMaps, float[]? AdversarialUnitMaps, int[]? UnitMapShape);

public static class Divergence
{
    private static readonly HashSet<string> Weighted = ["Conv", "ConvTranspose", "Gemm", "MatMul"];
    private static readonly HashSet<string> Pointwise = ["Add", "Relu", "BatchNormalization", "Clip", "LeakyRelu", "Sigmoid", "Tanh",
        "PRelu", "Elu", "HardSigmoid", "HardSwish", "Mul", "Div", "Sub", "Selu", "Softplus", "Gelu"];

    /// <summary>
    /// The default layers to compare (and the Flow View's default selection), in graph order: each weighted node
    /// (Conv, Gemm, MatMul) followed through its chain of single-reader pointwise ops (bias Add, BatchNorm, ReLU...),
    /// each Concat, and the graph output, keeping only values that every input-to-output path passes through
    /// (<see cref="Model.ValuesOnEveryPath"/>). So the list is always one path, branching models included: block
    /// outputs of residual networks, fire-module Concats of SqueezeNet, never one of two parallel branches.
    /// </summary>
    public static IReadOnlyList<(string Name, string OpType)> SelectLayers(Model model)
    {
        var readers = new Dictionary<int, List<ModelNode>>();
        foreach (var node in model.Nodes)
            foreach (var i in node.Inputs.Where(i => i >= 0))
                (readers.TryGetValue(i, out var l) ? l : readers[i] = []).Add(node);
        var output = model.OutputNames[0];
        var trunk = model.ValuesOnEveryPath(output);
        var layers = new List<(string, string, int)>();
        var seen = new HashSet<int>();
        foreach (var node in model.Nodes)
        {
            if (!Weighted.Contains(node.OpType) && node.OpType != "Concat") continue;
            var current = node;
            int value = node.Outputs[0];
            string op = node.OpType;
            while (readers.TryGetValue(value, out var r) && r.Count == 1 && Pointwise.Contains(r[0].OpType) && model.ValueNames[value] != output)
            {
                current = r[0];
                value = current.Outputs[0];
                if (current.OpType is "Relu" or "LeakyRelu" or "Clip" or "Sigmoid" or "Tanh" or "Elu" or "Selu" or "Gelu" or "HardSwish") op += "+" + current.OpType;
            }
            if (trunk.Contains(value) && seen.Add(value) && model.ValueNames[value] != output) layers.Add((model.ValueNames[value], op, current.Index));
        }
        var result = layers.OrderBy(l => l.Item3).Select(l => (l.Item1, l.Item2)).ToList();
        result.Add((output, "output"));
        return result;
    }

    /// <summary>
    /// Compares one benign image with its adversarial version [1,C,H,W] at every layer. The background [B,C,H,W]
    /// (optional) gives each layer's spread and, with labels, the class centroids of the benign label and the
    /// adversarial class. The diverging point is the hidden layer whose relative distance jumps most from the
    /// previous layer's (the output layer always separates, so it is not a candidate).
    /// </summary>
    public static DivergenceReport Compare(AttackModel model, Tensor benign, Tensor adversarial, int benignClass, int adversarialClass,
        Tensor? background = null, IReadOnlyList<int>? backgroundLabels = null, IReadOnlyList<(string Name, string OpType)>? layers = null,
        int topUnits = 10, IReadOnlyList<string>? classNames = null, int batchSize = 32, IProgress<double>? progress = null,
        CancellationToken cancellation = default)
    {
        layers ??= SelectLayers(model.Model);
        var names = layers.Select(l => l.Name).Where(n => n != model.OutputName).ToArray();
        var pair = new Tensor([2, model.Channels, model.Height, model.Width], [.. benign.Data.AsSpan(0, benign.Length), .. adversarial.Data.AsSpan(0, adversarial.Length)]);
        var (_, pass) = model.EvaluateWithCapture(pair, names, cancellation);
        var acts = layers.Select(l => pass[l.Name]).ToList();

        // Background statistics, streamed: per layer Σa, Σ‖a‖², per-class sums for the two classes, per-unit max stats.
        int L = layers.Count;
        var sum = new double[L][]; var sumSq = new double[L]; int count = 0;
        var classSum = new double[L][][]; var classCount = new int[2];
        var unitSum = new double[L][]; var unitSumSq = new double[L][];
        string spreadDefinition;
        if (background is { } bg && bg.Shape[0] > 0)
        {
            for (int l = 0; l < L; l++)
            {
                int per = acts[l].Length / 2, unitCount = UnitCount(acts[l]);
                sum[l] = new double[per]; classSum[l] = [new double[per], new double[per]];
                unitSum[l] = new double[unitCount]; unitSumSq[l] = new double[unitCount];
            }
            int total = bg.Shape[0];
            for (int start = 0; start < total; start += batchSize)
            {
                cancellation.ThrowIfCancellationRequested();
                int nb = Math.Min(batchSize, total - start);
                var (scores, bpass) = model.EvaluateWithCapture(Attack.Slice(bg, start, nb), names, cancellation);
                for (int i = 0; i < nb; i++)
                {
                    int cls = backgroundLabels is not null ? backgroundLabels[start + i] : scores.Predicted(i);
                    int which = cls == benignClass ? 0 : cls == adversarialClass ? 1 : -1;
                    if (which >= 0) classCount[which]++;
                    for (int l = 0; l < L; l++)
                    {
                        var t = layers[l].Name == model.OutputName ? LogSpaceOutput(scores) : bpass[layers[l].Name];
                        int per = t.Length / nb;
                        var a = t.Data.AsSpan(i * per, per);
                        var s = sum[l];
                        double sq = 0;
                        for (int j = 0; j < per; j++) { s[j] += a[j]; sq += (double)a[j] * a[j]; }
                        sumSq[l] += sq;
                        if (which >= 0) { var cs = classSum[l][which]; for (int j = 0; j < per; j++) cs[j] += a[j]; }
                        var um = UnitMaxima(t, i);
                        for (int u = 0; u < um.Length; u++) { unitSum[l][u] += um[u]; unitSumSq[l][u] += (double)um[u] * um[u]; }
                    }
                }
                count += nb;
                progress?.Report((double)count / total);
            }
            spreadDefinition = $"RMS distance of {count} background activations to their mean, per layer";
        }
        else spreadDefinition = "no background given: distances are relative to the benign activation's norm";

        // The output layer is compared in log space (logits or log-probabilities).
        for (int l = 0; l < L; l++)
            if (layers[l].Name == model.OutputName)
            {
                var sc = model.Evaluate(pair, cancellation);
                acts[l] = LogSpaceOutput(sc);
            }

        double Spread(int l, ReadOnlySpan<float> benignAct)
        {
            if (count == 0) return Math.Max(Norm(benignAct), 1e-12);
            double meanSq = 0;
            foreach (var v in sum[l]) meanSq += (v / count) * (v / count);
            return Math.Sqrt(Math.Max(sumSq[l] / count - meanSq, 1e-24));
        }

        // Input-space relative distance, as the starting point of the jumps.
        double inputRelative;
        {
            var d = Distance(benign.Data.AsSpan(0, benign.Length), adversarial.Data.AsSpan(0, adversarial.Length));
            if (background is { } b2 && b2.Shape[0] > 1)
            {
                int per = benign.Length; var mean = new double[per]; double sq = 0;
                int nb = b2.Shape[0];
                for (int i = 0; i < nb; i++) for (int j = 0; j < per; j++) { double v = b2.Data[i * per + j]; mean[j] += v; sq += v * v; }
                double msq = mean.Sum(v => (v / nb) * (v / nb));
                inputRelative = d / Math.Sqrt(Math.Max(sq / nb - msq, 1e-24));
            }
            else inputRelative = d / Math.Max(Norm(benign.Data.AsSpan(0, benign.Length)), 1e-12);
        }

        var result = new List<LayerDivergence>();
        double previous = inputRelative;
        string Name(int c) => classNames is not null && c >= 0 && c < classNames.Count ? classNames[c] : c.ToString(System.Globalization.CultureInfo.InvariantCulture);
        for (int l = 0; l < L; l++)
        {
            var t = acts[l];
            int per = t.Length / 2;
            var a = t.Data.AsSpan(0, per);
            var v = t.Data.AsSpan(per, per);
            double dist = Distance(a, v), spread = Spread(l, a), rel = dist / spread;
            string? bn = null, an = null;
            if (count > 0 && classCount[0] > 0 && classCount[1] > 0)
            {
                bn = Nearest(a, classSum[l], classCount) == 0 ? Name(benignClass) : Name(adversarialClass);
                an = Nearest(v, classSum[l], classCount) == 0 ? Name(benignClass) : Name(adversarialClass);
            }
            var shape = t.Shape.Skip(1).ToArray();
            result.Add(new LayerDivergence(l, layers[l].Name, layers[l].OpType, shape, dist, spread, rel, Cosine(a, v), rel - previous, bn, an));
            previous = rel;
        }

        DivergingPoint? diverging = null;
        var hidden = result.Where(r => r.Name != model.OutputName).ToList();
        if (hidden.Count > 0)
        {
            var top = hidden.MaxBy(r => r.Jump)!;
            diverging = new DivergingPoint(top.Index, top.Name, top.Jump, top.Index == 0 ? "input" : result[top.Index - 1].Name,
                "largest increase of the benign–adversarial distance relative to the background spread, from the previous layer (input for the first)");
        }
        // The first layer from which the adversarial point stays nearer the adversarial class's centroid.
        string? leaves = null;
        if (result.All(r => r.AdversarialNearest is not null))
        {
            string advName = Name(adversarialClass);
            for (int l = result.Count - 1; l >= 0 && result[l].AdversarialNearest == advName; l--) leaves = result[l].Name;
        }

        var units = new List<UnitChange>();
        float[]? benignMaps = null, advMaps = null; int[]? mapShape = null;
        if (diverging is not null)
        {
            int l = diverging.LayerIndex;
            var t = acts[l];
            var ub = UnitMaxima(t, 0); var ua = UnitMaxima(t, 1);
            for (int u = 0; u < ub.Length; u++)
            {
                float std = count > 1 ? (float)Math.Sqrt(Math.Max(unitSumSq[l][u] / count - Math.Pow(unitSum[l][u] / count, 2), 0)) : 0f;
                float diff = ua[u] - ub[u];
                units.Add(new UnitChange(u, ub[u], ua[u], diff, std, std > 0 ? diff / std : diff));
            }
            units = units.OrderByDescending(u => Math.Abs(u.Score)).Take(topUnits).ToList();
            if (t.Rank == 4)
            {
                int hw = t.Shape[2] * t.Shape[3], c = t.Shape[1];
                mapShape = [units.Count, t.Shape[2], t.Shape[3]];
                benignMaps = new float[units.Count * hw]; advMaps = new float[units.Count * hw];
                for (int k = 0; k < units.Count; k++)
                {
                    t.Data.AsSpan(units[k].Unit * hw, hw).CopyTo(benignMaps.AsSpan(k * hw));
                    t.Data.AsSpan((c + units[k].Unit) * hw, hw).CopyTo(advMaps.AsSpan(k * hw));
                }
            }
        }
        return new DivergenceReport(inputRelative, result, diverging, leaves, units, count, spreadDefinition, benignMaps, advMaps, mapShape);
    }

    private static Tensor LogSpaceOutput(Scores s)
    {
        var data = new float[s.Count * s.Classes];
        for (int b = 0; b < s.Count; b++) s.LogSpace(b).CopyTo(data, b * s.Classes);
        return new Tensor([s.Count, s.Classes], data);
    }

    private static int UnitCount(Tensor t) => t.Rank >= 2 ? t.Shape[1] : 1;

    /// <summary>Per unit (axis 1) of item <paramref name="item"/>: its maximum over the remaining axes.</summary>
    private static float[] UnitMaxima(Tensor t, int item)
    {
        int n = t.Shape[0], per = t.Length / n, units = UnitCount(t), inner = per / units;
        var result = new float[units];
        for (int u = 0; u < units; u++)
        {
            var span = t.Data.AsSpan(item * per + u * inner, inner);
            float m = float.NegativeInfinity;
            foreach (var v in span) m = Math.Max(m, v);
            result[u] = m;
        }
        return result;
    }

    private static int Nearest(ReadOnlySpan<float> a, double[][] classSums, int[] classCounts)
    {
        double d0 = 0, d1 = 0;
        for (int j = 0; j < a.Length; j++)
        {
            double e0 = a[j] - classSums[0][j] / classCounts[0], e1 = a[j] - classSums[1][j] / classCounts[1];
            d0 += e0 * e0; d1 += e1 * e1;
        }
        return d0 <= d1 ? 0 : 1;
    }

    private static double Norm(ReadOnlySpan<float> a)
    {
        double s = 0;
        foreach (var v in a) s += (double)v * v;
        return Math.Sqrt(s);
    }

    private static double Distance(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double s = 0;
        for (int i = 0; i < a.Length; i++) { double d = a[i] - b[i]; s += d * d; }
        return Math.Sqrt(s);
    }

    private static double Cosine(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double ab = 0, aa = 0, bb = 0;
        for (int i = 0; i < a.Length; i++) { ab += (double)a[i] * b[i]; aa += (double)a[i] * a[i]; bb += (double)b[i] * b[i]; }
        return aa == 0 || bb == 0 ? 0 : ab / Math.Sqrt(aa * bb);
    }
}
