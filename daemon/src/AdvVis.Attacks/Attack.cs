// The attacks: FGSM/FGM, PGD (L∞, L2), BIM, MI-FGSM, TPGD, EOT-PGD, Carlini–Wagner L2, DeepFool and the one-pixel
// attack over AttackModel's pixel-space gradients and scores, and the AutoAttack family (Apgd, Fab, Square) one at a
// time. Batched; deterministic for a seed whatever the batch size (each image's randomness is seeded by its index).
using AdvVis.Engine;

namespace AdvVis.Attacks;

public static class Attack
{
    /// <summary>
    /// Attacks every image of <paramref name="pixels"/> [N,C,H,W] (values in the model's range, labels per image)
    /// and measures the result. <paramref name="targets"/> overrides <see cref="AttackOptions.TargetClass"/> per image.
    /// </summary>
    public static AttackRun Run(AttackModel model, Tensor pixels, IReadOnlyList<int> labels, AttackOptions options,
        IReadOnlyList<int>? targets = null, IProgress<AttackProgress>? progress = null, CancellationToken cancellation = default)
    {
        options.Validate();
        int n = pixels.Shape[0];
        if (labels.Count != n) throw new ArgumentException($"{n} images but {labels.Count} labels.");
        if (targets is not null && targets.Count != n) throw new ArgumentException($"{n} images but {targets.Count} targets.");
        int[]? target = targets?.ToArray() ?? (options.TargetClass is { } t ? Enumerable.Repeat(t, n).ToArray() : null);

        var adversarial = new float[pixels.Length];
        var cleanScores = new List<Scores>();
        var advScores = new List<Scores>();
        int per = model.PixelsPerImage;
        for (int start = 0; start < n; start += options.BatchSize)
        {
            cancellation.ThrowIfCancellationRequested();
            int count = Math.Min(options.BatchSize, n - start);
            var x = Slice(pixels, start, count);
            var y = labels.Skip(start).Take(count).ToArray();
            var tg = target?.Skip(start).Take(count).ToArray();
            var clean = model.Evaluate(x, cancellation);
            if (tg is not null)
                foreach (var c in tg)
                    if (c < 0 || c >= clean.Classes) throw new ArgumentException($"Target class {c} does not exist: the model has {clean.Classes} classes (0–{clean.Classes - 1}).");
            foreach (var c in y)
                if (c >= clean.Classes) throw new ArgumentException($"Label {c} does not exist: the model has {clean.Classes} classes. Check the dataset's labels against the model.");
            int done = start;
            void Report(double within) => progress?.Report(new AttackProgress(done, n, (done + within * count) / n, options.Kind.ToString()));
            var adv = options.Kind switch
            {
                AttackKind.Fgsm => Gradient(model, x, y, tg, options with { Norm = Norm.LInf, Steps = 1, StepSize = options.Epsilon, RandomStart = false, EarlyStop = false }, start, Report, cancellation),
                AttackKind.Fgm => Gradient(model, x, y, tg, options with { Norm = Norm.L2, Steps = 1, StepSize = options.Epsilon, RandomStart = false, EarlyStop = false }, start, Report, cancellation),
                AttackKind.Pgd => Gradient(model, x, y, tg, options, start, Report, cancellation),
                AttackKind.CarliniWagnerL2 => CarliniWagner(model, x, y, tg, options, Report, cancellation),
                AttackKind.DeepFool => DeepFool(model, x, clean, options, Report, cancellation),
                AttackKind.Bim => Gradient(model, x, y, tg, options with { RandomStart = false }, start, Report, cancellation),
                AttackKind.MiFgsm => Gradient(model, x, y, tg, options with { RandomStart = false }, start, Report, cancellation),
                AttackKind.Tpgd => Gradient(model, x, y, null, options with { RandomStart = true }, start, Report, cancellation, clean),
                AttackKind.EotPgd => Gradient(model, x, y, tg, options with { RandomStart = true }, start, Report, cancellation),
                AttackKind.OnePixel => OnePixel(model, x, y, tg, options, start, Report, cancellation),
                _ => RobustFamily(model, x, y, options, start, Report, cancellation),
            };
            adv.Data.AsSpan(0, count * per).CopyTo(adversarial.AsSpan(start * per));
            cleanScores.Add(clean);
            advScores.Add(model.Evaluate(adv, cancellation));
            done = start + count;
            progress?.Report(new AttackProgress(done, n, (double)done / n, options.Kind.ToString()));
        }
        var advTensor = new Tensor((int[])pixels.Shape.Clone(), adversarial);
        var outcomes = AttackMetrics.Measure(pixels, advTensor, labels, target, Concat(cleanScores), Concat(advScores));
        return new AttackRun(options, advTensor, outcomes, AttackSummary.Of(outcomes, target is not null));
    }

