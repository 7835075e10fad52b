// The robustness evaluation practitioners run (AutoAttack, Croce & Hein 2020): a fixed sequence of diverse attacks,
// each run only on the points every earlier attack left robust, at one or several budgets ε; robust accuracy after
// each attack, each attack's time, every adversarial example re-checked, and the reference implementation's warnings
// about evaluations that cannot be trusted (randomised outputs, zero gradients, softmax outputs, robust accuracy
// growing with ε, the gradient-free Square attack beating the gradient attacks).
using System.Diagnostics;
using AdvVis.Engine;

namespace AdvVis.Attacks;

public enum SuiteVersion { Standard, Plus, Rand, Custom }

/// <summary>The suite's attacks by AutoAttack's names.</summary>
public enum SuiteAttack { ApgdCe, ApgdDlr, ApgdT, Fab, FabT, Square }

public sealed record SuiteOptions
{
    public Norm Norm { get; init; } = Norm.LInf;
    public float Epsilon { get; init; } = 8f / 255f;
    public SuiteVersion Version { get; init; } = SuiteVersion.Standard;
    /// <summary>The attacks of <see cref="SuiteVersion.Custom"/>, in order.</summary>
    public IReadOnlyList<SuiteAttack> Attacks { get; init; } = [];
    public int Seed { get; init; }
    /// <summary>Images per engine pass; null: about 800k pixels' worth (2048 at most; ~1000 for 28×28, ~260 for
    /// CIFAR-10, 5 for ImageNet), large passes being the engine's efficient case.</summary>
    public int? BatchSize { get; init; }
    /// <summary>APGD and FAB iterations (the suite's 100 unless set).</summary>
    public int Iterations { get; init; } = 100;
    public int SquareQueries { get; init; } = 5000;

    public static string NameOf(SuiteAttack a) => a switch
    {
        SuiteAttack.ApgdCe => "apgd-ce", SuiteAttack.ApgdDlr => "apgd-dlr", SuiteAttack.ApgdT => "apgd-t",
        SuiteAttack.Fab => "fab", SuiteAttack.FabT => "fab-t", _ => "square",
    };

    public static SuiteAttack Parse(string name) => name.Trim().ToLowerInvariant() switch
    {
        "apgd-ce" => SuiteAttack.ApgdCe, "apgd-dlr" => SuiteAttack.ApgdDlr, "apgd-t" => SuiteAttack.ApgdT,
        "fab" => SuiteAttack.Fab, "fab-t" => SuiteAttack.FabT, "square" => SuiteAttack.Square,
        var other => throw new ArgumentException($"Unknown suite attack '{other}': use apgd-ce, apgd-dlr, apgd-t, fab, fab-t or square."),
    };

    /// <summary>The sequence the version runs (AutoAttack's; Square has no L1 form and is left out there).</summary>
    public IReadOnlyList<SuiteAttack> Sequence() => Version switch
    {
        SuiteVersion.Standard => Norm == Norm.L1 ? [SuiteAttack.ApgdCe, SuiteAttack.ApgdT, SuiteAttack.FabT]
            : [SuiteAttack.ApgdCe, SuiteAttack.ApgdT, SuiteAttack.FabT, SuiteAttack.Square],
        SuiteVersion.Plus => Norm == Norm.L1 ? [SuiteAttack.ApgdCe, SuiteAttack.ApgdDlr, SuiteAttack.Fab, SuiteAttack.ApgdT, SuiteAttack.FabT]
            : [SuiteAttack.ApgdCe, SuiteAttack.ApgdDlr, SuiteAttack.Fab, SuiteAttack.Square, SuiteAttack.ApgdT, SuiteAttack.FabT],
        SuiteVersion.Rand => [SuiteAttack.ApgdCe, SuiteAttack.ApgdDlr],
        _ => Attacks.Count > 0 ? Attacks : throw new ArgumentException("The custom version needs its attacks (for example APGD-CE and Square)."),
    };

