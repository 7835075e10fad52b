// Memory bombs (issue 12): tiny models whose shapes ask for gigabytes are refused before anything is allocated, with
// an error naming the node, its output tensor, the size and the budget. The files are made by
// daemon/tests/reference/make_memory_bombs.py (Debian's python3-onnx).
using System.Diagnostics;
using AdvVis.Onnx;
using AdvVis.Safety;
using Xunit.Abstractions;

namespace AdvVis.Engine.Tests;

public sealed class MemoryBudgetTests(ITestOutputHelper output)
{
    private static readonly MemoryBudget OneGiB = new(1L << 30);

    [Fact]
    public void Constant_folding_refuses_a_ConstantOfShape_bomb_before_allocating()
    {
        string path = TestPaths.TestData("bombs/constant_of_shape_46000.onnx");
        Assert.True(new FileInfo(path).Length < 200);
        using var _ = MemoryBudget.Use(OneGiB);
        long allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        var clock = Stopwatch.StartNew();
        var e = Assert.Throws<MemoryBudgetExceededException>(() => Model.Load(path));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
        output.WriteLine($"refused in {clock.ElapsedMilliseconds} ms, {allocated / 1024} KiB allocated: {e.Message}");
        Assert.StartsWith("Output 'y' of node 'bomb' (ConstantOfShape) at load (constant folding): a float32 tensor of shape [46000,46000] would need 7.88 GiB, more than the memory budget of 1 GiB", e.Message);
        Assert.True(allocated < 16 << 20, $"{allocated} bytes allocated");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1), $"took {clock.ElapsedMilliseconds} ms");
    }

    [Fact]
    public void A_run_refuses_an_Expand_whose_size_comes_from_a_constant_shape()
    {
        using var _ = MemoryBudget.Use(OneGiB);
        var model = Model.Load(TestPaths.TestData("bombs/expand_40000.onnx")); // not foldable: its data is the input
        long allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<MemoryBudgetExceededException>(() => model.Forward(Tensor.Zeros(1, 1, 1, 1)));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
        output.WriteLine(e.Message);
        Assert.StartsWith("Output 'y' of node 'bomb' (Expand): a float32 tensor of shape [1,1,40000,40000] would need 5.96 GiB, more than the memory budget of 1 GiB", e.Message);
        Assert.True(allocated < 16 << 20, $"{allocated} bytes allocated");
    }

    [Fact]
    public void Range_sized_by_its_inputs_is_refused_before_allocating()
    {
        // Range(0, 2e9, 1) on int64 constants folds at load: its length comes from data, so it must pass the budget like any tensor.
        var node = new OnnxNode("bomb", "Range", "", ["start", "limit", "delta"], ["y"], new Dictionary<string, OnnxAttribute>());
        OnnxTensor Scalar(string name, long value) => new(name, [], OnnxElementType.Int64, null, [value]);
        var graph = new OnnxGraph("range", [node], new Dictionary<string, OnnxTensor>
            { ["start"] = Scalar("start", 0), ["limit"] = Scalar("limit", 2_000_000_000), ["delta"] = Scalar("delta", 1) }, [],
            [new OnnxValueInfo("y", OnnxElementType.Int64, null)], []);
        var onnx = new OnnxModel(8, "advvis-tests", new Dictionary<string, long> { [""] = 13 }, graph, null);
        using var _ = MemoryBudget.Use(OneGiB);
        long allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<MemoryBudgetExceededException>(() => Model.FromOnnx(onnx));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
        output.WriteLine(e.Message);
        Assert.Contains("node 'bomb' (Range)", e.Message);
        Assert.Contains("more than the memory budget of 1 GiB", e.Message);
        Assert.True(allocated < 16 << 20, $"{allocated} bytes allocated");
    }

    [Fact]
    public void Folded_constants_must_fit_the_budget_together()
    {
        // Eight ConstantOfShape of 1 MiB each, all kept as model constants: each fits a 4 MiB budget, together they do not.
        var nodes = Enumerable.Range(0, 8).Select(i => new OnnxNode($"fill{i}", "ConstantOfShape", "", ["shape"], [$"c{i}"], new Dictionary<string, OnnxAttribute>())).ToList();
        var shape = new OnnxTensor("shape", [2], OnnxElementType.Int64, null, [512, 512]);
        var graph = new OnnxGraph("folds", nodes, new Dictionary<string, OnnxTensor> { ["shape"] = shape }, [],
            nodes.Select(n => new OnnxValueInfo(n.Outputs[0], OnnxElementType.Float, null)).ToList(), []);
        var onnx = new OnnxModel(8, "advvis-tests", new Dictionary<string, long> { [""] = 13 }, graph, null);

        using (MemoryBudget.Use(new MemoryBudget(4L << 20)))
        {
            var e = Assert.Throws<MemoryBudgetExceededException>(() => Model.FromOnnx(onnx));
            output.WriteLine(e.Message);
            Assert.StartsWith("Output 'c4' of node 'fill4' (ConstantOfShape) at load (constant folding): the constants folded so far (this one included) would need 5 MiB, more than the memory budget of 4 MiB", e.Message);
        }
        using (MemoryBudget.Use(new MemoryBudget(16L << 20)))
            Assert.Equal(8, Enumerable.Range(0, 8).Count(i => Model.FromOnnx(onnx).ConstantValue($"c{i}") is { Length: 1 << 18 }));
    }

    [Fact]
    public void Within_the_budget_the_same_ops_run()
    {
        using var _ = MemoryBudget.Use(new MemoryBudget(64L << 30));
        Assert.Equal(0, ShapeMath.Count([0, 46000]));
        Assert.Equal(46000 * 46000, ShapeMath.Count([46000, 46000]));
        using var small = MemoryBudget.Use(new MemoryBudget(1 << 20));
        Assert.Equal(1 << 18, ShapeMath.Count([512, 512]));
        Assert.Throws<MemoryBudgetExceededException>(() => Tensor.Zeros(513, 512));
    }
}
