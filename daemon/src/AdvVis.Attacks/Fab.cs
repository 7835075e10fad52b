// FAB, the Fast Adaptive Boundary attack (Croce & Hein, ICML 2020): minimal-norm adversarial examples. Each step
// linearises the decision boundary between the label and a class at the current point, projects both the current
// point and the original onto that hyperplane within the value range, moves to a biased combination of the two, and
// after crossing steps back towards the original. FAB-T attacks the hyperplane of one target class per run.
using AdvVis.Engine;

namespace AdvVis.Attacks;

public sealed record FabOptions
{
    public Norm Norm { get; init; } = Norm.LInf;
    /// <summary>The budget a found point must meet to count (pixel space); +∞ for a pure minimal-norm search.</summary>
    public float Epsilon { get; init; } = float.PositiveInfinity;
    public int Iterations { get; init; } = 100;
    public int Restarts { get; init; } = 1;
    /// <summary>FAB-T: one run per target class, the 2nd, 3rd, … most likely at the clean point; null: untargeted FAB.</summary>
    public int? TargetClasses { get; init; } = 9;
    /// <summary>η: overshoot of the projection step.</summary>
    public float Overshoot { get; init; } = 1.05f;
    /// <summary>β: after crossing, x ← (1 − β)·x_orig + β·x.</summary>
    public float BackwardStep { get; init; } = 0.9f;
    /// <summary>α_max: the largest weight of the original point's projection.</summary>
    public float AlphaMax { get; init; } = 0.1f;
    /// <summary>Stop an image once it has an adversarial point within ε (what a robustness suite asks).</summary>
    public bool StopWithinEpsilon { get; init; }
    public int Seed { get; init; }
    public int BatchSize { get; init; } = 128;

    public string Name => TargetClasses is null ? "FAB" : "FAB-T";

    public void Validate(int classes)
    {
        if (!(Epsilon > 0)) throw new ArgumentException($"FAB's ε must be > 0 (pixel space [0,1]; +∞ for no budget), got {Epsilon}.");
        if (Iterations < 1 || Restarts < 1 || BatchSize < 1 || TargetClasses is < 1) throw new ArgumentException("FAB iterations, restarts, target classes and batch size must be ≥ 1.");
        if (classes < 2) throw new ArgumentException("FAB needs a model with at least 2 classes.");
    }
}

/// <summary>FAB's result: the search within ε and, per image, the smallest adversarial norm found (+∞ when none).</summary>
public sealed record FabResult(RobustSearch Search, double[] MinimalNorm);

public static class Fab
{
    public static FabResult Run(AttackModel model, Tensor pixels, IReadOnlyList<int> labels, FabOptions o, IReadOnlyList<int>? imageIds = null,
        IProgress<double>? progress = null, CancellationToken cancellation = default)
    {
        int n = pixels.Shape[0], per = model.PixelsPerImage;
        if (labels.Count != n) throw new ArgumentException($"{n} images but {labels.Count} labels.");
        var ids = imageIds?.ToArray() ?? Enumerable.Range(0, n).ToArray();
        var clean = Apgd.Evaluate(model, pixels, o.BatchSize, cancellation);
        o.Validate(clean.Classes);
        var best = (float[])pixels.Data.AsSpan(0, n * per).ToArray();
        var bestNorm = new double[n];
        var queries = Enumerable.Repeat(1L, n).ToArray();
        for (int b = 0; b < n; b++) bestNorm[b] = clean.Predicted(b) != labels[b] ? 0 : double.PositiveInfinity;
        var ranked = Enumerable.Range(0, n).Select(b => RobustLosses.Ranked(clean.LogSpace(b))).ToArray();
        int targets = o.TargetClasses is { } k ? Math.Min(k, clean.Classes - 1) : 1;
        for (int restart = 0; restart < o.Restarts; restart++)
        {
            // FAB-T's targets run side by side, one row per (image, target): large batches for the engine; each image
            // keeps the smallest norm any of its rows found.
            bool Needed(int b) => bestNorm[b] > 0 && !(o.StopWithinEpsilon && bestNorm[b] <= o.Epsilon);
            var pairs = Enumerable.Range(0, targets).SelectMany(t => Enumerable.Range(0, n).Where(Needed).Select(b => (Image: b, Target: t))).ToArray();
            for (int s = 0; s < pairs.Length; s += o.BatchSize)
            {
                cancellation.ThrowIfCancellationRequested();
                var chunk = pairs.Skip(s).Take(o.BatchSize).Where(p => Needed(p.Image)).ToArray();
                if (chunk.Length == 0) continue;
                var rows = chunk.Select(p => p.Image).ToArray();
                int[]? target = o.TargetClasses is null ? null : chunk.Select(p => ranked[p.Image][p.Target + 1]).ToArray();
                var streams = chunk.Select(p => 1 + p.Target * 1000 + restart).ToArray();
                double done = restart + (double)s / pairs.Length, share = (double)chunk.Length / pairs.Length;
                SingleRun(model, pixels.Data, rows, labels, target, o, ids, streams, restart, best, bestNorm, queries,
                    f => progress?.Report((done + f * share) / o.Restarts), cancellation);
            }
            progress?.Report((restart + 1.0) / o.Restarts);
        }
        var within = (float[])pixels.Data.AsSpan(0, n * per).ToArray();
        var fooled = new bool[n];
        for (int b = 0; b < n; b++)
            if (bestNorm[b] <= o.Epsilon)
            {
                fooled[b] = true;
                best.AsSpan(b * per, per).CopyTo(within.AsSpan(b * per));
            }
        return new FabResult(new RobustSearch(new Tensor((int[])pixels.Shape.Clone(), within), fooled, queries), bestNorm);
    }

