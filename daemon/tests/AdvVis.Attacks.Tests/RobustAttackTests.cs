// APGD, FAB, Square and the robustness suite against known answers: the ε-ball and value range (property tests, every
// norm), the exact L∞ optimum of APGD-CE on a linear model, FAB's minimal norm against the analytic distance to a
// linear model's decision boundary, Square's query counts and window schedule, and the suite's checks.
using AdvVis.Engine;

namespace AdvVis.Attacks.Tests;

public sealed class RobustAttackTests
{
    private static readonly (Tensor Pixels, int[] Labels) Images = Fixtures.FmnistImages(16);

    public static TheoryData<ApgdLoss, Norm> ApgdCases()
    {
        var data = new TheoryData<ApgdLoss, Norm>();
        foreach (var loss in new[] { ApgdLoss.CrossEntropy, ApgdLoss.Dlr, ApgdLoss.TargetedDlr })
            foreach (var norm in new[] { Norm.LInf, Norm.L2, Norm.L1 })
                data.Add(loss, norm);
        return data;
    }

    private static float Budget(Norm norm) => norm switch { Norm.LInf => 0.03f, Norm.L2 => 0.6f, _ => 4f };

    [Theory]
    [MemberData(nameof(ApgdCases))]
    public void ApgdNeverLeavesTheBallOrTheValueRange(ApgdLoss loss, Norm norm)
    {
        const float lo = 0.02f, hi = 0.9f;
        var model = new AttackModel(Fixtures.Fmnist().Model, 1, 28, 28, min: lo, max: hi);
        var x = Clamp(Images.Pixels, lo, hi);
        float eps = Budget(norm);
        var o = new ApgdOptions { Norm = norm, Epsilon = eps, Iterations = 12, Loss = loss, TargetClasses = 2, BatchSize = 5, Seed = 4 };
        var result = Apgd.Run(model, x, Images.Labels, o);
        int per = 28 * 28;
        for (int b = 0; b < x.Shape[0]; b++)
        {
            var adv = result.Adversarial.Data.AsSpan(b * per, per);
            foreach (var v in adv) Assert.InRange(v, lo, hi);
            double d = Projections.Distance(adv, x.Data.AsSpan(b * per, per), norm);
            Assert.True(d <= eps * (1 + 1e-6) + 1e-7, $"{norm} ‖δ‖ = {d} > ε = {eps}");
        }
        var clean = model.Evaluate(x);
        int cleanCorrect = Enumerable.Range(0, x.Shape[0]).Count(b => clean.Predicted(b) == Images.Labels[b]);
        Assert.True(result.RobustCount < cleanCorrect, $"{loss} {norm}: {result.RobustCount} robust of {cleanCorrect} correct");
        // Every claimed example really is misclassified.
        var advScores = model.Evaluate(result.Adversarial);
        for (int b = 0; b < x.Shape[0]; b++) if (result.Fooled[b]) Assert.NotEqual(Images.Labels[b], advScores.Predicted(b));
    }

    [Fact]
    public void ProjectionsLandInsideEveryBallAndBoxFromRandomPoints()
    {
        var rng = new Random(5);
        foreach (var norm in new[] { Norm.LInf, Norm.L2, Norm.L1 })
            for (int trial = 0; trial < 200; trial++)
            {
                int n = 1 + rng.Next(60);
                var x = Enumerable.Range(0, n).Select(_ => (float)rng.NextDouble()).ToArray();
                var v = x.Select(e => e + (float)(rng.NextDouble() * 4 - 2)).ToArray();
                float eps = (float)(rng.NextDouble() * (norm == Norm.L1 ? 5 : norm == Norm.L2 ? 1.5 : 0.4));
                Projections.Project(v, x, norm, eps, 0f, 1f);
                Assert.All(v, e => Assert.InRange(e, 0f, 1f));
                Assert.True(Projections.Distance(v, x, norm) <= eps * (1 + 1e-6) + 1e-7, $"{norm} trial {trial}");
            }
    }

