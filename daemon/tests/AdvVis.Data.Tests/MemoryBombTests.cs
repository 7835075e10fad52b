// Memory bombs in data files (issue 12): small files whose headers declare gigabytes are refused from the sizes they
// declare, before anything is inflated or decoded, naming the file, the size and the limit.
using System.Buffers.Binary;
using System.Diagnostics;
using System.IO.Compression;
using System.Text;
using AdvVis.Safety;
using Xunit.Abstractions;

namespace AdvVis.Data.Tests;

public sealed class MemoryBombTests(ITestOutputHelper output)
{
    [Fact]
    public void An_npz_whose_members_declare_more_than_the_budget_is_refused_before_inflating()
    {
        // The bomb in small: six members that each deflate 512 MiB of zeros to about 0.5 MiB, 3 GiB declared in
        // all, against a 1 GiB budget (the real one was six 2 GB members in 11.7 MB against the default budget).
        using var dir = TestSupport.CreateTempDirectory();
        string path = Path.Combine(dir.Path, "bomb.npz");
        WriteZerosNpz(path, members: 6, floatsPerMember: 128L << 20);
        output.WriteLine($"{new FileInfo(path).Length / 1024} KiB on disk");

        using var _ = MemoryBudget.Use(new MemoryBudget(1L << 30));
        long before = GC.GetAllocatedBytesForCurrentThread();
        var clock = Stopwatch.StartNew();
        var e = Assert.Throws<MemoryBudgetExceededException>(() => Npz.Read(path));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        output.WriteLine($"refused in {clock.ElapsedMilliseconds} ms with {allocated / 1024} KiB allocated: {e.Message}");
        Assert.Contains(path, e.Message);
        Assert.Contains("6 .npz member(s) (3 GiB uncompressed, as the archive declares)", e.Message);
        Assert.Contains("memory budget of 1 GiB", e.Message);
        Assert.True(allocated < 16 << 20, $"{allocated} bytes allocated");
    }

    [Fact]
    public void The_same_npz_loads_within_a_budget_it_fits()
    {
        using var dir = TestSupport.CreateTempDirectory();
        string path = Path.Combine(dir.Path, "small.npz");
        WriteZerosNpz(path, members: 2, floatsPerMember: 1000);
        using var _ = MemoryBudget.Use(new MemoryBudget(1L << 20));
        var arrays = Npz.Read(path);
        Assert.Equal([1000], arrays["m0"].Shape);
    }

    [Fact]
    public void A_16384_square_png_of_a_megabyte_is_refused_at_its_header()
    {
        using var dir = TestSupport.CreateTempDirectory();
        string path = Path.Combine(dir.Path, "huge.png");
        WriteBlackPng(path, 16384, 16384);
        long fileBytes = new FileInfo(path).Length;
        output.WriteLine($"{fileBytes / 1024} KiB on disk");
        Assert.True(fileBytes < 2 << 20);

        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<ImageFormatException>(() => ImageDecoder.Decode(path));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        output.WriteLine($"{allocated / 1024} KiB allocated: {e.Message}");
        Assert.Contains("huge.png", e.Message);
        Assert.Contains("16384×16384 pixels", e.Message);
        Assert.Contains($"{ImageDecodeOptions.Default.MaxPixels} pixels in total", e.Message);
        Assert.True(allocated < fileBytes + (16 << 20), $"{allocated} bytes allocated"); // the file itself, nothing decoded
    }

    [Fact]
    public void An_image_under_the_pixel_cap_but_over_the_budget_is_refused_naming_the_file()
    {
        using var dir = TestSupport.CreateTempDirectory();
        string path = Path.Combine(dir.Path, "big.pgm");
        File.WriteAllBytes(path, [.. "P5\n8000 8000\n255\n"u8, .. new byte[1000]]); // 64 MP declared, 1 KB present
        using var _ = MemoryBudget.Use(new MemoryBudget(256L << 20));
        var e = Assert.Throws<MemoryBudgetExceededException>(() => ImageDecoder.Decode(path));
        output.WriteLine(e.Message);
        Assert.Contains("big.pgm", e.Message);
        Assert.Contains("PNM image of 8000×8000 pixels", e.Message);
        Assert.Contains("memory budget of 256 MiB", e.Message);
    }

