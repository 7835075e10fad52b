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

/// <summary>y = −x (int64 too, for shape arithmetic). Backward: dx −= dy.</summary>
public sealed class Neg : UnaryOp
{
    public override Tensor[] Forward(Tensor?[] inputs, out object? saved)
    {
        if (Required(inputs, 0, "Neg") is not { IsInteger: true } x) return base.Forward(inputs, out saved);
        saved = null;
        return [new Tensor(x.Shape, x.Longs!.Take(x.Length).Select(v => -v).ToArray())];
    }

    protected override void Apply(ReadOnlySpan<float> x, Span<float> y) => TensorPrimitives.Negate(x, y);
    protected override void Derive(ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx) =>
        TensorPrimitives.Subtract(dx, dy, dx);
}

/// <summary>y = |x| (int64 too). Backward: dx += dy · sign(x) (0 at 0).</summary>
public sealed class Abs : UnaryOp
{
    public override Tensor[] Forward(Tensor?[] inputs, out object? saved)
    {
        if (Required(inputs, 0, "Abs") is not { IsInteger: true } x) return base.Forward(inputs, out saved);
        saved = null;
        return [new Tensor(x.Shape, x.Longs!.Take(x.Length).Select(Math.Abs).ToArray())];
    }

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
        // Opset 12+ Dropout takes ratio (default 0.5) and training_mode as inputs 1 and 2; AdvVis always runs inference.
        // Training mode with ratio 0 drops nothing and scales by 1 (torchvision 0.14's Swin exports its attention
        // dropout that way), so it is the identity too.
        if (isDropout && inputs.Length > 2 && inputs[2] is { } training && training.AsLongs().FirstOrDefault() != 0
            && (inputs.Length < 2 || inputs[1] is not { } ratio || ratio.AsFloats().FirstOrDefault() != 0f))
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

/// <summary>y = x · relu6(x + 3)/6 (opset 14). Backward: dx += dy · (2x + 3)/6 inside (−3, 3), dy above 3.</summary>
public sealed class HardSwish : UnaryOp
{
    protected override void Apply(ReadOnlySpan<float> x, Span<float> y)
    {
        for (int i = 0; i < y.Length; i++) y[i] = x[i] * Math.Clamp(x[i] / 6f + 0.5f, 0f, 1f);
    }
    protected override void Derive(ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx)
    {
        // PyTorch's hardswish_backward: the boundaries −3 and 3 belong to the outer pieces.
        for (int i = 0; i < dx.Length; i++)
            dx[i] += x[i] < -3f ? 0f : x[i] <= 3f ? dy[i] * (x[i] / 3f + 0.5f) : dy[i];
    }
}

/// <summary>y = erf x. Backward: dx += dy · 2/√π · e^(−x²).</summary>
public sealed class Erf : UnaryOp
{
    protected override void Apply(ReadOnlySpan<float> x, Span<float> y)
    {
        for (int i = 0; i < y.Length; i++) y[i] = (float)SpecialFunctions.Erf(x[i]);
    }
    protected override void Derive(ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx)
    {
        for (int i = 0; i < dx.Length; i++) dx[i] += dy[i] * (float)(SpecialFunctions.TwoOverSqrtPi * Math.Exp(-(double)x[i] * x[i]));
    }
}

/// <summary>
/// Gelu (opset 20; also the com.microsoft contrib op's formula): y = x·Φ(x) = x/2·(1 + erf(x/√2)), or with
/// approximate = "tanh" y = x/2·(1 + tanh(√(2/π)(x + 0.044715x³))). Backward: the derivative of the chosen formula.
/// </summary>
public sealed class Gelu(bool tanhApproximation) : UnaryOp
{
    private const double Sqrt2OverPi = 0.79788456080286535588, Cubic = 0.044715;

