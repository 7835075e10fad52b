// How a model wants its images: size, crop, channel order, scaling and normalisation, plus its class labels.
// Read from a sidecar `MODEL.onnx.advvis.json`; anything missing is inferred from the input shape and reported.
using System.Text.Json;
using AdvVis.Safety;

namespace AdvVis.Data;

public enum ChannelOrder { Rgb, Bgr, Gray }

/// <summary>Where the channel axis sits in the model's input tensor.</summary>
public enum InputLayout { Nchw, Nhwc }

/// <summary>Command-line values that replace the config's (null: keep the config's or the inferred value).</summary>
public sealed record PreprocessingOverrides
{
    public string? Channels { get; init; }
    public int? Resize { get; init; }
    public int? Crop { get; init; }
    public float? Scale { get; init; }
    public float[]? Mean { get; init; }
    public float[]? Std { get; init; }
    public string? Labels { get; init; }
    public string? Layout { get; init; }
    public float[]? Range { get; init; }
    public string? InputName { get; init; }

    public bool Any => Channels is not null || Resize is not null || Crop is not null || Scale is not null || Mean is not null
                       || Std is not null || Labels is not null || Layout is not null || Range is not null || InputName is not null;
}

/// <summary>
/// x[c] = (pixel · Scale − Mean[c]) / Std[c], pixels in 0–255, channels in <see cref="Order"/>, layout NCHW.
/// Attacks and budgets work in pixel space [0, 1] whatever the normalisation.
/// </summary>
public sealed record Preprocessing(
    int Width, int Height, ChannelOrder Order, float Scale, float[] Mean, float[] Std,
    int? ResizeShorterSide, string? LabelsPath, string? InputName, IReadOnlyList<string> Assumptions)
{
    public int Channels => Order == ChannelOrder.Gray ? 1 : 3;

    /// <summary>NCHW (default) or NHWC input tensor.</summary>
    public InputLayout Layout { get; init; } = InputLayout.Nchw;
    /// <summary>Centre-crop size after the shorter-side resize; null crops to the model's input size.</summary>
    public int? Crop { get; init; }
    /// <summary>The pixel value range attacks must respect, in pixel space [0, 1] (default the whole [0, 1]).</summary>
    public float RangeMin { get; init; }
    public float RangeMax { get; init; } = 1f;
    /// <summary>The config file this came from, or null when inferred.</summary>
    public string? Source { get; init; }

    /// <summary>
    /// The geometric part of preprocessing only: the image resized/cropped to the model's size, as pixel values in
    /// [0, 1] (value/255), CHW, in the model's channel order. The model's input is then x·255·Scale−Mean)/Std per channel.
    /// </summary>
    public float[] ToPixels(Image image)
    {
        var converted = Order == ChannelOrder.Gray ? image.ToGray() : image.ToRgb();
        if (ResizeShorterSide is { } shorter) converted = converted.ResizeShorterSide(shorter);
        if (Crop is { } crop && converted.Width >= crop && converted.Height >= crop && (crop != Width || crop != Height))
            converted = converted.CenterCrop(crop, crop);
        if (converted.Width != Width || converted.Height != Height)
        {
            if (converted.Width >= Width && converted.Height >= Height && ResizeShorterSide is not null) converted = converted.CenterCrop(Width, Height);
            else converted = converted.Resize(Width, Height);
        }
        var chw = converted.ToFloatChw(1f / 255f);
        if (Order != ChannelOrder.Bgr) return chw;
        int plane = Width * Height;
        var result = new float[chw.Length];
        for (int c = 0; c < 3; c++) chw.AsSpan((2 - c) * plane, plane).CopyTo(result.AsSpan(c * plane));
        return result;
    }

    /// <summary>Pixels [C,H,W] in the model's channel order and [0, 1] → an image (RGB or gray) for saving.</summary>
    public Image ToImage(ReadOnlySpan<float> pixels)
    {
        if (Order != ChannelOrder.Bgr) return Image.FromFloatChw(pixels, Channels, Height, Width);
        int plane = Width * Height;
        var rgb = new float[pixels.Length];
        for (int c = 0; c < 3; c++) pixels.Slice((2 - c) * plane, plane).CopyTo(rgb.AsSpan(c * plane));
        return Image.FromFloatChw(rgb, 3, Height, Width);
    }

    /// <summary>One line: what is done to an image before the model sees it.</summary>
    public string Describe() =>
        $"{Order.ToString().ToUpperInvariant()} {Width}x{Height} {Layout.ToString().ToUpperInvariant()}"
        + (ResizeShorterSide is { } r ? $", resize shorter side {r}" : "") + (Crop is { } c ? $", centre crop {c}" : ResizeShorterSide is not null ? $", centre crop {Width}x{Height}" : "")
        + $", value = (pixel0-255 x {Scale:G4} - mean [{string.Join(", ", Mean.Select(m => m.ToString("G4")))}]) / std [{string.Join(", ", Std.Select(v => v.ToString("G4")))}]"
        + $", attack range [{RangeMin:G3}, {RangeMax:G3}] in pixel space" + (Source is not null ? $" (from {Source})" : "");

    /// <summary>
    /// The model's preprocessing: its sidecar MODEL.onnx.advvis.json, else an entry in a workspace advvis.json (in the
    /// model's folder, its parents, or the working directory), else inferred from <paramref name="declared"/> (the input
    /// shape; symbolic dimensions null), with <paramref name="overrides"/> applied last. Every guess is in Assumptions.
    /// </summary>
    public static Preprocessing Resolve(string modelPath, int?[] declared, PreprocessingOverrides? overrides = null)
    {
        overrides ??= new PreprocessingOverrides();
        var (element, configPath, document) = FindConfig(modelPath);
        using (document)
        {
            string? layoutText = overrides.Layout ?? (element is { } e && e.TryGetProperty("layout", out var lay) ? lay.GetString() : null);
            var notes = new List<string>();
            if (declared.Length != 4)
                throw new InvalidDataException($"The model's input has rank {declared.Length} ([{string.Join(",", declared.Select(d => d?.ToString() ?? "?"))}]); AdvVis attacks image models with a 4-D input (NCHW or NHWC).");
            InputLayout layout;
            if (layoutText is not null) layout = ParseLayout(layoutText, configPath ?? "the command line");
            else if (declared[1] is not (1 or 3) && declared[3] is 1 or 3) { layout = InputLayout.Nhwc; notes.Add("the input's last axis has 1 or 3 entries: assumed NHWC layout"); }
            else layout = InputLayout.Nchw;
            int? c = layout == InputLayout.Nchw ? declared[1] : declared[3];
            int? h = layout == InputLayout.Nchw ? declared[2] : declared[1];
            int? w = layout == InputLayout.Nchw ? declared[3] : declared[2];
            if (element is { } el && el.TryGetProperty("size", out var size))
            {
                var sz = size.ValueKind == JsonValueKind.Array ? size.EnumerateArray().Select(v => v.GetInt32()).ToArray() : [size.GetInt32(), size.GetInt32()];
                h ??= sz[0]; w ??= sz[^1];
            }
            if (c is null)
            {
                var ch = overrides.Channels ?? (element is { } e2 && e2.TryGetProperty("channels", out var chv) ? chv.GetString() : null);
                c = ch is null ? 3 : ch.Equals("gray", StringComparison.OrdinalIgnoreCase) || ch.Equals("grayscale", StringComparison.OrdinalIgnoreCase) ? 1 : 3;
                if (ch is null) notes.Add("the channel count is symbolic: assumed 3 (RGB)");
            }
            if (h is null || w is null)
                throw new InvalidDataException($"The model's input size is symbolic; give it with \"size\": [H, W] in {Path.GetFileName(modelPath)}.advvis.json.");
            if (c is not (1 or 3)) throw new InvalidDataException($"The model's input has {c} channels; image models need 1 (gray) or 3 (RGB/BGR). Check the layout (--layout NCHW|NHWC).");

            Preprocessing pre = element is { } cfg ? FromElement(cfg, configPath!, c.Value, h.Value, w.Value) with { Source = configPath }
                                                   : Inferred(c.Value, h.Value, w.Value);
            pre = pre with { Layout = layout, Assumptions = [.. pre.Assumptions, .. notes] };
            return overrides.Any ? pre.With(overrides) : pre;
        }
    }

    private static InputLayout ParseLayout(string text, string where) => text.ToUpperInvariant() switch
    {
        "NCHW" => InputLayout.Nchw,
        "NHWC" => InputLayout.Nhwc,
        _ => throw new InvalidDataException($"{where}: layout must be NCHW or NHWC, not '{text}'."),
    };

    /// <summary>Applies command-line values on top of this preprocessing.</summary>
    public Preprocessing With(PreprocessingOverrides o)
    {
        var order = o.Channels is null ? Order : ParseOrder(o.Channels, "--channels");
        if ((order == ChannelOrder.Gray) != (Channels == 1) && o.Channels is not null)
            throw new InvalidDataException($"--channels {o.Channels} does not fit the model's input, which has {Channels} channel(s).");
        float[] PerChannel(float[]? v, float[] current, string name)
        {
            if (v is null) return current;
            if (v.Length == 1) return Enumerable.Repeat(v[0], Channels).ToArray();
            if (v.Length != Channels) throw new InvalidDataException($"{name} has {v.Length} values for {Channels} channels.");
            return v;
        }
        var std = PerChannel(o.Std, Std, "--std");
        if (std.Any(s => s == 0f)) throw new InvalidDataException("--std must not be 0.");
        var range = o.Range ?? [RangeMin, RangeMax];
        if (range.Length != 2 || !(range[0] >= 0 && range[1] <= 1 && range[0] < range[1]))
            throw new InvalidDataException($"--range must be two values lo,hi with 0 ≤ lo < hi ≤ 1 (pixel space), got {string.Join(",", range)}.");
        return this with
        {
            Order = order, Scale = o.Scale ?? Scale, Mean = PerChannel(o.Mean, Mean, "--mean"), Std = std,
            ResizeShorterSide = o.Resize ?? ResizeShorterSide, Crop = o.Crop ?? Crop, LabelsPath = o.Labels ?? LabelsPath,
            InputName = o.InputName ?? InputName, Layout = o.Layout is null ? Layout : ParseLayout(o.Layout, "--layout"),
            RangeMin = range[0], RangeMax = range[1],
            Assumptions = [.. Assumptions, "command-line options override the config where given"],
        };
    }

    /// <summary>The model's own sidecar, else the first workspace advvis.json (model folder upwards, then the working directory) naming it.</summary>
    private static (JsonElement? Element, string? Path, JsonDocument? Document) FindConfig(string modelPath)
    {
        var sidecar = modelPath + ".advvis.json";
        if (SafeFiles.Exists(sidecar))
        {
            var doc = Parse(sidecar);
            return (doc.RootElement, sidecar, doc);
        }
        string model = Path.GetFullPath(modelPath);
        var folders = new List<string>();
        for (var d = new DirectoryInfo(Path.GetDirectoryName(model)!); d is not null && folders.Count < 4; d = d.Parent) folders.Add(d.FullName);
        folders.Add(Directory.GetCurrentDirectory());
        foreach (var folder in folders.Distinct())
        {
            var workspace = Path.Combine(folder, "advvis.json");
            if (!SafeFiles.Exists(workspace)) continue;
            var doc = Parse(workspace);
            if (!doc.RootElement.TryGetProperty("models", out var models)) { doc.Dispose(); continue; }
            IEnumerable<(string Key, JsonElement Value)> entries = models.ValueKind switch
            {
                JsonValueKind.Object => models.EnumerateObject().Select(p => (p.Name, p.Value)),
                JsonValueKind.Array => models.EnumerateArray().Select(v => (
                    (v.TryGetProperty("model", out var m) ? m.GetString() : v.TryGetProperty("path", out var p2) ? p2.GetString() : null) ?? "", v)),
                _ => throw new InvalidDataException($"Workspace config '{workspace}': \"models\" must be an object (path → config) or an array of configs with \"model\"."),
            };
            foreach (var (key, value) in entries)
                if (key.Length > 0 && string.Equals(Path.GetFullPath(Path.Combine(folder, key)), model, StringComparison.Ordinal))
                    return (value, workspace, doc);
            doc.Dispose();
        }
        return (null, null, null);
    }

    private static JsonDocument Parse(string path)
    {
        try { return JsonDocument.Parse(SafeFiles.ReadAllText(path, "Model config")); }
        catch (JsonException e) { throw new InvalidDataException($"Model config '{path}' is not valid JSON: {e.Message}"); }
    }

    private static ChannelOrder ParseOrder(string? text, string where) => text?.ToLowerInvariant() switch
    {
        "rgb" => ChannelOrder.Rgb,
        "bgr" => ChannelOrder.Bgr,
        "gray" or "grey" or "grayscale" => ChannelOrder.Gray,
        var other => throw new InvalidDataException($"{where}: channels must be RGB, BGR or gray, not '{other}'."),
    };

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
        return SafeFiles.Exists(sidecar) ? FromJson(sidecar, channels, height, width) : Inferred(channels, height, width);
    }

    public static Preprocessing Inferred(int channels, int height, int width) => new(
        width, height, channels == 1 ? ChannelOrder.Gray : ChannelOrder.Rgb, 1f / 255f,
        Enumerable.Repeat(0f, channels).ToArray(), Enumerable.Repeat(1f, channels).ToArray(), null, null, null,
        [$"no {"MODEL.onnx.advvis.json"} found: assumed {(channels == 1 ? "grayscale" : "RGB")} {width}x{height}, pixels scaled to [0,1], no mean/std"]);

    public static Preprocessing FromJson(string path, int channels, int height, int width)
    {
        using var doc = Parse(path);
        return FromElement(doc.RootElement, path, channels, height, width);
    }

    private static Preprocessing FromElement(JsonElement root, string path, int channels, int height, int width)
    {
        try
        {
            var assumptions = new List<string>();
            float[] Floats(string name, float fallback)
            {
                if (!root.TryGetProperty(name, out var v)) return Enumerable.Repeat(fallback, channels).ToArray();
                var values = v.ValueKind == JsonValueKind.Array ? v.EnumerateArray().Select(e => e.GetSingle()).ToArray() : [v.GetSingle()];
                if (values.Length == 1) values = Enumerable.Repeat(values[0], channels).ToArray();
                if (values.Length != channels) throw new InvalidDataException($"Model config '{path}': '{name}' has {values.Length} values for {channels} channels.");
                return values;
            }
            var order = root.TryGetProperty("channels", out var ch) ? ParseOrder(ch.GetString(), $"Model config '{path}'")
                : channels == 1 ? ChannelOrder.Gray : ChannelOrder.Rgb;
            if ((order == ChannelOrder.Gray) != (channels == 1))
                throw new InvalidDataException($"Model config '{path}' says {order} but the model's input has {channels} channels.");
            var std = Floats("std", 1f);
            if (std.Any(s => s == 0f)) throw new InvalidDataException($"Model config '{path}': std must not be 0.");
            string? labels = root.TryGetProperty("labels", out var l) ? l.GetString() : null;
            string configFolder = Path.GetDirectoryName(Path.GetFullPath(path))!;
            if (labels is not null && !Path.IsPathRooted(labels)) labels = Path.Combine(configFolder, labels);
            if (labels is not null && !SafeFiles.IsInside(configFolder, labels))
            {
                // A config comes with the model (maybe from a cloned repository): it must not make AdvVis read, and show
                // as class names, a file elsewhere on the machine.
                assumptions.Add($"labels '{root.GetProperty("labels").GetString()}' lie outside the folder of '{path}' (after resolving links) and were ignored; keep the labels file beside the config");
                labels = null;
            }
            float[] range = root.TryGetProperty("range", out var rg) || root.TryGetProperty("value_range", out rg)
                ? rg.EnumerateArray().Select(e => e.GetSingle()).ToArray() : [0f, 1f];
            if (range.Length != 2 || !(range[0] >= 0 && range[1] <= 1 && range[0] < range[1]))
                throw new InvalidDataException($"Model config '{path}': range must be [lo, hi] in pixel space with 0 ≤ lo < hi ≤ 1.");
            return new Preprocessing(width, height, order,
                root.TryGetProperty("scale", out var s) ? s.GetSingle() : 1f / 255f,
                Floats("mean", 0f), std,
                root.TryGetProperty("resize", out var r) ? r.GetInt32() : null,
                labels,
                root.TryGetProperty("input", out var i) ? i.GetString() : null,
                assumptions)
            {
                Crop = root.TryGetProperty("crop", out var cr) ? cr.GetInt32() : null,
                RangeMin = range[0], RangeMax = range[1],
            };
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"Model config '{path}': a value has the wrong type ({e.Message}). Numbers for scale/mean/std/resize/crop/range, strings for channels/labels/input/layout.");
        }
    }
}
