// BmpPnmTests: BMP files written by PIL (Debian's python3) in each of its BMP layouts, decoded by PIL too as
// the reference; a top-down variant derived from one; and Netpbm files (binary and ASCII, 16-bit maxval,
// comments, bitmaps) whose expected pixels the test states directly.

using System.Buffers.Binary;
using System.Text;

namespace AdvVis.Data.Tests;

public sealed class BmpPnmTests
{
    [Theory]
    [InlineData("RGB", 24, 3)]
    [InlineData("L", 8, 1)]
    [InlineData("P", 8, 3)]
    [InlineData("1", 1, 1)]
    [InlineData("RGBA", 32, 3)] // BI_RGB 32-bit: the fourth byte is undefined by the format; PIL and Windows ignore it too
    public void PilWrittenBmpMatchesPil(string mode, int expectedBits, int expectedChannels)
    {
        using var temp = TestSupport.CreateTempDirectory();
        string bmp = temp.File($"{mode}.bmp"), reference = temp.File($"{mode}.ppm");
        // Source: a CIFAR sample converted to the mode (RGBA gets a varying alpha), saved as BMP by PIL;
        // the reference is PIL's own reading of that BMP, as RGB or L (alpha written separately).
        string source = Directory.GetFiles(TestSupport.DataPath("cifar10", "foolbox_samples"), "*.png").Order().First();
        TestSupport.Python(
            "import sys\nfrom PIL import Image\nmode = sys.argv[2]\nim = Image.open(sys.argv[1]).convert('RGB')\n" +
            "if mode == 'RGBA':\n    im = im.convert('RGBA'); a = Image.linear_gradient('L').resize(im.size); im.putalpha(a)\n" +
            "elif mode == 'P':\n    im = im.quantize(40)\nelse:\n    im = im.convert(mode)\n" +
            "im.save(sys.argv[3])\nback = Image.open(sys.argv[3])\n" +
            "back.convert('L' if mode in ('L', '1') else 'RGB').save(sys.argv[4], format='PPM')\n",
            source, mode, bmp, reference);
        byte[] file = File.ReadAllBytes(bmp);
        Assert.Equal(expectedBits, BinaryPrimitives.ReadUInt16LittleEndian(file.AsSpan(28)));

        var image = ImageDecoder.Decode(bmp);
        var expected = TestSupport.ParseBinaryPnm(File.ReadAllBytes(reference));
        Assert.Equal(expectedChannels, image.Channels);
        Assert.Equal((expected.Width, expected.Height), (image.Width, image.Height));
        Assert.Equal(expected.To8Bit(), image.ToChannels(expected.Channels).Pixels);
    }

