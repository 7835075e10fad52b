// `advvis robustness` as a user runs it: the suite's JSON, its agreement with the same run through the library
// figures it reports (stages chain, examples within ε), an accuracy–ε curve, and clear errors for bad options.
using System.Text.Json;

namespace AdvVis.Engine.Tests;

public class CliRobustnessTests
{
    private static (int ExitCode, string Stdout, string Stderr) Robustness(params string[] extra) =>
        CliTests.Run(["robustness", TestPaths.SharedModel("fmnist-cnn-paper.onnx"), "--data", TestPaths.SharedData("fashion-mnist/fmnist-test-2000.npz"),
            "--limit", "40", "--steps", "10", "--queries", "50", .. extra]);

    [Fact]
    public void RobustnessReportsEveryStageAndACurveOverEpsilon()
    {
        var (code, stdout, stderr) = Robustness("--eps", "0.01,0.03", "--json");
        Assert.True(code == 0, stderr);
        using var doc = JsonDocument.Parse(stdout);
        Assert.Equal(["apgd-ce", "apgd-t", "fab-t", "square"], doc.RootElement.GetProperty("attacks").EnumerateArray().Select(a => a.GetString()).ToArray());
        var results = doc.RootElement.GetProperty("results").EnumerateArray().ToArray();
        Assert.Equal(2, results.Length);
        foreach (var r in results)
        {
            var stages = r.GetProperty("stages").EnumerateArray().ToArray();
            Assert.Equal(r.GetProperty("clean_correct").GetInt32(), stages[0].GetProperty("attacked").GetInt32());
            for (int s = 1; s < stages.Length; s++)
                Assert.Equal(stages[s - 1].GetProperty("robust_after").GetInt32(), stages[s].GetProperty("attacked").GetInt32());
            Assert.Equal(r.GetProperty("robust_count").GetInt32(), stages[^1].GetProperty("robust_after").GetInt32());
            Assert.True(r.GetProperty("max_perturbation").GetDouble() <= r.GetProperty("eps").GetDouble() * (1 + 1e-5));
            Assert.Equal(0, r.GetProperty("invalid_examples").GetInt32());
        }
        Assert.True(results[1].GetProperty("robust_accuracy").GetDouble() < results[0].GetProperty("robust_accuracy").GetDouble());
    }

    [Theory]
    [InlineData("--attacks", "apgd-ce", "--attacks chooses the attacks of --version custom")]
    [InlineData("--version", "custom", "needs its attacks")]
    [InlineData("--norm", "l3", "--norm must be linf, l2 or l1")]
    public void BadOptionsAreNamed(string option, string value, string message)
    {
        var (code, _, stderr) = Robustness("--eps", "0.02", option, value);
        Assert.Equal(1, code);
        Assert.Contains(message, stderr);
    }

    [Fact]
    public void WithoutEpsTheDomainBudgetIsUsedAndSaid()
    {
        var (code, stdout, stderr) = CliTests.Run("robustness", TestPaths.SharedModel("fmnist-cnn-paper.onnx"), "--data", TestPaths.SharedData("fashion-mnist/fmnist-test-2000.npz"),
            "--limit", "8", "--version", "custom", "--attacks", "apgd-ce", "--steps", "5");
        Assert.True(code == 0, stderr);
        Assert.Contains("ε = 0.3 (linf)", stdout);
        Assert.Contains("usual budget", stdout);
    }
}