    private static void SingleRun(AttackModel model, float[] all, int[] rows, IReadOnlyList<int> labels, int[]? targets, FabOptions o, int[] ids,
        int[] streams, int restart, float[] best, double[] bestNorm, long[] queries, Action<double> report, CancellationToken cancellation)
    {
        int m = rows.Length, per = model.PixelsPerImage;
        float lo = model.Min, hi = model.Max;
        var x0 = new float[m * per];
        for (int r = 0; r < m; r++) all.AsSpan(rows[r] * per, per).CopyTo(x0.AsSpan(r * per));
        var xi = (float[])x0.Clone();
        if (restart > 0)
            for (int r = 0; r < m; r++)
            {
                // Later restarts start at a random point halfway to the best distance found (or ε).
                float radius = (float)(0.5 * Math.Min(bestNorm[rows[r]], o.Epsilon));
                if (float.IsFinite(radius) && radius > 0)
                    Projections.RandomStart(xi.AsSpan(r * per, per), x0.AsSpan(r * per, per), o.Norm, radius, lo, hi, Projections.ImageRandom(o.Seed, ids[rows[r]], streams[r]));
            }
        var dCurrent = new double[per];
        var dOrigin = new double[per];
        var f = new double[m];
        var w = new float[m * per];
        int[] Labels(int[] rs) => rs.Select(r => labels[rows[r]]).ToArray();
        int[]? Targets(int[] rs) => targets is null ? null : rs.Select(r => targets[r]).ToArray();
        // Linearises rows at x_i; returns those whose x_i is misclassified. One gradient pass serves both the check of
        // the last step and the next step's hyperplane.
        int[] Linearise(int[] rs)
        {
            var (fr, wr, wrong) = LineariseAt(model, Gather(xi, rs, per, model), Labels(rs), Targets(rs), o.Norm, cancellation);
            for (int a = 0; a < rs.Length; a++) { f[rs[a]] = fr[a]; wr.AsSpan(a * per, per).CopyTo(w.AsSpan(rs[a] * per)); queries[rows[rs[a]]]++; }
            return rs.Where((r, a) => wrong[a]).ToArray();
        }
        var active = Enumerable.Range(0, m).ToArray();
        var crossed = Linearise(active);
        for (int it = 0; it <= o.Iterations && active.Length > 0; it++)
        {
            cancellation.ThrowIfCancellationRequested();
            if (crossed.Length > 0)
            {
                // Crossed the boundary: keep the point if it is the closest yet, then step back towards the original.
                foreach (var r in crossed)
                {
                    int g = rows[r];
                    var cur = xi.AsSpan(r * per, per);
                    var orig = x0.AsSpan(r * per, per);
                    double norm = Projections.Distance(cur, orig, o.Norm);
                    if (norm < bestNorm[g]) { bestNorm[g] = norm; cur.CopyTo(best.AsSpan(g * per)); }
                    for (int i = 0; i < per; i++) cur[i] = Math.Clamp((1 - o.BackwardStep) * orig[i] + o.BackwardStep * cur[i], lo, hi);
                }
            }
            // An image done (within ε) stops all its rows, other targets' included.
            if (o.StopWithinEpsilon) active = active.Where(r => bestNorm[rows[r]] > o.Epsilon).ToArray();
            if (crossed.Length > 0)
            {
                var again = crossed.Where(r => Array.IndexOf(active, r) >= 0).ToArray();
                if (it < o.Iterations && again.Length > 0) Linearise(again);
            }
            if (it == o.Iterations || active.Length == 0) break;
            foreach (var r in active)
            {
                var cur = xi.AsSpan(r * per, per);
                var orig = x0.AsSpan(r * per, per);
                var wr = w.AsSpan(r * per, per);
                // h(z) = f + ⟨w, z − x_i⟩; project x_i and x_orig onto {h = 0} ∩ box.
                double dot = 0;
                for (int i = 0; i < per; i++) dot += (double)wr[i] * (orig[i] - cur[i]);
                ProjectOntoHyperplane(cur, wr, -f[r], o.Norm, lo, hi, dCurrent);
                ProjectOntoHyperplane(orig, wr, -(f[r] + dot), o.Norm, lo, hi, dOrigin);
                double nc = Length(dCurrent, o.Norm), no = Length(dOrigin, o.Norm);
                // The farther the current point is from the boundary compared with the original, the more weight the original gets.
                double alpha = Math.Min(nc / (nc + no + 1e-12), o.AlphaMax);
                for (int i = 0; i < per; i++)
                    cur[i] = (float)Math.Clamp((1 - alpha) * (cur[i] + o.Overshoot * dCurrent[i]) + alpha * (orig[i] + o.Overshoot * dOrigin[i]), lo, hi);
            }
            crossed = Linearise(active);
            report((it + 1.0) / o.Iterations);
        }
    }