    public void Validate()
    {
        if (!(Epsilon > 0) || float.IsInfinity(Epsilon)) throw new ArgumentException($"ε must be a finite number > 0 (pixel space [0,1]), got {Epsilon}.");
        if (Iterations < 1 || SquareQueries < 1 || BatchSize is < 1) throw new ArgumentException("iterations, Square queries and batch size must be ≥ 1.");
        if (Norm == Norm.L1 && Sequence().Contains(SuiteAttack.Square)) throw new ArgumentException("Square Attack has no L1 form; leave it out of the custom attacks for the L1 norm.");
    }

    /// <summary>The budget RobustBench reports for a dataset, when the model's input says which one it is.</summary>
    public static float? DefaultEpsilon(Norm norm, int channels, int height, int width) => (norm, channels, height, width) switch
    {
        (Norm.LInf, 1, 28, 28) => 0.3f,          // MNIST-like
        (Norm.L2, 1, 28, 28) => 1.5f,
        (Norm.LInf, 3, 32, 32) => 8f / 255f,     // CIFAR-10
        (Norm.L2, 3, 32, 32) => 0.5f,
        (Norm.L1, 3, 32, 32) => 12f,
        (Norm.LInf, 3, >= 64, >= 64) => 4f / 255f, // ImageNet
        (Norm.L2, 3, >= 64, >= 64) => 3f,
        _ => null,
    };
}

/// <summary>One attack of the sequence: how many points it attacked and fooled, robust accuracy after it, its time.</summary>
public sealed record SuiteStage(string Attack, int Attacked, int Fooled, int RobustAfter, double RobustAccuracy, double Seconds);

/// <summary>A warning that the evaluation may overstate robustness, named like the reference implementation's checks.</summary>
public sealed record SuiteFlag(string Check, string Message);

/// <summary>
/// One ε's evaluation. Robust[i]: no attack found an adversarial example. Adversarial holds, for the fooled points,
/// the example that fooled them (the input elsewhere); every one was re-checked inside the ε-ball, in the value range,
/// and misclassified (<see cref="InvalidExamples"/> counts those that were not and were therefore left robust).
/// </summary>
public sealed record SuiteReport(
    Norm Norm, float Epsilon, SuiteVersion Version, int Count, int CleanCorrect, double CleanAccuracy,
    IReadOnlyList<SuiteStage> Stages, int RobustCount, double RobustAccuracy, bool[] Robust, Tensor Adversarial,
    double MaxPerturbation, int InvalidExamples, IReadOnlyList<SuiteFlag> Flags, double Seconds);

public static class RobustnessSuite
{
    /// <summary>Runs the suite at each ε (ascending order is not required) and flags robust accuracy that grows with ε.</summary>
    public static IReadOnlyList<SuiteReport> Run(AttackModel model, Tensor pixels, IReadOnlyList<int> labels, SuiteOptions options, IReadOnlyList<float> epsilons,
        IProgress<AttackProgress>? progress = null, CancellationToken cancellation = default)
    {
        if (epsilons.Count == 0) throw new ArgumentException("Give at least one ε.");
        var reports = new List<SuiteReport>();
        for (int e = 0; e < epsilons.Count; e++)
        {
            int index = e;
            var sub = progress is null ? null : new Progress(p => progress.Report(p with { Fraction = (index + p.Fraction) / epsilons.Count }));
            reports.Add(Run(model, pixels, labels, options with { Epsilon = epsilons[e] }, sub, cancellation));
        }
        var byEps = reports.OrderBy(r => r.Epsilon).ToList();
        for (int i = 1; i < byEps.Count; i++)
            if (byEps[i].RobustAccuracy > byEps[i - 1].RobustAccuracy)
            {
                var flag = new SuiteFlag("robust-accuracy-grows-with-eps",
                    $"robust accuracy grows from {byEps[i - 1].RobustAccuracy:P2} at ε={byEps[i - 1].Epsilon:G4} to {byEps[i].RobustAccuracy:P2} at ε={byEps[i].Epsilon:G4}: a larger budget contains every smaller one, so the attacks are failing (gradient masking?).");
                int at = reports.IndexOf(byEps[i]);
                reports[at] = reports[at] with { Flags = [.. reports[at].Flags, flag] };
            }
        return reports;
    }

