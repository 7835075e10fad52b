// ResultCache: results of expensive methods on disk under the workspace (.advvis/cache/), keyed by SHA-256 of the
// method, the model's content hash, the content hashes of the input files and the params. Every file is written to a
// temporary name and renamed into place, so a reader (or a crash, or a cancelled request) never sees half a file; an
// entry lists its companion files (large arrays, PNGs, adversarial tensors) with their SHA-256, and carries the SHA-256
// of its result: a missing or edited file makes the entry a miss, and the entry is removed. The folder is safe to delete
// at any time, and bounded: after each write the least recently used entries (an entry with its companion files) are
// removed until it fits. All file access goes through a ConfinedFolder: the cache must be a real folder the user owns,
// nothing is written through a link, and deleting never follows one.
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using AdvVis.Safety;
using AdvVis.Service.JsonRpc;

namespace AdvVis.Service.Cache;

public sealed class ResultCache
{
    private const string ResultsFolder = "results";
    private const string BlobsFolder = "blobs";
    private readonly object _evictGate = new();
    private readonly RpcLogger _logger;
    private long _hits, _misses;

    public ResultCache(RpcLogger logger) => _logger = logger;

    /// <summary>The cache folder; null means no disk cache (results computed every time, arrays inline).</summary>
    public ConfinedFolder? Folder { get; private set; }

    /// <summary>The cache folder's path as configured.</summary>
    public string? Directory => Folder?.Path;

    public long MaxBytes { get; private set; } = Daemon.ServiceState.DefaultCacheMaxBytes;

    public long Hits => Interlocked.Read(ref _hits);

    public long Misses => Interlocked.Read(ref _misses);

    public void Configure(ConfinedFolder? folder, long maxBytes)
    {
        Folder = folder;
        MaxBytes = maxBytes;
    }

    /// <summary>Configures <paramref name="directory"/> checked on its own (no workspace root): refused when it is a link or not yours.</summary>
    public void Configure(string? directory, long maxBytes) =>
        Configure(directory is null ? null : ConfinedFolder.Open(directory, "cache folder", anchor: null), maxBytes);

    /// <summary>A cache key: SHA-256 over the method and the given parts (each length-prefixed, so parts cannot run together).</summary>
    public static string Key(string method, params string[] parts)
    {
        var text = new StringBuilder(method).Append('\n');
        foreach (var part in parts) text.Append(part.Length).Append(':').Append(part).Append('\n');
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
    }

    /// <summary>A new writer for the companion files of the entry <paramref name="key"/> (or of a non-cached result).</summary>
    public BlobWriter Blobs(string key) => new(Folder, key);

    public bool TryGet<T>(string key, JsonSerializerOptions options, out T? result)
    {
        result = default;
        if (Folder is not { } folder) return false;
        string path = Path.Combine(folder.Path, ResultsFolder, key + ".json");
        try
        {
            folder.Verify();
            if (FileStatus.OfLink(path).Kind == FileKind.Missing) { Interlocked.Increment(ref _misses); return false; }
            var entry = JsonSerializer.Deserialize<Entry>(SafeFiles.ReadAllBytes(path, "Cache entry"), options);
            if (Damage(folder, entry) is { } damage)
            {
                _logger.Warning($"Cache entry {key[..16]} {damage}; removing it and recomputing.");
                Remove(folder, key, entry);
                Interlocked.Increment(ref _misses);
                return false;
            }
            result = entry!.Result!.Value.Deserialize<T>(options);
            var now = DateTime.UtcNow;
            TryTouch(path, now);
            foreach (var f in entry.Files) TryTouch(Path.Combine(folder.Path, BlobsFolder, f), now);
            Interlocked.Increment(ref _hits);
            return result is not null;
        }
        catch (Exception e) when (e is IOException or JsonException or UnauthorizedAccessException or NotSupportedException)
        {
            _logger.Warning($"Cache entry {key[..16]} is unreadable ({e.Message}); recomputing.");
            if (e is JsonException) Remove(folder, key, null);
            Interlocked.Increment(ref _misses);
            return false;
        }
    }

