// `advvis attack` and `advvis explain` as a user runs them, checked against PyTorch's figures and the files they write.
using System.Text.Json;

namespace AdvVis.Engine.Tests;

public class CliAttackTests
{
    [Fact]
    public void AttackCommandMatchesPyTorchFgsmOnFashionMnist()
    {
        using var reference = JsonDocument.Parse(File.ReadAllText(TestPaths.TestData("attacks/fmnist_attacks.json")));
        double expected = reference.RootElement.GetProperty("attacks").GetProperty("fgsm").GetProperty("adversarial_accuracy").GetDouble();
        double clean = reference.RootElement.GetProperty("clean_accuracy").GetDouble();
        var (code, stdout, stderr) = CliTests.Run("attack", TestPaths.SharedModel("fmnist-cnn-paper.onnx"),
            "--data", TestPaths.SharedData("fashion-mnist/fmnist-test-2000.npz"), "--attack", "fgsm", "--eps", "0.03", "--json");
        Assert.True(code == 0, stderr);
        using var doc = JsonDocument.Parse(stdout);
        Assert.Equal(2000, doc.RootElement.GetProperty("count").GetInt32());
        Assert.Equal(clean, doc.RootElement.GetProperty("clean_accuracy").GetDouble(), 4);
        Assert.InRange(doc.RootElement.GetProperty("adversarial_accuracy").GetDouble(), expected - 0.005, expected + 0.005);
        Assert.True(doc.RootElement.GetProperty("max_linf").GetDouble() <= 0.03 + 1e-6);
    }

    [Fact]
    public void AttackSaveWritesImagesAndNeverOverwritesUserFiles()
    {
        var dir = Directory.CreateTempSubdirectory("advvis-save-");
        try
        {
            var mine = Path.Combine(dir.FullName, "notes.txt");
            File.WriteAllText(mine, "mine");
            var (code, _, stderr) = CliTests.Run("attack", TestPaths.SharedModel("mnist-zoo-opset7.onnx"),
                "--data", TestPaths.SharedData("mnist/t10k-images-idx3-ubyte.gz"), "--attack", "pgd", "--eps", "0.1", "--alpha", "0.025",
                "--steps", "5", "--limit", "8", "--save", dir.FullName);
            Assert.True(code == 0, stderr);
            Assert.Equal("mine", File.ReadAllText(mine));
            var pngs = Directory.GetFiles(dir.FullName, "*.png", SearchOption.AllDirectories);
            Assert.Equal(8, pngs.Length);
            var decoded = AdvVis.Data.ImageDecoder.Decode(pngs[0]);
            Assert.Equal((28, 28), (decoded.Width, decoded.Height));
        }
        finally { dir.Delete(true); }
    }

    [Fact]
    public void ExplainWritesJsonAndAStaticHtmlReportNamingTheDivergingPoint()
    {
        var dir = Path.Combine(Path.GetTempPath(), "advvis-explain-" + Guid.NewGuid().ToString("N"));
        try
        {
            var (code, _, stderr) = CliTests.Run("explain", TestPaths.SharedModel("mnist-zoo-opset7.onnx"),
                TestPaths.SharedData("mnist/foolbox_samples/mnist_00_7.png"), "--attack", "pgd", "--eps", "0.3", "--alpha", "0.075", "--steps", "20",
                "--background", TestPaths.SharedData("mnist/t10k-images-idx3-ubyte.gz"), "--background-limit", "100", "--out", dir);
            Assert.True(code == 0, stderr);
            var html = File.ReadAllText(Directory.GetFiles(dir, "*.html").Single());
            Assert.DoesNotContain("http://", html.Replace("http://www.w3.org", ""));
            Assert.DoesNotContain("<script src", html);
            using var doc = JsonDocument.Parse(File.ReadAllText(Directory.GetFiles(dir, "*.json").Single()));
            var text = doc.RootElement.GetRawText();
            Assert.Contains("diverging", text, StringComparison.OrdinalIgnoreCase);
        }
        finally { if (Directory.Exists(dir)) Directory.Delete(dir, true); }
    }
}
