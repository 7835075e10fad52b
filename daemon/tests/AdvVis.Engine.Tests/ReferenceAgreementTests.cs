// Whole models against independent references: PyTorch (logits, input gradients, an intermediate and its gradient)
// and a float64 ONNX interpreter (every intermediate tensor of the shared models).
using AdvVis.Data;

namespace AdvVis.Engine.Tests;

public class ReferenceAgreementTests(Xunit.Abstractions.ITestOutputHelper output)
{
    public static TheoryData<string, string> PyTorchModels => new()
    {
        { "resnet18-cifar", "/layer2/layer2.1/relu_1/Relu_output_0" },
        { "mobilenetv2", "/features/features.8/Add_output_0" },
        { "vgg11-bn-cifar", "/features/features.14/MaxPool_output_0" },
    };

    [Theory]
    [MemberData(nameof(PyTorchModels))]
    public void LogitsAndGradientsMatchPyTorch(string name, string intermediate)
    {
        var model = Model.Load(TestPaths.GeneratedModel(name + ".onnx"));
        var dir = TestPaths.TestData(Path.Combine("pytorch", name));
        var input = ReferenceComparison.LoadNpy(Path.Combine(dir, "input.npy"));
        var pass = model.Forward(input, new RunOptions { RecordForBackward = true, Capture = [intermediate] });

        double logitError = ReferenceComparison.RelativeError(pass.Output, ReferenceComparison.LoadNpy(Path.Combine(dir, "logits.npy")));
        Assert.True(logitError < 1e-4, $"logits relative error {logitError:G3}");
        Assert.True(ReferenceComparison.RelativeError(pass[intermediate], ReferenceComparison.LoadNpy(Path.Combine(dir, "intermediate.npy"))) < 1e-4, "intermediate activation");

        var grads = pass.Backward(new Dictionary<string, Tensor> { [model.OutputNames[0]] = ReferenceComparison.LoadNpy(Path.Combine(dir, "cotangent.npy")) },
            [model.Inputs[0].Name, intermediate]);
        double inputError = ReferenceComparison.RelativeError(grads[model.Inputs[0].Name], ReferenceComparison.LoadNpy(Path.Combine(dir, "input_grad.npy")));
        Assert.True(inputError < 1e-4, $"input gradient relative error {inputError:G3}");
        double midError = ReferenceComparison.RelativeError(grads[intermediate], ReferenceComparison.LoadNpy(Path.Combine(dir, "intermediate_grad.npy")));
        Assert.True(midError < 1e-4, $"intermediate gradient relative error {midError:G3}");
        output.WriteLine($"{name}: relative error logits {logitError:G3}, input gradient {inputError:G3}, intermediate gradient {midError:G3}");
    }

    public static TheoryData<string> SharedModels => new()
    {
        "mnist-zoo-opset7", "mnist-cnn-pytorch-opset11", "fmnist-cnn-paper", "fmnist-cnn-wide",
        "cifar10-tutorialnet-opset9", "squeezenet1.0-fp32", "squeezenet1.0-fp32-logits",
    };

    [Theory]
    [MemberData(nameof(SharedModels))]
    public void EveryIntermediateMatchesTheFloat64Interpreter(string stem)
    {
        var model = Model.Load(TestPaths.SharedModel(stem + ".onnx"));
        var dir = TestPaths.TestData(Path.Combine("onnxref", stem));
        var input = ReferenceComparison.LoadNpy(Path.Combine(dir, "input.npy"));
        var expected = Npz.Read(Path.Combine(dir, "intermediates.npz"));
        var computed = expected.Keys.Where(k => model.ConstantValue(k) is null).ToList();
        var pass = model.Forward(input, new RunOptions { Capture = computed });
        Assert.NotEmpty(computed);
        double worst = 0;
        foreach (var name in computed)
        {
            var e = expected[name];
            double err = ReferenceComparison.RelativeError(pass[name], new Tensor(e.Shape, e.ToFloatArray()));
            Assert.True(err < 1e-4, $"{stem}: '{name}' relative error {err:G3}");
            worst = Math.Max(worst, err);
        }
        output.WriteLine($"{stem}: {computed.Count} tensors, worst relative error {worst:G3}");
    }
}