    /// <summary>Stores a result whose companion files <paramref name="blobs"/> are already written. Failures are logged, never thrown.</summary>
    public void Put<T>(string key, T result, BlobWriter blobs, JsonSerializerOptions options)
    {
        if (Folder is not { } folder) return;
        try
        {
            var element = JsonSerializer.SerializeToElement(result, options);
            var written = blobs.Written;
            var entry = new Entry(written.Select(w => Path.GetFileName(w.Path)).ToArray(), written.Select(w => w.Sha256).ToArray(), element, Hash(element));
            folder.WriteAtomically(Path.Combine(ResultsFolder, key + ".json"), JsonSerializer.SerializeToUtf8Bytes(entry, options));
            Evict();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _logger.Warning($"Could not write cache entry {key[..16]}: {e.Message}");
        }
    }

    public (int Entries, long Bytes) Stats()
    {
        if (Folder is not { } folder) return (0, 0);
        var files = folder.Files().ToList();
        return (files.Count(f => IsEntryFile(folder, f.Path) && f.Status.Kind == FileKind.Regular), files.Sum(f => f.Status.Kind == FileKind.Regular ? f.Status.Length : 0));
    }

    /// <summary>Removes every entry and companion file; links in the cache are removed as links, their targets untouched.</summary>
    public (int Entries, long Bytes) Clear()
    {
        if (Folder is not { } folder) return (0, 0);
        lock (_evictGate)
        {
            var stats = Stats();
            folder.Delete(ResultsFolder);
            folder.Delete(BlobsFolder);
            return stats;
        }
    }

    /// <summary>
    /// Removes least recently used entries, each with its companion files, until the folder fits <see cref="MaxBytes"/>.
    /// An entry's files share the first 32 hex digits of its key, and its time is the newest of their write times (a
    /// hit touches them all). Files in flight (temporary names) are neither counted nor removed; links are not counted.
    /// </summary>
    public void Evict()
    {
        if (Folder is not { } folder) return;
        lock (_evictGate)
        {
            var units = folder.Files()
                .Where(f => f.Status.Kind == FileKind.Regular && !Path.GetFileName(f.Path).Contains(".tmp-", StringComparison.Ordinal))
                .GroupBy(f => UnitOf(f.Path))
                .Select(g => (Files: g.Select(f => f.Path).ToList(), Bytes: g.Sum(f => f.Status.Length), Used: g.Max(f => f.Status.LastWriteUtc)))
                .ToList();
            long total = units.Sum(u => u.Bytes);
            foreach (var unit in units.OrderBy(u => u.Used).ThenBy(u => u.Files[0], StringComparer.Ordinal))
            {
                if (total <= MaxBytes) break;
                try
                {
                    foreach (var file in unit.Files) folder.DeleteFile(file);
                    total -= unit.Bytes;
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    _logger.Warning($"Could not evict cache files {string.Join(", ", unit.Files.Select(Path.GetFileName))}: {e.Message}");
                }
            }
        }
    }

    /// <summary>What is wrong with an entry (null when it is whole): the result's hash, a companion file missing or edited.</summary>
    private static string? Damage(ConfinedFolder folder, Entry? entry)
    {
        if (entry?.Result is not { } result || entry.ResultSha256 is null || entry.FileSha256 is null || entry.FileSha256.Length != entry.Files.Length)
            return "has no content hashes (written by an older AdvVis, or edited)";
        if (!Hash(result).Equals(entry.ResultSha256, StringComparison.Ordinal)) return "does not match its content hash (edited on disk?)";
        var blobs = entry.Files.Select(f => Path.Combine(folder.Path, BlobsFolder, Path.GetFileName(f))).ToHashSet(StringComparer.Ordinal);
        if (PathsIn(result).FirstOrDefault(p => !blobs.Contains(p)) is { } stray)
            return $"names the file '{stray}', which is not one of its own files in the cache";
        for (int i = 0; i < entry.Files.Length; i++)
        {
            string blob = Path.Combine(folder.Path, BlobsFolder, Path.GetFileName(entry.Files[i]));
            if (FileStatus.OfLink(blob).Kind != FileKind.Regular) return $"lost its file {Path.GetFileName(blob)}";
            if (!Convert.ToHexStringLower(SHA256.HashData(SafeFiles.ReadAllBytes(blob, "Cache file"))).Equals(entry.FileSha256[i], StringComparison.Ordinal))
                return $"has a file {Path.GetFileName(blob)} that does not match its content hash (edited on disk?)";
        }
        return null;
    }

