// JpegDecoderTests: the JPEG decoder against Debian's libjpeg-turbo (`djpeg -ppm`) on the real ImageNet
// samples (baseline and progressive), and on files made at test time by `cjpeg` to cover chroma
// subsampling variants, grayscale, restart markers, progressive scripts and EXIF orientation.

using Xunit.Abstractions;

namespace AdvVis.Data.Tests;

public sealed class JpegDecoderTests(ITestOutputHelper output)
{
    // Our pipeline reproduces libjpeg-turbo's ISLOW IDCT, fancy upsampling and colour tables, so the
    // output must be bit-exact (a merely "accurate" IDCT would typically land at mean < 1, max 2–3).
    // If this fails only on another system, check that djpeg there is libjpeg-turbo, not IJG libjpeg 7+,
    // whose DCT-domain chroma upsampling differs.
    private const double MeanTolerance = 1e-9;
    private const int MaxTolerance = 0;

    private (double Mean, int Max) CompareWithDjpeg(string path, ImageDecodeOptions? options = null)
    {
        var reference = TestSupport.ParseBinaryPnm(TestSupport.Djpeg(path));
        var image = ImageDecoder.Decode(path, options ?? new ImageDecodeOptions { ApplyExifOrientation = false });
        Assert.Equal((reference.Width, reference.Height, reference.Channels), (image.Width, image.Height, image.Channels));
        return TestSupport.Difference(image.Pixels, reference.To8Bit());
    }

    private void CompareAll(string[] files, string label)
    {
        Assert.NotEmpty(files);
        double worstMean = 0, sumMean = 0;
        int worstMax = 0, exact = 0;
        foreach (string file in files)
        {
            var (mean, max) = CompareWithDjpeg(file);
            sumMean += mean;
            worstMean = Math.Max(worstMean, mean);
            worstMax = Math.Max(worstMax, max);
            if (max == 0) exact++;
            Assert.True(mean < MeanTolerance && max <= MaxTolerance, $"{Path.GetFileName(file)}: mean {mean:F4}, max {max} vs djpeg");
        }
        output.WriteLine($"{label}: {files.Length} files, {exact} bit-exact, mean abs diff avg {sumMean / files.Length:F5} worst {worstMean:F5}, max abs diff {worstMax}");
    }

    [Fact]
    public void BaselineImageNetSamplesMatchDjpeg() =>
        CompareAll(Directory.GetFiles(TestSupport.DataPath("imagenet", "samples"), "*.JPEG").Order().ToArray(), "baseline ImageNet samples");

    [Fact]
    public void ProgressiveFoolboxSamplesMatchDjpeg()
    {
        var files = Directory.GetFiles(TestSupport.DataPath("imagenet", "foolbox_samples"), "*.jpg").Order().ToArray();
        // Guard the premise: these really are progressive (SOF2) files.
        Assert.All(files, f => Assert.True(HasMarker(File.ReadAllBytes(f), 0xC2), $"{f} is not progressive"));
        CompareAll(files, "progressive foolbox samples");
    }

    [Fact]
    public void SmallPandaMatchesDjpeg()
    {
        var (mean, max) = CompareWithDjpeg(TestSupport.DataPath("imagenet", "giant_panda_byassine.jpg"));
        output.WriteLine($"panda: mean {mean:F5} max {max}");
        Assert.True(mean < MeanTolerance && max <= MaxTolerance);
    }

    public static TheoryData<string, string[]> CjpegVariants => new()
    {
        { "420", ["-sample", "2x2"] },
        { "422", ["-sample", "2x1"] },
        { "440", ["-sample", "1x2"] },
        { "444", ["-sample", "1x1"] },
        { "411", ["-sample", "4x1"] },
        { "gray", ["-grayscale"] },
        { "restart-rows", ["-restart", "1"] },
        { "restart-blocks-422", ["-restart", "5B", "-sample", "2x1"] },
        { "progressive-420", ["-progressive"] },
        { "progressive-444-restart", ["-progressive", "-sample", "1x1", "-restart", "3B"] },
        { "progressive-gray", ["-progressive", "-grayscale"] },
        { "optimized-q95", ["-optimize", "-quality", "95"] },
        { "q10", ["-quality", "10"] },
        { "rgb", ["-rgb"] },
    };