    private static Scores Concat(List<Scores> parts)
    {
        if (parts.Count == 1) return parts[0];
        if (parts.Count == 0) return new Scores([], 0, 0, OutputKind.Logits);
        return new Scores(parts.SelectMany(p => p.Values).ToArray(), parts.Sum(p => p.Count), parts[0].Classes, parts[0].Kind);
    }

    /// <summary>Items [start, start + count) of a batch tensor, copied.</summary>
    public static Tensor Slice(Tensor t, int start, int count)
    {
        int per = t.Length / t.Shape[0];
        var shape = (int[])t.Shape.Clone();
        shape[0] = count;
        return new Tensor(shape, t.Data.AsSpan(start * per, count * per).ToArray());
    }

    private static Tensor Gather(float[] data, int[] shape, int[] rows)
    {
        int per = data.Length / shape[0];
        var result = new float[rows.Length * per];
        for (int i = 0; i < rows.Length; i++) data.AsSpan(rows[i] * per, per).CopyTo(result.AsSpan(i * per));
        var s = (int[])shape.Clone();
        s[0] = rows.Length;
        return new Tensor(s, result);
    }

    private static bool IsAdversarial(Scores s, int row, int label, int? target) =>
        target is { } t ? s.Predicted(row) == t : s.Predicted(row) != label;

