// Constants, shape queries, casts and reductions.
using System.Numerics.Tensors;

namespace AdvVis.Engine.Ops;

/// <summary>Produces a fixed tensor. It has no inputs and so no gradient.</summary>
public sealed class Constant(Tensor value) : Op
{
    public Tensor Value => value;
    public override bool IsDifferentiable => false;
    public override Tensor[] Forward(Tensor?[] inputs, out object? saved) { saved = null; return [value]; }
}

/// <summary>The input's shape as int64, optionally a [start, end) range of it (opset 15). Not differentiable.</summary>
public sealed class Shape(long start, long? end) : Op
{
    public override bool IsDifferentiable => false;

    public override Tensor[] Forward(Tensor?[] inputs, out object? saved)
    {
        var x = Required(inputs, 0, "Shape");
        int rank = x.Rank;
        int s = (int)Math.Clamp(start < 0 ? start + rank : start, 0, rank);
        int e = (int)Math.Clamp(end is { } v ? (v < 0 ? v + rank : v) : rank, 0, rank);
        saved = null;
        return [Tensor.FromLongs(x.Shape[s..Math.Max(s, e)].Select(d => (long)d).ToArray())];
    }
}

/// <summary>A tensor of the given shape filled with one value (float 0 by default).</summary>
public sealed class ConstantOfShape(Tensor? value) : Op
{
    public override bool IsDifferentiable => false;

    public override Tensor[] Forward(Tensor?[] inputs, out object? saved)
    {
        var shape = Required(inputs, 0, "ConstantOfShape").AsLongs().Select(d => (int)d).ToArray();
        saved = null;
        if (value is { IsInteger: true })
            return [new Tensor(shape, Enumerable.Repeat(value.Longs![0], ShapeMath.Count(shape)).ToArray())];
        var y = Tensor.Zeros(shape);
        y.Span.Fill(value?.Data[0] ?? 0f);
        return [y];
    }
}

/// <summary>
/// Converts between float and integer storage. Float→int truncates toward zero, int→bool is "not zero".
/// Backward: float→float passes dy through; anything through an integer type has no gradient.
/// </summary>
public sealed class Cast(bool toFloat, bool toBool) : Op
{
    public override Tensor[] Forward(Tensor?[] inputs, out object? saved)
    {
        var x = Required(inputs, 0, "Cast");
        saved = null;
        if (toFloat) return [x.IsInteger ? new Tensor(x.Shape, x.AsFloats()) : x];
        var longs = x.AsLongs();
        if (toBool) longs = (x.IsInteger ? longs : x.Data.Take(x.Length).Select(v => v != 0f ? 1L : 0L).ToArray()).Select(v => v != 0 ? 1L : 0L).ToArray();
        return [new Tensor(x.Shape, longs)];
    }

    public override void Backward(BackwardContext c)
    {
        if (c.Wants(0) && toFloat && !c.Inputs[0]!.IsInteger && c.OutputGradients[0] is { } dy)
            TensorPrimitives.Add(c.GradientOf(0).Span, dy.Span, c.GradientOf(0).Span);
    }
}

public enum ReduceKind { Mean, Sum, Max, Min, SumSquare, L2 }

/// <summary>
/// Reductions over axes (attribute, or input 1 for ReduceSum ≥ 13 and all reductions ≥ 18), keepdims by default.
/// Backward: Sum spreads dy, Mean spreads dy/count, Max/Min send dy to every tied extreme, SumSquare 2x·dy, L2 x/y·dy.
/// </summary>
public sealed class Reduce(ReduceKind kind, long[]? attributeAxes, bool keepDims, bool noopWithEmptyAxes) : Op
{
    private (int[] Kept, int[] Output) Shapes(Tensor?[] inputs)
    {
        var x = inputs[0]!;
        var axes = attributeAxes ?? (inputs.Length > 1 ? inputs[1]?.AsLongs() : null);
        bool all = axes is null || axes.Length == 0;
        if (all && noopWithEmptyAxes) return (x.Shape, x.Shape);
        var reduced = all ? Enumerable.Range(0, x.Rank).ToHashSet() : axes!.Select(a => ShapeMath.Axis(a, x.Rank, "Reduce")).ToHashSet();
        var kept = x.Shape.Select((d, i) => reduced.Contains(i) ? 1 : d).ToArray();
        var output = keepDims ? kept : x.Shape.Where((_, i) => !reduced.Contains(i)).ToArray();
        return (kept, output);
    }

