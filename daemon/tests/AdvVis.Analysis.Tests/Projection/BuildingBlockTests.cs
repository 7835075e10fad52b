// Unit tests of UMAP's building blocks against independent computations: brute-force k-NN,
// the smooth-kNN calibration equation, fuzzy-union algebra, scipy's (a, b) fit, a known
// Laplacian spectrum, and scikit-learn's trustworthiness on a fixed embedding.
using AdvVis.Analysis.Projection;

namespace AdvVis.Analysis.Tests.Projection;

public sealed class BuildingBlockTests
{
    [Theory]
    [InlineData(DistanceMetric.Euclidean)]
    [InlineData(DistanceMetric.Cosine)]
    public void ExactKnnMatchesBruteForce(DistanceMetric metric)
    {
        // Odd sizes exercise the kernel's remainder paths (rows not a multiple of 2/4, features not of 8).
        DenseMatrix data = SplitMixStream.Matrix(11, 301, 37);
        for (int i = 0; i < data.Data.Length; i++)
            data.Data[i] -= 0.5f;
        const int k = 9;
        KnnResult knn = NearestNeighbors.Compute(data, k, metric, maxDegreeOfParallelism: 2);
        for (int i = 0; i < data.Rows; i++)
        {
            var expected = Enumerable.Range(0, data.Rows)
                .Select(j => (j, d: j == i ? 0f : NearestNeighbors.Distance(data.Row(i), data.Row(j), metric)))
                .OrderBy(t => t.j == i ? -1 : 0).ThenBy(t => t.d).ThenBy(t => t.j).Take(k).ToArray();
            Assert.Equal(i, knn.NeighborsOf(i)[0]);
            Assert.Equal(expected.Select(t => t.j), knn.NeighborsOf(i).ToArray());
            for (int j = 0; j < k; j++)
                Assert.Equal(expected[j].d, knn.DistancesOf(i)[j], 1e-5 * Math.Max(1.0, expected[j].d));
        }
    }

    [Fact]
    public void KnnQueryFindsReferenceRows()
    {
        DenseMatrix reference = SplitMixStream.Matrix(12, 200, 20);
        DenseMatrix queries = SplitMixStream.Matrix(13, 17, 20);
        for (int c = 0; c < 20; c++)
            queries[3, c] = reference[42, c]; // an exact copy must come back first at distance 0
        KnnResult knn = NearestNeighbors.Query(queries, reference, 5, DistanceMetric.Euclidean);
        Assert.Equal(42, knn.NeighborsOf(3)[0]);
        Assert.Equal(0f, knn.DistancesOf(3)[0]);
        for (int q = 0; q < queries.Rows; q++)
        {
            float worstKept = knn.DistancesOf(q)[4];
            int closer = Enumerable.Range(0, reference.Rows)
                .Count(r => NearestNeighbors.Distance(queries.Row(q), reference.Row(r), DistanceMetric.Euclidean) < worstKept - 1e-5f);
            Assert.True(closer <= 4, $"query {q}: {closer} reference rows are closer than the 5th neighbour");
        }
    }

    [Fact]
    public void SmoothKnnDistancesSolveTheCalibrationEquation()
    {
        DenseMatrix data = SplitMixStream.Matrix(21, 400, 10);
        const int k = 15;
        KnnResult knn = NearestNeighbors.Compute(data, k, DistanceMetric.Euclidean);
        var (sigmas, rhos) = FuzzySimplicialSet.SmoothKnnDistances(knn, k);
        for (int i = 0; i < data.Rows; i++)
        {
            Assert.Equal(knn.DistancesOf(i)[1], rhos[i]); // local connectivity 1: nearest non-self distance
            double psum = 0;
            for (int j = 1; j < k; j++)
                psum += Math.Exp(-Math.Max(0, knn.DistancesOf(i)[j] - rhos[i]) / sigmas[i]);
            Assert.Equal(Math.Log2(k), psum, 3);
        }
    }

