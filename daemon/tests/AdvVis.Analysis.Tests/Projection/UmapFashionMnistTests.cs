// End-to-end UMAP on the 2,000-image Fashion-MNIST sample, judged against umap-learn's figures
// in reference/umap_reference.json: trustworthiness (k = 10) of the 1-D and 2-D embeddings,
// bit-exact determinism, and Transform's contract (fitted embedding untouched, duplicates of
// training points land on their originals, held-out items land among their own class).
using System.Diagnostics;
using AdvVis.Analysis.Projection;
using Xunit.Abstractions;

namespace AdvVis.Analysis.Tests.Projection;

/// <summary>Fits the 1-D and 2-D models once for all tests of the class.</summary>
public sealed class FashionMnistUmapFixture
{
    public FashionMnistUmapFixture()
    {
        var watch = Stopwatch.StartNew();
        OneD = Umap.Fit(FashionMnist.Pixels, new UmapOptions { Components = 1, Seed = 42 });
        OneDSeconds = watch.Elapsed.TotalSeconds;
        watch.Restart();
        TwoD = Umap.Fit(FashionMnist.Pixels, new UmapOptions { Components = 2, Seed = 42 });
        TwoDSeconds = watch.Elapsed.TotalSeconds;
    }

    public UmapModel OneD { get; }
    public UmapModel TwoD { get; }
    public double OneDSeconds { get; }
    public double TwoDSeconds { get; }
}

public sealed class UmapFashionMnistTests(FashionMnistUmapFixture fixture, ITestOutputHelper output) : IClassFixture<FashionMnistUmapFixture>
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void TrustworthinessIsWithinTwoHundredthsOfUmapLearn(int dimensions)
    {
        UmapModel model = dimensions == 1 ? fixture.OneD : fixture.TwoD;
        double ours = ProjectionQuality.Trustworthiness(FashionMnist.Pixels, model.Embedding, 10);
        double reference = ReferenceFigures.Number($"umap_{dimensions}d", "trustworthiness_k10");
        double referenceSeconds = ReferenceFigures.Number($"umap_{dimensions}d", "wall_s");
        output.WriteLine($"{dimensions}-D: trustworthiness ours {ours:F4} vs umap-learn {reference:F4}; " +
                         $"fit {(dimensions == 1 ? fixture.OneDSeconds : fixture.TwoDSeconds):F2} s vs {referenceSeconds:F2} s; init {model.InitializationUsed}");
        Assert.True(ours >= reference - 0.02, $"trustworthiness {ours:F4} < umap-learn {reference:F4} − 0.02");
    }

    [Fact]
    public void SameSeedGivesIdenticalBytesWhateverTheThreadCount()
    {
        DenseMatrix subset = new(FashionMnist.Pixels.Data[..(600 * 784)], 600, 784);
        var options = new UmapOptions { Components = 2, Seed = 7, Epochs = 150 };
        float[] first = Umap.Fit(subset, options with { MaxDegreeOfParallelism = 1 }).Embedding.Data;
        float[] second = Umap.Fit(subset, options with { MaxDegreeOfParallelism = 2 }).Embedding.Data;
        float[] otherSeed = Umap.Fit(subset, options with { Seed = 8 }).Embedding.Data;
        Assert.Equal(first, second);
        Assert.NotEqual(first, otherSeed);
    }

    [Fact]
    public void TransformLeavesTheFitUntouchedAndPlacesDuplicatesOnTheirOriginals()
    {
        UmapModel model = fixture.TwoD;
        float[] before = model.Embedding.Data;
        int[] picks = [0, 17, 345, 999, 1500, 1999];
        var duplicates = DenseMatrix.FromRows(picks.Select(i => FashionMnist.Pixels.Row(i).ToArray()).ToArray());
        DenseMatrix placed = model.Transform(duplicates);
        Assert.Equal(before, model.Embedding.Data);

        DenseMatrix embedding = model.Embedding;
        double spread = Enumerable.Range(0, 2).Max(d =>
            embedding.Column(d).Max() - embedding.Column(d).Min());
        for (int t = 0; t < picks.Length; t++)
        {
            double distance = Math.Sqrt(Enumerable.Range(0, 2).Sum(d => Math.Pow(placed[t, d] - embedding[picks[t], d], 2)));
            output.WriteLine($"item {picks[t]}: duplicate lands {distance:F4} from its original (embedding extent {spread:F1})");
            Assert.True(distance < 0.02 * spread, $"duplicate of {picks[t]} lands {distance} away");
        }
        Assert.Equal(placed.Data, model.Transform(duplicates).Data); // transform is deterministic too
    }

    [Fact]
    public void HeldOutItemsLandAmongTheirClass()
    {
        // Fit on 1,500 items, transform the other 500; a 10-NN vote among the fitted items should mostly recover labels.
        const int fitCount = 1500, features = 784;
        var fitData = new DenseMatrix(FashionMnist.Pixels.Data[..(fitCount * features)], fitCount, features);
        var heldOut = new DenseMatrix(FashionMnist.Pixels.Data[(fitCount * features)..], 2000 - fitCount, features);
        UmapModel model = Umap.Fit(fitData, new UmapOptions { Components = 2, Seed = 3, Epochs = 200 });
        DenseMatrix placed = model.Transform(heldOut);
        double heldOutAccuracy = KnnVoteAccuracy(model.Embedding, FashionMnist.Labels[..fitCount], placed, FashionMnist.Labels[fitCount..]);
        double pixelAccuracy = KnnVoteAccuracy(fitData, FashionMnist.Labels[..fitCount], heldOut, FashionMnist.Labels[fitCount..]);
        output.WriteLine($"10-NN label accuracy of transformed held-out items: {heldOutAccuracy:F3} (pixel space: {pixelAccuracy:F3})");
        Assert.True(heldOutAccuracy >= pixelAccuracy - 0.08, $"held-out accuracy {heldOutAccuracy:F3} vs pixel space {pixelAccuracy:F3}");
    }

    internal static double KnnVoteAccuracy(DenseMatrix reference, long[] referenceLabels, DenseMatrix queries, long[] queryLabels)
    {
        KnnResult knn = NearestNeighbors.Query(queries, reference, 10, DistanceMetric.Euclidean);
        int correct = 0;
        for (int q = 0; q < queries.Rows; q++)
        {
            long vote = knn.NeighborsOf(q).ToArray().GroupBy(j => referenceLabels[j]).OrderByDescending(g => g.Count()).ThenBy(g => g.Key).First().Key;
            if (vote == queryLabels[q])
                correct++;
        }
        return (double)correct / queries.Rows;
    }
}