    [Theory]
    [MemberData(nameof(CjpegVariants))]
    public void CjpegVariantsMatchDjpeg(string name, string[] cjpegArguments)
    {
        using var temp = TestSupport.CreateTempDirectory();
        // Odd sizes exercise partial MCUs and the upsamplers' edge handling.
        foreach (var (width, height) in new[] { (67, 45), (16, 16), (3, 9), (1, 1) })
        {
            string ppm = temp.File($"in-{width}x{height}.ppm");
            File.WriteAllBytes(ppm, TestSupport.WritePnm(width, height, 3, TestSupport.SyntheticRgb(width, height, seed: width)));
            string jpeg = temp.File($"{name}-{width}x{height}.jpg");
            TestSupport.RunTool("cjpeg", [.. cjpegArguments, "-outfile", jpeg, ppm], TestSupport.JpegToolsHint);
            var (mean, max) = CompareWithDjpeg(jpeg);
            output.WriteLine($"{name} {width}x{height}: mean {mean:F5} max {max}");
            Assert.True(mean < MeanTolerance && max <= MaxTolerance, $"{name} {width}x{height}: mean {mean:F4} max {max}");
        }
    }

    [Fact]
    public void ProgressiveScanScriptWithSuccessiveApproximationMatchesDjpeg()
    {
        using var temp = TestSupport.CreateTempDirectory();
        // Several refinement passes for DC and AC, interleaved DC first scan, split spectral bands.
        File.WriteAllText(temp.File("scans.txt"),
            "0,1,2: 0 0 0 2;\n0: 1 5 0 3;\n2: 1 63 0 2;\n1: 1 63 0 2;\n0: 6 63 0 3;\n0: 1 63 3 2;\n0,1,2: 0 0 2 1;\n" +
            "0,1,2: 0 0 1 0;\n1: 1 63 2 1;\n2: 1 63 2 1;\n0: 1 63 2 1;\n2: 1 63 1 0;\n1: 1 63 1 0;\n0: 1 63 1 0;\n");
        File.WriteAllBytes(temp.File("in.ppm"), TestSupport.WritePnm(97, 61, 3, TestSupport.SyntheticRgb(97, 61, seed: 7)));
        string jpeg = temp.File("scripted.jpg");
        TestSupport.RunTool("cjpeg", ["-scans", temp.File("scans.txt"), "-quality", "90", "-outfile", jpeg, temp.File("in.ppm")], TestSupport.JpegToolsHint);
        var (mean, max) = CompareWithDjpeg(jpeg);
        output.WriteLine($"scripted progressive: mean {mean:F5} max {max}");
        Assert.True(mean < MeanTolerance && max <= MaxTolerance);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(6)]
    [InlineData(7)]
    [InlineData(8)]
    public void ExifOrientationIsAppliedLikePil(int orientation)
    {
        using var temp = TestSupport.CreateTempDirectory();
        File.WriteAllBytes(temp.File("in.ppm"), TestSupport.WritePnm(40, 24, 3, TestSupport.SyntheticRgb(40, 24, seed: 3)));
        string plain = temp.File("plain.jpg");
        TestSupport.RunTool("cjpeg", ["-sample", "1x1", "-quality", "95", "-outfile", plain, temp.File("in.ppm")], TestSupport.JpegToolsHint);
        foreach (bool bigEndian in new[] { false, true })
        {
            string rotated = temp.File($"exif-{orientation}-{bigEndian}.jpg");
            File.WriteAllBytes(rotated, SpliceExifOrientation(File.ReadAllBytes(plain), orientation, bigEndian));

            // Independent reference: PIL decodes and applies ImageOps.exif_transpose.
            byte[] ppm = TestSupport.Python(
                "import sys; from PIL import Image, ImageOps; im = ImageOps.exif_transpose(Image.open(sys.argv[1])).convert('RGB'); " +
                "im.save(sys.stdout.buffer, format='PPM')", rotated);
            var reference = TestSupport.ParseBinaryPnm(ppm);
            var image = ImageDecoder.Decode(rotated);
            Assert.Equal((reference.Width, reference.Height), (image.Width, image.Height));
            var (mean, max) = TestSupport.Difference(image.Pixels, reference.To8Bit());
            Assert.True(max <= MaxTolerance && mean < MeanTolerance, $"orientation {orientation}: mean {mean} max {max}");

            // And the option to keep the stored orientation.
            var stored = ImageDecoder.Decode(rotated, new ImageDecodeOptions { ApplyExifOrientation = false });
            Assert.Equal((40, 24), (stored.Width, stored.Height));
        }
    }

