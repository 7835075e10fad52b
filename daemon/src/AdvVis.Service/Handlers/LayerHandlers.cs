// layer/reduce and layer/activationMaps: the Layer View's per-unit values and activation maps, from the engine's
// captured activations (AdvVis.Analysis.NeuronSpace.ModelProbe).
using AdvVis.Analysis.NeuronSpace;
using AdvVis.Data;
using AdvVis.Engine;
using AdvVis.Service.Cache;
using AdvVis.Service.Daemon;
using AdvVis.Service.Protocol;

namespace AdvVis.Service.Handlers;

internal static class LayerHandlers
{
    public static void Register(Registrar r)
    {
        r.Add<LayerReduceParams, LayerReduceResult>("layer/reduce", (p, context) =>
        {
            var model = r.State.Models.Get(p.Model);
            var batch = Items.Load(model, p.Items, context.CancellationToken);
            context.BeginProgress("Reducing activations", $"{batch.Count} items", 0, cancellable: true);
            var act = Capture(model, p.Layer, Items.ToModelInput(model, batch.Pixels), context.CancellationToken);
            int n = act.Shape[0], units = act.Rank >= 2 ? act.Shape[1] : 1, spatial = act.Length / Math.Max(1, n * units);
            var unitValues = new float[n][];
            for (int i = 0; i < n; i++)
            {
                unitValues[i] = new float[units];
                for (int u = 0; u < units; u++)
                {
                    var map = act.Data.AsSpan((i * units + u) * spatial, spatial);
                    float v = p.UnitValue == UnitValueKind.Max ? float.NegativeInfinity : 0f;
                    foreach (var x in map) v = p.UnitValue == UnitValueKind.Max ? Math.Max(v, x) : v + Math.Abs(x);
                    unitValues[i][u] = v;
                }
            }
            int Index(int? k, string name)
            {
                Common.Require(k is { } v && v >= 0 && v < n, $"reduction {p.Reduction} needs '{name}' between 0 and {n - 1}.");
                return k!.Value;
            }
            var values = p.Reduction switch
            {
                ReductionKind.Mean => Enumerable.Range(0, units).Select(u => unitValues.Average(row => row[u])).Select(v => (float)v).ToArray(),
                ReductionKind.Max => Enumerable.Range(0, units).Select(u => unitValues.Max(row => row[u])).ToArray(),
                ReductionKind.Difference => unitValues[Index(p.I, "i")].Zip(unitValues[Index(p.J, "j")], (a, b) => a - b).ToArray(),
                _ => unitValues[Index(p.I, "i")],
            };
            var top = Enumerable.Range(0, units).OrderByDescending(u => p.Reduction == ReductionKind.Difference ? Math.Abs(values[u]) : values[u])
                .ThenBy(u => u).Take(Math.Max(0, p.TopK)).Select(u => new UnitScore(u, values[u])).ToArray();
            return new LayerReduceResult(p.Layer, act.Shape[1..], units, Payloads.Array(values, [units], Common.TransientBlobs(r), r.State.InlineLimitBytes), top);
        });

        r.Add<LayerActivationMapsParams, LayerActivationMapsResult>("layer/activationMaps", (p, context) =>
        {
            var model = r.State.Models.Get(p.Model);
            var (pixels, _) = Items.LoadOne(model, p.Item);
            var pre = Items.RequireImageModel(model);
            var input = new Tensor([1, pre.Channels, pre.Height, pre.Width], Items.PixelsToInput(pre, pixels));
            var act = Capture(model, p.Layer, input, context.CancellationToken);
            int units = act.Rank >= 2 ? act.Shape[1] : 1;
            int h = act.Rank == 4 ? act.Shape[2] : 1, w = act.Rank == 4 ? act.Shape[3] : act.Length / units;
            var blobs = Common.TransientBlobs(r);
            var maps = p.Units.Select(u =>
            {
                Common.Require(u >= 0 && u < units, $"unit {u} does not exist in '{p.Layer}' ({units} units).");
                var map = act.Data.AsSpan(u * h * w, h * w);
                float min = float.PositiveInfinity, max = float.NegativeInfinity;
                foreach (var v in map) { min = Math.Min(min, v); max = Math.Max(max, v); }
                return new UnitMap(u, h, w, min, max,
                    p.Format == MapFormat.Png ? null : Payloads.Array(map, [h, w], blobs, r.State.InlineLimitBytes),
                    p.Format == MapFormat.Float32 ? null : Payloads.Png(Diverging(map, h, w, Math.Max(Math.Abs(min), Math.Abs(max))), blobs, r.State.InlineLimitBytes));
            }).ToArray();
            return new LayerActivationMapsResult(p.Layer, maps);
        });
    }

    public static Tensor Capture(OpenModel model, string layer, Tensor input, CancellationToken cancellation)
    {
        if (!model.Model.TryGetValueId(layer, out _)) throw new EngineException($"'{layer}' is not a layer of this model; pick a layer the Architecture View lists (select it there).");
        var (_, captured) = ModelProbe.RunBatched(model.Model, input, [layer], 64, null, cancellation);
        return captured[layer];
    }

    /// <summary>White at 0, red for positive, blue for negative, full colour at ±<paramref name="scale"/>.</summary>
    public static Image Diverging(ReadOnlySpan<float> map, int h, int w, float scale)
    {
        var image = new Image(w, h, 3);
        for (int i = 0; i < h * w; i++)
        {
            float t = scale > 0 ? Math.Clamp(map[i] / scale, -1f, 1f) : 0f;
            byte fade = (byte)Math.Round(255 * (1 - Math.Abs(t)));
            image.Pixels[i * 3] = t >= 0 ? (byte)255 : fade;
            image.Pixels[i * 3 + 1] = fade;
            image.Pixels[i * 3 + 2] = t <= 0 ? (byte)255 : fade;
        }
        return image;
    }

    public static Image Mask(bool[] mask, int h, int w)
    {
        var image = new Image(w, h, 1);
        for (int i = 0; i < h * w; i++) image.Pixels[i] = mask[i] ? (byte)255 : (byte)0;
        return image;
    }
}
