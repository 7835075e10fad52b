// Architecture View data on real models: parameter counts against the raw ONNX initializers (and onnxinfo.py's
// n_params for the paper CNN), colour categories, name-scope and structural blocks, the collapsed overview of
// MobileNetV2 with its residual branches, and sequential-selection checks on ResNet-18's downsample branches.
using AdvVis.Analysis.Architecture;
using AdvVis.Engine;
using Xunit.Abstractions;

namespace AdvVis.Analysis.Tests.Architecture;

internal static class Models
{
    public static string Shared(string name) => Path.Combine(SharedDir, name);
    public static string SharedDir => AdvVis.TestSupport.RepoPaths.SharedModels;

    /// <summary>The generated reference models (scripts/setup makes them); a clear failure when absent.</summary>
    public static string Cache(string name)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "daemon", "tests", ".cache", "models", name);
            if (File.Exists(candidate))
                return candidate;
            candidate = Path.Combine(dir.FullName, ".cache", "models", name);
            if (File.Exists(candidate))
                return candidate;
        }
        throw new FileNotFoundException($"{name} not found under daemon/tests/.cache/models: run " +
            "`daemon/tests/reference/make_reference_models.sh daemon/tests/.cache/models` (needs Debian python3-torch)");
    }

    private static readonly Dictionary<string, Model> Loaded = [];

    public static Model Load(string path)
    {
        lock (Loaded)
        {
            if (!Loaded.TryGetValue(path, out Model? m))
                Loaded[path] = m = Model.Load(path);
            return m;
        }
    }
}

public sealed class ArchitectureGraphTests(ITestOutputHelper output)
{
    private static long RawTrainableCount(Model model) =>
        model.Source.Graph.Initializers.Values.Where(t => t.Floats is not null && t.Floats.Length > 1).Sum(t => (long)t.Floats!.Length);

    [Fact]
    public void PaperCnnHasFourRepeatedConvBlocksAndOnnxinfoParameterCount()
    {
        Model model = Models.Load(Models.Shared("fmnist-cnn-paper.onnx"));
        ArchitectureGraph g = ArchitectureGraph.Build(model);
        Assert.Null(g.ShapeError);
        Assert.Equal(15, g.Nodes.Count);
        // onnxinfo.py (plain protobuf reading) reports n_params: 6474 for this file.
        Assert.Equal(6474, g.Nodes.Sum(n => n.ParameterCount));
        Assert.Equal(RawTrainableCount(model), g.Nodes.Sum(n => n.ParameterCount));
        Assert.All(g.Nodes, n => Assert.Equal(n.OpType is "Conv" or "Gemm" ? LayerCategory.ConnectedWeighted : LayerCategory.NoParameters, n.Category));
        Assert.Equal(BlockOrigin.NameScope, g.BlockOrigin);
        var top = g.Blocks.Where(b => b.ParentId is null).OrderBy(b => b.Nodes[0]).ToList();
        Assert.Equal(["blocks.0", "blocks.1", "blocks.2", "blocks.3"], top.Select(b => b.Id));
        Assert.All(top, b => Assert.Equal(("Conv-Relu-MaxPool", 4), (b.Signature, b.RepeatCount)));
        // Shapes from the probe: 28 → 14 → 7 → 3 → 1 spatially.
        int[]? pool0 = g.Nodes.Single(n => n.Outputs.Contains("/blocks.0/blocks.0.2/MaxPool_output_0")).OutputShapes[0];
        Assert.Equal([1, 4, 14, 14], pool0!);
        Assert.Equal([1, 10], g.Outputs.Single().Shape!);
        Assert.True(g.Nodes.First().ReadsGraphInput && g.Nodes.Last().WritesGraphOutput);

        // Structure alone (names ignored) finds the same four blocks.
        ArchitectureGraph s = ArchitectureGraph.Build(model, BlockStrategy.RepeatedStructure, inferShapes: false);
        var convBlocks = s.Blocks.Where(b => b.Signature.StartsWith("Conv", StringComparison.Ordinal)).Take(4).ToList();
        for (int i = 0; i < 4; i++)
            Assert.Equal(top[i].Nodes, convBlocks[i].Nodes.Take(3));
    }