    /// <summary>FGSM, FGM and PGD: iterated (projected) steps along the sign (L∞) or the normalised gradient (L2).</summary>
    private static Tensor Gradient(AttackModel model, Tensor x, int[] labels, int[]? targets, AttackOptions o, int firstIndex,
        Action<double> report, CancellationToken cancellation, Scores? clean = null)
    {
        bool trades = o.Kind == AttackKind.Tpgd, momentum = o.Kind == AttackKind.MiFgsm;
        int passes = o.Kind == AttackKind.EotPgd ? o.EotIterations : 1;
        // TPGD ascends KL(p ‖ q) with p the clean softmax: dKL/dz' = softmax(z') − p.
        var cleanProbabilities = trades ? Enumerable.Range(0, x.Shape[0]).Select(b => clean!.Probabilities(b)).ToArray() : null;
        var velocity = momentum ? new float[x.Length] : null;
        int n = x.Shape[0], per = model.PixelsPerImage;
        float eps = o.Epsilon, alpha = o.Alpha, lo = model.Min, hi = model.Max;
        var orig = x.Data;
        var adv = (float[])orig.Clone();
        if (o.RandomStart && eps > 0)
        {
            for (int b = 0; b < n; b++)
            {
                // Seeded per image (seed, global index): the same start whatever the batching.
                var rng = new Random(unchecked(o.Seed * 1_000_003 + firstIndex + b));
                var span = adv.AsSpan(b * per, per);
                if (trades)
                    // TRADES starts at x + 0.001·N(0, 1), as its reference code and torchattacks do.
                    for (int i = 0; i < per; i++) span[i] += 0.001f * (float)Projections.Gaussian(rng);
                else if (o.Norm == Norm.LInf)
                    for (int i = 0; i < per; i++) span[i] += (float)(rng.NextDouble() * 2 - 1) * eps;
                else
                {
                    var dir = new double[per];
                    double norm = 0;
                    for (int i = 0; i < per; i++)
                    {
                        double u1 = 1 - rng.NextDouble(), u2 = rng.NextDouble();
                        dir[i] = Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
                        norm += dir[i] * dir[i];
                    }
                    double radius = eps * Math.Pow(rng.NextDouble(), 1.0 / per) / Math.Sqrt(norm);
                    for (int i = 0; i < per; i++) span[i] += (float)(dir[i] * radius);
                }
                Project(adv.AsSpan(b * per, per), orig.AsSpan(b * per, per), o.Norm, eps, lo, hi);
            }
        }
        var active = Enumerable.Range(0, n).ToArray();
        for (int step = 0; step < o.Steps && active.Length > 0; step++)
        {
            cancellation.ThrowIfCancellationRequested();
            var sub = Gather(adv, x.Shape, active);
            var rows = active;
            Scores scores = null!;
            Tensor grad = null!;
            for (int pass = 0; pass < passes; pass++)
            {
                var (s1, g1) = model.Gradient(pass == passes - 1 ? sub : new Tensor((int[])sub.Shape.Clone(), (float[])sub.Data.Clone()), (r, z, g) =>
                {
                    int b = rows[r];
                    if (trades)
                    {
                        var q = Losses.Softmax(z);
                        for (int j = 0; j < q.Length; j++) g[j] = q[j] - cleanProbabilities![b][j];
                    }
                    else Losses.AscentGradient(o.Loss, z, targets?[b] ?? labels[b], targets is not null, o.Kappa, g);
                }, cancellation);
                if (pass == 0) { scores = s1; grad = g1; }
                else for (int i = 0; i < grad.Length; i++) grad.Data[i] += g1.Data[i];
                if (pass == passes - 1 && passes > 1) for (int i = 0; i < grad.Length; i++) grad.Data[i] /= passes;
            }
            var next = new List<int>(active.Length);
            for (int r = 0; r < active.Length; r++)
            {
                int b = active[r];
                if (o.EarlyStop && IsAdversarial(scores, r, labels[b], targets?[b])) continue;
                next.Add(b);
                var g = grad.Data.AsSpan(r * per, per);
                if (velocity is not null)
                {
                    // MI-FGSM: g ← μ·g + ∇/‖∇‖₁, then the usual sign (or normalised) step along g.
                    double l1 = 0;
                    for (int i = 0; i < per; i++) l1 += Math.Abs(g[i]);
                    var v = velocity.AsSpan(b * per, per);
                    float inv = (float)(1 / Math.Max(l1, 1e-12));
                    for (int i = 0; i < per; i++) v[i] = o.Decay * v[i] + g[i] * inv;
                    g = v;
                }
                var a = adv.AsSpan(b * per, per);
                if (o.Norm == Norm.LInf)
                    for (int i = 0; i < per; i++) a[i] += alpha * MathF.Sign(g[i]);
                else
                {
                    double norm = 0;
                    for (int i = 0; i < per; i++) norm += (double)g[i] * g[i];
                    float scale = (float)(alpha / Math.Max(Math.Sqrt(norm), 1e-12));
                    for (int i = 0; i < per; i++) a[i] += scale * g[i];
                }
                Project(a, orig.AsSpan(b * per, per), o.Norm, eps, lo, hi);
            }
            active = next.ToArray();
            report((step + 1.0) / Math.Max(o.Steps, 1));
        }
        return new Tensor((int[])x.Shape.Clone(), adv);
    }

