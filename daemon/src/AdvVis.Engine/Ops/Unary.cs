// Elementwise unary operators. Each states y = f(x) and, beside it, dx += f'(x) * dy.
using System.Numerics.Tensors;

namespace AdvVis.Engine.Ops;

/// <summary>Shared shape of an elementwise op: one float input, one output of the same shape.</summary>
public abstract class UnaryOp : Op
{
    public override Tensor[] Forward(Tensor?[] inputs, out object? saved)
    {
        var x = RequireFloat(inputs, 0, GetType().Name);
        var y = Tensor.Uninitialized(x.Shape);
        Apply(x.Span, y.Span);
        saved = null;
        return [y];
    }

    public override void Backward(BackwardContext c)
    {
        if (!c.Wants(0)) return;
        Derive(c.Inputs[0]!.Span, c.Outputs[0].Span, c.OutputGradient().Span, c.GradientOf(0).Span);
    }

    protected abstract void Apply(ReadOnlySpan<float> x, Span<float> y);
    /// <summary>dx += f'(x) * dy, using whichever of x and y is cheaper.</summary>
    protected abstract void Derive(ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx);
}

/// <summary>y = max(x, 0). Backward: dx += dy · [x > 0] (the subgradient at 0 is 0, as in PyTorch).</summary>
public sealed class Relu : UnaryOp
{
    public override Tensor[] Forward(Tensor?[] inputs, out object? saved)
    {
        var x = RequireFloat(inputs, 0, "Relu");
        var y = Tensor.Uninitialized(x.Shape);
        Kernels.Parallelism.ForRange(x.Length, (s, n) => TensorPrimitives.Max(x.Data.AsSpan(s, n), 0f, y.Data.AsSpan(s, n)));
        saved = null;
        return [y];
    }

    public override void Backward(BackwardContext c)
    {
        if (!c.Wants(0)) return;
        var x = c.Inputs[0]!.Data; var dy = c.OutputGradient().Data;
        var g = c.GradientForWrite(0, out bool accumulate);
        var dx = g.Data;
        if (accumulate)
            Kernels.Parallelism.ForRange(g.Length, (s, n) => Kernels.Kernels.ReluBackward(x.AsSpan(s, n), dy.AsSpan(s, n), dx.AsSpan(s, n)));
        else
            Kernels.Parallelism.ForRange(g.Length, (s, n) => Kernels.Kernels.ReluBackwardAssign(x.AsSpan(s, n), dy.AsSpan(s, n), dx.AsSpan(s, n)));
    }

    protected override void Apply(ReadOnlySpan<float> x, Span<float> y) => TensorPrimitives.Max(x, 0f, y);
    protected override void Derive(ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx) =>
        Kernels.Kernels.ReluBackward(x, dy, dx);
}

/// <summary>y = x if x ≥ 0 else αx. Backward: dx += dy · (x > 0 ? 1 : α).</summary>
public sealed class LeakyRelu(float alpha) : UnaryOp
{
    protected override void Apply(ReadOnlySpan<float> x, Span<float> y)
    {
        for (int i = 0; i < y.Length; i++) y[i] = x[i] >= 0f ? x[i] : alpha * x[i];
    }
    protected override void Derive(ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx)
    {
        for (int i = 0; i < dx.Length; i++) dx[i] += x[i] > 0f ? dy[i] : alpha * dy[i];
    }
}

/// <summary>y = 1/(1+e^-x). Backward: dx += dy · y(1−y).</summary>
public sealed class Sigmoid : UnaryOp
{
    protected override void Apply(ReadOnlySpan<float> x, Span<float> y) => TensorPrimitives.Sigmoid(x, y);
    protected override void Derive(ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx)
    {
        for (int i = 0; i < dx.Length; i++) dx[i] += dy[i] * y[i] * (1f - y[i]);
    }
}

/// <summary>y = tanh x. Backward: dx += dy · (1 − y²).</summary>
public sealed class Tanh : UnaryOp
{
    protected override void Apply(ReadOnlySpan<float> x, Span<float> y) => TensorPrimitives.Tanh(x, y);
    protected override void Derive(ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx)
    {
        for (int i = 0; i < dx.Length; i++) dx[i] += dy[i] * (1f - y[i] * y[i]);
    }
}

