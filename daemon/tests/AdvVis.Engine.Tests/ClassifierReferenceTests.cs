// torchvision classifiers with random weights (ViT, Swin, ConvNeXt at test-suite sizes, MobileNetV3) against PyTorch:
// logits and input gradients within 1e-4 of the reference tensor's maximum, made by make_classifier_references.py.
// The full-size models run in scripts/model-coverage.sh, whose table is docs/model-coverage.md.
using AdvVis.Data;

namespace AdvVis.Engine.Tests;

public class ClassifierReferenceTests(Xunit.Abstractions.ITestOutputHelper output)
{
    public static TheoryData<string> Models => new()
    {
        "tiny-swin", "tiny-vit", "tiny-vit-opset13", "tiny-convnext", "mobilenet_v3_small", "mobilenet_v3_large",
    };

    private static Tensor Load(string path)
    {
        var a = Npy.Read(path);
        return new Tensor(a.Shape, a.ToFloatArray());
    }

    /// <summary>max |actual − expected| / max |expected|.</summary>
    internal static double RelativeError(Tensor actual, Tensor expected)
    {
        Assert.Equal(expected.Shape, actual.Shape);
        double maxDiff = 0, maxRef = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            maxDiff = Math.Max(maxDiff, Math.Abs((double)actual.Data[i] - expected.Data[i]));
            maxRef = Math.Max(maxRef, Math.Abs((double)expected.Data[i]));
        }
        Assert.True(maxRef > 0, "reference tensor is all zeros; the comparison would be meaningless");
        return maxDiff / maxRef;
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void LogitsAndInputGradientsMatchPyTorch(string name)
    {
        var model = Model.Load(TestPaths.GeneratedClassifier(name + ".onnx"));
        Assert.Empty(model.UnsupportedNodes);
        var dir = TestPaths.GeneratedClassifier(name);
        var pass = model.Forward(Load(Path.Combine(dir, "input.npy")), new RunOptions { RecordForBackward = true });
        double logitError = RelativeError(pass.Output, Load(Path.Combine(dir, "logits.npy")));
        var grads = pass.Backward(new Dictionary<string, Tensor> { [model.OutputNames[0]] = Load(Path.Combine(dir, "cotangent.npy")) },
            [model.Inputs[0].Name]);
        double gradientError = RelativeError(grads[model.Inputs[0].Name], Load(Path.Combine(dir, "input_grad.npy")));
        output.WriteLine($"{name}: opset {model.Opset}, {model.Nodes.Count} nodes at run time, relative error logits {logitError:G3}, input gradient {gradientError:G3}");
        Assert.True(logitError < 1e-4, $"{name}: logits relative error {logitError:G3}");
        Assert.True(gradientError < 1e-4, $"{name}: input gradient relative error {gradientError:G3}");
    }
}
