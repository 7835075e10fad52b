// Graph look-ups and batched forward passes shared by the image-space, neuron-space and attribution analyses:
// which tensor is "the last convolutional layer" or "the penultimate layer" of any CNN the engine runs, and
// how to run many images through a model in batches while keeping only the tensors an analysis reads.
using AdvVis.Engine;

namespace AdvVis.Analysis.NeuronSpace;

/// <summary>A layer of units: the tensor name whose axis 1 holds the units, and the conv output it rests on.</summary>
/// <param name="ValueName">The tensor analysed (post-activation when an elementwise activation follows the conv).</param>
/// <param name="LinearValueName">The convolution's own output (pre-activation); equals <paramref name="ValueName"/> when nothing follows.</param>
/// <param name="NodeName">The Conv node's name.</param>
public sealed record UnitLayer(string ValueName, string LinearValueName, string NodeName);

public static class ModelProbe
{
    // Elementwise ops that keep a conv's units one-to-one: the layer's "activation" is read after them.
    private static readonly HashSet<string> Elementwise = new(StringComparer.Ordinal)
    {
        "Relu", "LeakyRelu", "PRelu", "Elu", "Selu", "Celu", "Sigmoid", "Tanh", "HardSigmoid", "HardSwish",
        "Clip", "Softplus", "BatchNormalization", "Mish", "Gelu", "Identity", "Dropout",
    };

    /// <summary>Every convolutional layer in graph order, each read after the elementwise ops (BN, ReLU…) that follow it alone.</summary>
    public static IReadOnlyList<UnitLayer> ConvolutionLayers(Model model)
    {
        var readers = new Dictionary<int, List<ModelNode>>();
        foreach (var n in model.Nodes)
            foreach (var i in n.Inputs)
                if (i >= 0) (readers.TryGetValue(i, out var l) ? l : readers[i] = []).Add(n);
        var result = new List<UnitLayer>();
        foreach (var node in model.Nodes)
        {
            if (node.OpType != "Conv" && node.OpType != "ConvTranspose") continue;
            int value = node.Outputs[0];
            string linear = model.ValueNames[value];
            while (readers.TryGetValue(value, out var rs) && rs.Count == 1 && Elementwise.Contains(rs[0].OpType) && rs[0].Outputs.Length > 0)
                value = rs[0].Outputs[0];
            result.Add(new UnitLayer(model.ValueNames[value], linear, node.Name));
        }
        return result;
    }

    /// <summary>The last convolutional layer of the graph (the layer Li et al. analyse).</summary>
    public static UnitLayer LastConvolutionLayer(Model model) =>
        ConvolutionLayers(model).LastOrDefault() ?? throw new ArgumentException("The model has no convolution; name the layer to analyse.");

    /// <summary>A layer by tensor name: a conv layer when it is one, otherwise the tensor itself.</summary>
    public static UnitLayer Layer(Model model, string? valueName)
    {
        if (valueName is null) return LastConvolutionLayer(model);
        model.ValueId(valueName); // throws a clear error for unknown names
        return ConvolutionLayers(model).FirstOrDefault(l => l.ValueName == valueName || l.LinearValueName == valueName) is { } conv
            ? conv with { ValueName = valueName }
            : new UnitLayer(valueName, valueName, valueName);
    }

    /// <summary>The penultimate representation: the data input of the last Gemm/MatMul (the features the classifier reads).</summary>
    public static string PenultimateValue(Model model)
    {
        for (int i = model.Nodes.Count - 1; i >= 0; i--)
        {
            var n = model.Nodes[i];
            if ((n.OpType == "Gemm" || n.OpType == "MatMul") && n.Inputs[0] >= 0)
                return model.ValueNames[n.Inputs[0]];
        }
        // A fully convolutional classifier: the last pooled/convolved tensor before the output.
        return LastConvolutionLayer(model).ValueName;
    }

    /// <summary>True when the model's last node is a Softmax, so its output is already a probability.</summary>
    public static bool OutputIsProbability(Model model) =>
        model.Nodes.Count > 0 && model.Nodes[^1].OpType == "Softmax";