    private sealed class Progress(Action<AttackProgress> report) : IProgress<AttackProgress>
    {
        public void Report(AttackProgress value) => report(value);
    }

    public static SuiteReport Run(AttackModel model, Tensor pixels, IReadOnlyList<int> labels, SuiteOptions o,
        IProgress<AttackProgress>? progress = null, CancellationToken cancellation = default)
    {
        o.Validate();
        o = o with { BatchSize = o.BatchSize ?? Math.Clamp(800_000 / model.PixelsPerImage, 1, 2048) };
        var total = Stopwatch.StartNew();
        int n = pixels.Shape[0], per = model.PixelsPerImage;
        if (labels.Count != n) throw new ArgumentException($"{n} images but {labels.Count} labels.");
        if (n == 0) throw new ArgumentException("No images to evaluate.");
        var clean = Apgd.Evaluate(model, pixels, o.BatchSize!.Value, cancellation);
        foreach (var l in labels)
            if (l < 0 || l >= clean.Classes) throw new ArgumentException($"Label {l} does not exist: the model has {clean.Classes} classes. Check the dataset's labels against the model.");
        var robust = Enumerable.Range(0, n).Select(b => clean.Predicted(b) == labels[b]).ToArray();
        int cleanCorrect = robust.Count(r => r);
        var adversarial = (float[])pixels.Data.AsSpan(0, n * per).ToArray();
        var flags = Checks(model, pixels, labels, clean, robust, o, cancellation);
        var stages = new List<SuiteStage>();
        var sequence = o.Sequence();
        int invalid = 0;
        for (int s = 0; s < sequence.Count; s++)
        {
            cancellation.ThrowIfCancellationRequested();
            var attack = sequence[s];
            var rows = Enumerable.Range(0, n).Where(b => robust[b]).ToArray();
            var clock = Stopwatch.StartNew();
            int fooledHere = 0;
            if (rows.Length > 0)
            {
                var x = Gather(pixels.Data, rows, per, model);
                var y = rows.Select(b => labels[b]).ToArray();
                int stage = s;
                var sub = new StageProgress(f => progress?.Report(new AttackProgress(stage, sequence.Count, (stage + f) / sequence.Count, SuiteOptions.NameOf(attack))));
                var search = RunAttack(model, x, y, attack, o, rows, sub, cancellation);
                // Trust nothing the search says: re-check every claimed example in the ball, the range and the model.
                var claimed = Enumerable.Range(0, rows.Length).Where(r => search.Fooled[r]).ToArray();
                var check = claimed.Length == 0 ? null : Apgd.Evaluate(model, Gather(search.Adversarial.Data, claimed, per, model), o.BatchSize!.Value, cancellation);
                for (int c = 0; c < claimed.Length; c++)
                {
                    int r = claimed[c], b = rows[r];
                    var adv = search.Adversarial.Data.AsSpan(r * per, per);
                    if (!Valid(adv, pixels.Data.AsSpan(b * per, per), o.Norm, o.Epsilon, model.Min, model.Max) || check!.Predicted(c) == labels[b]) { invalid++; continue; }
                    robust[b] = false;
                    fooledHere++;
                    adv.CopyTo(adversarial.AsSpan(b * per));
                }
            }
            int left = robust.Count(r => r);
            stages.Add(new SuiteStage(SuiteOptions.NameOf(attack), rows.Length, fooledHere, left, (double)left / n, clock.Elapsed.TotalSeconds));
        }
        if (invalid > 0)
            flags.Add(new SuiteFlag("invalid-examples", $"{invalid} examples an attack reported were outside the ε-ball or the value range, or not misclassified when re-run; those points were kept robust."));
        var squareStage = stages.FirstOrDefault(st => st.Attack == "square");
        if (squareStage is not null && stages.Count > 1 && squareStage.Fooled > 0.002 * n)
            flags.Add(new SuiteFlag("square",
                $"Square Attack, which uses no gradients, fooled {squareStage.Fooled} points ({(double)squareStage.Fooled / n:P2}) that the gradient-based attacks left robust: the model's gradients may be masked or unreliable."));
        double maxPerturbation = 0;
        for (int b = 0; b < n; b++)
            if (!robust[b]) maxPerturbation = Math.Max(maxPerturbation, Projections.Distance(adversarial.AsSpan(b * per, per), pixels.Data.AsSpan(b * per, per), o.Norm));
        int robustCount = robust.Count(r => r);
        return new SuiteReport(o.Norm, o.Epsilon, o.Version, n, cleanCorrect, (double)cleanCorrect / n, stages, robustCount, (double)robustCount / n, robust,
            new Tensor((int[])pixels.Shape.Clone(), adversarial), maxPerturbation, invalid, flags, total.Elapsed.TotalSeconds);
    }

