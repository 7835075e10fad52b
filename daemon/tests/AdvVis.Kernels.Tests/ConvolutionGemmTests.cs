// The implicit-GEMM convolution against its specification: explicit im2col followed by the scalar reference GEMM.
namespace AdvVis.Kernels.Tests;

public class ConvolutionGemmTests
{
    private static ConvGeometry Geometry(int c, int h, int w, int kh, int kw, int stride, int pad, int dilation)
    {
        int oh = (h + 2 * pad - ((kh - 1) * dilation + 1)) / stride + 1;
        int ow = (w + 2 * pad - ((kw - 1) * dilation + 1)) / stride + 1;
        return new ConvGeometry(c, h, w, kh, kw, stride, stride, pad, pad, dilation, dilation, oh, ow);
    }

    /// <summary>The specification: per image, im2col then C = init + W · cols in double precision.</summary>
    private static float[] Reference(float[] x, int xStride, ConvGeometry g, int images, float[] w, int m, float[]? bias,
        float[] y0, int yStride, bool accumulate)
    {
        int plane = g.OutHeight * g.OutWidth, k = g.ColumnRows;
        var y = (float[])y0.Clone();
        var cols = new float[Math.Max(1, k * plane)];
        for (int n = 0; n < images; n++)
        {
            Kernels.Im2Col(x.AsSpan(n * xStride), g, cols);
            var yn = y.AsSpan(n * yStride, m * plane);
            if (!accumulate)
                for (int r = 0; r < m; r++) yn.Slice(r * plane, plane).Fill(bias?[r] ?? 0f);
            Kernels.GemmReference(false, false, m, plane, k, 1f, w, k, cols, plane, 1f, yn, plane);
        }
        return y;
    }

    private static void Check(int images, int c, int h, int wd, int m, int kh, int kw, int stride, int pad, int dilation,
        bool withBias, bool accumulate, int seed = 7)
    {
        Check(images, c, h, wd, m, kh, kw, stride, stride, pad, dilation, withBias, accumulate, direct: false, seed);
        Check(images, c, h, wd, m, kh, kw, stride, stride, pad, dilation, withBias, accumulate, direct: true, seed);
    }

