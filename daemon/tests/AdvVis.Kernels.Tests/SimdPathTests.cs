// Every SIMD kernel against its scalar reference, on every length 0-256 and on each path this machine has
// (Vector512, Vector256, scalar), bit for bit: the paths do the same IEEE operations per element in the same order.
using System.Runtime.Intrinsics;

namespace AdvVis.Kernels.Tests;

/// <summary>Tests that flip the global SIMD switches run one at a time.</summary>
[CollectionDefinition("SIMD switches", DisableParallelization = true)]
public class SimdSwitchesCollection { }

[Collection("SIMD switches")]
public class SimdPathTests
{
    /// <summary>Values with the awkward cases mixed in: zeros of both signs, ties with clip bounds, infinities, NaN.</summary>
    internal static float[] Values(int n, int seed)
    {
        var rng = new Random(seed);
        var v = new float[n];
        float[] special = [0f, -0f, 6f, 1f, float.PositiveInfinity, float.NegativeInfinity, float.NaN, 1e-40f];
        for (int i = 0; i < n; i++)
            v[i] = rng.Next(10) == 0 ? special[rng.Next(special.Length)] : (float)(rng.NextDouble() * 16 - 8);
        return v;
    }

    public static TheoryData<int> Paths() => [int.MaxValue, 512, 256];

    private static void OnPath(int path, Action body)
    {
        Kernels.DisableSimdAbove = path;
        try { body(); }
        finally { Kernels.DisableSimdAbove = int.MaxValue; }
    }

    private static void Same(float[] expected, float[] actual, string what)
    {
        for (int i = 0; i < expected.Length; i++)
            Assert.True(BitConverter.SingleToInt32Bits(expected[i]) == BitConverter.SingleToInt32Bits(actual[i]) ||
                        (float.IsNaN(expected[i]) && float.IsNaN(actual[i])),
                $"{what}: element {i} of {expected.Length}: {actual[i]} vs reference {expected[i]}");
    }

    [Theory, MemberData(nameof(Paths))]
    public void MulAddMatchesReference(int path) => OnPath(path, () =>
    {
        for (int n = 0; n <= 256; n++)
        {
            var x = Values(n, n); var y0 = Values(n, n + 1000);
            var expected = (float[])y0.Clone(); var actual = (float[])y0.Clone();
            Kernels.MulAddReference(x, 0.37f, expected);
            Kernels.MulAdd(x, 0.37f, actual);
            Same(expected, actual, $"MulAdd n={n} path={path}");
        }
    });

    [Theory, MemberData(nameof(Paths))]
    public void DotMatchesReference(int path) => OnPath(path, () =>
    {
        for (int n = 0; n <= 256; n++)
        {
            var x = Values(n, n).Select(v => float.IsFinite(v) ? v : 2f).ToArray();
            var y = Values(n, n + 7).Select(v => float.IsFinite(v) ? v : -3f).ToArray();
            Same([Kernels.DotReference(x, y)], [Kernels.Dot(x, y)], $"Dot n={n} path={path}");
        }
    });

    [Theory, MemberData(nameof(Paths))]
    public void ClipMatchesReference(int path) => OnPath(path, () =>
    {
        for (int n = 0; n <= 256; n++)
        {
            var x = Values(n, n);
            var expected = new float[n]; var actual = new float[n];
            Kernels.ClipReference(x, 0f, 6f, expected);
            Kernels.Clip(x, 0f, 6f, actual);
            Same(expected, actual, $"Clip n={n} path={path}");
        }
    });

    [Theory, MemberData(nameof(Paths))]
    public void ClipAndReluBackwardMatchReference(int path) => OnPath(path, () =>
    {
        for (int n = 0; n <= 256; n++)
        {
            var x = Values(n, n); var dy = Values(n, n + 1); var dx0 = Values(n, n + 2);
            var expected = (float[])dx0.Clone(); var actual = (float[])dx0.Clone();
            Kernels.ClipBackwardReference(x, 0f, 6f, dy, expected);
            Kernels.ClipBackward(x, 0f, 6f, dy, actual);
            Same(expected, actual, $"ClipBackward n={n} path={path}");
            expected = (float[])dx0.Clone(); actual = (float[])dx0.Clone();
            Kernels.ReluBackwardReference(x, dy, expected);
            Kernels.ReluBackward(x, dy, actual);
            Same(expected, actual, $"ReluBackward n={n} path={path}");
        }
    });

    [Theory, MemberData(nameof(Paths))]
    public void AssigningClipAndReluBackwardMatchReferenceAndAddingIntoZeros(int path) => OnPath(path, () =>
    {
        for (int n = 0; n <= 256; n++)
        {
            // dx starts as garbage (the assigning kernels never read it); dy holds −0 among its special values.
            var x = Values(n, n); var dy = Values(n, n + 1); var garbage = Values(n, n + 2);
            var expected = (float[])garbage.Clone(); var actual = (float[])garbage.Clone(); var zeros = new float[n];
            Kernels.ClipBackwardAssignReference(x, 0f, 6f, dy, expected);
            Kernels.ClipBackwardAssign(x, 0f, 6f, dy, actual);
            Kernels.ClipBackwardReference(x, 0f, 6f, dy, zeros);
            Same(expected, actual, $"ClipBackwardAssign n={n} path={path}");
            Same(zeros, actual, $"ClipBackwardAssign vs ClipBackward into zeros n={n} path={path}");
            expected = (float[])garbage.Clone(); actual = (float[])garbage.Clone(); zeros = new float[n];
            Kernels.ReluBackwardAssignReference(x, dy, expected);
            Kernels.ReluBackwardAssign(x, dy, actual);
            Kernels.ReluBackwardReference(x, dy, zeros);
            Same(expected, actual, $"ReluBackwardAssign n={n} path={path}");
            Same(zeros, actual, $"ReluBackwardAssign vs ReluBackward into zeros n={n} path={path}");
        }
    });

