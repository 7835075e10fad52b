// Activation maximisation and unit connections on the paper CNN: the optimised image must raise the unit well above
// its random start (and above what the 2,000 real images give on average); connection weights are checked against the
// raw kernels, and weight × activation contributions must add up to the target units' map sums minus their biases.
using AdvVis.Analysis.Architecture;
using AdvVis.Analysis.Layers;
using AdvVis.Analysis.Profiles;
using AdvVis.Analysis.Tests.Profiles;
using AdvVis.Engine;
using Xunit.Abstractions;

namespace AdvVis.Analysis.Tests.Layers;

[Collection(nameof(PaperCnnCollection))]
public sealed class UnitAnalysisTests(PaperCnnFixture fixture, ITestOutputHelper output)
{
    private const string Conv1Relu = "/blocks.1/blocks.1.1/Relu_output_0";

    [Theory]
    [InlineData(Conv1Relu, 1)]
    [InlineData("/blocks.3/blocks.3.1/Relu_output_0", 5)]
    public void ActivationMaximizationRaisesTheUnitFarAboveItsRandomStart(string layer, int rank)
    {
        // The unit ranked `rank` by its map mean over the real images (some units of this small net are dead).
        ActivationSet real = Activations.Collect(fixture.Model, [layer], fixture.Images);
        LayerData mean = LayerReductions.Reduce(real[layer], Reduction.Mean(), UnitSummary.SpatialMean);
        LayerData max = LayerReductions.Reduce(real[layer], Reduction.Max(), UnitSummary.SpatialMean);
        int unit = LayerReductions.Top(mean, rank + 1, byMagnitude: false).Units[rank].Unit;
        var options = new ActivationMaximizationOptions { Seed = 3, Steps = 96 };
        var watch = System.Diagnostics.Stopwatch.StartNew();
        ActivationMaximizationResult r = ActivationMaximization.Run(fixture.Model, layer, unit, [1, 1, 28, 28], PixelTransform.Identity(1), options);
        output.WriteLine($"{layer} unit {unit}: random start {r.StartActivation:F4} → {r.FinalActivation:F4} in {watch.Elapsed.TotalSeconds:F2} s; " +
                         $"dataset mean {mean.UnitValues[unit]:F4}, mean of per-position maxima {max.UnitValues[unit]:F4}");
        Assert.True(r.FinalActivation > r.StartActivation + 0.5 * mean.UnitValues[unit], "no measurable increase");
        Assert.True(r.FinalActivation > 3 * r.StartActivation);
        Assert.True(r.FinalActivation > mean.UnitValues[unit], "the image excites the unit less than an average real image");
        Assert.All(r.Image, v => Assert.InRange(v, 0f, 1f));
        Assert.True(r.Trace[^1] > r.Trace[0]);

        ActivationMaximizationResult again = ActivationMaximization.Run(fixture.Model, layer, unit, [1, 1, 28, 28], PixelTransform.Identity(1), options with { Steps = 10 });
        Assert.Equal(again.Image, ActivationMaximization.Run(fixture.Model, layer, unit, [1, 1, 28, 28], PixelTransform.Identity(1), options with { Steps = 10 }).Image);
        Assert.NotEqual(again.Image, ActivationMaximization.Run(fixture.Model, layer, unit, [1, 1, 28, 28], PixelTransform.Identity(1), options with { Steps = 10, Seed = 4 }).Image);
        Assert.ThrowsAny<OperationCanceledException>(() => ActivationMaximization.Run(fixture.Model, layer, unit, [1, 1, 28, 28],
            PixelTransform.Identity(1), options, new CancellationToken(canceled: true)));
    }

    [Fact]
    public void PixelTransformFollowsThePreprocessingConvention()
    {
        // Caffe-style (SqueezeNet): x = pixel255 − mean → p·255 − mean.
        PixelTransform t = PixelTransform.FromNormalisation(1f, [104f, 117f, 123f], [1f, 1f, 1f]);
        Assert.Equal([255f, 255f, 255f], t.Scale);
        Assert.Equal([-104f, -117f, -123f], t.Offset);
        // (pixel/255 − 0.5)/0.5 → 2p − 1.
        PixelTransform u = PixelTransform.FromNormalisation(1f / 255f, [0.5f], [0.5f]);
        Assert.Equal(2f, u.Scale[0], 5);
        Assert.Equal(-1f, u.Offset[0], 5);
    }

