// The C# attacks against textbook PyTorch implementations of the same attacks on the same network
// (daemon/tests/reference/make_attack_references.py → daemon/tests/testdata/attacks/).
using System.Text.Json;
using AdvVis.Data;
using AdvVis.Engine;
using Xunit.Abstractions;

namespace AdvVis.Attacks.Tests;

public sealed class PyTorchAgreementTests(ITestOutputHelper output)
{
    private static readonly JsonElement Reference = JsonDocument.Parse(File.ReadAllText(TestPaths.TestData("attacks/fmnist_attacks.json"))).RootElement;

    private static Tensor LoadNpy(string name)
    {
        var a = Npy.Read(TestPaths.TestData("attacks/" + name));
        return new Tensor(a.Shape, a.ToFloatArray());
    }

    [Fact]
    public void FgsmImagesEqualPyTorchsWithinFloatRounding()
    {
        var inputs = LoadNpy("fgsm_inputs.npy");
        var expected = LoadNpy("fgsm_adversarial.npy");
        var torchGrad = LoadNpy("fgsm_gradient.npy");
        var (pixels, labels) = Fixtures.FmnistImages(inputs.Shape[0]);
        // The same images (numpy divides by 255, the data layer multiplies by 1/255: equal up to one ulp).
        for (int i = 0; i < inputs.Length; i++) Assert.Equal(inputs.Data[i], pixels.Data[i], 1e-7f);
        float eps = (float)Reference.GetProperty("fgsm_sample").GetProperty("eps").GetDouble();
        var run = Attack.Run(Fixtures.Fmnist(), inputs, labels, new AttackOptions { Kind = AttackKind.Fgsm, Epsilon = eps });
        float gmax = torchGrad.Data.Max(MathF.Abs);
        int differing = 0, atTies = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            float d = Math.Abs(run.Adversarial.Data[i] - expected.Data[i]);
            if (d <= 1e-6f) continue;
            differing++;
            // Only a pixel whose gradient is ~0 (float noise decides its sign) may legitimately differ.
            if (Math.Abs(torchGrad.Data[i]) <= 1e-5f * gmax) atTies++;
        }
        output.WriteLine($"FGSM ε={eps}: {expected.Length} pixels, {differing} differ by more than 1e-6 ({atTies} of them at |g| ≤ 1e-5·max|g|)");
        Assert.Equal(differing, atTies);
        Assert.True(differing <= expected.Length / 1000, $"{differing} pixels differ");
    }

    [Theory]
    [InlineData("fgsm")]
    [InlineData("pgd_linf")]
    [InlineData("pgd_l2")]
    public void AdversarialAccuracyOver2000ImagesWithinHalfAPointOfPyTorch(string attack)
    {
        var reference = Reference.GetProperty("attacks").GetProperty(attack);
        var settings = reference.GetProperty("settings");
        float eps = (float)settings.GetProperty("eps").GetDouble();
        var options = attack switch
        {
            "fgsm" => new AttackOptions { Kind = AttackKind.Fgsm, Epsilon = eps },
            _ => new AttackOptions
            {
                Kind = AttackKind.Pgd, Norm = attack == "pgd_l2" ? Norm.L2 : Norm.LInf, Epsilon = eps,
                StepSize = (float)settings.GetProperty("alpha").GetDouble(), Steps = settings.GetProperty("steps").GetInt32(),
            },
        } with { BatchSize = 250 };
        int count = Reference.GetProperty("count").GetInt32();
        var (pixels, labels) = Fixtures.FmnistImages(count);
        var run = Attack.Run(Fixtures.Fmnist(), pixels, labels, options);
        double torchAcc = reference.GetProperty("adversarial_accuracy").GetDouble();
        var torchPreds = reference.GetProperty("predictions").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        int samePrediction = run.Images.Count(i => i.AdversarialPrediction == torchPreds[i.Index]);
        output.WriteLine($"{options.Describe()}: clean {run.Summary.CleanAccuracy:P2} (torch {Reference.GetProperty("clean_accuracy").GetDouble():P2}), " +
                         $"adversarial {run.Summary.AdversarialAccuracy:P2} vs PyTorch {torchAcc:P2}; same adversarial prediction on {samePrediction}/{count}");
        Assert.Equal(Reference.GetProperty("clean_accuracy").GetDouble(), run.Summary.CleanAccuracy, 6);
        Assert.InRange(run.Summary.AdversarialAccuracy - torchAcc, -0.005, 0.005);
    }
}
