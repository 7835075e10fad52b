// The papers' settings on real models: the Activation Profiles PGD setting on the model-zoo MNIST CNN, and a targeted
// attack on SqueezeNet (Caffe BGR preprocessing) with the diverging point computed.
using AdvVis.Data;
using AdvVis.Engine;
using Xunit.Abstractions;

namespace AdvVis.Attacks.Tests;

public sealed class PaperSettingTests(ITestOutputHelper output)
{
    [Fact]
    public void ActivationProfilesPgdSettingOnMnistZooDrivesAccuracyNearThePapers()
    {
        // ε = 0.3, α = 0.075, 100 iterations (the paper: 1.6% adversarial accuracy on its own MNIST CNN).
        var set = IdxReader.LoadImagesAndLabels(TestPaths.Data("mnist/t10k-images-idx3-ubyte.gz"), TestPaths.Data("mnist/t10k-labels-idx1-ubyte.gz")).Take(100);
        var t = set.ToTensor(1f / 255f);
        var pixels = new Tensor(t.Shape, (float[])t.Data);
        var model = new AttackModel(Model.Load(TestPaths.Model("mnist-zoo-opset7.onnx")), 1, 28, 28);
        var run = Attack.Run(model, pixels, set.Labels, new AttackOptions { Kind = AttackKind.Pgd, Epsilon = 0.3f, StepSize = 0.075f, Steps = 100, BatchSize = 100 });
        output.WriteLine($"mnist-zoo, first 100 t10k digits: clean {run.Summary.CleanAccuracy:P1}, PGD adversarial {run.Summary.AdversarialAccuracy:P1} (paper 1.6%), mean L∞ {run.Summary.MeanLinf:F3}");
        Assert.True(run.Summary.CleanAccuracy >= 0.95);
        Assert.True(run.Summary.AdversarialAccuracy <= 0.05, $"adversarial accuracy {run.Summary.AdversarialAccuracy}");
        Assert.All(run.Images, i => Assert.True(i.Linf <= 0.3f + 1e-6f));

        // The explanation of one flipped digit names a hidden layer as its diverging point.
        var flipped = run.Images.First(i => i.CleanCorrect && i.Success);
        var report = Divergence.Compare(model, Fixtures.Slice(pixels, flipped.Index, 1), Fixtures.Slice(run.Adversarial, flipped.Index, 1),
            flipped.Label, flipped.AdversarialClass, pixels, set.Labels.ToArray());
        output.WriteLine($"digit {flipped.Index} ({flipped.Label} → {flipped.AdversarialPrediction}): " +
                         string.Join(", ", report.Layers.Select(l => $"{l.Name} {l.Relative:F2}")) + $"; diverging point {report.Diverging?.Layer} ({report.Diverging?.Score:F2})");
        Assert.NotNull(report.Diverging);
        Assert.NotEqual(model.OutputName, report.Diverging!.Layer);
        Assert.Equal(report.Layers.Where(l => l.Name != model.OutputName).Max(l => l.Jump), report.Diverging.Score, 9);
        Assert.Equal(model.OutputName, report.Layers[^1].Name);
        Assert.Equal(report.Layers[^1].AdversarialNearest, flipped.AdversarialClass.ToString());
    }

