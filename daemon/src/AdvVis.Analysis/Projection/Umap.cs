// UMAP (McInnes, Healy & Melville 2018) following umap-learn 0.5's defaults and algorithms:
// exact k-NN → fuzzy simplicial set → spectral/PCA initialisation → negative-sampling SGD.
// A fitted UmapModel embeds new points without changing the fitted embedding (umap-learn's
// transform): k-NN into the training data, membership strengths with local connectivity 0,
// weighted-average initialisation, then a short SGD against the frozen training layout.
namespace AdvVis.Analysis.Projection;

/// <summary>UMAP hyper-parameters (umap-learn names in the docs; defaults match umap-learn).</summary>
public sealed record UmapOptions
{
    /// <summary>n_neighbors: neighbourhood size, the point itself included.</summary>
    public int NeighborCount { get; init; } = 15;

    /// <summary>n_components: embedding dimensions (1 for Activation Profiles, 2 for scatterplots).</summary>
    public int Components { get; init; } = 2;

    /// <summary>metric of the input space.</summary>
    public DistanceMetric Metric { get; init; } = DistanceMetric.Euclidean;

    /// <summary>min_dist.</summary>
    public double MinDist { get; init; } = 0.1;

    /// <summary>spread.</summary>
    public double Spread { get; init; } = 1.0;

    /// <summary>n_epochs; null = 500 for ≤ 10,000 items, else 200 (aligned: 200).</summary>
    public int? Epochs { get; init; }

    /// <summary>learning_rate (initial SGD step, decays linearly to 0).</summary>
    public double LearningRate { get; init; } = 1.0;

    /// <summary>repulsion_strength (gamma).</summary>
    public double RepulsionStrength { get; init; } = 1.0;

    /// <summary>negative_sample_rate.</summary>
    public int NegativeSampleRate { get; init; } = 5;

    /// <summary>local_connectivity.</summary>
    public double LocalConnectivity { get; init; } = 1.0;

    /// <summary>set_op_mix_ratio (1 = fuzzy union).</summary>
    public double SetOpMixRatio { get; init; } = 1.0;

    /// <summary>init.</summary>
    public InitializationMethod Initialization { get; init; } = InitializationMethod.Spectral;

    /// <summary>Curve parameter a; null = fitted from <see cref="MinDist"/> and <see cref="Spread"/>.</summary>
    public double? A { get; init; }

    /// <summary>Curve parameter b; null = fitted from <see cref="MinDist"/> and <see cref="Spread"/>.</summary>
    public double? B { get; init; }

    /// <summary>Seed for every randomized step (initial noise, eigensolver start, negative sampling, transform).</summary>
    public ulong Seed { get; init; } = 42;

    /// <summary>Thread cap for the parallel parts (k-NN, per-layer SGD); −1 = all cores. Results do not depend on it.</summary>
    public int MaxDegreeOfParallelism { get; init; } = -1;

    internal void Validate(int rows)
    {
        if (rows < 2)
            throw new ArgumentException("UMAP needs at least two items.");
        if (NeighborCount < 2)
            throw new ArgumentOutOfRangeException(nameof(NeighborCount), "n_neighbors must be at least 2.");
        if (Components < 1)
            throw new ArgumentOutOfRangeException(nameof(Components), "n_components must be at least 1.");
        if (NegativeSampleRate < 1)
            throw new ArgumentOutOfRangeException(nameof(NegativeSampleRate));
        if (Epochs is < 1)
            throw new ArgumentOutOfRangeException(nameof(Epochs));
        if (SetOpMixRatio is < 0 or > 1)
            throw new ArgumentOutOfRangeException(nameof(SetOpMixRatio));
    }

    internal (double A, double B) CurveParameters()
    {
        if (A is double a && B is double b)
            return (a, b);
        return Projection.CurveParameters.FindAbParams(Spread, MinDist);
    }

    /// <summary>umap-learn's default epoch count for a graph of <paramref name="rows"/> vertices.</summary>
    internal int DefaultEpochs(int rows) => Epochs ?? (rows <= 10_000 ? 500 : 200);
}

