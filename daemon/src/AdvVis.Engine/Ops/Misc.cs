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
        var (s, e) = Range(x.Rank);
        saved = null;
        return [Tensor.FromLongs(x.Shape[s..e].Select(d => (long)d).ToArray())];
    }

    /// <summary>The [start, end) range of axes reported for an input of this rank.</summary>
    public (int Start, int End) Range(int rank)
    {
        int s = (int)Math.Clamp(start < 0 ? start + rank : start, 0, rank);
        int e = (int)Math.Clamp(end is { } v ? (v < 0 ? v + rank : v) : rank, 0, rank);
        return (s, Math.Max(s, e));
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

public enum ReduceKind { Mean, Sum, Max, Min, SumSquare, L2, L1, LogSum, LogSumExp, Prod }

/// <summary>
/// Reductions over axes (attribute, or input 1 for ReduceSum ≥ 13 and all reductions ≥ 18), keepdims by default.
/// Backward: Sum spreads dy, Mean spreads dy/count, Max/Min send dy to every tied extreme, SumSquare 2x·dy, L2 x/y·dy,
/// L1 sign(x)·dy, LogSum dy/e^y, LogSumExp e^(x−y)·dy, Prod (∏ of the others)·dy.
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
        else if (kind == ReduceKind.L1) ForEachPair(x.Shape, kept, (xi, yi) => y.Data[yi] += MathF.Abs(x.Data[xi]));
        else if (kind == ReduceKind.Prod)
        {
            y.Span.Fill(1f);
            ForEachPair(x.Shape, kept, (xi, yi) => y.Data[yi] *= x.Data[xi]);
        }
        else if (kind == ReduceKind.LogSumExp)
        {
            // Shifted by each group's maximum, summed in double.
            var top = new float[y.Length];
            top.AsSpan().Fill(float.NegativeInfinity);
            ForEachPair(x.Shape, kept, (xi, yi) => top[yi] = MathF.Max(top[yi], x.Data[xi]));
            var sums = new double[y.Length];
            ForEachPair(x.Shape, kept, (xi, yi) => sums[yi] += Math.Exp(x.Data[xi] - top[yi]));
            for (int i = 0; i < y.Length; i++) y.Data[i] = float.IsNegativeInfinity(top[i]) ? top[i] : (float)(top[i] + Math.Log(sums[i]));
        }
        else if (kind == ReduceKind.LogSum)
        {
            Broadcasting.AccumulateReduced(x.Span, x.Shape, y.Span, kept);
            TensorPrimitives.Log(y.Span, y.Span);
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
        var others = kind == ReduceKind.Prod ? ProductOfOthers(x, kept) : null;
        ForEachPair(x.Shape, kept, (xi, yi) =>
        {
            dx[xi] += kind switch
            {
                ReduceKind.Sum => dy.Data[yi],
                ReduceKind.Mean => dy.Data[yi] / count,
                ReduceKind.SumSquare => 2f * x.Data[xi] * dy.Data[yi],
                ReduceKind.L2 => y.Data[yi] == 0f ? 0f : x.Data[xi] / y.Data[yi] * dy.Data[yi],
                ReduceKind.L1 => x.Data[xi] > 0f ? dy.Data[yi] : x.Data[xi] < 0f ? -dy.Data[yi] : 0f,
                ReduceKind.LogSum => dy.Data[yi] / MathF.Exp(y.Data[yi]),
                ReduceKind.LogSumExp => MathF.Exp(x.Data[xi] - y.Data[yi]) * dy.Data[yi],
                ReduceKind.Prod => others![xi] * dy.Data[yi],
                _ => x.Data[xi] == y.Data[yi] ? dy.Data[yi] : 0f,
            };
        });
    }

    /// <summary>For each element, the product of the other elements of its group (exact with zeros, unlike y/x).</summary>
    private static float[] ProductOfOthers(Tensor x, int[] kept)
    {
        var groups = new List<int>[ShapeMath.Count(kept)];
        ForEachPair(x.Shape, kept, (xi, yi) => (groups[yi] ??= []).Add(xi));
        var result = new float[x.Length];
        foreach (var g in groups)
        {
            if (g is null) continue;
            // Prefix and suffix products: result[i] = ∏_{j<i} · ∏_{j>i}.
            double prefix = 1;
            for (int i = 0; i < g.Count; i++) { result[g[i]] = (float)prefix; prefix *= x.Data[g[i]]; }
            double suffix = 1;
            for (int i = g.Count - 1; i >= 0; i--) { result[g[i]] = (float)(result[g[i]] * suffix); suffix *= x.Data[g[i]]; }
        }
        return result;
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

/// <summary>Range(start, limit, delta): max(⌈(limit − start)/delta⌉, 0) values start + i·delta, int64 or float.</summary>
public sealed class Range : Op
{
    public override bool IsDifferentiable => false;

    public override Tensor[] Forward(Tensor?[] inputs, out object? saved)
    {
        var start = Required(inputs, 0, "Range"); var limit = Required(inputs, 1, "Range"); var delta = Required(inputs, 2, "Range");
        saved = null;
        if (start.IsInteger && limit.IsInteger && delta.IsInteger)
        {
            long s = start.Longs![0], l = limit.Longs![0], d = delta.Longs![0];
            if (d == 0) throw new EngineException("Range: delta is 0.");
            long n = Math.Max((long)Math.Ceiling((double)(l - s) / d), 0);
            if (n > int.MaxValue) throw new EngineException($"Range: {n} values are too many.");
            var values = new long[ShapeMath.Count([(int)n])]; // its size comes from data: checked against the memory budget
            for (long i = 0; i < n; i++) values[i] = s + i * d;
            return [new Tensor([(int)n], values)];
        }
        float fs = start.AsFloats()[0], fl = limit.AsFloats()[0], fd = delta.AsFloats()[0];
        if (fd == 0) throw new EngineException("Range: delta is 0.");
        double count = Math.Max(Math.Ceiling(((double)fl - fs) / fd), 0);
        if (count > int.MaxValue) throw new EngineException($"Range: {count} values are too many.");
        var y = new float[ShapeMath.Count([(int)count])];
        for (int i = 0; i < y.Length; i++) y[i] = fs + i * fd;
        return [new Tensor([y.Length], y)];
    }
}

/// <summary>The element count of the input as an int64 scalar.</summary>
public sealed class Size : Op
{
    public override bool IsDifferentiable => false;

    public override Tensor[] Forward(Tensor?[] inputs, out object? saved)
    {
        saved = null;
        return [new Tensor([], [(long)Required(inputs, 0, "Size").Length])];
    }
}

/// <summary>ArgMax / ArgMin along an axis (first or last extreme), int64 indices. Not differentiable.</summary>
public sealed class ArgExtreme(bool max, long axis, bool keepDims, bool selectLast) : Op
{
    public override bool IsDifferentiable => false;

    public override Tensor[] Forward(Tensor?[] inputs, out object? saved)
    {
        var x = Required(inputs, 0, max ? "ArgMax" : "ArgMin");
        int a = ShapeMath.Axis(axis, x.Rank, max ? "ArgMax" : "ArgMin");
        int outer = ShapeMath.Count(x.Shape.AsSpan(0, a)), length = x.Shape[a], inner = ShapeMath.Count(x.Shape.AsSpan(a + 1));
        var v = x.AsFloats();
        var result = new long[outer * inner];
        for (int o = 0; o < outer; o++)
        for (int i = 0; i < inner; i++)
        {
            int best = 0;
            for (int k = 1; k < length; k++)
            {
                float candidate = v[(o * length + k) * inner + i], current = v[(o * length + best) * inner + i];
                bool better = max ? candidate > current : candidate < current;
                if (better || (selectLast && candidate == current)) best = k;
            }
            result[o * inner + i] = best;
        }
        var shape = keepDims ? x.Shape.Select((d, i) => i == a ? 1 : d).ToArray() : x.Shape.Where((_, i) => i != a).ToArray();
        saved = null;
        return [new Tensor(shape, result)];
    }
}

/// <summary>
/// Cumulative sum along an axis (input 1), optionally exclusive and/or reversed. Backward: the cumulative sum of dy
/// in the opposite direction, with the same exclusivity.
/// </summary>
public sealed class CumSum(bool exclusive, bool reverse) : Op
{
    private static void Scan(ReadOnlySpan<float> x, Span<float> y, int outer, int length, int inner, bool exclusive, bool reverse, bool accumulate)
    {
        for (int o = 0; o < outer; o++)
        for (int i = 0; i < inner; i++)
        {
            double running = 0;
            for (int step = 0; step < length; step++)
            {
                int k = reverse ? length - 1 - step : step;
                int at = (o * length + k) * inner + i;
                if (exclusive) { y[at] = (float)(accumulate ? y[at] + running : running); running += x[at]; }
                else { running += x[at]; y[at] = (float)(accumulate ? y[at] + running : running); }
            }
        }
    }

    private static (int Outer, int Length, int Inner) Layout(Tensor x, Tensor axisInput)
    {
        int a = ShapeMath.Axis(axisInput.AsLongs()[0], x.Rank, "CumSum");
        return (ShapeMath.Count(x.Shape.AsSpan(0, a)), x.Shape[a], ShapeMath.Count(x.Shape.AsSpan(a + 1)));
    }

    public override Tensor[] Forward(Tensor?[] inputs, out object? saved)
    {
        var x = Required(inputs, 0, "CumSum");
        var (outer, length, inner) = Layout(x, Required(inputs, 1, "CumSum"));
        saved = null;
        if (x.IsInteger)
        {
            var v = x.Longs!; var r = new long[x.Length];
            for (int o = 0; o < outer; o++)
            for (int i = 0; i < inner; i++)
            {
                long running = 0;
                for (int step = 0; step < length; step++)
                {
                    int at = (o * length + (reverse ? length - 1 - step : step)) * inner + i;
                    if (exclusive) { r[at] = running; running += v[at]; }
                    else { running += v[at]; r[at] = running; }
                }
            }
            return [new Tensor(x.Shape, r)];
        }
        var y = Tensor.Uninitialized(x.Shape);
        Scan(x.Span, y.Span, outer, length, inner, exclusive, reverse, accumulate: false);
        return [y];
    }

    public override void Backward(BackwardContext c)
    {
        if (!c.Wants(0)) return;
        var (outer, length, inner) = Layout(c.Inputs[0]!, c.Inputs[1]!);
        Scan(c.OutputGradient().Span, c.GradientOf(0).Span, outer, length, inner, exclusive, !reverse, accumulate: true);
    }
}