    private sealed class StageProgress(Action<double> report) : IProgress<double>
    {
        public void Report(double value) => report(Math.Clamp(value, 0, 1));
    }

    /// <summary>Inside the ε-ball (up to float rounding of the norm) and the value range.</summary>
    public static bool Valid(ReadOnlySpan<float> adv, ReadOnlySpan<float> x, Norm norm, float eps, float lo, float hi)
    {
        foreach (var v in adv) if (!(v >= lo && v <= hi)) return false;
        return Projections.Distance(adv, x, norm) <= eps * (1 + 1e-5) + (norm == Norm.LInf ? 1e-7 : 0);
    }

    private static RobustSearch RunAttack(AttackModel model, Tensor x, int[] y, SuiteAttack attack, SuiteOptions o, int[] ids, IProgress<double> progress, CancellationToken cancellation)
    {
        bool plus = o.Version == SuiteVersion.Plus, rand = o.Version == SuiteVersion.Rand;
        var apgd = new ApgdOptions
        {
            Norm = o.Norm, Epsilon = o.Epsilon, Iterations = o.Iterations, Seed = o.Seed, BatchSize = o.BatchSize!.Value,
            // AutoAttack: L1 runs APGD-CE with 5 restarts and APGD-T over 5 targets; plus 5 restarts; rand averages 20 passes.
            Restarts = plus || (o.Norm == Norm.L1 && attack == SuiteAttack.ApgdCe) ? 5 : 1,
            TargetClasses = o.Norm == Norm.L1 ? 5 : 9, EotIterations = rand ? 20 : 1,
        };
        var fab = new FabOptions { Norm = o.Norm, Epsilon = o.Epsilon, Iterations = o.Iterations, Seed = o.Seed, BatchSize = o.BatchSize!.Value, StopWithinEpsilon = true, Restarts = plus && attack == SuiteAttack.Fab ? 5 : 1 };
        return attack switch
        {
            SuiteAttack.ApgdCe => Apgd.Run(model, x, y, apgd with { Loss = ApgdLoss.CrossEntropy }, ids, progress, cancellation),
            SuiteAttack.ApgdDlr => Apgd.Run(model, x, y, apgd with { Loss = ApgdLoss.Dlr }, ids, progress, cancellation),
            SuiteAttack.ApgdT => Apgd.Run(model, x, y, apgd with { Loss = ApgdLoss.TargetedDlr, Restarts = 1 }, ids, progress, cancellation),
            SuiteAttack.Fab => Fab.Run(model, x, y, fab with { TargetClasses = null }, ids, progress, cancellation).Search,
            SuiteAttack.FabT => Fab.Run(model, x, y, fab with { TargetClasses = 9 }, ids, progress, cancellation).Search,
            _ => Square.Run(model, x, y, new SquareOptions { Norm = o.Norm, Epsilon = o.Epsilon, Queries = o.SquareQueries, Seed = o.Seed, BatchSize = o.BatchSize!.Value }, ids, progress, cancellation),
        };
    }

