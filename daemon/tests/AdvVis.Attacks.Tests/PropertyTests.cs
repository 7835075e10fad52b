// Properties every attack must have, whatever the model: ε = 0 returns the input, outputs stay in the ε-ball and the
// value range, targeted attacks raise the target's probability, runs are deterministic and independent of batching.
using AdvVis.Engine;

namespace AdvVis.Attacks.Tests;

public sealed class PropertyTests
{
    private static readonly (Tensor Pixels, int[] Labels) Images = Fixtures.FmnistImages(24);

    public static TheoryData<string> GradientAttacks => new() { "fgsm", "fgm", "pgd-linf", "pgd-l2", "pgd-linf-random", "pgd-l2-random", "pgd-margin" };

    private static AttackOptions Options(string name, float eps) => name switch
    {
        "fgsm" => new AttackOptions { Kind = AttackKind.Fgsm, Epsilon = eps },
        "fgm" => new AttackOptions { Kind = AttackKind.Fgm, Norm = Norm.L2, Epsilon = eps * 10 },
        "pgd-linf" => new AttackOptions { Kind = AttackKind.Pgd, Epsilon = eps, Steps = 5 },
        "pgd-l2" => new AttackOptions { Kind = AttackKind.Pgd, Norm = Norm.L2, Epsilon = eps * 10, StepSize = eps * 4, Steps = 5 },
        "pgd-linf-random" => new AttackOptions { Kind = AttackKind.Pgd, Epsilon = eps, Steps = 5, RandomStart = true, Seed = 3 },
        "pgd-l2-random" => new AttackOptions { Kind = AttackKind.Pgd, Norm = Norm.L2, Epsilon = eps * 10, StepSize = eps * 4, Steps = 5, RandomStart = true, Seed = 3 },
        "pgd-margin" => new AttackOptions { Kind = AttackKind.Pgd, Epsilon = eps, Steps = 5, Loss = LossKind.Margin, Kappa = 7 },
        _ => throw new ArgumentException(name),
    } with { BatchSize = 10 };

    [Theory]
    [MemberData(nameof(GradientAttacks))]
    public void EpsilonZeroReturnsTheInput(string name)
    {
        var run = Attack.Run(Fixtures.Fmnist(), Images.Pixels, Images.Labels, Options(name, 0f) with { Epsilon = 0f });
        Assert.Equal(Images.Pixels.Data, run.Adversarial.Data);
        Assert.All(run.Images, i => Assert.Equal(0f, i.L2));
        Assert.Equal(run.Summary.CleanAccuracy, run.Summary.AdversarialAccuracy);
    }

    [Theory]
    [MemberData(nameof(GradientAttacks))]
    public void OutputsStayInTheEpsilonBallAndTheValueRange(string name)
    {
        var o = Options(name, 0.05f);
        // A narrower value range than [0, 1] must be respected too.
        var model = new AttackModel(Fixtures.Fmnist().Model, 1, 28, 28, min: 0.02f, max: 0.9f);
        var x = Clamp(Images.Pixels, 0.02f, 0.9f);
        var run = Attack.Run(model, x, Images.Labels, o);
        int per = 28 * 28;
        for (int b = 0; b < x.Shape[0]; b++)
        {
            double l2 = 0;
            for (int i = b * per; i < (b + 1) * per; i++)
            {
                float v = run.Adversarial.Data[i], d = v - x.Data[i];
                Assert.InRange(v, 0.02f, 0.9f);
                if (o.Norm == Norm.LInf) Assert.True(Math.Abs(d) <= o.Epsilon * (1 + 1e-6f) + 1e-7f, $"|δ| = {Math.Abs(d)} > ε = {o.Epsilon}");
                l2 += (double)d * d;
            }
            if (o.Norm == Norm.L2) Assert.True(Math.Sqrt(l2) <= o.Epsilon * (1 + 1e-5), $"‖δ‖₂ = {Math.Sqrt(l2)} > ε = {o.Epsilon}");
        }
        // And the attack does something: fewer correct answers than before.
        Assert.True(run.Summary.AdversarialAccuracy < run.Summary.CleanAccuracy, $"{name}: adversarial {run.Summary.AdversarialAccuracy} vs clean {run.Summary.CleanAccuracy}");
    }

