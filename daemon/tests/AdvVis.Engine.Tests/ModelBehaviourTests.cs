// Whole-model behaviour: gradients by finite differences, batching a batch-1 file, capture, interventions,
// thread-count determinism and published accuracy.
using AdvVis.Data;

namespace AdvVis.Engine.Tests;

public class ModelBehaviourTests
{
    private static Tensor MnistBatch(int count, int offset = 0)
    {
        var images = IdxReader.Read(TestPaths.SharedData("mnist/t10k-images-idx3-ubyte.gz"));
        var bytes = images.ToByteArray();
        var data = new float[count * 784];
        for (int i = 0; i < data.Length; i++) data[i] = bytes[offset * 784 + i] / 255f;
        return new Tensor([count, 1, 28, 28], data);
    }

    [Theory]
    [InlineData("mnist-zoo-opset7.onnx")]
    [InlineData("fmnist-cnn-paper.onnx")]
    [InlineData("cifar10-tutorialnet-opset9.onnx")]
    public void InputGradientMatchesFiniteDifferences(string file)
    {
        var model = Model.Load(TestPaths.SharedModel(file));
        var shape = model.Inputs[0].DeclaredShape!.Select(d => (int)(d.Value ?? 2)).ToArray();
        shape[0] = 2;
        var rng = new Random(3);
        var x = GradCheck.RandomTensor(shape, rng, 0f, 1f);
        var pass = model.Forward(x, new RunOptions { RecordForBackward = true });
        var cot = GradCheck.RandomTensor(pass.Output.Shape, rng);
        var analytic = pass.InputGradient(cot);

        double Loss()
        {
            var y = model.Forward(x).Output;
            double s = 0;
            for (int i = 0; i < y.Length; i++) s += (double)y.Data[i] * cot.Data[i];
            return s;
        }
        double scale = analytic.Data.Max(v => Math.Abs((double)v));
        double center = Loss();
        const float step = 2e-3f;
        int checkedCount = 0;
        for (int probe = 0; probe < 30; probe++)
        {
            int at = rng.Next(x.Length);
            float original = x.Data[at];
            x.Data[at] = original + step; double plus = Loss();
            x.Data[at] = original - step; double minus = Loss();
            x.Data[at] = original;
            double forward = (plus - center) / step, backward = (center - minus) / step;
            // A ReLU or max-pool kink within the step bends L: the one-sided slopes then disagree. Skip such probes.
            if (Math.Abs(forward - backward) > 0.01 * scale) continue;
            double numeric = (plus - minus) / (2 * step);
            Assert.True(Math.Abs(numeric - analytic.Data[at]) <= 0.01 * scale + 1e-4,
                $"{file}: dL/dx[{at}] analytic {analytic.Data[at]:G5} numeric {numeric:G5} scale {scale:G3}");
            checkedCount++;
        }
        Assert.True(checkedCount >= 25, $"only {checkedCount} of 30 probes were free of kinks");
    }

    [Fact]
    public void BatchOneFileRunsBatchesWithTheSameResults()
    {
        var model = Model.Load(TestPaths.SharedModel("mnist-zoo-opset7.onnx"));
        var batch = MnistBatch(5);
        var together = model.Forward(batch).Output;
        Assert.Equal([5, 10], together.Shape);
        for (int i = 0; i < 5; i++)
        {
            var single = model.Forward(new Tensor([1, 1, 28, 28], batch.Data.AsSpan(i * 784, 784).ToArray())).Output;
            for (int k = 0; k < 10; k++) Assert.Equal(single.Data[k], together.Data[i * 10 + k], 4);
        }
    }

    [Fact]
    public void MnistZooReachesItsPublishedAccuracy()
    {
        var model = Model.Load(TestPaths.SharedModel("mnist-zoo-opset7.onnx"));
        var labels = IdxReader.Read(TestPaths.SharedData("mnist/t10k-labels-idx1-ubyte.gz")).ToInt64Array();
        int correct = 0;
        const int batch = 500;
        for (int start = 0; start < 10000; start += batch)
        {
            var logits = model.Forward(MnistBatch(batch, start)).Output;
            for (int i = 0; i < batch; i++)
            {
                int best = 0;
                for (int k = 1; k < 10; k++) if (logits.Data[i * 10 + k] > logits.Data[i * 10 + best]) best = k;
                if (best == labels[start + i]) correct++;
            }
        }
        // Published: 98.91% top-1 on the 10,000 MNIST test digits.
        Assert.InRange(correct / 100.0, 98.86, 98.96);
    }