    [Fact]
    public void FuzzyUnionIsSymmetricAndFollowsTheProbabilisticTConorm()
    {
        DenseMatrix data = SplitMixStream.Matrix(22, 250, 8);
        KnnResult knn = NearestNeighbors.Compute(data, 10, DistanceMetric.Euclidean);
        var (sigmas, rhos) = FuzzySimplicialSet.SmoothKnnDistances(knn, 10);
        SparseGraph directed = FuzzySimplicialSet.MembershipStrengths(knn, sigmas, rhos, data.Rows, bipartite: false);
        SparseGraph union = FuzzySimplicialSet.Build(knn);
        for (int i = 0; i < data.Rows; i++)
        {
            Assert.Equal(0f, union.Weight(i, i));
            foreach (int j in union.ColumnsOf(i))
            {
                float a = directed.Weight(i, j), b = directed.Weight(j, i);
                Assert.Equal(a + b - a * b, union.Weight(i, j), 6);
                Assert.Equal(union.Weight(i, j), union.Weight(j, i));
                Assert.InRange(union.Weight(i, j), 0f, 1f);
            }
        }
        // Every point's nearest neighbour is within rho, so it has full membership.
        for (int i = 0; i < data.Rows; i++)
            Assert.Equal(1f, directed.Weight(i, knn.NeighborsOf(i)[1]));
    }

    [Fact]
    public void CurveParametersMatchScipyCurveFit()
    {
        foreach (var entry in ReferenceFigures.Root.GetProperty("ab_params").EnumerateArray())
        {
            var (a, b) = CurveParameters.FindAbParams(entry.GetProperty("spread").GetDouble(), entry.GetProperty("min_dist").GetDouble());
            Assert.Equal(entry.GetProperty("a").GetDouble(), a, 4);
            Assert.Equal(entry.GetProperty("b").GetDouble(), b, 4);
        }
    }

    [Fact]
    public void LanczosFindsLargestEigenpairsOfAKnownOperator()
    {
        // Diagonal operator with eigenvalues 1/(i+1): largest are 1, 1/2, 1/3 at unit vectors e0, e1, e2.
        const int n = 400;
        bool ok = SymmetricEigensolver.TryLargest(n, (x, y) => { for (int i = 0; i < n; i++) y[i] = x[i] / (i + 1); }, 3, null, 5,
            200, 1e-10, out double[] values, out double[][] vectors);
        Assert.True(ok);
        for (int t = 0; t < 3; t++)
        {
            Assert.Equal(1.0 / (t + 1), values[t], 9);
            Assert.Equal(1.0, Math.Abs(vectors[t][t]), 6);
        }
    }

    [Fact]
    public void SpectralInitialisationOrdersAPathGraph()
    {
        // Path graph 0–1–…–(n−1) with unit weights: L_sym's eigenvalues are 1 − cos(πk/(n−1)); the Fiedler vector is monotone.
        const int n = 60;
        var rowStarts = new int[n + 1];
        var cols = new List<int>();
        for (int i = 0; i < n; i++)
        {
            if (i > 0) cols.Add(i - 1);
            if (i < n - 1) cols.Add(i + 1);
            rowStarts[i + 1] = cols.Count;
        }
        var graph = new SparseGraph(n, n, rowStarts, cols.ToArray(), Enumerable.Repeat(1f, cols.Count).ToArray());
        DenseMatrix? layout = EmbeddingInitialization.Spectral(graph, 1, 3);
        Assert.NotNull(layout);
        // umap-learn uses L_sym's eigenvectors v; v / sqrt(degree) is the random-walk eigenvector, cos(πi/(n−1)) up to sign.
        double[] v = layout!.Column(0).Select(x => (double)x).ToArray();
        double[] walk = v.Select((x, i) => x / Math.Sqrt(i == 0 || i == n - 1 ? 1.0 : 2.0)).ToArray();
        bool increasing = walk[^1] > walk[0];
        for (int i = 1; i < n; i++)
            Assert.True(increasing ? walk[i] > walk[i - 1] : walk[i] < walk[i - 1], $"not monotone at {i}");
        // Rayleigh quotient vᵀ L_sym v / vᵀv equals the Fiedler eigenvalue.
        double numerator = 0, denominator = 0;
        for (int i = 0; i < n; i++)
        {
            double di = i == 0 || i == n - 1 ? 1 : 2;
            double lv = v[i];
            if (i > 0) lv -= v[i - 1] / Math.Sqrt(di * (i - 1 == 0 ? 1 : 2));
            if (i < n - 1) lv -= v[i + 1] / Math.Sqrt(di * (i + 1 == n - 1 ? 1 : 2));
            numerator += v[i] * lv;
            denominator += v[i] * v[i];
        }
        Assert.Equal(1 - Math.Cos(Math.PI / (n - 1)), numerator / denominator, 5);
    }