    [Fact]
    public void ConnectionWeightsAreTheKernelMagnitudesAndContributionsAddUp()
    {
        Model model = fixture.Model;
        ArchitectureGraph graph = ArchitectureGraph.Build(model);
        Tensor item = fixture.Item(11);
        const int unit = 6;
        UnitConnectionSet c = UnitConnections.Strongest(model, graph, Conv1Relu, unit, top: 64, item: item);
        output.WriteLine($"in: {c.PreviousWeighted} reads {c.PreviousLayer}; out: {c.NextWeighted} → {c.NextLayer}; note {c.Note}");
        Assert.Equal("/blocks.1/blocks.1.0/Conv", c.PreviousWeighted);
        Assert.Equal("/blocks.0/blocks.0.2/MaxPool_output_0", c.PreviousLayer);
        Assert.Equal("/blocks.2/blocks.2.0/Conv", c.NextWeighted);

        // By weight: Σ|W1[unit, c, :, :]| straight from the initializer.
        Tensor w1 = model.ConstantValue(graph.Nodes.Single(n => n.Name == c.PreviousWeighted).ParameterNames[0])!;
        Assert.Equal(4, c.IncomingByWeight.Count);
        foreach (UnitLink link in c.IncomingByWeight)
            Assert.Equal(Enumerable.Range(0, 9).Sum(k => Math.Abs((double)w1.Data[(unit * 4 + link.Unit) * 9 + k])), link.Strength, 5);
        Assert.True(c.IncomingByWeight.Zip(c.IncomingByWeight.Skip(1)).All(p => p.First.Strength >= p.Second.Strength));

        // By weight × activation: Σ_c contribution + bias·(active positions) = Σ_p relu map (ReLU is homogeneous).
        ForwardPass pass = model.Forward(item, new RunOptions { Capture = [Conv1Relu, "/blocks.2/blocks.2.0/Conv_output_0"] });
        Tensor a = pass[Conv1Relu];
        int map = a.Length / 8;
        double mapSum = Enumerable.Range(0, map).Sum(q => (double)a.Data[unit * map + q]);
        int active = Enumerable.Range(0, map).Count(q => a.Data[unit * map + q] > 0);
        float bias1 = model.ConstantValue(graph.Nodes.Single(n => n.Name == c.PreviousWeighted).ParameterNames[1])!.Data[unit];
        Assert.Equal(mapSum, c.IncomingByContribution!.Sum(l => l.Strength) + bias1 * active, 3);

        // Outgoing: for target unit j of conv2, Σ over all 8 source units of their contributions = Σ_p conv2_j − bias_j·map.
        Tensor z = pass["/blocks.2/blocks.2.0/Conv_output_0"];
        int zMap = z.Length / 16;
        Tensor b2 = model.ConstantValue(graph.Nodes.Single(n => n.Name == c.NextWeighted).ParameterNames[1])!;
        var total = new double[16];
        for (int k = 0; k < 8; k++)
            foreach (UnitLink l in UnitConnections.Strongest(model, graph, Conv1Relu, k, top: 16, item: item).OutgoingByContribution!)
                total[l.Unit] += l.Strength;
        for (int j = 0; j < 16; j++)
            Assert.Equal(Enumerable.Range(0, zMap).Sum(q => (double)z.Data[j * zMap + q]) - b2.Data[j] * zMap, total[j], 3);
    }

    [Fact]
    public void OutgoingWeightsThroughFlattenToTheClassifier()
    {
        Model model = fixture.Model;
        ArchitectureGraph graph = ArchitectureGraph.Build(model);
        UnitConnectionSet c = UnitConnections.Strongest(model, graph, "/blocks.3/blocks.3.2/MaxPool_output_0", 7, top: 10);
        Assert.Equal("/fc/Gemm", c.NextWeighted);
        Assert.Equal("logits", c.NextLayer);
        Tensor w = model.ConstantValue(graph.Nodes.Single(n => n.Name == "/fc/Gemm").ParameterNames[0])!; // [10, 32], transB = 1
        Assert.Equal([10, 32], w.Shape);
        Assert.Equal(10, c.OutgoingByWeight.Count);
        foreach (UnitLink l in c.OutgoingByWeight)
            Assert.Equal(Math.Abs(w.Data[l.Unit * 32 + 7]), l.Strength, 6);
        Assert.Null(c.OutgoingByContribution);
    }
}
