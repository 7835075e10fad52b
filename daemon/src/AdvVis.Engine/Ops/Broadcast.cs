// Numpy-broadcasting arithmetic: Add, Sub, Mul, Div, Pow, Sum, Max, Min, and their backward rules.
// The duality to remember: broadcasting copies an operand along a dimension, so its gradient sums along it.
using System.Numerics.Tensors;

namespace AdvVis.Engine.Ops;

/// <summary>
/// Maps a broadcast of shapes A and B onto rows: the output is walked as rows of its innermost (coalesced)
/// dimension, and each operand advances by 1 or 0 (broadcast) within a row.
/// </summary>
internal sealed class BroadcastPlan
{
    public readonly int[] OutShape;
    public readonly int Rows, Inner, AInner, BInner;
    public readonly int[] AOffsets, BOffsets;

    public BroadcastPlan(int[] a, int[] b, int[] outShape)
    {
        OutShape = outShape;
        int rank = outShape.Length;
        var sa = AlignedStrides(a, rank, outShape);
        var sb = AlignedStrides(b, rank, outShape);
        // Coalesce adjacent dimensions that are contiguous (or equally broadcast) in all three tensors.
        var dims = new List<(int Size, int A, int B)>();
        for (int i = 0; i < rank; i++)
        {
            if (outShape[i] == 1) continue;
            if (dims.Count > 0)
            {
                var last = dims[^1];
                if (last.A == sa[i] * outShape[i] && last.B == sb[i] * outShape[i])
                {
                    dims[^1] = (last.Size * outShape[i], sa[i], sb[i]);
                    continue;
                }
            }
            dims.Add((outShape[i], sa[i], sb[i]));
        }
        if (dims.Count == 0) dims.Add((1, 0, 0));
        var inner = dims[^1];
        Inner = inner.Size; AInner = inner.A; BInner = inner.B;
        var outer = dims.Take(dims.Count - 1).ToArray();
        Rows = outer.Aggregate(1, (acc, d) => acc * d.Size);
        AOffsets = new int[Rows]; BOffsets = new int[Rows];
        var index = new int[outer.Length];
        int ao = 0, bo = 0;
        for (int r = 0; r < Rows; r++)
        {
            AOffsets[r] = ao; BOffsets[r] = bo;
            for (int d = outer.Length - 1; d >= 0; d--)
            {
                index[d]++; ao += outer[d].A; bo += outer[d].B;
                if (index[d] < outer[d].Size) break;
                ao -= outer[d].A * outer[d].Size; bo -= outer[d].B * outer[d].Size; index[d] = 0;
            }
        }
    }

    private static int[] AlignedStrides(int[] shape, int rank, int[] outShape)
    {
        var strides = new int[rank];
        int acc = 1;
        for (int i = rank - 1; i >= 0; i--)
        {
            int j = i - (rank - shape.Length);
            int size = j >= 0 ? shape[j] : 1;
            strides[i] = size == 1 && outShape[i] != 1 ? 0 : acc;
            if (size == 1) strides[i] = 0;
            acc *= size;
        }
        return strides;
    }
}

public enum BinaryKind { Add, Sub, Mul, Div, Pow, Max, Min }