    /// <summary>Builds a BITMAPV4/V5-style BMP with explicit bitfield masks (layout per the BMP specification).</summary>
    private static byte[] BitfieldsBmp(int width, int height, int bits, uint red, uint green, uint blue, uint alpha, uint[] pixels)
    {
        const int headerSize = 108; // BITMAPV4HEADER
        int stride = (width * bits + 31) / 32 * 4, offset = 14 + headerSize;
        var file = new byte[offset + stride * height];
        file[0] = (byte)'B'; file[1] = (byte)'M';
        BinaryPrimitives.WriteInt32LittleEndian(file.AsSpan(2), file.Length);
        BinaryPrimitives.WriteInt32LittleEndian(file.AsSpan(10), offset);
        BinaryPrimitives.WriteInt32LittleEndian(file.AsSpan(14), headerSize);
        BinaryPrimitives.WriteInt32LittleEndian(file.AsSpan(18), width);
        BinaryPrimitives.WriteInt32LittleEndian(file.AsSpan(22), height);
        BinaryPrimitives.WriteInt16LittleEndian(file.AsSpan(26), 1);
        BinaryPrimitives.WriteInt16LittleEndian(file.AsSpan(28), (short)bits);
        BinaryPrimitives.WriteInt32LittleEndian(file.AsSpan(30), 3); // BI_BITFIELDS
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(54), red);
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(58), green);
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(62), blue);
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(66), alpha);
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                int at = offset + (height - 1 - y) * stride + x * bits / 8; // bottom-up rows
                if (bits == 16) BinaryPrimitives.WriteUInt16LittleEndian(file.AsSpan(at), (ushort)pixels[y * width + x]);
                else BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(at), pixels[y * width + x]);
            }
        return file;
    }

    [Fact]
    public void BitfieldBmpsWithAlphaAnd565()
    {
        // 32-bit ARGB with a real alpha mask → 4 channels.
        uint[] argb = [0x80FF0000, 0xFF00FF00, 0x000000FF, 0x40102030];
        var image = ImageDecoder.Decode(BitfieldsBmp(2, 2, 32, 0x00FF0000, 0x0000FF00, 0x000000FF, 0xFF000000, argb));
        Assert.Equal(4, image.Channels);
        Assert.Equal(new byte[] { 255, 0, 0, 128, 0, 255, 0, 255, 0, 0, 255, 0, 0x10, 0x20, 0x30, 0x40 }, image.Pixels);

        // 16-bit RGB565: 5/6/5-bit fields scale to 0..255 with rounding.
        uint[] rgb565 = [0xF800, 0x07E0, 0x001F, 0x8410];
        image = ImageDecoder.Decode(BitfieldsBmp(2, 2, 16, 0xF800, 0x07E0, 0x001F, 0, rgb565));
        Assert.Equal(3, image.Channels);
        Assert.Equal(new byte[] { 255, 0, 0, 0, 255, 0, 0, 0, 255, 132, 130, 132 }, image.Pixels);
    }

    [Fact]
    public void TopDownBmpMatchesBottomUp()
    {
        using var temp = TestSupport.CreateTempDirectory();
        string bmp = temp.File("up.bmp");
        string source = Directory.GetFiles(TestSupport.DataPath("cifar10", "foolbox_samples"), "*.png").Order().Skip(1).First();
        TestSupport.Python("import sys\nfrom PIL import Image\nImage.open(sys.argv[1]).convert('RGB').resize((31, 17)).save(sys.argv[2])", source, bmp);
        byte[] bottomUp = File.ReadAllBytes(bmp);
        int offset = BinaryPrimitives.ReadInt32LittleEndian(bottomUp.AsSpan(10));
        int width = BinaryPrimitives.ReadInt32LittleEndian(bottomUp.AsSpan(18));
        int height = BinaryPrimitives.ReadInt32LittleEndian(bottomUp.AsSpan(22));
        int stride = (width * 3 + 3) / 4 * 4;
        byte[] topDown = (byte[])bottomUp.Clone();
        BinaryPrimitives.WriteInt32LittleEndian(topDown.AsSpan(22), -height);
        for (int row = 0; row < height; row++)
            Array.Copy(bottomUp, offset + row * stride, topDown, offset + (height - 1 - row) * stride, stride);

        var expected = ImageDecoder.Decode(bottomUp);
        var actual = ImageDecoder.Decode(topDown);
        Assert.Equal((31, 17), (actual.Width, actual.Height));
        Assert.Equal(expected.Pixels, actual.Pixels);
        // And the bottom-up file agrees with PIL.
        var reference = TestSupport.ParseBinaryPnm(TestSupport.Python(
            "import sys\nfrom PIL import Image\nImage.open(sys.argv[1]).convert('RGB').save(sys.stdout.buffer, format='PPM')", bmp));
        Assert.Equal(reference.To8Bit(), expected.Pixels);
    }

    [Fact]
    public void AsciiAndBinaryNetpbmVariants()
    {
        // 3×2 RGB with comments in awkward places; values given directly.
        byte[] p3 = Encoding.ASCII.GetBytes("P3\n# a comment\n3 2 # trailing\n255\n255 0 0  0 255 0  0 0 255\n10 20 30 40 50 60\n70 80 90\n");
        var rgb = ImageDecoder.Decode(p3);
        Assert.Equal((3, 2, 3), (rgb.Width, rgb.Height, rgb.Channels));
        Assert.Equal(new byte[] { 255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30, 40, 50, 60, 70, 80, 90 }, rgb.Pixels);

        // P2 with maxval 15 scales to 0..255.
        var gray = ImageDecoder.Decode(Encoding.ASCII.GetBytes("P2 2 2 15 0 15 5 10"));
        Assert.Equal(new byte[] { 0, 255, 85, 170 }, gray.Pixels);

        // P5 16-bit big-endian, rounded to 8 bits.
        byte[] p5 = [.. Encoding.ASCII.GetBytes("P5\n3 1\n65535\n"), 0x00, 0x00, 0x80, 0x80, 0xFF, 0xFF];
        Assert.Equal(new byte[] { 0, 128, 255 }, ImageDecoder.Decode(p5).Pixels);

        // P6 binary with maxval 255.
        byte[] p6 = [.. Encoding.ASCII.GetBytes("P6 1 2 255\n"), 1, 2, 3, 4, 5, 6];
        Assert.Equal(new byte[] { 1, 2, 3, 4, 5, 6 }, ImageDecoder.Decode(p6).Pixels);

        // PBM: 1 is black. P1 digits may touch; P4 rows are padded to whole bytes.
        Assert.Equal(new byte[] { 0, 255, 255, 0 }, ImageDecoder.Decode(Encoding.ASCII.GetBytes("P1\n2 2\n10\n01")).Pixels);
        byte[] p4 = [.. Encoding.ASCII.GetBytes("P4\n10 1\n"), 0b1010_0000, 0b0100_0000];
        Assert.Equal(new byte[] { 0, 255, 0, 255, 255, 255, 255, 255, 255, 0 }, ImageDecoder.Decode(p4).Pixels);
    }

    [Fact]
    public void NetpbmSixteenBitFromPngtopnmMatches()
    {
        using var temp = TestSupport.CreateTempDirectory();
        // pnmtopng → pngtopnm keeps 16-bit data; read that PPM with our decoder and with the test's parser.
        int width = 9, height = 5;
        var random = new Random(3);
        var samples = Enumerable.Range(0, width * height * 3).Select(_ => random.Next(65536)).ToArray();
        File.WriteAllBytes(temp.File("in.ppm"), PngTests.WritePpm(width, height, 65535, samples));
        byte[] ppm = TestSupport.RunTool("pnmtopnm", ["-plain", temp.File("in.ppm")], TestSupport.NetpbmHint);
        Assert.StartsWith("P3", Encoding.ASCII.GetString(ppm, 0, 2));
        var image = ImageDecoder.Decode(ppm);
        Assert.Equal(samples.Select(v => (byte)Math.Round(v * 255.0 / 65535)).ToArray(), image.Pixels);
    }

    [Fact]
    public void MalformedHeadersGiveClearErrors()
    {
        var error = Assert.Throws<ImageFormatException>(() => ImageDecoder.Decode(Encoding.ASCII.GetBytes("P6\n100000 100000\n255\n")));
        Assert.Contains("100000×100000", error.Message);
        error = Assert.Throws<ImageFormatException>(() => ImageDecoder.Decode(Encoding.ASCII.GetBytes("P6\n100 100\n255\nabc")));
        Assert.Contains("truncated", error.Message);
        error = Assert.Throws<ImageFormatException>(() => ImageDecoder.Decode("GIF89a....."u8.ToArray()));
        Assert.Contains("GIF", error.Message);
        error = Assert.Throws<ImageFormatException>(() => ImageDecoder.Decode(ReadOnlySpan<byte>.Empty));
        Assert.Contains("empty", error.Message);

        // A BMP header claiming 10000×10000 24-bit pixels (within the limits) in a 60-byte file.
        var bmp = new byte[60];
        bmp[0] = (byte)'B'; bmp[1] = (byte)'M';
        BinaryPrimitives.WriteInt32LittleEndian(bmp.AsSpan(10), 54);
        BinaryPrimitives.WriteInt32LittleEndian(bmp.AsSpan(14), 40);
        BinaryPrimitives.WriteInt32LittleEndian(bmp.AsSpan(18), 10000);
        BinaryPrimitives.WriteInt32LittleEndian(bmp.AsSpan(22), 10000);
        BinaryPrimitives.WriteInt16LittleEndian(bmp.AsSpan(26), 1);
        BinaryPrimitives.WriteInt16LittleEndian(bmp.AsSpan(28), 24);
        error = Assert.Throws<ImageFormatException>(() => ImageDecoder.Decode(bmp));
        Assert.Contains("truncated", error.Message);
    }
}
