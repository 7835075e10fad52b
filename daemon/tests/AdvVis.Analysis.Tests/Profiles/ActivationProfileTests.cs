// Flow View data on real activations of the paper CNN (Fashion-MNIST 2,000): aligned 1-D UMAP quality against
// umap-learn's UMAP and AlignedUMAP on the same layers (reference/activation_reference.json), the 5 × 2,000 timing,
// foreground placement without refitting, the background summaries' bookkeeping, and divergence of an FGSM twin.
using System.Diagnostics;
using System.Text.Json;
using AdvVis.Analysis.Profiles;
using AdvVis.Analysis.Projection;
using AdvVis.Engine;
using Xunit.Abstractions;

namespace AdvVis.Analysis.Tests.Profiles;

[Collection(nameof(PaperCnnCollection))]
public sealed class ActivationProfileTests(PaperCnnFixture fixture, ITestOutputHelper output)
{

    /// <summary>FGSM (ε in pixel space, cross-entropy on the logits) through the engine's input gradient.</summary>
    private static Tensor Fgsm(Model model, Tensor x, int label, float epsilon)
    {
        ForwardPass pass = model.Forward(x, new RunOptions { RecordForBackward = true });
        float[] logits = pass.Output.AsFloats();
        double max = logits.Max(), z = logits.Sum(v => Math.Exp(v - max));
        var cot = new float[logits.Length];
        for (int c = 0; c < logits.Length; c++)
            cot[c] = (float)(Math.Exp(logits[c] - max) / z) - (c == label ? 1f : 0f);
        Tensor g = pass.InputGradient(new Tensor(pass.Output.Shape, cot));
        var adv = new float[x.Length];
        for (int i = 0; i < adv.Length; i++)
            adv[i] = Math.Clamp(x.Data[i] + epsilon * MathF.Sign(g.Data[i]), 0f, 1f);
        return new Tensor(x.Shape, adv);
    }

    private (FlowResult Result, double Seconds, Tensor Foreground, int[] Picks) Compute()
    {
        // Foreground: background items 0 and 17 verbatim, then an FGSM twin of each of the first five correctly classified items.
        int[] correct = Enumerable.Range(0, 200).Where(i => fixture.Set.Predicted![i] == fixture.Labels[i]).Take(5).ToArray();
        var items = new List<float[]> { fixture.Item(0).Data, fixture.Item(17).Data };
        foreach (int i in correct)
        {
            items.Add(fixture.Item(i).Data);
            items.Add(Fgsm(fixture.Model, fixture.Item(i), fixture.Labels[i], 0.15f).Data);
        }
        var foreground = new Tensor([items.Count, 1, 28, 28], items.SelectMany(v => v).ToArray());
        ActivationSet fg = Activations.Collect(fixture.Model, fixture.FlowLayers, foreground, predict: true);
        var pairs = Enumerable.Range(0, correct.Length).Select(k => new ForegroundPair(2 + 2 * k, 3 + 2 * k)).ToArray();
        var input = new FlowInput(fixture.FlowLayers, fixture.FlowLayers.Select(l => fixture.Set[l].Values).ToArray(), fixture.Labels,
            LabelSource.True, fg.Layers.Select(l => l.Values).ToArray(), pairs);
        var watch = Stopwatch.StartNew();
        FlowResult result = ActivationProfiles.Compute(input, new FlowOptions { Seed = 42, ComputeQuality = true });
        output.WriteLine($"predicted foreground: {string.Join(",", fg.Predicted!)}");
        return (result, watch.Elapsed.TotalSeconds, foreground, correct);
    }

    private static (FlowResult Result, double Seconds, Tensor Foreground, int[] Picks)? _cached;
    private static readonly object Gate = new();
    private (FlowResult Result, double Seconds, Tensor Foreground, int[] Picks) Cached()
    {
        lock (Gate)
            return _cached ??= Compute();
    }

    [Fact]
    public void AlignedOneDimensionalProfilesMatchUmapLearnQualityAndAlignment()
    {
        var (result, seconds, _, _) = Cached();
        JsonElement aligned = ActivationReference.Root.GetProperty("aligned_umap_1d");
        double[] refAligned = ActivationReference.Numbers(aligned.GetProperty("trustworthiness_k10"));
        double[] refPlain = ActivationReference.Numbers(ActivationReference.Root.GetProperty("umap").GetProperty("1d").GetProperty("trustworthiness_k10"));
        double refSpearman = aligned.GetProperty("mean_abs_spearman").GetDouble();
        FlowTimings t = result.Timings;
        output.WriteLine($"5 layers × 2,000, 1-D aligned: projection {t.ProjectionSeconds:F2} s, foreground {t.ForegroundSeconds:F2} s, " +
                         $"summaries {t.SummariesSeconds:F2} s, quality {t.QualitySeconds:F2} s (umap-learn AlignedUMAP {aligned.GetProperty("wall_s").GetDouble():F0} s)");
        for (int l = 0; l < result.Axes.Count; l++)
            output.WriteLine($"{result.Axes[l].Layer} ({result.Axes[l].Features}): trustworthiness ours {result.Axes[l].Trustworthiness:F4}, " +
                             $"AlignedUMAP {refAligned[l]:F4}, UMAP 1-D {refPlain[l]:F4}");
        output.WriteLine($"alignment (mean neighbouring Spearman): ours {result.Alignment:F4}, AlignedUMAP {refSpearman:F4}");
        for (int l = 0; l < result.Axes.Count; l++)
        {
            Assert.True(result.Axes[l].Trustworthiness >= refAligned[l] - 0.02, $"layer {l}: below AlignedUMAP − 0.02");
            Assert.True(result.Axes[l].Trustworthiness >= refPlain[l] - 0.02, $"layer {l}: below umap-learn 1-D UMAP − 0.02");
        }
        Assert.True(result.Alignment >= refSpearman, $"alignment {result.Alignment:F4} < AlignedUMAP {refSpearman:F4}");
    }