    /// <summary>
    /// Every string member named "path" or "...Path" in a stored result. A result may name only its own companion files:
    /// an entry that a repository shipped in its .advvis/cache (its hashes are easy to recompute) must not make the
    /// client open a file elsewhere.
    /// </summary>
    private static IEnumerable<string> PathsIn(JsonElement element)
    {
        if (element.ValueKind == JsonValueKind.Array)
            foreach (var item in element.EnumerateArray()) foreach (var p in PathsIn(item)) yield return p;
        if (element.ValueKind != JsonValueKind.Object) yield break;
        foreach (var member in element.EnumerateObject())
        {
            if (member.Value.ValueKind == JsonValueKind.String
                && (member.Name.Equals("path", StringComparison.OrdinalIgnoreCase) || member.Name.EndsWith("Path", StringComparison.Ordinal)))
                yield return member.Value.GetString()!;
            foreach (var p in PathsIn(member.Value)) yield return p;
        }
    }

    private void Remove(ConfinedFolder folder, string key, Entry? entry)
    {
        try
        {
            lock (_evictGate)
            {
                folder.DeleteFile(Path.Combine(ResultsFolder, key + ".json"));
                foreach (var f in entry?.Files ?? []) folder.DeleteFile(Path.Combine(BlobsFolder, Path.GetFileName(f)));
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _logger.Warning($"Could not remove cache entry {key[..16]}: {e.Message}");
        }
    }

    /// <summary>SHA-256 of the result as the serializer writes it (the same bytes for the same content, whatever the file's whitespace).</summary>
    private static string Hash(JsonElement result) => Convert.ToHexStringLower(SHA256.HashData(JsonSerializer.SerializeToUtf8Bytes(result)));

    private static bool IsEntryFile(ConfinedFolder folder, string path) =>
        Path.GetExtension(path) == ".json" && Path.GetFileName(Path.GetDirectoryName(path)) == ResultsFolder
        && Path.GetDirectoryName(Path.GetDirectoryName(path)) == folder.Path;

    /// <summary>The entry a file belongs to: results/KEY.json and blobs/KEY32-n.ext share KEY's first 32 hex digits.</summary>
    private static string UnitOf(string path)
    {
        string name = Path.GetFileName(path);
        int dash = name.IndexOf('-');
        string stem = dash > 0 ? name[..dash] : Path.GetFileNameWithoutExtension(name);
        return stem.Length >= 32 ? stem[..32] : path;
    }

    private static void TryTouch(string path, DateTime now)
    {
        try { File.SetLastWriteTimeUtc(path, now); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    private sealed record Entry(string[] Files, string[]? FileSha256, JsonElement? Result, string? ResultSha256);
}

/// <summary>Writes an entry's companion files into the cache's blobs folder (or nowhere when there is no cache).</summary>
public sealed class BlobWriter(ConfinedFolder? folder, string key)
{
    private readonly List<(string Path, string Sha256)> _written = [];
    private int _next;

    /// <summary>False when there is no cache folder: callers must inline everything.</summary>
    public bool CanWrite => folder is not null;

    public IReadOnlyList<string> Files { get { lock (_written) return _written.Select(w => w.Path).ToList(); } }

    /// <summary>The files written, with the SHA-256 of the bytes written (checked when the entry is read back).</summary>
    public IReadOnlyList<(string Path, string Sha256)> Written { get { lock (_written) return _written.ToList(); } }

    /// <summary>Writes one file named after the key and returns its absolute path.</summary>
    public string Write(string extension, ReadOnlySpan<byte> bytes)
    {
        if (folder is null) throw new InvalidOperationException("no cache folder");
        string name = $"{key[..Math.Min(32, key.Length)]}-{Interlocked.Increment(ref _next)}{extension}";
        string path = folder.WriteAtomically(Path.Combine("blobs", name), bytes);
        string sha = Convert.ToHexStringLower(SHA256.HashData(bytes));
        lock (_written) _written.Add((path, sha));
        return path;
    }
}