    /// <summary>Rows <paramref name="start"/>..start+count of a batch tensor (a copy).</summary>
    public static Tensor Slice(Tensor batch, int start, int count)
    {
        int per = batch.Length / batch.Shape[0];
        var shape = (int[])batch.Shape.Clone();
        shape[0] = count;
        return new Tensor(shape, batch.Data.AsSpan(start * per, count * per).ToArray());
    }

    /// <summary>Stacks equally shaped [1,…] or […] tensors into a batch.</summary>
    public static Tensor Stack(IReadOnlyList<Tensor> items)
    {
        var first = items[0];
        int per = first.Length;
        var inner = first.Shape.Length > 0 && first.Shape[0] == 1 ? first.Shape[1..] : first.Shape;
        var data = new float[per * items.Count];
        for (int i = 0; i < items.Count; i++) items[i].Data.AsSpan(0, per).CopyTo(data.AsSpan(i * per));
        return new Tensor([items.Count, .. inner], data);
    }

    /// <summary>Softmax probabilities of a [N, K] (or [N, K, 1, 1]) output, accumulated in double.</summary>
    public static float[][] Probabilities(Tensor output, bool alreadyProbabilities)
    {
        int n = output.Shape[0], k = output.Length / n;
        var result = new float[n][];
        for (int r = 0; r < n; r++)
        {
            var row = output.Data.AsSpan(r * k, k);
            var p = new float[k];
            if (alreadyProbabilities) { row.CopyTo(p); result[r] = p; continue; }
            float max = float.NegativeInfinity;
            foreach (var v in row) max = Math.Max(max, v);
            double sum = 0;
            for (int j = 0; j < k; j++) sum += Math.Exp(row[j] - max);
            for (int j = 0; j < k; j++) p[j] = (float)(Math.Exp(row[j] - max) / sum);
            result[r] = p;
        }
        return result;
    }

    public static int ArgMax(ReadOnlySpan<float> v)
    {
        int best = 0;
        for (int i = 1; i < v.Length; i++) if (v[i] > v[best]) best = i;
        return best;
    }

    /// <summary>
    /// Runs <paramref name="images"/> ([N,…]) in batches, returning the output rows and the captured tensors
    /// concatenated along the batch axis.
    /// </summary>
    public static (Tensor Output, Dictionary<string, Tensor> Captured) RunBatched(Model model, Tensor images, IReadOnlyCollection<string> capture,
        int batchSize, IReadOnlyList<Intervention>? interventions = null, CancellationToken cancellation = default, IProgress<double>? progress = null)
    {
        int n = images.Shape[0];
        var outs = new List<Tensor>();
        var caps = capture.ToDictionary(c => c, _ => new List<Tensor>());
        for (int start = 0; start < n; start += batchSize)
        {
            cancellation.ThrowIfCancellationRequested();
            int count = Math.Min(batchSize, n - start);
            var pass = model.Forward(Slice(images, start, count), new RunOptions
            {
                Capture = capture, Interventions = interventions ?? [], Cancellation = cancellation,
            });
            outs.Add(pass.Output);
            foreach (var c in capture) caps[c].Add(pass[c]);
            progress?.Report((double)(start + count) / n);
        }
        return (Concat(outs), caps.ToDictionary(kv => kv.Key, kv => Concat(kv.Value)));
    }

    public static Tensor Concat(IReadOnlyList<Tensor> parts)
    {
        if (parts.Count == 1) return parts[0];
        int total = parts.Sum(p => p.Shape[0]);
        var data = new float[parts.Sum(p => p.Length)];
        int offset = 0;
        foreach (var p in parts) { p.Data.AsSpan(0, p.Length).CopyTo(data.AsSpan(offset)); offset += p.Length; }
        return new Tensor([total, .. parts[0].Shape[1..]], data);
    }

    /// <summary>Per image and unit, the spatial maximum of a [N,C,…] tensor (a unit's scalar activation).</summary>
    public static float[][] UnitMaxima(Tensor t)
    {
        int n = t.Shape[0], c = t.Shape[1], hw = t.Length / (n * c);
        var result = new float[n][];
        for (int i = 0; i < n; i++)
        {
            result[i] = new float[c];
            for (int u = 0; u < c; u++)
            {
                var s = t.Data.AsSpan((i * c + u) * hw, hw);
                float m = float.NegativeInfinity;
                foreach (var v in s) m = Math.Max(m, v);
                result[i][u] = m;
            }
        }
        return result;
    }
}