    [Theory]
    [InlineData(0)]
    [InlineData(4)]
    public void TwoDimensionalUmapOfRealLayersMatchesUmapLearn(int layer)
    {
        DenseMatrix data = fixture.Set[fixture.FlowLayers[layer]].Values;
        UmapModel model = Umap.Fit(data, new UmapOptions { Components = 2, Seed = 42 });
        double ours = ProjectionQuality.Trustworthiness(data, model.Embedding, 10);
        double reference = ActivationReference.Numbers(ActivationReference.Root.GetProperty("umap").GetProperty("2d").GetProperty("trustworthiness_k10"))[layer];
        output.WriteLine($"{fixture.FlowLayers[layer]} 2-D: ours {ours:F4} vs umap-learn {reference:F4}");
        Assert.True(ours >= reference - 0.02);
    }

    [Fact]
    public void BackgroundSummariesAccountForEveryItem()
    {
        FlowResult r = Cached().Result;
        int n = fixture.Labels.Length, layers = fixture.FlowLayers.Length;
        Assert.Equal(10, r.LabelCount);
        Assert.All(r.Background, axis => Assert.InRange(axis.Min(), 0f, 0f));
        Assert.All(r.Background, axis => Assert.Equal(1f, axis.Max()));
        Assert.All(r.Histograms, axis => Assert.Equal(n, axis.Sum(label => label.Sum())));
        for (int c = 0; c < 10; c++)
        {
            int members = fixture.Labels.Count(v => v == c);
            Assert.All(r.Histograms, axis => Assert.Equal(members, axis[c].Sum()));
            Assert.All(r.Fingerprints[c].Density, row => Assert.Equal(1.0, row.Sum(v => (double)v), 4));
            // Bundles of a label partition its lines at every layer pair; their mean end points agree with the data.
            for (int p = 0; p + 1 < layers; p++)
            {
                var bundles = r.Bundles.Where(b => b.Pair == p && b.Label == c).ToList();
                Assert.Equal(members, bundles.Sum(b => b.Count));
                double meanFrom = bundles.Sum(b => (double)b.From * b.Count) / members;
                double direct = Enumerable.Range(0, n).Where(i => fixture.Labels[i] == c).Average(i => (double)r.Background[p][i]);
                Assert.Equal(direct, meanFrom, 4);
            }
            float[] sorted = Enumerable.Range(0, n).Where(i => fixture.Labels[i] == c).Select(i => r.Background[layers - 1][i]).Order().ToArray();
            double median = sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : 0.5 * (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]);
            Assert.Equal(median, r.Spines[c].Median[layers - 1], 5);
        }
        // At the logits the classes are condensed: the mean fingerprint concentration grows from the first axis to the last.
        Assert.True(r.Fingerprints.Average(f => f.Concentration[^1]) > r.Fingerprints.Average(f => f.Concentration[0]));
    }

    [Fact]
    public void ForegroundIsPlacedWithoutRefittingAndAdversarialTwinsDiverge()
    {
        var (r, _, _, picks) = Cached();
        // Background items given again as foreground land where the fit put them.
        foreach (var (fgIndex, bgIndex) in new[] { (0, 0), (1, 17) })
            for (int l = 0; l < r.Axes.Count; l++)
                Assert.True(Math.Abs(r.Foreground[l][fgIndex] - r.Background[l][bgIndex]) < 0.03,
                    $"item {bgIndex} layer {l}: {r.Foreground[l][fgIndex]} vs {r.Background[l][bgIndex]}");
        Assert.Equal(picks.Length, r.Divergences.Count);
        foreach (PairDivergence d in r.Divergences)
        {
            output.WriteLine($"pair {d.Pair}: relative {string.Join(" ", d.Layers.Select(x => x.Relative.ToString("F3")))}; " +
                             $"profile {string.Join(" ", d.Layers.Select(x => x.ProfileDistance.ToString("F3")))}; diverging after {d.DivergingAfter}");
            Assert.InRange(d.DivergingAfter, 0, r.Axes.Count - 2);
            Assert.Equal(d.Layers[d.DivergingAfter + 1].Relative - d.Layers[d.DivergingAfter].Relative, d.Jump, 9);
            Assert.All(d.Layers, x => Assert.Equal(x.Distance / x.BackgroundSpread, x.Relative, 9));
        }
        // An ε = 0.15 FGSM twin ends further from its benign item, relative to the background, than it starts.
        Assert.True(r.Divergences.Average(d => d.Layers[^1].Relative) > r.Divergences.Average(d => d.Layers[0].Relative));
    }

    [Fact]
    public void SameSeedSameBytesAndCancellationStopsTheFit()
    {
        int[] first300 = Enumerable.Range(0, 300).ToArray();
        var layers = fixture.FlowLayers.Take(3).Select(l => fixture.Set[l].Select(first300).Values).ToArray();
        var input = new FlowInput(fixture.FlowLayers.Take(3).ToArray(), layers, fixture.Labels[..300], LabelSource.True);
        var options = new FlowOptions { Seed = 5, Projection = new AlignedUmapOptions { Layer = new UmapOptions { Components = 1, Epochs = 60 } } };
        FlowResult a = ActivationProfiles.Compute(input, options), b = ActivationProfiles.Compute(input, options);
        Assert.Equal(a.Background.SelectMany(x => x), b.Background.SelectMany(x => x));
        FlowResult c = ActivationProfiles.Compute(input, options with { Seed = 6 });
        Assert.NotEqual(a.Background.SelectMany(x => x), c.Background.SelectMany(x => x));
        using var cts = new CancellationTokenSource();
        var reports = new List<double>();
        var progress = new Progress(v => { reports.Add(v); if (v > 0.4) cts.Cancel(); });
        Assert.ThrowsAny<OperationCanceledException>(() => ActivationProfiles.Compute(input, options, cts.Token, progress));
        Assert.NotEmpty(reports);
    }

    private sealed class Progress(Action<double> report) : IProgress<double>
    {
        public void Report(double value) => report(value);
    }
}