    [Fact]
    public void SqueezeNetCallsThePandaAGiantPanda()
    {
        var model = Model.Load(TestPaths.SharedModel("squeezenet1.0-fp32.onnx"));
        var image = ImageDecoder.Decode(TestPaths.SharedData("imagenet/samples/n02510455_giant_panda.JPEG")).ToRgb()
            .ResizeShorterSide(256).CenterCrop(224, 224);
        // Caffe preprocessing: BGR order, 0–255, minus the per-channel mean.
        var rgb = image.ToFloatChw(1f);
        var bgr = new float[rgb.Length];
        float[] mean = [104f, 117f, 123f];
        for (int c = 0; c < 3; c++)
        for (int i = 0; i < 224 * 224; i++)
            bgr[c * 224 * 224 + i] = rgb[(2 - c) * 224 * 224 + i] - mean[c];
        var probabilities = model.Forward(new Tensor([1, 3, 224, 224], bgr)).Output;
        int best = Array.IndexOf(probabilities.Data, probabilities.Data.Max());
        Assert.Equal(388, best);
        Assert.True(probabilities.Data[388] > 0.9f, $"p(giant panda) = {probabilities.Data[388]}");
    }

    [Fact]
    public void CaptureReturnsIntermediatesFromOnePass()
    {
        var model = Model.Load(TestPaths.SharedModel("fmnist-cnn-paper.onnx"));
        var relus = model.Nodes.Where(n => n.OpType == "Relu").Select(n => model.ValueNames[n.Outputs[0]]).ToList();
        var pass = model.Forward(MnistBatch(3), new RunOptions { Capture = relus });
        Assert.Equal(4, relus.Count);
        Assert.All(relus, r => Assert.True(pass[r].Data.Take(pass[r].Length).All(v => v >= 0)));
        Assert.Equal([3, 4, 28, 28], pass[relus[0]].Shape);
        // A value neither captured nor an output is freed and reported as such.
        var conv = model.ValueNames[model.Nodes.First(n => n.OpType == "Conv").Outputs[0]];
        Assert.Throws<EngineException>(() => pass[conv]);
    }

    [Fact]
    public void DeletingChannelsZeroesThemAndBlocksTheirGradient()
    {
        var model = Model.Load(TestPaths.SharedModel("fmnist-cnn-paper.onnx"));
        var layer = model.ValueNames[model.Nodes.Where(n => n.OpType == "Relu").ElementAt(1).Outputs[0]];
        var x = MnistBatch(2);
        var iv = Intervention.DeleteChannels(layer, 8, 4, [1, 5]);
        var edited = model.Forward(x, new RunOptions { Interventions = [iv], Capture = [layer], RecordForBackward = true });
        var plain = model.Forward(x, new RunOptions { Capture = [layer] });
        var a = edited[layer]; var p = plain[layer];
        int plane = a.Shape[2] * a.Shape[3];
        for (int n = 0; n < 2; n++)
        for (int c = 0; c < 8; c++)
        for (int i = 0; i < plane; i++)
        {
            int at = (n * 8 + c) * plane + i;
            Assert.Equal(c is 1 or 5 ? 0f : p.Data[at], a.Data[at]);
        }
        Assert.NotEqual(plain.Output.Data.Take(20), edited.Output.Data.Take(20));
        var grads = edited.Backward(new Dictionary<string, Tensor> { [model.OutputNames[0]] = GradCheck.RandomTensor([2, 10], new Random(1)) }, [layer]);
        var g = grads[layer];
        for (int n = 0; n < 2; n++)
        for (int i = 0; i < plane; i++)
        {
            Assert.Equal(0f, g.Data[(n * 8 + 1) * plane + i]);
            Assert.Equal(0f, g.Data[(n * 8 + 5) * plane + i]);
        }
    }

