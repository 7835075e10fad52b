// ImageFolderReader: the "one sub-folder per class" layout (torchvision's ImageFolder), from a directory
// tree or a .tar/.tar.gz of one. Class names are the sorted folder names; an unreadable image is
// reported in Warnings and skipped, so one bad file doesn't cost the whole dataset.

using System.Formats.Tar;
using System.IO.Compression;
using AdvVis.Safety;

namespace AdvVis.Data;

/// <summary>Options for <see cref="ImageFolderReader"/>.</summary>
public sealed record ImageFolderOptions
{
    /// <summary>Convert every image to this many channels (1 or 3); null keeps what each file holds.</summary>
    public int? Channels { get; init; } = 3;

    /// <summary>Read at most this many images per class (in sorted order); null for all.</summary>
    public int? MaxImagesPerClass { get; init; }

    public ImageDecodeOptions Decode { get; init; } = ImageDecodeOptions.Default;
}

/// <summary>Reads class-per-folder image datasets.</summary>
public static class ImageFolderReader
{
    /// <summary>File extensions treated as images (compared case-insensitively); other files are ignored.</summary>
    public static readonly IReadOnlySet<string> ImageExtensions =
        new HashSet<string>([".png", ".jpg", ".jpeg", ".jpe", ".jfif", ".bmp", ".ppm", ".pgm", ".pbm", ".pnm"], StringComparer.OrdinalIgnoreCase);

    /// <summary>Reads root/&lt;class&gt;/&lt;image&gt; with classes in ordinal name order (label = index).</summary>
    public static LabeledImageSet Read(string root, ImageFolderOptions? options = null)
    {
        options ??= new ImageFolderOptions();
        if (!Directory.Exists(root))
            throw new DirectoryNotFoundException($"Image folder '{root}' does not exist.");
        string[] classDirectories = Directory.GetDirectories(root)
            .Where(d => !Path.GetFileName(d).StartsWith('.'))
            .OrderBy(d => Path.GetFileName(d), StringComparer.Ordinal)
            .ToArray();
        if (classDirectories.Length == 0)
            throw new DataFormatException(
                "contains no class sub-folders. Expected root/<class name>/<image files>, e.g. root/cat/001.jpg.", root);

        var items = new List<(string Path, int Label, Func<byte[]> Read)>();
        var warnings = new List<string>();
        var classNames = classDirectories.Select(Path.GetFileName).ToArray();
        for (int label = 0; label < classDirectories.Length; label++)
        {
            var files = Directory.GetFiles(classDirectories[label])
                .Where(f => !Path.GetFileName(f).StartsWith('.') && ImageExtensions.Contains(Path.GetExtension(f)))
                .OrderBy(f => Path.GetFileName(f), StringComparer.Ordinal);
            IEnumerable<string> selected = options.MaxImagesPerClass is int max ? files.Take(max) : files;
            foreach (string file in selected)
                items.Add((file, label, () => SafeFiles.ReadAllBytes(file, "Image file")));
        }
        return Decode(items, classNames!, warnings, options);
    }

    /// <summary>
    /// Reads a .tar or .tar.gz whose members are .../&lt;class&gt;/&lt;image&gt; (e.g. test/cat/0001.jpg); the class is
    /// each image's parent folder name.
    /// </summary>
    public static LabeledImageSet ReadArchive(string archivePath, ImageFolderOptions? options = null)
    {
        options ??= new ImageFolderOptions();
        var members = new List<(string Name, string ClassName, byte[] Data)>();
        using (var file = SafeFiles.OpenRead(archivePath, "Dataset archive"))
        {
            Span<byte> magic = stackalloc byte[2];
            int got = file.Read(magic);
            file.Position = 0;
            Stream stream = got == 2 && magic[0] == 0x1F && magic[1] == 0x8B ? new GZipStream(file, CompressionMode.Decompress) : file;
            try
            {
                using var reader = new TarReader(stream);
                while (reader.GetNextEntry() is { } entry)
                {
                    if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile)) continue;
                    string[] parts = entry.Name.Replace('\\', '/').Split('/', StringSplitOptions.RemoveEmptyEntries);
                    if (parts.Length < 2 || parts[^1].StartsWith('.') || !ImageExtensions.Contains(Path.GetExtension(parts[^1]))) continue;
                    if (entry.Length > int.MaxValue) continue;
                    var data = new byte[entry.Length];
                    entry.DataStream?.ReadExactly(data);
                    members.Add((entry.Name, parts[^2], data));
                }
            }
            catch (Exception e) when (e is InvalidDataException or FormatException or IOException)
            {
                throw new DataFormatException($"is not a readable tar archive ({e.Message}). Re-download it or extract it and read the folder.", archivePath, e);
            }
            finally
            {
                if (!ReferenceEquals(stream, file)) stream.Dispose();
            }
        }
        if (members.Count == 0)
            throw new DataFormatException("contains no images inside class folders (expected <class>/<image> members).", archivePath);

        var classNames = members.Select(m => m.ClassName).Distinct().OrderBy(n => n, StringComparer.Ordinal).ToArray();
        var labelOf = classNames.Select((name, index) => (name, index)).ToDictionary(p => p.name, p => p.index, StringComparer.Ordinal);
        var items = new List<(string Path, int Label, Func<byte[]> Read)>();
        foreach (var group in members.GroupBy(m => m.ClassName).OrderBy(g => labelOf[g.Key]))
        {
            var ordered = group.OrderBy(m => m.Name, StringComparer.Ordinal);
            IEnumerable<(string Name, string ClassName, byte[] Data)> selected = options.MaxImagesPerClass is int max ? ordered.Take(max) : ordered;
            foreach (var member in selected)
            {
                byte[] data = member.Data;
                items.Add(($"{archivePath}:{member.Name}", labelOf[group.Key], () => data));
            }
        }
        return Decode(items, classNames, [], options);
    }

    private static LabeledImageSet Decode(List<(string Path, int Label, Func<byte[]> Read)> items, string[] classNames,
        List<string> warnings, ImageFolderOptions options)
    {
        var images = new List<Image>(items.Count);
        var labels = new List<int>(items.Count);
        var sources = new List<string>(items.Count);
        var perClass = new int[classNames.Length];
        foreach (var (path, label, read) in items)
        {
            try
            {
                var image = ImageDecoder.Decode(read(), options.Decode);
                if (options.Channels is int channels) image = image.ToChannels(channels);
                images.Add(image);
                labels.Add(label);
                sources.Add(path);
                perClass[label]++;
            }
            catch (DataFormatException e)
            {
                warnings.Add($"{path}: {e.Problem} Skipped.");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                warnings.Add($"{path}: could not be read ({e.Message}). Skipped.");
            }
        }
        for (int i = 0; i < classNames.Length; i++)
            if (perClass[i] == 0)
                warnings.Add($"Class '{classNames[i]}' has no readable images.");
        return new LabeledImageSet(images, labels, classNames, sources, warnings);
    }
}
