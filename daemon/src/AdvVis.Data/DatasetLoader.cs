// DatasetLoader: one entry point for every dataset form a user brings, chosen by what the path is: an image folder
// (one sub-folder per class), a .tar/.tar.gz of one, IDX files (MNIST/Fashion-MNIST, gzip or not, labels found
// beside), CIFAR-10 binary batches, .npz (images + labels) or .npy (images), or a single image. Unknown labels are -1.
using AdvVis.Safety;

namespace AdvVis.Data;

public sealed record DatasetOptions
{
    /// <summary>Keep the first N images (after reading; folders are read in class order).</summary>
    public int? Limit { get; init; }
    /// <summary>Class names file (text or Keras JSON); replaces the dataset's own names.</summary>
    public string? ClassNamesPath { get; init; }
    /// <summary>The model's classes: class folders named after them get the model's indices (ImageFolderReader.MapClassFolders).</summary>
    public ClassLabels? ModelClasses { get; init; }
    /// <summary>Images with a side above this are downscaled (keeping the aspect ratio) with a warning.</summary>
    public int MaxSide { get; init; } = 4096;
    public ImageDecodeOptions Decode { get; init; } = ImageDecodeOptions.Default;
}

public static class DatasetLoader
{
    public static LabeledImageSet Load(string path, DatasetOptions? options = null)
    {
        options ??= new DatasetOptions();
        var modelClasses = options.ModelClasses ?? (options.ClassNamesPath is null ? null : ClassLabels.Load(options.ClassNamesPath));
        LabeledImageSet set;
        var notes = new List<string>();
        if (Directory.Exists(path))
        {
            var sub = Directory.GetDirectories(path).Where(d => !Path.GetFileName(d).StartsWith('.')).ToArray();
            if (sub.Length == 0)
            {
                // A flat folder of images: no labels.
                var files = Directory.GetFiles(path).Where(f => ImageFolderReader.ImageExtensions.Contains(Path.GetExtension(f)))
                    .OrderBy(f => f, StringComparer.Ordinal).ToArray();
                if (files.Length == 0)
                    throw new DataFormatException("holds no images and no class sub-folders. Expected DIR/<class>/<image> (or images directly, without labels).", path);
                if (options.Limit is int lim) files = files.Take(lim).ToArray();
                set = ReadFiles(files, notes, options);
                notes.Add($"'{path}' has no class sub-folders: labels are unknown");
            }
            else set = ImageFolderReader.Read(path, new ImageFolderOptions { Channels = null, Decode = options.Decode, MaxImagesPerClass = null, ModelClasses = modelClasses });
        }
        else if (!File.Exists(path)) throw new FileNotFoundException($"Dataset '{path}' does not exist (expected an image folder, .tar.gz, IDX, CIFAR .bin, .npz, .npy or an image).", path);
        else
        {
            string name = Path.GetFileName(path).ToLowerInvariant();
            if (name.EndsWith(".tar.gz") || name.EndsWith(".tgz") || name.EndsWith(".tar"))
                set = ImageFolderReader.ReadArchive(path, new ImageFolderOptions { Channels = null, Decode = options.Decode, ModelClasses = modelClasses });
            else if (name.EndsWith(".npz")) set = FromNpz(path, notes);
            else if (name.EndsWith(".npy")) { set = FromImageArray(Npy.Read(path), null, path); notes.Add($"'{path}' holds images only: labels are unknown"); }
            else if (name.Contains("idx3") || name.EndsWith(".idx") || name.EndsWith("-ubyte") || name.EndsWith("-ubyte.gz")) set = FromIdx(path, notes);
            else if (name.EndsWith(".bin")) set = Cifar10Reader.ReadBatch(path);
            else if (ImageFolderReader.ImageExtensions.Contains(Path.GetExtension(name))) { set = ReadFiles([path], notes, options, fatal: true); notes.Add("a single image: its label is unknown"); }
            else throw new DataFormatException("is not a dataset AdvVis reads. Use an image folder (DIR/<class>/<image>), a .tar.gz of one, IDX (MNIST), CIFAR-10 .bin, .npz with images and labels, .npy, or an image file.", path);
        }
        if (options.Limit is int limit && set.Count > limit) set = set.Take(limit);
        if (set.Count == 0) throw new DataFormatException($"holds no readable images.{(set.Warnings.Count > 0 ? " " + string.Join(" ", set.Warnings.Take(3)) : "")}", path);

        var names = set.ClassNames;
        if (options.ClassNamesPath is not null && modelClasses is not null) names = modelClasses.Names;
        var images = set.Images.ToArray();
        var warnings = set.Warnings.Concat(notes).ToList();
        for (int i = 0; i < images.Length; i++)
        {
            var im = images[i];
            if (Math.Max(im.Width, im.Height) <= options.MaxSide) continue;
            double f = (double)options.MaxSide / Math.Max(im.Width, im.Height);
            images[i] = im.Resize(Math.Max(1, (int)(im.Width * f)), Math.Max(1, (int)(im.Height * f)));
            warnings.Add($"{set.Sources[i]}: {im.Width}x{im.Height} is larger than {options.MaxSide} px; downscaled to {images[i].Width}x{images[i].Height}.");
        }
        return new LabeledImageSet(images, set.Labels, names, set.Sources, warnings);
    }

