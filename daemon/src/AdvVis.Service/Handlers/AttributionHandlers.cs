// attribution/graph: MASSIF/Bluff attribution graphs (AdvVis.Analysis.Attribution) on the items of one class and their
// attacked versions (AdvVis.Attacks), with an optional ε sweep (fractionation) giving each unit the weakest ε at which
// it becomes suppressed or emphasized.
using AdvVis.Analysis.Attribution;
using AdvVis.Attacks;
using AdvVis.Engine;
using AdvVis.Service.Daemon;
using AdvVis.Service.Protocol;
using AttributionEdge = AdvVis.Service.Protocol.AttributionEdge;
using UnitGroup = AdvVis.Service.Protocol.UnitGroup;

namespace AdvVis.Service.Handlers;

internal static class AttributionHandlers
{
    public static void Register(Registrar r) =>
        r.Add<AttributionGraphParams, AttributionGraphResult>("attribution/graph", (p, context) =>
        {
            var model = r.State.Models.Get(p.Model);
            var pre = Items.RequireImageModel(model);
            Common.Require(p.TopUnits >= 1 && p.TopEdges >= 0, "topUnits must be at least 1 and topEdges not negative.");
            Common.Require(p.GroupThreshold > 0 && p.GroupThreshold <= 1, "groupThreshold must be in (0, 1].");
            Common.Require(p.Attack.TargetClass is null || p.Attack.TargetClass == p.TargetClass,
                $"attack.targetClass ({p.Attack.TargetClass}) differs from targetClass ({p.TargetClass}); leave it out.");
            Common.Require(p.EpsSweep is null || p.EpsSweep.All(e => e > 0), "epsSweep values must be positive.");
            foreach (var layer in p.Layers ?? []) UnitHandlers.RequireLayer(model, layer);
            var all = Items.Load(model, p.Items, context.CancellationToken, maxItems: 5_000);
            return Common.Cached(r, context, "attribution/graph", model.Sha256, p with { Items = new ItemsRef() }, all.Fingerprint, blobs =>
            {
                context.BeginProgress("Attribution graph", "attacking", 0, cancellable: true);
                var batch = OfClass(model, all, p.BenignClass, context.CancellationToken);
                var options = AttackHandlers.Options(p.Attack with { TargetClass = p.TargetClass });
                bool sweep = p.EpsSweep is { Length: > 0 };
                var (run, _, _, labels) = AttackHandlers.Run(model, batch, options, context, 0, 0.3);
                var benign = Items.ToModelInput(model, batch.Pixels);
                var adversarial = Items.ToModelInput(model, run.Adversarial);
                var attribution = new AttributionOptions
                {
                    Layers = p.Layers, TopUnitsPerLayer = p.TopUnits, TopEdgesPerUnit = p.TopEdges,
                    SuppressedThreshold = p.GroupThreshold, EmphasizedThreshold = p.GroupThreshold,
                };
                var graph = AttributionGraphs.Build(model.Model, benign, adversarial, p.BenignClass, p.TargetClass, attribution,
                    context.CancellationToken, new Progress(context, "importance and influence", 0.3, sweep ? 0.6 : 1));

                FractionationResult? fractions = null;
                if (sweep)
                {
                    var attackModel = AttackHandlers.AttackModelFor(model);
                    // The sweep attacks the same items (kept in pixel space) at each ε and returns model inputs.
                    AttackFunction attack = (_, y, eps, cancellation) =>
                        Items.ToModelInput(model, Attack.Run(attackModel, batch.Pixels, y, options with { Epsilon = eps }, null, null, cancellation).Adversarial);
                    fractions = Fractionation.Run(model.Model, benign, labels, attack, p.EpsSweep!, attribution, p.TargetClass,
                        context.CancellationToken, new Progress(context, "ε sweep", 0.6, 1));
                }
                var vulnerableAt = fractions?.Units.ToDictionary(u => (u.Layer, u.Unit), u => u.Epsilon);
                var layers = graph.Layers.Select((name, l) => new AttributionLayer(name, graph.Nodes.Where(n => n.LayerIndex == l)
                    .Select(n => new AttributionUnit(n.Unit, n.BenignImportance, n.AdversarialImportance, Group(n.Group),
                        vulnerableAt?.GetValueOrDefault((name, n.Unit)), n.RelativeChange)).ToArray())).ToArray();
                var edges = graph.Edges.Select(e => new AttributionEdge(graph.Layers[e.FromLayerIndex], e.FromUnit, graph.Layers[e.ToLayerIndex], e.ToUnit,
                    Math.Max(e.BenignInfluence, e.AdversarialInfluence), e.BenignInfluence, e.AdversarialInfluence)).ToArray();
                return new AttributionGraphResult(layers, edges, false, batch.Count, run.Summary.SuccessRate,
                    fractions?.Epsilons, fractions?.AttackSuccessRate.Select(v => (double)v).ToArray());
            }, hit => hit with { FromCache = true });
        });

    /// <summary>The items of <paramref name="benignClass"/>: by true label when known, else by the model's clean prediction.</summary>
    private static ItemBatch OfClass(OpenModel model, ItemBatch all, int benignClass, CancellationToken cancellation)
    {
        int[] classes = all.HasLabels ? all.Labels
            : AttackHandlers.AttackModelFor(model).Evaluate(all.Pixels, cancellation) is var s ? Enumerable.Range(0, all.Count).Select(s.Predicted).ToArray() : [];
        var rows = Enumerable.Range(0, all.Count).Where(i => classes[i] == benignClass).ToArray();
        Common.Require(rows.Length > 0, $"None of the {all.Count} items is of class {benignClass} ({(all.HasLabels ? "by label" : "by the model's prediction")}).");
        int per = all.Pixels.Length / all.Count;
        var data = new float[rows.Length * per];
        for (int k = 0; k < rows.Length; k++) all.Pixels.Data.AsSpan(rows[k] * per, per).CopyTo(data.AsSpan(k * per));
        return new ItemBatch(new Tensor([rows.Length, .. all.Pixels.Shape[1..]], data), rows.Select(_ => benignClass).ToArray(), true,
            rows.Select(i => all.Sources[i]).ToArray(), all.Fingerprint, all.ClassNames);
    }

    private static UnitGroup Group(Analysis.Attribution.UnitGroup group) => group switch
    {
        Analysis.Attribution.UnitGroup.Suppressed => UnitGroup.Suppressed,
        Analysis.Attribution.UnitGroup.Emphasized => UnitGroup.Emphasized,
        Analysis.Attribution.UnitGroup.Shared => UnitGroup.Shared,
        _ => UnitGroup.Inactive,
    };
}