/// <summary>Fits UMAP embeddings.</summary>
public static class Umap
{
    /// <summary>Fits UMAP to the rows of <paramref name="data"/>.</summary>
    public static UmapModel Fit(DenseMatrix data, UmapOptions options)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate(data.Rows);
        int epochs = options.DefaultEpochs(data.Rows);
        SparseGraph graph = BuildGraph(data, options, epochs);
        DenseMatrix embedding = EmbeddingInitialization.Create(options.Initialization, data, graph, options.Components,
            options.Seed, out InitializationMethod used);
        var (a, b) = options.CurveParameters();
        var layer = new LayoutLayer(embedding.Data, embedding.Data, options.Components, moveOther: true, graph, epochs,
            options.NegativeSampleRate, SplitMix64.Derive(options.Seed, 10));
        LayoutOptimizer.Optimize([layer], epochs, (float)options.LearningRate, (float)a, (float)b, (float)options.RepulsionStrength,
            options.MaxDegreeOfParallelism);
        return new UmapModel(data, options, graph, embedding, a, b, used);
    }

    /// <summary>k-NN + fuzzy simplicial set, with edges too weak to be sampled in <paramref name="epochs"/> epochs removed.</summary>
    internal static SparseGraph BuildGraph(DenseMatrix data, UmapOptions options, int epochs)
    {
        int k = Math.Min(options.NeighborCount, data.Rows);
        KnnResult knn = NearestNeighbors.Compute(data, k, options.Metric, options.MaxDegreeOfParallelism);
        SparseGraph graph = FuzzySimplicialSet.Build(knn, options.LocalConnectivity, options.SetOpMixRatio);
        return PruneWeakEdges(graph, epochs);
    }

    /// <summary>umap-learn drops edges with weight &lt; max / n_epochs before optimising (they would never be sampled).</summary>
    internal static SparseGraph PruneWeakEdges(SparseGraph graph, int epochs)
    {
        float threshold = graph.MaxWeight() / epochs;
        var rowStarts = new int[graph.Rows + 1];
        var cols = new List<int>(graph.EdgeCount);
        var weights = new List<float>(graph.EdgeCount);
        for (int r = 0; r < graph.Rows; r++)
        {
            for (int e = graph.RowStarts[r]; e < graph.RowStarts[r + 1]; e++)
            {
                if (graph.Weights[e] < threshold || graph.Weights[e] == 0f)
                    continue;
                cols.Add(graph.ColumnIndices[e]);
                weights.Add(graph.Weights[e]);
            }
            rowStarts[r + 1] = cols.Count;
        }
        return new SparseGraph(graph.Rows, graph.Columns, rowStarts, cols.ToArray(), weights.ToArray());
    }
}

/// <summary>A fitted UMAP: the training data, its fuzzy graph and embedding; embeds new points with <see cref="Transform"/>.</summary>
public sealed class UmapModel
{
    private readonly DenseMatrix _embedding;

    internal UmapModel(DenseMatrix trainingData, UmapOptions options, SparseGraph graph, DenseMatrix embedding, double a, double b,
        InitializationMethod initializationUsed)
    {
        TrainingData = trainingData;
        Options = options;
        Graph = graph;
        _embedding = embedding;
        A = a;
        B = b;
        InitializationUsed = initializationUsed;
    }

    /// <summary>The options the model was fitted with.</summary>
    public UmapOptions Options { get; }

    /// <summary>The training (background) features, kept for the k-NN of <see cref="Transform"/>.</summary>
    public DenseMatrix TrainingData { get; }

    /// <summary>The fuzzy simplicial set that was optimised (weak edges pruned).</summary>
    public SparseGraph Graph { get; }

    /// <summary>Fitted curve parameter a.</summary>
    public double A { get; }

    /// <summary>Fitted curve parameter b.</summary>
    public double B { get; }

    /// <summary>The initialisation actually used (Spectral falls back to PCA on disconnected graphs).</summary>
    public InitializationMethod InitializationUsed { get; }

    /// <summary>A copy of the fitted embedding (Count × Components).</summary>
    public DenseMatrix Embedding => _embedding.Clone();

    /// <summary>Number of training items.</summary>
    public int Count => _embedding.Rows;

