// Li et al. §3.2: a unit's receptive field (RF) by the approximation of Zhou et al., in four steps:
// (1) resize the input image to the RF size, (2) upsample the unit's feature map to the same size (bilinear,
// half-pixel centres as cv2.resize / torch align_corners=False), (3) binarize it at a threshold, (4) multiply each
// channel of the resized image by the binary mask. Plus IoU, union and intersection of RF masks.
using AdvVis.Analysis.NeuronSpace;
using AdvVis.Engine;

namespace AdvVis.Analysis.ReceptiveFields;

public enum RfThresholdMode
{
    /// <summary>Keep pixels ≥ Threshold × the upsampled map's maximum (a unit with max ≤ 0 has an empty RF).</summary>
    FractionOfMax,
    /// <summary>Keep pixels ≥ Threshold in activation units.</summary>
    Absolute,
    /// <summary>Keep the top Threshold fraction of pixels (ties kept), only where the activation is positive.</summary>
    TopFraction,
}

public sealed record RfOptions
{
    /// <summary>RF size; null = the input image's size.</summary>
    public int? Height { get; init; }
    public int? Width { get; init; }
    public RfThresholdMode Mode { get; init; } = RfThresholdMode.FractionOfMax;
    public double Threshold { get; init; } = 0.5;
}

/// <summary>The RFs of every unit of one layer on one image: the resized image, each unit's upsampled map and mask.</summary>
public sealed record ReceptiveFieldSet(string Layer, int Channels, int Height, int Width, float[] ResizedImage, float[][] UpsampledMaps, bool[][] Masks)
{
    public int UnitCount => Masks.Length;

    /// <summary>Step 4: the resized image with everything outside the unit's RF set to 0 (C×H×W).</summary>
    public float[] MaskedImage(int unit) => ReceptiveField.MaskImage(ResizedImage, Channels, Masks[unit]);

    public bool[] Union(IEnumerable<int> units) => ReceptiveField.Union(units.Select(u => Masks[u]), Height * Width);
    public bool[] Intersection(IEnumerable<int> units) => ReceptiveField.Intersection(units.Select(u => Masks[u]), Height * Width);
}

public static class ReceptiveField
{
    /// <summary>Bilinear resize of one H×W plane (half-pixel centres, edge clamped).</summary>
    public static float[] Resize(ReadOnlySpan<float> src, int h, int w, int outH, int outW)
    {
        var dst = new float[outH * outW];
        double sy = (double)h / outH, sx = (double)w / outW;
        for (int y = 0; y < outH; y++)
        {
            double fy = Math.Max(0, (y + 0.5) * sy - 0.5);
            int y0 = Math.Min((int)fy, h - 1), y1 = Math.Min(y0 + 1, h - 1);
            double ty = fy - y0;
            for (int x = 0; x < outW; x++)
            {
                double fx = Math.Max(0, (x + 0.5) * sx - 0.5);
                int x0 = Math.Min((int)fx, w - 1), x1 = Math.Min(x0 + 1, w - 1);
                double tx = fx - x0;
                double top = src[y0 * w + x0] * (1 - tx) + src[y0 * w + x1] * tx;
                double bottom = src[y1 * w + x0] * (1 - tx) + src[y1 * w + x1] * tx;
                dst[y * outW + x] = (float)(top * (1 - ty) + bottom * ty);
            }
        }
        return dst;
    }

    /// <summary>Step 3: binarize an upsampled feature map.</summary>
    public static bool[] Threshold(float[] map, RfThresholdMode mode, double threshold)
    {
        var mask = new bool[map.Length];
        switch (mode)
        {
            case RfThresholdMode.FractionOfMax:
                float max = map.Length == 0 ? 0 : map.Max();
                if (max <= 0) return mask;
                for (int i = 0; i < map.Length; i++) mask[i] = map[i] >= threshold * max;
                return mask;
            case RfThresholdMode.Absolute:
                for (int i = 0; i < map.Length; i++) mask[i] = map[i] >= threshold;
                return mask;
            default:
                var top = VulnerabilityMap.BinarizeTop(map, threshold);
                for (int i = 0; i < map.Length; i++) mask[i] = top[i] && map[i] > 0;
                return mask;
        }
    }

    /// <summary>Step 4: every channel of a C×H×W image multiplied by the mask.</summary>
    public static float[] MaskImage(float[] image, int channels, bool[] mask)
    {
        int plane = mask.Length;
        var result = new float[channels * plane];
        for (int c = 0; c < channels; c++)
            for (int i = 0; i < plane; i++) result[c * plane + i] = mask[i] ? image[c * plane + i] : 0f;
        return result;
    }