    public static TheoryData<int, int, int, int, int, int> DepthwiseShapes() => new()
    {
        // kernel, stride, pad, dilation, height, width
        { 3, 1, 1, 1, 7, 9 }, { 3, 2, 1, 1, 8, 9 }, { 3, 2, 0, 1, 9, 8 }, { 5, 1, 2, 1, 6, 5 },
        { 3, 1, 2, 2, 7, 7 }, { 1, 1, 0, 1, 3, 4 }, { 3, 3, 1, 1, 10, 11 }, { 3, 1, 1, 1, 1, 1 }, { 3, 2, 1, 1, 28, 40 }, { 3, 1, 1, 1, 5, 37 },
        { 3, 1, 1, 1, 7, 7 }, { 3, 2, 1, 1, 14, 14 }, { 3, 2, 1, 1, 57, 57 }, { 3, 1, 0, 1, 4, 4 }, { 2, 2, 0, 1, 6, 7 }, // MobileNet-sized planes, odd and unpadded
    };

    [Theory, MemberData(nameof(DepthwiseShapes))]
    public void DepthwiseKernelsMatchReferenceOnEveryPath(int k, int s, int pad, int d, int h, int w)
    {
        int oh = (h + 2 * pad - ((k - 1) * d + 1)) / s + 1, ow = (w + 2 * pad - ((k - 1) * d + 1)) / s + 1;
        var g = new ConvGeometry(1, h, w, k, k, s, s, pad, pad, d, d, oh, ow);
        var x = Values(h * w, 1).Select(v => float.IsFinite(v) ? v : 0.5f).ToArray();
        var kern = Values(k * k, 2).Select(v => float.IsFinite(v) ? v : 0.25f).ToArray();
        var dy = Values(oh * ow, 3).Select(v => float.IsFinite(v) ? v : -1f).ToArray();
        foreach (var path in new[] { int.MaxValue, 512, 256 })
        {
            OnPath(path, () =>
            {
                var expected = new float[oh * ow]; var actual = new float[oh * ow];
                Kernels.DepthwiseConvReference(x, kern, g, expected);
                Kernels.DepthwiseConv(x, kern, g, actual);
                Same(expected, actual, $"DepthwiseConv path={path}");

                var dx0 = Values(h * w, 4).Select(v => float.IsFinite(v) ? v : 0f).ToArray();
                expected = (float[])dx0.Clone(); actual = (float[])dx0.Clone();
                Kernels.DepthwiseConvBackwardInputReference(dy, kern, g, expected);
                Kernels.DepthwiseConvBackwardInput(dy, kern, g, actual);
                Same(expected, actual, $"DepthwiseConvBackwardInput path={path}");

                expected = new float[k * k]; actual = new float[k * k];
                Kernels.DepthwiseConvBackwardKernelReference(x, dy, g, expected);
                Kernels.DepthwiseConvBackwardKernel(x, dy, g, actual);
                Same(expected, actual, $"DepthwiseConvBackwardKernel path={path}");
            });
        }
    }

    [Fact]
    public void DepthwiseBackwardIsTheAdjointOfForward()
    {
        // <conv(x), dy> = <x, convᵀ(dy)> = <k, dk(x, dy)>: the backward rules are the exact adjoints.
        var g = new ConvGeometry(1, 9, 10, 3, 3, 2, 2, 1, 1, 1, 1, 5, 5);
        var rng = new Random(5);
        var x = Enumerable.Range(0, 90).Select(_ => (float)rng.NextDouble()).ToArray();
        var k = Enumerable.Range(0, 9).Select(_ => (float)rng.NextDouble()).ToArray();
        var dy = Enumerable.Range(0, 25).Select(_ => (float)rng.NextDouble()).ToArray();
        var y = new float[25]; var dx = new float[90]; var dk = new float[9];
        Kernels.DepthwiseConv(x, k, g, y);
        Kernels.DepthwiseConvBackwardInput(dy, k, g, dx);
        Kernels.DepthwiseConvBackwardKernel(x, dy, g, dk);
        double yDy = y.Zip(dy, (a, b) => (double)a * b).Sum();
        Assert.Equal(yDy, x.Zip(dx, (a, b) => (double)a * b).Sum(), 4);
        Assert.Equal(yDy, k.Zip(dk, (a, b) => (double)a * b).Sum(), 4);
    }

    [Fact]
    public void GemmPathsGiveIdenticalBits()
    {
        // AVX-512, AVX2 and scalar micro-kernels all do one fused multiply-add per k in the same order.
        var rng = new Random(9);
        foreach (var (m, n, k) in new[] { (37, 45, 300), (8, 32, 256), (1, 1, 1), (70, 100, 513) })
        {
            var a = Enumerable.Range(0, m * k).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray();
            var b = Enumerable.Range(0, k * n).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray();
            float[] Run(bool scalar, bool v256)
            {
                var c = new float[m * n];
                Kernels.ForceScalarGemm = scalar; Kernels.ForceVector256Gemm = v256;
                try { Kernels.Gemm(false, true, m, n, k, 0.5f, a, k, b, k, 0f, c, n); }
                finally { Kernels.ForceScalarGemm = false; Kernels.ForceVector256Gemm = false; }
                return c;
            }
            var fast = Run(false, false);
            Assert.Equal(Run(true, false), fast);
            Assert.Equal(Run(false, true), fast);
        }
    }
}
