// Strongest connections of one unit (Activation Profiles §4.4): to the units of the previous layer through the weighted
// layer that produces it (W_s), and to the units of the next weighted layer (W_s+1). By weight magnitude: Σ|w| over the
// kernel between the two channels. By weight × activation for one item: the exact contribution Σ_p a(c, p)·∂y/∂a(c, p)
// of each source channel to the target unit's map sum, from the engine's reverse pass (exact for Conv/Gemm/MatMul and
// through ReLU and max-pooling, which are positively homogeneous; biases excluded).
using AdvVis.Analysis.Architecture;
using AdvVis.Engine;

namespace AdvVis.Analysis.Layers;

/// <summary>A connected unit and the connection's strength (signed for contributions, ≥ 0 for weight magnitudes).</summary>
public sealed record UnitLink(int Unit, double Strength);

/// <param name="PreviousLayer">W_s's input tensor, whose channels are the previous layer's units.</param>
/// <param name="NextLayer">W_s+1's output tensor, whose channels are the next layer's units.</param>
/// <param name="IncomingByContribution">Null without an item.</param>
/// <param name="Note">Why a list is empty (no weighted layer, a channel mapping that could not be followed).</param>
public sealed record UnitConnectionSet(string Layer, int Unit, string? PreviousWeighted, string? PreviousLayer,
    IReadOnlyList<UnitLink> IncomingByWeight, IReadOnlyList<UnitLink>? IncomingByContribution, string? NextWeighted,
    string? NextLayer, IReadOnlyList<UnitLink> OutgoingByWeight, IReadOnlyList<UnitLink>? OutgoingByContribution, string? Note);

public static class UnitConnections
{
    /// <summary>The <paramref name="top"/> strongest links of unit <paramref name="unit"/> of tensor <paramref name="layer"/>.</summary>
    /// <param name="item">One input [1, ...] for the weight × activation lists, or null.</param>
    public static UnitConnectionSet Strongest(Model model, ArchitectureGraph graph, string layer, int unit, int top = 5,
        Tensor? item = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(graph);
        var notes = new List<string>();
        int producer = graph.ProducerOf(layer);
        ArchitectureNode? prev = producer < 0 ? null : Nearest(graph, producer, upstream: true);
        ArchitectureNode? next = Nearest(graph, layer, graph);
        int units = UnitCount(graph, layer);
        if ((uint)unit >= (uint)units)
            throw new ArgumentOutOfRangeException(nameof(unit), $"'{layer}' has {units} units.");

        IReadOnlyList<UnitLink> inWeight = [], outWeight = [];
        IReadOnlyList<UnitLink>? inContribution = null, outContribution = null;
        string? prevLayer = prev?.Inputs.FirstOrDefault(), nextLayer = next?.Outputs.FirstOrDefault();
        if (prev is null)
            notes.Add("no weighted layer before this one");
        else if (WeightMatrix(model, prev) is { } wIn)
        {
            if (wIn.Outputs == units)
                inWeight = TopLinks(Enumerable.Range(0, wIn.Inputs).Select(ci => wIn.Magnitude(unit, ci)).ToArray(), top);
            else
                notes.Add($"'{prev.Name}' has {wIn.Outputs} outputs for {units} units: no channel mapping");
        }
        if (next is null)
            notes.Add("no weighted layer after this one");
        else if (WeightMatrix(model, next) is { } wOut)
        {
            // Unit k of this layer feeds W_s+1's inputs k·S .. (k+1)·S − 1 (S = 1 for channels, H·W after a Flatten).
            if (wOut.Inputs % units == 0)
            {
                int span = wOut.Inputs / units;
                outWeight = TopLinks(Enumerable.Range(0, wOut.Outputs)
                    .Select(j => Enumerable.Range(unit * span, span).Sum(ci => wOut.Magnitude(j, ci))).ToArray(), top);
            }
            else
                notes.Add($"'{next.Name}' reads {wOut.Inputs} inputs, not a multiple of {units} units (e.g. after a Concat)");
        }

        if (item is not null)
        {
            if (prev is not null && prevLayer is not null)
            {
                ForwardPass pass = model.Forward(item, new RunOptions { Capture = [layer, prevLayer], RecordForBackward = true, Cancellation = cancellation });
                Tensor a = pass[layer];
                var seed = new float[a.Length];
                int map = a.Length / units;
                Array.Fill(seed, 1f, unit * map, map);
                Tensor g = pass.Backward(new Dictionary<string, Tensor> { [layer] = new Tensor(a.Shape, seed) }, [prevLayer], cancellation)[prevLayer];
                inContribution = TopLinks(ChannelSums(pass[prevLayer], g), top, signed: true);
            }
            if (next is not null && nextLayer is not null)
            {
                // One backward per target unit, batched: item replicated, batch row j seeded at target unit j.
                int targets = UnitCount(graph, nextLayer);
                var contributions = new double[targets];
                const int chunk = 16;
                for (int start = 0; start < targets; start += chunk)
                {
                    cancellation.ThrowIfCancellationRequested();
                    int count = Math.Min(chunk, targets - start);
                    var batch = new Tensor([count, .. item.Shape[1..]], Enumerable.Repeat(item.AsFloats(), count).SelectMany(v => v).ToArray());
                    ForwardPass pass = model.Forward(batch, new RunOptions { Capture = [layer, nextLayer], RecordForBackward = true, Cancellation = cancellation });
                    Tensor y = pass[nextLayer];
                    int perItem = y.Length / count, map = perItem / targets;
                    var seed = new float[y.Length];
                    for (int r = 0; r < count; r++)
                        Array.Fill(seed, 1f, r * perItem + (start + r) * map, map);
                    Tensor g = pass.Backward(new Dictionary<string, Tensor> { [nextLayer] = new Tensor(y.Shape, seed) }, [layer], cancellation)[layer];
                    Tensor a = pass[layer];
                    int aPer = a.Length / count, aMap = aPer / units;
                    for (int r = 0; r < count; r++)
                    {
                        double s = 0;
                        for (int q = 0; q < aMap; q++)
                            s += (double)a.Data[r * aPer + unit * aMap + q] * g.Data[r * aPer + unit * aMap + q];
                        contributions[start + r] = s;
                    }
                }
                outContribution = TopLinks(contributions, top, signed: true);
            }
        }
        return new UnitConnectionSet(layer, unit, prev?.Name, prevLayer, inWeight, inContribution, next?.Name, nextLayer, outWeight,
            outContribution, notes.Count == 0 ? null : string.Join("; ", notes));
    }

