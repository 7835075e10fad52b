// Cifar10Reader: the CIFAR-10 (and CIFAR-100) "binary version" batches: fixed-size records of label
// byte(s) followed by a 32×32 image stored as three planes (R, G, B), each row-major.

using AdvVis.Safety;

namespace AdvVis.Data;

/// <summary>Reads CIFAR-10/100 binary batch files (data_batch_N.bin, test_batch.bin).</summary>
public static class Cifar10Reader
{
    public const int ImageSize = 32;
    private const int PixelBytes = ImageSize * ImageSize * 3;

    public static readonly IReadOnlyList<string> Cifar10ClassNames =
        ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];

    /// <summary>
    /// Reads a batch. <paramref name="labelBytes"/> is 1 for CIFAR-10, 2 for CIFAR-100 (coarse, fine; the fine
    /// label is used). Class names come from <paramref name="classNames"/>, else batches.meta.txt beside the
    /// file, else the CIFAR-10 names.
    /// </summary>
    public static LabeledImageSet ReadBatch(string path, IReadOnlyList<string>? classNames = null, int labelBytes = 1)
    {
        if (labelBytes is not (1 or 2)) throw new ArgumentOutOfRangeException(nameof(labelBytes), "CIFAR records have 1 (CIFAR-10) or 2 (CIFAR-100) label bytes.");
        byte[] data = SafeFiles.ReadAllBytes(path, "CIFAR batch");
        int recordSize = labelBytes + PixelBytes;
        if (data.Length == 0 || data.Length % recordSize != 0)
            throw new DataFormatException(
                $"CIFAR batch size {data.Length} is not a multiple of the {recordSize}-byte record; the file is truncated or not a CIFAR-{(labelBytes == 1 ? 10 : 100)} binary batch.", path);
        classNames ??= ReadMetaNames(path) ?? (labelBytes == 1 ? Cifar10ClassNames : null);

        int count = data.Length / recordSize;
        var images = new Image[count];
        var labels = new int[count];
        var sources = new string[count];
        string name = Path.GetFileName(path);
        for (int i = 0; i < count; i++)
        {
            int record = i * recordSize;
            labels[i] = data[record + labelBytes - 1];
            var image = new Image(ImageSize, ImageSize, 3);
            int planes = record + labelBytes;
            for (int p = 0; p < ImageSize * ImageSize; p++)
            {
                image.Pixels[p * 3] = data[planes + p];
                image.Pixels[p * 3 + 1] = data[planes + 1024 + p];
                image.Pixels[p * 3 + 2] = data[planes + 2048 + p];
            }
            images[i] = image;
            sources[i] = $"{name}#{i}";
        }
        if (classNames is not null)
        {
            int bad = labels.FirstOrDefault(l => l >= classNames.Count, -1);
            if (bad >= 0)
                throw new DataFormatException($"CIFAR batch has label {bad} but only {classNames.Count} class names; wrong label-byte count or names file?", path);
        }
        return new LabeledImageSet(images, labels, classNames ?? LabeledImageSet.DefaultClassNames(labels), sources);
    }

    private static string[]? ReadMetaNames(string batchPath)
    {
        string? directory = Path.GetDirectoryName(Path.GetFullPath(batchPath));
        if (directory is null) return null;
        string meta = Path.Combine(directory, "batches.meta.txt");
        if (!SafeFiles.IsRegularFile(meta)) return null;
        var names = SafeFiles.ReadAllText(meta, "CIFAR class names").Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0).ToArray();
        return names.Length > 0 ? names : null;
    }
}
