// The pieces of readable activation maximisation: the orthonormal DCT round-trips and matches the textbook DCT-II; the
// random warp's adjoint passes the dot-product test; the Fourier image's backward matches finite differences; and the
// Fourier/warp optimisation on the paper CNN raises a unit far above its random start and above the dataset mean,
// deterministically for a seed, and stops when cancelled.
using AdvVis.Analysis.Layers;
using AdvVis.Analysis.Profiles;
using AdvVis.Analysis.Projection;
using AdvVis.Analysis.Tests.Profiles;
using Xunit.Abstractions;

namespace AdvVis.Analysis.Tests.Layers;

public sealed class ImageTransformTests
{
    private static float[] Random(int n, ulong seed)
    {
        var rng = new Xoshiro128StarStar(seed);
        return Enumerable.Range(0, n).Select(_ => (float)rng.NextGaussian()).ToArray();
    }

    [Theory]
    [InlineData(8, 8)]
    [InlineData(28, 28)]
    [InlineData(7, 12)]
    public void DctRoundTripsAndMatchesTheTextbookDefinition(int h, int w)
    {
        var dct = new Dct2D(h, w);
        float[] x = Random(h * w, 1);
        var s = new float[h * w];
        var back = new float[h * w];
        dct.Forward(x, s);
        dct.Inverse(s, back);
        for (int i = 0; i < x.Length; i++)
            Assert.Equal(x[i], back[i], 4);
        // S[u, v] = α_u α_v Σ_y Σ_x X[y, x] cos(π(2y+1)u/2H) cos(π(2x+1)v/2W), in double.
        foreach (var (u, v) in new[] { (0, 0), (1, 0), (0, w - 1), (h - 1, w / 2), (h / 2, 1) })
        {
            double sum = 0;
            for (int y = 0; y < h; y++)
                for (int xx = 0; xx < w; xx++)
                    sum += x[y * w + xx] * Math.Cos(Math.PI * (2 * y + 1) * u / (2.0 * h)) * Math.Cos(Math.PI * (2 * xx + 1) * v / (2.0 * w));
            double expected = sum * Math.Sqrt((u == 0 ? 1.0 : 2.0) / h) * Math.Sqrt((v == 0 ? 1.0 : 2.0) / w);
            Assert.Equal(expected, s[u * w + v], 4);
        }
        // Parseval: an orthonormal transform keeps the energy.
        Assert.Equal(x.Sum(t => (double)t * t), s.Sum(t => (double)t * t), 2);
    }

    [Theory]
    [InlineData(1, 28, 28, 0.0, 0.0, 0.0)]
    [InlineData(1, 28, 28, 2.5, 0.1, 10.0)]
    [InlineData(3, 17, 23, 8.0, 0.2, 30.0)]
    public void WarpAdjointPassesTheDotProductTest(int c, int h, int w, double jitter, double scale, double rotation)
    {
        var rng = new Xoshiro128StarStar(7);
        for (int trial = 0; trial < 5; trial++)
        {
            AffineWarp warp = AffineWarp.Random(ref rng, jitter, scale, rotation);
            float[] x = Random(c * h * w, (ulong)(10 + trial)), y = Random(c * h * w, (ulong)(20 + trial));
            var wx = new float[x.Length];
            var wty = new float[x.Length];
            warp.Apply(x, wx, c, h, w);
            warp.Adjoint(y, wty, c, h, w);
            double left = wx.Zip(y, (a, b) => (double)a * b).Sum(), right = x.Zip(wty, (a, b) => (double)a * b).Sum();
            Assert.True(Math.Abs(left - right) <= 1e-5 * (Math.Abs(left) + Math.Sqrt(x.Length)), $"<Wx, y> = {left} but <x, Wᵀy> = {right}");
            if (jitter == 0 && scale == 0 && rotation == 0)
                Assert.Equal(x, wx); // the identity warp copies the image
            else
                Assert.NotEqual(x, wx);
        }
    }

    [Fact]
    public void AnIntegerShiftWarpMovesPixels()
    {
        var warp = new AffineWarp(1, 0, 0, 1, shiftY: 0, shiftX: 2);
        float[] x = Enumerable.Range(0, 5 * 6).Select(i => (float)i).ToArray();
        var wx = new float[x.Length];
        warp.Apply(x, wx, 1, 5, 6);
        Assert.Equal(x[1 * 6 + 3], wx[1 * 6 + 1]); // output (1, 1) reads input (1, 3)
        Assert.Equal(x[2 * 6 + 5], wx[2 * 6 + 4]); // reads (2, 6), clamped to the border column 5
    }

    [Theory]
    [InlineData(3, ColourOrder.Bgr)]
    [InlineData(1, ColourOrder.Rgb)]
    public void FourierImageBackwardMatchesFiniteDifferences(int channels, ColourOrder order)
    {
        const int h = 6, w = 5;
        var image = new FourierImage(channels, h, w, ActivationMaximizationOptions.Readable with { ColourOrder = order });
        float[] spectrum = Random(channels * h * w, 3).Select(v => v * 0.05f).ToArray();
        float[] weights = Random(channels * h * w, 4);
        var p = new float[spectrum.Length];
        double F(float[] s)
        {
            var q = new float[s.Length];
            image.Render(s, q);
            return q.Zip(weights, (a, b) => (double)a * b).Sum();
        }
        image.Render(spectrum, p);
        Assert.All(p, v => Assert.InRange(v, 0f, 1f));
        var grad = new float[spectrum.Length];
        image.Backward(p, weights, grad);
        foreach (int i in new[] { 0, 1, 7, spectrum.Length / 2, spectrum.Length - 1 })
        {
            const float e = 1e-2f;
            float[] plus = (float[])spectrum.Clone(), minus = (float[])spectrum.Clone();
            plus[i] += e;
            minus[i] -= e;
            double numeric = (F(plus) - F(minus)) / (2 * e);
            Assert.True(Math.Abs(numeric - grad[i]) <= 2e-3 * (1 + Math.Abs(numeric)), $"d/dS[{i}]: analytic {grad[i]}, numeric {numeric}");
        }
    }
}