    [Fact]
    public void AdobeCmykJpegConvertsLikeInvertedCmyk()
    {
        using var temp = TestSupport.CreateTempDirectory();
        string jpeg = temp.File("cmyk.jpg"), decoded = temp.File("cmyk.raw");
        // PIL writes Adobe (APP14, transform 0) CMYK JPEGs; libjpeg decodes them back to the exact CMYK samples
        // it stores, which PIL hands us raw. RGB is then (255-C)(255-K)/255 etc. for Adobe's inverted storage.
        TestSupport.Python(
            "import sys\nfrom PIL import Image\nim = Image.open(sys.argv[1]).convert('RGB').resize((40, 30)).convert('CMYK')\n" +
            "im.save(sys.argv[2], quality=92, subsampling=0)\nback = Image.open(sys.argv[2])\nassert back.mode == 'CMYK'\n" +
            "open(sys.argv[3], 'wb').write(back.tobytes())",
            Directory.GetFiles(TestSupport.DataPath("cifar10", "foolbox_samples"), "*.png").Order().First(), jpeg, decoded);
        Assert.True(HasMarker(File.ReadAllBytes(jpeg), 0xEE), "PIL did not write an Adobe APP14 marker");
        byte[] cmyk = File.ReadAllBytes(decoded); // PIL has already undone Adobe's inversion
        var image = ImageDecoder.Decode(jpeg);
        Assert.Equal((40, 30, 3), (image.Width, image.Height, image.Channels));
        for (int i = 0; i < 40 * 30; i++)
        {
            int k = 255 - cmyk[i * 4 + 3];
            for (int c = 0; c < 3; c++)
                Assert.Equal((255 - cmyk[i * 4 + c]) * k / 255.0, image.Pixels[i * 3 + c], 0.51);
        }
    }

    /// <summary>Inserts a minimal APP1 Exif segment (IFD0 with one Orientation entry) right after SOI.</summary>
    internal static byte[] SpliceExifOrientation(byte[] jpeg, int orientation, bool bigEndian)
    {
        var tiff = new List<byte>();
        void U16(int v) { if (bigEndian) { tiff.Add((byte)(v >> 8)); tiff.Add((byte)v); } else { tiff.Add((byte)v); tiff.Add((byte)(v >> 8)); } }
        void U32(int v) { if (bigEndian) { U16(v >> 16); U16(v & 0xFFFF); } else { U16(v & 0xFFFF); U16(v >> 16); } }
        tiff.AddRange(bigEndian ? "MM"u8.ToArray() : "II"u8.ToArray());
        U16(42);
        U32(8);        // IFD0 offset
        U16(1);        // one entry
        U16(0x0112);   // Orientation
        U16(3);        // SHORT
        U32(1);        // count
        U16(orientation);
        U16(0);        // value padding
        U32(0);        // no next IFD
        byte[] body = [.. "Exif\0\0"u8.ToArray(), .. tiff];
        int length = body.Length + 2;
        return [0xFF, 0xD8, 0xFF, 0xE1, (byte)(length >> 8), (byte)length, .. body, .. jpeg.AsSpan(2).ToArray()];
    }

    internal static bool HasMarker(byte[] jpeg, byte marker)
    {
        for (int i = 2; i + 1 < jpeg.Length; i++)
        {
            if (jpeg[i] != 0xFF) continue;
            if (jpeg[i + 1] == marker) return true;
            if (jpeg[i + 1] == 0xDA) return false; // first scan reached
        }
        return false;
    }
}