    /// <summary>APGD, FAB and Square through their own classes, on this batch (global indices seed them).</summary>
    private static Tensor RobustFamily(AttackModel model, Tensor x, int[] labels, AttackOptions o, int firstIndex, Action<double> report, CancellationToken cancellation)
    {
        var ids = Enumerable.Range(firstIndex, x.Shape[0]).ToArray();
        var progress = new Progress(report);
        int batch = Math.Max(o.BatchSize, x.Shape[0]);
        var apgd = new ApgdOptions { Norm = o.Norm, Epsilon = o.Epsilon, Iterations = Math.Max(o.Steps, 1), Seed = o.Seed, BatchSize = batch };
        var fab = new FabOptions { Norm = o.Norm, Epsilon = o.Epsilon > 0 ? o.Epsilon : float.PositiveInfinity, Iterations = Math.Max(o.Steps, 1), Seed = o.Seed, BatchSize = batch };
        return o.Kind switch
        {
            AttackKind.ApgdCe => Apgd.Run(model, x, labels, apgd, ids, progress, cancellation).Adversarial,
            AttackKind.ApgdDlr => Apgd.Run(model, x, labels, apgd with { Loss = ApgdLoss.Dlr }, ids, progress, cancellation).Adversarial,
            AttackKind.ApgdT => Apgd.Run(model, x, labels, apgd with { Loss = ApgdLoss.TargetedDlr }, ids, progress, cancellation).Adversarial,
            AttackKind.Fab => Fab.Run(model, x, labels, fab with { TargetClasses = null }, ids, progress, cancellation).Search.Adversarial,
            AttackKind.FabT => Fab.Run(model, x, labels, fab, ids, progress, cancellation).Search.Adversarial,
            AttackKind.Square => Square.Run(model, x, labels, new SquareOptions { Norm = o.Norm, Epsilon = o.Epsilon, Queries = Math.Max(o.Steps, 1), Seed = o.Seed, BatchSize = batch }, ids, progress, cancellation).Adversarial,
            _ => throw new ArgumentOutOfRangeException(nameof(o)),
        };
    }

    private sealed class Progress(Action<double> report) : IProgress<double>
    {
        public void Report(double value) => report(Math.Clamp(value, 0, 1));
    }