    private static int UnitCount(ArchitectureGraph graph, string value)
    {
        int p = graph.ProducerOf(value);
        int[]? shape = p < 0 ? graph.Inputs.First(i => i.Name == value).Shape
            : graph.Nodes[p].OutputShapes[graph.Nodes[p].Outputs.ToList().IndexOf(value)];
        if (shape is null)
            throw new InvalidOperationException($"The shape of '{value}' is unknown (the architecture graph was built without shapes).");
        return shape.Length > 1 ? shape[1] : shape[0];
    }

    private static double[] ChannelSums(Tensor a, Tensor g)
    {
        int channels = a.Rank > 1 ? a.Shape[1] : a.Length, map = a.Length / channels;
        var result = new double[channels];
        for (int c = 0; c < channels; c++)
            for (int q = 0; q < map; q++)
                result[c] += (double)a.Data[c * map + q] * g.Data[c * map + q];
        return result;
    }

    private static UnitLink[] TopLinks(double[] strengths, int top, bool signed = false) =>
        Enumerable.Range(0, strengths.Length).OrderByDescending(i => signed ? Math.Abs(strengths[i]) : strengths[i]).ThenBy(i => i)
            .Take(top).Select(i => new UnitLink(i, strengths[i])).ToArray();

    /// <summary>The nearest weighted node upstream of node <paramref name="start"/> (itself included), breadth first.</summary>
    private static ArchitectureNode? Nearest(ArchitectureGraph graph, int start, bool upstream)
    {
        var queue = new Queue<int>([start]);
        var seen = new HashSet<int> { start };
        while (queue.Count > 0)
        {
            ArchitectureNode n = graph.Nodes[queue.Dequeue()];
            if (n.Category == LayerCategory.ConnectedWeighted)
                return n;
            foreach (string v in n.Inputs)
            {
                int p = graph.ProducerOf(v);
                if (p >= 0 && seen.Add(p))
                    queue.Enqueue(p);
            }
        }
        return null;
    }

    /// <summary>The nearest weighted node reading <paramref name="value"/> directly or through unweighted nodes.</summary>
    private static ArchitectureNode? Nearest(ArchitectureGraph graph, string value, ArchitectureGraph _)
    {
        var queue = new Queue<string>([value]);
        var seen = new HashSet<string> { value };
        while (queue.Count > 0)
        {
            string v = queue.Dequeue();
            foreach (ArchitectureNode n in graph.Nodes.Where(n => n.Inputs.Contains(v)))
            {
                if (n.Category == LayerCategory.ConnectedWeighted)
                    return n;
                foreach (string o in n.Outputs)
                    if (seen.Add(o))
                        queue.Enqueue(o);
            }
        }
        return null;
    }

    private sealed record Weights(int Outputs, int Inputs, Func<int, int, double> Magnitude);

    /// <summary>Σ|w| between output unit o and input channel/feature i of a Conv, Gemm or MatMul.</summary>
    private static Weights? WeightMatrix(Model model, ArchitectureNode node)
    {
        string? name = node.ParameterNames.FirstOrDefault(p => model.ConstantValue(p)!.Rank >= 2);
        if (name is null)
            return null;
        Tensor w = model.ConstantValue(name)!;
        var attributes = model.Source.Graph.Nodes.FirstOrDefault(n => n.Outputs.Count > 0 && n.Outputs[0] == node.Outputs[0])?.Attributes;
        switch (node.OpType)
        {
            case "Conv":
            {
                int outCh = w.Shape[0], perGroup = w.Shape[1], kernel = w.Length / (outCh * perGroup);
                int group = attributes is not null && attributes.TryGetValue("group", out var g) ? (int)g.Int : 1;
                int outPerGroup = outCh / group;
                return new Weights(outCh, perGroup * group, (o, i) =>
                {
                    int gi = o / outPerGroup;
                    if (i / perGroup != gi)
                        return 0;
                    double s = 0;
                    int baseIndex = (o * perGroup + i % perGroup) * kernel;
                    for (int k = 0; k < kernel; k++)
                        s += Math.Abs(w.Data[baseIndex + k]);
                    return s;
                });
            }
            case "Gemm":
            {
                bool transB = attributes is not null && attributes.TryGetValue("transB", out var t) && t.Int != 0;
                int rows = w.Shape[0], cols = w.Shape[1];
                return transB ? new Weights(rows, cols, (o, i) => Math.Abs(w.Data[o * cols + i]))
                              : new Weights(cols, rows, (o, i) => Math.Abs(w.Data[i * cols + o]));
            }
            case "MatMul" when w.Rank == 2:
            {
                int rows = w.Shape[0], cols = w.Shape[1];
                return new Weights(cols, rows, (o, i) => Math.Abs(w.Data[i * cols + o]));
            }
            default:
                return null;
        }
    }
}
