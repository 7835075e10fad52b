// Auto-PGD (Croce & Hein, ICML 2020): PGD with momentum whose step size halves at checkpoints where progress stalled,
// restarting from the best point; cross-entropy, DLR and targeted DLR (APGD-T over the top classes); L∞, L2 and L1
// (the sparse step and L1-ball ∩ box projection of Croce & Hein 2021, "Mind the box").
using AdvVis.Engine;

namespace AdvVis.Attacks;

public enum ApgdLoss { CrossEntropy, Dlr, TargetedDlr }

public sealed record ApgdOptions
{
    public Norm Norm { get; init; } = Norm.LInf;
    /// <summary>ε in pixel space [0, 1].</summary>
    public float Epsilon { get; init; } = 8f / 255f;
    public int Iterations { get; init; } = 100;
    /// <summary>Runs from fresh random starts (per target class for APGD-T) on the points still robust.</summary>
    public int Restarts { get; init; } = 1;
    public ApgdLoss Loss { get; init; } = ApgdLoss.CrossEntropy;
    /// <summary>APGD-T: the target classes are the 2nd, 3rd, … most likely classes at the clean point.</summary>
    public int TargetClasses { get; init; } = 9;
    /// <summary>Expectation over transformation: gradients averaged over this many passes (randomised models).</summary>
    public int EotIterations { get; init; } = 1;
    /// <summary>ρ: a checkpoint halves the step when fewer than ρ of its steps increased the loss.</summary>
    public float Rho { get; init; } = 0.75f;
    /// <summary>α of the paper's momentum step (0.75).</summary>
    public float Momentum { get; init; } = 0.75f;
    public int Seed { get; init; }
    public int BatchSize { get; init; } = 128;

    public string Name => Loss switch { ApgdLoss.CrossEntropy => "APGD-CE", ApgdLoss.Dlr => "APGD-DLR", _ => "APGD-T" };

    public void Validate(int classes)
    {
        if (!(Epsilon >= 0) || float.IsInfinity(Epsilon)) throw new ArgumentException($"ε must be a finite number ≥ 0 (pixel space [0,1]), got {Epsilon}.");
        if (Iterations < 1) throw new ArgumentException($"APGD needs at least 1 iteration, got {Iterations}.");
        if (Restarts < 1 || EotIterations < 1 || BatchSize < 1 || TargetClasses < 1) throw new ArgumentException("APGD restarts, EOT iterations, target classes and batch size must be ≥ 1.");
        if (Loss == ApgdLoss.Dlr && classes < 3) throw new ArgumentException($"The DLR loss needs at least 3 classes; the model has {classes}. Use APGD-CE.");
        if (Loss == ApgdLoss.TargetedDlr && classes < 4) throw new ArgumentException($"The targeted DLR loss needs at least 4 classes; the model has {classes}. Use APGD-CE.");
    }
}

/// <summary>
/// A bounded search's outcome per image: the adversarial point where one was found (Fooled), elsewhere the input or,
/// for APGD, the highest-loss point of its last run; and how many model queries (forward passes) the image used.
/// </summary>
public sealed record RobustSearch(Tensor Adversarial, bool[] Fooled, long[] Queries)
{
    public int RobustCount => Fooled.Count(f => !f);
}

public static class Apgd
{
    /// <summary>
    /// The checkpoints w_j of an N-iteration run: p_0 = 0, p_1 = 0.22, p_{j+1} = p_j + max(p_j − p_{j−1} − 0.03, 0.06),
    /// w_j = ⌈p_j N⌉ (as iteration counts between checks: ⌊0.22N⌋, then 3% less each time down to ⌊0.06N⌋).
    /// </summary>
    public static IReadOnlyList<int> Checkpoints(int iterations)
    {
        var result = new List<int>();
        int period = Math.Max((int)(0.22 * iterations), 1), shrink = Math.Max((int)(0.03 * iterations), 1), min = Math.Max((int)(0.06 * iterations), 1);
        for (int at = period; at <= iterations; )
        {
            result.Add(at);
            period = Math.Max(period - shrink, min);
            at += period;
        }
        return result;
    }

