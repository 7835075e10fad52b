// Npz: NumPy .npz archives (numpy.savez / savez_compressed): a ZIP of .npy members, stored or deflated.
// Reading returns the arrays by name (member name without ".npy"); writing produces files numpy loads.

using System.IO.Compression;
using AdvVis.Safety;

namespace AdvVis.Data;

/// <summary>NumPy .npz reader and writer.</summary>
public static class Npz
{
    /// <summary>Reads every array; keys are member names without the .npy suffix, in archive order.</summary>
    public static IReadOnlyDictionary<string, NpyArray> Read(string path)
    {
        using var file = SafeFiles.OpenRead(path, "Array archive");
        try
        {
            return Read(file);
        }
        catch (DataFormatException e)
        {
            throw e.WithFile(path);
        }
        catch (MemoryBudgetExceededException e)
        {
            throw e.Within($"'{path}'");
        }
    }

    public static IReadOnlyDictionary<string, NpyArray> Read(Stream stream)
    {
        var result = new Dictionary<string, NpyArray>(StringComparer.Ordinal);
        try
        {
            using var archive = new ZipArchive(stream, ZipArchiveMode.Read, leaveOpen: true);
            CheckDeclaredSizes(archive);
            foreach (var entry in archive.Entries)
            {
                if (entry.FullName.EndsWith('/')) continue; // directory entry
                string name = entry.FullName.EndsWith(".npy", StringComparison.Ordinal) ? entry.FullName[..^4] : entry.FullName;
                if (entry.Length > Array.MaxLength)
                    throw new DataFormatException($".npz member '{entry.FullName}' is too large ({entry.Length} bytes) to load.");
                // The size in the ZIP header is untrusted: deflate expands at most ~1032:1, so a larger claim is corruption
                // and must not drive a huge allocation.
                if (entry.Length > entry.CompressedLength * 1032 + 4096)
                    throw new DataFormatException(
                        $".npz member '{entry.FullName}' claims {entry.Length} bytes from {entry.CompressedLength} compressed; the archive is corrupt. Re-save or re-download it.");
                using var member = entry.Open();
                var buffer = new byte[entry.Length];
                int read = member.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
                if (read < buffer.Length)
                    throw new DataFormatException($".npz member '{entry.FullName}' is truncated ({read} of {buffer.Length} bytes). Re-save or re-download the file.");
                try
                {
                    result[name] = Npy.Parse(buffer);
                }
                catch (DataFormatException e)
                {
                    throw new DataFormatException($"member '{entry.FullName}': {e.Problem}", null, e);
                }
            }
        }
        catch (Exception e) when (e is InvalidDataException or IOException) // corrupt deflate data can surface as ZLibException (an IOException)
        {
            throw new DataFormatException($"Not a readable .npz (ZIP) archive: {e.Message}. Re-save it with numpy.savez.", null, e);
        }
        return result;
    }

    /// <summary>
    /// Before anything is inflated: the archive's directory declares every member's size, and loading holds all of
    /// them (each member also briefly twice more: its inflated bytes and the parsed copy), so the declared total must
    /// fit the memory budget. A member inflates to at most its declared size, so the claim cannot be exceeded later.
    /// </summary>
    private static void CheckDeclaredSizes(ZipArchive archive)
    {
        long total = 0, largest = 0;
        int members = 0;
        foreach (var entry in archive.Entries)
        {
            if (entry.FullName.EndsWith('/')) continue;
            members++;
            total = entry.Length > long.MaxValue - total ? long.MaxValue : total + entry.Length;
            largest = Math.Max(largest, entry.Length);
        }
        long peak = MemoryBudget.SaturatingBytes(2, largest) is var twice && twice > long.MaxValue - total ? long.MaxValue : total + twice;
        MemoryBudget.Check(peak, $"loading the {members} .npz member(s) ({MemoryBudget.Format(total)} uncompressed, as the archive declares)");
    }

    /// <summary>Writes arrays like numpy.savez (or savez_compressed when <paramref name="compress"/>).</summary>
    public static void Write(string path, IEnumerable<KeyValuePair<string, NpyArray>> arrays, bool compress = true)
    {
        using var file = File.Create(path);
        Write(file, arrays, compress);
    }

    public static void Write(Stream stream, IEnumerable<KeyValuePair<string, NpyArray>> arrays, bool compress = true)
    {
        using var archive = new ZipArchive(stream, ZipArchiveMode.Create, leaveOpen: true);
        foreach (var (name, array) in arrays)
        {
            var entry = archive.CreateEntry(name + ".npy", compress ? CompressionLevel.Optimal : CompressionLevel.NoCompression);
            using var member = entry.Open();
            Npy.Write(member, array);
        }
    }
}