[Collection(nameof(PaperCnnCollection))]
public sealed class ReadableActivationMaximizationTests(PaperCnnFixture fixture, ITestOutputHelper output)
{
    [Theory]
    [InlineData(ImageParameterization.Fourier)]
    [InlineData(ImageParameterization.Pixel)]
    public void WarpedOptimisationRaisesTheUnitFarAboveItsStartAndTheDatasetMean(ImageParameterization parameterization)
    {
        const string layer = "/blocks.2/blocks.2.1/Relu_output_0";
        ActivationSet real = Activations.Collect(fixture.Model, [layer], fixture.Images);
        LayerData mean = LayerReductions.Reduce(real[layer], Reduction.Mean(), UnitSummary.SpatialMean);
        int unit = LayerReductions.Top(mean, 3, byMagnitude: false).Units[2].Unit;
        // 28 × 28 images: a gentler warp than Readable's (built for 224 × 224).
        var options = ActivationMaximizationOptions.Readable with
        {
            Parameterization = parameterization, Seed = 5, Steps = 96, Jitter = 1, Scale = 0.05, RotationDegrees = 5, LearningRate = 0.2,
        };
        ActivationMaximizationResult r = ActivationMaximization.Run(fixture.Model, layer, unit, [1, 1, 28, 28], PixelTransform.Identity(1), options);
        output.WriteLine($"{parameterization}: unit {unit}: start {r.StartActivation:F4} → {r.FinalActivation:F4}; dataset mean {mean.UnitValues[unit]:F4}");
        Assert.True(r.FinalActivation > 3 * r.StartActivation + mean.UnitValues[unit], "no large increase over the random start");
        Assert.True(r.FinalActivation > 1.5 * mean.UnitValues[unit], "the image excites the unit less than 1.5 times an average real image");
        Assert.All(r.Image, v => Assert.InRange(v, 0f, 1f));
        Assert.True(r.Trace.TakeLast(8).Average() > 2 * r.Trace.Take(8).Average());

        var shortRun = options with { Steps = 6 };
        float[] once = ActivationMaximization.Run(fixture.Model, layer, unit, [1, 1, 28, 28], PixelTransform.Identity(1), shortRun).Image;
        Assert.Equal(once, ActivationMaximization.Run(fixture.Model, layer, unit, [1, 1, 28, 28], PixelTransform.Identity(1), shortRun).Image);
        Assert.NotEqual(once, ActivationMaximization.Run(fixture.Model, layer, unit, [1, 1, 28, 28], PixelTransform.Identity(1), shortRun with { Seed = 6 }).Image);
        using var cancel = new CancellationTokenSource();
        var progress = new CancelAfter(cancel, 3);
        Assert.ThrowsAny<OperationCanceledException>(() => ActivationMaximization.Run(fixture.Model, layer, unit, [1, 1, 28, 28],
            PixelTransform.Identity(1), options, cancel.Token, progress));
        Assert.Equal(3, progress.Reports);
    }

    [Fact]
    public void AUnitThatIsOffOnTheStartImageStillGetsExcited()
    {
        // Behind a ReLU, a unit that is 0 on the start image passes no gradient; the ascent must use its pre-activation.
        const string layer = "/blocks.2/blocks.2.1/Relu_output_0";
        var options = ActivationMaximizationOptions.Readable with
        {
            Parameterization = ImageParameterization.Pixel, Seed = 5, Steps = 48, Jitter = 1, Scale = 0.05, RotationDegrees = 5, LearningRate = 0.2,
        };
        var start = ActivationMaximization.Run(fixture.Model, layer, 0, [1, 1, 28, 28], PixelTransform.Identity(1), options with { Steps = 0 });
        int units = fixture.Model.Forward(fixture.Item(0), new AdvVis.Engine.RunOptions { Capture = [layer] })[layer].Shape[1];
        int dead = Enumerable.Range(0, units).First(u =>
            ActivationMaximization.Run(fixture.Model, layer, u, [1, 1, 28, 28], PixelTransform.Identity(1), options with { Steps = 0 }).StartActivation == 0);
        Assert.NotEqual("", start.Layer);
        Assert.NotEqual(layer, ActivationMaximization.AscentLayer(fixture.Model, layer));
        var r = ActivationMaximization.Run(fixture.Model, layer, dead, [1, 1, 28, 28], PixelTransform.Identity(1), options);
        output.WriteLine($"unit {dead}: start {r.StartActivation:F4} → {r.FinalActivation:F4}");
        Assert.Equal(0, r.StartActivation);
        Assert.True(r.FinalActivation > 0, "the unit stayed off: no gradient reached it");
    }

    /// <summary>Cancels after <c>n</c> progress reports (synchronously, unlike Progress&lt;T&gt;).</summary>
    private sealed class CancelAfter(CancellationTokenSource source, int n) : IProgress<double>
    {
        public int Reports { get; private set; }

        public void Report(double value)
        {
            if (++Reports == n)
                source.Cancel();
        }
    }
}
