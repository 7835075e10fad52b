// Winograd F(2x2, 3x3) against its specification, the direct sum (explicit im2col, then the double-precision reference
// GEMM), on odd and even sizes, paddings 0-2, depths across a depth block, filter counts off the micro-kernel's rows.
namespace AdvVis.Kernels.Tests;

[Collection("SIMD switches")]
public class WinogradTests
{
    private static ConvGeometry Geometry(int c, int h, int w, int padTop, int padLeft, int padBottom, int padRight) =>
        new(c, h, w, 3, 3, 1, 1, padTop, padLeft, 1, 1, h + padTop + padBottom - 2, w + padLeft + padRight - 2);

    /// <summary>The direct sum per image: Y = init + W · im2col(X), accumulated in double.</summary>
    private static float[] Reference(float[] x, int xStride, ConvGeometry g, int images, float[] w, int m, float[]? bias,
        float[] y0, int yStride, bool accumulate)
    {
        int plane = g.OutHeight * g.OutWidth, k = g.ColumnRows;
        var y = (float[])y0.Clone();
        var cols = new float[k * plane];
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

    private static void Check(int images, int c, int h, int wd, int m, int pad, bool withBias, bool accumulate, int seed = 3,
        int? padBottom = null)
    {
        var g = Geometry(c, h, wd, pad, pad, padBottom ?? pad, pad);
        int plane = g.OutHeight * g.OutWidth, k = g.ColumnRows;
        // Strides larger than the data they hold, as in a grouped layout.
        int xStride = c * h * wd + 3, yStride = m * plane + 5;
        var x = TestSupport.RandomValues(images * xStride, seed);
        var w = TestSupport.RandomValues(m * k, seed + 1);
        var bias = withBias ? TestSupport.RandomValues(m, seed + 2) : null;
        var y0 = TestSupport.RandomValues(images * yStride, seed + 3);
        var expected = Reference(x, xStride, g, images, w, m, bias, y0, yStride, accumulate);
        var actual = (float[])y0.Clone();
        Kernels.WinogradConvolution(x, xStride, g, images, Kernels.TransformFilters(w, m, c), bias, actual, yStride, accumulate);
        // Inputs and weights are in [-1, 1): a sum of k products has scale ~sqrt(k); the transforms add a few roundings.
        float tolerance = 2e-6f * k;
        for (int n = 0; n < images; n++)
        for (int i = 0; i < yStride; i++)
        {
            int at = n * yStride + i;
            Assert.True(Math.Abs(expected[at] - actual[at]) <= tolerance,
                $"images={images} c={c} {h}x{wd} m={m} pad={pad}: y[{at}] {actual[at]} vs {expected[at]}");
        }
    }

    public static TheoryData<int, int, int, int, int, int> Geometries() => new()
    {
        // images, channels, height, width, filters, padding
        { 2, 5, 8, 8, 7, 1 },     // 4x4 tiles per image, filters not a multiple of 8
        { 3, 4, 9, 9, 9, 1 },     // odd output: the last tile row and column half outside
        { 1, 3, 32, 32, 16, 1 },  // 16 tiles per row: a run fills half a panel
        { 2, 6, 7, 12, 5, 0 },    // unpadded, odd height (5x10 outputs)
        { 2, 2, 6, 5, 3, 2 },     // padding 2 (8x7 outputs)
        { 5, 3, 4, 4, 4, 1 },     // 4 tiles per image: panels straddle images
        { 2, 300, 6, 6, 10, 1 },  // depth 300: two depth blocks of the micro-kernel
        { 1, 8, 3, 3, 130, 1 },   // 130 filters: more than one row block
        { 40, 2, 8, 8, 3, 1 },    // 640 tiles: many chunks
        { 1, 1, 1, 1, 1, 1 },     // one pixel
        { 1, 3, 17, 17, 5, 1 },   // 9 tiles per row: 8 written as full pairs, the last one half outside
        { 2, 3, 15, 15, 6, 1 },   // 8 tiles per row, the last half outside: no full-pair vector
    };

    [Theory]
    [MemberData(nameof(Geometries))]
    public void MatchesTheDirectSum(int images, int c, int h, int w, int m, int pad)
    {
        Check(images, c, h, w, m, pad, withBias: true, accumulate: false);
        Check(images, c, h, w, m, pad, withBias: false, accumulate: false);
        Check(images, c, h, w, m, pad, withBias: false, accumulate: true);
    }

    [Fact]
    public void UnequalPaddings() => Check(2, 3, 7, 9, 6, 1, withBias: true, accumulate: false, padBottom: 0);

    [Fact]
    public void ClampIsTheActivationOfTheResult()
    {
        // 20x20 outputs: 10 tiles per row, 8 of them written as vectors, 2 one by one.
        var g = Geometry(4, 20, 20, 1, 1, 1, 1);
        int images = 2, m = 9, plane = g.OutHeight * g.OutWidth;
        var x = TestSupport.RandomValues(images * 4 * 400, 5); var w = TestSupport.RandomValues(m * 36, 6); var bias = TestSupport.RandomValues(m, 7);
        var filters = Kernels.TransformFilters(w, m, 4);
        var plain = new float[images * m * plane]; var clamped = new float[plain.Length];
        Kernels.WinogradConvolution(x, 1600, g, images, filters, bias, plain, m * plane, accumulate: false);
        Kernels.WinogradConvolution(x, 1600, g, images, filters, bias, clamped, m * plane, accumulate: false, new OutputClamp(0f, 0.5f));
        Assert.Equal(plain.Select(v => Math.Min(Math.Max(v, 0f), 0.5f)).ToArray(), clamped);
        Assert.Throws<ArgumentException>(() =>
            Kernels.WinogradConvolution(x, 1600, g, images, filters, bias, clamped, m * plane, accumulate: true, OutputClamp.Relu));
    }

    [Fact]
    public void BitIdenticalAcrossThreadCountsAndMicroKernels()
    {
        var g = Geometry(19, 14, 14, 1, 1, 1, 1);
        int images = 5, m = 21, plane = g.OutHeight * g.OutWidth;
        var x = TestSupport.RandomValues(images * 19 * 196, 1); var w = TestSupport.RandomValues(m * 19 * 9, 2); var bias = TestSupport.RandomValues(m, 3);
        var filters = Kernels.TransformFilters(w, m, 19);
        TestSupport.SameBitsOnEveryThreadCountAndMicroKernel(() =>
        {
            var y = new float[images * m * plane];
            Kernels.WinogradConvolution(x, 19 * 196, g, images, filters, bias, y, m * plane, accumulate: false);
            return y;
        });
    }

    [Fact]
    public void TransformsGiveTheSameBitsOnEveryPath()
    {
        // The input and output transforms' vector code against their scalar loops (the SIMD switch turns vectors off):
        // padded edges, runs of 16 tiles and of 5, odd sizes with a half-outside tile, clamp and accumulate.
        foreach (var (c, h, w, m) in new[] { (3, 32, 32, 9), (4, 11, 10, 8), (2, 17, 15, 5) })
        {
            var g = Geometry(c, h, w, 1, 1, 1, 1);
            int images = 2, plane = g.OutHeight * g.OutWidth;
            var x = TestSupport.RandomValues(images * c * h * w, 11); var wt = TestSupport.RandomValues(m * c * 9, 12);
            var bias = TestSupport.RandomValues(m, 13); var y0 = TestSupport.RandomValues(images * m * plane, 14);
            var filters = Kernels.TransformFilters(wt, m, c);
            float[] Run(int path, bool accumulate)
            {
                var y = (float[])y0.Clone();
                Kernels.DisableSimdAbove = path;
                try
                {
                    Kernels.WinogradConvolution(x, c * h * w, g, images, filters, bias, y, m * plane, accumulate,
                        accumulate ? default : new OutputClamp(-0.5f, 0.75f));
                }
                finally { Kernels.DisableSimdAbove = int.MaxValue; }
                return y;
            }
            foreach (bool accumulate in new[] { false, true })
                Assert.Equal(Run(int.MaxValue, accumulate).Select(BitConverter.SingleToInt32Bits), Run(256, accumulate).Select(BitConverter.SingleToInt32Bits));
        }
    }

    [Fact]
    public void RejectsWhatItDoesNotCompute()
    {
        var filters = Kernels.TransformFilters(new float[2 * 3 * 9], 2, 3);
        var strided = new ConvGeometry(3, 8, 8, 3, 3, 2, 2, 1, 1, 1, 1, 4, 4);
        Assert.False(Kernels.SupportsWinograd(strided));
        Assert.Throws<ArgumentException>(() => Kernels.WinogradConvolution(new float[192], 192, strided, 1, filters, default, new float[32], 32, false));
        Assert.Throws<ArgumentException>(() => Kernels.WinogradConvolution(new float[128], 128, Geometry(2, 8, 8, 1, 1, 1, 1), 1, filters, default, new float[128], 128, false));
        Assert.Throws<ArgumentException>(() => Kernels.WinogradConvolution(new float[100], 192, Geometry(3, 8, 8, 1, 1, 1, 1), 1, filters, default, new float[128], 128, false));
        Assert.Throws<ArgumentException>(() => Kernels.TransformFilters(new float[10], 2, 3));
    }
}
