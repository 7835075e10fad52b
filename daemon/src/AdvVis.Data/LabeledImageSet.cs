// LabeledImageSet: the common result of every dataset reader (IDX/MNIST, CIFAR-10 batches, image
// folders, .npz arrays): images, integer labels, class names, where each image came from, and the
// non-fatal problems met while reading (e.g. a corrupt file skipped in an image folder).

namespace AdvVis.Data;

/// <summary>Images with integer labels and class names, plus warnings about skipped inputs.</summary>
public sealed class LabeledImageSet
{
    public IReadOnlyList<Image> Images { get; }
    public IReadOnlyList<int> Labels { get; }
    public IReadOnlyList<string> ClassNames { get; }

    /// <summary>File (or "file#index") each image came from; same length as Images.</summary>
    public IReadOnlyList<string> Sources { get; }

    /// <summary>Human-readable notes about inputs that were skipped; empty when everything loaded.</summary>
    public IReadOnlyList<string> Warnings { get; }

    public int Count => Images.Count;

    public LabeledImageSet(IReadOnlyList<Image> images, IReadOnlyList<int> labels, IReadOnlyList<string> classNames,
        IReadOnlyList<string>? sources = null, IReadOnlyList<string>? warnings = null)
    {
        if (images.Count != labels.Count)
            throw new ArgumentException($"{images.Count} images but {labels.Count} labels.", nameof(labels));
        if (sources is not null && sources.Count != images.Count)
            throw new ArgumentException($"{images.Count} images but {sources.Count} sources.", nameof(sources));
        Images = images;
        Labels = labels;
        ClassNames = classNames;
        Sources = sources ?? Enumerable.Range(0, images.Count).Select(i => $"#{i}").ToArray();
        Warnings = warnings ?? [];
    }

    /// <summary>The class name of image <paramref name="index"/>, or its number when names are unknown.</summary>
    public string ClassNameOf(int index)
    {
        int label = Labels[index];
        return label >= 0 && label < ClassNames.Count ? ClassNames[label] : label.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>The first <paramref name="count"/> items (all when fewer).</summary>
    public LabeledImageSet Take(int count)
    {
        count = Math.Clamp(count, 0, Count);
        return new LabeledImageSet(Images.Take(count).ToArray(), Labels.Take(count).ToArray(), ClassNames, Sources.Take(count).ToArray(), Warnings);
    }

    /// <summary>
    /// Stacks the images into a float32 [N, C, H, W] tensor (value*scale). All images must share one size and
    /// channel count; resize/convert first otherwise.
    /// </summary>
    public NpyArray ToTensor(float scale = 1f / 255f)
    {
        if (Count == 0) throw new InvalidOperationException("The set is empty; there is nothing to stack.");
        var first = Images[0];
        int perImage = first.Width * first.Height * first.Channels;
        var data = new float[(long)perImage * Count];
        for (int i = 0; i < Count; i++)
        {
            var image = Images[i];
            if (image.Width != first.Width || image.Height != first.Height || image.Channels != first.Channels)
                throw new InvalidOperationException(
                    $"Image {i} ({Sources[i]}) is {image.Width}×{image.Height}×{image.Channels}, unlike the first ({first.Width}×{first.Height}×{first.Channels}); resize the set first.");
            image.ToFloatChw(scale).CopyTo(data, (long)i * perImage);
        }
        return new NpyArray(data, Count, first.Channels, first.Height, first.Width);
    }

    /// <summary>
    /// Builds a set from arrays such as an .npz's images (uint8 [N,H,W] or [N,H,W,C] with C = 1 or 3) and labels ([N]).
    /// </summary>
    public static LabeledImageSet FromArrays(NpyArray images, NpyArray labels, IReadOnlyList<string>? classNames = null, string? source = null)
    {
        if (images.Rank is not (3 or 4) || (images.Rank == 4 && images.Shape[3] is not (1 or 3)))
            throw new DataFormatException($"Images array must be [N,H,W] or [N,H,W,C] with C = 1 or 3, got ({string.Join(", ", images.Shape)}).", source);
        if (labels.Rank != 1 || labels.Shape[0] != images.Shape[0])
            throw new DataFormatException($"Labels array must be [N] with N = {images.Shape[0]}, got ({string.Join(", ", labels.Shape)}).", source);
        byte[] pixels;
        try
        {
            pixels = images.ToByteArray();
        }
        catch (InvalidCastException e)
        {
            throw new DataFormatException($"Images array must hold 8-bit values 0..255 ({e.Message}). Scale it to uint8 first.", source, e);
        }
        int count = images.Shape[0], height = images.Shape[1], width = images.Shape[2];
        int channels = images.Rank == 4 ? images.Shape[3] : 1;
        int perImage = width * height * channels;
        var list = new Image[count];
        for (int i = 0; i < count; i++)
            list[i] = new Image(width, height, channels, pixels.AsSpan(i * perImage, perImage).ToArray());
        int[] labelValues = labels.ToInt32Array();
        var names = classNames ?? DefaultClassNames(labelValues);
        string prefix = source ?? "array";
        return new LabeledImageSet(list, labelValues, names, Enumerable.Range(0, count).Select(i => $"{prefix}#{i}").ToArray());
    }

    /// <summary>"0", "1", ... up to the largest label, for datasets without a names file.</summary>
    internal static string[] DefaultClassNames(IReadOnlyList<int> labels)
    {
        int max = labels.Count == 0 ? -1 : labels.Max();
        return Enumerable.Range(0, max + 1).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();
    }
}