    [Fact]
    public void TargetedPgdTurnsThePandaIntoAnotherClassAtSmallEpsilonOnSqueezeNet()
    {
        var modelPath = TestPaths.Model("squeezenet1.0-fp32-logits.onnx");
        var pre = new Preprocessing(224, 224, ChannelOrder.Bgr, 1f, [104, 117, 123], [1, 1, 1], 256, null, null, []);
        var panda = pre.ToPixels(ImageDecoder.Decode(TestPaths.Data("imagenet/samples/n02510455_giant_panda.JPEG")));
        var x = new Tensor([1, 3, 224, 224], panda);
        var model = new AttackModel(Model.Load(modelPath), 3, 224, 224, PixelNormalization.From255(pre.Scale, pre.Mean, pre.Std));
        const int panda388 = 388, target = 363; // armadillo
        const float eps = 2f / 255f;
        var run = Attack.Run(model, x, [panda388], new AttackOptions { Kind = AttackKind.Pgd, Epsilon = eps, StepSize = 0.5f / 255f, Steps = 8, TargetClass = target, BatchSize = 1 });
        var o = run.Images[0];
        output.WriteLine($"panda: clean prediction {o.CleanPrediction} (p {o.BenignProbabilityClean:F3}); targeted PGD ε=2/255 → {o.AdversarialPrediction}, " +
                         $"p(target) {o.AdversarialClassProbabilityClean:E2} → {o.AdversarialClassProbabilityAdversarial:F3}, L∞ {o.Linf * 255:F2}/255");
        Assert.Equal(panda388, o.CleanPrediction);
        Assert.True(o.Success, $"prediction {o.AdversarialPrediction}");
        Assert.True(o.Linf <= eps + 1e-6f);

        // Background: a few other ImageNet photos; the report names a diverging point.
        var photos = Directory.GetFiles(TestPaths.Data("imagenet/samples"), "*.JPEG").Order(StringComparer.Ordinal).Take(6).ToArray();
        var bg = new float[photos.Length * 3 * 224 * 224];
        for (int i = 0; i < photos.Length; i++) pre.ToPixels(ImageDecoder.Decode(photos[i])).CopyTo(bg, i * 3 * 224 * 224);
        var report = Divergence.Compare(model, x, run.Adversarial, panda388, target, new Tensor([photos.Length, 3, 224, 224], bg), batchSize: 3);
        output.WriteLine($"SqueezeNet diverging point: {report.Diverging?.Layer} (score {report.Diverging?.Score:F3}); layers: " +
                         string.Join(", ", report.Layers.Select(l => $"{l.Name} {l.Relative:F2}")));
        Assert.NotNull(report.Diverging);
        Assert.Contains(report.Layers, l => l.Name == report.Diverging!.Layer);
        Assert.True(report.TopUnits.Count > 0);
    }

    [Fact]
    public void ProbabilityOutputsAreDetectedAndGiveTheLogitModelsGradient()
    {
        // squeezenet1.0-fp32.onnx ends in Softmax: cross-entropy on log-probabilities is cross-entropy on the logits.
        var pre = new Preprocessing(224, 224, ChannelOrder.Bgr, 1f, [104, 117, 123], [1, 1, 1], 256, null, null, []);
        var x = new Tensor([1, 3, 224, 224], pre.ToPixels(ImageDecoder.Decode(TestPaths.Data("imagenet/giant_panda_byassine.jpg"))));
        var norm = PixelNormalization.From255(pre.Scale, pre.Mean, pre.Std);
        var probs = new AttackModel(Model.Load(TestPaths.Model("squeezenet1.0-fp32.onnx")), 3, 224, 224, norm);
        var logits = new AttackModel(Model.Load(TestPaths.Model("squeezenet1.0-fp32-logits.onnx")), 3, 224, 224, norm);
        Assert.Equal(OutputKind.Probabilities, probs.OutputKind);
        LossGradient loss = (r, z, g) => Losses.CrossEntropyGradient(z, 363, g);
        var (sp, gp) = probs.Gradient(x, loss);
        var (sl, gl) = logits.Gradient(x, loss);
        Assert.Equal(OutputKind.Logits, logits.OutputKind);
        Assert.Equal(sl.Predicted(0), sp.Predicted(0));
        double dot = 0, np = 0, nl = 0;
        for (int i = 0; i < x.Length; i++) { dot += (double)gp.Data[i] * gl.Data[i]; np += (double)gp.Data[i] * gp.Data[i]; nl += (double)gl.Data[i] * gl.Data[i]; }
        double cosine = dot / Math.Sqrt(np * nl);
        output.WriteLine($"cosine between the gradients through Softmax and through the logits: {cosine:F6}; norm ratio {Math.Sqrt(np / nl):F4}");
        Assert.True(cosine > 0.999, $"cosine {cosine}");
        Assert.InRange(Math.Sqrt(np / nl), 0.99, 1.01);
    }
}