    /// <summary>
    /// Attacks every image (pixels [N,C,H,W] in the model's range). Images already misclassified count as fooled and
    /// stay as they are. <paramref name="imageIds"/> are the images' indices in the whole set (seeding), default 0…N−1.
    /// </summary>
    public static RobustSearch Run(AttackModel model, Tensor pixels, IReadOnlyList<int> labels, ApgdOptions o, IReadOnlyList<int>? imageIds = null,
        IProgress<double>? progress = null, CancellationToken cancellation = default)
    {
        int n = pixels.Shape[0], per = model.PixelsPerImage;
        if (labels.Count != n) throw new ArgumentException($"{n} images but {labels.Count} labels.");
        var ids = imageIds?.ToArray() ?? Enumerable.Range(0, n).ToArray();
        var adversarial = (float[])pixels.Data.AsSpan(0, n * per).ToArray();
        var fooled = new bool[n];
        var queries = new long[n];
        var clean = Evaluate(model, pixels, o.BatchSize, cancellation);
        o.Validate(clean.Classes);
        for (int b = 0; b < n; b++) { fooled[b] = clean.Predicted(b) != labels[b]; queries[b] = 1; }
        var ranked = Enumerable.Range(0, n).Select(b => RobustLosses.Ranked(clean.LogSpace(b))).ToArray();

        int targets = o.Loss == ApgdLoss.TargetedDlr ? Math.Min(o.TargetClasses, clean.Classes - 1) : 1;
        for (int restart = 0; restart < o.Restarts; restart++)
        {
            // APGD-T's target classes run side by side, one row per (image, target), so the engine sees large batches;
            // once any row of an image finds a misclassified point the image's other rows stop, as if run in turn.
            var pairs = Enumerable.Range(0, targets).SelectMany(t => Enumerable.Range(0, n).Where(b => !fooled[b]).Select(b => (Image: b, Target: t))).ToArray();
            for (int start = 0; start < pairs.Length; start += o.BatchSize)
            {
                cancellation.ThrowIfCancellationRequested();
                var chunk = pairs.Skip(start).Take(o.BatchSize).Where(p => !fooled[p.Image]).ToArray();
                if (chunk.Length == 0) continue;
                var rows = chunk.Select(p => p.Image).ToArray();
                int[]? targetClasses = o.Loss == ApgdLoss.TargetedDlr ? chunk.Select(p => ranked[p.Image][p.Target + 1]).ToArray() : null;
                var streams = chunk.Select(p => 1 + p.Target * 1000 + restart).ToArray();
                double done = restart + (double)start / pairs.Length, share = (double)chunk.Length / pairs.Length;
                SingleRun(model, pixels.Data, rows, labels, targetClasses, o, ids, streams,
                    adversarial, fooled, queries, f => progress?.Report((done + f * share) / o.Restarts), cancellation);
            }
            progress?.Report((restart + 1.0) / o.Restarts);
        }
        return new RobustSearch(new Tensor((int[])pixels.Shape.Clone(), adversarial), fooled, queries);
    }

    internal static Scores Evaluate(AttackModel model, Tensor pixels, int batch, CancellationToken cancellation)
    {
        int n = pixels.Shape[0];
        var parts = new List<Scores>();
        for (int s = 0; s < n; s += batch)
            parts.Add(model.Evaluate(Attack.Slice(pixels, s, Math.Min(batch, n - s)), cancellation));
        if (parts.Count == 1) return parts[0];
        return new Scores(parts.SelectMany(p => p.Values).ToArray(), n, parts[0].Classes, parts[0].Kind);
    }

