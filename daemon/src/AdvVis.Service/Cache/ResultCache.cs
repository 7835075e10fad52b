// ResultCache: results of expensive methods on disk under the workspace (.advvis/cache/), keyed by SHA-256 of the
// method, the model's content hash, the content hashes of the input files and the params. Every file is written to a
// temporary name and renamed into place, so a reader (or a crash, or a cancelled request) never sees half a file; an
// entry lists its companion files (large arrays, PNGs, adversarial tensors) and counts as a miss if any is gone, so the
// folder is safe to delete at any time. The folder is bounded: after each write the least recently used files are
// removed until it fits.
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
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
    public string? Directory { get; private set; }

    public long MaxBytes { get; private set; } = Daemon.ServiceState.DefaultCacheMaxBytes;

    public long Hits => Interlocked.Read(ref _hits);

    public long Misses => Interlocked.Read(ref _misses);

    public void Configure(string? directory, long maxBytes)
    {
        Directory = directory;
        MaxBytes = maxBytes;
    }

    /// <summary>A cache key: SHA-256 over the method and the given parts (each length-prefixed, so parts cannot run together).</summary>
    public static string Key(string method, params string[] parts)
    {
        var text = new StringBuilder(method).Append('\n');
        foreach (var part in parts) text.Append(part.Length).Append(':').Append(part).Append('\n');
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
    }

    /// <summary>A new writer for the companion files of the entry <paramref name="key"/> (or of a non-cached result).</summary>
    public BlobWriter Blobs(string key) => new(Directory is null ? null : Path.Combine(Directory, BlobsFolder), key);

    public bool TryGet<T>(string key, JsonSerializerOptions options, out T? result)
    {
        result = default;
        if (Directory is null) return false;
        string path = Path.Combine(Directory, ResultsFolder, key + ".json");
        try
        {
            if (!File.Exists(path)) { Interlocked.Increment(ref _misses); return false; }
            var entry = JsonSerializer.Deserialize<Entry>(File.ReadAllBytes(path), options);
            if (entry?.Result is null || entry.Files.Any(f => !File.Exists(Path.Combine(Directory, BlobsFolder, Path.GetFileName(f)))))
            {
                Interlocked.Increment(ref _misses);
                return false;
            }
            result = entry.Result.Value.Deserialize<T>(options);
            var now = DateTime.UtcNow;
            TryTouch(path, now);
            foreach (var f in entry.Files) TryTouch(Path.Combine(Directory, BlobsFolder, Path.GetFileName(f)), now);
            Interlocked.Increment(ref _hits);
            return result is not null;
        }
        catch (Exception e) when (e is IOException or JsonException or UnauthorizedAccessException or NotSupportedException)
        {
            _logger.Warning($"Cache entry {key} is unreadable ({e.Message}); recomputing.");
            Interlocked.Increment(ref _misses);
            return false;
        }
    }

    /// <summary>Stores a result whose companion files <paramref name="blobs"/> are already written. Failures are logged, never thrown.</summary>
    public void Put<T>(string key, T result, BlobWriter blobs, JsonSerializerOptions options)
    {
        if (Directory is null) return;
        try
        {
            var entry = new Entry(blobs.Files.Select(Path.GetFileName).ToArray()!, JsonSerializer.SerializeToElement(result, options));
            WriteAtomically(Path.Combine(Directory, ResultsFolder, key + ".json"), JsonSerializer.SerializeToUtf8Bytes(entry, options));
            Evict();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _logger.Warning($"Could not write cache entry {key}: {e.Message}");
        }
    }

    public (int Entries, long Bytes) Stats()
    {
        if (Directory is null || !System.IO.Directory.Exists(Directory)) return (0, 0);
        var files = new DirectoryInfo(Directory).EnumerateFiles("*", SearchOption.AllDirectories).ToList();
        return (files.Count(f => f.Directory?.Name == ResultsFolder && f.Extension == ".json"), files.Sum(f => f.Length));
    }

    public (int Entries, long Bytes) Clear()
    {
        if (Directory is null) return (0, 0);
        lock (_evictGate)
        {
            var stats = Stats();
            foreach (var sub in new[] { ResultsFolder, BlobsFolder })
            {
                string folder = Path.Combine(Directory, sub);
                if (System.IO.Directory.Exists(folder)) System.IO.Directory.Delete(folder, recursive: true);
            }
            return stats;
        }
    }

    /// <summary>Removes least recently used files until the folder fits <see cref="MaxBytes"/>.</summary>
    public void Evict()
    {
        if (Directory is null || !System.IO.Directory.Exists(Directory)) return;
        lock (_evictGate)
        {
            var files = new DirectoryInfo(Directory).EnumerateFiles("*", SearchOption.AllDirectories)
                .Where(f => !f.Name.Contains(".tmp-", StringComparison.Ordinal)).ToList();
            long total = files.Sum(f => f.Length);
            if (total <= MaxBytes) return;
            foreach (var file in files.OrderBy(f => f.LastWriteTimeUtc))
            {
                if (total <= MaxBytes) break;
                try { file.Delete(); total -= file.Length; }
                catch (IOException) { }
            }
        }
    }

    /// <summary>Writes <paramref name="bytes"/> to a temporary file beside <paramref name="path"/> and renames it into place.</summary>
    public static void WriteAtomically(string path, ReadOnlySpan<byte> bytes)
    {
        System.IO.Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        string temp = path + ".tmp-" + Guid.NewGuid().ToString("N");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                stream.Write(bytes);
                stream.Flush(flushToDisk: false);
            }
            File.Move(temp, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }

    private static void TryTouch(string path, DateTime now)
    {
        try { File.SetLastWriteTimeUtc(path, now); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    private sealed record Entry(string[] Files, JsonElement? Result);
}

/// <summary>Writes an entry's companion files into the cache's blobs folder (or nowhere when there is no cache).</summary>
public sealed class BlobWriter(string? folder, string key)
{
    private readonly List<string> _files = [];
    private int _next;

    /// <summary>False when there is no cache folder: callers must inline everything.</summary>
    public bool CanWrite => folder is not null;

    public IReadOnlyList<string> Files { get { lock (_files) return _files.ToList(); } }

    /// <summary>Writes one file named after the key and returns its absolute path.</summary>
    public string Write(string extension, ReadOnlySpan<byte> bytes)
    {
        if (folder is null) throw new InvalidOperationException("no cache folder");
        string path = Path.Combine(folder, $"{key[..Math.Min(32, key.Length)]}-{Interlocked.Increment(ref _next)}{extension}");
        ResultCache.WriteAtomically(path, bytes);
        lock (_files) _files.Add(path);
        return path;
    }
}