    [Fact]
    public void L1ProjectionIsTheNearestPointOfTheBallAndBox()
    {
        // Against a brute-force check: no feasible point nearby is closer (in L2) to the projected point.
        var rng = new Random(11);
        for (int trial = 0; trial < 50; trial++)
        {
            int n = 6;
            var x = Enumerable.Range(0, n).Select(_ => (float)rng.NextDouble()).ToArray();
            var v = x.Select(e => e + (float)(rng.NextDouble() * 2 - 1)).ToArray();
            float eps = 0.5f;
            var p = (float[])v.Clone();
            Projections.Project(p, x, Norm.L1, eps, 0f, 1f);
            double best = Sq(p, v);
            for (int k = 0; k < 2000; k++)
            {
                var q = p.Select(e => e + (float)(rng.NextDouble() * 0.02 - 0.01)).ToArray();
                Projections.Project(q, x, Norm.L1, eps, 0f, 1f);
                Assert.True(Sq(q, v) >= best - 1e-6, $"trial {trial}: a feasible point is closer ({Sq(q, v)} < {best})");
            }
        }
        static double Sq(float[] a, float[] b) => a.Zip(b, (u, w) => (double)(u - w) * (u - w)).Sum();
    }

    [Fact]
    public void ApgdCeFindsTheExactLinfOptimumOfALinearModel()
    {
        // Two classes: CE = softplus(z_1 − z_0) grows with the margin v·x, v = w_1 − w_0, so its maximum over the
        // L∞ ball ∩ [0, 1] is the vertex clip(x + ε·sign(v)). The bias keeps class 0 correct by a margin of 3 even
        // there (so APGD runs to the end) without saturating the softmax (whose float gradient would lose v).
        const float eps = 0.07f;
        var lin0 = LinearModel.Random(2, 1, 6, 6, 0.5f, [0f, 0f], seed: 3);
        var x = lin0.Images(8, 0f, 1f, seed: 9);
        var v0 = lin0.W[1].Zip(lin0.W[0], (a, c) => (double)a - c).ToArray();
        double reach = Enumerable.Range(0, 8).Max(b => Enumerable.Range(0, lin0.Pixels).Sum(i => v0[i] * x.Data[b * lin0.Pixels + i] + eps * Math.Abs(v0[i])));
        var lin = lin0 with { B = [(float)reach + 3f, 0f] };
        var model = lin.ToAttackModel();
        var labels = new int[8];
        var result = Apgd.Run(model, x, labels, new ApgdOptions { Epsilon = eps, Iterations = 50, Seed = 1 });
        Assert.All(result.Fooled, f => Assert.False(f));
        for (int b = 0; b < 8; b++)
            for (int i = 0; i < lin.Pixels; i++)
            {
                float v = lin.W[1][i] - lin.W[0][i], xi = x.Data[b * lin.Pixels + i];
                float optimum = Math.Clamp(xi + eps * MathF.Sign(v), 0f, 1f);
                Assert.Equal(optimum, result.Adversarial.Data[b * lin.Pixels + i], 6);
            }
    }

