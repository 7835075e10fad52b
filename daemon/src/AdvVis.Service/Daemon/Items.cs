// Items: turns the client's ItemsRef (image/tensor paths or a dataset) into a batch in pixel space [0, 1], laid out as
// the model's input (NCHW, its channel order and size), plus labels, source names and a content fingerprint for cache
// keys. Only files the client names are read. Model inputs come from pixels through the model's preprocessing.
using System.Security.Cryptography;
using AdvVis.Data;
using AdvVis.Engine;
using AdvVis.Safety;
using AdvVis.Service.JsonRpc;
using AdvVis.Service.Protocol;

namespace AdvVis.Service.Daemon;

/// <summary>Items in pixel space; <paramref name="Warnings"/> are the dataset's notes a user must see (how class folders were numbered, files skipped).</summary>
public sealed record ItemBatch(Tensor Pixels, int[] Labels, bool HasLabels, string[] Sources, string Fingerprint, IReadOnlyList<string> ClassNames,
    IReadOnlyList<string>? Warnings = null)
{
    public int Count => Pixels.Shape[0];
}

public static class Items
{
    /// <summary>Loads items for <paramref name="model"/>; <paramref name="maxItems"/> bounds what one request may load.</summary>
    public static ItemBatch Load(OpenModel model, ItemsRef items, CancellationToken cancellation, int maxItems = 20_000)
    {
        var pre = RequireImageModel(model);
        if ((items.Images is null) == (items.Dataset is null))
            throw new JsonRpcException(JsonRpcErrorCodes.InvalidParams, "items needs exactly one of 'images' or 'dataset'.");
        if (items.Images is { } paths)
        {
            if (paths.Length == 0) throw new JsonRpcException(JsonRpcErrorCodes.InvalidParams, "items.images is empty.");
            if (paths.Length > maxItems) throw new JsonRpcException(JsonRpcErrorCodes.InvalidParams, $"{paths.Length} images exceed this method's limit of {maxItems}.");
            if (items.Labels is { } l && l.Length != paths.Length)
                throw new JsonRpcException(JsonRpcErrorCodes.InvalidParams, $"items.labels has {l.Length} entries for {paths.Length} images.");
            int per = pre.Channels * pre.Height * pre.Width;
            var data = new float[paths.Length * per];
            var hashes = new List<string>();
            for (int i = 0; i < paths.Length; i++)
            {
                cancellation.ThrowIfCancellationRequested();
                var (pixels, hash) = LoadOne(model, paths[i]);
                pixels.CopyTo(data.AsSpan(i * per));
                hashes.Add(hash);
            }
            var labels = items.Labels ?? Enumerable.Repeat(-1, paths.Length).ToArray();
            return new ItemBatch(new Tensor([paths.Length, pre.Channels, pre.Height, pre.Width], data), labels, items.Labels is not null,
                paths.Select(Path.GetFullPath).ToArray(), Fingerprint(hashes, labels), model.Labels?.Names ?? []);
        }

        var dataset = items.Dataset!;
        var set = ReadDataset(dataset, model.Labels);
        int offset = Math.Clamp(dataset.Offset, 0, set.Count);
        int count = Math.Min(dataset.Limit ?? set.Count - offset, set.Count - offset);
        if (count <= 0) throw new JsonRpcException(JsonRpcErrorCodes.InvalidParams, $"Dataset '{dataset.Path}' has no items after offset {offset}.");
        if (count > maxItems) throw new JsonRpcException(JsonRpcErrorCodes.InvalidParams, $"{count} items exceed this method's limit of {maxItems}; set dataset.limit.");
        int size = pre.Channels * pre.Height * pre.Width;
        var batch = new float[count * size];
        for (int i = 0; i < count; i++)
        {
            if ((i & 63) == 0) cancellation.ThrowIfCancellationRequested();
            ToPixels(pre, set.Images[offset + i]).CopyTo(batch.AsSpan(i * size));
        }
        var setLabels = set.Labels.Skip(offset).Take(count).ToArray();
        string fileHash = HashFiles(dataset.Labels is null ? [dataset.Path] : [dataset.Path, dataset.Labels]);
        return new ItemBatch(new Tensor([count, pre.Channels, pre.Height, pre.Width], batch), setLabels, true,
            set.Sources.Skip(offset).Take(count).ToArray(), Fingerprint([fileHash, $"{offset}+{count}"], setLabels), set.ClassNames, set.Warnings);
    }

    public static Preprocessing RequireImageModel(OpenModel model) => model.Preprocessing
        ?? throw new JsonRpcException(AdvVisErrorCodes.Unsupported, $"Model '{model.Path}' does not take a single NCHW image of fixed size, so images cannot be fed to it.");

    /// <summary>One image or .npy tensor as pixels [C,H,W] in [0, 1], with the file's content hash.</summary>
    public static (float[] Pixels, string Hash) LoadOne(OpenModel model, string path)
    {
        var pre = RequireImageModel(model);
        string full = Path.GetFullPath(path);
        byte[] bytes = SafeFiles.ReadAllBytes(full, "Item file");
        string hash = Convert.ToHexStringLower(SHA256.HashData(bytes));
        string ext = Path.GetExtension(full).ToLowerInvariant();
        if (ext == ".npy")
        {
            var array = Npy.Parse(bytes);
            int per = pre.Channels * pre.Height * pre.Width;
            if (array.Shape.Aggregate(1L, (a, d) => a * d) != per)
                throw new JsonRpcException(AdvVisErrorCodes.BadInput, $"Tensor '{full}' has shape ({string.Join(",", array.Shape)}); the model needs [1,{pre.Channels},{pre.Height},{pre.Width}].");
            return (InputToPixels(pre, array.ToFloatArray()), hash);
        }
        return (ToPixels(pre, ImageDecoder.Decode(bytes)), hash);
    }

