// unit/visualize, unit/connections, unit/receptiveFields.
using AdvVis.Analysis.Layers;
using AdvVis.Analysis.NeuronSpace;
using AdvVis.Analysis.ReceptiveFields;
using AdvVis.Engine;
using AdvVis.Service.Cache;
using AdvVis.Service.Daemon;
using AdvVis.Service.Protocol;

namespace AdvVis.Service.Handlers;

internal static class UnitHandlers
{
    public static void Register(Registrar r)
    {
        r.Add<UnitVisualizeParams, UnitVisualizeResult>("unit/visualize", (p, context) =>
        {
            var model = r.State.Models.Get(p.Model);
            var pre = Items.RequireImageModel(model);
            RequireLayer(model, p.Layer);
            Common.Require(p.Steps >= 1 && p.Steps <= 10_000, "steps must be between 1 and 10000.");
            Common.Require(p.Jitter >= 0 && p.BlurEvery >= 0 && p.ScaleJitter >= 0 && p.ScaleJitter < 1 && p.RotateDegrees >= 0,
                "jitter, blurEvery and rotateDegrees must not be negative, scaleJitter must be in [0, 1).");
            return Common.Cached(r, context, "unit/visualize", model.Sha256, p, "", blobs =>
            {
                context.BeginProgress($"Visualizing unit {p.Unit} of {p.Layer}", $"{p.Steps} steps", 0, cancellable: true);
                var result = ActivationMaximization.Run(model.Model, p.Layer, p.Unit, [1, pre.Channels, pre.Height, pre.Width],
                    PixelTransform.FromNormalisation(pre.Scale, pre.Mean, pre.Std),
                    Options(p, pre), context.CancellationToken, new Progress(context));
                return new UnitVisualizeResult(Payloads.Png(Items.ToImage(pre, result.Image), blobs, r.State.InlineLimitBytes),
                    (float)result.FinalActivation, (float)result.StartActivation, result.Trace.Select(v => (float)v).ToArray(), false);
            }, hit => hit with { FromCache = true });
        });
        r.Add<UnitConnectionsParams, UnitConnectionsResult>("unit/connections", (p, context) =>
        {
            var model = r.State.Models.Get(p.Model);
            RequireLayer(model, p.Layer);
            Common.Require(p.TopK >= 1, "topK must be at least 1.");
            var item = p.Item is null ? null : ModelInput(model, p.Item);
            // Every link, so each listed unit carries both its weight magnitude and (with an item) its contribution.
            var all = UnitConnections.Strongest(model.Model, model.Architecture(), p.Layer, p.Unit, int.MaxValue, item, context.CancellationToken);
            Connection[] Top(string? layer, IReadOnlyList<UnitLink> byWeight, IReadOnlyList<UnitLink>? byContribution, bool contributionOrder)
            {
                var weights = byWeight.ToDictionary(l => l.Unit, l => l.Strength);
                var contributions = byContribution?.ToDictionary(l => l.Unit, l => l.Strength);
                var order = contributionOrder ? byContribution! : byWeight;
                return order.Take(p.TopK).Select(l => new Connection(layer ?? "", l.Unit, (float)weights.GetValueOrDefault(l.Unit),
                    contributions is null ? null : (float)contributions.GetValueOrDefault(l.Unit))).ToArray();
            }
            return new UnitConnectionsResult(all.PreviousLayer, Top(all.PreviousLayer, all.IncomingByWeight, all.IncomingByContribution, false),
                all.NextLayer, Top(all.NextLayer, all.OutgoingByWeight, all.OutgoingByContribution, false), all.PreviousWeighted, all.NextWeighted,
                all.IncomingByContribution is null ? null : Top(all.PreviousLayer, all.IncomingByWeight, all.IncomingByContribution, true),
                all.OutgoingByContribution is null ? null : Top(all.NextLayer, all.OutgoingByWeight, all.OutgoingByContribution, true), all.Note);
        });
        r.Add<ReceptiveFieldsParams, ReceptiveFieldsResult>("unit/receptiveFields", (p, context) =>
        {
            var model = r.State.Models.Get(p.Model);
            var input = ModelInput(model, p.Image);
            var rfs = ReceptiveField.Compute(model.Model, input, p.Layer, new RfOptions { Threshold = p.Threshold }, context.CancellationToken);
            bool[]? vulnerable = null;
            if (p.Adversarial is { } adversarialPath)
            {
                var maps = VulnerabilityHandlers.PairMaps(r, context, model, p.Image, adversarialPath, p.HalfSize, p.Stride, null);
                vulnerable = ReceptiveField.ResizeMask(maps.BinarizedBMap(p.TopPercent / 100), maps.Height, maps.Width, rfs.Height, rfs.Width);
            }
            var blobs = Common.TransientBlobs(r);
            var fields = p.Units.Select(u =>
            {
                Common.Require(u >= 0 && u < rfs.UnitCount, $"unit {u} does not exist in '{p.Layer}' ({rfs.UnitCount} units).");
                var mask = rfs.Masks[u];
                return new UnitReceptiveField(u, Payloads.Png(LayerHandlers.Mask(mask, rfs.Height, rfs.Width), blobs, r.State.InlineLimitBytes),
                    mask.Count(m => m) / (double)mask.Length, vulnerable is null ? null : ReceptiveField.IoU(mask, vulnerable));
            }).ToArray();
            return new ReceptiveFieldsResult(rfs.Layer, fields);
        });
    }

    /// <summary>The library's options for a unit/visualize request (colour order from the model's preprocessing).</summary>
    public static ActivationMaximizationOptions Options(UnitVisualizeParams p, AdvVis.Data.Preprocessing pre) => new()
    {
        Parameterization = p.Parameterization == Protocol.ImageParameterization.Pixel ? Analysis.Layers.ImageParameterization.Pixel : Analysis.Layers.ImageParameterization.Fourier,
        Seed = p.Seed, Steps = p.Steps, LearningRate = p.LearningRate, Jitter = p.Jitter, Scale = p.ScaleJitter, RotationDegrees = p.RotateDegrees,
        DecorrelateColour = p.Decorrelate, ColourOrder = pre.Order == AdvVis.Data.ChannelOrder.Bgr ? ColourOrder.Bgr : ColourOrder.Rgb,
        L2 = p.L2, TotalVariation = p.TotalVariation, BlurEvery = p.BlurEvery, InitialNoise = p.InitialNoise,
    };

    /// <summary>-32007 naming the layer when the model has no such tensor.</summary>
    public static void RequireLayer(OpenModel model, string layer)
    {
        if (!model.Model.TryGetValueId(layer, out _)) throw new EngineException($"'{layer}' is not a layer of this model; pick a layer the Architecture View lists (select it there).");
    }

    /// <summary>One item file as a [1,C,H,W] model input.</summary>
    public static Tensor ModelInput(OpenModel model, string path)
    {
        var pre = Items.RequireImageModel(model);
        var (pixels, _) = Items.LoadOne(model, path);
        return new Tensor([1, pre.Channels, pre.Height, pre.Width], Items.PixelsToInput(pre, pixels));
    }
}