    private static LabeledImageSet ReadFiles(string[] files, List<string> notes, DatasetOptions options, bool fatal = false)
    {
        var images = new List<Image>(); var sources = new List<string>(); var warnings = new List<string>();
        foreach (var f in files)
        {
            try { images.Add(ImageDecoder.Decode(f, options.Decode)); sources.Add(f); }
            catch (DataFormatException e) when (!fatal) { warnings.Add($"{f}: {e.Problem} Skipped."); }
        }
        return new LabeledImageSet(images, Enumerable.Repeat(-1, images.Count).ToArray(), [], sources, warnings);
    }

    private static LabeledImageSet FromIdx(string imagesPath, List<string> notes)
    {
        string dir = Path.GetDirectoryName(Path.GetFullPath(imagesPath))!, file = Path.GetFileName(imagesPath);
        var candidates = new[] { file.Replace("images-idx3", "labels-idx1"), file.Replace("images", "labels").Replace("idx3", "idx1") }
            .Where(c => c != file).Select(c => Path.Combine(dir, c)).Distinct();
        var labels = candidates.FirstOrDefault(SafeFiles.IsRegularFile);
        var names = file.Contains("fashion", StringComparison.OrdinalIgnoreCase) ? IdxReader.FashionMnistClassNames : IdxReader.MnistClassNames;
        if (labels is not null) return IdxReader.LoadImagesAndLabels(imagesPath, labels, names);
        notes.Add($"no labels file found beside '{imagesPath}' (looked for {string.Join(", ", candidates.Select(Path.GetFileName))}): labels are unknown");
        return FromImageArray(IdxReader.Read(imagesPath), null, imagesPath);
    }

    private static readonly string[] ImageKeys = ["images", "x", "x_test", "data", "imgs", "arr_0"];
    private static readonly string[] LabelKeys = ["labels", "y", "y_test", "targets", "arr_1"];

    private static LabeledImageSet FromNpz(string path, List<string> notes)
    {
        var arrays = Npz.Read(path);
        var imageKey = ImageKeys.FirstOrDefault(arrays.ContainsKey)
            ?? throw new DataFormatException($"has no images array; expected one of {string.Join(", ", ImageKeys)} (found {string.Join(", ", arrays.Keys)}).", path);
        var labelKey = LabelKeys.FirstOrDefault(arrays.ContainsKey);
        if (labelKey is null) notes.Add($"'{path}' has no labels array ({string.Join(", ", LabelKeys)}): labels are unknown");
        return FromImageArray(arrays[imageKey], labelKey is null ? null : arrays[labelKey], path);
    }

    /// <summary>uint8 or float ([0,1] or [0,255]) images as [N,H,W], [N,H,W,C] or [N,C,H,W] with C = 1 or 3.</summary>
    private static LabeledImageSet FromImageArray(NpyArray images, NpyArray? labels, string source)
    {
        var shape = images.Shape;
        if (shape.Length == 2 && labels is null) shape = [1, .. shape];
        if (shape.Length is not (3 or 4))
            throw new DataFormatException($"Images array must be [N,H,W], [N,H,W,C] or [N,C,H,W], got ({string.Join(", ", images.Shape)}).", source);
        bool channelsFirst = shape.Length == 4 && shape[1] is 1 or 3 && shape[3] is not (1 or 3);
        int n = shape[0];
        int c = shape.Length == 3 ? 1 : channelsFirst ? shape[1] : shape[3];
        int h = channelsFirst ? shape[2] : shape[1], w = channelsFirst ? shape[3] : shape[2];
        if (c is not (1 or 3)) throw new DataFormatException($"Images must have 1 or 3 channels, got {c} ({string.Join(", ", images.Shape)}).", source);
        byte[] bytes;
        if (images.DType == NpyDType.UInt8) bytes = images.ToByteArray();
        else
        {
            var f = images.ToFloatArray();
            float max = f.Length == 0 ? 0 : f.Max(), min = f.Length == 0 ? 0 : f.Min();
            if (!(min >= -1e-3f) || !(max <= 255.001f))
                throw new DataFormatException($"Float images must hold values in [0, 1] or [0, 255]; found [{min}, {max}]. Pass raw pixels, not normalised tensors.", source);
            float scale = max <= 1.0001f ? 255f : 1f;
            bytes = f.Select(v => Image.ClampToByte(v * scale)).ToArray();
        }
        int per = c * h * w;
        var list = new Image[n];
        for (int i = 0; i < n; i++)
        {
            var px = new byte[per];
            if (!channelsFirst) Array.Copy(bytes, i * per, px, 0, per);
            else
                for (int ch = 0; ch < c; ch++)
                    for (int p = 0; p < h * w; p++) px[p * c + ch] = bytes[i * per + ch * h * w + p];
            list[i] = new Image(w, h, c, px);
        }
        int[] lab;
        if (labels is null) lab = Enumerable.Repeat(-1, n).ToArray();
        else
        {
            if (labels.Rank != 1 || labels.Shape[0] != n)
                throw new DataFormatException($"Labels array must be [N] with N = {n}, got ({string.Join(", ", labels.Shape)}).", source);
            lab = labels.ToInt32Array();
        }
        var names = labels is null ? (IReadOnlyList<string>)[] : LabeledImageSet.DefaultClassNames(lab);
        return new LabeledImageSet(list, lab, names, Enumerable.Range(0, n).Select(i => $"{Path.GetFileName(source)}#{i}").ToArray());
    }
}
