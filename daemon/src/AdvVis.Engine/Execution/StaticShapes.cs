// Shape subgraphs at load time. Exporters compute sizes at run time (Shape → Gather → Range → Mod → ScatterND … for
// Swin's shift masks, Shape → Concat → Reshape for every batch-polymorphic reshape). Where the sizes a Shape node
// reads are fixed by the declared input (every dimension but the batch, which follows the feed), the node folds into a
// constant and so does everything computed from it; the rest keeps running with each input.
using AdvVis.Engine.Ops;

namespace AdvVis.Engine;

/// <summary>
/// What load time knows of each value: its shape with unknown dimensions (null), and for int64 vectors (shape
/// arithmetic) which elements are known. Shapes are derived for the values some Shape node depends on, by the op's own
/// forward rule on stand-in tensors: unknown dimensions set to two different sizes, and a dimension that comes out the
/// same both times is fixed. Elementwise and broadcasting ops and MatMul go by formula, per-image ops (convolutions,
/// pooling, normalisations) run on one image, so load time stays a small part of one forward pass.
/// </summary>
internal sealed class StaticShapes
{
    private const int FirstProbe = 1, SecondProbe = 2;
    private readonly int?[]?[] _shapes;
    private readonly long?[]?[] _partial;
    private readonly bool[] _needed;

    public StaticShapes(IReadOnlyList<ModelNode> nodes, Tensor?[] constants, IEnumerable<ModelInput> inputs)
    {
        _shapes = new int?[]?[constants.Length];
        _partial = new long?[]?[constants.Length];
        foreach (var input in inputs)
            if (input.DeclaredShape is { } declared)
                _shapes[input.ValueId] = declared.Select((d, i) => i == 0 || d.Value is not { } v ? (int?)null : (int)v).ToArray();
        // A value's shape matters if a Shape node reads it or a value that matters is computed from it.
        _needed = new bool[constants.Length];
        for (int k = nodes.Count - 1; k >= 0; k--)
        {
            var n = nodes[k];
            if (n.Op is Ops.Shape || n.Outputs.Any(o => o >= 0 && _needed[o]))
                foreach (var i in n.Inputs) if (i >= 0) _needed[i] = true;
        }
    }

    private int?[]? ShapeOf(int id, Tensor?[] constants) =>
        id < 0 ? null : constants[id] is { } c ? c.Shape.Select(d => (int?)d).ToArray() : _shapes[id];

    private long?[]? ValuesOf(int id, Tensor?[] constants) =>
        id < 0 ? null : constants[id] is { IsInteger: true, Rank: <= 1 } c ? c.Longs!.Take(c.Length).Select(v => (long?)v).ToArray() : _partial[id];

    /// <summary>
    /// Folds the node when load time knows its outputs (a Shape of fixed sizes, shape arithmetic on known elements),
    /// writing them into <paramref name="constants"/>; otherwise records what it can of the outputs' shapes.
    /// </summary>
    public bool TryFold(ModelNode n, Tensor?[] constants)
    {
        if (n.Op is Ops.Shape shape)
        {
            if (ShapeOf(n.Inputs[0], constants) is not { } dims) return false;
            var (start, end) = shape.Range(dims.Length);
            var picked = dims[start..end].Select(d => (long?)d).ToArray();
            return Settle(n, constants, picked, [picked.Length]);
        }
        if (IsDataMovement(n.Op) && n.Outputs.Length == 1 && n.Inputs.Any(i => i >= 0 && constants[i] is null && _partial[i] is not null)
            && Move(n, constants) is var (values, outShape) && values is not null)
            return Settle(n, constants, values, outShape);
        if (IsElementwise(n.Op) && n.Outputs.Length == 1 && n.Inputs.Any(i => i >= 0 && constants[i] is null && _partial[i] is not null)
            && Elementwise(n, constants) is var (elementValues, elementShape) && elementValues is not null)
            return Settle(n, constants, elementValues, elementShape);
        if (n.Outputs.Any(o => o >= 0 && _needed[o])) Infer(n, constants);
        return false;
    }

    /// <summary>Known elements of an int64 vector: a constant when all are known, else remembered for later nodes.</summary>
    private bool Settle(ModelNode n, Tensor?[] constants, long?[] values, int[] shape)
    {
        int id = n.Outputs[0];
        if (id < 0) return false;
        if (values.All(v => v.HasValue))
        {
            constants[id] = new Tensor(shape, values.Select(v => v!.Value).ToArray());
            return true;
        }
        if (shape.Length <= 1)
        {
            _partial[id] = values;
            _shapes[id] = shape.Select(d => (int?)d).ToArray();
        }
        return false;
    }

    private static bool IsElementwise(Op op) => op is Binary or Mod or Cast or Neg or Abs or Variadic;

