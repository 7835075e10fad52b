// Square Attack (Andriushchenko, Croce, Flammarion & Hein, ECCV 2020): a score-based random search that needs no
// gradients. Each query changes one random square window of the perturbation (L∞: new ±ε signs per channel; L2: the
// window's share of the budget redistributed as a centred pattern) and keeps the change if the margin dropped. The
// window's area is a fraction p of the image that shrinks on the paper's fixed schedule.
using AdvVis.Engine;

namespace AdvVis.Attacks;

public sealed record SquareOptions
{
    public Norm Norm { get; init; } = Norm.LInf;
    public float Epsilon { get; init; } = 8f / 255f;
    /// <summary>Queries per image, the initial one included.</summary>
    public int Queries { get; init; } = 5000;
    /// <summary>p_init: the first windows' share of the image (AutoAttack: 0.8).</summary>
    public float InitialFraction { get; init; } = 0.8f;
    public int Restarts { get; init; } = 1;
    public int Seed { get; init; }
    public int BatchSize { get; init; } = 256;

    public void Validate()
    {
        if (!(Epsilon >= 0) || float.IsInfinity(Epsilon)) throw new ArgumentException($"ε must be a finite number ≥ 0 (pixel space [0,1]), got {Epsilon}.");
        if (Queries < 1 || Restarts < 1 || BatchSize < 1) throw new ArgumentException("Square's queries, restarts and batch size must be ≥ 1.");
        if (!(InitialFraction > 0 && InitialFraction <= 1)) throw new ArgumentException($"Square's p_init must lie in (0, 1], got {InitialFraction}.");
        if (Norm == Norm.L1) throw new ArgumentException("Square Attack runs in L∞ or L2.");
    }
}

public static class Square
{
    /// <summary>
    /// The paper's schedule for the window's share at query <paramref name="iteration"/>: p_init halved after 10, 50,
    /// 200, 500, 1000, 2000, 4000, 6000 and 8000 iterations (then ÷512 up to 10000).
    /// </summary>
    public static double Fraction(double initial, int iteration)
    {
        int[] bounds = [10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000];
        int halvings = bounds.Count(b => iteration > b);
        return initial / (1 << halvings);
    }

    /// <summary>The window's side s = round(√(p·h·w)), at least 1 and at most h − 1.</summary>
    public static int Side(double fraction, int height, int width) =>
        Math.Clamp((int)Math.Round(Math.Sqrt(fraction * height * width)), 1, Math.Max(height - 1, 1));

    public static RobustSearch Run(AttackModel model, Tensor pixels, IReadOnlyList<int> labels, SquareOptions o, IReadOnlyList<int>? imageIds = null,
        IProgress<double>? progress = null, CancellationToken cancellation = default)
    {
        o.Validate();
        int n = pixels.Shape[0], per = model.PixelsPerImage;
        if (labels.Count != n) throw new ArgumentException($"{n} images but {labels.Count} labels.");
        var ids = imageIds?.ToArray() ?? Enumerable.Range(0, n).ToArray();
        var adversarial = (float[])pixels.Data.AsSpan(0, n * per).ToArray();
        var fooled = new bool[n];
        var queries = new long[n];
        for (int restart = 0; restart < o.Restarts; restart++)
        {
            var robust = Enumerable.Range(0, n).Where(b => !fooled[b]).ToArray();
            for (int s = 0; s < robust.Length; s += o.BatchSize)
            {
                var rows = robust.Skip(s).Take(o.BatchSize).ToArray();
                int first = s, rr = restart;
                SingleRun(model, pixels.Data, rows, labels, o, ids, 7 + restart, adversarial, fooled, queries,
                    f => progress?.Report((rr + (first + f * rows.Length) / Math.Max(robust.Length, 1)) / o.Restarts), cancellation);
            }
        }
        progress?.Report(1);
        return new RobustSearch(new Tensor((int[])pixels.Shape.Clone(), adversarial), fooled, queries);
    }