    /// <summary>
    /// One-pixel attack (Su et al. 2019): differential evolution (DE/rand/1, F = 0.5, no crossover, as in the paper)
    /// over candidates of <see cref="AttackOptions.Pixels"/> pixels, each a position and a value per channel; a trial
    /// replaces its parent when it lowers the label's probability (raises the target's). Stops an image once its best
    /// candidate fools the model. The budget is the pixel count, not ε.
    /// </summary>
    private static Tensor OnePixel(AttackModel model, Tensor x, int[] labels, int[]? targets, AttackOptions o, int firstIndex,
        Action<double> report, CancellationToken cancellation)
    {
        int n = x.Shape[0], per = model.PixelsPerImage, c = model.Channels, h = model.Height, w = model.Width;
        int genes = o.Pixels * (2 + c), pop = o.Population;
        float lo = model.Min, hi = model.Max;
        var rngs = Enumerable.Range(0, n).Select(b => Projections.ImageRandom(o.Seed, firstIndex + b, 31)).ToArray();
        // Candidate genes per pixel: row, column in [0, h) × [0, w), then one value per channel in [lo, hi].
        double Upper(int g) => (g % (2 + c)) switch { 0 => h - 1e-6, 1 => w - 1e-6, _ => hi };
        double Lower(int g) => (g % (2 + c)) < 2 ? 0 : lo;
        var population = new double[n][];
        for (int b = 0; b < n; b++)
        {
            population[b] = new double[pop * genes];
            for (int i = 0; i < pop * genes; i++) population[b][i] = Lower(i % genes) + rngs[b].NextDouble() * (Upper(i % genes) - Lower(i % genes));
        }
        void Apply(Span<float> image, ReadOnlySpan<double> candidate)
        {
            for (int p = 0; p < o.Pixels; p++)
            {
                int row = (int)candidate[p * (2 + c)], col = (int)candidate[p * (2 + c) + 1];
                for (int ch = 0; ch < c; ch++) image[(ch * h + row) * w + col] = (float)Math.Clamp(candidate[p * (2 + c) + 2 + ch], lo, hi);
            }
        }
        // Fitness (lower is better): p(label), or 1 − p(target); also whether the candidate fools the model.
        (double[] Fitness, bool[] Fools) Score(int[] images, double[][] candidates)
        {
            int m = images.Length * pop;
            var fitness = new double[m];
            var fools = new bool[m];
            for (int start = 0; start < m; start += Math.Max(o.BatchSize, pop))
            {
                int count = Math.Min(Math.Max(o.BatchSize, pop), m - start);
                var data = new float[count * per];
                for (int k = 0; k < count; k++)
                {
                    int a = (start + k) / pop, i = (start + k) % pop;
                    var image = data.AsSpan(k * per, per);
                    x.Data.AsSpan(images[a] * per, per).CopyTo(image);
                    Apply(image, candidates[a].AsSpan(i * genes, genes));
                }
                var scores = model.Evaluate(new Tensor([count, c, h, w], data), cancellation);
                for (int k = 0; k < count; k++)
                {
                    int b = images[(start + k) / pop];
                    var p = scores.Probabilities(k);
                    fitness[start + k] = targets is null ? p[labels[b]] : 1 - p[targets[b]];
                    fools[start + k] = IsAdversarial(scores, k, labels[b], targets?[b]);
                }
            }
            return (fitness, fools);
        }
        var active = Enumerable.Range(0, n).ToArray();
        var (fit, fooling) = Score(active, population);
        var fitnessOf = Enumerable.Range(0, n).Select(b => fit.AsSpan(b * pop, pop).ToArray()).ToArray();
        var foolsOf = Enumerable.Range(0, n).Select(b => fooling.AsSpan(b * pop, pop).ToArray()).ToArray();
        for (int gen = 0; gen < o.Steps; gen++)
        {
            cancellation.ThrowIfCancellationRequested();
            active = active.Where(b => !foolsOf[b].Contains(true)).ToArray();
            if (active.Length == 0) break;
            var trials = new double[active.Length][];
            for (int a = 0; a < active.Length; a++)
            {
                int b = active[a];
                var rng = rngs[b];
                var parent = population[b];
                trials[a] = new double[pop * genes];
                for (int i = 0; i < pop; i++)
                {
                    int r1, r2, r3;
                    do r1 = rng.Next(pop); while (r1 == i);
                    do r2 = rng.Next(pop); while (r2 == i || r2 == r1);
                    do r3 = rng.Next(pop); while (r3 == i || r3 == r1 || r3 == r2);
                    for (int g = 0; g < genes; g++)
                        trials[a][i * genes + g] = Math.Clamp(parent[r1 * genes + g] + 0.5 * (parent[r2 * genes + g] - parent[r3 * genes + g]), Lower(g), Upper(g));
                }
            }
            var (tf, tfool) = Score(active, trials);
            for (int a = 0; a < active.Length; a++)
            {
                int b = active[a];
                for (int i = 0; i < pop; i++)
                    if (tf[a * pop + i] < fitnessOf[b][i])
                    {
                        fitnessOf[b][i] = tf[a * pop + i];
                        foolsOf[b][i] = tfool[a * pop + i];
                        trials[a].AsSpan(i * genes, genes).CopyTo(population[b].AsSpan(i * genes));
                    }
            }
            report((gen + 1.0) / Math.Max(o.Steps, 1));
        }
        var adv = (float[])x.Data.AsSpan(0, n * per).ToArray();
        for (int b = 0; b < n; b++)
        {
            // The best candidate: a fooling one if any, else the fittest.
            int best = Array.IndexOf(foolsOf[b], true);
            if (best < 0) best = Array.IndexOf(fitnessOf[b], fitnessOf[b].Min());
            Apply(adv.AsSpan(b * per, per), population[b].AsSpan(best * genes, genes));
        }
        return new Tensor((int[])x.Shape.Clone(), adv);
    }

    /// <summary>Into the ε-ball around <paramref name="x"/> and the value range [lo, hi].</summary>
    internal static void Project(Span<float> adv, ReadOnlySpan<float> x, Norm norm, float eps, float lo, float hi) =>
        Projections.Project(adv, x, norm, eps, lo, hi);