    /// <summary>
    /// Elementwise shape arithmetic on int64 scalars and vectors (batch · 64, H / 7 …): each output element the op's own
    /// result on its operands' elements where all are known, unknown otherwise.
    /// </summary>
    private (long?[]? Values, int[] Shape)? Elementwise(ModelNode n, Tensor?[] constants)
    {
        var operands = new long?[n.Inputs.Length][];
        int length = 1, rank = 0;
        for (int i = 0; i < operands.Length; i++)
        {
            int id = n.Inputs[i];
            if (id < 0 || ValuesOf(id, constants) is not { } values) return null;
            operands[i] = values;
            int r = constants[id]?.Rank ?? _shapes[id]?.Length ?? 1;
            rank = Math.Max(rank, r);
            if (values.Length != 1 && length != 1 && values.Length != length) return null;
            length = Math.Max(length, values.Length);
        }
        var result = new long?[length];
        for (int j = 0; j < length; j++)
        {
            var picked = operands.Select(o => o[o.Length == 1 ? 0 : j]).ToArray();
            if (picked.Any(v => v is null)) continue;
            try
            {
                var y = n.Op.Forward(picked.Select(v => (Tensor?)new Tensor([1], [v!.Value])).ToArray(), out _)[0];
                if (!y.IsInteger) return null; // a float result (Cast to float) is not shape arithmetic any more
                result[j] = y.Longs![0];
            }
            catch (EngineException) { return null; }
        }
        return (result, rank == 0 ? [] : [length]);
    }

    private static bool IsDataMovement(Op op) => op is Gather or Concat or Unsqueeze or Squeeze or Ops.Reshape or Flatten or Identity or Slice;

    /// <summary>
    /// Runs a data-movement op on element ids instead of values (input i, element p → i·2^20 + p), so its output says
    /// which input element each output element is, known or not.
    /// </summary>
    private (long?[]? Values, int[] Shape)? Move(ModelNode n, Tensor?[] constants)
    {
        var ins = new Tensor?[n.Inputs.Length];
        var sources = new long?[]?[n.Inputs.Length];
        for (int i = 0; i < ins.Length; i++)
        {
            int id = n.Inputs[i];
            if (id < 0) continue;
            // Only the data inputs may be partly known (any of Concat's, the first of the others).
            bool data = n.Op is Concat || i == 0;
            if (data && ValuesOf(id, constants) is { } values && values.Length < (1 << 20))
            {
                sources[i] = values;
                int rank = (constants[id]?.Rank) ?? _shapes[id]?.Length ?? 1;
                ins[i] = new Tensor(rank == 0 ? [] : [values.Length], Enumerable.Range(0, values.Length).Select(p => ((long)i << 20) + p).ToArray());
            }
            else if (constants[id] is { } c) ins[i] = c;
            else return null;
        }
        try
        {
            var y = n.Op.Forward(ins, out _)[0];
            if (!y.IsInteger) return null;
            var values = y.Longs!.Take(y.Length).Select(code => sources[(int)(code >> 20)]![(int)(code & ((1 << 20) - 1))]).ToArray();
            return (values, y.Shape);
        }
        catch (Exception e) when (e is EngineException or ArgumentException or IndexOutOfRangeException or NullReferenceException)
        {
            return null;
        }
    }

    /// <summary>The output shapes this node will have whatever the batch, as far as they are fixed.</summary>
    private void Infer(ModelNode n, Tensor?[] constants)
    {
        var shapes = n.Inputs.Select(i => ShapeOf(i, constants)).ToArray();
        for (int i = 0; i < shapes.Length; i++)
            if (n.Inputs[i] >= 0 && shapes[i] is null) return;
        int?[]?[] outputs;
        if (n.Op is Ops.Reshape && n.Inputs.Length > 1 && ValuesOf(n.Inputs[1], constants) is { } requested && constants[n.Inputs[1]] is null)
            outputs = [ReshapeWithUnknowns(shapes[0]!, requested)];
        else if (n.Op is MatMul) outputs = [MatMulShape(shapes[0]!, shapes[1]!)];
        else if (n.Op is UnaryOp or Relu or Clip or Identity or Cast or Softmax or LayerNormalization or Rounding or Not or FloatClass)
            outputs = [shapes[0]]; // the first output has the input's shape (the statistics outputs are left unknown)
        else if (n.Op is Binary or Mod or PRelu or Compare or Logical or Where or Variadic or Sum or Mean)
            outputs = [shapes.Where(sh => sh is not null).Aggregate((a, b) => a is null || b is null ? null : BroadcastUnknown(a, b))];
        else if (n.Op is Conv or ConvTranspose or MaxPool or AveragePool or GlobalPool or Lrn or BatchNormalization or InstanceNormalization)
            outputs = PerImage(n, constants, shapes);
        else outputs = Probed(n, constants, shapes);
        for (int k = 0; k < n.Outputs.Length && k < outputs.Length; k++)
            if (n.Outputs[k] >= 0) _shapes[n.Outputs[k]] = outputs[k];
    }