    /// <summary>An image resized/cropped as the model wants, as [C,H,W] pixels in [0, 1] in the model's channel order.</summary>
    public static float[] ToPixels(Preprocessing pre, Image image)
    {
        var identity = pre with { Scale = 1f / 255f, Mean = new float[pre.Channels], Std = Enumerable.Repeat(1f, pre.Channels).ToArray() };
        return identity.ToInput(image);
    }

    /// <summary>Model input values from pixels in [0, 1]: x = (p · 255 · scale − mean) / std.</summary>
    public static float[] PixelsToInput(Preprocessing pre, ReadOnlySpan<float> pixels)
    {
        int plane = pre.Width * pre.Height;
        var result = new float[pixels.Length];
        for (int i = 0; i < pixels.Length; i++)
        {
            int c = i / plane % pre.Channels;
            result[i] = (pixels[i] * 255f * pre.Scale - pre.Mean[c]) / pre.Std[c];
        }
        return result;
    }

    public static float[] InputToPixels(Preprocessing pre, ReadOnlySpan<float> input)
    {
        int plane = pre.Width * pre.Height;
        var result = new float[input.Length];
        for (int i = 0; i < input.Length; i++)
        {
            int c = i / plane % pre.Channels;
            result[i] = (input[i] * pre.Std[c] + pre.Mean[c]) / (255f * pre.Scale);
        }
        return result;
    }

    public static Tensor ToModelInput(OpenModel model, Tensor pixels) =>
        new(pixels.Shape, PixelsToInput(RequireImageModel(model), pixels.Span));

    /// <summary>Pixels [C,H,W] in [0, 1] as an 8-bit image (RGB or gray; BGR models are shown in RGB).</summary>
    public static Image ToImage(Preprocessing pre, ReadOnlySpan<float> pixels)
    {
        var rgb = pixels.ToArray();
        if (pre.Order == ChannelOrder.Bgr)
        {
            int plane = pre.Width * pre.Height;
            for (int i = 0; i < plane; i++) (rgb[i], rgb[2 * plane + i]) = (rgb[2 * plane + i], rgb[i]);
        }
        return Image.FromFloatChw(rgb, pre.Channels, pre.Height, pre.Width);
    }

    private static LabeledImageSet ReadDataset(DatasetRef dataset, ClassLabels? modelClasses)
    {
        string path = Path.GetFullPath(dataset.Path);
        if (FileStatus.OfTarget(path).Kind == FileKind.Directory) return ImageFolderReader.Read(path, new ImageFolderOptions { ModelClasses = modelClasses });
        SafeFiles.RequireRegularFile(path, "Dataset");
        string name = Path.GetFileName(path).ToLowerInvariant();
        if (name.EndsWith(".npz", StringComparison.Ordinal))
        {
            var arrays = Npz.Read(path);
            NpyArray? Pick(params string[] keys) => keys.Select(k => arrays.TryGetValue(k, out var a) ? a : null).FirstOrDefault(a => a is not null);
            var images = Pick("images", "x", "x_test", "X") ?? throw new JsonRpcException(AdvVisErrorCodes.BadInput, $"'{path}' has no 'images' or 'x' array (it has {string.Join(", ", arrays.Keys)}).");
            var labels = Pick("labels", "y", "y_test", "Y") ?? throw new JsonRpcException(AdvVisErrorCodes.BadInput, $"'{path}' has no 'labels' or 'y' array (it has {string.Join(", ", arrays.Keys)}).");
            return LabeledImageSet.FromArrays(images, labels, null, path);
        }
        if (name.EndsWith(".bin", StringComparison.Ordinal)) return Cifar10Reader.ReadBatch(path);
        if (name.Contains("ubyte", StringComparison.Ordinal) || name.Contains("idx", StringComparison.Ordinal))
        {
            if (dataset.Labels is null) throw new JsonRpcException(JsonRpcErrorCodes.InvalidParams, $"IDX images '{path}' need dataset.labels (the IDX labels file).");
            return IdxReader.LoadImagesAndLabels(path, Path.GetFullPath(dataset.Labels));
        }
        throw new JsonRpcException(AdvVisErrorCodes.BadInput, $"'{path}' is not a dataset AdvVis reads: an image folder, IDX images (+labels), a CIFAR-10 .bin batch or an .npz.");
    }

    private static string HashFiles(IEnumerable<string> paths)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var path in paths)
        {
            string full = Path.GetFullPath(path);
            if (FileStatus.OfTarget(full).Kind == FileKind.Directory)
            {
                foreach (var file in System.IO.Directory.EnumerateFiles(full, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
                {
                    if (!SafeFiles.IsRegularFile(file)) continue; // the readers skip what is not a regular file too
                    sha.AppendData(System.Text.Encoding.UTF8.GetBytes(Path.GetRelativePath(full, file)));
                    sha.AppendData(SafeFiles.ReadAllBytes(file, "Dataset file"));
                }
            }
            else if (SafeFiles.IsRegularFile(full)) sha.AppendData(SafeFiles.ReadAllBytes(full, "Dataset file"));
        }
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    private static string Fingerprint(IEnumerable<string> parts, int[] labels) =>
        ResultCacheKey(string.Join(",", parts) + "|" + string.Join(",", labels));

    private static string ResultCacheKey(string text) => Cache.ResultCache.Key("items", text);
}