/// <summary>Broadcast helpers shared by the arithmetic ops and by backward rules that reduce gradients.</summary>
public static class Broadcasting
{
    public static Tensor Apply(Tensor a, Tensor b, BinaryKind kind, string op)
    {
        var outShape = ShapeMath.Broadcast(a.Shape, b.Shape, op);
        if (a.IsInteger || b.IsInteger) return ApplyIntegers(a, b, kind, outShape);
        var y = Tensor.Uninitialized(outShape);
        if (y.Length == 0) return y;
        var plan = new BroadcastPlan(a.Shape, b.Shape, outShape);
        var av = a.Data; var bv = b.Data; var yv = y.Data;
        if (plan.Rows == 1 && plan.AInner == 1 && plan.BInner == 1 && plan.AOffsets[0] == 0 && plan.BOffsets[0] == 0)
        {
            // Same shapes (a residual Add): one long row, cut into fixed blocks for both cores (elementwise, so the
            // bits do not depend on the cut).
            Kernels.Parallelism.ForRange(plan.Inner, (start, count) =>
                Row(kind, av.AsSpan(start, count), bv.AsSpan(start, count), yv.AsSpan(start, count)));
            return y;
        }
        for (int r = 0; r < plan.Rows; r++)
        {
            var dst = yv.AsSpan(r * plan.Inner, plan.Inner);
            int ao = plan.AOffsets[r], bo = plan.BOffsets[r];
            if (plan.AInner == 1 && plan.BInner == 1) Row(kind, av.AsSpan(ao, plan.Inner), bv.AsSpan(bo, plan.Inner), dst);
            else if (plan.AInner == 1) RowScalarRight(kind, av.AsSpan(ao, plan.Inner), bv[bo], dst);
            else if (plan.BInner == 1) RowScalarLeft(kind, av[ao], bv.AsSpan(bo, plan.Inner), dst);
            else dst.Fill(Scalar(kind, av[ao], bv[bo]));
        }
        return y;
    }

    private static void Row(BinaryKind kind, ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> y)
    {
        switch (kind)
        {
            case BinaryKind.Add: TensorPrimitives.Add(a, b, y); break;
            case BinaryKind.Sub: TensorPrimitives.Subtract(a, b, y); break;
            case BinaryKind.Mul: TensorPrimitives.Multiply(a, b, y); break;
            case BinaryKind.Div: TensorPrimitives.Divide(a, b, y); break;
            case BinaryKind.Max: TensorPrimitives.Max(a, b, y); break;
            case BinaryKind.Min: TensorPrimitives.Min(a, b, y); break;
            default: for (int i = 0; i < y.Length; i++) y[i] = Scalar(kind, a[i], b[i]); break;
        }
    }

    private static void RowScalarRight(BinaryKind kind, ReadOnlySpan<float> a, float b, Span<float> y)
    {
        switch (kind)
        {
            case BinaryKind.Add: TensorPrimitives.Add(a, b, y); break;
            case BinaryKind.Sub: TensorPrimitives.Subtract(a, b, y); break;
            case BinaryKind.Mul: TensorPrimitives.Multiply(a, b, y); break;
            case BinaryKind.Div: TensorPrimitives.Divide(a, b, y); break;
            default: for (int i = 0; i < y.Length; i++) y[i] = Scalar(kind, a[i], b); break;
        }
    }

    private static void RowScalarLeft(BinaryKind kind, float a, ReadOnlySpan<float> b, Span<float> y)
    {
        switch (kind)
        {
            case BinaryKind.Add: TensorPrimitives.Add(b, a, y); break;
            case BinaryKind.Sub: TensorPrimitives.Subtract(a, b, y); break;
            case BinaryKind.Mul: TensorPrimitives.Multiply(b, a, y); break;
            case BinaryKind.Div: TensorPrimitives.Divide(a, b, y); break;
            default: for (int i = 0; i < y.Length; i++) y[i] = Scalar(kind, a, b[i]); break;
        }
    }

    private static float Scalar(BinaryKind kind, float a, float b) => kind switch
    {
        BinaryKind.Add => a + b,
        BinaryKind.Sub => a - b,
        BinaryKind.Mul => a * b,
        BinaryKind.Div => a / b,
        BinaryKind.Pow => MathF.Pow(a, b),
        BinaryKind.Max => MathF.Max(a, b),
        _ => MathF.Min(a, b),
    };

