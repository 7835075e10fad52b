// UMAP's low-dimensional similarity curve 1 / (1 + a·d^(2b)): a and b are fitted by nonlinear
// least squares to the "offset exponential" target implied by min_dist and spread, exactly the
// problem umap-learn's find_ab_params hands to scipy.optimize.curve_fit (300 samples on
// [0, 3·spread], start a = b = 1). We solve it with a small Levenberg–Marquardt loop.
namespace AdvVis.Analysis.Projection;

/// <summary>Fits UMAP's (a, b) curve parameters.</summary>
public static class CurveParameters
{
    /// <summary>umap-learn's find_ab_params(spread, min_dist).</summary>
    public static (double A, double B) FindAbParams(double spread, double minDist)
    {
        if (!(spread > 0))
            throw new ArgumentOutOfRangeException(nameof(spread), "spread must be positive.");
        if (minDist < 0 || minDist > spread)
            throw new ArgumentOutOfRangeException(nameof(minDist), "min_dist must be in [0, spread].");

        const int samples = 300;
        var x = new double[samples];
        var y = new double[samples];
        for (int i = 0; i < samples; i++)
        {
            x[i] = spread * 3.0 * i / (samples - 1); // np.linspace(0, 3·spread, 300)
            y[i] = x[i] < minDist ? 1.0 : Math.Exp(-(x[i] - minDist) / spread);
        }

        double a = 1.0, b = 1.0, lambda = 1e-3;
        double cost = Cost(x, y, a, b);
        for (int iter = 0; iter < 500; iter++)
        {
            // Normal equations JᵀJ δ = −Jᵀr for residuals r = f(x; a, b) − y.
            double jaa = 0, jab = 0, jbb = 0, ga = 0, gb = 0;
            for (int i = 0; i < samples; i++)
            {
                if (x[i] == 0)
                {
                    continue; // f(0) = 1 whatever a, b: zero residual gradient (y(0) = 1 as well unless min_dist = 0)
                }
                double p = Math.Pow(x[i], 2 * b);
                double denom = 1 + a * p;
                double f = 1 / denom;
                double r = f - y[i];
                double dfa = -p / (denom * denom);
                double dfb = -a * p * 2 * Math.Log(x[i]) / (denom * denom);
                jaa += dfa * dfa; jab += dfa * dfb; jbb += dfb * dfb;
                ga += dfa * r; gb += dfb * r;
            }
            bool improved = false;
            while (lambda < 1e12)
            {
                double maa = jaa * (1 + lambda), mbb = jbb * (1 + lambda);
                double det = maa * mbb - jab * jab;
                double da = -(mbb * ga - jab * gb) / det;
                double db = -(maa * gb - jab * ga) / det;
                double na = a + da, nb = b + db;
                double newCost = na > 0 && nb > 0 ? Cost(x, y, na, nb) : double.PositiveInfinity;
                if (newCost < cost)
                {
                    bool converged = Math.Abs(da) <= 1e-13 * (Math.Abs(a) + 1e-13) && Math.Abs(db) <= 1e-13 * (Math.Abs(b) + 1e-13)
                                     || cost - newCost <= 1e-16 * cost;
                    a = na; b = nb; cost = newCost;
                    lambda = Math.Max(lambda / 10, 1e-12);
                    improved = true;
                    if (converged)
                        return (a, b);
                    break;
                }
                lambda *= 10;
            }
            if (!improved)
                break;
        }
        return (a, b);
    }

    private static double Cost(double[] x, double[] y, double a, double b)
    {
        double sum = 0;
        for (int i = 0; i < x.Length; i++)
        {
            double f = x[i] == 0 ? 1.0 : 1.0 / (1.0 + a * Math.Pow(x[i], 2 * b));
            double r = f - y[i];
            sum += r * r;
        }
        return sum;
    }
}
