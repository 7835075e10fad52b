// Timing figures (printed, never asserted: the build machine is shared and its load varies).
// Run: dotnet test daemon/tests/AdvVis.Analysis.Tests --filter Category=Benchmark --logger "console;verbosity=detailed"
using System.Diagnostics;
using AdvVis.Analysis.Projection;
using Xunit.Abstractions;

namespace AdvVis.Analysis.Tests.Projection;

/// <summary>Benchmarks run alone, after the parallel test classes, so process CPU time is theirs only.</summary>
[CollectionDefinition(nameof(BenchmarkCollection), DisableParallelization = true)]
public sealed class BenchmarkCollection;

[Collection(nameof(BenchmarkCollection))]
public sealed class BenchmarkTests(ITestOutputHelper output)
{
    [Fact]
    [Trait("Category", "Benchmark")]
    public void AlignedUmapFiveLayersTwoThousandItemsOneD()
    {
        IReadOnlyList<DenseMatrix> layers = FashionMnist.SyntheticLayers; // loaded outside the timed region
        var options = new AlignedUmapOptions { Layer = new UmapOptions { Components = 1, Seed = 1 } };
        AlignedUmap.Fit(layers.Select(l => new DenseMatrix(l.Data[..(200 * l.Columns)], 200, l.Columns)).ToArray(),
            options with { Layer = options.Layer with { Epochs = 5 } }); // JIT warm-up
        Process self = Process.GetCurrentProcess();
        for (int run = 0; run < 2; run++)
        {
            TimeSpan cpuBefore = self.TotalProcessorTime;
            var watch = Stopwatch.StartNew();
            AlignedUmap.Fit(layers, options);
            watch.Stop();
            self.Refresh();
            double cpu = (self.TotalProcessorTime - cpuBefore).TotalSeconds;
            output.WriteLine($"run {run}: 5 layers × 2,000 items, 1-D aligned, 200 epochs: {watch.Elapsed.TotalSeconds:F2} s wall, {cpu:F2} s CPU " +
                             $"({Environment.ProcessorCount} cores, load average {LoadAverage()}); " +
                             $"umap-learn AlignedUMAP: {ReferenceFigures.Number("aligned_umap_1d_window1", "wall_s"):F1} s");
        }
    }

    private static string LoadAverage()
    {
        try
        {
            return File.ReadAllText("/proc/loadavg").Split(' ')[0];
        }
        catch (IOException)
        {
            return "n/a";
        }
    }
}
