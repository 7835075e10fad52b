// ONNX Runtime as a second oracle for logits, beside PyTorch: the same fixed-seed random batch of 2 through both
// engines on every model both run, within 1e-4 of the reference's largest magnitude.
using AdvVis.Engine;
using AdvVis.TestSupport;

namespace AdvVis.OrtReference.Tests;

public class LogitsAgreementTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private const int Batch = 2;
    private const double Tolerance = 1e-4;

    /// <summary>Real models from ../shared/models (see its README); all must be present.</summary>
    public static TheoryData<string> SharedModels => new(
        "fmnist-cnn-paper.onnx", "fmnist-cnn-wide.onnx", "mnist-zoo-opset7.onnx", "mnist-cnn-pytorch-opset11.onnx",
        "cifar10-tutorialnet-opset9.onnx", "squeezenet1.0-fp32.onnx", "squeezenet1.0-fp32-logits.onnx");

    /// <summary>Exports scripts/setup.sh makes under daemon/tests/.cache: folder, file, and the command that makes it.</summary>
    public static TheoryData<string, string> GeneratedModels => new()
    {
        { "models", "resnet18-cifar.onnx" }, { "models", "mobilenetv2.onnx" }, { "models", "vgg11-bn-cifar.onnx" },
        { "classifiers", "tiny-vit.onnx" }, { "classifiers", "tiny-swin.onnx" }, { "classifiers", "tiny-convnext.onnx" },
        { "classifiers", "mobilenet_v3_small.onnx" },
    };

    [Theory]
    [MemberData(nameof(SharedModels))]
    public void SharedModelLogitsMatchOrt(string file) => AssertAgrees(RepoPaths.SharedFile(Path.Combine("models", file)));

    [Theory]
    [MemberData(nameof(GeneratedModels))]
    public void GeneratedModelLogitsMatchOrt(string folder, string file)
    {
        string path = Path.Combine(RepoPaths.Root, "daemon", "tests", ".cache", folder, file);
        Assert.True(File.Exists(path), $"Generated model {path} is missing: run scripts/setup.sh (it runs daemon/tests/reference/"
            + (folder == "models" ? "make_reference_models.sh" : "make_classifier_references.py") + " with Debian's python3-torch).");
        AssertAgrees(path);
    }

    private void AssertAgrees(string path)
    {
        var model = Model.Load(path);
        var input = RandomBatch(model, path);
        var ours = model.Forward(input).Output;
        using var ort = new OrtOracle(path);
        var (shape, expected) = ort.Run(input.Shape, input.Data);
        Assert.Equal(shape, ours.Shape);
        double maxDiff = 0, maxRef = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            maxDiff = Math.Max(maxDiff, Math.Abs((double)ours.Data[i] - expected[i]));
            maxRef = Math.Max(maxRef, Math.Abs((double)expected[i]));
        }
        Assert.True(maxRef > 0, $"{Path.GetFileName(path)}: ORT's logits are all zero; the comparison would mean nothing.");
        double error = maxDiff / maxRef;
        output.WriteLine($"{Path.GetFileName(path)}: output [{string.Join(",", shape)}], max|AdvVis-ORT| / max|ORT| = {error:G3}");
        Assert.True(error <= Tolerance, $"{Path.GetFileName(path)}: logits differ from ONNX Runtime by {error:G3} of their maximum (tolerance {Tolerance:G1}).");
    }

    /// <summary>Uniform [0, 1) values, seeded by nothing but the batch size, in the model's declared shape with batch 2.</summary>
    private static Tensor RandomBatch(Model model, string path)
    {
        var declared = model.Inputs[0].DeclaredShape
            ?? throw new InvalidOperationException($"{Path.GetFileName(path)} declares no input shape; the test needs one.");
        var shape = declared.Select((d, axis) => axis == 0 ? Batch
            : d.Value is long v ? (int)v : throw new InvalidOperationException($"{Path.GetFileName(path)}: input axis {axis} is symbolic ({d.Symbol}).")).ToArray();
        var random = new Random(20261208);
        var data = new float[shape.Aggregate(1, (a, b) => a * b)];
        for (int i = 0; i < data.Length; i++) data[i] = (float)random.NextDouble();
        return new Tensor(shape, data);
    }
}
