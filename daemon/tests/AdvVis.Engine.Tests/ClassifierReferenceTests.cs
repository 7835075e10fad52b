// torchvision classifiers with random weights (ViT, Swin, ConvNeXt at test-suite sizes, MobileNetV3) against PyTorch:
// logits and input gradients within 1e-4 of the reference tensor's maximum, made by make_classifier_references.py.
// The full-size models run in scripts/model-coverage.sh, whose table is docs/model-coverage.md.
using AdvVis.Data;

namespace AdvVis.Engine.Tests;

public class ClassifierReferenceTests(Xunit.Abstractions.ITestOutputHelper output)
{
    /// <summary>The exports scripts/setup.sh makes (make_classifier_references.py's SUITE).</summary>
    private static readonly string[] Suite =
        ["tiny-swin", "tiny-swin-dynamic", "tiny-vit", "tiny-vit-opset13", "tiny-convnext", "mobilenet_v3_small", "mobilenet_v3_large"];

    public static TheoryData<string> Models => new(Suite);

    [Theory]
    [MemberData(nameof(Models))]
    public void LogitsAndInputGradientsMatchPyTorch(string name)
    {
        var row = Measure(name);
        output.WriteLine(row.ToString());
        Assert.True(row.Error is null, $"{name}: {row.Error}");
        Assert.True(row.LogitsError < 1e-4, $"{name}: logits relative error {row.LogitsError:G3}");
        Assert.True(row.GradientError < 1e-4, $"{name}: input gradient relative error {row.GradientError:G3}");
    }

    /// <summary>
    /// The coverage table over every export in the cache: the test suite's set always, and the full-size models when
    /// scripts/model-coverage.sh has made them. Written to the cache folder as coverage.md for docs/model-coverage.md.
    /// It reports rather than asserts for the models outside the suite, so a refused model shows up as a row.
    /// </summary>
    [Fact]
    public void CoverageTable()
    {
        var folder = Path.GetDirectoryName(TestPaths.GeneratedClassifier("tiny-vit.onnx"))!;
        var names = Directory.GetFiles(folder, "*.onnx").Select(Path.GetFileNameWithoutExtension).Where(n => Directory.Exists(Path.Combine(folder, n!)))
            .OrderBy(n => Suite.Contains(n) ? 0 : 1).ThenBy(n => n, StringComparer.Ordinal).ToList();
        var rows = names.Select(n => Measure(n!)).ToList();
        var lines = new List<string>
        {
            "| model | opset | ONNX MB | loads | logits error | input-gradient error | PyTorch float32's errors | fwd+bwd s | within 1e-4 |",
            "|---|---|---|---|---|---|---|---|---|",
        };
        foreach (var r in rows)
            lines.Add($"| {r.Name} | {r.Opset} | {r.Megabytes:F1} | {(r.Loads ? "yes" : "no: " + r.Error)} | {r.LogitsError:G2} | {r.GradientError:G2} | {TorchFloat32(folder, r.Name)} | {r.Seconds:F1} | {(r.Passes ? "yes" : "no")} |");
        File.WriteAllLines(Path.Combine(folder, "coverage.md"), lines);
        foreach (var l in lines) output.WriteLine(l);
        foreach (var m in Suite) Assert.True(rows.Single(r => r.Name == m).Passes, $"suite model {m} fails");
    }

    /// <summary>How far PyTorch's own float32 run is from the float64 reference (meta.json), logits / input gradient.</summary>
    private static string TorchFloat32(string folder, string name)
    {
        var meta = Path.Combine(folder, name, "meta.json");
        if (!File.Exists(meta)) return "?";
        using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(meta));
        return doc.RootElement.TryGetProperty("torch_float32_rel_err", out var e)
            ? $"{e.GetProperty("logits").GetDouble():G2} / {e.GetProperty("input_grad").GetDouble():G2}"
            : "?";
    }

    internal sealed record CoverageRow(string Name, long Opset, double Megabytes, bool Loads, double LogitsError, double GradientError, double Seconds, string? Error)
    {
        public bool Passes => Error is null && LogitsError < 1e-4 && GradientError < 1e-4;
        public override string ToString() => Error is not null
            ? $"{Name}: opset {Opset}: {Error}"
            : $"{Name}: opset {Opset}, relative error logits {LogitsError:G3}, input gradient {GradientError:G3}, forward+backward {Seconds:F1} s";
    }

    private static CoverageRow Measure(string name)
    {
        var path = TestPaths.GeneratedClassifier(name + ".onnx");
        double megabytes = new FileInfo(path).Length / 1e6;
        Model model;
        try { model = Model.Load(path); }
        catch (Exception e) when (e is EngineException or AdvVis.Onnx.OnnxFormatException)
        {
            return new CoverageRow(name, 0, megabytes, false, double.NaN, double.NaN, 0, e.Message);
        }
        if (model.UnsupportedNodes.Count > 0)
            return new CoverageRow(name, model.Opset, megabytes, false, double.NaN, double.NaN, 0,
                "unsupported " + string.Join(", ", model.UnsupportedNodes.Select(u => u.OpType).Distinct()));
        var dir = TestPaths.GeneratedClassifier(name);
        try
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var pass = model.Forward(ReferenceComparison.LoadNpy(Path.Combine(dir, "input.npy")), new RunOptions { RecordForBackward = true });
            var grads = pass.Backward(new Dictionary<string, Tensor> { [model.OutputNames[0]] = ReferenceComparison.LoadNpy(Path.Combine(dir, "cotangent.npy")) },
                [model.Inputs[0].Name]);
            clock.Stop();
            return new CoverageRow(name, model.Opset, megabytes, true, ReferenceComparison.RelativeError(pass.Output, ReferenceComparison.LoadNpy(Path.Combine(dir, "logits.npy"))),
                ReferenceComparison.RelativeError(grads[model.Inputs[0].Name], ReferenceComparison.LoadNpy(Path.Combine(dir, "input_grad.npy"))), clock.Elapsed.TotalSeconds, null);
        }
        catch (EngineException e)
        {
            return new CoverageRow(name, model.Opset, megabytes, true, double.NaN, double.NaN, 0, e.Message);
        }
    }
}
