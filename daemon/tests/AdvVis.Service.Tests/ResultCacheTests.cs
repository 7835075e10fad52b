// ResultCacheTests: eviction at its bound and the content-hash check, on a real cache folder.
using System.Text.Json;
using AdvVis.Safety;
using AdvVis.Service.Cache;
using AdvVis.Service.JsonRpc;

namespace AdvVis.Service.Tests;

public sealed class ResultCacheTests : IDisposable
{
    private const int BlobBytes = 100 * 1024;
    private static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web);
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "advvis-cache-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly ResultCache _cache = new(RpcLogger.Null);

    private sealed record Result(int Index);

    private static string KeyOf(int i) => ResultCache.Key("test", i.ToString(System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>Stores entry <paramref name="i"/> (one 100 KiB companion file) as last used <paramref name="i"/> minutes after a base time.</summary>
    private void Store(int i)
    {
        var blobs = _cache.Blobs(KeyOf(i));
        blobs.Write(".f32", new byte[BlobBytes]);
        _cache.Put(KeyOf(i), new Result(100 + i), blobs, Options); // three digits: every entry has the same size
        // File times have jiffy resolution: give each entry its own use time, older for lower i, so LRU order is certain.
        var used = DateTime.UtcNow.AddHours(-1).AddMinutes(i);
        foreach (var file in blobs.Files.Append(Path.Combine(_folder, "results", KeyOf(i) + ".json")))
            if (File.Exists(file)) File.SetLastWriteTimeUtc(file, used);
    }

    private int[] Kept(int count) => Enumerable.Range(1, count).Where(i => _cache.TryGet<Result>(KeyOf(i), Options, out var r) && r!.Index == 100 + i).ToArray();

    [Fact]
    public void Ten_entries_of_100_KiB_under_a_900_KiB_bound_keep_the_eight_newest()
    {
        _cache.Configure(_folder, 900 * 1024);
        for (int i = 1; i <= 10; i++) Store(i);
        // Each entry is its 100 KiB file plus a small JSON record, so nine exceed 900 KiB and eight fit: after the 9th and
        // the 10th write the least recently used entry goes, leaving 3..10.
        var (entries, bytes) = _cache.Stats();
        Assert.Equal(8, entries);
        Assert.InRange(bytes, 8L * BlobBytes, 900 * 1024);
        Assert.Equal(Enumerable.Range(3, 8), Kept(10));
        Assert.Equal(8, Directory.GetFiles(Path.Combine(_folder, "blobs")).Length); // no orphaned companion files
    }

    [Fact]
    public void A_bound_of_exactly_nine_entries_keeps_nine()
    {
        _cache.Configure(_folder, long.MaxValue);
        Store(1);
        long entryBytes = _cache.Stats().Bytes;
        _cache.Configure(_folder, 9 * entryBytes);
        for (int i = 2; i <= 10; i++) Store(i);
        Assert.Equal((9, 9 * entryBytes), _cache.Stats());
        Assert.Equal(Enumerable.Range(2, 9), Kept(10));
    }

    [Fact]
    public void An_edited_result_or_companion_file_is_a_miss_and_the_entry_is_removed()
    {
        _cache.Configure(_folder, long.MaxValue);
        Store(1);
        Store(2);
        Assert.Equal([1, 2], Kept(2));

        string entry1 = Path.Combine(_folder, "results", KeyOf(1) + ".json");
        File.WriteAllText(entry1, File.ReadAllText(entry1).Replace("\"index\":101", "\"index\":107", StringComparison.Ordinal));
        Assert.Contains("\"index\":107", File.ReadAllText(entry1));
        Assert.False(_cache.TryGet<Result>(KeyOf(1), Options, out _));
        Assert.False(File.Exists(entry1));

        string blob2 = Assert.Single(Directory.GetFiles(Path.Combine(_folder, "blobs"), KeyOf(2)[..32] + "-*"));
        var bytes = File.ReadAllBytes(blob2);
        bytes[12345] = 1;
        File.WriteAllBytes(blob2, bytes);
        Assert.False(_cache.TryGet<Result>(KeyOf(2), Options, out _));
        Assert.False(File.Exists(blob2));
        Assert.False(File.Exists(Path.Combine(_folder, "results", KeyOf(2) + ".json")));
        Assert.Equal(2, _cache.Misses);
    }

    [Fact]
    public void Entries_whose_files_are_swapped_for_links_are_not_served_and_their_targets_survive()
    {
        if (OperatingSystem.IsWindows()) return;
        _cache.Configure(_folder, long.MaxValue);
        Store(1);
        string outside = Path.Combine(Path.GetTempPath(), "advvis-outside-" + Guid.NewGuid().ToString("N")[..8]);
        File.WriteAllBytes(outside, new byte[BlobBytes]); // the same bytes: only the link gives it away
        try
        {
            string blob = Assert.Single(Directory.GetFiles(Path.Combine(_folder, "blobs")));
            File.Delete(blob);
            File.CreateSymbolicLink(blob, outside);
            Assert.False(_cache.TryGet<Result>(KeyOf(1), Options, out _));
            Assert.True(File.Exists(outside));
            Assert.Equal(FileKind.Missing, FileStatus.OfLink(blob).Kind); // the link was removed, as a link
        }
        finally { File.Delete(outside); }
    }

    private sealed record PathResult(string Path, string? AdversarialPath = null);

    [Fact]
    public void A_planted_entry_with_valid_hashes_that_names_a_file_outside_the_cache_is_not_served()
    {
        _cache.Configure(_folder, long.MaxValue);
        var blobs = _cache.Blobs(KeyOf(1));
        string own = blobs.Write(".f32", new byte[16]);
        _cache.Put(KeyOf(1), new PathResult(own), blobs, Options);
        Assert.True(_cache.TryGet<PathResult>(KeyOf(1), Options, out var served) && served!.Path == own);

        // What a repository can ship in .advvis/cache: an entry whose hashes are right (anyone can compute them), but
        // whose result points the client at a file of the user's.
        foreach (var planted in new[] { new PathResult(own, "/etc/passwd"), new PathResult("/home/someone/.ssh/id_rsa") })
        {
            var result = JsonSerializer.SerializeToElement(planted, Options);
            string sha = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(JsonSerializer.SerializeToUtf8Bytes(result)));
            var stored = JsonSerializer.Deserialize<JsonElement>(File.ReadAllBytes(Path.Combine(_folder, "results", KeyOf(1) + ".json")));
            var entry = new Dictionary<string, object?>
            {
                ["files"] = stored.GetProperty("files"), ["fileSha256"] = stored.GetProperty("fileSha256"), ["result"] = result, ["resultSha256"] = sha,
            };
            Directory.CreateDirectory(Path.Combine(_folder, "results"));
            File.WriteAllBytes(Path.Combine(_folder, "results", KeyOf(2) + ".json"), JsonSerializer.SerializeToUtf8Bytes(entry, Options));
            Assert.False(_cache.TryGet<PathResult>(KeyOf(2), Options, out _));
            Assert.False(File.Exists(Path.Combine(_folder, "results", KeyOf(2) + ".json")));
        }
    }

    public void Dispose()
    {
        try { SafeFiles.DeleteWithoutFollowingLinks(_folder); } catch (IOException) { }
    }
}
