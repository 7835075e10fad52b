// The packed SIMD GEMM against its scalar specification, over shapes that exercise every edge of the tiling.
namespace AdvVis.Kernels.Tests;

public class GemmTests
{
    private static void Check(bool ta, bool tb, int m, int n, int k, float alpha, float beta, bool scalar)
    {
        var a = TestSupport.RandomValues(m * k, 1); var b = TestSupport.RandomValues(k * n, 2); var c0 = TestSupport.RandomValues(m * n, 3);
        int lda = ta ? m : k, ldb = tb ? k : n;
        var expected = (float[])c0.Clone(); var actual = (float[])c0.Clone();
        Kernels.GemmReference(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, expected, n);
        Kernels.ForceScalarGemm = scalar;
        try { Kernels.Gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, actual, n); }
        finally { Kernels.ForceScalarGemm = false; }
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-5f * (k + 1),
                $"m={m} n={n} k={k} ta={ta} tb={tb} scalar={scalar}: C[{i}] {actual[i]} vs {expected[i]}");
    }

    public static TheoryData<int, int, int> Shapes()
    {
        var data = new TheoryData<int, int, int>();
        // Around the micro-tile (6x16), the row block (72) and the depth block (256).
        foreach (var m in new[] { 1, 5, 6, 7, 71, 73 })
        foreach (var n in new[] { 1, 15, 16, 17, 33 })
        foreach (var k in new[] { 0, 1, 255, 257 })
            data.Add(m, n, k);
        return data;
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void MatchesReferenceOnEdgeShapes(int m, int n, int k)
    {
        Check(false, false, m, n, k, 1f, 0f, scalar: false);
        Check(true, true, m, n, k, 0.5f, 1f, scalar: false);
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public void TransposesAndScalingOnBothPaths(bool ta, bool tb)
    {
        Check(ta, tb, 37, 45, 300, 0.7f, -1.5f, scalar: false);
        Check(ta, tb, 37, 45, 300, 0.7f, -1.5f, scalar: true);
    }

    [Fact]
    public void EveryLengthFromZeroTo256OnBothPaths()
    {
        // (9 and 10 rows: above the small-rows path, so the tiled kernels' edges are what is tested.)
        for (int len = 0; len <= 256; len++)
        {
            Check(false, false, 9, len, 4, 1f, 0f, scalar: false);
            Check(false, false, 9, len, 4, 1f, 0f, scalar: true);
            Check(false, true, 10, 5, len, 1f, 1f, scalar: false);
        }
    }

    [Fact]
    public void SmallRowCountsAsMatrixVectorProducts()
    {
        // One to four rows (batch-1 fully connected layers) skip packing; every transpose, scaling and thread count.
        foreach (int m in new[] { 1, 2, 3, 4 })
        foreach (var (ta, tb) in new[] { (false, false), (false, true), (true, false), (true, true) })
        {
            Check(ta, tb, m, 1000, 1280, 1f, 0f, scalar: false);
            Check(ta, tb, m, 33, 7, 0.5f, -2f, scalar: false);
        }
        // Both the dot products (B transposed) and the row updates (B as stored), whose column chunks differ.
        var a = TestSupport.RandomValues(3 * 700, 6); var b = TestSupport.RandomValues(900 * 700, 7);
        foreach (bool tb in new[] { true, false })
        {
            float[] Run(int threads) => TestSupport.WithThreads(threads, () =>
            {
                var c = new float[3 * 900];
                Kernels.Gemm(false, tb, 3, 900, 700, 1f, a, 700, b, tb ? 700 : 900, 0f, c, 900);
                return c;
            });
            Assert.Equal(Run(1), Run(2));
            Assert.Equal(Run(1), Run(3));
        }
    }

    [Fact]
    public void ResultsDoNotDependOnThreadCount()
    {
        var a = TestSupport.RandomValues(300 * 200, 4); var b = TestSupport.RandomValues(200 * 150, 5);
        float[] Run(int threads) => TestSupport.WithThreads(threads, () =>
        {
            var c = new float[300 * 150];
            Kernels.Gemm(false, false, 300, 150, 200, 1f, a, 200, b, 150, 0f, c, 150);
            return c;
        });
        Assert.Equal(Run(1), Run(2));
        Assert.Equal(Run(1), Run(4));
    }
}

public class Im2ColTests
{
    [Theory]
    [InlineData(3, 3, 1, 1, 1, 1)]
    [InlineData(3, 3, 2, 2, 1, 0)]
    [InlineData(2, 5, 1, 3, 2, 2)]
    public void Col2ImIsTheAdjointOfIm2Col(int kh, int kw, int sh, int sw, int dilation, int pad)
    {
        // <im2col(x), y> = <x, col2im(y)> for all x, y is what makes col2im the exact gradient of im2col.
        int c = 2, h = 7, w = 8;
        int oh = (h + 2 * pad - ((kh - 1) * dilation + 1)) / sh + 1, ow = (w + 2 * pad - ((kw - 1) * dilation + 1)) / sw + 1;
        var g = new ConvGeometry(c, h, w, kh, kw, sh, sw, pad, pad, dilation, dilation, oh, ow);
        var rng = new Random(11);
        var x = Enumerable.Range(0, c * h * w).Select(_ => (float)rng.NextDouble()).ToArray();
        var y = Enumerable.Range(0, g.ColumnRows * g.ColumnCols).Select(_ => (float)rng.NextDouble()).ToArray();
        var cols = new float[y.Length];
        Kernels.Im2Col(x, g, cols);
        var back = new float[x.Length];
        Kernels.Col2ImAccumulate(y, g, back);
        double left = cols.Zip(y, (p, q) => (double)p * q).Sum();
        double right = x.Zip(back, (p, q) => (double)p * q).Sum();
        Assert.True(Math.Abs(left - right) <= 1e-6 * Math.Abs(left), $"{left} vs {right}");
    }

    [Theory]
    [InlineData(3, 2, 1, 32, 32)]  // ResNet's stride-2 layers: rows of 16 outputs, vectors of 8
    [InlineData(3, 2, 1, 33, 31)]  // odd sizes: a last vector that would pass the row's end is left to the scalar loop
    [InlineData(1, 2, 0, 30, 29)]  // a 1x1 shortcut
    [InlineData(3, 3, 1, 40, 41)]  // stride 3: scalar
    public void Col2ImMatchesTheScalarScatterBitForBit(int k, int stride, int pad, int h, int w)
    {
        // The image starts with signed zeros among its values: the vector path adds −0 between the strided columns,
        // which must leave each of them (−0 included) as it was.
        int c = 3, oh = (h + 2 * pad - k) / stride + 1, ow = (w + 2 * pad - k) / stride + 1;
        var g = new ConvGeometry(c, h, w, k, k, stride, stride, pad, pad, 1, 1, oh, ow);
        var rng = new Random(5);
        var columns = Enumerable.Range(0, g.ColumnRows * g.ColumnCols).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        var start = Enumerable.Range(0, c * h * w).Select(i => i % 3 == 0 ? -0f : (float)(rng.NextDouble() * 2 - 1)).ToArray();
        var expected = (float[])start.Clone();
        int row = 0;
        for (int ci = 0; ci < c; ci++)
        for (int kh = 0; kh < k; kh++)
        for (int kw = 0; kw < k; kw++, row++)
        for (int y = 0; y < oh; y++)
        for (int x = 0; x < ow; x++)
        {
            int ih = y * stride - pad + kh, iw = x * stride - pad + kw;
            if ((uint)ih < (uint)h && (uint)iw < (uint)w) expected[(ci * h + ih) * w + iw] += columns[row * oh * ow + y * ow + x];
        }
        var actual = (float[])start.Clone();
        Kernels.Col2ImAccumulate(columns, g, actual);
        Assert.Equal(expected.Select(BitConverter.SingleToInt32Bits), actual.Select(BitConverter.SingleToInt32Bits));
    }

    [Fact]
    public void Im2ColPlacesPaddingZerosAndPixels()
    {
        var g = new ConvGeometry(1, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 3, 3);
        var cols = new float[4 * 9];
        Kernels.Im2Col(new float[] { 1, 2, 3, 4 }, g, cols);
        // Row (kh=0, kw=0) reads x[oh-1, ow-1]: only output (1,1)..(2,2) see pixels.
        Assert.Equal(new float[] { 0, 0, 0, 0, 1, 2, 0, 3, 4 }, cols[..9]);
    }
}
