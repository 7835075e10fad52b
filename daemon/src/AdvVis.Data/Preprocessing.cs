// How a model wants its images: size, crop, channel order, scaling and normalisation, plus its class labels.
// Read from a sidecar `MODEL.onnx.advvis.json`; anything missing is inferred from the input shape and reported.
using System.Text.Json;

namespace AdvVis.Data;

public enum ChannelOrder { Rgb, Bgr, Gray }

/// <summary>
/// x[c] = (pixel · Scale − Mean[c]) / Std[c], pixels in 0–255, channels in <see cref="Order"/>, layout NCHW.
/// Attacks and budgets work in pixel space [0, 1] whatever the normalisation.
/// </summary>
public sealed record Preprocessing(
    int Width, int Height, ChannelOrder Order, float Scale, float[] Mean, float[] Std,
    int? ResizeShorterSide, string? LabelsPath, string? InputName, IReadOnlyList<string> Assumptions)
{
    public int Channels => Order == ChannelOrder.Gray ? 1 : 3;

    /// <summary>Decodes nothing; turns an image into the model's input values (CHW).</summary>
    public float[] ToInput(Image image)
    {
        var converted = Order == ChannelOrder.Gray ? image.ToGray() : image.ToRgb();
        if (ResizeShorterSide is { } shorter) converted = converted.ResizeShorterSide(shorter);
        if (converted.Width != Width || converted.Height != Height)
        {
            if (converted.Width >= Width && converted.Height >= Height && ResizeShorterSide is not null) converted = converted.CenterCrop(Width, Height);
            else converted = converted.Resize(Width, Height);
        }
        var chw = converted.ToFloatChw(1f);
        int plane = Width * Height;
        var result = new float[chw.Length];
        for (int c = 0; c < Channels; c++)
        {
            int source = Order == ChannelOrder.Bgr ? 2 - c : c;
            for (int i = 0; i < plane; i++)
                result[c * plane + i] = (chw[source * plane + i] * Scale - Mean[c]) / Std[c];
        }
        return result;
    }

    /// <summary>Reads the sidecar config next to a model if it exists, else infers from the declared input shape.</summary>
    public static Preprocessing ForModel(string modelPath, int channels, int height, int width)
    {
        var sidecar = modelPath + ".advvis.json";
        return File.Exists(sidecar) ? FromJson(sidecar, channels, height, width) : Inferred(channels, height, width);
    }

    public static Preprocessing Inferred(int channels, int height, int width) => new(
        width, height, channels == 1 ? ChannelOrder.Gray : ChannelOrder.Rgb, 1f / 255f,
        Enumerable.Repeat(0f, channels).ToArray(), Enumerable.Repeat(1f, channels).ToArray(), null, null, null,
        [$"no {"MODEL.onnx.advvis.json"} found: assumed {(channels == 1 ? "grayscale" : "RGB")} {width}x{height}, pixels scaled to [0,1], no mean/std"]);

    public static Preprocessing FromJson(string path, int channels, int height, int width)
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(File.ReadAllText(path)); }
        catch (JsonException e) { throw new InvalidDataException($"Model config '{path}' is not valid JSON: {e.Message}"); }
        using (doc)
        {
            var root = doc.RootElement;
            var assumptions = new List<string>();
            float[] Floats(string name, float fallback)
            {
                if (!root.TryGetProperty(name, out var v)) return Enumerable.Repeat(fallback, channels).ToArray();
                var values = v.ValueKind == JsonValueKind.Array ? v.EnumerateArray().Select(e => e.GetSingle()).ToArray() : [v.GetSingle()];
                if (values.Length == 1) values = Enumerable.Repeat(values[0], channels).ToArray();
                if (values.Length != channels) throw new InvalidDataException($"Model config '{path}': '{name}' has {values.Length} values for {channels} channels.");
                return values;
            }
            var order = root.TryGetProperty("channels", out var ch) ? ch.GetString()?.ToLowerInvariant() switch
            {
                "rgb" => ChannelOrder.Rgb,
                "bgr" => ChannelOrder.Bgr,
                "gray" or "grey" or "grayscale" => ChannelOrder.Gray,
                var other => throw new InvalidDataException($"Model config '{path}': channels must be RGB, BGR or gray, not '{other}'."),
            } : channels == 1 ? ChannelOrder.Gray : ChannelOrder.Rgb;
            if ((order == ChannelOrder.Gray) != (channels == 1))
                throw new InvalidDataException($"Model config '{path}' says {order} but the model's input has {channels} channels.");
            var std = Floats("std", 1f);
            if (std.Any(s => s == 0f)) throw new InvalidDataException($"Model config '{path}': std must not be 0.");
            string? labels = root.TryGetProperty("labels", out var l) ? l.GetString() : null;
            if (labels is not null && !Path.IsPathRooted(labels)) labels = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, labels);
            return new Preprocessing(width, height, order,
                root.TryGetProperty("scale", out var s) ? s.GetSingle() : 1f / 255f,
                Floats("mean", 0f), std,
                root.TryGetProperty("resize", out var r) ? r.GetInt32() : null,
                labels,
                root.TryGetProperty("input", out var i) ? i.GetString() : null,
                assumptions);
        }
    }
}