    private static Tensor Gather(float[] data, int[] rows, int per, AttackModel model)
    {
        var result = new float[rows.Length * per];
        for (int a = 0; a < rows.Length; a++) data.AsSpan(rows[a] * per, per).CopyTo(result.AsSpan(a * per));
        return new Tensor([rows.Length, model.Channels, model.Height, model.Width], result);
    }

    /// <summary>The reference implementation's checks on the model before attacking.</summary>
    private static List<SuiteFlag> Checks(AttackModel model, Tensor pixels, IReadOnlyList<int> labels, Scores clean, bool[] correct, SuiteOptions o, CancellationToken cancellation)
    {
        var flags = new List<SuiteFlag>();
        int n = pixels.Shape[0], per = model.PixelsPerImage, k = clean.Classes;
        int probe = Math.Min(n, o.BatchSize!.Value);
        var first = Attack.Slice(pixels, 0, probe);
        // Randomness: the same inputs, run again, must give the same outputs.
        double maxDiff = 0;
        for (int rep = 0; rep < 4; rep++)
        {
            var again = model.Evaluate(first, cancellation);
            for (int i = 0; i < probe * k; i++) maxDiff = Math.Max(maxDiff, Math.Abs(again.Values[i] - clean.Values[i]));
        }
        if (maxDiff > 1e-4)
            flags.Add(new SuiteFlag("randomized", $"the model's outputs change between runs on the same inputs (up to {maxDiff:G3}): a randomised defence; evaluate with the rand version (APGD with expectation over transformation)."));
        // Softmax outputs: probabilities flatten the loss surface; AdvVis attacks their logarithm, but say so.
        if (clean.Kind == OutputKind.Probabilities)
            flags.Add(new SuiteFlag("softmax-output", "the model's outputs are a probability distribution (it ends in a softmax); the attacks use their logarithm as logits, but an evaluation on the pre-softmax logits is more reliable."));
        // Zero gradients: points where the cross-entropy gradient vanishes cannot be attacked by gradients.
        var rows = Enumerable.Range(0, n).Where(b => correct[b]).Take(o.BatchSize!.Value).ToArray();
        if (rows.Length > 0)
        {
            var x = Gather(pixels.Data, rows, per, model);
            var (_, g) = model.Gradient(x, (r, z, dz) => Losses.CrossEntropyGradient(z, labels[rows[r]], dz), cancellation);
            int zero = 0;
            for (int r = 0; r < rows.Length; r++)
            {
                bool allZero = true;
                for (int i = r * per; i < (r + 1) * per && allZero; i++) allZero = g.Data[i] == 0;
                if (allZero) zero++;
            }
            if (zero > 0)
                flags.Add(new SuiteFlag("zero-gradients", $"{zero} of {rows.Length} correctly classified points checked have an exactly zero gradient: gradient-based attacks cannot move them; trust Square's result, or fix the model's gradients."));
        }
        var seq = o.Sequence();
        if (seq.Contains(SuiteAttack.ApgdT) || seq.Contains(SuiteAttack.ApgdDlr))
        {
            if (k <= 2) flags.Add(new SuiteFlag("n-classes", $"with only {k} classes the DLR loss is undefined; evaluate with the custom version and APGD-CE, FAB and Square."));
            else if (k == 3 && seq.Contains(SuiteAttack.ApgdT)) flags.Add(new SuiteFlag("n-classes", "with only 3 classes the targeted DLR loss is undefined; evaluate with the custom version, without APGD-T."));
        }
        return flags;
    }
}