    protected override void Apply(ReadOnlySpan<float> x, Span<float> y)
    {
        for (int i = 0; i < y.Length; i++)
        {
            double v = x[i];
            y[i] = (float)(tanhApproximation
                ? 0.5 * v * (1 + Math.Tanh(Sqrt2OverPi * (v + Cubic * v * v * v)))
                : 0.5 * v * (1 + SpecialFunctions.Erf(v / Math.Sqrt(2))));
        }
    }
    protected override void Derive(ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx)
    {
        for (int i = 0; i < dx.Length; i++)
        {
            double v = x[i], d;
            if (tanhApproximation)
            {
                double t = Math.Tanh(Sqrt2OverPi * (v + Cubic * v * v * v));
                d = 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * Sqrt2OverPi * (1 + 3 * Cubic * v * v);
            }
            else d = 0.5 * (1 + SpecialFunctions.Erf(v / Math.Sqrt(2))) + v * Math.Exp(-0.5 * v * v) / Math.Sqrt(2 * Math.PI);
            dx[i] += (float)(dy[i] * d);
        }
    }
}

/// <summary>y = x · tanh(softplus(x)). Backward: dx += dy · (tanh(sp) + x·sigmoid(x)·(1 − tanh²(sp))).</summary>
public sealed class Mish : UnaryOp
{
    private static double SoftplusOf(double v) => v > 20 ? v : Math.Log(1 + Math.Exp(v));

    protected override void Apply(ReadOnlySpan<float> x, Span<float> y)
    {
        for (int i = 0; i < y.Length; i++) y[i] = (float)(x[i] * Math.Tanh(SoftplusOf(x[i])));
    }
    protected override void Derive(ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx)
    {
        for (int i = 0; i < dx.Length; i++)
        {
            double v = x[i], t = Math.Tanh(SoftplusOf(v)), s = 1 / (1 + Math.Exp(-v));
            dx[i] += (float)(dy[i] * (t + v * s * (1 - t * t)));
        }
    }
}

/// <summary>y = γ·(x &gt; 0 ? x : α(e^x − 1)). Backward: dx += dy · γ·(x &gt; 0 ? 1 : αe^x).</summary>
public sealed class Selu(float alpha, float gamma) : UnaryOp
{
    protected override void Apply(ReadOnlySpan<float> x, Span<float> y)
    {
        for (int i = 0; i < y.Length; i++) y[i] = x[i] > 0f ? gamma * x[i] : gamma * alpha * (MathF.Exp(x[i]) - 1f);
    }
    protected override void Derive(ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx)
    {
        for (int i = 0; i < dx.Length; i++) dx[i] += x[i] > 0f ? gamma * dy[i] : dy[i] * gamma * alpha * MathF.Exp(x[i]);
    }
}

/// <summary>y = max(0, x) + min(0, α(e^(x/α) − 1)). Backward: dx += dy · (x &gt; 0 ? 1 : e^(x/α)).</summary>
public sealed class Celu(float alpha) : UnaryOp
{
    protected override void Apply(ReadOnlySpan<float> x, Span<float> y)
    {
        for (int i = 0; i < y.Length; i++) y[i] = x[i] > 0f ? x[i] : alpha * (MathF.Exp(x[i] / alpha) - 1f);
    }
    protected override void Derive(ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx)
    {
        for (int i = 0; i < dx.Length; i++) dx[i] += x[i] > 0f ? dy[i] : dy[i] * MathF.Exp(x[i] / alpha);
    }
}

/// <summary>y = x &gt; α ? x : 0. Backward: dx += dy where x &gt; α.</summary>
public sealed class ThresholdedRelu(float alpha) : UnaryOp
{
    protected override void Apply(ReadOnlySpan<float> x, Span<float> y)
    {
        for (int i = 0; i < y.Length; i++) y[i] = x[i] > alpha ? x[i] : 0f;
    }
    protected override void Derive(ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx)
    {
        for (int i = 0; i < dx.Length; i++) if (x[i] > alpha) dx[i] += dy[i];
    }
}

/// <summary>y = x / (1 + |x|). Backward: dx += dy / (1 + |x|)².</summary>
public sealed class Softsign : UnaryOp
{
    protected override void Apply(ReadOnlySpan<float> x, Span<float> y)
    {
        for (int i = 0; i < y.Length; i++) y[i] = x[i] / (1f + MathF.Abs(x[i]));
    }
    protected override void Derive(ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx)
    {
        for (int i = 0; i < dx.Length; i++) { float d = 1f + MathF.Abs(x[i]); dx[i] += dy[i] / (d * d); }
    }
}

/// <summary>y = sin x or cos x (runtime positional embeddings). Backward: dx += dy · cos x, or −dy · sin x.</summary>
public sealed class Trigonometric(bool cosine) : UnaryOp
{
    protected override void Apply(ReadOnlySpan<float> x, Span<float> y)
    {
        if (cosine) TensorPrimitives.Cos(x, y); else TensorPrimitives.Sin(x, y);
    }
    protected override void Derive(ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx)
    {
        for (int i = 0; i < dx.Length; i++) dx[i] += cosine ? -dy[i] * MathF.Sin(x[i]) : dy[i] * MathF.Cos(x[i]);
    }
}

public enum RoundingKind { Floor, Ceil, Round, Sign }

/// <summary>
/// Floor, Ceil, Round (half to even) and Sign: piecewise constant, so the gradient is 0 almost everywhere (as in
/// PyTorch). Integer inputs pass through unchanged (Sign maps them to −1/0/1).
/// </summary>
public sealed class Rounding(RoundingKind kind) : Op
{
    public override Tensor[] Forward(Tensor?[] inputs, out object? saved)
    {
        var x = Required(inputs, 0, kind.ToString());
        saved = null;
        if (x.IsInteger)
            return [kind == RoundingKind.Sign ? new Tensor(x.Shape, x.Longs!.Take(x.Length).Select(v => (long)Math.Sign(v)).ToArray()) : x];
        var y = Tensor.Uninitialized(x.Shape);
        var s = x.Span; var d = y.Span;
        for (int i = 0; i < d.Length; i++)
            d[i] = kind switch
            {
                RoundingKind.Floor => MathF.Floor(s[i]),
                RoundingKind.Ceil => MathF.Ceiling(s[i]),
                RoundingKind.Round => MathF.Round(s[i], MidpointRounding.ToEven),
                _ => float.IsNaN(s[i]) ? float.NaN : MathF.Sign(s[i]),
            };
        return [y];
    }

