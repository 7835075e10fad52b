// Comparisons, boolean logic and selection. Booleans are int64 tensors holding 0 or 1 (what Cast to bool makes), so
// masks flow through the integer path of every layout op. Only Where passes a gradient, to the values it selected.
namespace AdvVis.Engine.Ops;

public enum CompareKind { Equal, Less, Greater, LessOrEqual, GreaterOrEqual }

/// <summary>Elementwise comparison with broadcasting; a bool (0/1 int64) result. Not differentiable.</summary>
public sealed class Compare(CompareKind kind) : Op
{
    public override bool IsDifferentiable => false;

    public override Tensor[] Forward(Tensor?[] inputs, out object? saved)
    {
        var a = Required(inputs, 0, kind.ToString());
        var b = Required(inputs, 1, kind.ToString());
        var shape = ShapeMath.Broadcast(a.Shape, b.Shape, kind.ToString());
        var y = new long[ShapeMath.Count(shape)];
        if (a.IsInteger && b.IsInteger)
        {
            var av = a.Longs!; var bv = b.Longs!;
            Broadcasting.ForEach(a.Shape, b.Shape, shape, (o, i, j) => y[o] = Holds(av[i].CompareTo(bv[j]), false) ? 1 : 0);
        }
        else
        {
            // Mixed storage compares as float, the type ONNX would require both operands to share.
            var av = a.IsInteger ? a.AsFloats() : a.Data; var bv = b.IsInteger ? b.AsFloats() : b.Data;
            Broadcasting.ForEach(a.Shape, b.Shape, shape, (o, i, j) =>
                y[o] = Holds(av[i].CompareTo(bv[j]), float.IsNaN(av[i]) || float.IsNaN(bv[j])) ? 1 : 0);
        }
        saved = null;
        return [new Tensor(shape, y)];
    }

    private bool Holds(int order, bool unordered) => !unordered && kind switch
    {
        CompareKind.Equal => order == 0,
        CompareKind.Less => order < 0,
        CompareKind.Greater => order > 0,
        CompareKind.LessOrEqual => order <= 0,
        _ => order >= 0,
    };
}

public enum LogicKind { And, Or, Xor }

/// <summary>And, Or, Xor on bools (any non-zero value is true), with broadcasting.</summary>
public sealed class Logical(LogicKind kind) : Op
{
    public override bool IsDifferentiable => false;

    public override Tensor[] Forward(Tensor?[] inputs, out object? saved)
    {
        var a = Required(inputs, 0, kind.ToString()).AsLongs();
        var b = Required(inputs, 1, kind.ToString()).AsLongs();
        var aShape = inputs[0]!.Shape; var bShape = inputs[1]!.Shape;
        var shape = ShapeMath.Broadcast(aShape, bShape, kind.ToString());
        var y = new long[ShapeMath.Count(shape)];
        Broadcasting.ForEach(aShape, bShape, shape, (o, i, j) =>
        {
            bool p = a[i] != 0, q = b[j] != 0;
            y[o] = (kind switch { LogicKind.And => p && q, LogicKind.Or => p || q, _ => p ^ q }) ? 1 : 0;
        });
        saved = null;
        return [new Tensor(shape, y)];
    }
}

/// <summary>Logical negation of a bool tensor.</summary>
public sealed class Not : Op
{
    public override bool IsDifferentiable => false;

    public override Tensor[] Forward(Tensor?[] inputs, out object? saved)
    {
        var x = Required(inputs, 0, "Not");
        saved = null;
        return [new Tensor(x.Shape, x.AsLongs().Select(v => v == 0 ? 1L : 0L).ToArray())];
    }
}

/// <summary>IsNaN or IsInf (detect_positive / detect_negative) on a float tensor, as bools.</summary>
public sealed class FloatClass(bool infinity, bool positive = true, bool negative = true) : Op
{
    public override bool IsDifferentiable => false;

    public override Tensor[] Forward(Tensor?[] inputs, out object? saved)
    {
        var x = Required(inputs, 0, infinity ? "IsInf" : "IsNaN");
        var v = x.AsFloats();
        saved = null;
        return [new Tensor(x.Shape, v.Select(f => (infinity
            ? (positive && float.IsPositiveInfinity(f)) || (negative && float.IsNegativeInfinity(f))
            : float.IsNaN(f)) ? 1L : 0L).ToArray())];
    }
}

/// <summary>
/// y = condition ? x : z with three-way broadcasting (float or int64 values). Backward: dy goes to x where the
/// condition holds and to z elsewhere, each summed over the dimensions along which it was broadcast.
/// </summary>
public sealed class Where : Op
{
    public override Tensor[] Forward(Tensor?[] inputs, out object? saved)
    {
        var condition = Required(inputs, 0, "Where");
        var x = Required(inputs, 1, "Where");
        var z = Required(inputs, 2, "Where");
        var shape = ShapeMath.Broadcast(ShapeMath.Broadcast(condition.Shape, x.Shape, "Where"), z.Shape, "Where");
        var c = Broadcasting.To(condition, shape).AsLongs();
        saved = null;
        if (x.IsInteger && z.IsInteger)
        {
            var xl = Broadcasting.To(x, shape).Longs!; var zl = Broadcasting.To(z, shape).Longs!;
            var y = new long[c.Length];
            for (int i = 0; i < y.Length; i++) y[i] = c[i] != 0 ? xl[i] : zl[i];
            return [new Tensor(shape, y)];
        }
        var xf = Floats(Broadcasting.To(x, shape)); var zf = Floats(Broadcasting.To(z, shape));
        var result = Tensor.Uninitialized(shape);
        for (int i = 0; i < c.Length; i++) result.Data[i] = c[i] != 0 ? xf[i] : zf[i];
        return [result];
    }

    private static float[] Floats(Tensor t) => t.IsInteger ? t.AsFloats() : t.Data;

    public override void Backward(BackwardContext ctx)
    {
        var dy = ctx.OutputGradient();
        var c = Broadcasting.To(ctx.Inputs[0]!, dy.Shape).AsLongs();
        for (int side = 1; side <= 2; side++)
        {
            if (!ctx.Wants(side) || ctx.Inputs[side]!.IsInteger) continue;
            var local = Tensor.Uninitialized(dy.Shape);
            bool selected = side == 1;
            for (int i = 0; i < c.Length; i++) local.Data[i] = (c[i] != 0) == selected ? dy.Data[i] : 0f;
            Broadcasting.AccumulateReduced(local.Span, dy.Shape, ctx.GradientOf(side).Span, ctx.Inputs[side]!.Shape);
        }
    }
}
