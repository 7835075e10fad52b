// PngTests: the PNG decoder against independent references: netpbm's pngtopnm (libpng) for the real
// foolbox PNGs, and netpbm's pnmtopng as the encoder for every colour type, bit depth, filter, Adam7
// interlacing and tRNS, checked against the source pixels the test wrote. Also the PNG encoder's round
// trip (read back by pngtopnm and by our decoder) and CRC/limit errors.

using System.Buffers.Binary;
using System.IO.Compression;

namespace AdvVis.Data.Tests;

public sealed class PngTests
{
    private static TestSupport.Raster PngToPnm(string path) =>
        TestSupport.ParseBinaryPnm(TestSupport.RunTool("pngtopnm", [path], TestSupport.NetpbmHint));

    private static void PnmToPng(string pnmPath, string pngPath, params string[] options)
    {
        byte[] png = TestSupport.RunTool("pnmtopng", [.. options, pnmPath], TestSupport.NetpbmHint);
        File.WriteAllBytes(pngPath, png);
    }

    /// <summary>IHDR colour type, bit depth and interlace flag, read directly from the bytes.</summary>
    private static (int ColorType, int BitDepth, bool Interlaced) Ihdr(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        Assert.Equal("IHDR", System.Text.Encoding.ASCII.GetString(bytes, 12, 4));
        return (bytes[25], bytes[24], bytes[28] == 1);
    }

    [Theory]
    [InlineData("mnist", 1)]
    [InlineData("cifar10", 3)]
    public void FoolboxSamplesMatchPngtopnm(string dataset, int channels)
    {
        var files = Directory.GetFiles(TestSupport.DataPath(dataset, "foolbox_samples"), "*.png").Order().ToArray();
        Assert.Equal(20, files.Length);
        foreach (string file in files)
        {
            var image = ImageDecoder.Decode(file);
            var reference = PngToPnm(file);
            Assert.Equal(channels, image.Channels);
            Assert.Equal((reference.Width, reference.Height, reference.Channels), (image.Width, image.Height, image.Channels));
            Assert.Equal(reference.To8Bit(), image.Pixels);
        }
    }

    public static TheoryData<int, bool> GrayDepths => new()
    {
        { 1, false }, { 2, false }, { 4, false }, { 8, false }, { 16, false },
        { 1, true }, { 2, true }, { 4, true }, { 8, true }, { 16, true },
    };

    [Theory]
    [MemberData(nameof(GrayDepths))]
    public void GrayscaleAllBitDepthsAndInterlace(int bitDepth, bool interlace)
    {
        using var temp = TestSupport.CreateTempDirectory();
        int width = 37, height = 23, maxValue = (1 << bitDepth) - 1;
        var random = new Random(bitDepth);
        var samples = Enumerable.Range(0, width * height).Select(_ => random.Next(maxValue + 1)).ToArray();
        string pgm = temp.File("in.pgm");
        File.WriteAllBytes(pgm, WritePgm(width, height, maxValue, samples));
        string png = temp.File("out.png");
        PnmToPng(pgm, png, interlace ? ["-interlace"] : []);
        Assert.Equal((0, bitDepth, interlace), Ihdr(png));

        var image = ImageDecoder.Decode(png);
        Assert.Equal((width, height, 1), (image.Width, image.Height, image.Channels));
        byte[] expected = samples.Select(v => bitDepth == 16 ? (byte)Math.Round(v / 257.0) : (byte)(v * 255 / maxValue)).ToArray();
        Assert.Equal(expected, image.Pixels);
    }