    [Fact]
    public void SpectralInitialisationRefusesDisconnectedGraphs()
    {
        // Two disjoint edges: no meaningful Fiedler vector, the caller must fall back to PCA.
        var graph = new SparseGraph(4, 4, [0, 1, 2, 3, 4], [1, 0, 3, 2], [1f, 1f, 1f, 1f]);
        Assert.Null(EmbeddingInitialization.Spectral(graph, 1, 3));
    }

    [Theory]
    [InlineData(5, "k5")]
    [InlineData(10, "k10")]
    public void TrustworthinessMatchesScikitLearnOnAFixedEmbedding(int k, string key)
    {
        var fixedCase = ReferenceFigures.Root.GetProperty("fixed_trustworthiness");
        int n = fixedCase.GetProperty("n").GetInt32(), d = fixedCase.GetProperty("d").GetInt32();
        double[] x = SplitMixStream.Uniform(fixedCase.GetProperty("x_seed").GetUInt64(), n * d);
        double[] noise = SplitMixStream.Uniform(fixedCase.GetProperty("y_seed").GetUInt64(), n * 2);
        double amplitude = fixedCase.GetProperty("y_noise").GetDouble();
        var y = new double[n * 2];
        for (int i = 0; i < n; i++)
            for (int c = 0; c < 2; c++)
                y[i * 2 + c] = x[i * d + c] + amplitude * noise[i * 2 + c];
        double ours = ProjectionQuality.Trustworthiness(x, n, d, y, 2, k);
        Assert.Equal(fixedCase.GetProperty(key).GetDouble(), ours, 1e-9);
    }

    [Fact]
    public void TrustworthinessIsOneForAnIsometryAndLowForNoise()
    {
        DenseMatrix x = SplitMixStream.Matrix(31, 200, 3);
        Assert.Equal(1.0, ProjectionQuality.Trustworthiness(x, x.Clone(), 10), 12);
        DenseMatrix noise = SplitMixStream.Matrix(32, 200, 2);
        Assert.InRange(ProjectionQuality.Trustworthiness(x, noise, 10), 0.3, 0.7);
    }

    [Fact]
    public void SpearmanUsesAverageRanks()
    {
        Assert.Equal(1.0, ProjectionQuality.SpearmanCorrelation([1f, 2f, 3f, 4f], [10f, 20f, 300f, 4000f]), 12);
        Assert.Equal(-1.0, ProjectionQuality.SpearmanCorrelation([1f, 2f, 3f, 4f], [4f, 3f, 2f, 1f]), 12);
        // scipy.stats.spearmanr([1, 2, 2, 3], [1, 3, 2, 4]) = 0.9486832980505138 (ties share rank 2.5).
        Assert.Equal(0.9486832980505138, ProjectionQuality.SpearmanCorrelation([1f, 2f, 2f, 3f], [1f, 3f, 2f, 4f]), 12);
    }
}
