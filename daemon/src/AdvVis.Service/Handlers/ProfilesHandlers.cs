// profiles/compute: the Flow View over AdvVis.Analysis.Profiles: every selected layer's outputs reduced to one aligned
// UMAP axis fitted on the background items, foreground items (and their adversarial twins, made here with `attack`)
// placed without refitting, histograms, class fingerprints, bundles, spines and each pair's divergence.
using AdvVis.Analysis.Profiles;
using AdvVis.Analysis.Projection;
using AdvVis.Engine;
using AdvVis.Service.Cache;
using AdvVis.Service.Daemon;
using AdvVis.Service.JsonRpc;
using AdvVis.Service.Protocol;
using LabelSource = AdvVis.Service.Protocol.LabelSource;
using LayerDivergence = AdvVis.Service.Protocol.LayerDivergence;

namespace AdvVis.Service.Handlers;

internal static class ProfilesHandlers
{
    public static void Register(Registrar r) =>
        r.Add<ProfilesComputeParams, ProfilesComputeResult>("profiles/compute", (p, context) =>
        {
            var model = r.State.Models.Get(p.Model);
            var pre = Items.RequireImageModel(model);
            Common.Require(p.Layers.Length >= 1, "The Flow View needs at least one layer; pick layers along one path in the Architecture View.");
            Common.Require(p.Components == 1, "components must be 1: the Flow View's aligned profiles are one-dimensional in this build.");
            Common.Require(p.Bins >= 1 && p.BundleBins >= 1, "bins and bundleBins must be at least 1.");
            Common.Require(p.Neighbors >= 2, "neighbors must be at least 2.");
            Common.Require(p.Attack is null || p.Foreground is { Length: > 0 }, "attack makes the adversarial twins of 'foreground' items, so it needs 'foreground'.");
            foreach (var layer in p.Layers) UnitHandlers.RequireLayer(model, layer);
            var check = model.Architecture().ValidateSelection(p.Layers);
            Common.Require(check.IsSequential, check.Message);
            var background = Items.Load(model, p.Background, context.CancellationToken);
            Common.Require(p.LabelBy == LabelSource.Predicted || background.HasLabels,
                "labelBy 'true' needs labelled background items (a dataset, or items.labels); or use labelBy 'predicted'.");
            Common.Require(background.Count > p.Neighbors, $"{background.Count} background items are too few for {p.Neighbors} neighbours.");
            var foreground = p.Foreground is { Length: > 0 } paths ? Items.Load(model, new ItemsRef(paths), context.CancellationToken, 1_000) : null;
            string fingerprint = background.Fingerprint + (foreground?.Fingerprint ?? "");
            return Common.Cached(r, context, "profiles/compute", model.Sha256, p with { Background = new ItemsRef(), Foreground = null }, fingerprint,
                blobs => Compute(r, model, p, background, foreground, blobs, context), hit => hit with { FromCache = true });
        });