    private static Tensor ApplyIntegers(Tensor a, Tensor b, BinaryKind kind, int[] outShape)
    {
        // Shape arithmetic (e.g. batch * channels) runs on int64; a float operand is truncated as ONNX Cast would.
        var al = a.AsLongs(); var bl = b.AsLongs();
        var y = new long[ShapeMath.Count(outShape)];
        if (y.Length == 0) return new Tensor(outShape, y);
        var plan = new BroadcastPlan(a.Shape, b.Shape, outShape);
        for (int r = 0; r < plan.Rows; r++)
        for (int i = 0; i < plan.Inner; i++)
        {
            long x = al[plan.AOffsets[r] + i * plan.AInner], z = bl[plan.BOffsets[r] + i * plan.BInner];
            y[r * plan.Inner + i] = kind switch
            {
                BinaryKind.Add => x + z,
                BinaryKind.Sub => x - z,
                BinaryKind.Mul => x * z,
                BinaryKind.Div => z == 0 ? throw new EngineException("Integer division by zero.") : x / z,
                BinaryKind.Pow => (long)Math.Pow(x, z),
                BinaryKind.Max => Math.Max(x, z),
                _ => Math.Min(x, z),
            };
        }
        return new Tensor(outShape, y);
    }

    /// <summary>Visits every output position of a broadcast of shapes a and b with the flat index it reads in each.</summary>
    public static void ForEach(int[] a, int[] b, int[] outShape, Action<int, int, int> visit)
    {
        if (ShapeMath.Count(outShape) == 0) return;
        var plan = new BroadcastPlan(a, b, outShape);
        for (int r = 0, o = 0; r < plan.Rows; r++)
        for (int i = 0; i < plan.Inner; i++, o++)
            visit(o, plan.AOffsets[r] + i * plan.AInner, plan.BOffsets[r] + i * plan.BInner);
    }

    /// <summary>Copies x broadcast to <paramref name="shape"/> (float or int64 storage kept).</summary>
    public static Tensor To(Tensor x, int[] shape)
    {
        if (ShapeMath.SameShape(x.Shape, shape)) return x;
        var outShape = ShapeMath.Broadcast(x.Shape, shape, "broadcast");
        if (x.IsInteger)
        {
            var longs = new long[ShapeMath.Count(outShape)];
            ForEach(x.Shape, outShape, outShape, (o, i, _) => longs[o] = x.Longs![i]);
            return new Tensor(outShape, longs);
        }
        var y = Tensor.Uninitialized(outShape);
        ForEach(x.Shape, outShape, outShape, (o, i, _) => y.Data[o] = x.Data[i]);
        return y;
    }

    /// <summary>target += sum of <paramref name="gradient"/> over the dimensions along which target was broadcast.</summary>
    public static void AccumulateReduced(ReadOnlySpan<float> gradient, int[] gradientShape, Span<float> target, int[] targetShape)
    {
        if (ShapeMath.SameShape(gradientShape, targetShape))
        {
            TensorPrimitives.Add(target, gradient, target);
            return;
        }
        if (gradient.Length == 0) return;
        var plan = new BroadcastPlan(targetShape, targetShape.Length == 0 ? [] : targetShape, gradientShape);
        for (int r = 0; r < plan.Rows; r++)
        {
            var row = gradient.Slice(r * plan.Inner, plan.Inner);
            int to = plan.AOffsets[r];
            if (plan.AInner == 1) TensorPrimitives.Add(target.Slice(to, plan.Inner), row, target.Slice(to, plan.Inner));
            else target[to] += TensorPrimitives.Sum(row);
        }
    }
}

/// <summary>
/// y = a ∘ b with broadcasting. Backward (before reducing over broadcast dimensions):
/// Add: da = dy, db = dy · Sub: da = dy, db = −dy · Mul: da = dy·b, db = dy·a ·
/// Div: da = dy/b, db = −dy·a/b² · Pow: da = dy·b·a^(b−1), db = dy·y·ln a · Max/Min: dy goes to the winner (a on ties).
/// </summary>
public sealed class Binary(BinaryKind kind) : Op
{
    public BinaryKind Kind => kind;

    public override Tensor[] Forward(Tensor?[] inputs, out object? saved)
    {
        saved = null;
        return [Broadcasting.Apply(Required(inputs, 0, kind.ToString()), Required(inputs, 1, kind.ToString()), kind, kind.ToString())];
    }