    [Theory]
    [InlineData(Norm.LInf)]
    [InlineData(Norm.L2)]
    [InlineData(Norm.L1)]
    public void FabMinimalNormEqualsTheDistanceToALinearDecisionBoundary(Norm norm)
    {
        // Inputs near 0.5 and logits near the biases there keep the box out of the way, so the distance to the boundary
        // between classes y and t is |z_y − z_t| / ‖w_y − w_t‖_dual, and the decision boundary's is the minimum over t.
        var raw = LinearModel.Random(4, 1, 8, 8, 1f, new float[4], seed: 21);
        float[] near = [0.3f, 0f, -0.1f, 0.05f];
        var lin = raw with { B = Enumerable.Range(0, 4).Select(k => near[k] - 0.5f * raw.W[k].Sum()).ToArray() };
        var model = lin.ToAttackModel();
        var x = lin.Images(10, 0.45f, 0.55f, seed: 2);
        var labels = Enumerable.Range(0, 10).Select(b => Argmax(lin.Logits(x.Data.AsSpan(b * lin.Pixels, lin.Pixels)))).ToArray();
        // With overshoot η the first step lands at η times the exact projection, so FAB's norm lies in [d, η·d]; with
        // η → 1 it is d itself.
        var exact = Fab.Run(model, x, labels, new FabOptions { Norm = norm, TargetClasses = 3, Iterations = 100, Overshoot = 1.0001f });
        var standard = Fab.Run(model, x, labels, new FabOptions { Norm = norm, TargetClasses = 3, Iterations = 100 });
        var dual = norm switch { Norm.LInf => Norm.L1, Norm.L2 => Norm.L2, _ => Norm.LInf };
        for (int b = 0; b < 10; b++)
        {
            var z = lin.Logits(x.Data.AsSpan(b * lin.Pixels, lin.Pixels));
            int y = labels[b];
            double analytic = Enumerable.Range(0, lin.Classes).Where(t => t != y)
                .Min(t => (z[y] - z[t]) / Projections.Length(lin.W[y].Zip(lin.W[t], (a, c) => a - c).ToArray(), dual));
            Assert.True(analytic < 0.4, $"image {b}: the test wants boundaries the box (room ≥ 0.45 per pixel) does not cut, got {analytic}");
            Assert.True(exact.MinimalNorm[b] >= analytic * (1 - 1e-5) && exact.MinimalNorm[b] <= analytic * (1 + 2e-4),
                $"image {b}: FAB (η = 1.0001) {exact.MinimalNorm[b]} vs analytic {analytic}");
            Assert.True(standard.MinimalNorm[b] >= analytic * (1 - 1e-5) && standard.MinimalNorm[b] <= analytic * 1.05,
                $"image {b}: FAB (η = 1.05) {standard.MinimalNorm[b]} vs analytic {analytic}");
        }
    }

    [Fact]
    public void FabWithinEpsilonKeepsOnlyExamplesInsideTheBall()
    {
        var model = Fixtures.Fmnist();
        var result = Fab.Run(model, Images.Pixels, Images.Labels, new FabOptions { Epsilon = 0.03f, Iterations = 20, TargetClasses = 2 });
        int per = 28 * 28;
        for (int b = 0; b < Images.Labels.Length; b++)
        {
            double d = Projections.Distance(result.Search.Adversarial.Data.AsSpan(b * per, per), Images.Pixels.Data.AsSpan(b * per, per), Norm.LInf);
            Assert.True(d <= 0.03f * (1 + 1e-6), $"image {b}: {d}");
            Assert.Equal(result.MinimalNorm[b] <= 0.03f, result.Search.Fooled[b]);
        }
        Assert.Contains(true, result.Search.Fooled);
    }

    [Fact]
    public void SquareScheduleHalvesTheWindowAtThePapersIterations()
    {
        // p_init = 0.05 on 32×32 images (the paper's CIFAR-10 setting): s = round(√(p·1024)) at each stage.
        int[] iterations = [0, 10, 11, 50, 51, 200, 201, 500, 501, 1000, 1001, 2000, 2001, 9000];
        int[] expected = [7, 7, 5, 5, 4, 4, 3, 3, 2, 2, 1, 1, 1, 1];
        Assert.Equal(expected, iterations.Select(i => Square.Side(Square.Fraction(0.05, i), 32, 32)).ToArray());
        Assert.Equal(0.8 / 512, Square.Fraction(0.8, 9999));
        // On a large 28×28 window the side is capped at h − 1.
        Assert.Equal(27, Square.Side(1.0, 28, 28));
    }