    private static void Check(int images, int c, int h, int wd, int m, int kh, int kw, int strideH, int strideW, int pad, int dilation,
        bool withBias, bool accumulate, bool direct, int seed)
    {
        int stride = strideH;
        var g = Geometry(c, h, wd, kh, kw, stride, pad, dilation) with { StrideW = strideW };
        g = g with { OutWidth = (wd + 2 * pad - ((kw - 1) * dilation + 1)) / strideW + 1 };
        int plane = g.OutHeight * g.OutWidth, k = g.ColumnRows;
        // Strides larger than the data they hold: other channels of a grouped layout sit in between.
        int xStride = c * h * wd + 5, yStride = m * plane + 3;
        var x = TestSupport.RandomValues(images * xStride, seed);
        var w = TestSupport.RandomValues(m * k, seed + 1);
        var bias = withBias ? TestSupport.RandomValues(m, seed + 2) : null;
        var y0 = TestSupport.RandomValues(images * yStride, seed + 3);
        var expected = Reference(x, xStride, g, images, w, m, bias, y0, yStride, accumulate);
        var actual = (float[])y0.Clone();
        if (direct) Kernels.DirectConvolution(x, xStride, g, images, w, m, bias, actual, yStride, accumulate);
        else Kernels.ConvolutionGemm(x, xStride, g, images, w, m, k, bias, actual, yStride, accumulate);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-5f * (k + 1),
                $"direct={direct} images={images} c={c} {h}x{wd} m={m} k={kh}x{kw} s={stride} p={pad} d={dilation}: y[{i}] {actual[i]} vs {expected[i]}");
    }

    public static TheoryData<int, int, int, int, int, int, int> Geometries()
    {
        // images, channels, size, out channels, kernel, stride, padding
        var data = new TheoryData<int, int, int, int, int, int, int>
        {
            { 3, 5, 9, 7, 3, 1, 1 },    // 81-pixel planes: panels straddle images, rows not a multiple of 8
            { 2, 3, 32, 16, 3, 1, 1 },  // one output row per panel
            { 5, 4, 4, 9, 3, 1, 1 },    // 16-pixel planes: two images per panel
            { 2, 6, 11, 8, 3, 2, 1 },   // strided
            { 2, 6, 10, 8, 5, 2, 2 },
            { 4, 30, 7, 33, 3, 1, 0 },  // depth 270: two depth blocks; unpadded
            { 3, 300, 5, 10, 1, 1, 0 }, // 1x1 over whole planes, depth 300
            { 2, 8, 6, 12, 1, 2, 0 },   // 1x1 strided (a shortcut)
            { 1, 3, 40, 1, 3, 1, 1 },   // a single output row of W
            { 1, 1, 1, 4, 1, 1, 0 },    // one pixel
        };
        return data;
    }

    [Theory]
    [MemberData(nameof(Geometries))]
    public void MatchesIm2ColGemm(int images, int c, int size, int m, int kernel, int stride, int pad)
    {
        Check(images, c, size, size, m, kernel, kernel, stride, pad, 1, withBias: true, accumulate: false);
        Check(images, c, size, size, m, kernel, kernel, stride, pad, 1, withBias: false, accumulate: false);
        Check(images, c, size, size, m, kernel, kernel, stride, pad, 1, withBias: false, accumulate: true);
    }

    [Fact]
    public void DilatedRectangularAndLargePaddings()
    {
        Check(2, 3, 9, 13, 5, 3, 2, 1, 2, 2, withBias: true, accumulate: false);
        Check(2, 2, 5, 5, 3, 3, 3, 1, 4, 1, withBias: true, accumulate: true); // padding wider than the kernel reach
        Check(3, 2, 12, 1, 4, 3, 1, 1, 1, 1, withBias: false, accumulate: false); // a column image
    }

    [Fact]
    public void DirectConvolutionWithStrides()
    {
        Check(3, 4, 11, 9, 5, 3, 3, 2, 1, 1, 1, withBias: true, accumulate: false, direct: true, seed: 9);
        Check(2, 3, 10, 20, 6, 5, 3, 3, 1, 2, 1, withBias: false, accumulate: true, direct: true, seed: 10);
        Check(2, 3, 40, 41, 7, 3, 3, 1, 2, 1, 1, withBias: true, accumulate: false, direct: true, seed: 11);  // strided rows
        Check(2, 2, 30, 37, 5, 3, 3, 3, 3, 2, 2, withBias: true, accumulate: true, direct: true, seed: 12);   // stride 3, dilation 2
        Assert.False(Kernels.SupportsDirectConvolution(Geometry(5000, 8, 8, 3, 3, 2, 1, 1)));
    }

    [Fact]
    public void BitIdenticalAcrossThreadCountsAndMicroKernels()
    {
        var g = Geometry(19, 12, 12, 3, 3, 1, 1, 1);
        int images = 5, m = 21, plane = g.OutHeight * g.OutWidth, k = g.ColumnRows;
        var x = TestSupport.RandomValues(images * 19 * 144, 1); var w = TestSupport.RandomValues(m * k, 2); var bias = TestSupport.RandomValues(m, 3);
        TestSupport.SameBitsOnEveryThreadCountAndMicroKernel(() =>
        {
            var y = new float[images * m * plane];
            Kernels.ConvolutionGemm(x, 19 * 144, g, images, w, m, k, bias, y, m * plane, accumulate: false);
            return y;
        });
    }

    [Fact]
    public void PrepackedFiltersGiveTheSameBits()
    {
        var g = Geometry(7, 9, 9, 3, 3, 1, 1, 1);
        int images = 3, m = 13, plane = g.OutHeight * g.OutWidth, k = g.ColumnRows;
        var x = TestSupport.RandomValues(images * 7 * 81, 4); var w = TestSupport.RandomValues(m * k, 5); var bias = TestSupport.RandomValues(m, 6);
        var direct = new float[images * m * plane]; var prepacked = new float[direct.Length];
        Kernels.ConvolutionGemm(x, 7 * 81, g, images, w, m, k, bias, direct, m * plane, accumulate: false);
        var filters = Kernels.PackFilters(w, m, k, k);
        Kernels.ConvolutionGemm(x, 7 * 81, g, images, filters, bias, prepacked, m * plane, accumulate: false);
        Assert.Equal(direct, prepacked);
        Assert.Throws<ArgumentException>(() => Kernels.ConvolutionGemm(x, 7 * 81, Geometry(7, 9, 9, 1, 1, 1, 0, 1), images,
            filters, bias, prepacked, m * plane, accumulate: false));
    }

    [Fact]
    public void FingerprintChangesWhenAnySingleWeightChanges()
    {
        foreach (int length in new[] { 1, 31, 32, 33, 100, 257 })
        {
            var w = TestSupport.RandomValues(length, length);
            var before = WeightFingerprint.Of(w);
            Assert.Equal(before, WeightFingerprint.Of((float[])w.Clone()));
            for (int i = 0; i < length; i++)
            {
                float original = w[i];
                w[i] = BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(original) ^ 1); // one bit
                Assert.NotEqual(before, WeightFingerprint.Of(w));
                w[i] = original;
            }
            Assert.NotEqual(before, WeightFingerprint.Of(w.AsSpan(0, length - 1)));
        }
    }

    [Fact]
    public void RejectsBuffersSmallerThanTheGeometry()
    {
        var g = Geometry(2, 4, 4, 3, 3, 1, 1, 1);
        Assert.Throws<ArgumentException>(() =>
            Kernels.ConvolutionGemm(new float[31], 32, g, 1, new float[3 * 18], 3, 18, default, new float[48], 48, false));
    }
}