    public override void Backward(BackwardContext c)
    {
        var a = c.Inputs[0]!; var b = c.Inputs[1]!; var y = c.Outputs[0];
        var dy = c.OutputGradient();
        for (int side = 0; side < 2; side++)
        {
            if (!c.Wants(side)) continue;
            var shape = (side == 0 ? a : b).Shape;
            if (ShapeMath.SameShape(shape, y.Shape) && (kind == BinaryKind.Add || (kind == BinaryKind.Sub && side == 0)))
            {
                PassThrough.Gradient(c, side, dy); // dx = dy (+= when not first)
                continue;
            }
            if (ShapeMath.SameShape(shape, y.Shape) && kind == BinaryKind.Sub)
            {
                var target = c.GradientForWrite(side, out bool accumulate);
                if (!accumulate)
                {
                    // db = dy · −1 (the multiply the general path does), + 0 as adding into zeros would.
                    TensorPrimitives.Multiply(dy.Span, -1f, target.Span);
                    TensorPrimitives.Add(target.Span, 0f, target.Span);
                    continue;
                }
            }
            var local = LocalGradient(side, a, b, y, dy);
            Broadcasting.AccumulateReduced(local.Span, y.Shape, c.GradientOf(side).Span, shape);
        }
    }

    private Tensor LocalGradient(int side, Tensor a, Tensor b, Tensor y, Tensor dy)
    {
        switch (kind)
        {
            case BinaryKind.Add: return dy;
            case BinaryKind.Sub:
                return side == 0 ? dy : Broadcasting.Apply(dy, Tensor.Scalar(-1f), BinaryKind.Mul, "Sub");
            case BinaryKind.Mul:
                return Broadcasting.Apply(dy, side == 0 ? b : a, BinaryKind.Mul, "Mul");
            case BinaryKind.Div:
                if (side == 0) return Broadcasting.Apply(dy, b, BinaryKind.Div, "Div");
                // −dy·a/b² = −dy·y/b
                var t = Broadcasting.Apply(dy, y, BinaryKind.Mul, "Div");
                t = Broadcasting.Apply(t, b, BinaryKind.Div, "Div");
                TensorPrimitives.Negate(t.Span, t.Span);
                return t;
            default:
                return Elementwise(side, a, b, y, dy);
        }
    }

    /// <summary>Pow, Max and Min: local derivatives evaluated at each broadcast output position.</summary>
    private Tensor Elementwise(int side, Tensor a, Tensor b, Tensor y, Tensor dy)
    {
        var ab = Broadcasting.Apply(a, Tensor.Zeros(y.Shape), BinaryKind.Add, kind.ToString());
        var bb = Broadcasting.Apply(b, Tensor.Zeros(y.Shape), BinaryKind.Add, kind.ToString());
        var result = Tensor.Uninitialized(y.Shape);
        var av = ab.Span; var bv = bb.Span; var yv = y.Span; var g = dy.Span; var r = result.Span;
        for (int i = 0; i < r.Length; i++)
        {
            r[i] = kind switch
            {
                BinaryKind.Pow => side == 0 ? g[i] * bv[i] * MathF.Pow(av[i], bv[i] - 1f) : g[i] * yv[i] * MathF.Log(av[i]),
                BinaryKind.Max => side == 0 ? (av[i] >= bv[i] ? g[i] : 0f) : (av[i] >= bv[i] ? 0f : g[i]),
                _ => side == 0 ? (av[i] <= bv[i] ? g[i] : 0f) : (av[i] <= bv[i] ? 0f : g[i]),
            };
        }
        return result;
    }
}

/// <summary>y = Σ inputs (broadcast). Backward: each input gets dy summed over its broadcast dimensions.</summary>
public sealed class Sum : Op
{
    public override Tensor[] Forward(Tensor?[] inputs, out object? saved)
    {
        saved = null;
        var acc = Required(inputs, 0, "Sum");
        if (inputs.Length == 1) return [acc.Clone()];
        for (int i = 1; i < inputs.Length; i++) acc = Broadcasting.Apply(acc, Required(inputs, i, "Sum"), BinaryKind.Add, "Sum");
        return [acc];
    }

