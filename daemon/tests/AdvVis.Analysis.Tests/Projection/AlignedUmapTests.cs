// Aligned UMAP over the 5-layer synthetic sequence that reference/umap_reference.py also feeds
// to umap-learn's AlignedUMAP (pixels → 4 seeded random dense layers): the layer data must match
// the script's checksums, per-layer trustworthiness must stay within 0.02 of AlignedUMAP's, the
// consecutive-layer Spearman alignment must reach AlignedUMAP's, results must be bit-identical
// for any thread count, and foreground transforms must leave the background untouched.
using System.Diagnostics;
using AdvVis.Analysis.Projection;
using Xunit.Abstractions;

namespace AdvVis.Analysis.Tests.Projection;

/// <summary>Fits the 5-layer 1-D aligned model once for the class.</summary>
public sealed class AlignedLayersFixture
{
    public AlignedLayersFixture()
    {
        Layers = FashionMnist.SyntheticLayers;
        var watch = Stopwatch.StartNew();
        Model = AlignedUmap.Fit(Layers, new AlignedUmapOptions { Layer = new UmapOptions { Components = 1, Seed = 42 } });
        Seconds = watch.Elapsed.TotalSeconds;
    }

    public IReadOnlyList<DenseMatrix> Layers { get; }
    public AlignedUmapModel Model { get; }
    public double Seconds { get; }
}

public sealed class AlignedUmapTests(AlignedLayersFixture fixture, ITestOutputHelper output) : IClassFixture<AlignedLayersFixture>
{
    private const string Reference = "aligned_umap_1d_window1";

    [Fact]
    public void SyntheticLayersMatchThePythonScript()
    {
        double[] checksums = ReferenceFigures.Numbers("layer_checksums");
        Assert.Equal(checksums.Length, fixture.Layers.Count);
        for (int l = 0; l < checksums.Length; l++)
        {
            double ours = fixture.Layers[l].Data.Sum(v => Math.Abs((double)v));
            Assert.Equal(checksums[l], ours, checksums[l] * 1e-9);
        }
    }

    [Fact]
    public void PerLayerTrustworthinessIsWithinTwoHundredthsOfAlignedUmap()
    {
        double[] reference = ReferenceFigures.Numbers(Reference, "trustworthiness_k10");
        IReadOnlyList<DenseMatrix> embeddings = fixture.Model.Embeddings;
        var ours = new double[reference.Length];
        for (int l = 0; l < reference.Length; l++)
        {
            ours[l] = ProjectionQuality.Trustworthiness(fixture.Layers[l], embeddings[l], 10);
            output.WriteLine($"layer {l}: trustworthiness ours {ours[l]:F4} vs AlignedUMAP {reference[l]:F4}");
        }
        output.WriteLine($"mean: ours {ours.Average():F4} vs AlignedUMAP {reference.Average():F4}; fit {fixture.Seconds:F2} s " +
                         $"(AlignedUMAP {ReferenceFigures.Number(Reference, "wall_s"):F1} s)");
        for (int l = 0; l < reference.Length; l++)
            Assert.True(ours[l] >= reference[l] - 0.02, $"layer {l}: {ours[l]:F4} < AlignedUMAP {reference[l]:F4} − 0.02");
    }

    [Fact]
    public void NeighbouringLayersAreAtLeastAsAlignedAsAlignedUmap()
    {
        double[] reference = ReferenceFigures.Numbers(Reference, "spearman_neighbours");
        IReadOnlyList<DenseMatrix> embeddings = fixture.Model.Embeddings;
        var ours = new double[reference.Length];
        for (int l = 0; l < reference.Length; l++)
        {
            ours[l] = ProjectionQuality.SpearmanCorrelation(embeddings[l].Column(0), embeddings[l + 1].Column(0));
            output.WriteLine($"layers {l}–{l + 1}: Spearman ours {ours[l]:F4} vs AlignedUMAP {reference[l]:F4}");
        }
        double independent = ReferenceFigures.Numbers("independent_umap_1d", "spearman_neighbours").Average(Math.Abs);
        output.WriteLine($"mean: ours {ours.Average():F4} vs AlignedUMAP {reference.Average():F4} (independent UMAPs: {independent:F4})");
        Assert.True(ours.Average() >= reference.Average(), $"mean Spearman {ours.Average():F4} < AlignedUMAP {reference.Average():F4}");
        Assert.All(ours, r => Assert.True(r > 0.95, $"a neighbouring pair only correlates {r:F4}"));
    }