/// <summary>y = e^x. Backward: dx += dy · y.</summary>
public sealed class Exp : UnaryOp
{
    protected override void Apply(ReadOnlySpan<float> x, Span<float> y) => TensorPrimitives.Exp(x, y);
    protected override void Derive(ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx)
    {
        for (int i = 0; i < dx.Length; i++) dx[i] += dy[i] * y[i];
    }
}

/// <summary>y = ln x. Backward: dx += dy / x.</summary>
public sealed class Log : UnaryOp
{
    protected override void Apply(ReadOnlySpan<float> x, Span<float> y) => TensorPrimitives.Log(x, y);
    protected override void Derive(ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx)
    {
        for (int i = 0; i < dx.Length; i++) dx[i] += dy[i] / x[i];
    }
}

/// <summary>y = −x. Backward: dx −= dy.</summary>
public sealed class Neg : UnaryOp
{
    protected override void Apply(ReadOnlySpan<float> x, Span<float> y) => TensorPrimitives.Negate(x, y);
    protected override void Derive(ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx) =>
        TensorPrimitives.Subtract(dx, dy, dx);
}

/// <summary>y = |x|. Backward: dx += dy · sign(x) (0 at 0).</summary>
public sealed class Abs : UnaryOp
{
    protected override void Apply(ReadOnlySpan<float> x, Span<float> y) => TensorPrimitives.Abs(x, y);
    protected override void Derive(ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx)
    {
        for (int i = 0; i < dx.Length; i++) dx[i] += x[i] > 0f ? dy[i] : x[i] < 0f ? -dy[i] : 0f;
    }
}

/// <summary>y = √x. Backward: dx += dy / (2y).</summary>
public sealed class Sqrt : UnaryOp
{
    protected override void Apply(ReadOnlySpan<float> x, Span<float> y) => TensorPrimitives.Sqrt(x, y);
    protected override void Derive(ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx)
    {
        for (int i = 0; i < dx.Length; i++) dx[i] += dy[i] / (2f * y[i]);
    }
}

/// <summary>y = 1/x. Backward: dx −= dy · y².</summary>
public sealed class Reciprocal : UnaryOp
{
    protected override void Apply(ReadOnlySpan<float> x, Span<float> y) => TensorPrimitives.Reciprocal(x, y);
    protected override void Derive(ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx)
    {
        for (int i = 0; i < dx.Length; i++) dx[i] -= dy[i] * y[i] * y[i];
    }
}

/// <summary>y = ln(1 + e^x). Backward: dx += dy · sigmoid(x).</summary>
public sealed class Softplus : UnaryOp
{
    protected override void Apply(ReadOnlySpan<float> x, Span<float> y)
    {
        for (int i = 0; i < y.Length; i++) y[i] = x[i] > 20f ? x[i] : MathF.Log(1f + MathF.Exp(x[i]));
    }
    protected override void Derive(ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx)
    {
        for (int i = 0; i < dx.Length; i++) dx[i] += dy[i] / (1f + MathF.Exp(-x[i]));
    }
}

/// <summary>y = x ≥ 0 ? x : α(e^x − 1). Backward: dx += dy · (x > 0 ? 1 : y + α).</summary>
public sealed class Elu(float alpha) : UnaryOp
{
    protected override void Apply(ReadOnlySpan<float> x, Span<float> y)
    {
        for (int i = 0; i < y.Length; i++) y[i] = x[i] >= 0f ? x[i] : alpha * (MathF.Exp(x[i]) - 1f);
    }
    protected override void Derive(ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx)
    {
        for (int i = 0; i < dx.Length; i++) dx[i] += x[i] > 0f ? dy[i] : dy[i] * (y[i] + alpha);
    }
}

/// <summary>y = max(0, min(1, αx + β)). Backward: dx += dy · α inside the linear part.</summary>
public sealed class HardSigmoid(float alpha, float beta) : UnaryOp
{
    protected override void Apply(ReadOnlySpan<float> x, Span<float> y)
    {
        for (int i = 0; i < y.Length; i++) y[i] = Math.Clamp(alpha * x[i] + beta, 0f, 1f);
    }
    protected override void Derive(ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx)
    {
        for (int i = 0; i < dx.Length; i++) { float v = alpha * x[i] + beta; if (v > 0f && v < 1f) dx[i] += alpha * dy[i]; }
    }
}

