// Paths the Fashion-MNIST tests do not reach: PCA fallback on a disconnected graph, random and
// PCA initialisation, the cosine metric, 3-D output, and argument validation.
using AdvVis.Analysis.Projection;

namespace AdvVis.Analysis.Tests.Projection;

public sealed class UmapSmallDataTests
{
    /// <summary>Two tight, far-apart blobs of 150 points in 10-D: with 10 neighbours the fuzzy graph has two components.</summary>
    private static (DenseMatrix Data, int[] Blob) TwoBlobs()
    {
        DenseMatrix data = SplitMixStream.Matrix(41, 300, 10);
        var blob = new int[300];
        for (int i = 0; i < 300; i++)
        {
            blob[i] = i % 2;
            if (blob[i] == 1)
                for (int c = 0; c < 10; c++)
                    data[i, c] += 50f;
        }
        return (data, blob);
    }

    [Fact]
    public void DisconnectedGraphFallsBackToPcaAndKeepsComponentsApart()
    {
        var (data, blob) = TwoBlobs();
        UmapModel model = Umap.Fit(data, new UmapOptions { Components = 1, NeighborCount = 10, Epochs = 100, Seed = 1 });
        Assert.Equal(InitializationMethod.Pca, model.InitializationUsed);
        float[] y = model.Embedding.Column(0);
        Assert.All(y, v => Assert.True(float.IsFinite(v)));
        var zero = y.Where((_, i) => blob[i] == 0).ToArray();
        var one = y.Where((_, i) => blob[i] == 1).ToArray();
        Assert.True(zero.Max() < one.Min() || one.Max() < zero.Min(), "the two components overlap in 1-D");
    }

    [Theory]
    [InlineData(InitializationMethod.Random, DistanceMetric.Euclidean, 2)]
    [InlineData(InitializationMethod.Pca, DistanceMetric.Cosine, 3)]
    [InlineData(InitializationMethod.Spectral, DistanceMetric.Cosine, 2)]
    public void OtherInitialisationsAndMetricsGiveTrustworthyLayouts(InitializationMethod init, DistanceMetric metric, int components)
    {
        DenseMatrix data = new(FashionMnist.Pixels.Data[..(500 * 784)], 500, 784);
        UmapModel model = Umap.Fit(data, new UmapOptions { Components = components, Initialization = init, Metric = metric, Epochs = 200, Seed = 2 });
        Assert.Equal(components, model.Components);
        Assert.Equal(init, model.InitializationUsed);
        double trust = ProjectionQuality.Trustworthiness(data, model.Embedding, 10, metric);
        Assert.True(trust > 0.9, $"{init}/{metric}: trustworthiness {trust:F4}");
    }

    [Fact]
    public void InvalidArgumentsAreRejected()
    {
        DenseMatrix data = SplitMixStream.Matrix(3, 50, 4);
        Assert.Throws<ArgumentOutOfRangeException>(() => Umap.Fit(data, new UmapOptions { Components = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => Umap.Fit(data, new UmapOptions { NeighborCount = 1 }));
        UmapModel model = Umap.Fit(data, new UmapOptions { Components = 2, NeighborCount = 5, Epochs = 10 });
        Assert.Throws<ArgumentException>(() => model.Transform(SplitMixStream.Matrix(4, 3, 5)));
        Assert.Throws<ArgumentException>(() => AlignedUmap.Fit([data, SplitMixStream.Matrix(5, 49, 4)], new AlignedUmapOptions()));
        Assert.Equal(0, model.Transform(new DenseMatrix(0, 4)).Rows);
    }
}
