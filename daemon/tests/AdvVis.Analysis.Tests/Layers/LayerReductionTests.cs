// Layer View reductions: hand-computable cases, then the engine's activations and the four reductions with both
// unit summaries against the float64 numpy interpreter of reference/activation_reference.py; top-k maps; export
// round trips through AdvVis.Data's npy reader and System.Text.Json.
using System.Text;
using System.Text.Json;
using AdvVis.Analysis.Layers;
using AdvVis.Analysis.Profiles;
using AdvVis.Analysis.Projection;
using AdvVis.Analysis.Tests.Profiles;
using AdvVis.Data;

namespace AdvVis.Analysis.Tests.Layers;

public sealed class LayerReductionHandTests
{
    // Two items, 2 units of 1 × 2: item0 = [[1, −3], [2, 0]], item1 = [[4, 1], [−1, −5]].
    private static readonly LayerActivations Tiny = new("t", [2, 1, 2], new DenseMatrix([1, -3, 2, 0, 4, 1, -1, -5], 2, 4));

    [Fact]
    public void ReductionsAndSummariesMatchHandComputation()
    {
        Assert.Equal([2.5f, -1f, 0.5f, -2.5f], LayerReductions.Reduce(Tiny, Reduction.Mean()).Values);
        Assert.Equal([4f, 1f, 2f, 0f], LayerReductions.Reduce(Tiny, Reduction.Max()).Values);
        LayerData diff = LayerReductions.Reduce(Tiny, Reduction.Difference(0, 1), UnitSummary.SumAbsolute);
        Assert.Equal([-3f, -4f, 3f, 5f], diff.Values);
        Assert.Equal([7f, 8f], diff.UnitValues);
        LayerData direct = LayerReductions.Reduce(Tiny, Reduction.Direct(1), UnitSummary.SpatialMax);
        Assert.Equal([4f, -1f], direct.UnitValues);
        Assert.Equal([2.5f, -3f], LayerReductions.Reduce(Tiny, Reduction.Direct(1), UnitSummary.SpatialMean).UnitValues);
        Assert.Equal([1f, 2f], LayerReductions.Reduce(Tiny, Reduction.Max([0])).UnitValues);
        Assert.Equal((2, 1, 2, 2), (direct.UnitCount, direct.MapHeight, direct.MapWidth, direct.GridColumns));
        Assert.Throws<ArgumentOutOfRangeException>(() => LayerReductions.Reduce(Tiny, Reduction.Direct(2)));
    }

    [Fact]
    public void TopUnitsKeepTheSignAndRankByMagnitude()
    {
        LayerData diff = LayerReductions.Reduce(Tiny, Reduction.Difference(0, 1), UnitSummary.SpatialMean); // unit means −3.5, 4
        TopUnits top = LayerReductions.Top(diff, 2);
        Assert.Equal([1, 0], top.Units.Select(u => u.Unit));
        Assert.Equal([-3f, -4f], top.Units[1].Map);
        Assert.Equal(5f, top.ColorLimit);
        Assert.Equal([1], LayerReductions.Top(diff, 1, byMagnitude: false).Units.Select(u => u.Unit));
    }

    [Fact]
    public void ExportsRoundTrip()
    {
        LayerData data = LayerReductions.Reduce(Tiny, Reduction.Difference(0, 1), UnitSummary.SumAbsolute);
        NpyArray npy = Npy.Parse(LayerExport.ToNpy(data));
        Assert.Equal([2, 1, 2], npy.Shape);
        Assert.Equal(data.Values, npy.ToFloatArray());
        NpyArray all = Npy.Parse(LayerExport.ToNpy(Tiny));
        Assert.Equal([2, 2, 1, 2], all.Shape);
        Assert.Equal(Tiny.Values.Data, all.ToFloatArray());
        NpyArray vector = Npy.Parse(LayerExport.ToNpy([1f, 2f, 3f], [3]));
        Assert.Equal([3], vector.Shape);

        string[] csv = LayerExport.ToCsv(data).TrimEnd('\n').Split('\n');
        Assert.Equal("layer,reduction,summary,unit,unit_value,v0,v1", csv[0]);
        Assert.Equal("t,\"difference(0, 1)\",SumAbsolute,1,8,3,5", csv[2]);
        string[] perItem = LayerExport.ActivationsToCsv(Tiny, UnitSummary.SpatialMax, [7, 9]).TrimEnd('\n').Split('\n');
        Assert.Equal(["item,label,u0,u1", "0,7,1,2", "1,9,4,-1"], perItem);

        using JsonDocument json = JsonDocument.Parse(LayerExport.ToJson(data with { Layer = "a\"b" }));
        JsonElement root = json.RootElement;
        Assert.Equal("a\"b", root.GetProperty("layer").GetString());
        Assert.Equal(8f, root.GetProperty("units")[1].GetProperty("value").GetSingle());
        Assert.Equal([3f, 5f], root.GetProperty("units")[1].GetProperty("map").EnumerateArray().Select(e => e.GetSingle()));
    }
}