    [Fact]
    public void UnnamedScopesFallBackToRepeatedStructure()
    {
        Model model = Models.Load(Models.Shared("mnist-zoo-opset7.onnx"));
        ArchitectureGraph g = ArchitectureGraph.Build(model);
        output.WriteLine(string.Join("\n", g.Blocks.Select(b => $"{b.Id}: {b.Label} [{b.Signature}]")));
        Assert.Equal(BlockOrigin.RepeatedStructure, g.BlockOrigin);
        var repeated = g.Blocks.Where(b => b.RepeatCount == 2).ToList();
        Assert.Equal(2, repeated.Count);
        Assert.Equal(repeated[0].Signature, repeated[1].Signature);
        Assert.StartsWith("Conv-Add-Relu-MaxPool", repeated[0].Signature, StringComparison.Ordinal);
        // The bias Adds carry trainable vectors without being connected layers: the paper's "other trainable" (red).
        Assert.Contains(g.Nodes, n => n.OpType == "Add" && n.Category == LayerCategory.OtherTrainable);
        Assert.Equal(RawTrainableCount(model), g.TotalParameterCount);
    }

    [Fact]
    public void MobileNetV2CollapsesToAReadableOverviewWithBranchesBetweenBlocks()
    {
        Model model = Models.Load(Models.Cache("mobilenetv2.onnx"));
        ArchitectureGraph g = ArchitectureGraph.Build(model);
        Assert.Null(g.ShapeError);
        Assert.True(g.Nodes.Count > 90, $"{g.Nodes.Count} nodes");
        // The exporter shares identical initializers between nodes: per node they count, in the total once.
        Assert.Equal(RawTrainableCount(model), g.TotalParameterCount);
        Assert.True(g.Nodes.Sum(n => n.ParameterCount) >= g.TotalParameterCount);
        CollapsedView view = g.CollapseToDepth(g.DefaultCollapseDepth);
        output.WriteLine($"{g.Nodes.Count} nodes, {g.Blocks.Count} blocks, default depth {g.DefaultCollapseDepth}: {view.Items.Count} items");
        output.WriteLine(string.Join(" → ", view.Items.Select(i => i.Label)));
        Assert.InRange(view.Items.Count, 8, 40);
        // Every node is drawn exactly once.
        Assert.Equal(Enumerable.Range(0, g.Nodes.Count), view.Items.SelectMany(i => i.Nodes).Order());
        // Residual blocks: the Adds' skip inputs cross block boundaries, so some inter-block edges are branches.
        var itemIds = view.Items.Select(i => i.Id).ToHashSet();
        var branches = view.Edges.Where(e => e.IsBranch && itemIds.Contains(e.From) && itemIds.Contains(e.To)).ToList();
        Assert.True(branches.Count >= 10, $"{branches.Count} branching edges between blocks");
        // Each Add's block is a MobileNetV2 inverted residual (Conv ×3 then Add) and the ten Adds form a sequential selection (the paper's §5.3 choice).
        var adds = g.Nodes.Where(n => n.OpType == "Add").Select(n => n.Outputs[0]).ToList();
        Assert.Equal(10, adds.Count);
        Assert.True(g.ValidateSelection(adds).IsSequential);
        Assert.All(g.Blocks.Where(b => b.Nodes.Any(i => g.Nodes[i].OpType == "Add") && b.ParentId is not null), b => Assert.EndsWith("Add", b.Signature));
    }

    [Fact]
    public void ParallelBranchesOfResNetAreRejectedAsASelection()
    {
        ArchitectureGraph g = ArchitectureGraph.Build(Models.Load(Models.Cache("resnet18-cifar.onnx")), inferShapes: false);
        Assert.Contains(g.Blocks, b => b.Id == "layer1/layer1.0");
        int parallel = 0;
        foreach (ArchitectureNode add in g.Nodes.Where(n => n.OpType == "Add"))
        {
            string a = add.Inputs[0], b = add.Inputs[1];
            bool onePath = g.Reaches(a, b) || g.Reaches(b, a);
            SelectionCheck check = g.ValidateSelection([a, b, add.Outputs[0]]);
            Assert.Equal(onePath, check.IsSequential);
            Assert.True(g.ValidateSelection([a, add.Outputs[0]]).IsSequential);
            if (!onePath)
            {
                parallel++;
                Assert.Contains("parallel branches", check.Message, StringComparison.Ordinal);
                Assert.Equal(new[] { a, b }.Order(), new[] { check.ParallelFrom!, check.ParallelTo! }.Order());
            }
        }
        output.WriteLine($"{parallel} residual Adds join parallel (downsample) branches");
        Assert.Equal(3, parallel); // layer2.0, layer3.0, layer4.0 have a downsample conv on the skip path
    }
}
