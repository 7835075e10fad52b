// The default layer choice (Divergence.SelectLayers: what explain compares and the Flow View draws) must be one path
// through the graph on every model, branching ones included: SqueezeNet's fire modules (two expand branches joined by
// a Concat), ResNet-18's residual and downsample branches, MobileNetV2's inverted residuals. Checked with the
// Architecture View's own sequential-selection check, and the trunk itself against its definition by brute force.
using AdvVis.Analysis.Architecture;
using AdvVis.Attacks;
using AdvVis.Engine;
using Xunit.Abstractions;

namespace AdvVis.Analysis.Tests.Architecture;

public sealed class DefaultLayerSelectionTests(ITestOutputHelper output)
{
    public static TheoryData<string> BranchingModels => ["squeezenet1.0-fp32.onnx", "resnet18-cifar.onnx", "mobilenetv2.onnx"];
    public static TheoryData<string> SharedModels => ["mnist-zoo-opset7.onnx", "mnist-cnn-pytorch-opset11.onnx", "fmnist-cnn-paper.onnx",
        "cifar10-tutorialnet-opset9.onnx", "squeezenet1.0-fp32-logits.onnx"];

    private static string PathOf(string file) => file.StartsWith("squeezenet", StringComparison.Ordinal) || file.StartsWith("mnist", StringComparison.Ordinal)
        || file.StartsWith("fmnist", StringComparison.Ordinal) || file.StartsWith("cifar10-", StringComparison.Ordinal) ? Models.Shared(file) : Models.Cache(file);

    [Theory]
    [MemberData(nameof(BranchingModels))]
    [MemberData(nameof(SharedModels))]
    public void DefaultLayersAreOneSequentialPath(string file)
    {
        Model model = Models.Load(PathOf(file));
        var layers = Divergence.SelectLayers(model).Select(l => l.Name).ToList();
        output.WriteLine($"{file}: {layers.Count} layers: {string.Join(", ", layers)}");
        SelectionCheck check = ArchitectureGraph.Build(model, inferShapes: false).ValidateSelection(layers);
        Assert.True(check.IsSequential, check.Message);
        Assert.Equal(model.OutputNames[0], layers[^1]);
        Assert.True(layers.Count >= 3, $"only {layers.Count} layers");
    }

    [Fact]
    public void SqueezeNetDefaultKeepsEveryFireModuleOutputAndNoExpandBranch()
    {
        Model model = Models.Load(Models.Shared("squeezenet1.0-fp32.onnx"));
        var layers = Divergence.SelectLayers(model).Select(l => l.Name).ToHashSet();
        var concats = model.Nodes.Where(n => n.OpType == "Concat").Select(n => model.ValueNames[n.Outputs[0]]).ToList();
        Assert.Equal(8, concats.Count);
        Assert.Superset(concats.ToHashSet(), layers);
        Assert.DoesNotContain(layers, l => l.Contains("expand", StringComparison.Ordinal));
    }

    [Theory]
    [MemberData(nameof(BranchingModels))]
    public void ValuesOnEveryPathMatchTheirDefinition(string file)
    {
        Model model = Models.Load(PathOf(file));
        var trunk = model.ValuesOnEveryPath();
        int outputId = model.ValueId(model.OutputNames[0]);
        Assert.True(ReachesOutput(model, -1, outputId), "the output is not computed from the input");
        int onEveryPath = 0;
        for (int v = 0; v < model.ValueCount; v++)
        {
            if (model.Inputs.Any(i => i.ValueId == v)) continue;
            if (!ReachesOutput(model, v, -2)) continue; // constants: no input reaches them
            bool definition = !ReachesOutput(model, v, outputId);
            Assert.True(definition == trunk.Contains(v), $"{model.ValueNames[v]}: on every path {definition}, ValuesOnEveryPath says {trunk.Contains(v)}");
            if (definition) onEveryPath++;
        }
        output.WriteLine($"{file}: {onEveryPath} of {model.ValueCount} values lie on every input-to-output path");
        Assert.Equal(onEveryPath, trunk.Count);
    }

    /// <summary>
    /// Whether a path of computed values leads from the inputs to <paramref name="target"/> avoiding <paramref name="removed"/>
    /// (target −2: whether the inputs reach <paramref name="removed"/> at all).
    /// </summary>
    private static bool ReachesOutput(Model model, int removed, int target)
    {
        var reached = new bool[model.ValueCount];
        foreach (var input in model.Inputs) reached[input.ValueId] = true;
        foreach (var node in model.Nodes)
            if (node.Inputs.Any(i => i >= 0 && reached[i] && (target == -2 || i != removed)))
                foreach (int o in node.Outputs)
                    if (o >= 0) reached[o] = true;
        return target == -2 ? reached[removed] : reached[target] && target != removed;
    }
}