    /// <summary>
    /// Carlini–Wagner L2: minimise ‖x' − x‖² + c·f(x') over x' = lo + (hi − lo)(tanh w + 1)/2 with Adam; binary search
    /// over c per image; keeps the smallest successful perturbation (the input itself when none succeeds).
    /// </summary>
    private static Tensor CarliniWagner(AttackModel model, Tensor x, int[] labels, int[]? targets, AttackOptions o,
        Action<double> report, CancellationToken cancellation)
    {
        int n = x.Shape[0], per = model.PixelsPerImage, len = n * per;
        float lo = model.Min, hi = model.Max, half = (hi - lo) / 2f;
        var orig = x.Data;
        var w0 = new float[len];
        for (int i = 0; i < len; i++)
        {
            float u = Math.Clamp((orig[i] - lo) / (hi - lo) * 2f - 1f, -1f + 1e-6f, 1f - 1e-6f);
            w0[i] = MathF.Atanh(u);
        }
        var c = Enumerable.Repeat((double)o.InitialConst, n).ToArray();
        var lower = new double[n];
        var upper = Enumerable.Repeat(1e10, n).ToArray();
        var bestL2 = Enumerable.Repeat(double.PositiveInfinity, n).ToArray();
        var best = (float[])orig.Clone();
        const float beta1 = 0.9f, beta2 = 0.999f, adamEps = 1e-8f;
        int rounds = Math.Max(1, o.BinarySearchSteps);
        for (int round = 0; round < rounds; round++)
        {
            var w = (float[])w0.Clone();
            var m = new float[len];
            var v = new float[len];
            var succeeded = new bool[n];
            var xp = new float[len];
            for (int it = 0; it <= o.Steps; it++)
            {
                cancellation.ThrowIfCancellationRequested();
                for (int i = 0; i < len; i++) xp[i] = lo + (MathF.Tanh(w[i]) + 1f) * half;
                var xt = new Tensor((int[])x.Shape.Clone(), (float[])xp.Clone());
                var (scores, grad) = model.Gradient(xt, (r, z, g) =>
                    Losses.Margin(z, targets?[r] ?? labels[r], targets is not null, o.Kappa, g, (float)c[r]), cancellation);
                for (int b = 0; b < n; b++)
                {
                    if (!IsAdversarial(scores, b, labels[b], targets?[b])) continue;
                    succeeded[b] = true;
                    double l2 = 0;
                    for (int i = b * per; i < (b + 1) * per; i++) { double d = xp[i] - orig[i]; l2 += d * d; }
                    if (l2 < bestL2[b]) { bestL2[b] = l2; xp.AsSpan(b * per, per).CopyTo(best.AsSpan(b * per)); }
                }
                if (it == o.Steps) break;
                int tstep = it + 1;
                float bc1 = 1 - MathF.Pow(beta1, tstep), bc2 = 1 - MathF.Pow(beta2, tstep);
                for (int i = 0; i < len; i++)
                {
                    float th = MathF.Tanh(w[i]);
                    float gx = 2f * (xp[i] - orig[i]) + grad.Data[i];
                    float gw = gx * half * (1f - th * th);
                    m[i] = beta1 * m[i] + (1 - beta1) * gw;
                    v[i] = beta2 * v[i] + (1 - beta2) * gw * gw;
                    w[i] -= o.LearningRate * (m[i] / bc1) / (MathF.Sqrt(v[i] / bc2) + adamEps);
                }
                report((round + (it + 1.0) / (o.Steps + 1)) / rounds);
            }
            for (int b = 0; b < n; b++)
            {
                if (succeeded[b]) { upper[b] = Math.Min(upper[b], c[b]); c[b] = (lower[b] + upper[b]) / 2; }
                else { lower[b] = Math.Max(lower[b], c[b]); c[b] = upper[b] < 1e9 ? (lower[b] + upper[b]) / 2 : c[b] * 10; }
            }
        }
        return new Tensor((int[])x.Shape.Clone(), best);
    }