    private static Tensor Gather(float[] data, int[] rows, int per, AttackModel model)
    {
        var result = new float[rows.Length * per];
        for (int a = 0; a < rows.Length; a++) data.AsSpan(rows[a] * per, per).CopyTo(result.AsSpan(a * per));
        return new Tensor([rows.Length, model.Channels, model.Height, model.Width], result);
    }

    /// <summary>
    /// Per row, f = z_y − z_c and w = ∇f for the class c whose linearised boundary is nearest (the target for FAB-T;
    /// the minimiser of |f_c| / ‖∇f_c‖_dual over all c ≠ y for untargeted FAB).
    /// </summary>
    private static (double[] F, float[] W, bool[] Wrong) LineariseAt(AttackModel model, Tensor batch, int[] labels, int[]? targets, Norm norm, CancellationToken cancellation)
    {
        int m = batch.Shape[0], per = model.PixelsPerImage;
        if (targets is not null)
        {
            var f = new double[m];
            var (sc, g) = model.Gradient(batch, (r, z, dz) => { dz[labels[r]] = 1; dz[targets[r]] = -1; f[r] = (double)z[labels[r]] - z[targets[r]]; }, cancellation);
            return (f, g.Data.AsSpan(0, m * per).ToArray(), Enumerable.Range(0, m).Select(r => sc.Predicted(r) != labels[r]).ToArray());
        }
        var (scores, pass) = model.RecordedForward(batch, cancellation);
        int k = scores.Classes;
        var bestF = new double[m];
        var bestW = new float[m * per];
        var bestRatio = Enumerable.Repeat(double.PositiveInfinity, m).ToArray();
        for (int c = 0; c < k; c++)
        {
            var cot = new float[m * k];
            for (int r = 0; r < m; r++) if (labels[r] != c) { cot[r * k + labels[r]] = 1; cot[r * k + c] = -1; }
            var g = model.BackwardFromLogSpace(pass, scores, cot, m, cancellation);
            for (int r = 0; r < m; r++)
            {
                if (labels[r] == c) continue;
                var z = scores.LogSpace(r);
                double f = (double)z[labels[r]] - z[c];
                var row = g.Data.AsSpan(r * per, per);
                // Distance to the linearised boundary: |f| over the dual norm of ∇f (L∞ ↔ L1, L2 ↔ L2, L1 ↔ L∞).
                double dual = Projections.Length(row, norm switch { Norm.LInf => Norm.L1, Norm.L1 => Norm.LInf, _ => Norm.L2 });
                double ratio = Math.Abs(f) / (dual + 1e-12);
                if (ratio < bestRatio[r]) { bestRatio[r] = ratio; bestF[r] = f; row.CopyTo(bestW.AsSpan(r * per)); }
            }
        }
        pass.Release();
        return (bestF, bestW, Enumerable.Range(0, m).Select(r => scores.Predicted(r) != labels[r]).ToArray());
    }