    private static void SingleRun(AttackModel model, float[] all, int[] rows, IReadOnlyList<int> labels, int[]? targets, ApgdOptions o, int[] ids, int[] streams,
        float[] result, bool[] fooled, long[] queries, Action<double> report, CancellationToken cancellation)
    {
        int m = rows.Length, per = model.PixelsPerImage, len = m * per;
        float eps = o.Epsilon, lo = model.Min, hi = model.Max;
        var x = new float[len];
        for (int r = 0; r < m; r++) all.AsSpan(rows[r] * per, per).CopyTo(x.AsSpan(r * per));
        var xa = new float[len];
        for (int r = 0; r < m; r++)
            Projections.RandomStart(xa.AsSpan(r * per, per), x.AsSpan(r * per, per), o.Norm, eps, lo, hi, Projections.ImageRandom(o.Seed, ids[rows[r]], streams[r]));
        var grad = new float[len];
        var loss = new double[m];
        var found = new bool[m];

        void Measure(int[] active)
        {
            var (lossNow, gradNow, wrong) = LossAndGradient(model, xa, active, per, r => labels[rows[r]], targets, o, cancellation);
            for (int a = 0; a < active.Length; a++)
            {
                int r = active[a];
                loss[r] = lossNow[a];
                gradNow.AsSpan(a * per, per).CopyTo(grad.AsSpan(r * per));
                queries[rows[r]] += o.EotIterations;
                if (wrong[a] && !found[r])
                {
                    found[r] = true;
                    if (!fooled[rows[r]]) xa.AsSpan(r * per, per).CopyTo(result.AsSpan(rows[r] * per));
                    fooled[rows[r]] = true;
                }
            }
        }

        var everyone = Enumerable.Range(0, m).ToArray();
        Measure(everyone);
        var xBest = (float[])xa.Clone();
        var gradBest = (float[])grad.Clone();
        var lossBest = (double[])loss.Clone();
        var lossPrevious = (double[])loss.Clone();
        var lossBestAtCheck = (double[])loss.Clone();
        var reducedAtCheck = Enumerable.Repeat(true, m).ToArray();
        var increases = new int[m];
        float alpha = o.Norm == Norm.L1 ? 1f : 2f;
        var step = Enumerable.Repeat(alpha * eps, m).ToArray();
        var xOld = (float[])xa.Clone();
        // L1: the step moves the top-k fraction of coordinates by gradient magnitude; k follows the sparsity found.
        var topFraction = Enumerable.Repeat(0.2, m).ToArray();
        var sparsityBefore = Enumerable.Repeat((double)per, m).ToArray();
        int period = Math.Max((int)(0.22 * o.Iterations), 1), shrink = Math.Max((int)(0.03 * o.Iterations), 1), minPeriod = Math.Max((int)(0.06 * o.Iterations), 1);
        int sinceCheck = 0;
        var scratch = new float[per];

        for (int it = 0; it < o.Iterations; it++)
        {
            cancellation.ThrowIfCancellationRequested();
            // Images already fooled stop here: the search only asks whether a misclassified point exists.
            var active = everyone.Where(r => !found[r] && !fooled[rows[r]]).ToArray();
            if (active.Length == 0) break;
            float a = it > 0 ? o.Momentum : 1f;
            foreach (var r in active)
            {
                var cur = xa.AsSpan(r * per, per);
                var old = xOld.AsSpan(r * per, per);
                var g = grad.AsSpan(r * per, per);
                var x0 = x.AsSpan(r * per, per);
                cur.CopyTo(scratch);
                Step(scratch, g, o.Norm, step[r], topFraction[r]);
                Projections.Project(scratch, x0, o.Norm, eps, lo, hi);
                if (o.Norm != Norm.L1)
                {
                    // z = P(x + η·dir); x' = P(x + a(z − x) + (1 − a)(x − x_old)).
                    for (int i = 0; i < per; i++) scratch[i] = cur[i] + a * (scratch[i] - cur[i]) + (1 - a) * (cur[i] - old[i]);
                    Projections.Project(scratch, x0, o.Norm, eps, lo, hi);
                }
                cur.CopyTo(old);
                scratch.CopyTo(cur);
            }
            Measure(active);
            foreach (var r in active)
            {
                if (loss[r] > lossPrevious[r]) increases[r]++;
                lossPrevious[r] = loss[r];
                if (loss[r] > lossBest[r])
                {
                    lossBest[r] = loss[r];
                    xa.AsSpan(r * per, per).CopyTo(xBest.AsSpan(r * per));
                    grad.AsSpan(r * per, per).CopyTo(gradBest.AsSpan(r * per));
                }
            }
            if (++sinceCheck == period)
            {
                foreach (var r in active)
                {
                    bool restore;
                    if (o.Norm != Norm.L1)
                    {
                        bool oscillating = increases[r] <= period * o.Rho;
                        bool stalled = !reducedAtCheck[r] && lossBestAtCheck[r] >= lossBest[r];
                        restore = oscillating || stalled;
                        reducedAtCheck[r] = restore;
                        lossBestAtCheck[r] = lossBest[r];
                        if (restore) step[r] /= 2;
                    }
                    else
                    {
                        int nonZero = 0;
                        for (int i = 0; i < per; i++) if (xBest[r * per + i] != x[r * per + i]) nonZero++;
                        restore = nonZero / sparsityBefore[r] < 0.95;
                        topFraction[r] = nonZero / (double)per / 1.5;
                        step[r] = restore ? alpha * eps : Math.Clamp(step[r] / 1.5f, alpha * eps / 10, alpha * eps);
                        sparsityBefore[r] = nonZero;
                    }
                    if (restore)
                    {
                        xBest.AsSpan(r * per, per).CopyTo(xa.AsSpan(r * per));
                        gradBest.AsSpan(r * per, per).CopyTo(grad.AsSpan(r * per));
                    }
                    increases[r] = 0;
                }
                period = Math.Max(period - shrink, minPeriod);
                sinceCheck = 0;
            }
            report((it + 1.0) / o.Iterations);
        }
        // Where no misclassified point was found, hand back the highest-loss point (inside the ball, like every iterate).
        for (int r = 0; r < m; r++)
            if (!fooled[rows[r]]) xBest.AsSpan(r * per, per).CopyTo(result.AsSpan(rows[r] * per));
    }