    [Fact]
    public void SubstitutingChannelsCopiesTheSourceActivations()
    {
        var model = Model.Load(TestPaths.SharedModel("fmnist-cnn-paper.onnx"));
        var layer = model.ValueNames[model.Nodes.First(n => n.OpType == "Relu").Outputs[0]];
        var x = MnistBatch(1, 0);
        var other = model.Forward(MnistBatch(1, 1), new RunOptions { Capture = [layer] })[layer];
        var edited = model.Forward(x, new RunOptions { Interventions = [Intervention.SubstituteChannels(layer, other, [0, 1, 2, 3])], Capture = [layer] });
        Assert.Equal(other.Data.Take(other.Length), edited[layer].Data.Take(other.Length));
        // Every channel from the other image: the rest of the network must now see exactly the other image's features.
        var otherLogits = model.Forward(MnistBatch(1, 1)).Output;
        for (int k = 0; k < 10; k++) Assert.Equal(otherLogits.Data[k], edited.Output.Data[k], 4);
    }

    [Fact]
    public void WeightsWrittenInPlaceTakeEffectAtTheNextPass()
    {
        // Convolutions keep their constant weights packed between passes; a write into the weights must still count.
        var model = Model.Load(TestPaths.SharedModel("fmnist-cnn-paper.onnx"));
        var weight = model.Parameters.OrderBy(p => p).First(p => model.ConstantValue(p)!.Rank == 4);
        var w = model.ConstantValue(weight)!;
        var x = MnistBatch(2);
        var before = model.Forward(x).Output.AsFloats();
        float original = w.Data[5];
        w.Data[5] = original + 0.5f;
        var changed = model.Forward(x).Output.AsFloats();
        w.Data[5] = original;
        var restored = model.Forward(x).Output.AsFloats();
        Assert.NotEqual(before, changed);
        Assert.Equal(before, restored);
    }

    [Fact]
    public void WeightGradientsMatchFiniteDifferences()
    {
        var model = Model.Load(TestPaths.SharedModel("fmnist-cnn-paper.onnx"));
        var weight = model.Parameters.OrderBy(p => p).First(p => model.ConstantValue(p)!.Rank == 4);
        var x = MnistBatch(2);
        var pass = model.Forward(x, new RunOptions { RecordForBackward = true });
        var cot = GradCheck.RandomTensor(pass.Output.Shape, new Random(5));
        var g = pass.Backward(new Dictionary<string, Tensor> { [model.OutputNames[0]] = cot }, [weight])[weight];
        var w = model.ConstantValue(weight)!;
        double Loss()
        {
            var y = model.Forward(x).Output;
            return y.Data.Take(y.Length).Select((v, i) => (double)v * cot.Data[i]).Sum();
        }
        double scale = g.Data.Take(g.Length).Max(v => Math.Abs((double)v));
        for (int probe = 0; probe < 10; probe++)
        {
            int at = probe * 7 % w.Length;
            float original = w.Data[at];
            w.Data[at] = original + 1e-3f; double plus = Loss();
            w.Data[at] = original - 1e-3f; double minus = Loss();
            w.Data[at] = original;
            Assert.True(Math.Abs((plus - minus) / 2e-3 - g.Data[at]) <= 0.02 * scale, $"dL/d{weight}[{at}]");
        }
    }

    [Fact]
    public void ResultsAreBitIdenticalAcrossThreadCounts()
    {
        var model = Model.Load(TestPaths.SharedModel("squeezenet1.0-fp32-logits.onnx"));
        var x = GradCheck.RandomTensor([2, 3, 224, 224], new Random(9), -100f, 100f);
        var before = Kernels.Parallelism.MaxThreads;
        try
        {
            Kernels.Parallelism.MaxThreads = 1;
            var one = model.Forward(x, new RunOptions { RecordForBackward = true });
            var gOne = one.InputGradient(Tensor.Zeros(one.Output.Shape).Also(t => t.Span.Fill(1f)));
            Kernels.Parallelism.MaxThreads = 2;
            var two = model.Forward(x, new RunOptions { RecordForBackward = true });
            var gTwo = two.InputGradient(Tensor.Zeros(two.Output.Shape).Also(t => t.Span.Fill(1f)));
            Assert.Equal(one.Output.Data, two.Output.Data);
            Assert.Equal(gOne.Data, gTwo.Data);
        }
        finally { Kernels.Parallelism.MaxThreads = before; }
    }
}

internal static class TensorTestExtensions
{
    public static Tensor Also(this Tensor t, Action<Tensor> action) { action(t); return t; }
}
