// Reading layer outputs for a set of items: batched forward passes that capture the selected tensors (and the model
// output, for predicted labels), flattened per item into the row-major matrices the projections and reductions use.
using AdvVis.Analysis.Projection;
using AdvVis.Engine;

namespace AdvVis.Analysis.Profiles;

/// <summary>One layer's outputs for N items: <see cref="Values"/> is N × prod(<see cref="UnitShape"/>), row-major.</summary>
/// <param name="UnitShape">The per-item shape, e.g. [C, H, W] for a conv layer or [F] for a dense one.</param>
public sealed record LayerActivations(string Layer, int[] UnitShape, DenseMatrix Values)
{
    public int Count => Values.Rows;

    /// <summary>Item <paramref name="item"/>'s output, laid out as <see cref="UnitShape"/>.</summary>
    public ReadOnlySpan<float> Item(int item) => Values.Row(item);

    /// <summary>The rows <paramref name="items"/> as a new set.</summary>
    public LayerActivations Select(IReadOnlyList<int> items) =>
        this with { Values = DenseMatrix.FromRows(items.Select(i => Values.Row(i).ToArray()).ToArray()) };
}

/// <summary>Layer outputs of a batch of items, plus the model's predicted class per item when requested.</summary>
public sealed record ActivationSet(IReadOnlyList<LayerActivations> Layers, int[]? Predicted)
{
    public LayerActivations this[string layer] => Layers.FirstOrDefault(l => l.Layer == layer)
        ?? throw new ArgumentException($"No activations for layer '{layer}'.", nameof(layer));
}

public static class Activations
{
    /// <summary>
    /// Runs <paramref name="inputs"/> ([N, ...] in the model's input space) through <paramref name="model"/> in batches and
    /// keeps the tensors named in <paramref name="layers"/>. With <paramref name="predict"/>, also the argmax of the first
    /// output per item.
    /// </summary>
    public static ActivationSet Collect(Model model, IReadOnlyList<string> layers, Tensor inputs, bool predict = false,
        int batchSize = 250, CancellationToken cancellation = default, IProgress<double>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(layers);
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        if (inputs.Rank < 1 || inputs.IsInteger)
            throw new ArgumentException("Inputs must be a float tensor [N, ...].", nameof(inputs));
        foreach (string layer in layers)
            model.ValueId(layer); // a clear error naming the tensor
        int n = inputs.Shape[0];
        int itemSize = n == 0 ? 0 : inputs.Length / n;
        int[] itemShape = inputs.Shape[1..];
        var matrices = new DenseMatrix?[layers.Count];
        var unitShapes = new int[layers.Count][];
        int[]? predicted = predict ? new int[n] : null;
        string outputName = model.OutputNames[0];
        var capture = layers.ToList();
        for (int start = 0; start < n; start += batchSize)
        {
            cancellation.ThrowIfCancellationRequested();
            int count = Math.Min(batchSize, n - start);
            var batch = new Tensor([count, .. itemShape], inputs.Data.AsSpan(start * itemSize, count * itemSize).ToArray());
            ForwardPass pass = model.Forward(batch, new RunOptions
            {
                Capture = capture,
                StopAfterCaptures = !predict,
                Cancellation = cancellation,
            });
            for (int l = 0; l < layers.Count; l++)
            {
                Tensor t = pass[layers[l]];
                if (t.Rank < 1 || t.Shape[0] != count)
                    throw new EngineException($"Layer '{layers[l]}' has shape {ShapeMath.Text(t.Shape)}: no batch axis of {count}.");
                int width = t.Length / count;
                if (matrices[l] is null)
                {
                    matrices[l] = new DenseMatrix(n, width);
                    unitShapes[l] = t.Shape[1..];
                }
                t.Data.AsSpan(0, count * width).CopyTo(matrices[l]!.Data.AsSpan(start * width));
            }
            if (predicted is not null)
            {
                Tensor output = pass[outputName];
                int classes = output.Length / count;
                for (int i = 0; i < count; i++)
                    predicted[start + i] = ArgMax(output.Data.AsSpan(i * classes, classes));
            }
            progress?.Report((double)(start + count) / n);
        }
        var result = new LayerActivations[layers.Count];
        for (int l = 0; l < layers.Count; l++)
            result[l] = new LayerActivations(layers[l], unitShapes[l] ?? [], matrices[l] ?? new DenseMatrix(0, 0));
        return new ActivationSet(result, predicted);
    }

    internal static int ArgMax(ReadOnlySpan<float> values)
    {
        int best = 0;
        for (int i = 1; i < values.Length; i++)
            if (values[i] > values[best])
                best = i;
        return best;
    }
}