/// <summary>Timings printed for the report (never asserted: the machine is shared). Run with --filter Category=Benchmark.</summary>
[Collection(nameof(AdvVis.Analysis.Tests.Projection.BenchmarkCollection))]
public sealed class ActivationProfileBenchmarks(ITestOutputHelper output)
{
    [Fact]
    [Trait("Category", "Benchmark")]
    public void FiveRealLayersTwoThousandItemsOneD()
    {
        var fixture = new PaperCnnFixture();
        var layers = fixture.FlowLayers.Select(l => fixture.Set[l].Values).ToArray();
        var input = new FlowInput(fixture.FlowLayers, layers, fixture.Labels, LabelSource.True);
        ActivationProfiles.Compute(input with { Background = layers.Select(l => new DenseMatrix(l.Data[..(200 * l.Columns)], 200, l.Columns)).ToArray(), Labels = fixture.Labels[..200] },
            new FlowOptions { Projection = new AlignedUmapOptions { Layer = new UmapOptions { Components = 1, Epochs = 5 } } }); // JIT warm-up
        Process self = Process.GetCurrentProcess();
        for (int run = 0; run < 2; run++)
        {
            TimeSpan cpu = self.TotalProcessorTime;
            var watch = Stopwatch.StartNew();
            FlowResult r = ActivationProfiles.Compute(input, new FlowOptions());
            self.Refresh();
            output.WriteLine($"run {run}: {watch.Elapsed.TotalSeconds:F2} s wall (projection {r.Timings.ProjectionSeconds:F2} s), " +
                             $"{(self.TotalProcessorTime - cpu).TotalSeconds:F2} s CPU, load {File.ReadAllText("/proc/loadavg").Split(' ')[0]}");
        }
    }

    [Fact]
    [Trait("Category", "Benchmark")]
    public void ActivationMaximizationOnSqueezeNet()
    {
        // The readable recipe (Fourier + decorrelated colour + jitter/scale/rotation, 256 Adam steps) per unit, timed.
        Model model = AdvVis.Analysis.Tests.Architecture.Models.Load(AdvVis.Analysis.Tests.Architecture.Models.Shared("squeezenet1.0-fp32.onnx"));
        var transform = AdvVis.Analysis.Layers.PixelTransform.FromNormalisation(1f, [104f, 117f, 123f], [1f, 1f, 1f]);
        var options = AdvVis.Analysis.Layers.ActivationMaximizationOptions.Readable with { ColourOrder = AdvVis.Analysis.Layers.ColourOrder.Bgr };
        foreach (string layer in new[] { "fire3/squeeze1x1_2", "fire5/squeeze1x1_2" })
        {
            Process self = Process.GetCurrentProcess();
            TimeSpan cpu = self.TotalProcessorTime;
            var watch = Stopwatch.StartNew();
            var r = AdvVis.Analysis.Layers.ActivationMaximization.Run(model, layer, 3, [1, 3, 224, 224], transform, options);
            self.Refresh();
            output.WriteLine($"SqueezeNet {layer} unit 3: {options.Steps} steps in {watch.Elapsed.TotalSeconds:F2} s wall, " +
                             $"{(self.TotalProcessorTime - cpu).TotalSeconds:F2} s CPU (load {File.ReadAllText("/proc/loadavg").Split(' ')[0]}); " +
                             $"activation {r.StartActivation:F3} → {r.FinalActivation:F3}");
        }
    }
}
