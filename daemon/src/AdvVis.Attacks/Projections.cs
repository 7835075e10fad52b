// Projections onto the intersection of an ε-ball (L∞, L2 or L1) around x and the value range [lo, hi], the norms
// themselves, and per-image random starting points; shared by every attack so "inside the ball" means one thing.
namespace AdvVis.Attacks;

public static class Projections
{
    /// <summary>‖v‖ in the given norm (accumulated in double).</summary>
    public static double Length(ReadOnlySpan<float> v, Norm norm)
    {
        double s = 0;
        switch (norm)
        {
            case Norm.LInf: foreach (var e in v) s = Math.Max(s, Math.Abs(e)); return s;
            case Norm.L2: foreach (var e in v) s += (double)e * e; return Math.Sqrt(s);
            default: foreach (var e in v) s += Math.Abs(e); return s;
        }
    }

    /// <summary>‖a − b‖ in the given norm.</summary>
    public static double Distance(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Norm norm)
    {
        double s = 0;
        for (int i = 0; i < a.Length; i++)
        {
            double d = (double)a[i] - b[i];
            s = norm switch { Norm.LInf => Math.Max(s, Math.Abs(d)), Norm.L2 => s + d * d, _ => s + Math.Abs(d) };
        }
        return norm == Norm.L2 ? Math.Sqrt(s) : s;
    }

    /// <summary>
    /// <paramref name="adv"/> ← the point of {‖z − x‖ ≤ ε} ∩ [lo, hi]ⁿ nearest to it in L2 for L∞ and L1 (exact), and
    /// the radial scaling then clipping for L2 (the attacks' usual approximation). Never outside either set.
    /// </summary>
    public static void Project(Span<float> adv, ReadOnlySpan<float> x, Norm norm, float eps, float lo, float hi)
    {
        switch (norm)
        {
            case Norm.LInf:
                for (int i = 0; i < adv.Length; i++)
                    adv[i] = Math.Clamp(Math.Min(Math.Max(adv[i], x[i] - eps), x[i] + eps), lo, hi);
                return;
            case Norm.L2:
            {
                double n2 = 0;
                for (int i = 0; i < adv.Length; i++) { double d = adv[i] - x[i]; n2 += d * d; }
                double norm2 = Math.Sqrt(n2);
                float factor = norm2 > eps ? (float)(eps / Math.Max(norm2, 1e-12)) : 1f;
                for (int i = 0; i < adv.Length; i++) adv[i] = Math.Clamp(x[i] + (adv[i] - x[i]) * factor, lo, hi);
                ShrinkInto(adv, x, Norm.L2, eps);
                return;
            }
            default:
                ProjectL1Box(adv, x, eps, lo, hi);
                return;
        }
    }

    /// <summary>
    /// Exact Euclidean projection onto the L1 ball ∩ box: z_i = clip(soft(δ_i, λ), lo − x_i, hi − x_i) with the
    /// smallest λ ≥ 0 whose ‖z‖₁ ≤ ε (bisection on λ; ‖z(λ)‖₁ is non-increasing in λ).
    /// </summary>
    private static void ProjectL1Box(Span<float> adv, ReadOnlySpan<float> x, float eps, float lo, float hi)
    {
        int n = adv.Length;
        var d = new double[n];
        var low = new double[n];
        var high = new double[n];
        double maxAbs = 0;
        for (int i = 0; i < n; i++)
        {
            d[i] = (double)adv[i] - x[i];
            low[i] = Math.Min(lo - (double)x[i], 0);
            high[i] = Math.Max(hi - (double)x[i], 0);
            maxAbs = Math.Max(maxAbs, Math.Abs(d[i]));
        }
        double Z(int i, double lambda) => Math.Clamp(Math.Sign(d[i]) * Math.Max(Math.Abs(d[i]) - lambda, 0), low[i], high[i]);
        double Sum(double lambda)
        {
            double s = 0;
            for (int i = 0; i < n; i++) s += Math.Abs(Z(i, lambda));
            return s;
        }
        double lambdaStar = 0;
        if (Sum(0) > eps)
        {
            double a = 0, b = maxAbs;
            for (int it = 0; it < 100 && b - a > 1e-15 * Math.Max(1, maxAbs); it++)
            {
                double m = 0.5 * (a + b);
                if (Sum(m) > eps) a = m; else b = m;
            }
            lambdaStar = b;
        }
        for (int i = 0; i < n; i++) adv[i] = Math.Clamp((float)(x[i] + Z(i, lambdaStar)), lo, hi);
        ShrinkInto(adv, x, Norm.L1, eps);
    }

    /// <summary>Float rounding can leave ‖adv − x‖ a hair above ε: pull such points towards x (still in the box).</summary>
    private static void ShrinkInto(Span<float> adv, ReadOnlySpan<float> x, Norm norm, float eps)
    {
        for (int attempt = 0; attempt < 4; attempt++)
        {
            double length = Distance(adv, x, norm);
            if (length <= eps) return;
            double f = eps / length * (1 - 1e-6);
            for (int i = 0; i < adv.Length; i++) adv[i] = (float)(x[i] + (adv[i] - (double)x[i]) * f);
        }
    }

    /// <summary>
    /// A random point of the ε-sphere's surface direction, clipped to the box and projected: L∞ uniform in [−1, 1]
    /// rescaled to ‖·‖∞ = ε, L2 Gaussian rescaled to ‖·‖₂ = ε, L1 Gaussian projected onto the L1 ball ∩ box.
    /// </summary>
    public static void RandomStart(Span<float> adv, ReadOnlySpan<float> x, Norm norm, float eps, float lo, float hi, Random rng)
    {
        int n = adv.Length;
        var t = new double[n];
        for (int i = 0; i < n; i++) t[i] = norm == Norm.LInf ? rng.NextDouble() * 2 - 1 : Gaussian(rng);
        double length = 0;
        foreach (var v in t) length = norm switch { Norm.LInf => Math.Max(length, Math.Abs(v)), Norm.L2 => length + v * v, _ => length };
        if (norm == Norm.L2) length = Math.Sqrt(length);
        double scale = norm == Norm.L1 ? 1 : eps / Math.Max(length, 1e-12);
        for (int i = 0; i < n; i++) adv[i] = (float)(x[i] + t[i] * scale);
        Project(adv, x, norm, eps, lo, hi);
    }

    public static double Gaussian(Random rng)
    {
        double u1 = 1 - rng.NextDouble(), u2 = rng.NextDouble();
        return Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }

    /// <summary>A generator seeded by the run's seed, the image's global index and a stream (attack, restart, target).</summary>
    public static Random ImageRandom(int seed, int image, int stream) =>
        new(unchecked((int)((uint)seed * 2654435761u ^ (uint)image * 40503u ^ (uint)stream * 97u + (uint)stream * 1_000_003u)));
}
