// The paper CNN (fmnist-cnn-paper.onnx) on the Fashion-MNIST 2,000 (pixels / 255), its activations collected once
// through the engine, and the independent numpy/umap-learn figures of reference/activation_reference.py.
using System.Text.Json;
using AdvVis.Analysis.Profiles;
using AdvVis.Analysis.Tests.Architecture;
using AdvVis.Analysis.Tests.Projection;
using AdvVis.Engine;

namespace AdvVis.Analysis.Tests.Profiles;

internal static class ActivationReference
{
    private static readonly Lazy<JsonDocument> Document = new(() =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "reference", "activation_reference.json"))));

    public static JsonElement Root => Document.Value.RootElement;

    public static string[] Strings(string name) => Root.GetProperty(name).EnumerateArray().Select(e => e.GetString()!).ToArray();

    public static double[] Numbers(JsonElement e) => e.EnumerateArray().Select(v => v.GetDouble()).ToArray();
}

public sealed class PaperCnnFixture
{
    public PaperCnnFixture()
    {
        Model = Models.Load(Models.Shared("fmnist-cnn-paper.onnx"));
        Images = new Tensor([FashionMnist.Pixels.Rows, 1, 28, 28], FashionMnist.Pixels.Data);
        Labels = Array.ConvertAll(FashionMnist.Labels, v => (int)v);
        FlowLayers = ActivationReference.Strings("flow_layers");
        ReductionLayers = ActivationReference.Strings("reduction_layers");
        Set = Activations.Collect(Model, FlowLayers.Concat(ReductionLayers).Distinct().ToArray(), Images, predict: true);
    }

    public Model Model { get; }
    public Tensor Images { get; }
    public int[] Labels { get; }
    public string[] FlowLayers { get; }
    public string[] ReductionLayers { get; }
    public ActivationSet Set { get; }

    public Tensor Item(int i) => new([1, 1, 28, 28], Images.Data.AsSpan(i * 784, 784).ToArray());
}

[CollectionDefinition(nameof(PaperCnnCollection))]
public sealed class PaperCnnCollection : ICollectionFixture<PaperCnnFixture>;