[Collection(nameof(PaperCnnCollection))]
public sealed class LayerReductionNumpyTests(PaperCnnFixture fixture)
{
    private static void Close(double[] expected, ReadOnlySpan<float> actual, double tolerance, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        double scale = Math.Max(1e-6, expected.Max(Math.Abs));
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance * scale,
                $"{what}[{i}]: numpy {expected[i]} vs ours {actual[i]} (scale {scale})");
    }

    [Fact]
    public void EngineActivationsMatchTheNumpyInterpreter()
    {
        JsonElement layers = ActivationReference.Root.GetProperty("layers");
        foreach (LayerActivations acts in fixture.Set.Layers)
        {
            JsonElement r = layers.GetProperty(acts.Layer);
            Assert.Equal(r.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()), acts.UnitShape);
            double sum = 0, abs = 0;
            foreach (float v in acts.Values.Data)
            {
                sum += v;
                abs += Math.Abs(v);
            }
            Assert.True(Math.Abs(abs - r.GetProperty("abs_sum").GetDouble()) <= 1e-5 * abs, $"{acts.Layer}: Σ|a| {abs}");
            Assert.True(Math.Abs(sum - r.GetProperty("sum").GetDouble()) <= 1e-5 * abs, $"{acts.Layer}: Σa {sum}");
            foreach (JsonProperty row in r.GetProperty("rows").EnumerateObject())
                Close(ActivationReference.Numbers(row.Value), acts.Item(int.Parse(row.Name)), 1e-5, $"{acts.Layer} item {row.Name}");
        }
        int[] predicted = ActivationReference.Root.GetProperty("predicted").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        Assert.True(predicted.Zip(fixture.Set.Predicted!).Count(p => p.First != p.Second) <= 2, "predictions differ from numpy's");
    }

    [Fact]
    public void ReductionsMatchNumpy()
    {
        JsonElement spec = ActivationReference.Root.GetProperty("reductions");
        int[] set = spec.GetProperty("set").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        int[] pair = spec.GetProperty("difference").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        int direct = spec.GetProperty("direct").GetInt32();
        var reductions = new Dictionary<string, Reduction>
        {
            ["mean"] = Reduction.Mean(set), ["max"] = Reduction.Max(set),
            ["difference"] = Reduction.Difference(pair[0], pair[1]), ["direct"] = Reduction.Direct(direct),
        };
        foreach (string layer in fixture.ReductionLayers)
        {
            LayerActivations acts = fixture.Set[layer];
            foreach (var (name, reduction) in reductions)
            {
                JsonElement r = spec.GetProperty(layer).GetProperty(name);
                LayerData max = LayerReductions.Reduce(acts, reduction, UnitSummary.SpatialMax);
                LayerData abs = LayerReductions.Reduce(acts, reduction, UnitSummary.SumAbsolute);
                Close(ActivationReference.Numbers(r.GetProperty("values")), max.Values, 1e-5, $"{layer} {name}");
                Close(ActivationReference.Numbers(r.GetProperty("unit_max")), max.UnitValues, 1e-5, $"{layer} {name} unit max");
                Close(ActivationReference.Numbers(r.GetProperty("unit_sum_abs")), abs.UnitValues, 1e-5, $"{layer} {name} unit Σ|.|");
            }
        }
    }
}