    [Theory]
    [InlineData("cw")]
    [InlineData("deepfool-l2")]
    [InlineData("deepfool-linf")]
    public void MinimalPerturbationAttacksStayInRangeAndFoolMostImages(string name)
    {
        var o = name switch
        {
            "cw" => new AttackOptions { Kind = AttackKind.CarliniWagnerL2, Steps = 30, BinarySearchSteps = 3, InitialConst = 1f, LearningRate = 0.05f },
            "deepfool-l2" => new AttackOptions { Kind = AttackKind.DeepFool, Norm = Norm.L2, Steps = 30 },
            _ => new AttackOptions { Kind = AttackKind.DeepFool, Norm = Norm.LInf, Steps = 30 },
        } with { BatchSize = 12 };
        var run = Attack.Run(Fixtures.Fmnist(), Images.Pixels, Images.Labels, o);
        Assert.All(run.Adversarial.Data.Take(run.Adversarial.Length), v => Assert.InRange(v, 0f, 1f));
        // DeepFool's linearisation can stall against the [0, 1] box on a few images; most must still flip.
        Assert.True(run.Summary.SuccessRate >= 0.75, $"{name}: success rate {run.Summary.SuccessRate}");
        // Minimal perturbations are small compared with the images (‖x‖₂ is about 10 here).
        Assert.True(run.Summary.MeanL2 < 3, $"{name}: mean L2 {run.Summary.MeanL2}");
        if (name == "cw")
            // CW keeps the input itself for images it could not fool.
            Assert.All(run.Images.Where(i => !i.Success && i.CleanCorrect), i => Assert.Equal(0f, i.L2));
    }

    [Theory]
    [InlineData("pgd")]
    [InlineData("fgsm")]
    [InlineData("cw")]
    public void TargetedAttacksRaiseTheTargetsProbability(string name)
    {
        const int target = 8; // "Bag"
        var o = name switch
        {
            "pgd" => new AttackOptions { Kind = AttackKind.Pgd, Epsilon = 0.1f, StepSize = 0.02f, Steps = 10 },
            "fgsm" => new AttackOptions { Kind = AttackKind.Fgsm, Epsilon = 0.03f },
            _ => new AttackOptions { Kind = AttackKind.CarliniWagnerL2, Steps = 30, BinarySearchSteps = 2, LearningRate = 0.05f },
        } with { TargetClass = target, BatchSize = 12 };
        var run = Attack.Run(Fixtures.Fmnist(), Images.Pixels, Images.Labels, o);
        // CW returns the input itself where it found no adversarial example: judge it on the images it moved.
        var others = run.Images.Where(i => i.Label != target && (name != "cw" || i.L2 > 0)).ToList();
        Assert.True(others.Count >= run.Images.Count(i => i.Label != target) / 2, $"{name}: moved only {others.Count} images");
        Assert.All(others, i => Assert.Equal(target, i.AdversarialClass));
        Assert.All(others, i => Assert.True(i.AdversarialClassProbabilityAdversarial > i.AdversarialClassProbabilityClean || i.AdversarialClassProbabilityClean > 0.999f,
            $"{name}: image {i.Index}: p(target) {i.AdversarialClassProbabilityClean} → {i.AdversarialClassProbabilityAdversarial}"));
        if (name == "pgd") Assert.True(run.Summary.SuccessRate > 0.5, $"targeted PGD reached the target on {run.Summary.SuccessRate:P0}");
    }