    private static ProfilesComputeResult Compute(Registrar r, OpenModel model, ProfilesComputeParams p, ItemBatch background, ItemBatch? foreground,
        BlobWriter blobs, RequestContext context)
    {
        var cancellation = context.CancellationToken;
        context.BeginProgress("Activation profiles", p.Attack is null ? "collecting activations" : "attacking the foreground", 0, cancellable: true);
        int m = foreground?.Count ?? 0;
        Tensor? fgInput = null;
        ForegroundPair[]? pairs = null;
        if (foreground is not null)
        {
            fgInput = Items.ToModelInput(model, foreground.Pixels);
            if (p.Attack is { } attack)
            {
                var (run, _, _, _) = AttackHandlers.Run(model, foreground, AttackHandlers.Options(attack), context, 0, 0.15);
                var adversarial = Items.ToModelInput(model, run.Adversarial);
                fgInput = new Tensor([2 * m, .. fgInput.Shape[1..]], [.. fgInput.Span, .. adversarial.Span]);
                pairs = Enumerable.Range(0, m).Select(i => new ForegroundPair(i, m + i)).ToArray();
            }
        }
        var bg = Activations.Collect(model.Model, p.Layers, Items.ToModelInput(model, background.Pixels), predict: true,
            cancellation: cancellation, progress: new Progress(context, "collecting activations", 0.15, 0.25));
        var fg = fgInput is null ? null
            : Activations.Collect(model.Model, p.Layers, fgInput, predict: true, cancellation: cancellation, progress: new Progress(context, "collecting activations", 0.25, 0.3));
        int[] trueLabels = background.HasLabels ? background.Labels : Enumerable.Repeat(-1, background.Count).ToArray();
        int[] labels = p.LabelBy == LabelSource.Predicted ? bg.Predicted! : trueLabels;
        var options = new FlowOptions
        {
            Seed = p.Seed, HistogramBins = p.Bins, BundleBins = p.BundleBins, ComputeQuality = p.Quality,
            Projection = new FlowOptions().Projection is var d ? d with { Layer = d.Layer with { NeighborCount = p.Neighbors, MinDist = p.MinDist, Epochs = p.Epochs } } : null!,
        };
        var input = new FlowInput(p.Layers, bg.Layers.Select(l => l.Values).ToArray(), labels,
            p.LabelBy == LabelSource.Predicted ? Analysis.Profiles.LabelSource.Predicted : Analysis.Profiles.LabelSource.True,
            fg?.Layers.Select(l => l.Values).ToArray(), pairs);
        var flow = ActivationProfiles.Compute(input, options, cancellation, new Progress(context, "aligned UMAP", 0.3, 1));

        int limit = r.State.InlineLimitBytes, n = background.Count, layers = p.Layers.Length, classes = flow.LabelCount;
        ArrayData Column(float[] values, int from, int count) => Payloads.Array(values.AsSpan(from, count), [count, 1], blobs, limit);
        var profiles = flow.Axes.Select((axis, l) => new LayerProfile(axis.Layer, Column(flow.Background[l], 0, n),
            fg is null ? null : Column(flow.Foreground[l], 0, m), pairs is null ? null : Column(flow.Foreground[l], m, m),
            Payloads.Array(flow.Histograms[l].SelectMany(row => row.Select(v => (float)v)).ToArray(), [classes, p.Bins], blobs, limit),
            axis.Trustworthiness, axis.Features, axis.Min, axis.Max)).ToArray();
        var alignment = Enumerable.Range(0, layers - 1).Select(l => ProjectionQuality.SpearmanCorrelation(flow.Background[l], flow.Background[l + 1])).ToArray();
        var fingerprints = new float[classes * layers * p.Bins];
        foreach (var f in flow.Fingerprints)
            for (int l = 0; l < layers; l++) f.Density[l].CopyTo(fingerprints, (f.Label * layers + l) * p.Bins);
        var pairResults = flow.Divergences.Select(d =>
        {
            var perLayer = d.Layers.Select(x => new LayerDivergence(x.Layer, x.Distance, x.BackgroundSpread, x.Relative, [], x.ProfileDistance)).ToArray();
            var diverging = d.DivergingAfter < 0 ? null : new DivergingPoint(perLayer[d.DivergingAfter + 1].Layer, d.DivergingAfter + 1, perLayer[d.DivergingAfter + 1].Score);
            return new ProfilePair(d.Pair.Benign, perLayer, diverging, d.Jump);
        }).ToArray();
        var classNames = model.Labels?.Names ?? (background.ClassNames.Count > 0 ? background.ClassNames : null);
        return new ProfilesComputeResult(p.Layers, n, trueLabels, bg.Predicted!,
            Enumerable.Range(0, classes).Select(c => Common.Label(classNames, c) ?? c.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray(),
            profiles, alignment, Payloads.Array(fingerprints, [classes, layers, p.Bins], blobs, limit),
            pairResults.FirstOrDefault()?.Layers, pairResults.FirstOrDefault()?.DivergingPoint, false,
            labels, fg is null ? null : fg.Predicted![..m], pairs is null ? null : fg!.Predicted![m..],
            pairs is null ? null : pairResults,
            flow.Bundles.Select(b => new ProfileBundle(b.Pair, b.Label, b.Count, b.From, b.To, b.FromSpread, b.ToSpread)).ToArray(),
            flow.Spines.Select(s => new ProfileSpine(s.Label, s.Count, s.Q1, s.Median, s.Q3)).ToArray());
    }
}
