// Li et al. §5.2.3 "one neuron – multiple images": the top-m images that excite a unit most (or are predicted with
// the highest confidence), each with its benign and adversarial RF; and MASSIF's dataset example patches, the RF
// crops of a unit's top-activating images.
using AdvVis.Analysis.NeuronSpace;
using AdvVis.Engine;

namespace AdvVis.Analysis.ReceptiveFields;

public enum ContextOrder
{
    /// <summary>By the unit's spatial-max activation on the benign image.</summary>
    Activation,
    /// <summary>By the benign prediction's probability.</summary>
    Confidence,
}

/// <summary>One context image: its index, the score it was ranked by, and the unit's RF masks on both images.</summary>
public sealed record ContextImage(int Index, float Score, float Activation, float Confidence, bool[] BenignRf, bool[]? AdversarialRf,
    float[] BenignMaskedImage, float[]? AdversarialMaskedImage);

/// <summary>An RF crop: the bounding box (in RF-size pixels) of the unit's RF on an image and the C×h×w pixels inside it.</summary>
public sealed record ExamplePatch(int Index, float Activation, int Top, int Left, int Height, int Width, int Channels, float[] Pixels);

public static class ContextImages
{
    /// <summary>
    /// Top-m images for one unit. <paramref name="adversarial"/> may be null; when given, the adversarial counterparts of
    /// the same benign images are returned with their RFs (the paper's behaviour for a click on the adversarial RF).
    /// <paramref name="candidates"/> restricts the search (e.g. to one prediction-matrix cell).
    /// </summary>
    public static IReadOnlyList<ContextImage> Top(Model model, Tensor benign, Tensor? adversarial, int unit, int m, ContextOrder order = ContextOrder.Activation,
        string? layer = null, RfOptions? rf = null, IReadOnlyList<int>? candidates = null, int batchSize = 128, CancellationToken cancellation = default)
    {
        var name = ModelProbe.Layer(model, layer).ValueName;
        var idx = candidates?.ToArray() ?? Enumerable.Range(0, benign.Shape[0]).ToArray();
        var subset = Gather(benign, idx);
        var (output, cap) = ModelProbe.RunBatched(model, subset, [name], batchSize, null, cancellation);
        var probs = ModelProbe.Probabilities(output, ModelProbe.OutputIsProbability(model));
        var maps = cap[name];
        var act = ModelProbe.UnitMaxima(maps);
        var conf = probs.Select(p => p.Max()).ToArray();
        var order_ = Enumerable.Range(0, idx.Length)
            .OrderByDescending(i => order == ContextOrder.Activation ? act[i][unit] : conf[i]).ThenBy(i => idx[i]).Take(m).ToArray();
        var top = order_.Select(i => idx[i]).ToArray();
        Tensor? advMaps = null;
        if (adversarial is not null)
            advMaps = ModelProbe.RunBatched(model, Gather(adversarial, top), [name], batchSize, null, cancellation).Captured[name];
        var result = new List<ContextImage>();
        for (int r = 0; r < order_.Length; r++)
        {
            int i = order_[r];
            var bset = ReceptiveField.FromFeatureMaps(name, UnitSlice(maps, i), ModelProbe.Slice(subset, i, 1), rf);
            bool[]? amask = null; float[]? aimg = null;
            if (advMaps is not null)
            {
                var aset = ReceptiveField.FromFeatureMaps(name, UnitSlice(advMaps, r), ModelProbe.Slice(adversarial!, top[r], 1), rf);
                amask = aset.Masks[unit]; aimg = aset.MaskedImage(unit);
            }
            result.Add(new ContextImage(top[r], order == ContextOrder.Activation ? act[i][unit] : conf[i], act[i][unit], conf[i],
                bset.Masks[unit], amask, bset.MaskedImage(unit), aimg));
        }
        return result;
    }

    /// <summary>MASSIF's dataset examples: RF bounding-box crops of the <paramref name="m"/> images that activate the unit most.</summary>
    public static IReadOnlyList<ExamplePatch> ExamplePatches(Model model, Tensor images, string layer, int unit, int m, RfOptions? rf = null,
        int batchSize = 128, CancellationToken cancellation = default)
    {
        var top = Top(model, images, null, unit, m, ContextOrder.Activation, layer, rf, null, batchSize, cancellation);
        var result = new List<ExamplePatch>();
        int ch = images.Shape[1];
        foreach (var t in top)
        {
            var mask = t.BenignRf;
            int plane = mask.Length, w = (rf?.Width ?? images.Shape[3]), h = plane / w;
            int top_ = h, left = w, bottom = -1, right = -1;
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                    if (mask[y * w + x]) { top_ = Math.Min(top_, y); bottom = Math.Max(bottom, y); left = Math.Min(left, x); right = Math.Max(right, x); }
            if (bottom < 0) { result.Add(new ExamplePatch(t.Index, t.Activation, 0, 0, 0, 0, ch, [])); continue; }
            int ph = bottom - top_ + 1, pw = right - left + 1;
            var resized = ReceptiveField.FromFeatureMaps(layer, Tensor.Zeros(1, 1, 1, 1), ModelProbe.Slice(images, t.Index, 1), rf).ResizedImage;
            var pix = new float[ch * ph * pw];
            for (int c = 0; c < ch; c++)
                for (int y = 0; y < ph; y++)
                    resized.AsSpan(c * plane + (top_ + y) * w + left, pw).CopyTo(pix.AsSpan((c * ph + y) * pw));
            result.Add(new ExamplePatch(t.Index, t.Activation, top_, left, ph, pw, ch, pix));
        }
        return result;
    }

    internal static Tensor Gather(Tensor batch, IReadOnlyList<int> rows)
    {
        int per = batch.Length / batch.Shape[0];
        var data = new float[rows.Count * per];
        for (int i = 0; i < rows.Count; i++) batch.Data.AsSpan(rows[i] * per, per).CopyTo(data.AsSpan(i * per));
        return new Tensor([rows.Count, .. batch.Shape[1..]], data);
    }

    private static Tensor UnitSlice(Tensor maps, int image) => ModelProbe.Slice(maps, image, 1);
}