    /// <summary>
    /// The four steps for every unit: <paramref name="featureMaps"/> is one image's [1,C,h,w] (or [C,h,w]) layer output,
    /// <paramref name="image"/> its [1,Ci,H,W] input.
    /// </summary>
    public static ReceptiveFieldSet FromFeatureMaps(string layer, Tensor featureMaps, Tensor image, RfOptions? options = null)
    {
        options ??= new RfOptions();
        var fs = featureMaps.Shape.Length == 4 ? featureMaps.Shape[1..] : featureMaps.Shape;
        var ish = image.Shape.Length == 4 ? image.Shape[1..] : image.Shape;
        if (fs.Length != 3 || ish.Length != 3) throw new ArgumentException("RFs need [C,h,w] feature maps of one image and a [C,H,W] image.");
        int units = fs[0], fh = fs[1], fw = fs[2];
        int ci = ish[0], ih = ish[1], iw = ish[2];
        int oh = options.Height ?? ih, ow = options.Width ?? iw;
        var resized = new float[ci * oh * ow];
        for (int c = 0; c < ci; c++)
            Resize(image.Data.AsSpan(c * ih * iw, ih * iw), ih, iw, oh, ow).CopyTo(resized, c * oh * ow);
        var maps = new float[units][];
        var masks = new bool[units][];
        for (int u = 0; u < units; u++)
        {
            maps[u] = Resize(featureMaps.Data.AsSpan(u * fh * fw, fh * fw), fh, fw, oh, ow);
            masks[u] = Threshold(maps[u], options.Mode, options.Threshold);
        }
        return new ReceptiveFieldSet(layer, ci, oh, ow, resized, maps, masks);
    }

    /// <summary>Runs the model on one image and returns the RFs of every unit of <paramref name="layer"/> (null = last conv layer).</summary>
    public static ReceptiveFieldSet Compute(Model model, Tensor image, string? layer = null, RfOptions? options = null, CancellationToken cancellation = default)
    {
        var name = ModelProbe.Layer(model, layer).ValueName;
        var img = image.Shape.Length == 4 ? image : image.Reshape([1, .. image.Shape]);
        var pass = model.Forward(img, new RunOptions { Capture = [name], StopAfterCaptures = true, Cancellation = cancellation });
        return FromFeatureMaps(name, pass[name], img, options);
    }

    /// <summary>Intersection over union of two masks; 0 when both are empty.</summary>
    public static double IoU(bool[] a, bool[] b)
    {
        if (a.Length != b.Length) throw new ArgumentException("Masks differ in size.");
        int inter = 0, union = 0;
        for (int i = 0; i < a.Length; i++) { if (a[i] && b[i]) inter++; if (a[i] || b[i]) union++; }
        return union == 0 ? 0 : (double)inter / union;
    }

    public static bool[] Union(IEnumerable<bool[]> masks, int length)
    {
        var r = new bool[length];
        foreach (var m in masks) for (int i = 0; i < length; i++) r[i] |= m[i];
        return r;
    }

    /// <summary>Pixels inside every mask (all pixels when no masks are given).</summary>
    public static bool[] Intersection(IEnumerable<bool[]> masks, int length)
    {
        var r = new bool[length];
        Array.Fill(r, true);
        foreach (var m in masks) for (int i = 0; i < length; i++) r[i] &= m[i];
        return r;
    }

    /// <summary>A vulnerability-map mask at input size brought to the RF size (nearest neighbour).</summary>
    public static bool[] ResizeMask(bool[] mask, int h, int w, int outH, int outW)
    {
        if (h == outH && w == outW) return mask;
        var r = new bool[outH * outW];
        for (int y = 0; y < outH; y++)
            for (int x = 0; x < outW; x++) r[y * outW + x] = mask[Math.Min(h - 1, y * h / outH) * w + Math.Min(w - 1, x * w / outW)];
        return r;
    }

    /// <summary>Units by IoU of their RF with a binarized vulnerability map (H×W of the input), highest first.</summary>
    public static (int Unit, double IoU)[] RankByIoU(ReceptiveFieldSet rfs, bool[] binarizedMap, int mapHeight, int mapWidth)
    {
        var m = ResizeMask(binarizedMap, mapHeight, mapWidth, rfs.Height, rfs.Width);
        return Enumerable.Range(0, rfs.UnitCount).Select(u => (u, IoU(rfs.Masks[u], m)))
            .OrderByDescending(t => t.Item2).ThenBy(t => t.u).ToArray();
    }
}