    /// <summary>x += η·d: sign(g) for L∞, g/‖g‖₂ for L2, the sign of the top-k coordinates of |g| over their count for L1.</summary>
    private static void Step(Span<float> x, ReadOnlySpan<float> g, Norm norm, float eta, double topFraction)
    {
        int per = x.Length;
        switch (norm)
        {
            case Norm.LInf:
                for (int i = 0; i < per; i++) x[i] += eta * MathF.Sign(g[i]);
                break;
            case Norm.L2:
            {
                double n2 = 0;
                for (int i = 0; i < per; i++) n2 += (double)g[i] * g[i];
                float s = (float)(eta / (Math.Sqrt(n2) + 1e-12));
                for (int i = 0; i < per; i++) x[i] += s * g[i];
                break;
            }
            default:
            {
                var magnitudes = new float[per];
                for (int i = 0; i < per; i++) magnitudes[i] = Math.Abs(g[i]);
                Array.Sort(magnitudes);
                int at = (int)Math.Clamp((1 - topFraction) * per, 0, per - 1);
                float threshold = magnitudes[at];
                int count = 0;
                for (int i = 0; i < per; i++) if (Math.Abs(g[i]) >= threshold && g[i] != 0) count++;
                if (count == 0) break;
                float s = eta / count;
                for (int i = 0; i < per; i++) if (Math.Abs(g[i]) >= threshold && g[i] != 0) x[i] += s * MathF.Sign(g[i]);
                break;
            }
        }
    }

    /// <summary>Loss values, the pixel gradients of the ascended loss, and misclassification, for rows of <paramref name="xa"/>.</summary>
    internal static (double[] Loss, float[] Gradient, bool[] Wrong) LossAndGradient(AttackModel model, float[] xa, int[] rows, int per,
        Func<int, int> label, int[]? targets, ApgdOptions o, CancellationToken cancellation)
    {
        var shape = new[] { rows.Length, model.Channels, model.Height, model.Width };
        var batch = new float[rows.Length * per];
        for (int a = 0; a < rows.Length; a++) xa.AsSpan(rows[a] * per, per).CopyTo(batch.AsSpan(a * per));
        var loss = new double[rows.Length];
        var wrong = new bool[rows.Length];
        float[]? sum = null;
        for (int e = 0; e < o.EotIterations; e++)
        {
            var (scores, gradient) = model.Gradient(new Tensor(shape, o.EotIterations == 1 ? batch : (float[])batch.Clone()), (a, z, g) =>
            {
                int r = rows[a], y = label(r);
                loss[a] += o.Loss switch
                {
                    ApgdLoss.CrossEntropy => RobustLosses.CrossEntropy(z, y, g),
                    ApgdLoss.Dlr => RobustLosses.Dlr(z, y, g),
                    _ => RobustLosses.TargetedDlr(z, y, targets![r], g),
                } / o.EotIterations;
            }, cancellation);
            for (int a = 0; a < rows.Length; a++) wrong[a] |= scores.Predicted(a) != label(rows[a]);
            if (sum is null) sum = gradient.Data.AsSpan(0, rows.Length * per).ToArray();
            else for (int i = 0; i < sum.Length; i++) sum[i] += gradient.Data[i];
        }
        if (o.EotIterations > 1) for (int i = 0; i < sum!.Length; i++) sum[i] /= o.EotIterations;
        return (loss, sum!, wrong);
    }
}