    /// <summary>
    /// DeepFool: repeatedly linearise the scores around the current point and step to the nearest linearised decision
    /// boundary among the top candidate classes, overshooting by (1 + overshoot); stops per image once it flips.
    /// </summary>
    private static Tensor DeepFool(AttackModel model, Tensor x, Scores clean, AttackOptions o, Action<double> report, CancellationToken cancellation)
    {
        int n = x.Shape[0], per = model.PixelsPerImage;
        var orig = x.Data;
        var adv = (float[])orig.Clone();
        var rTotal = new double[n * per];
        var original = new int[n];
        var candidates = new int[n][];
        int k = Math.Min(o.Candidates, clean.Classes - 1);
        for (int b = 0; b < n; b++)
        {
            original[b] = clean.Predicted(b);
            var z = clean.LogSpace(b);
            candidates[b] = Enumerable.Range(0, clean.Classes).Where(j => j != original[b]).OrderByDescending(j => z[j]).Take(k).ToArray();
        }
        var active = Enumerable.Range(0, n).ToArray();
        for (int it = 0; it < Math.Max(o.Steps, 1) && active.Length > 0; it++)
        {
            cancellation.ThrowIfCancellationRequested();
            var sub = Gather(adv, x.Shape, active);
            var (scores, pass) = model.RecordedForward(sub, cancellation);
            var still = Enumerable.Range(0, active.Length).Where(r => scores.Predicted(r) == original[active[r]]).ToArray();
            if (still.Length == 0) break;
            int classes = scores.Classes;
            var bestRatio = Enumerable.Repeat(double.PositiveInfinity, active.Length).ToArray();
            var bestF = new double[active.Length];
            var bestW = new float[active.Length][];
            for (int j = 0; j < k; j++)
            {
                var cot = new float[active.Length * classes];
                foreach (var r in still)
                {
                    cot[r * classes + candidates[active[r]][j]] = 1f;
                    cot[r * classes + original[active[r]]] = -1f;
                }
                var grad = model.BackwardFromLogSpace(pass, scores, cot, active.Length, cancellation);
                foreach (var r in still)
                {
                    var z = scores.LogSpace(r);
                    double f = z[candidates[active[r]][j]] - z[original[active[r]]];
                    var g = grad.Data.AsSpan(r * per, per);
                    double norm = 0;
                    for (int i = 0; i < per; i++) norm += o.Norm == Norm.L2 ? (double)g[i] * g[i] : Math.Abs(g[i]);
                    if (o.Norm == Norm.L2) norm = Math.Sqrt(norm);
                    double ratio = Math.Abs(f) / Math.Max(norm, 1e-12);
                    if (ratio < bestRatio[r]) { bestRatio[r] = ratio; bestF[r] = f; bestW[r] = g.ToArray(); }
                }
            }
            foreach (var r in still)
            {
                int b = active[r];
                var g = bestW[r];
                if (g is null) continue;
                double norm = 0;
                for (int i = 0; i < per; i++) norm += o.Norm == Norm.L2 ? (double)g[i] * g[i] : Math.Abs(g[i]);
                double step = (Math.Abs(bestF[r]) + 1e-4) / Math.Max(norm, 1e-12);
                for (int i = 0; i < per; i++)
                {
                    rTotal[b * per + i] += o.Norm == Norm.L2 ? step * g[i] : step * Math.Sign(g[i]);
                    adv[b * per + i] = Math.Clamp((float)(orig[b * per + i] + (1 + o.Overshoot) * rTotal[b * per + i]), model.Min, model.Max);
                }
            }
            active = still.Select(r => active[r]).ToArray();
            report((it + 1.0) / Math.Max(o.Steps, 1));
        }
        return new Tensor((int[])x.Shape.Clone(), adv);
    }
}

/// <summary>An attack's adversarial pixels with per-image outcomes and the summary.</summary>
public sealed record AttackRun(AttackOptions Options, Tensor Adversarial, IReadOnlyList<ImageOutcome> Images, AttackSummary Summary);
