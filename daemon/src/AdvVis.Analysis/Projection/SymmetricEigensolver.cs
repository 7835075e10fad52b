// Largest eigenpairs of a symmetric operator given only as a matrix-vector product: Lanczos with
// full reorthogonalisation (robust and simple at our sizes: a few hundred steps × a few
// thousand unknowns), Ritz values from the tridiagonal matrix by the implicit QL algorithm
// (EISPACK/JAMA tql2). Used for the spectral (normalised-Laplacian) and PCA initialisations.
namespace AdvVis.Analysis.Projection;

/// <summary>Lanczos eigensolver for the algebraically largest eigenpairs of a symmetric operator.</summary>
public static class SymmetricEigensolver
{
    /// <summary>
    /// Computes the <paramref name="count"/> largest eigenvalues (descending) and unit eigenvectors of the symmetric
    /// operator <paramref name="apply"/> (y = A x) of size <paramref name="size"/>, restricted to the orthogonal
    /// complement of the orthonormal <paramref name="deflation"/> vectors. The start vector is drawn from
    /// <paramref name="seed"/>. Returns false when the Ritz residuals did not reach <paramref name="tolerance"/>
    /// (relative to the largest Ritz value) within <paramref name="maxSteps"/>; the best estimates are still returned.
    /// </summary>
    public static bool TryLargest(int size, Action<double[], double[]> apply, int count, IReadOnlyList<double[]>? deflation,
        ulong seed, int maxSteps, double tolerance, out double[] values, out double[][] vectors)
    {
        ArgumentNullException.ThrowIfNull(apply);
        int deflated = deflation?.Count ?? 0;
        int available = size - deflated;
        if (count < 1 || count > available)
            throw new ArgumentOutOfRangeException(nameof(count), $"count must be in [1, {available}].");
        int steps = Math.Max(count, Math.Min(maxSteps, available));

        var basis = new List<double[]>(steps + 1);
        var alpha = new List<double>(steps);
        var beta = new List<double>(steps);
        var rng = new Xoshiro128StarStar(seed);
        var q = new double[size];
        for (int i = 0; i < size; i++)
            q[i] = rng.NextDouble() - 0.5;
        Orthogonalize(q, deflation, basis);
        Normalize(q);
        basis.Add(q);

        var w = new double[size];
        double[] ritzValues = [];
        double[,] ritzVectors = new double[0, 0];
        bool converged = false;
        for (int j = 0; j < steps; j++)
        {
            apply(basis[j], w);
            double a = Dot(basis[j], w);
            alpha.Add(a);
            // Full reorthogonalisation, twice ("twice is enough"), instead of the three-term recurrence alone.
            Orthogonalize(w, deflation, basis);
            Orthogonalize(w, deflation, basis);
            double b = Math.Sqrt(Dot(w, w));
            int m = j + 1;
            bool invariant = b <= 1e-12 * Math.Max(1.0, Math.Abs(a)) || m == available;
            bool checkpoint = invariant || m == steps || (m >= Math.Max(2 * count + 1, 10) && m % 10 == 0);
            if (checkpoint)
            {
                (ritzValues, ritzVectors) = TridiagonalEigen(alpha, beta, m);
                double scale = Math.Max(1e-300, Math.Abs(ritzValues[m - 1]));
                converged = true;
                for (int t = 0; t < Math.Min(count, m); t++)
                {
                    int col = m - 1 - t;
                    double residual = invariant ? 0 : Math.Abs(b * ritzVectors[m - 1, col]);
                    if (residual > tolerance * scale)
                        converged = false;
                }
                if (converged || invariant || m == steps)
                    break;
            }
            beta.Add(b);
            var next = new double[size];
            for (int i = 0; i < size; i++)
                next[i] = w[i] / b;
            basis.Add(next);
        }

        int mm = alpha.Count;
        int found = Math.Min(count, mm);
        values = new double[count];
        vectors = new double[count][];
        for (int t = 0; t < count; t++)
        {
            vectors[t] = new double[size];
            if (t >= found)
            {
                values[t] = double.NaN;
                converged = false;
                continue;
            }
            int col = mm - 1 - t;
            values[t] = ritzValues[col];
            for (int s = 0; s < mm; s++)
            {
                double coefficient = ritzVectors[s, col];
                double[] v = basis[s];
                double[] target = vectors[t];
                for (int i = 0; i < size; i++)
                    target[i] += coefficient * v[i];
            }
            Normalize(vectors[t]);
        }
        return converged;
    }

    private static void Orthogonalize(double[] w, IReadOnlyList<double[]>? deflation, List<double[]> basis)
    {
        if (deflation is not null)
            foreach (double[] u in deflation)
                Axpy(-Dot(u, w), u, w);
        foreach (double[] u in basis)
            Axpy(-Dot(u, w), u, w);
    }