    public override Tensor[] Forward(Tensor?[] inputs, out object? saved)
    {
        var x = RequireFloat(inputs, 0, "Reduce" + kind);
        var (kept, output) = Shapes(inputs);
        var y = Tensor.Zeros(kept);
        int count = x.Length / Math.Max(y.Length, 1);
        if (kind is ReduceKind.Max or ReduceKind.Min)
        {
            y.Span.Fill(kind == ReduceKind.Max ? float.NegativeInfinity : float.PositiveInfinity);
            ForEachPair(x.Shape, kept, (xi, yi) =>
                y.Data[yi] = kind == ReduceKind.Max ? MathF.Max(y.Data[yi], x.Data[xi]) : MathF.Min(y.Data[yi], x.Data[xi]));
        }
        else if (kind is ReduceKind.SumSquare or ReduceKind.L2)
        {
            ForEachPair(x.Shape, kept, (xi, yi) => y.Data[yi] += x.Data[xi] * x.Data[xi]);
            if (kind == ReduceKind.L2) TensorPrimitives.Sqrt(y.Span, y.Span);
        }
        else
        {
            Broadcasting.AccumulateReduced(x.Span, x.Shape, y.Span, kept);
            if (kind == ReduceKind.Mean && count > 0) TensorPrimitives.Divide(y.Span, count, y.Span);
        }
        saved = null;
        return [y.Reshape(output)];
    }

    public override void Backward(BackwardContext c)
    {
        if (!c.Wants(0)) return;
        var x = c.Inputs[0]!;
        var (kept, _) = Shapes(c.Inputs);
        var dy = c.OutputGradient().Reshape(kept);
        var y = c.Outputs[0].Reshape(kept);
        var dx = c.GradientOf(0).Data;
        int count = x.Length / Math.Max(dy.Length, 1);
        ForEachPair(x.Shape, kept, (xi, yi) =>
        {
            dx[xi] += kind switch
            {
                ReduceKind.Sum => dy.Data[yi],
                ReduceKind.Mean => dy.Data[yi] / count,
                ReduceKind.SumSquare => 2f * x.Data[xi] * dy.Data[yi],
                ReduceKind.L2 => y.Data[yi] == 0f ? 0f : x.Data[xi] / y.Data[yi] * dy.Data[yi],
                _ => x.Data[xi] == y.Data[yi] ? dy.Data[yi] : 0f,
            };
        });
    }

    /// <summary>Visits every element of x with the index of the reduced element it belongs to.</summary>
    private static void ForEachPair(int[] xShape, int[] keptShape, Action<int, int> visit)
    {
        int rank = xShape.Length, count = ShapeMath.Count(xShape);
        var keptStrides = ShapeMath.Strides(keptShape);
        var index = new int[rank];
        for (int xi = 0; xi < count; xi++)
        {
            int yi = 0;
            for (int d = 0; d < rank; d++) if (keptShape[d] != 1) yi += index[d] * keptStrides[d];
            visit(xi, yi);
            for (int d = rank - 1; d >= 0; d--)
            {
                if (++index[d] < xShape[d]) break;
                index[d] = 0;
            }
        }
    }
}

/// <summary>Placeholder for an operator AdvVis cannot run; the model still loads so `info` can list it.</summary>
public sealed class Unsupported(string opType, string nodeName, long opset, string reason) : Op
{
    public string OpType => opType;
    public string Reason => reason;
    public override bool IsDifferentiable => false;

    public override Tensor[] Forward(Tensor?[] inputs, out object? saved) =>
        throw new EngineException($"Operator '{opType}' (node '{nodeName}', opset {opset}) is not supported by AdvVis: {reason}");
}