    private static void SingleRun(AttackModel model, float[] all, int[] rows, IReadOnlyList<int> labels, SquareOptions o, int[] ids, int stream,
        float[] result, bool[] fooled, long[] queries, Action<double> report, CancellationToken cancellation)
    {
        int m = rows.Length, per = model.PixelsPerImage, c = model.Channels, h = model.Height, w = model.Width;
        float eps = o.Epsilon, lo = model.Min, hi = model.Max;
        var x = new float[m * per];
        for (int r = 0; r < m; r++) all.AsSpan(rows[r] * per, per).CopyTo(x.AsSpan(r * per));
        var rng = rows.Select(b => Projections.ImageRandom(o.Seed, ids[b], stream)).ToArray();
        var best = new float[m * per];
        for (int r = 0; r < m; r++) Initial(best.AsSpan(r * per, per), x.AsSpan(r * per, per), o.Norm, eps, lo, hi, c, h, w, rng[r]);
        var margin = new double[m];
        var everyone = Enumerable.Range(0, m).ToArray();
        var scores = Evaluate(model, best, everyone, per, cancellation);
        for (int r = 0; r < m; r++)
        {
            queries[rows[r]]++;
            margin[r] = RobustLosses.Margin(scores.LogSpace(r), labels[rows[r]]);
        }
        var candidate = new float[m * per];
        for (int it = 1; it < o.Queries; it++)
        {
            cancellation.ThrowIfCancellationRequested();
            var active = everyone.Where(r => margin[r] >= 0).ToArray();
            if (active.Length == 0) break;
            int side = Side(Fraction(o.InitialFraction, it - 1), h, w);
            foreach (var r in active)
            {
                var cand = candidate.AsSpan(r * per, per);
                best.AsSpan(r * per, per).CopyTo(cand);
                if (o.Norm == Norm.LInf) UpdateLInf(cand, x.AsSpan(r * per, per), eps, lo, hi, c, h, w, side, rng[r]);
                else UpdateL2(cand, x.AsSpan(r * per, per), eps, lo, hi, c, h, w, side, rng[r]);
            }
            var s = Evaluate(model, candidate, active, per, cancellation);
            for (int a = 0; a < active.Length; a++)
            {
                int r = active[a];
                queries[rows[r]]++;
                double mNew = RobustLosses.Margin(s.LogSpace(a), labels[rows[r]]);
                if (mNew < margin[r])
                {
                    margin[r] = mNew;
                    candidate.AsSpan(r * per, per).CopyTo(best.AsSpan(r * per));
                }
            }
            if ((it & 63) == 0) report((double)it / o.Queries);
        }
        for (int r = 0; r < m; r++)
            if (margin[r] < 0 && !fooled[rows[r]])
            {
                fooled[rows[r]] = true;
                best.AsSpan(r * per, per).CopyTo(result.AsSpan(rows[r] * per));
            }
    }

    private static Scores Evaluate(AttackModel model, float[] data, int[] rows, int per, CancellationToken cancellation)
    {
        var batch = new float[rows.Length * per];
        for (int a = 0; a < rows.Length; a++) data.AsSpan(rows[a] * per, per).CopyTo(batch.AsSpan(a * per));
        return model.Evaluate(new Tensor([rows.Length, model.Channels, model.Height, model.Width], batch), cancellation);
    }

    private static float RandomSign(Random rng) => rng.Next(2) == 0 ? -1f : 1f;

    /// <summary>L∞: vertical stripes of ±ε (one sign per channel and column). L2: a grid of centred ±patterns of norm ε.</summary>
    private static void Initial(Span<float> adv, ReadOnlySpan<float> x, Norm norm, float eps, float lo, float hi, int c, int h, int w, Random rng)
    {
        if (norm == Norm.LInf)
        {
            for (int ch = 0; ch < c; ch++)
                for (int col = 0; col < w; col++)
                {
                    float sign = RandomSign(rng) * eps;
                    for (int row = 0; row < h; row++) { int i = (ch * h + row) * w + col; adv[i] = Math.Clamp(x[i] + sign, lo, hi); }
                }
            return;
        }
        var delta = new float[adv.Length];
        int tile = Math.Max(h / 5, 1);
        for (int top = 0; top + tile <= h; top += tile)
            for (int left = 0; left + tile <= w; left += tile)
                for (int ch = 0; ch < c; ch++)
                {
                    float sign = RandomSign(rng);
                    for (int a = 0; a < tile; a++)
                        for (int b = 0; b < tile; b++)
                            delta[(ch * h + top + a) * w + left + b] = sign * Centred(a, b, tile);
                }
        double norm2 = Projections.Length(delta, Norm.L2);
        for (int i = 0; i < adv.Length; i++) adv[i] = x[i] + (float)(delta[i] * eps / Math.Max(norm2, 1e-12));
        Projections.Project(adv, x, Norm.L2, eps, lo, hi);
    }

