// ImageFolderReader: the "one sub-folder per class" layout (torchvision's ImageFolder), from a directory
// tree or a .tar/.tar.gz of one. Folder names become the model's class indices (MapClassFolders: by the model's
// labels file, else by numeric name, else in sorted order with a warning saying so); an unreadable image is
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

    /// <summary>The model's classes (its labels file), so folders named after them get the model's indices.</summary>
    public ClassLabels? ModelClasses { get; init; }
}

/// <summary>Which model class each class folder stands for (<see cref="ImageFolderReader.MapClassFolders"/>).</summary>
/// <param name="Labels">Per folder (in the order given), its class index.</param>
/// <param name="ClassNames">Names by class index (the model's when known).</param>
/// <param name="Warning">Set when the folders could not be matched to the model's classes, saying how they were numbered.</param>
public sealed record ClassFolderMapping(int[] Labels, string[] ClassNames, string? Warning);

/// <summary>Reads class-per-folder image datasets.</summary>
public static class ImageFolderReader
{
    /// <summary>File extensions treated as images (compared case-insensitively); other files are ignored.</summary>
    public static readonly IReadOnlySet<string> ImageExtensions =
        new HashSet<string>([".png", ".jpg", ".jpeg", ".jpe", ".jfif", ".bmp", ".ppm", ".pgm", ".pbm", ".pnm"], StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// Which model class each folder name stands for, the one rule every dataset reader uses: (1) with the model's
    /// labels, every folder matches one class by WordNet id, name or synonym (case and '_' for ' ' ignored) or by its
    /// index; (2) otherwise, when every name is a number (and, with labels, a valid index), the number is the class;
    /// (3) otherwise the sorted names are numbered 0, 1, … and the warning says so, since those numbers need not be
    /// the model's. So a digits folder set without "8" still gives "9" class 9.
    /// </summary>
    public static ClassFolderMapping MapClassFolders(IReadOnlyList<string> folderNames, ClassLabels? modelClasses = null)
    {
        var numbers = folderNames.Select(ClassNumber).ToArray();
        if (modelClasses is not null)
        {
            var byName = folderNames.Select((name, i) => numbers[i] is int n && n < modelClasses.Count ? n : ModelClassNamed(name, modelClasses)).ToArray();
            if (byName.All(c => c >= 0) && byName.Distinct().Count() == byName.Length)
                return new ClassFolderMapping(byName, [.. modelClasses.Names], null);
        }
        if (numbers.All(n => n is not null) && numbers.Distinct().Count() == numbers.Length
            && (modelClasses is null || numbers.All(n => n < modelClasses.Count)))
        {
            int count = Math.Max(numbers.Max()!.Value + 1, modelClasses?.Count ?? 0);
            var names = Enumerable.Range(0, count).Select(c => modelClasses is not null && c < modelClasses.Count ? modelClasses.Names[c]
                : c.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();
            return new ClassFolderMapping(numbers.Select(n => n!.Value).ToArray(), names, null);
        }
        var sorted = folderNames.Select((name, i) => (name, i)).OrderBy(p => p.name, StringComparer.Ordinal).ToList();
        var labels = new int[folderNames.Count];
        for (int rank = 0; rank < sorted.Count; rank++) labels[sorted[rank].i] = rank;
        string shown = string.Join(", ", sorted.Take(6).Select((p, rank) => $"'{p.name}' = {rank}")) + (sorted.Count > 6 ? ", …" : "");
        string why = modelClasses is null
            ? "the model has no labels file and the folder names are not all class numbers"
            : $"not every folder name matches one of the model's {modelClasses.Count} class names or numbers";
        return new ClassFolderMapping(labels, sorted.Select(p => p.name).ToArray(),
            $"Class folders are numbered in sorted order ({shown}) because {why}; these numbers may not be the model's classes. " +
            "Name each folder by its class number (0, 1, …) or by the class names in the model's labels file.");
    }

    private static int? ClassNumber(string name) =>
        int.TryParse(name, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int n) ? n : null;

    private static int ModelClassNamed(string folder, ClassLabels classes)
    {
        static string Key(string s) => s.Trim().Replace('_', ' ').ToLowerInvariant();
        string key = Key(folder);
        if (classes.Ids is { } ids)
            for (int c = 0; c < ids.Count; c++)
                if (string.Equals(ids[c], folder, StringComparison.OrdinalIgnoreCase)) return c;
        int found = -1;
        for (int c = 0; c < classes.Count; c++)
            if (Key(classes.Names[c]) == key || classes.Names[c].Split(',').Any(synonym => Key(synonym) == key))
            {
                if (found >= 0) return -1; // ambiguous: two classes share the name
                found = c;
            }
        return found;
    }

    /// <summary>Reads root/&lt;class&gt;/&lt;image&gt;; each folder's class index is given by <see cref="MapClassFolders"/>.</summary>
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
        var folderNames = classDirectories.Select(d => Path.GetFileName(d)!).ToArray();
        var mapping = MapClassFolders(folderNames, options.ModelClasses);
        if (mapping.Warning is not null) warnings.Add(mapping.Warning);
        for (int folder = 0; folder < classDirectories.Length; folder++)
        {
            int label = mapping.Labels[folder];
            var files = Directory.GetFiles(classDirectories[folder])
                .Where(f => !Path.GetFileName(f).StartsWith('.') && ImageExtensions.Contains(Path.GetExtension(f)))
                .OrderBy(f => Path.GetFileName(f), StringComparer.Ordinal);
            IEnumerable<string> selected = options.MaxImagesPerClass is int max ? files.Take(max) : files;
            foreach (string file in selected)
                items.Add((file, label, () => SafeFiles.ReadAllBytes(file, "Image file")));
        }
        return Decode(items, mapping.ClassNames, folderNames, mapping.Labels, warnings, options);
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

        var folderNames = members.Select(m => m.ClassName).Distinct().OrderBy(n => n, StringComparer.Ordinal).ToArray();
        var mapping = MapClassFolders(folderNames, options.ModelClasses);
        var labelOf = folderNames.Select((name, index) => (name, index)).ToDictionary(p => p.name, p => mapping.Labels[p.index], StringComparer.Ordinal);
        var items = new List<(string Path, int Label, Func<byte[]> Read)>();
        foreach (var group in members.GroupBy(m => m.ClassName).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var ordered = group.OrderBy(m => m.Name, StringComparer.Ordinal);
            IEnumerable<(string Name, string ClassName, byte[] Data)> selected = options.MaxImagesPerClass is int max ? ordered.Take(max) : ordered;
            foreach (var member in selected)
            {
                byte[] data = member.Data;
                items.Add(($"{archivePath}:{member.Name}", labelOf[group.Key], () => data));
            }
        }
        return Decode(items, mapping.ClassNames, folderNames, mapping.Labels, mapping.Warning is null ? [] : [mapping.Warning], options);
    }

    private static LabeledImageSet Decode(List<(string Path, int Label, Func<byte[]> Read)> items, string[] classNames,
        string[] folderNames, int[] folderLabels, List<string> warnings, ImageFolderOptions options)
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
        for (int folder = 0; folder < folderNames.Length; folder++)
            if (perClass[folderLabels[folder]] == 0)
                warnings.Add($"Class folder '{folderNames[folder]}' has no readable images.");
        return new LabeledImageSet(images, labels, classNames, sources, warnings);
    }
}
