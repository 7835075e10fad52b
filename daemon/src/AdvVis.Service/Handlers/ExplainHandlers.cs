// explain/run: the one-image pipeline over AdvVis.Attacks: attack, per-layer divergence, diverging point.
using System.Security.Cryptography;
using AdvVis.Attacks;
using AdvVis.Service.Daemon;
using AdvVis.Service.Protocol;
using DivergingPoint = AdvVis.Service.Protocol.DivergingPoint;
using LayerDivergence = AdvVis.Service.Protocol.LayerDivergence;

namespace AdvVis.Service.Handlers;

internal static class ExplainHandlers
{
    public static void Register(Registrar r) =>
        r.Add<ExplainRunParams, ExplainRunResult>("explain/run", (p, context) =>
        {
            var model = r.State.Models.Get(p.Model);
            var items = new ItemsRef([p.Image], null, p.TrueClass is { } t ? [t] : null);
            var batch = Items.Load(model, items, context.CancellationToken);
            ItemBatch? background = p.Background is null ? null : Items.Load(model, new ItemsRef(null, p.Background), context.CancellationToken, 5_000);
            string fingerprint = batch.Fingerprint + (background?.Fingerprint ?? "");
            return Common.Cached(r, context, "explain/run", model.Sha256, p with { Image = "", Background = null }, fingerprint, blobs =>
            {
                context.BeginProgress("Explain attack", "attacking", 0, cancellable: true);
                var (run, clean, adversarial, labels) = AttackHandlers.Run(model, batch, AttackHandlers.Options(p.Attack), context, 0, 0.5);
                var outcome = run.Images[0];
                var item = AttackHandlers.Item(r, model, batch, run, outcome, clean, adversarial, blobs, true, p.Attack.Eps);
                var layers = p.Layers?.Select(name => (name, model.Model.Nodes.FirstOrDefault(n => n.Outputs.Any(o => model.Model.ValueNames[o] == name))?.OpType
                    ?? throw new Engine.EngineException($"'{name}' is not a layer output of this model; pick a layer the Architecture View lists (select it there)."))).ToList();
                context.ReportProgress("comparing layers", 50);
                var report = Divergence.Compare(AttackHandlers.AttackModelFor(model), batch.Pixels, run.Adversarial, labels[0], outcome.AdversarialClass,
                    background?.Pixels, background?.Labels, layers, p.TopUnits, model.Labels?.Names, 32, new Progress(context, "comparing layers", 0.5, 1), context.CancellationToken);
                var top = report.TopUnits.Select(u => new UnitScore(u.Unit, u.Score)).ToArray();
                var perLayer = report.Layers.Select(l => new LayerDivergence(l.Name, l.Distance, l.Spread, l.Relative,
                    report.Diverging?.Layer == l.Name ? top : [])).ToArray();
                var diverging = report.Diverging is { } d ? new DivergingPoint(d.Layer, d.LayerIndex, d.Score) : null;
                return new ExplainRunResult(item.Benign, item.Adversarial, item, perLayer, diverging, false);
            }, hit => hit with { FromCache = true });
        });
}