    internal static double Dot(double[] x, double[] y)
    {
        double sum = 0;
        for (int i = 0; i < x.Length; i++)
            sum += x[i] * y[i];
        return sum;
    }

    private static void Axpy(double a, double[] x, double[] y)
    {
        for (int i = 0; i < x.Length; i++)
            y[i] += a * x[i];
    }

    internal static void Normalize(double[] x)
    {
        double norm = Math.Sqrt(Dot(x, x));
        if (norm == 0)
            return;
        for (int i = 0; i < x.Length; i++)
            x[i] /= norm;
    }

    /// <summary>Eigen-decomposition of the m×m tridiagonal (alpha on the diagonal, beta off it), ascending.</summary>
    internal static (double[] Values, double[,] Vectors) TridiagonalEigen(IReadOnlyList<double> alpha, IReadOnlyList<double> beta, int m)
    {
        var d = new double[m];
        var e = new double[m];
        var v = new double[m, m];
        for (int i = 0; i < m; i++)
        {
            d[i] = alpha[i];
            e[i] = i < m - 1 ? beta[i] : 0.0;
            v[i, i] = 1.0;
        }
        Tql2(m, d, e, v);
        return (d, v);
    }

    /// <summary>
    /// Implicit QL iterations with eigenvectors (JAMA's tql2). Input: d = diagonal, e[i] = T[i, i+1] (e[n−1] = 0),
    /// v = identity. Output: d ascending, v's columns the eigenvectors.
    /// </summary>
    private static void Tql2(int n, double[] d, double[] e, double[,] v)
    {
        double f = 0.0, tst1 = 0.0;
        double eps = Math.Pow(2.0, -52.0);
        for (int l = 0; l < n; l++)
        {
            tst1 = Math.Max(tst1, Math.Abs(d[l]) + Math.Abs(e[l]));
            int m = l;
            while (m < n - 1)
            {
                if (Math.Abs(e[m]) <= eps * tst1)
                    break;
                m++;
            }
            if (m > l)
            {
                int guard = 0;
                do
                {
                    double g = d[l];
                    double p = (d[l + 1] - g) / (2.0 * e[l]);
                    double r = Hypot(p, 1.0);
                    if (p < 0)
                        r = -r;
                    d[l] = e[l] / (p + r);
                    d[l + 1] = e[l] * (p + r);
                    double dl1 = d[l + 1];
                    double h = g - d[l];
                    for (int i = l + 2; i < n; i++)
                        d[i] -= h;
                    f += h;

                    p = d[m];
                    double c = 1.0, c2 = c, c3 = c;
                    double el1 = e[l + 1];
                    double s = 0.0, s2 = 0.0;
                    for (int i = m - 1; i >= l; i--)
                    {
                        c3 = c2;
                        c2 = c;
                        s2 = s;
                        g = c * e[i];
                        h = c * p;
                        r = Hypot(p, e[i]);
                        e[i + 1] = s * r;
                        s = e[i] / r;
                        c = p / r;
                        p = c * d[i] - s * g;
                        d[i + 1] = h + s * (c * g + s * d[i]);
                        for (int k = 0; k < n; k++)
                        {
                            h = v[k, i + 1];
                            v[k, i + 1] = s * v[k, i] + c * h;
                            v[k, i] = c * v[k, i] - s * h;
                        }
                    }
                    p = -s * s2 * c3 * el1 * e[l] / dl1;
                    e[l] = s * p;
                    d[l] = c * p;
                } while (Math.Abs(e[l]) > eps * tst1 && ++guard < 100);
            }
            d[l] += f;
            e[l] = 0.0;
        }

        // Selection sort into ascending order, moving eigenvector columns along.
        for (int i = 0; i < n - 1; i++)
        {
            int k = i;
            double p = d[i];
            for (int j = i + 1; j < n; j++)
            {
                if (d[j] < p)
                {
                    k = j;
                    p = d[j];
                }
            }
            if (k != i)
            {
                d[k] = d[i];
                d[i] = p;
                for (int j = 0; j < n; j++)
                    (v[j, i], v[j, k]) = (v[j, k], v[j, i]);
            }
        }
    }

    private static double Hypot(double a, double b)
    {
        double aa = Math.Abs(a), bb = Math.Abs(b);
        if (aa > bb)
        {
            double r = bb / aa;
            return aa * Math.Sqrt(1 + r * r);
        }
        if (bb == 0)
            return 0;
        double q = aa / bb;
        return bb * Math.Sqrt(1 + q * q);
    }
}