    public override void Backward(BackwardContext c)
    {
        if (c.Wants(0)) c.GradientOf(0); // zero almost everywhere: the buffer exists and stays zero
    }
}

/// <summary>Special functions the elementwise ops need, in double precision.</summary>
internal static class SpecialFunctions
{
    public const double TwoOverSqrtPi = 1.12837916709551257390;

    /// <summary>
    /// erf to about 1e-7 relative: its Maclaurin series below 0.5 (relative accuracy near 0, where erf ≈ 2x/√π), and
    /// above it 1 − erfc from the Chebyshev fit of Numerical Recipes' erfcc (fractional error under 1.2e-7).
    /// </summary>
    public static double Erf(double x)
    {
        if (double.IsNaN(x)) return x;
        double z = Math.Abs(x);
        if (z < 0.5)
        {
            // Σ (−1)^n x^(2n+1) / (n! (2n+1)); 10 terms leave under 1e-14 at |x| = 0.5.
            double x2 = x * x, term = x, sum = x;
            for (int n = 1; n < 10; n++)
            {
                term *= -x2 / n;
                sum += term / (2 * n + 1);
            }
            return TwoOverSqrtPi * sum;
        }
        if (z > 6) return Math.Sign(x);
        double t = 1 / (1 + 0.5 * z);
        double erfc = t * Math.Exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418
            + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
        return Math.Sign(x) * (1 - erfc);
    }
}