/// <summary>
/// y = min(max(x, lo), hi); opset 6 takes lo/hi as attributes, opset 11+ as optional inputs.
/// Backward: dx += dy where lo &lt; x &lt; hi (strict, as PyTorch's hardtanh/ReLU6, so the boundary passes nothing).
/// </summary>
public sealed class Clip(float attributeMin, float attributeMax) : Op
{
    /// <summary>The bounds in force for these inputs: the min/max inputs when given, else the attributes.</summary>
    public (float Lo, float Hi) Bounds(Tensor?[] inputs)
    {
        float lo = inputs.Length > 1 && inputs[1] is { } min ? min.AsFloats()[0] : attributeMin;
        float hi = inputs.Length > 2 && inputs[2] is { } max ? max.AsFloats()[0] : attributeMax;
        return (lo, hi);
    }

    public override Tensor[] Forward(Tensor?[] inputs, out object? saved)
    {
        var x = RequireFloat(inputs, 0, "Clip");
        var (lo, hi) = Bounds(inputs);
        var y = Tensor.Uninitialized(x.Shape);
        Kernels.Parallelism.ForRange(x.Length, (s, n) => Kernels.Kernels.Clip(x.Data.AsSpan(s, n), lo, hi, y.Data.AsSpan(s, n)));
        saved = null;
        return [y];
    }

    public override void Backward(BackwardContext c)
    {
        if (!c.Wants(0)) return;
        var (lo, hi) = Bounds(c.Inputs);
        var x = c.Inputs[0]!.Data; var dy = c.OutputGradient().Data;
        var g = c.GradientForWrite(0, out bool accumulate);
        var dx = g.Data;
        if (accumulate)
            Kernels.Parallelism.ForRange(g.Length, (s, n) => Kernels.Kernels.ClipBackward(x.AsSpan(s, n), lo, hi, dy.AsSpan(s, n), dx.AsSpan(s, n)));
        else
            Kernels.Parallelism.ForRange(g.Length, (s, n) => Kernels.Kernels.ClipBackwardAssign(x.AsSpan(s, n), lo, hi, dy.AsSpan(s, n), dx.AsSpan(s, n)));
    }
}

/// <summary>
/// Identity, inference-mode Dropout and float→float Cast: y = x. Backward: dx += dy.
/// Dropout's optional mask output is all ones in inference.
/// </summary>
public sealed class Identity(bool isDropout = false) : Op
{
    public override Tensor[] Forward(Tensor?[] inputs, out object? saved)
    {
        var x = Required(inputs, 0, isDropout ? "Dropout" : "Identity");
        saved = null;
        // Opset 12+ Dropout takes training_mode as input 2; AdvVis always runs inference.
        if (isDropout && inputs.Length > 2 && inputs[2] is { } training && training.AsLongs().FirstOrDefault() != 0)
            throw new UnsupportedFeatureException("Dropout in training mode is not supported; AdvVis runs models in inference mode.");
        if (!isDropout) return [x];
        var mask = new Tensor(x.Shape, Enumerable.Repeat(1L, x.Length).ToArray());
        return [x, mask];
    }

    public override void Backward(BackwardContext c)
    {
        if (c.Wants(0) && c.OutputGradients[0] is { } dy) PassThrough.Gradient(c, 0, dy);
    }
}

/// <summary>dx += dy for ops whose output has the input's values in the same layout (Identity, views, float Cast).</summary>
internal static class PassThrough
{
    public static void Gradient(BackwardContext c, int input, Tensor dy)
    {
        var dx = c.GradientForWrite(input, out bool accumulate).Data;
        var g = dy.Data;
        // First contributor: dx = dy + 0, the bits of adding dy into zeros (−0 becomes +0), without reading dx.
        // Elementwise, in fixed blocks for both cores.
        if (accumulate) Kernels.Parallelism.ForRange(dy.Length, (s, n) => TensorPrimitives.Add(dx.AsSpan(s, n), g.AsSpan(s, n), dx.AsSpan(s, n)));
        else Kernels.Parallelism.ForRange(dy.Length, (s, n) => TensorPrimitives.Add(g.AsSpan(s, n), 0f, dx.AsSpan(s, n)));
    }
}