    [Fact]
    public void A_gzip_idx_that_inflates_past_the_budget_is_stopped_while_inflating()
    {
        // 100,000 blank 28×28 images (78 MB inflated) in about 80 KB of gzip, against a 16 MiB budget.
        using var dir = TestSupport.CreateTempDirectory();
        string path = Path.Combine(dir.Path, "images-idx3-ubyte.gz");
        using (var gzip = new GZipStream(File.Create(path), CompressionLevel.SmallestSize))
        {
            gzip.Write([0, 0, 0x08, 3, 0, 0x01, 0x86, 0xA0, 0, 0, 0, 28, 0, 0, 0, 28]);
            var zeros = new byte[28 * 28 * 1000];
            for (int i = 0; i < 100; i++) gzip.Write(zeros);
        }
        using var _ = MemoryBudget.Use(new MemoryBudget(16L << 20));
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<MemoryBudgetExceededException>(() => IdxReader.Read(path));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        output.WriteLine($"{new FileInfo(path).Length / 1024} KiB on disk, {allocated >> 20} MiB allocated: {e.Message}");
        Assert.Contains(path, e.Message);
        Assert.Contains("memory budget of 16 MiB", e.Message);
        Assert.True(allocated < 64L << 20, $"{allocated} bytes allocated");
    }

    /// <summary>An .npz of float32 zero vectors, written with numpy's layout (version 1.0 headers), deflated.</summary>
    private static void WriteZerosNpz(string path, int members, long floatsPerMember)
    {
        using var file = File.Create(path);
        using var zip = new ZipArchive(file, ZipArchiveMode.Create);
        var zeros = new byte[1 << 20];
        for (int m = 0; m < members; m++)
        {
            using var member = zip.CreateEntry($"m{m}.npy", CompressionLevel.Fastest).Open();
            string header = $"{{'descr': '<f4', 'fortran_order': False, 'shape': ({floatsPerMember},), }}";
            header = header.PadRight(((10 + header.Length + 1 + 63) / 64 * 64) - 10 - 1) + "\n";
            member.Write([0x93, .. "NUMPY"u8, 1, 0, (byte)header.Length, (byte)(header.Length >> 8)]);
            member.Write(Encoding.ASCII.GetBytes(header));
            for (long left = floatsPerMember * 4; left > 0; left -= zeros.Length) member.Write(zeros, 0, (int)Math.Min(zeros.Length, left));
        }
    }

    /// <summary>A valid 8-bit greyscale PNG of zeros: one IDAT deflating every filtered row.</summary>
    private static void WriteBlackPng(string path, int width, int height)
    {
        using var file = File.Create(path);
        file.Write([0x89, .. "PNG"u8, 0x0D, 0x0A, 0x1A, 0x0A]);
        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = 8; // bit depth; colour type 0 (grey), no interlace
        Chunk(file, "IHDR", ihdr);
        var idat = new MemoryStream();
        using (var z = new ZLibStream(idat, CompressionLevel.SmallestSize, leaveOpen: true))
        {
            var row = new byte[width + 1];
            for (int y = 0; y < height; y++) z.Write(row);
        }
        Chunk(file, "IDAT", idat.ToArray());
        Chunk(file, "IEND", []);
    }

    private static void Chunk(Stream file, string type, byte[] data)
    {
        var length = new byte[4];
        BinaryPrimitives.WriteInt32BigEndian(length, data.Length);
        file.Write(length);
        byte[] typeAndData = [.. Encoding.ASCII.GetBytes(type), .. data];
        file.Write(typeAndData);
        var crc = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(crc, Crc(typeAndData));
        file.Write(crc);
    }

    private static uint Crc(byte[] bytes)
    {
        uint c = 0xFFFFFFFF;
        foreach (byte b in bytes)
        {
            c ^= b;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        }
        return ~c;
    }
}