    [Fact]
    public void RunsAreDeterministicForASeedAndIndependentOfTheBatchSize()
    {
        var o = new AttackOptions { Kind = AttackKind.Pgd, Epsilon = 0.05f, Steps = 3, RandomStart = true, Seed = 11 };
        var a = Attack.Run(Fixtures.Fmnist(), Images.Pixels, Images.Labels, o with { BatchSize = 24 });
        var b = Attack.Run(Fixtures.Fmnist(), Images.Pixels, Images.Labels, o with { BatchSize = 5 });
        var c = Attack.Run(Fixtures.Fmnist(), Images.Pixels, Images.Labels, o with { BatchSize = 24, Seed = 12 });
        Assert.Equal(a.Adversarial.Data, b.Adversarial.Data);
        Assert.NotEqual(a.Adversarial.Data, c.Adversarial.Data);
    }

    [Fact]
    public void EarlyStopFreezesImagesOnceFooled()
    {
        var o = new AttackOptions { Kind = AttackKind.Pgd, Epsilon = 0.1f, StepSize = 0.01f, Steps = 20, BatchSize = 24 };
        var full = Attack.Run(Fixtures.Fmnist(), Images.Pixels, Images.Labels, o);
        var early = Attack.Run(Fixtures.Fmnist(), Images.Pixels, Images.Labels, o with { EarlyStop = true });
        // Same success, smaller perturbations.
        Assert.True(early.Summary.SuccessRate >= full.Summary.SuccessRate - 0.05);
        Assert.True(early.Summary.MeanLinf < full.Summary.MeanLinf, $"early {early.Summary.MeanLinf} vs full {full.Summary.MeanLinf}");
    }

    [Fact]
    public void CancellationStopsARun()
    {
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() => Attack.Run(Fixtures.Fmnist(), Images.Pixels, Images.Labels, new AttackOptions(), cancellation: cts.Token));
    }

    [Fact]
    public void ProgressIsReportedAndReachesOne()
    {
        var seen = new List<AttackProgress>();
        var progress = new SyncProgress<AttackProgress>(seen.Add);
        Attack.Run(Fixtures.Fmnist(), Images.Pixels, Images.Labels, new AttackOptions { Steps = 2, BatchSize = 8 }, progress: progress);
        Assert.NotEmpty(seen);
        Assert.Equal(1.0, seen[^1].Fraction, 6);
        Assert.True(seen.Zip(seen.Skip(1)).All(p => p.Second.Fraction >= p.First.Fraction - 1e-9));
    }

    [Fact]
    public void NormalisationIsComposedIntoTheGraphSoGradientsReachPixelSpace()
    {
        // The same network, seen through x_model = (x·255·s − m)/σ, must give the gradient of the identity model
        // at the matching input times ∂x_model/∂x.
        var model = Fixtures.Fmnist().Model;
        float scale = 1f / 255f, mean = 0.2f, std = 0.5f;
        var norm = PixelNormalization.From255(scale, [mean], [std]);
        var normalised = new AttackModel(model, 1, 28, 28, norm);
        var x = Fixtures.Slice(Images.Pixels, 0, 2);
        var shifted = new Tensor(x.Shape, x.Data.Take(x.Length).Select(v => (v - mean) / std).ToArray());
        LossGradient loss = (r, z, g) => Losses.CrossEntropyGradient(z, Images.Labels[r], g);
        var (_, gNorm) = normalised.Gradient(x, loss);
        var (_, gPlain) = Fixtures.Fmnist().Gradient(shifted, loss);
        for (int i = 0; i < x.Length; i++) Assert.Equal(gPlain.Data[i] / std, gNorm.Data[i], 1e-5f);
    }

    private static Tensor Clamp(Tensor t, float lo, float hi) => new(t.Shape, t.Data.Take(t.Length).Select(v => Math.Clamp(v, lo, hi)).ToArray());
}

internal sealed class SyncProgress<T>(Action<T> action) : IProgress<T>
{
    public void Report(T value) => action(value);
}
