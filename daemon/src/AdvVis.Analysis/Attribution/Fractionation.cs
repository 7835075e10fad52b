// MASSIF fractionation: sweep the attack strength ε, record every unit's importance on the attacked images at each ε,
// and give each unit the weakest ε at which it leaves the benign grouping (becomes suppressed or emphasized):
// its vulnerability. Plus neuron editing: delete units and re-measure clean accuracy and attack success.
using System.Diagnostics;
using AdvVis.Analysis.NeuronSpace;
using AdvVis.Engine;

namespace AdvVis.Analysis.Attribution;

/// <param name="Epsilon">Weakest ε at which the unit is suppressed or emphasized; null when it never is within the sweep.</param>
/// <param name="Group">The group at that ε (or at the strongest ε when it never changes).</param>
public sealed record UnitVulnerability(int LayerIndex, string Layer, int Unit, float? Epsilon, UnitGroup Group);

/// <param name="Importance">[ε index][layer][unit]: mean spatial-max activation over the attacked images.</param>
/// <param name="BenignImportance">[layer][unit] on the benign images (ε = 0).</param>
/// <param name="AttackSuccessRate">Per ε: the share of images predicted as the target (targeted) or away from the label (untargeted).</param>
/// <param name="AttackTime">Time spent inside the attack delegate (the rest is forward passes and bookkeeping).</param>
public sealed record FractionationResult(float[] Epsilons, IReadOnlyList<string> Layers, float[][] BenignImportance, float[][][] Importance,
    IReadOnlyList<UnitVulnerability> Units, float[] AttackSuccessRate, TimeSpan Elapsed, TimeSpan AttackTime)
{
    /// <summary>Units of a layer, most vulnerable (smallest ε) first; never-changing units last.</summary>
    public IReadOnlyList<UnitVulnerability> Ranked(int layerIndex) =>
        Units.Where(u => u.LayerIndex == layerIndex).OrderBy(u => u.Epsilon ?? float.PositiveInfinity).ThenBy(u => u.Unit).ToList();
}

public static class Fractionation
{
    /// <summary>
    /// Attacks <paramref name="images"/> at every ε of <paramref name="epsilons"/> (sorted ascending here) and fractionates
    /// the units of the chosen layers. <paramref name="targetClass"/> only decides how success is counted (null = untargeted).
    /// </summary>
    public static FractionationResult Run(Model model, Tensor images, int[] labels, AttackFunction attack, IEnumerable<float> epsilons,
        AttributionOptions? options = null, int? targetClass = null, CancellationToken cancellation = default, IProgress<double>? progress = null)
    {
        options ??= new AttributionOptions();
        var sw = Stopwatch.StartNew();
        var attackTime = TimeSpan.Zero;
        var eps = epsilons.Distinct().OrderBy(e => e).ToArray();
        var layers = AttributionGraphs.ResolveLayers(model, options.Layers).Select(l => l.ValueName).ToList();
        var benign = AttributionGraphs.Importance(model, images, layers, options.BatchSize, cancellation);
        var importance = new float[eps.Length][][];
        var success = new float[eps.Length];
        bool probs = ModelProbe.OutputIsProbability(model);
        for (int e = 0; e < eps.Length; e++)
        {
            cancellation.ThrowIfCancellationRequested();
            var t0 = sw.Elapsed;
            var adv = attack(images, labels, eps[e], cancellation);
            attackTime += sw.Elapsed - t0;
            var (output, cap) = ModelProbe.RunBatched(model, adv, layers, options.BatchSize, null, cancellation);
            importance[e] = layers.Select(l => Mean(ModelProbe.UnitMaxima(cap[l]))).ToArray();
            var p = ModelProbe.Probabilities(output, probs);
            int hits = 0;
            for (int i = 0; i < p.Length; i++)
            {
                int pred = ModelProbe.ArgMax(p[i]);
                if (targetClass is int t ? pred == t : pred != labels[i]) hits++;
            }
            success[e] = (float)hits / p.Length;
            progress?.Report((e + 1.0) / eps.Length);
        }

        var units = new List<UnitVulnerability>();
        for (int l = 0; l < layers.Count; l++)
            for (int u = 0; u < benign[l].Length; u++)
            {
                float? at = null; UnitGroup group = UnitGroup.Inactive;
                for (int e = 0; e < eps.Length; e++)
                {
                    float layerMax = Math.Max(benign[l].Max(), importance[e][l].Max());
                    group = AttributionGraphs.Classify(benign[l][u], importance[e][l][u], layerMax, options).Group;
                    if (group is UnitGroup.Suppressed or UnitGroup.Emphasized) { at = eps[e]; break; }
                }
                units.Add(new UnitVulnerability(l, layers[l], u, at, group));
            }
        return new FractionationResult(eps, layers, benign, importance, units, success, sw.Elapsed, attackTime);
    }