    [Fact]
    public void SameSeedGivesIdenticalBytesWhateverTheThreadCount()
    {
        // A 600-item, 3-layer slice keeps this quick; per-layer tasks and snapshot anchors make threads irrelevant.
        DenseMatrix[] layers = fixture.Layers.Take(3).Select(l => new DenseMatrix(l.Data[..(600 * l.Columns)], 600, l.Columns)).ToArray();
        var options = new AlignedUmapOptions { Layer = new UmapOptions { Components = 1, Seed = 5, Epochs = 80 } };
        var single = AlignedUmap.Fit(layers, options with { Layer = options.Layer with { MaxDegreeOfParallelism = 1 } });
        var dual = AlignedUmap.Fit(layers, options with { Layer = options.Layer with { MaxDegreeOfParallelism = 2 } });
        var other = AlignedUmap.Fit(layers, options with { Layer = options.Layer with { Seed = 6 } });
        for (int l = 0; l < layers.Length; l++)
        {
            Assert.Equal(single.Embeddings[l].Data, dual.Embeddings[l].Data);
            Assert.NotEqual(single.Embeddings[l].Data, other.Embeddings[l].Data);
        }
    }

    [Fact]
    public void ForegroundTransformsLeaveTheBackgroundUntouchedAndFollowTheirOriginals()
    {
        AlignedUmapModel model = fixture.Model;
        float[][] before = model.Embeddings.Select(e => e.Data).ToArray();
        int[] picks = Enumerable.Range(0, 40).Select(i => i * 50 + 3).ToArray();
        DenseMatrix[] foreground = fixture.Layers
            .Select(layer => DenseMatrix.FromRows(picks.Select(i => layer.Row(i).ToArray()).ToArray())).ToArray();

        IReadOnlyList<DenseMatrix> independent = model.TransformAll(foreground, aligned: false);
        IReadOnlyList<DenseMatrix> aligned = model.TransformAll(foreground, aligned: true);
        DenseMatrix single = model.Transform(2, foreground[2]);
        for (int l = 0; l < model.LayerCount; l++)
            Assert.Equal(before[l], model.Embeddings[l].Data);
        Assert.Equal(single.Data, model.Layers[2].Transform(foreground[2]).Data);

        // A duplicate starts on its original and is then optimised against the frozen background. In 1-D an item the
        // fit kept in place partly by the alignment pull can drift toward its own neighbours, so judge the bulk:
        // median displacement under 1% of the layer's extent, at least 90% of duplicates within 3%.
        foreach (var (name, placed) in new[] { ("independent", independent), ("aligned", aligned) })
        {
            var relative = new List<double>();
            for (int l = 0; l < model.LayerCount; l++)
            {
                double extent = before[l].Max() - before[l].Min();
                for (int t = 0; t < picks.Length; t++)
                    relative.Add(Math.Abs(placed[l][t, 0] - before[l][picks[t]]) / extent);
            }
            relative.Sort();
            double median = relative[relative.Count / 2];
            double within = relative.Count(r => r < 0.03) / (double)relative.Count;
            output.WriteLine($"{name}: median displacement {median:P2} of extent, {within:P0} within 3%, worst {relative[^1]:P1}");
            Assert.True(median < 0.01, $"{name}: median displacement {median:P2}");
            Assert.True(within >= 0.9, $"{name}: only {within:P0} of duplicates within 3%");
        }
    }

