// unit/visualize, unit/connections, unit/receptiveFields.
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
        r.Add<UnitVisualizeParams, UnitVisualizeResult>("unit/visualize", (p, _) =>
        {
            r.State.Models.Get(p.Model);
            throw Common.NotImplemented("unit/visualize", Pending.Visualize);
        });
        r.Add<UnitConnectionsParams, UnitConnectionsResult>("unit/connections", (p, _) =>
        {
            r.State.Models.Get(p.Model);
            throw Common.NotImplemented("unit/connections", Pending.Connections);
        });
        r.Add<ReceptiveFieldsParams, ReceptiveFieldsResult>("unit/receptiveFields", (p, context) =>
        {
            var model = r.State.Models.Get(p.Model);
            var input = ModelInput(model, p.Image);
            var rfs = ReceptiveField.Compute(model.Model, input, p.Layer, new RfOptions { Threshold = p.Threshold }, context.CancellationToken);
            bool[]? vulnerable = null;
            if (p.Adversarial is { } adversarialPath)
            {
                var maps = VulnerabilityMap.Compute(model.Model, input, ModelInput(model, adversarialPath), null, null,
                    new VulnerabilityMapOptions { HalfSize = p.HalfSize, Stride = p.Stride }, context.CancellationToken);
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

    /// <summary>One item file as a [1,C,H,W] model input.</summary>
    public static Tensor ModelInput(OpenModel model, string path)
    {
        var pre = Items.RequireImageModel(model);
        var (pixels, _) = Items.LoadOne(model, path);
        return new Tensor([1, pre.Channels, pre.Height, pre.Width], Items.PixelsToInput(pre, pixels));
    }
}
