// CorruptInputTests: truncated and randomly mutated copies of real and tool-made files (PNG, baseline and
// progressive JPEG, BMP, PPM) must either decode or throw ImageFormatException, never anything else,
// and must finish quickly. The decoder's safety net wraps unexpected exceptions, so we also assert that
// no wrapped IndexOutOfRange/NullReference (i.e. a real decoder bug) ever appears.

using System.Diagnostics;
using Xunit.Abstractions;

namespace AdvVis.Data.Tests;

public sealed class CorruptInputTests(ITestOutputHelper output)
{
    public static TheoryData<string> Seeds => new() { "png-mnist", "png-cifar", "png-interlaced-palette", "jpeg-baseline", "jpeg-progressive", "jpeg-restart-422", "bmp", "ppm" };

    private static byte[] LoadSeed(string name, TestSupport.TempDirectory temp)
    {
        switch (name)
        {
            case "png-mnist":
                return File.ReadAllBytes(Directory.GetFiles(TestSupport.DataPath("mnist", "foolbox_samples"), "*.png").Order().First());
            case "png-cifar":
                return File.ReadAllBytes(Directory.GetFiles(TestSupport.DataPath("cifar10", "foolbox_samples"), "*.png").Order().First());
            case "png-interlaced-palette":
                File.WriteAllBytes(temp.File("in.ppm"), TestSupport.WritePnm(30, 22, 3,
                    TestSupport.SyntheticRgb(30, 22, seed: 4).Select(v => (byte)(v & 0xC0)).ToArray())); // few colours → palette
                return TestSupport.RunTool("pnmtopng", ["-interlace", temp.File("in.ppm")], TestSupport.NetpbmHint);
            case "jpeg-baseline":
                return File.ReadAllBytes(TestSupport.DataPath("imagenet", "giant_panda_byassine.jpg"));
            case "jpeg-progressive" or "jpeg-restart-422":
                File.WriteAllBytes(temp.File("in.ppm"), TestSupport.WritePnm(80, 56, 3, TestSupport.SyntheticRgb(80, 56, seed: 11)));
                string[] args = name == "jpeg-progressive" ? ["-progressive"] : ["-restart", "2B", "-sample", "2x1"];
                TestSupport.RunTool("cjpeg", [.. args, "-outfile", temp.File("seed.jpg"), temp.File("in.ppm")], TestSupport.JpegToolsHint);
                return File.ReadAllBytes(temp.File("seed.jpg"));
            case "bmp":
                string source = Directory.GetFiles(TestSupport.DataPath("cifar10", "foolbox_samples"), "*.png").Order().First();
                TestSupport.Python("import sys\nfrom PIL import Image\nImage.open(sys.argv[1]).quantize(50).save(sys.argv[2])", source, temp.File("seed.bmp"));
                return File.ReadAllBytes(temp.File("seed.bmp"));
            default:
                return TestSupport.WritePnm(20, 12, 3, TestSupport.SyntheticRgb(20, 12));
        }
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void MutatedFilesOnlyEverThrowImageFormatException(string seedName)
    {
        using var temp = TestSupport.CreateTempDirectory();
        byte[] seed = LoadSeed(seedName, temp);
        Assert.NotNull(ImageDecoder.Decode(seed)); // the unmutated seed is valid

        var random = new Random(seedName.Length * 7919 + seed.Length);
        int decoded = 0, rejected = 0;
        var slowest = TimeSpan.Zero;
        var total = Stopwatch.StartNew();
        for (int iteration = 0; iteration < 250; iteration++)
        {
            byte[] mutant = Mutate(seed, random, iteration);
            // Half the PNG mutants get valid CRCs again, so they get past the CRC check into zlib and the filters.
            if (seedName.StartsWith("png") && iteration % 2 == 0) RepairPngCrcs(mutant);
            var watch = Stopwatch.StartNew();
            try
            {
                var image = ImageDecoder.Decode(mutant);
                Assert.Equal(image.Width * image.Height * image.Channels, image.Pixels.Length);
                decoded++;
            }
            catch (ImageFormatException e)
            {
                rejected++;
                Assert.False(string.IsNullOrWhiteSpace(e.Problem));
                // The safety net must not be hiding decoder bugs: only zlib's own errors may be wrapped.
                Assert.True(e.InnerException is null or InvalidDataException or IOException,
                    $"iteration {iteration}: decoder bug surfaced as {e.InnerException?.GetType().Name}: {e.InnerException}");
            }
            catch (Exception e)
            {
                Assert.Fail($"iteration {iteration}: {e.GetType().Name} escaped: {e}");
            }
            if (watch.Elapsed > slowest) slowest = watch.Elapsed;
        }
        output.WriteLine($"{seedName}: {decoded} decoded, {rejected} rejected, slowest {slowest.TotalMilliseconds:F0} ms, total {total.ElapsedMilliseconds} ms");
        Assert.True(slowest < TimeSpan.FromSeconds(2), $"a mutant took {slowest.TotalMilliseconds} ms");
        Assert.True(rejected > 0, "no mutant was rejected; the mutations are not reaching the decoder");
    }

    private static void RepairPngCrcs(byte[] png)
    {
        int pos = 8;
        while (pos + 12 <= png.Length)
        {
            long length = (uint)(png[pos] << 24 | png[pos + 1] << 16 | png[pos + 2] << 8 | png[pos + 3]);
            if (pos + 12 + length > png.Length) return;
            uint crc = 0xFFFFFFFF; // bitwise CRC-32, independent of the decoder's table
            for (long i = pos + 4; i < pos + 8 + length; i++)
            {
                crc ^= png[i];
                for (int k = 0; k < 8; k++) crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320 : crc >> 1;
            }
            crc = ~crc;
            int at = (int)(pos + 8 + length);
            png[at] = (byte)(crc >> 24); png[at + 1] = (byte)(crc >> 16); png[at + 2] = (byte)(crc >> 8); png[at + 3] = (byte)crc;
            pos = at + 4;
        }
    }

    /// <summary>Truncation, bit flips, random bytes, zeroed or repeated spans: a deterministic mix.</summary>
    private static byte[] Mutate(byte[] seed, Random random, int iteration)
    {
        switch (iteration % 5)
        {
            case 0: // truncate anywhere
                return seed[..random.Next(0, seed.Length)];
            case 1: // flip a few bits
            {
                byte[] copy = (byte[])seed.Clone();
                for (int i = random.Next(1, 6); i > 0; i--) copy[random.Next(copy.Length)] ^= (byte)(1 << random.Next(8));
                return copy;
            }
            case 2: // overwrite bytes in the header region, where sizes and tables live
            {
                byte[] copy = (byte[])seed.Clone();
                int limit = Math.Min(copy.Length, 700);
                for (int i = random.Next(1, 4); i > 0; i--) copy[random.Next(limit)] = (byte)random.Next(256);
                return copy;
            }
            case 3: // zero a span
            {
                byte[] copy = (byte[])seed.Clone();
                int start = random.Next(copy.Length), length = Math.Min(random.Next(1, 64), copy.Length - start);
                Array.Clear(copy, start, length);
                return copy;
            }
            default: // duplicate a span (shifts everything after it)
            {
                int start = random.Next(seed.Length), length = Math.Min(random.Next(1, 200), seed.Length - start);
                return [.. seed[..(start + length)], .. seed[start..]];
            }
        }
    }

    [Fact]
    public void TruncatedJpegsAreRejectedNamingTheFile()
    {
        using var temp = TestSupport.CreateTempDirectory();
        foreach (string source in new[]
                 {
                     TestSupport.DataPath("imagenet", "giant_panda_byassine.jpg"),
                     Directory.GetFiles(TestSupport.DataPath("imagenet", "foolbox_samples"), "*.jpg").Order().First(),
                 })
        {
            byte[] bytes = File.ReadAllBytes(source);
            foreach (double fraction in new[] { 0.01, 0.1, 0.5, 0.9 })
            {
                string path = temp.File($"cut-{fraction}.jpg");
                File.WriteAllBytes(path, bytes[..(int)(bytes.Length * fraction)]);
                var error = Assert.Throws<ImageFormatException>(() => ImageDecoder.Decode(path));
                Assert.StartsWith(path, error.Message);
                Assert.Contains("truncated", error.Message);
            }
            // Losing only the EOI marker is harmless, as in libjpeg.
            Assert.NotNull(ImageDecoder.Decode(bytes[..^2]));
        }
    }

    [Fact]
    public void JpegHeaderWithAbsurdSizeIsRejected()
    {
        byte[] jpeg = File.ReadAllBytes(TestSupport.DataPath("imagenet", "giant_panda_byassine.jpg"));
        int sof = FindMarker(jpeg, 0xC0);
        // 65000 × 65000 exceeds the pixel limit.
        jpeg[sof + 5] = 0xFD; jpeg[sof + 6] = 0xE8; jpeg[sof + 7] = 0xFD; jpeg[sof + 8] = 0xE8;
        var error = Assert.Throws<ImageFormatException>(() => ImageDecoder.Decode(jpeg));
        Assert.Contains("65000×65000", error.Message);
        // 8000 × 8000 is within the limit, but the file is far too small to encode it.
        jpeg[sof + 5] = 0x1F; jpeg[sof + 6] = 0x40; jpeg[sof + 7] = 0x1F; jpeg[sof + 8] = 0x40;
        error = Assert.Throws<ImageFormatException>(() => ImageDecoder.Decode(jpeg));
        Assert.Contains("too few", error.Message);
    }

    private static int FindMarker(byte[] jpeg, byte marker)
    {
        for (int i = 0; i + 1 < jpeg.Length; i++)
            if (jpeg[i] == 0xFF && jpeg[i + 1] == marker) return i;
        throw new InvalidOperationException($"marker {marker:X2} not found");
    }
}
