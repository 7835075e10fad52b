// The `advvis` commands as a user runs them: a real child process, real models, real files.
using System.Diagnostics;
using System.Text.Json;

namespace AdvVis.Engine.Tests;

public class CliTests
{
    internal static (int ExitCode, string Stdout, string Stderr) Run(params string[] args)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "advvis.dll");
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add(dll);
        foreach (var a in args) info.ArgumentList.Add(a);
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        Assert.True(process.WaitForExit(120_000), "advvis did not finish in 2 minutes");
        return (process.ExitCode, stdout.Result, stderr.Result);
    }

    [Fact]
    public void InfoJsonListsInputsOutputsShapesAndNoUnsupportedOps()
    {
        var (code, stdout, stderr) = Run("info", TestPaths.SharedModel("squeezenet1.0-fp32.onnx"), "--json");
        Assert.True(code == 0, stderr);
        using var doc = JsonDocument.Parse(stdout);
        var root = doc.RootElement;
        Assert.Equal("data_0", root.GetProperty("inputs")[0].GetProperty("name").GetString());
        Assert.Equal(66, root.GetProperty("nodes").GetArrayLength());
        Assert.Equal(0, root.GetProperty("unsupported").GetArrayLength());
        Assert.Equal(1235496, root.GetProperty("parameterCount").GetInt64());
        var last = root.GetProperty("outputs")[0].GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        Assert.Equal([1, 1000, 1, 1], last);
    }

    [Fact]
    public void InferClassifiesAnMnistDigitFromItsPng()
    {
        var (code, stdout, stderr) = Run("infer", TestPaths.SharedModel("mnist-zoo-opset7.onnx"),
            "--input", TestPaths.SharedData("mnist/foolbox_samples/mnist_00_7.png"), "--json");
        Assert.True(code == 0, stderr);
        using var doc = JsonDocument.Parse(stdout);
        var top = doc.RootElement.GetProperty("results")[0].GetProperty("top5")[0];
        Assert.Equal(7, top.GetProperty("class").GetInt32());
        Assert.Contains("assumed", doc.RootElement.GetProperty("notes")[0].GetString());
    }

    [Fact]
    public void InferReadsAPreprocessedNpyTensor()
    {
        var (code, stdout, stderr) = Run("infer", TestPaths.SharedModel("fmnist-cnn-paper.onnx"),
            "--input", TestPaths.TestData("onnxref/fmnist-cnn-paper/input.npy"), "--json");
        Assert.True(code == 0, stderr);
        using var doc = JsonDocument.Parse(stdout);
        Assert.Equal(2, doc.RootElement.GetProperty("results").GetArrayLength());
    }

    [Fact]
    public void OnnxTestReportsPassAndExitsNonZeroOnFailure()
    {
        var good = Path.Combine(TestPaths.OnnxTestData, "node", "test_relu");
        var (code, stdout, _) = Run("onnx-test", good);
        Assert.Equal(0, code);
        Assert.Contains("1 passed, 0 failed", stdout);

        // Corrupt a copy's expected output: the command must notice and fail.
        var copy = Directory.CreateTempSubdirectory("advvis-case-");
        try
        {
            File.Copy(Path.Combine(good, "model.onnx"), Path.Combine(copy.FullName, "model.onnx"));
            var set = Directory.CreateDirectory(Path.Combine(copy.FullName, "test_data_set_0")).FullName;
            File.Copy(Path.Combine(good, "test_data_set_0", "input_0.pb"), Path.Combine(set, "input_0.pb"));
            // The input as the expected output: ReLU changes its negative values, so this must fail.
            File.Copy(Path.Combine(good, "test_data_set_0", "input_0.pb"), Path.Combine(set, "output_0.pb"));
            var (badCode, badOut, _) = Run("onnx-test", copy.FullName);
            Assert.Equal(1, badCode);
            Assert.Contains("FAIL", badOut);
        }
        finally { copy.Delete(true); }
    }

    [Fact]
    public void BadInputGivesAClearMessageAndExitCode()
    {
        var (code, _, stderr) = Run("info", "/no/such/model.onnx");
        Assert.Equal(1, code);
        Assert.Contains("/no/such/model.onnx", stderr);
        var text = Path.GetTempFileName();
        File.WriteAllText(text, "not an image");
        try
        {
            var (c2, _, e2) = Run("infer", TestPaths.SharedModel("mnist-zoo-opset7.onnx"), "--input", text);
            Assert.Equal(1, c2);
            Assert.Contains(Path.GetFileName(text), e2);
        }
        finally { File.Delete(text); }
    }
}
