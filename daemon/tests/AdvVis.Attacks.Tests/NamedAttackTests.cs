// The attacks users know by name (torchattacks/ART): BIM, MI-FGSM, TPGD, EOT-PGD and the one-pixel attack, against
// what they must reduce to and the budgets they promise.
using AdvVis.Engine;

namespace AdvVis.Attacks.Tests;

public sealed class NamedAttackTests
{
    private static readonly (Tensor Pixels, int[] Labels) Images = Fixtures.FmnistImages(16);

    [Theory]
    [InlineData(AttackKind.Bim, Norm.LInf)]
    [InlineData(AttackKind.MiFgsm, Norm.LInf)]
    [InlineData(AttackKind.MiFgsm, Norm.L2)]
    [InlineData(AttackKind.Tpgd, Norm.LInf)]
    [InlineData(AttackKind.EotPgd, Norm.LInf)]
    [InlineData(AttackKind.ApgdT, Norm.L1)]
    [InlineData(AttackKind.FabT, Norm.L2)]
    [InlineData(AttackKind.Square, Norm.LInf)]
    public void StayInTheBallAndTheRangeAndFoolImages(AttackKind kind, Norm norm)
    {
        float eps = norm switch { Norm.LInf => 0.04f, Norm.L2 => 0.8f, _ => 4f };
        var o = new AttackOptions { Kind = kind, Norm = norm, Epsilon = eps, Steps = kind == AttackKind.Square ? 300 : 10, BatchSize = 7 };
        var run = Attack.Run(Fixtures.Fmnist(), Images.Pixels, Images.Labels, o);
        int per = 28 * 28;
        for (int b = 0; b < Images.Labels.Length; b++)
        {
            var adv = run.Adversarial.Data.AsSpan(b * per, per);
            foreach (var v in adv) Assert.InRange(v, 0f, 1f);
            double d = Projections.Distance(adv, Images.Pixels.Data.AsSpan(b * per, per), norm);
            Assert.True(d <= eps * (1 + 1e-5) + 1e-7, $"{kind} {norm}: ‖δ‖ = {d} > ε = {eps}");
        }
        Assert.True(run.Summary.AdversarialAccuracy < run.Summary.CleanAccuracy, $"{kind}: {run.Summary.AdversarialAccuracy} vs clean {run.Summary.CleanAccuracy}");
    }

    [Fact]
    public void MiFgsmWithoutMomentumIsBim()
    {
        // With μ = 0 the accumulated direction is ∇/‖∇‖₁, whose sign is the gradient's: the same steps as BIM.
        var bim = Attack.Run(Fixtures.Fmnist(), Images.Pixels, Images.Labels, new AttackOptions { Kind = AttackKind.Bim, Epsilon = 0.03f, Steps = 8 });
        var mi = Attack.Run(Fixtures.Fmnist(), Images.Pixels, Images.Labels, new AttackOptions { Kind = AttackKind.MiFgsm, Epsilon = 0.03f, Steps = 8, Decay = 0f });
        Assert.Equal(bim.Adversarial.Data, mi.Adversarial.Data);
        // And momentum changes the path.
        var mom = Attack.Run(Fixtures.Fmnist(), Images.Pixels, Images.Labels, new AttackOptions { Kind = AttackKind.MiFgsm, Epsilon = 0.03f, Steps = 8 });
        Assert.NotEqual(bim.Adversarial.Data, mom.Adversarial.Data);
    }

    [Fact]
    public void EotPgdOnADeterministicModelIsPgdWithARandomStart()
    {
        // Averaging identical gradients ((g + g)/2 = g exactly) changes nothing when the model is deterministic.
        var pgd = Attack.Run(Fixtures.Fmnist(), Images.Pixels, Images.Labels, new AttackOptions { Kind = AttackKind.Pgd, Epsilon = 0.03f, Steps = 5, RandomStart = true, Seed = 3 });
        var eot = Attack.Run(Fixtures.Fmnist(), Images.Pixels, Images.Labels, new AttackOptions { Kind = AttackKind.EotPgd, Epsilon = 0.03f, Steps = 5, Seed = 3, EotIterations = 2 });
        Assert.Equal(pgd.Adversarial.Data, eot.Adversarial.Data);
    }

    [Fact]
    public void TpgdMovesAwayFromTheCleanPredictionWithoutLabels()
    {
        // TRADES' loss only sees the clean output distribution: wrong labels change nothing.
        var o = new AttackOptions { Kind = AttackKind.Tpgd, Epsilon = 0.03f, Steps = 5, Seed = 1 };
        var a = Attack.Run(Fixtures.Fmnist(), Images.Pixels, Images.Labels, o);
        var b = Attack.Run(Fixtures.Fmnist(), Images.Pixels, Images.Labels.Select(l => (l + 1) % 10).ToArray(), o);
        Assert.Equal(a.Adversarial.Data, b.Adversarial.Data);
        Assert.True(a.Summary.MeanBenignProbabilityDrop > 0);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void OnePixelChangesAtMostItsPixels(int pixels)
    {
        var o = new AttackOptions { Kind = AttackKind.OnePixel, Pixels = pixels, Steps = 5, Population = 40, Seed = 2 };
        var run = Attack.Run(Fixtures.Fmnist(), Images.Pixels, Images.Labels, o);
        int per = 28 * 28;
        for (int b = 0; b < Images.Labels.Length; b++)
        {
            int changed = 0;
            for (int i = 0; i < per; i++) if (run.Adversarial.Data[b * per + i] != Images.Pixels.Data[b * per + i]) changed++;
            Assert.InRange(changed, 0, pixels);
        }
        Assert.True(run.Summary.AdversarialAccuracy <= run.Summary.CleanAccuracy);
    }

    [Fact]
    public void TheAutoAttackFamilyRefusesATargetClass()
    {
        var e = Assert.Throws<ArgumentException>(() => new AttackOptions { Kind = AttackKind.ApgdT, TargetClass = 3 }.Validate());
        Assert.Contains("chooses its own targets", e.Message);
        Assert.Throws<ArgumentException>(() => new AttackOptions { Kind = AttackKind.Pgd, Norm = Norm.L1 }.Validate());
    }
}