    private static double Length(double[] d, Norm norm)
    {
        double s = 0;
        foreach (var v in d) s = norm switch { Norm.LInf => Math.Max(s, Math.Abs(v)), Norm.L2 => s + v * v, _ => s + Math.Abs(v) };
        return norm == Norm.L2 ? Math.Sqrt(s) : s;
    }

    /// <summary>
    /// The smallest δ (in the norm) with ⟨w, δ⟩ = c and lo ≤ p + δ ≤ hi, solved exactly: along each coordinate δ moves
    /// towards sign(c·w_i) up to its box cap u_i. L∞: δ_i = min(t, u_i); L2: δ_i = min(λ|w_i|, u_i) (the KKT point);
    /// L1: the coordinates of largest |w_i| filled to their caps. When even the whole box cannot reach c, δ is the box's
    /// best corner.
    /// </summary>
    public static void ProjectOntoHyperplane(ReadOnlySpan<float> p, ReadOnlySpan<float> w, double c, Norm norm, float lo, float hi, double[] delta)
    {
        int n = p.Length;
        Array.Clear(delta, 0, n);
        if (c == 0 || double.IsNaN(c)) return;
        double sign = Math.Sign(c), target = Math.Abs(c);
        // Coordinates that can help: w_i ≠ 0 with room u_i (their cap) in direction sign·sign(w_i). The scratch arrays
        // are per thread: this runs for every image and step.
        var s = Scratch.For(n);
        int count = 0;
        for (int i = 0; i < n; i++)
        {
            if (w[i] == 0) continue;
            double room = sign * w[i] > 0 ? hi - p[i] : p[i] - lo;
            if (room <= 0) continue;
            double weight = Math.Abs(w[i]);
            s.Index[count] = i;
            s.Weight[count] = weight;
            // L∞: G(t) = Σ |w_i|·min(t, u_i); L2: G(λ) = Σ w_i²·min(λ, u_i/|w_i|); L1 fills by decreasing |w_i|.
            s.Break[count] = norm == Norm.L2 ? room / weight : room;
            s.Coeff[count] = norm == Norm.L2 ? weight * weight : weight;
            count++;
        }
        if (count == 0) return;
        if (norm == Norm.L1)
        {
            var keys = s.Key.AsSpan(0, count);
            for (int j = 0; j < count; j++) keys[j] = -s.Weight[j];
            var order = s.Order.AsSpan(0, count);
            for (int j = 0; j < count; j++) order[j] = j;
            keys.Sort(order);
            double left = target;
            foreach (var j in order)
            {
                int i = s.Index[j];
                double take = Math.Min(s.Break[j], left / s.Weight[j]);
                delta[i] = sign * Math.Sign(w[i]) * take;
                left -= take * s.Weight[j];
                if (left <= 0) break;
            }
            return;
        }
        // Solve G(s) = target. From s₀ = target/Σc_i (a lower bound), each round holds the coordinates capped at the
        // current s fixed and solves the rest exactly; s only grows and stops at the root.
        double reachable = 0;
        for (int j = 0; j < count; j++) reachable += s.Coeff[j] * s.Break[j];
        double at = double.PositiveInfinity; // infeasible: every coordinate at its cap
        if (reachable > target)
        {
            at = 0;
            for (int round = 0; round <= count; round++)
            {
                double fixedPart = 0, slope = 0;
                for (int j = 0; j < count; j++)
                    if (s.Break[j] < at) fixedPart += s.Coeff[j] * s.Break[j]; else slope += s.Coeff[j];
                double next = slope > 0 ? (target - fixedPart) / slope : at;
                if (next <= at) break;
                at = next;
            }
        }
        for (int j = 0; j < count; j++)
        {
            int i = s.Index[j];
            double magnitude = norm == Norm.L2 ? Math.Min(at, s.Break[j]) * s.Weight[j] : Math.Min(at, s.Break[j]);
            delta[i] = sign * Math.Sign(w[i]) * magnitude;
        }
    }

    private sealed class Scratch
    {
        [ThreadStatic] private static Scratch? _current;
        public int[] Index = [], Order = [];
        public double[] Weight = [], Break = [], Coeff = [], Key = [];

        public static Scratch For(int n)
        {
            var s = _current ??= new Scratch();
            if (s.Index.Length < n)
            {
                s.Index = new int[n]; s.Order = new int[n];
                s.Weight = new double[n]; s.Break = new double[n]; s.Coeff = new double[n]; s.Key = new double[n];
            }
            return s;
        }
    }
}
