// Starting layouts for UMAP's SGD. Spectral: the smallest nontrivial eigenvectors of the fuzzy
// graph's normalised Laplacian I − D^−½ W D^−½ (for 1-D, the Fiedler vector), computed as the
// largest eigenvectors of I + D^−½ W D^−½ with the trivial eigenvector D^½·1 deflated. PCA: the
// leading principal-component scores, the fallback when the graph is disconnected or the
// eigensolver does not converge. Both are scaled like umap-learn: max |coordinate| = 10, plus
// N(0, 1e−4) noise from an explicit seed.
namespace AdvVis.Analysis.Projection;

/// <summary>How the SGD layout is started.</summary>
public enum InitializationMethod
{
    /// <summary>Normalised-Laplacian eigenvectors of the fuzzy graph (falls back to PCA when that is impossible).</summary>
    Spectral,

    /// <summary>Leading principal components of the input features.</summary>
    Pca,

    /// <summary>Uniform in [−10, 10] (umap-learn's "random").</summary>
    Random,
}

/// <summary>Initial embeddings for UMAP (deterministic given the seed).</summary>
public static class EmbeddingInitialization
{
    private const double SpectralTolerance = 1e-5;
    private const double PcaTolerance = 1e-7;

    /// <summary>
    /// Creates the initial layout with <paramref name="method"/>, scaled to max |coordinate| 10 with N(0, 1e−4) noise
    /// (random init is uniform in [−10, 10], unscaled). <paramref name="used"/> reports the method actually used.
    /// </summary>
    public static DenseMatrix Create(InitializationMethod method, DenseMatrix data, SparseGraph graph, int dimensions, ulong seed,
        out InitializationMethod used, bool addNoise = true)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(graph);
        used = method;
        DenseMatrix? layout = null;
        if (method == InitializationMethod.Random)
            return Random(data.Rows, dimensions, SplitMix64.Derive(seed, 1));
        if (method == InitializationMethod.Spectral)
        {
            layout = Spectral(graph, dimensions, SplitMix64.Derive(seed, 2));
            if (layout is null)
                used = InitializationMethod.Pca;
        }
        layout ??= Pca(data, dimensions, SplitMix64.Derive(seed, 3));
        ScaleToRange(layout, 10f);
        if (addNoise)
            AddNoise(layout, 1e-4, SplitMix64.Derive(seed, 4));
        return layout;
    }

    /// <summary>
    /// Spectral layout (unscaled unit eigenvectors as columns), or null when the graph is disconnected, has
    /// isolated vertices, or the eigensolver does not converge.
    /// </summary>
    public static DenseMatrix? Spectral(SparseGraph graph, int dimensions, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(graph);
        int n = graph.Rows;
        if (n < dimensions + 2)
            return null;
        graph.ConnectedComponents(out int components);
        if (components > 1)
            return null;

        var invSqrtDegree = new double[n];
        var trivial = new double[n];
        for (int i = 0; i < n; i++)
        {
            double degree = 0;
            foreach (float w in graph.WeightsOf(i))
                degree += w;
            if (degree <= 0)
                return null;
            invSqrtDegree[i] = 1.0 / Math.Sqrt(degree);
            trivial[i] = Math.Sqrt(degree);
        }
        SymmetricEigensolver.Normalize(trivial);

        // y = x + D^−½ W D^−½ x: same eigenvectors as the normalised Laplacian, spectrum shifted into [0, 2]
        // so the wanted (smallest-Laplacian) end is the largest-magnitude end Lanczos finds fastest.
        void Apply(double[] x, double[] y)
        {
            for (int i = 0; i < n; i++)
            {
                double sum = 0;
                ReadOnlySpan<int> cols = graph.ColumnsOf(i);
                ReadOnlySpan<float> weights = graph.WeightsOf(i);
                for (int e = 0; e < cols.Length; e++)
                    sum += weights[e] * invSqrtDegree[cols[e]] * x[cols[e]];
                y[i] = x[i] + invSqrtDegree[i] * sum;
            }
        }

        bool ok = SymmetricEigensolver.TryLargest(n, Apply, dimensions, [trivial], seed, maxSteps: Math.Min(n, 600),
            SpectralTolerance, out _, out double[][] vectors);
        if (!ok)
            return null;
        var result = new DenseMatrix(n, dimensions);
        for (int d = 0; d < dimensions; d++)
        {
            FixSign(vectors[d]);
            for (int i = 0; i < n; i++)
                result[i, d] = (float)vectors[d][i];
        }
        return result;
    }

    /// <summary>Leading principal-component scores (unscaled), computed by Lanczos on the smaller Gram side.</summary>
    public static DenseMatrix Pca(DenseMatrix data, int dimensions, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(data);
        int n = data.Rows, f = data.Columns;
        var mean = new double[f];
        for (int i = 0; i < n; i++)
        {
            ReadOnlySpan<float> row = data.Data.AsSpan(i * f, f);
            for (int c = 0; c < f; c++)
                mean[c] += row[c];
        }
        for (int c = 0; c < f; c++)
            mean[c] /= Math.Max(1, n);

        var result = new DenseMatrix(n, dimensions);
        int rank = Math.Min(n, f);
        if (rank == 0)
            return result;
        int usable = Math.Min(dimensions, rank);

        // Centered products without materialising the centered matrix: Xc v = X v − (μ·v) 1, Xcᵀ u = Xᵀ u − μ Σu.
        void CenteredTimes(double[] v, double[] output)
        {
            double shift = SymmetricEigensolver.Dot(mean, v);
            for (int i = 0; i < n; i++)
            {
                ReadOnlySpan<float> row = data.Data.AsSpan(i * f, f);
                double sum = 0;
                for (int c = 0; c < f; c++)
                    sum += row[c] * v[c];
                output[i] = sum - shift;
            }
        }

        void CenteredTransposeTimes(double[] u, double[] output)
        {
            Array.Clear(output);
            double total = 0;
            for (int i = 0; i < n; i++)
            {
                ReadOnlySpan<float> row = data.Data.AsSpan(i * f, f);
                double ui = u[i];
                total += ui;
                for (int c = 0; c < f; c++)
                    output[c] += row[c] * ui;
            }
            for (int c = 0; c < f; c++)
                output[c] -= mean[c] * total;
        }

        double[][] scores = new double[usable][];
        if (f <= n)
        {
            // Covariance side (f × f): eigenvectors are the principal axes; scores = Xc v.
            var temp = new double[n];
            SymmetricEigensolver.TryLargest(f, (v, y) => { CenteredTimes(v, temp); CenteredTransposeTimes(temp, y); },
                usable, null, seed, maxSteps: Math.Min(f, 300), PcaTolerance, out _, out double[][] axes);
            for (int d = 0; d < usable; d++)
            {
                scores[d] = new double[n];
                CenteredTimes(axes[d], scores[d]);
            }
        }
        else
        {
            // Gram side (n × n): eigenvectors u with eigenvalue s²; scores = u·s.
            var temp = new double[f];
            SymmetricEigensolver.TryLargest(n, (u, y) => { CenteredTransposeTimes(u, temp); CenteredTimes(temp, y); },
                usable, null, seed, maxSteps: Math.Min(n, 300), PcaTolerance, out double[] values, out double[][] us);
            for (int d = 0; d < usable; d++)
            {
                double s = Math.Sqrt(Math.Max(0, values[d]));
                scores[d] = us[d].Select(x => x * s).ToArray();
            }
        }
        for (int d = 0; d < usable; d++)
        {
            FixSign(scores[d]);
            for (int i = 0; i < n; i++)
                result[i, d] = (float)scores[d][i];
        }
        return result;
    }

    /// <summary>Uniform [−10, 10] coordinates.</summary>
    public static DenseMatrix Random(int count, int dimensions, ulong seed)
    {
        var rng = new Xoshiro128StarStar(seed);
        var result = new DenseMatrix(count, dimensions);
        for (int i = 0; i < result.Data.Length; i++)
            result.Data[i] = (float)(rng.NextDouble() * 20.0 - 10.0);
        return result;
    }

    /// <summary>Multiplies by maxCoordinate / max |x| (umap-learn's "expansion").</summary>
    public static void ScaleToRange(DenseMatrix layout, float maxCoordinate)
    {
        ArgumentNullException.ThrowIfNull(layout);
        float max = 0f;
        foreach (float v in layout.Data)
            max = Math.Max(max, Math.Abs(v));
        if (max == 0f || float.IsNaN(max))
            return;
        float expansion = maxCoordinate / max;
        for (int i = 0; i < layout.Data.Length; i++)
            layout.Data[i] *= expansion;
    }

    /// <summary>Adds N(0, scale²) noise; umap-learn does this so SGD does not start on exact ties.</summary>
    public static void AddNoise(DenseMatrix layout, double scale, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(layout);
        var rng = new Xoshiro128StarStar(seed);
        for (int i = 0; i < layout.Data.Length; i++)
            layout.Data[i] += (float)(rng.NextGaussian() * scale);
    }

    /// <summary>Eigenvectors have no sign: make the largest-magnitude entry positive so results are reproducible.</summary>
    private static void FixSign(double[] v)
    {
        int at = 0;
        for (int i = 1; i < v.Length; i++)
            if (Math.Abs(v[i]) > Math.Abs(v[at]))
                at = i;
        if (v[at] < 0)
            for (int i = 0; i < v.Length; i++)
                v[i] = -v[i];
    }
}