    /// <summary>A pattern peaked at the window's centre, decaying as 1/(r+1)² with the Chebyshev ring r.</summary>
    private static float Centred(int a, int b, int side)
    {
        double centre = (side - 1) / 2.0;
        double ring = Math.Floor(Math.Max(Math.Abs(a - centre), Math.Abs(b - centre)));
        return (float)(1 / ((ring + 1) * (ring + 1)));
    }

    private static void UpdateLInf(Span<float> cand, ReadOnlySpan<float> x, float eps, float lo, float hi, int c, int h, int w, int side, Random rng)
    {
        int top = rng.Next(h - side + 1), left = rng.Next(w - side + 1);
        // Draw again when the window would not change (all its values already at the drawn corners).
        for (int attempt = 0; attempt < 10; attempt++)
        {
            var signs = Enumerable.Range(0, c).Select(_ => RandomSign(rng) * eps).ToArray();
            bool changes = false;
            for (int ch = 0; ch < c && !changes; ch++)
                for (int a = 0; a < side && !changes; a++)
                    for (int b = 0; b < side; b++)
                    {
                        int i = (ch * h + top + a) * w + left + b;
                        if (Math.Abs(Math.Clamp(x[i] + signs[ch], lo, hi) - cand[i]) >= 1e-7f) { changes = true; break; }
                    }
            if (!changes && attempt < 9) continue;
            for (int ch = 0; ch < c; ch++)
                for (int a = 0; a < side; a++)
                    for (int b = 0; b < side; b++)
                    {
                        int i = (ch * h + top + a) * w + left + b;
                        cand[i] = Math.Clamp(x[i] + signs[ch], lo, hi);
                    }
            return;
        }
    }

    /// <summary>
    /// L2: the budget held by two random windows plus the unused budget (ε² − ‖δ‖²) goes into the first window as a
    /// centred pattern with a random sign per channel and half; the second window is emptied. ‖δ‖₂ ≤ ε throughout.
    /// </summary>
    private static void UpdateL2(Span<float> cand, ReadOnlySpan<float> x, float eps, float lo, float hi, int c, int h, int w, int side, Random rng)
    {
        int t1 = rng.Next(h - side + 1), l1 = rng.Next(w - side + 1);
        int t2 = rng.Next(h - side + 1), l2 = rng.Next(w - side + 1);
        bool overlap = Math.Abs(t1 - t2) < side && Math.Abs(l1 - l2) < side;
        double total = 0, held = 0;
        for (int i = 0; i < cand.Length; i++) { double d = cand[i] - x[i]; total += d * d; }
        bool In(int top, int left, int row, int col) => row >= top && row < top + side && col >= left && col < left + side;
        for (int ch = 0; ch < c; ch++)
            for (int row = 0; row < h; row++)
                for (int col = 0; col < w; col++)
                    if (In(t1, l1, row, col) || (!overlap && In(t2, l2, row, col)))
                    {
                        int i = (ch * h + row) * w + col;
                        double d = cand[i] - x[i];
                        held += d * d;
                    }
        double budget = Math.Sqrt(Math.Max(held + (double)eps * eps - total, 0));
        bool vertical = rng.Next(2) == 0;
        var pattern = new double[c * side * side];
        double pn = 0;
        for (int ch = 0; ch < c; ch++)
        {
            float s1 = RandomSign(rng), s2 = RandomSign(rng);
            for (int a = 0; a < side; a++)
                for (int b = 0; b < side; b++)
                {
                    bool firstHalf = vertical ? b < (side + 1) / 2 : a < (side + 1) / 2;
                    double v = (firstHalf ? s1 : s2) * Centred(a, b, side);
                    pattern[(ch * side + a) * side + b] = v;
                    pn += v * v;
                }
        }
        double scale = budget / Math.Max(Math.Sqrt(pn), 1e-12);
        if (!overlap)
            for (int ch = 0; ch < c; ch++)
                for (int a = 0; a < side; a++)
                    for (int b = 0; b < side; b++) { int i = (ch * h + t2 + a) * w + l2 + b; cand[i] = x[i]; }
        for (int ch = 0; ch < c; ch++)
            for (int a = 0; a < side; a++)
                for (int b = 0; b < side; b++)
                {
                    int i = (ch * h + t1 + a) * w + l1 + b;
                    cand[i] = Math.Clamp((float)(x[i] + scale * pattern[(ch * side + a) * side + b]), lo, hi);
                }
        Projections.Project(cand, x, Norm.L2, eps, lo, hi);
    }
}
