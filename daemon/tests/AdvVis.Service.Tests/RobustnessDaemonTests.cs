// robustness/evaluate and the new attack kinds through the real `advvis serve --stdio` process.
using System.Text.Json;
using AdvVis.Service.JsonRpc;
using AdvVis.Service.Tests.TestSupport;

namespace AdvVis.Service.Tests;

public sealed class RobustnessDaemonTests(DaemonFixture fixture) : IClassFixture<DaemonFixture>
{
    private DaemonProcess D => fixture.Daemon;
    private static string Mnist => Path.GetFullPath(Path.Combine(DaemonProcess.Models, "mnist-zoo-opset7.onnx"));
    private static string[] Digits => Directory.GetFiles(Path.Combine(DaemonProcess.Data, "mnist", "foolbox_samples"), "*.png").Order(StringComparer.Ordinal).Take(6).ToArray();
    private static int[] DigitLabels => Digits.Select(p => int.Parse(Path.GetFileNameWithoutExtension(p).Split('_')[2])).ToArray();

    [Fact]
    public async Task Robustness_evaluate_reports_every_stage_per_eps_and_is_cached()
    {
        string handle = (await D.ResultAsync("model/open", new { path = Mnist })).GetProperty("handle").GetString()!;
        var parameters = new { model = handle, items = new { images = Digits, labels = DigitLabels }, eps = new[] { 0.05, 0.2 }, steps = 10, queries = 50 };
        var first = await D.ResultAsync("robustness/evaluate", parameters);
        Assert.False(first.GetProperty("fromCache").GetBoolean());
        Assert.Equal(["apgd-ce", "apgd-t", "fab-t", "square"], first.GetProperty("attacks").EnumerateArray().Select(a => a.GetString()).ToArray());
        var results = first.GetProperty("results").EnumerateArray().ToArray();
        Assert.Equal(2, results.Length);
        foreach (var r in results)
        {
            double clean = r.GetProperty("cleanAccuracy").GetDouble(), robust = r.GetProperty("robustAccuracy").GetDouble();
            Assert.InRange(robust, 0, clean);
            Assert.Equal(4, r.GetProperty("stages").GetArrayLength());
            Assert.Equal(0, r.GetProperty("invalidExamples").GetInt32());
            Assert.True(r.GetProperty("maxPerturbation").GetDouble() <= r.GetProperty("eps").GetDouble() * (1 + 1e-5));
            var stages = r.GetProperty("stages").EnumerateArray().ToArray();
            Assert.Equal(robust, stages[^1].GetProperty("robustAccuracy").GetDouble());
        }
        Assert.True(results[1].GetProperty("robustAccuracy").GetDouble() <= results[0].GetProperty("robustAccuracy").GetDouble());
        Assert.True((await D.ResultAsync("robustness/evaluate", parameters)).GetProperty("fromCache").GetBoolean());
    }

    [Fact]
    public async Task Robustness_evaluate_uses_the_domain_budget_and_refuses_bad_sequences()
    {
        string handle = (await D.ResultAsync("model/open", new { path = Mnist })).GetProperty("handle").GetString()!;
        var items = new { images = Digits.Take(2).ToArray(), labels = DigitLabels.Take(2).ToArray() };
        var r = await D.ResultAsync("robustness/evaluate", new { model = handle, items, version = "custom", attacks = new[] { "apgdCe" }, steps = 5 });
        Assert.True(r.GetProperty("defaultEps").GetBoolean());
        Assert.Equal(0.3, r.GetProperty("results")[0].GetProperty("eps").GetDouble(), 5); // MNIST-like L∞ budget
        var error = await D.CallAsync("robustness/evaluate", new { model = handle, items, version = "custom" });
        Assert.Equal(JsonRpcErrorCodes.InvalidParams, error.GetProperty("error").GetProperty("code").GetInt32());
        Assert.Contains("attacks", error.GetProperty("error").GetProperty("message").GetString());
        var l1Square = await D.CallAsync("robustness/evaluate", new { model = handle, items, norm = "l1", eps = new[] { 5.0 }, version = "custom", attacks = new[] { "square" } });
        Assert.Equal(JsonRpcErrorCodes.InvalidParams, l1Square.GetProperty("error").GetProperty("code").GetInt32());
    }

    [Fact]
    public async Task Model_open_lists_the_standard_budgets_that_robustness_evaluate_uses_by_default()
    {
        static (string, double)[] Budgets(JsonElement info) =>
            info.GetProperty("standardBudgets").EnumerateArray().Select(b => (b.GetProperty("norm").GetString()!, Math.Round(b.GetProperty("eps").GetDouble(), 5))).ToArray();
        var mnist = await D.ResultAsync("model/open", new { path = Mnist });
        Assert.Equal([("linf", 0.3), ("l2", 1.5)], Budgets(mnist));
        var cifar = await D.ResultAsync("model/open", new { path = Path.GetFullPath(Path.Combine(DaemonProcess.Models, "cifar10-tutorialnet-opset9.onnx")) });
        Assert.Equal([("linf", Math.Round(8.0 / 255, 5)), ("l2", 0.5), ("l1", 12.0)], Budgets(cifar));
        // The L2 budget listed is the one the suite takes when eps is omitted.
        var items = new { images = Digits.Take(1).ToArray(), labels = DigitLabels.Take(1).ToArray() };
        var l2 = await D.ResultAsync("robustness/evaluate", new { model = mnist.GetProperty("handle").GetString(), items, norm = "l2", version = "custom", attacks = new[] { "apgdCe" }, steps = 2 });
        Assert.Equal(1.5, l2.GetProperty("results")[0].GetProperty("eps").GetDouble(), 5);
    }

    [Theory]
    [InlineData("apgdCe", "linf", 0.2)]
    [InlineData("apgdT", "l1", 8.0)]
    [InlineData("square", "l2", 2.0)]
    [InlineData("miFgsm", "linf", 0.2)]
    [InlineData("onePixel", "linf", 0.0)]
    public async Task Attack_run_takes_the_new_kinds(string kind, string norm, double eps)
    {
        string handle = (await D.ResultAsync("model/open", new { path = Mnist })).GetProperty("handle").GetString()!;
        var r = await D.ResultAsync("attack/run", new { model = handle, items = new { images = Digits, labels = DigitLabels }, attack = new { kind, norm, eps, steps = kind == "square" ? 100 : 10 }, perImage = true });
        Assert.True(r.GetProperty("adversarialAccuracy").GetDouble() <= r.GetProperty("cleanAccuracy").GetDouble());
        if (kind != "onePixel")
            foreach (var item in r.GetProperty("items").EnumerateArray())
                Assert.True(item.GetProperty(norm == "l2" ? "l2" : "linf").GetDouble() <= eps * (1 + 1e-5) || norm == "l1");
    }
}