    private static float[] Mean(float[][] rows)
    {
        var m = new float[rows[0].Length];
        for (int u = 0; u < m.Length; u++)
        {
            double s = 0;
            foreach (var r in rows) s += r[u];
            m[u] = (float)(s / rows.Length);
        }
        return m;
    }
}

/// <summary>A set of units of one layer (channels on axis 1).</summary>
public sealed record UnitSelection(string Layer, IReadOnlyList<int> Units);

/// <param name="AttackSuccessRate">Share of adversarial images predicted as the target (targeted) or away from the true label (untargeted).</param>
public sealed record EditResult(float CleanAccuracy, float AttackSuccessRate, float OriginalCleanAccuracy, float OriginalAttackSuccessRate,
    int[] CleanPredictions, int[] AdversarialPredictions, TimeSpan Elapsed);

public static class NeuronEditing
{
    /// <summary>Engine interventions that zero the selected units (keep = 0 on their channels).</summary>
    public static IReadOnlyList<Intervention> DeletionInterventions(Model model, Tensor probeImages, IReadOnlyList<UnitSelection> deletions)
    {
        if (deletions.Count == 0) return [];
        var names = deletions.Select(d => d.Layer).Distinct().ToArray();
        var pass = model.Forward(ModelProbe.Slice(probeImages, 0, 1), new RunOptions { Capture = names, StopAfterCaptures = true });
        return deletions.GroupBy(d => d.Layer).Select(g =>
        {
            var t = pass[g.Key];
            return Intervention.DeleteChannels(g.Key, t.Shape[1], t.Rank, g.SelectMany(d => d.Units).Distinct());
        }).ToList();
    }

    /// <summary>
    /// Clean accuracy and attack success of the given adversarial images, before and after deleting the units.
    /// The adversarial images are those crafted on the original model (does deleting units blunt this attack?); to
    /// re-attack the edited model, run the attack with <see cref="DeletionInterventions"/> applied and call this again.
    /// </summary>
    public static EditResult Evaluate(Model model, Tensor benign, Tensor adversarial, int[] labels, IReadOnlyList<UnitSelection> deletions,
        int? targetClass = null, int batchSize = 128, CancellationToken cancellation = default, IProgress<double>? progress = null)
    {
        var sw = Stopwatch.StartNew();
        var edits = DeletionInterventions(model, benign, deletions);
        int[] Predict(Tensor x, IReadOnlyList<Intervention>? iv) =>
            ModelProbe.RunBatched(model, x, [], batchSize, iv, cancellation).Output is var o
                ? ModelProbe.Probabilities(o, false).Select(r => ModelProbe.ArgMax(r)).ToArray() : [];
        var cleanBefore = Predict(benign, null); progress?.Report(0.25);
        var advBefore = Predict(adversarial, null); progress?.Report(0.5);
        var cleanAfter = Predict(benign, edits); progress?.Report(0.75);
        var advAfter = Predict(adversarial, edits); progress?.Report(1.0);
        float Acc(int[] p) => (float)p.Where((v, i) => v == labels[i]).Count() / p.Length;
        float Success(int[] p) => (float)p.Where((v, i) => targetClass is int t ? v == t : v != labels[i]).Count() / p.Length;
        return new EditResult(Acc(cleanAfter), Success(advAfter), Acc(cleanBefore), Success(advBefore), cleanAfter, advAfter, sw.Elapsed);
    }
}