    private static int?[]? ReshapeWithUnknowns(int?[] input, long?[] requested)
    {
        var result = new int?[requested.Length];
        for (int i = 0; i < requested.Length; i++)
            result[i] = requested[i] switch
            {
                null => null,
                0 => i < input.Length ? input[i] : null, // copies the input's dimension (allowzero models are rare here)
                -1 => null,
                var v => (int)v.Value,
            };
        if (Array.IndexOf(requested, -1L) is var inferred && inferred >= 0 && input.All(d => d.HasValue) && result.Count(d => d is null) == 1)
        {
            long known = result.Where(d => d.HasValue).Aggregate(1L, (p, d) => p * d!.Value);
            long total = input.Aggregate(1L, (p, d) => p * d!.Value);
            if (known > 0 && total % known == 0) result[inferred] = (int)(total / known);
        }
        return result;
    }

    private static int?[]? MatMulShape(int?[] a, int?[] b)
    {
        if (a.Length < 2 || b.Length < 2) return null;
        var batch = BroadcastUnknown(a[..^2], b[..^2]);
        return batch?.Append(a[^2]).Append(b[^1]).ToArray();
    }

    private static int?[]? BroadcastUnknown(int?[] a, int?[] b)
    {
        int rank = Math.Max(a.Length, b.Length);
        var result = new int?[rank];
        for (int i = 0; i < rank; i++)
        {
            int? x = i - (rank - a.Length) >= 0 ? a[i - (rank - a.Length)] : 1, y = i - (rank - b.Length) >= 0 ? b[i - (rank - b.Length)] : 1;
            result[i] = x == 1 ? y : y == 1 ? x : x == y ? x : x is null ? y : y is null ? x : null;
        }
        return result;
    }

    /// <summary>Ops that treat each image alike: run on one image, the batch dimension copied from the input.</summary>
    private static int?[]?[] PerImage(ModelNode n, Tensor?[] constants, int?[]?[] shapes)
    {
        var x = shapes[0]!;
        if (x.Skip(1).Any(d => d is null)) return [];
        var ins = StandIns(n, constants, shapes, x.Select((d, i) => i == 0 ? 1 : d!.Value).ToArray(), probe: 1);
        if (ins is null || Run(n, ins) is not { } outs) return [];
        return outs.Select(o => o.Shape.Select((d, i) => i == 0 ? x[0] : (int?)d).ToArray()).ToArray();
    }

    private static int?[]?[] Probed(ModelNode n, Tensor?[] constants, int?[]?[] shapes)
    {
        bool anyUnknown = shapes.Any(s => s is not null && s.Any(d => d is null));
        var first = Run(n, StandIns(n, constants, shapes, null, FirstProbe));
        if (first is null) return [];
        if (!anyUnknown) return first.Select(o => o.Shape.Select(d => (int?)d).ToArray()).ToArray();
        var second = Run(n, StandIns(n, constants, shapes, null, SecondProbe));
        if (second is null || second.Length != first.Length) return [];
        return first.Zip(second, (p, q) => p.Rank != q.Rank ? null
            : p.Shape.Zip(q.Shape, (u, v) => u == v ? (int?)u : null).ToArray()).ToArray();
    }

    /// <summary>
    /// Inputs to run the op on: constants as they are, computed float values as zeros of the known shape with unknown
    /// dimensions set to <paramref name="probe"/>. Null when an int64 value is not known (its values may set shapes) or
    /// when an op's output size depends on float values (Resize's scales, Range).
    /// </summary>
    private static Tensor?[]? StandIns(ModelNode n, Tensor?[] constants, int?[]?[] shapes, int[]? firstShape, int probe)
    {
        if (n.Op is Ops.Range or Resize or ConstantOfShape && n.Inputs.Skip(1).Any(i => i >= 0 && constants[i] is null)) return null;
        var ins = new Tensor?[n.Inputs.Length];
        for (int i = 0; i < ins.Length; i++)
        {
            int id = n.Inputs[i];
            if (id < 0) continue;
            if (constants[id] is { } c) { ins[i] = c; continue; }
            if (i == 0 && n.Op is ConstantOfShape) return null;
            var shape = i == 0 && firstShape is not null ? firstShape : shapes[i]!.Select(d => d ?? probe).ToArray();
            if (shape.Aggregate(1L, (p, d) => p * d) > (64L << 20)) return null; // too big to stand in for cheaply
            ins[i] = IsIntegerValue(n, i) ? null : new Tensor(shape, new float[ShapeMath.Count(shape)]);
            if (ins[i] is null) return null;
        }
        return ins;
    }

    /// <summary>Whether input i of this node is shape arithmetic (int64) rather than activations.</summary>
    private static bool IsIntegerValue(ModelNode n, int i) => n.Op switch
    {
        Ops.Reshape or Expand or Tile or Slice or Squeeze or Unsqueeze or Pad or Split or Ops.Reduce or CumSum or Trilu => i > 0,
        Gather or GatherElements or ScatterND => i == 1,
        Where => i == 0,
        Compare or Logical or Not or ArgExtreme => false,
        _ => false,
    };

    private static Tensor[]? Run(ModelNode n, Tensor?[]? ins)
    {
        if (ins is null) return null;
        try { return n.Op.Forward(ins, out _); }
        catch (Exception e) when (e is EngineException or ArgumentException or IndexOutOfRangeException or InvalidCastException or NullReferenceException)
        {
            return null;
        }
    }
}