    [Fact]
    public void SquareQueryCountsFollowItsBudgetAndStopAtSuccess()
    {
        // A linear model whose class 0 wins by far: nothing is ever fooled, so every image uses all its queries.
        var lin = LinearModel.Random(3, 1, 8, 8, 0.1f, [50f, 0f, 0f], seed: 4);
        var x = lin.Images(5, 0f, 1f, seed: 1);
        var robust = Square.Run(lin.ToAttackModel(), x, new int[5], new SquareOptions { Epsilon = 0.05f, Queries = 300 });
        Assert.All(robust.Queries, q => Assert.Equal(300L, q));
        Assert.All(robust.Fooled, f => Assert.False(f));
        // A zero bias: the images are fooled along the way and stop querying; each used at least the initial query.
        var weak = lin with { B = [0.02f, 0f, 0f] };
        var labels = new int[5];
        var run = Square.Run(weak.ToAttackModel(), x, labels, new SquareOptions { Epsilon = 0.3f, Queries = 300, Seed = 2 });
        for (int b = 0; b < 5; b++)
        {
            Assert.InRange(run.Queries[b], 1L, 300L);
            if (run.Fooled[b]) Assert.True(run.Queries[b] < 300 || run.Queries[b] == 300);
            var adv = run.Adversarial.Data.AsSpan(b * 64, 64);
            Assert.True(Projections.Distance(adv, x.Data.AsSpan(b * 64, 64), Norm.LInf) <= 0.3f + 1e-7);
        }
        Assert.Contains(run.Queries, q => q < 300);
        // Labelled with a class the model does not predict: fooled at the first query, which is the only one.
        var wrong = Enumerable.Range(0, 5).Select(b => (Argmax(weak.Logits(x.Data.AsSpan(b * 64, 64))) + 1) % 3).ToArray();
        var already = Square.Run(weak.ToAttackModel(), x, wrong, new SquareOptions { Epsilon = 0.0001f, Queries = 300 });
        Assert.All(already.Fooled, f => Assert.True(f));
        Assert.All(already.Queries, q => Assert.Equal(1L, q));
    }

    [Theory]
    [InlineData(Norm.LInf, 0.03f)]
    [InlineData(Norm.L2, 0.6f)]
    public void SquareStaysInTheBallAndFoolsImages(Norm norm, float eps)
    {
        var model = Fixtures.Fmnist();
        var run = Square.Run(model, Images.Pixels, Images.Labels, new SquareOptions { Norm = norm, Epsilon = eps, Queries = 200, Seed = 3 });
        int per = 28 * 28;
        for (int b = 0; b < Images.Labels.Length; b++)
        {
            var adv = run.Adversarial.Data.AsSpan(b * per, per);
            foreach (var v in adv) Assert.InRange(v, 0f, 1f);
            Assert.True(Projections.Distance(adv, Images.Pixels.Data.AsSpan(b * per, per), norm) <= eps * (1 + 1e-6) + 1e-7);
        }
        var clean = model.Evaluate(Images.Pixels);
        int correct = Enumerable.Range(0, Images.Labels.Length).Count(b => clean.Predicted(b) == Images.Labels[b]);
        Assert.True(run.RobustCount < correct, $"{norm}: {run.RobustCount} robust of {correct}");
    }

