// ImageTests: Image helpers: resize against PIL's BILINEAR (antialiased, bit-exact) as the reference, torchvision's
// resize-shorter-side and centre-crop conventions, channel conversion against PIL's "L", and the float
// tensor layouts.

namespace AdvVis.Data.Tests;

public sealed class ImageTests
{
    [Theory]
    [InlineData(224, 224)]   // downscale 512 → 224 (antialiasing matters)
    [InlineData(100, 37)]    // strong, anisotropic downscale
    [InlineData(700, 600)]   // upscale
    public void BilinearResizeMatchesPil(int width, int height)
    {
        string file = Directory.GetFiles(TestSupport.DataPath("imagenet", "foolbox_samples"), "*.jpg").Order().First();
        var image = ImageDecoder.Decode(file);
        var resized = image.Resize(width, height);
        var reference = TestSupport.ParseBinaryPnm(TestSupport.Python(
            "import sys\nfrom PIL import Image\nim = Image.open(sys.argv[1]).convert('RGB').resize((int(sys.argv[2]), int(sys.argv[3])), Image.BILINEAR)\n" +
            "im.save(sys.stdout.buffer, format='PPM')", file, width.ToString(), height.ToString()));
        Assert.Equal((reference.Width, reference.Height), (resized.Width, resized.Height));
        var (mean, max) = TestSupport.Difference(resized.Pixels, reference.To8Bit());
        // Same fixed-point arithmetic as PIL, so the result should be identical.
        Assert.True(max == 0, $"resize {width}x{height}: mean {mean} max {max}");
    }

    [Fact]
    public void ResizeShorterSideAndCenterCropFollowTorchvision()
    {
        var image = new Image(500, 375, 3);
        var resized = image.ResizeShorterSide(256);
        Assert.Equal((341, 256), (resized.Width, resized.Height)); // int(256 * 500 / 375) = 341
        var tall = new Image(333, 500, 1).ResizeShorterSide(224);
        Assert.Equal((224, 336), (tall.Width, tall.Height));

        // Centre crop offsets: round((341 - 224) / 2) = round(58.5) = 58 (ties to even, like Python).
        var marked = new Image(341, 256, 1);
        marked[58, 16, 0] = 200;
        var crop = marked.CenterCrop(224, 224);
        Assert.Equal(200, crop[0, 0, 0]);
        Assert.Throws<ArgumentOutOfRangeException>(() => marked.CenterCrop(400, 10));
    }

    [Fact]
    public void GrayConversionMatchesPil()
    {
        string file = Directory.GetFiles(TestSupport.DataPath("cifar10", "foolbox_samples"), "*.png").Order().First();
        var reference = TestSupport.ParseBinaryPnm(TestSupport.Python(
            "import sys\nfrom PIL import Image\nImage.open(sys.argv[1]).convert('L').save(sys.stdout.buffer, format='PPM')", file));
        Assert.Equal(reference.To8Bit(), ImageDecoder.Decode(file).ToGray().Pixels);
    }

    [Fact]
    public void FloatTensorLayouts()
    {
        var image = new Image(2, 1, 3, [10, 20, 30, 40, 50, 60]);
        Assert.Equal(new[] { 10f, 40, 20, 50, 30, 60 }, image.ToFloatChw(1f));
        Assert.Equal(new[] { 10f, 20, 30, 40, 50, 60 }, image.ToFloatHwc(1f));
        float[] normalized = image.ToFloatChw(1f, mean: [10, 20, 30], std: [2, 4, 5]);
        Assert.Equal(new[] { 0f, 15, 0, 7.5f, 0, 6 }, normalized);
        var back = Image.FromFloatChw(image.ToFloatChw(), 3, 1, 2);
        Assert.Equal(image.Pixels, back.Pixels);
        Assert.Equal(new byte[] { 0, 255 }, Image.FromFloatChw(new[] { -0.2f, 1.7f }, 1, 1, 2).Pixels);
        Assert.Throws<ArgumentException>(() => image.ToFloatChw(1f, mean: [1f]));
    }

    [Fact]
    public void ChannelConversions()
    {
        var gray = new Image(1, 1, 1, [77]);
        Assert.Equal(new byte[] { 77, 77, 77 }, gray.ToRgb().Pixels);
        var rgba = new Image(1, 1, 4, [1, 2, 3, 4]);
        Assert.Equal(new byte[] { 1, 2, 3 }, rgba.ToRgb().Pixels);
        Assert.Same(gray, gray.ToGray());
        Assert.Throws<ArgumentOutOfRangeException>(() => gray.ToChannels(2));
    }
}