    public override void Backward(BackwardContext c)
    {
        var dy = c.OutputGradient();
        for (int i = 0; i < c.Inputs.Length; i++)
        {
            if (!c.Wants(i)) continue;
            if (ShapeMath.SameShape(c.Inputs[i]!.Shape, dy.Shape)) PassThrough.Gradient(c, i, dy);
            else Broadcasting.AccumulateReduced(dy.Span, dy.Shape, c.GradientOf(i).Span, c.Inputs[i]!.Shape);
        }
    }
}

/// <summary>Max/Min over any number of inputs, as a chain of broadcasting binary ops.</summary>
public sealed class Variadic(BinaryKind kind) : Op
{
    public override Tensor[] Forward(Tensor?[] inputs, out object? saved)
    {
        saved = null;
        var acc = Required(inputs, 0, kind.ToString());
        for (int i = 1; i < inputs.Length; i++) acc = Broadcasting.Apply(acc, Required(inputs, i, kind.ToString()), kind, kind.ToString());
        return [acc];
    }

    public override void Backward(BackwardContext c)
    {
        // dy goes to the first input that attains the extreme at each position.
        var y = c.Outputs[0]; var dy = c.OutputGradient();
        var claimed = new bool[y.Length];
        for (int i = 0; i < c.Inputs.Length; i++)
        {
            var x = Broadcasting.Apply(c.Inputs[i]!, Tensor.Zeros(y.Shape), BinaryKind.Add, kind.ToString());
            var local = Tensor.Zeros(y.Shape);
            for (int j = 0; j < y.Length; j++)
                if (!claimed[j] && x.Data[j] == y.Data[j]) { claimed[j] = true; local.Data[j] = dy.Data[j]; }
            if (c.Wants(i)) Broadcasting.AccumulateReduced(local.Span, y.Shape, c.GradientOf(i).Span, c.Inputs[i]!.Shape);
        }
    }
}

/// <summary>
/// Remainder with broadcasting. fmod = 0: the sign of the divisor (Python's %, integers); fmod = 1: the sign of the
/// dividend (C's fmod). Backward: da = dy, db = −dy · q with q = floor(a/b) or trunc(a/b), the quotient removed.
/// </summary>
public sealed class Mod(bool fmod) : Op
{
    public override Tensor[] Forward(Tensor?[] inputs, out object? saved)
    {
        var a = Required(inputs, 0, "Mod");
        var b = Required(inputs, 1, "Mod");
        var shape = ShapeMath.Broadcast(a.Shape, b.Shape, "Mod");
        saved = null;
        if (a.IsInteger && b.IsInteger)
        {
            var av = a.Longs!; var bv = b.Longs!;
            var y = new long[ShapeMath.Count(shape)];
            Broadcasting.ForEach(a.Shape, b.Shape, shape, (o, i, j) =>
            {
                long x = av[i], d = bv[j];
                if (d == 0) throw new EngineException("Mod: integer division by zero.");
                long r = x % d;
                if (!fmod && r != 0 && (r < 0) != (d < 0)) r += d;
                y[o] = r;
            });
            return [new Tensor(shape, y)];
        }
        var af = a.IsInteger ? a.AsFloats() : a.Data; var bf = b.IsInteger ? b.AsFloats() : b.Data;
        var result = Tensor.Uninitialized(shape);
        Broadcasting.ForEach(a.Shape, b.Shape, shape, (o, i, j) =>
        {
            float r = af[i] % bf[j];
            if (!fmod && r != 0 && (r < 0) != (bf[j] < 0)) r += bf[j];
            result.Data[o] = r;
        });
        return [result];
    }