    [Fact]
    public void SuiteIsAtLeastAsStrongAsPgdAndEveryExampleIsValid()
    {
        var model = Fixtures.Fmnist();
        var (x, y) = Fixtures.FmnistImages(40);
        const float eps = 0.02f;
        var report = RobustnessSuite.Run(model, x, y, new SuiteOptions { Epsilon = eps, Iterations = 20, SquareQueries = 100, BatchSize = 16 });
        var pgd = Attack.Run(model, x, y, new AttackOptions { Kind = AttackKind.Pgd, Epsilon = eps, StepSize = 2.5f * eps / 20, Steps = 20, RandomStart = true });
        Assert.True(report.RobustAccuracy <= pgd.Summary.AdversarialAccuracy, $"suite {report.RobustAccuracy} vs PGD-20 {pgd.Summary.AdversarialAccuracy}");
        Assert.Equal(["apgd-ce", "apgd-t", "fab-t", "square"], report.Stages.Select(s => s.Attack).ToArray());
        // Each attack only sees the points the earlier ones left robust.
        for (int s = 1; s < report.Stages.Count; s++) Assert.Equal(report.Stages[s - 1].RobustAfter, report.Stages[s].Attacked);
        Assert.Equal(0, report.InvalidExamples);
        var scores = model.Evaluate(report.Adversarial);
        int per = 28 * 28;
        for (int b = 0; b < y.Length; b++)
        {
            Assert.True(RobustnessSuite.Valid(report.Adversarial.Data.AsSpan(b * per, per), x.Data.AsSpan(b * per, per), Norm.LInf, eps, 0f, 1f));
            Assert.Equal(report.Robust[b], scores.Predicted(b) == y[b]);
        }
        Assert.DoesNotContain(report.Flags, f => f.Check is "softmax-output" or "zero-gradients" or "randomized");
    }

    [Fact]
    public void SuiteFlagsSoftmaxOutputsAndZeroGradients()
    {
        var lin = LinearModel.Random(4, 1, 4, 4, 0.5f, [1f, 0f, 0f, 0f], seed: 8);
        var x = lin.Images(6, 0f, 1f, seed: 3);
        var labels = Enumerable.Range(0, 6).Select(b => Argmax(lin.Logits(x.Data.AsSpan(b * 16, 16)))).ToArray();
        var options = new SuiteOptions { Epsilon = 0.05f, Iterations = 5, SquareQueries = 10, Version = SuiteVersion.Custom, Attacks = [SuiteAttack.ApgdCe] };
        var softmax = RobustnessSuite.Run(lin.ToAttackModel(softmax: true), x, labels, options);
        Assert.Contains(softmax.Flags, f => f.Check == "softmax-output");
        var flat = new LinearModel(lin.W.Select(r => new float[r.Length]).ToArray(), [2f, 0.5f, 0f, 0f], 1, 4, 4);
        var zero = RobustnessSuite.Run(flat.ToAttackModel(), x, new int[6], options);
        Assert.Contains(zero.Flags, f => f.Check == "zero-gradients");
        Assert.DoesNotContain(zero.Flags, f => f.Check == "softmax-output");
    }

    [Fact]
    public void ApgdCheckpointsFollowThePapersSchedule()
    {
        // p = 0, 0.22, 0.41, 0.57, 0.70, 0.80, 0.87, 0.93, 0.99 of 100 iterations (periods 22, 19, 16, 13, 10, 7, 6, 6, 6).
        Assert.Equal([22, 41, 57, 70, 80, 87, 93, 99], Apgd.Checkpoints(100));
    }

    [Fact]
    public void ResultsDoNotDependOnTheBatching()
    {
        var model = Fixtures.Fmnist();
        var a = Apgd.Run(model, Images.Pixels, Images.Labels, new ApgdOptions { Epsilon = 0.02f, Iterations = 10, BatchSize = 16, Seed = 5 });
        var b = Apgd.Run(model, Images.Pixels, Images.Labels, new ApgdOptions { Epsilon = 0.02f, Iterations = 10, BatchSize = 3, Seed = 5 });
        Assert.Equal(a.Fooled, b.Fooled);
        Assert.Equal(a.Adversarial.Data, b.Adversarial.Data);
    }

    private static int Argmax(double[] z) => Array.IndexOf(z, z.Max());

    private static Tensor Clamp(Tensor t, float lo, float hi) =>
        new((int[])t.Shape.Clone(), t.Data.AsSpan(0, t.Length).ToArray().Select(v => Math.Clamp(v, lo, hi)).ToArray());
}