    /// <summary>Embedding dimensions.</summary>
    public int Components => _embedding.Columns;

    internal DenseMatrix EmbeddingView => _embedding;

    /// <summary>
    /// Embeds <paramref name="newPoints"/> into the fitted embedding without modifying it (umap-learn's transform).
    /// <paramref name="seed"/> defaults to one derived from the fit seed.
    /// </summary>
    public DenseMatrix Transform(DenseMatrix newPoints, ulong? seed = null)
    {
        var state = PrepareTransform(newPoints, seed ?? SplitMix64.Derive(Options.Seed, 20), out int epochs);
        if (state is null)
            return new DenseMatrix(0, Components);
        var (a, b) = (A, B);
        LayoutOptimizer.Optimize([state.Layer], epochs, (float)(Options.LearningRate / 4.0), (float)a, (float)b,
            (float)Options.RepulsionStrength, Options.MaxDegreeOfParallelism);
        return state.Result;
    }

    internal sealed record TransformState(LayoutLayer Layer, DenseMatrix Result, SparseGraph Graph);

    /// <summary>k-NN graph to the training items, initial positions and the SGD state for transforming new points.</summary>
    internal TransformState? PrepareTransform(DenseMatrix newPoints, ulong seed, out int epochs)
    {
        ArgumentNullException.ThrowIfNull(newPoints);
        if (newPoints.Columns != TrainingData.Columns)
            throw new ArgumentException($"New points have {newPoints.Columns} features, the model was fitted on {TrainingData.Columns}.",
                nameof(newPoints));
        epochs = Options.Epochs is int e ? Math.Max(1, e / 3) : newPoints.Rows <= 10_000 ? 100 : 30;
        if (newPoints.Rows == 0)
            return null;

        int k = Math.Min(Options.NeighborCount, TrainingData.Rows);
        KnnResult knn = NearestNeighbors.Query(newPoints, TrainingData, k, Options.Metric, Options.MaxDegreeOfParallelism);
        // umap-learn: the new point's nearest training point is not assumed connected (local_connectivity − 1).
        double localConnectivity = Math.Max(0.0, Options.LocalConnectivity - 1.0);
        var (sigmas, rhos) = FuzzySimplicialSet.SmoothKnnDistances(knn, k, localConnectivity);
        SparseGraph graph = FuzzySimplicialSet.MembershipStrengths(knn, sigmas, rhos, TrainingData.Rows, bipartite: true);

        DenseMatrix init = InitialPositions(graph);
        SparseGraph pruned = Umap.PruneWeakEdges(graph, epochs);
        var tail = (float[])_embedding.Data.Clone(); // the fitted embedding is never written
        var layer = new LayoutLayer(init.Data, tail, Components, moveOther: false, pruned, epochs, Options.NegativeSampleRate, seed);
        return new TransformState(layer, init, graph);
    }

    /// <summary>umap-learn's init_graph_transform: a duplicate sits on its original, others at the weighted mean of neighbours.</summary>
    private DenseMatrix InitialPositions(SparseGraph graph)
    {
        int dim = Components;
        var result = new DenseMatrix(graph.Rows, dim);
        for (int r = 0; r < graph.Rows; r++)
        {
            ReadOnlySpan<int> cols = graph.ColumnsOf(r);
            ReadOnlySpan<float> weights = graph.WeightsOf(r);
            Span<float> target = result.Row(r);
            if (cols.Length == 0)
            {
                target.Fill(float.NaN);
                continue;
            }
            double rowSum = 0;
            foreach (float w in weights)
                rowSum += w;
            int exact = -1;
            for (int e = 0; e < cols.Length; e++)
            {
                if (weights[e] == 1f)
                {
                    exact = cols[e];
                    break;
                }
            }
            if (exact >= 0)
            {
                _embedding.Row(exact).CopyTo(target);
                continue;
            }
            for (int d = 0; d < dim; d++)
            {
                double sum = 0;
                for (int e = 0; e < cols.Length; e++)
                    sum += weights[e] / rowSum * _embedding[cols[e], d];
                target[d] = (float)sum;
            }
        }
        return result;
    }
}