    [Theory]
    [InlineData(8, false)]
    [InlineData(8, true)]
    [InlineData(16, false)]
    [InlineData(16, true)]
    public void RgbEightAndSixteenBit(int bitDepth, bool interlace)
    {
        using var temp = TestSupport.CreateTempDirectory();
        int width = 45, height = 31, maxValue = (1 << bitDepth) - 1;
        var random = new Random(bitDepth + 100);
        var samples = Enumerable.Range(0, width * height * 3).Select(_ => random.Next(maxValue + 1)).ToArray();
        string ppm = temp.File("in.ppm");
        File.WriteAllBytes(ppm, WritePpm(width, height, maxValue, samples));
        string png = temp.File("out.png");
        PnmToPng(ppm, png, interlace ? ["-interlace"] : []);
        Assert.Equal((2, bitDepth, interlace), Ihdr(png));

        var image = ImageDecoder.Decode(png);
        Assert.Equal((width, height, 3), (image.Width, image.Height, image.Channels));
        byte[] expected = samples.Select(v => bitDepth == 16 ? (byte)Math.Round(v / 257.0) : (byte)v).ToArray();
        Assert.Equal(expected, image.Pixels);
    }

    [Theory]
    [InlineData(2, 1, false)]
    [InlineData(4, 2, false)]
    [InlineData(16, 4, true)]
    [InlineData(200, 8, false)]
    [InlineData(200, 8, true)]
    public void PaletteImagesAtEveryIndexDepth(int colours, int expectedDepth, bool interlace)
    {
        using var temp = TestSupport.CreateTempDirectory();
        int width = 29, height = 19;
        var random = new Random(colours);
        var palette = Enumerable.Range(0, colours).Select(i => new[] { (i * 37) % 256, (i * 91 + 17) % 256, (i * 13 + 200) % 256 }).ToArray();
        var indices = Enumerable.Range(0, width * height).Select(i => i < colours ? i : random.Next(colours)).ToArray();
        var samples = indices.SelectMany(i => palette[i]).ToArray();
        string ppm = temp.File("in.ppm");
        File.WriteAllBytes(ppm, WritePpm(width, height, 255, samples));
        string png = temp.File("out.png");
        PnmToPng(ppm, png, interlace ? ["-interlace"] : []);
        Assert.Equal((3, expectedDepth, interlace), Ihdr(png)); // netpbm chose a palette at the expected depth

        var image = ImageDecoder.Decode(png);
        Assert.Equal((width, height, 3), (image.Width, image.Height, image.Channels));
        Assert.Equal(samples.Select(v => (byte)v).ToArray(), image.Pixels);
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public void AlphaChannelsForGrayAndRgb(bool rgb, bool interlace)
    {
        using var temp = TestSupport.CreateTempDirectory();
        int width = 33, height = 17, channels = rgb ? 3 : 1;
        var random = new Random(rgb ? 1 : 2);
        var samples = Enumerable.Range(0, width * height * channels).Select(_ => random.Next(256)).ToArray();
        var alpha = Enumerable.Range(0, width * height).Select(_ => random.Next(256)).ToArray();
        string input = temp.File(rgb ? "in.ppm" : "in.pgm"), alphaFile = temp.File("alpha.pgm");
        File.WriteAllBytes(input, rgb ? WritePpm(width, height, 255, samples) : WritePgm(width, height, 255, samples));
        File.WriteAllBytes(alphaFile, WritePgm(width, height, 255, alpha));
        string png = temp.File("out.png");
        PnmToPng(input, png, [$"-alpha={alphaFile}", .. interlace ? new[] { "-interlace" } : []]);
        Assert.Equal((rgb ? 6 : 4, 8, interlace), Ihdr(png));

        var image = ImageDecoder.Decode(png);
        Assert.Equal((width, height, channels + 1), (image.Width, image.Height, image.Channels));
        var expected = new byte[width * height * (channels + 1)];
        for (int i = 0; i < width * height; i++)
        {
            for (int c = 0; c < channels; c++) expected[i * (channels + 1) + c] = (byte)samples[i * channels + c];
            expected[i * (channels + 1) + channels] = (byte)alpha[i];
        }
        Assert.Equal(expected, image.Pixels);
        Assert.Equal(samples.Select(v => (byte)v).ToArray(), image.ToChannels(channels).Pixels);
    }

    [Fact]
    public void TransparentColourBecomesAlpha()
    {
        using var temp = TestSupport.CreateTempDirectory();
        int width = 20, height = 10;
        var random = new Random(5);
        // Many colours so netpbm keeps RGB (with a tRNS colour) rather than a palette.
        var samples = Enumerable.Range(0, width * height * 3).Select(_ => random.Next(256)).ToArray();
        for (int i = 0; i < width * height; i += 7) { samples[i * 3] = 255; samples[i * 3 + 1] = 0; samples[i * 3 + 2] = 0; }
        string ppm = temp.File("in.ppm"), png = temp.File("out.png");
        File.WriteAllBytes(ppm, WritePpm(width, height, 255, samples));
        PnmToPng(ppm, png, "-transparent=rgb:ff/00/00");
        Assert.Contains("tRNS", System.Text.Encoding.ASCII.GetString(File.ReadAllBytes(png)));

        var image = ImageDecoder.Decode(png);
        Assert.True(image.HasAlpha);
        for (int i = 0; i < width * height; i++)
        {
            bool red = samples[i * 3] == 255 && samples[i * 3 + 1] == 0 && samples[i * 3 + 2] == 0;
            Assert.Equal(red ? 0 : 255, image.Pixels[i * image.Channels + image.Channels - 1]);
            Assert.Equal((byte)samples[i * 3 + 1], image.Pixels[i * image.Channels + 1]);
        }
    }

    [Theory]
    [InlineData("-nofilter", 0)]
    [InlineData("-sub", 1)]
    [InlineData("-up", 2)]
    [InlineData("-avg", 3)]
    [InlineData("-paeth", 4)]
    public void EveryRowFilterType(string option, int filterType)
    {
        using var temp = TestSupport.CreateTempDirectory();
        int width = 41, height = 27, rampRows = 16;
        // Natural-looking rows, then a diagonal ramp p = 3x - 3y (+ a per-channel offset) whose Paeth
        // predictor is always the upper-left pixel: a second, structured case for every filter.
        byte[] rgb = [.. TestSupport.SyntheticRgb(width, height, seed: filterType),
            .. Enumerable.Range(0, width * rampRows * 3).Select(i => (byte)(100 + 3 * (i / 3 % width) - 3 * (i / 3 / width) + 40 * (i % 3)))];
        height += rampRows;
        string ppm = temp.File("in.ppm"), png = temp.File("out.png");
        File.WriteAllBytes(ppm, TestSupport.WritePnm(width, height, 3, rgb));
        PnmToPng(ppm, png, option, "-force");
        Assert.Contains(filterType, RowFilterTypes(png)); // premise: the file really uses this filter

        Assert.Equal(rgb, ImageDecoder.Decode(png).Pixels);
    }

    /// <summary>Filter byte of each row of a non-interlaced PNG, by inflating its IDAT data.</summary>
    private static HashSet<int> RowFilterTypes(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        var idat = new MemoryStream();
        int width = 0, height = 0, bpp = 0, pos = 8;
        while (pos < bytes.Length)
        {
            int length = BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(pos));
            string type = System.Text.Encoding.ASCII.GetString(bytes, pos + 4, 4);
            if (type == "IHDR")
            {
                width = BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(pos + 8));
                height = BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(pos + 12));
                bpp = bytes[pos + 17] == 2 ? 3 : 1;
            }
            if (type == "IDAT") idat.Write(bytes, pos + 8, length);
            pos += 12 + length;
        }
        idat.Position = 0;
        using var zlib = new ZLibStream(idat, CompressionMode.Decompress);
        var raw = new byte[height * (1 + width * bpp)];
        zlib.ReadExactly(raw);
        return Enumerable.Range(0, height).Select(r => (int)raw[r * (1 + width * bpp)]).ToHashSet();
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void EncoderRoundTripsAndPngtopnmAgrees(int channels)
    {
        using var temp = TestSupport.CreateTempDirectory();
        int width = 53, height = 29;
        var random = new Random(channels);
        var image = new Image(width, height, channels);
        byte[] smooth = TestSupport.SyntheticRgb(width, height, seed: 9);
        for (int i = 0; i < width * height; i++)
            for (int c = 0; c < channels; c++)
                image.Pixels[i * channels + c] = c < 3 ? smooth[i * 3 + c] : (byte)random.Next(256);

        string path = temp.File("round.png");
        PngEncoder.Save(image, path);
        var decoded = ImageDecoder.Decode(path);
        Assert.Equal((width, height, channels), (decoded.Width, decoded.Height, decoded.Channels));
        Assert.Equal(image.Pixels, decoded.Pixels);

        // Independent reader: pngtopnm (libpng) must see the same colour samples.
        var reference = PngToPnm(path);
        Assert.Equal(image.ToChannels(channels <= 2 ? 1 : 3).Pixels, reference.To8Bit());
    }

    [Fact]
    public void CrcMismatchIsReported()
    {
        byte[] png = File.ReadAllBytes(Directory.GetFiles(TestSupport.DataPath("mnist", "foolbox_samples"), "*.png").Order().First());
        png[20] ^= 0x01; // inside IHDR's width field: the bytes still parse, only the CRC can tell
        var error = Assert.Throws<ImageFormatException>(() => ImageDecoder.Decode(png));
        Assert.Contains("CRC", error.Message);
        Assert.Contains("IHDR", error.Message);
    }

    [Fact]
    public void AbsurdDimensionsAreRejectedBeforeAllocating()
    {
        var image = new Image(4, 4, 3);
        byte[] png = PngEncoder.Encode(image);
        // Rewrite IHDR to 100000 x 100000 and fix its CRC so only the size check can object.
        BinaryPrimitives.WriteUInt32BigEndian(png.AsSpan(16), 100_000);
        BinaryPrimitives.WriteUInt32BigEndian(png.AsSpan(20), 100_000);
        BinaryPrimitives.WriteUInt32BigEndian(png.AsSpan(29), Crc(png.AsSpan(12, 17)));
        var error = Assert.Throws<ImageFormatException>(() => ImageDecoder.Decode(png));
        Assert.Contains("100000×100000", error.Message);

        // Within the limits but far more pixels than the compressed data could hold.
        BinaryPrimitives.WriteUInt32BigEndian(png.AsSpan(16), 8000);
        BinaryPrimitives.WriteUInt32BigEndian(png.AsSpan(20), 8000);
        BinaryPrimitives.WriteUInt32BigEndian(png.AsSpan(29), Crc(png.AsSpan(12, 17)));
        error = Assert.Throws<ImageFormatException>(() => ImageDecoder.Decode(png));
        Assert.Contains("truncated", error.Message);
    }

    [Fact]
    public void TruncatedFileNamesTheFile()
    {
        using var temp = TestSupport.CreateTempDirectory();
        string source = Directory.GetFiles(TestSupport.DataPath("cifar10", "foolbox_samples"), "*.png").Order().First();
        byte[] bytes = File.ReadAllBytes(source);
        string path = temp.File("cut.png");
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
        var error = Assert.Throws<ImageFormatException>(() => ImageDecoder.Decode(path));
        Assert.Equal(path, error.FilePath);
        Assert.StartsWith(path, error.Message);
        Assert.Contains("truncated", error.Message);
    }

    private static uint Crc(ReadOnlySpan<byte> data)
    {
        // Independent bitwise CRC-32 so the test does not reuse the decoder's table.
        uint crc = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320 : crc >> 1;
        }
        return ~crc;
    }

    internal static byte[] WritePgm(int width, int height, int maxValue, int[] samples) => WriteNetpbm("P5", width, height, maxValue, samples);

    internal static byte[] WritePpm(int width, int height, int maxValue, int[] samples) => WriteNetpbm("P6", width, height, maxValue, samples);

    private static byte[] WriteNetpbm(string magic, int width, int height, int maxValue, int[] samples)
    {
        var output = new MemoryStream();
        output.Write(System.Text.Encoding.ASCII.GetBytes($"{magic}\n{width} {height}\n{maxValue}\n"));
        foreach (int v in samples)
        {
            if (maxValue > 255) output.WriteByte((byte)(v >> 8));
            output.WriteByte((byte)v);
        }
        return output.ToArray();
    }
}