    public override void Backward(BackwardContext c)
    {
        var a = c.Inputs[0]!; var b = c.Inputs[1]!; var dy = c.OutputGradient();
        if (c.Wants(0) && !a.IsInteger) Broadcasting.AccumulateReduced(dy.Span, dy.Shape, c.GradientOf(0).Span, a.Shape);
        if (c.Wants(1) && !b.IsInteger)
        {
            var af = a.AsFloats(); var bf = b.Data;
            var local = Tensor.Uninitialized(dy.Shape);
            Broadcasting.ForEach(a.Shape, b.Shape, dy.Shape, (o, i, j) =>
            {
                double q = (double)af[i] / bf[j];
                local.Data[o] = (float)(-dy.Data[o] * (fmod ? Math.Truncate(q) : Math.Floor(q)));
            });
            Broadcasting.AccumulateReduced(local.Span, dy.Shape, c.GradientOf(1).Span, b.Shape);
        }
    }
}

/// <summary>
/// y = x &lt; 0 ? slope·x : x, the slope broadcast to x (per channel: [C, 1, 1]). Backward: dx = dy · (x &lt; 0 ? slope : 1),
/// dslope = Σ dy·x over the negative positions, summed over the broadcast dimensions.
/// </summary>
public sealed class PRelu(bool channelSlope = false) : Op
{
    /// <summary>Before opset 7 a 1-D slope of length C applies per channel (axis 1), not along the last axis.</summary>
    private Tensor Slope(Tensor x, Tensor slope) =>
        channelSlope && slope.Rank == 1 && x.Rank > 2 && slope.Length == x.Shape[1] && slope.Length != x.Shape[^1]
            ? slope.Reshape(x.Shape.Skip(1).Select((d, i) => i == 0 ? d : 1).ToArray())
            : slope;

    public override Tensor[] Forward(Tensor?[] inputs, out object? saved)
    {
        var x = RequireFloat(inputs, 0, "PRelu");
        var slope = Slope(x, RequireFloat(inputs, 1, "PRelu"));
        var shape = ShapeMath.Broadcast(x.Shape, slope.Shape, "PRelu");
        var y = Tensor.Uninitialized(shape);
        Broadcasting.ForEach(x.Shape, slope.Shape, shape, (o, i, j) =>
        {
            float v = x.Data[i];
            y.Data[o] = v < 0f ? slope.Data[j] * v : v;
        });
        saved = null;
        return [y];
    }

    public override void Backward(BackwardContext c)
    {
        var x = c.Inputs[0]!; var slope = Slope(x, c.Inputs[1]!); var dy = c.OutputGradient();
        var dx = c.Wants(0) ? Tensor.Zeros(dy.Shape) : null;
        var ds = c.Wants(1) ? Tensor.Zeros(dy.Shape) : null;
        Broadcasting.ForEach(x.Shape, slope.Shape, dy.Shape, (o, i, j) =>
        {
            float v = x.Data[i], g = dy.Data[o];
            if (dx is not null) dx.Data[o] = v < 0f ? slope.Data[j] * g : g;
            if (ds is not null && v < 0f) ds.Data[o] = v * g;
        });
        if (dx is not null) Broadcasting.AccumulateReduced(dx.Span, dy.Shape, c.GradientOf(0).Span, x.Shape);
        if (ds is not null) Broadcasting.AccumulateReduced(ds.Span, dy.Shape, c.GradientOf(1).Span, slope.Shape);
    }
}

/// <summary>y = (Σ inputs) / count with broadcasting. Backward: each input gets dy/count summed over its broadcast dims.</summary>
public sealed class Mean : Op
{
    public override Tensor[] Forward(Tensor?[] inputs, out object? saved)
    {
        var sum = new Sum().Forward(inputs, out saved)[0];
        var y = Broadcasting.Apply(sum, Tensor.Scalar(inputs.Length), BinaryKind.Div, "Mean");
        return [y];
    }

    public override void Backward(BackwardContext c)
    {
        var dy = Broadcasting.Apply(c.OutputGradient(), Tensor.Scalar(c.Inputs.Length), BinaryKind.Div, "Mean");
        for (int i = 0; i < c.Inputs.Length; i++)
            if (c.Wants(i)) Broadcasting.AccumulateReduced(dy.Span, dy.Shape, c.GradientOf(i).Span, c.Inputs[i]!.Shape);
    }
}