    [Fact]
    public void AlignedTransformOfHeldOutItemsKeepsTheirProfilesSmooth()
    {
        // Fit on 1,500 items, project the other 500 through all layers: aligned transforms should correlate across
        // layers at least as well as independent ones, and land near where a 10-NN vote would put them.
        const int fitCount = 1500;
        DenseMatrix[] background = fixture.Layers.Select(l => new DenseMatrix(l.Data[..(fitCount * l.Columns)], fitCount, l.Columns)).ToArray();
        DenseMatrix[] foreground = fixture.Layers.Select(l => new DenseMatrix(l.Data[(fitCount * l.Columns)..], 2000 - fitCount, l.Columns)).ToArray();
        AlignedUmapModel model = AlignedUmap.Fit(background, new AlignedUmapOptions { Layer = new UmapOptions { Components = 1, Seed = 9, Epochs = 100 } });
        IReadOnlyList<DenseMatrix> aligned = model.TransformAll(foreground, aligned: true);
        IReadOnlyList<DenseMatrix> independent = model.TransformAll(foreground, aligned: false);
        double alignedSpearman = ProjectionQuality.MeanNeighbourSpearman(aligned);
        double independentSpearman = ProjectionQuality.MeanNeighbourSpearman(independent);
        double backgroundSpearman = ProjectionQuality.MeanNeighbourSpearman(model.Embeddings);
        output.WriteLine($"held-out Spearman across layers: aligned {alignedSpearman:F4}, independent {independentSpearman:F4}, background {backgroundSpearman:F4}");
        Assert.True(alignedSpearman >= independentSpearman - 1e-3);
        Assert.True(alignedSpearman > 0.9);
        for (int l = 0; l < model.LayerCount; l++)
        {
            double accuracy = UmapFashionMnistTests.KnnVoteAccuracy(model.Embeddings[l], FashionMnist.Labels[..fitCount], aligned[l], FashionMnist.Labels[fitCount..]);
            output.WriteLine($"layer {l}: 10-NN label accuracy of held-out items in 1-D {accuracy:F3}");
            Assert.True(accuracy > 0.5);
        }
    }

    [Theory]
    [InlineData(1, true)]
    [InlineData(2, false)]
    public void SimdNegativeSamplesGiveTheScalarLoopsBytes(int dimensions, bool aligned)
    {
        // The SGD evaluates negative samples eight at a time in SIMD lanes; the scalar loop is its specification.
        DenseMatrix[] layers = fixture.Layers.Take(aligned ? 3 : 1).Select(l => new DenseMatrix(l.Data[..(500 * l.Columns)], 500, l.Columns)).ToArray();
        var options = new UmapOptions { Components = dimensions, Seed = 3, Epochs = 60 };
        var (a, b) = options.CurveParameters();
        float[][] Run(bool vectorized)
        {
            var graphs = layers.Select(l => Umap.BuildGraph(l, options, 60)).ToArray();
            var layouts = graphs.Select((g, l) =>
            {
                float[] start = EmbeddingInitialization.Create(InitializationMethod.Spectral, layers[l], g, dimensions, 7, out _).Data;
                return new LayoutLayer(start, start, dimensions, moveOther: true, g, 60, 5, (ulong)(11 + l));
            }).ToArray();
            if (aligned)
                AlignedUmap.LinkLayers(layouts, graphs, new AlignedUmapOptions { AlignmentRegularisation = 0.05 });
            LayoutOptimizer.Optimize(layouts, 60, 1f, (float)a, (float)b, 1f, 2, vectorized: vectorized);
            return layouts.Select(l => l.Head).ToArray();
        }
        float[][] simd = Run(true), scalar = Run(false);
        for (int l = 0; l < layers.Length; l++)
        {
            Assert.Equal(scalar[l], simd[l]);
            Assert.True(scalar[l].Distinct().Count() > 400, "a collapsed layout would make the comparison vacuous");
        }
    }
}
