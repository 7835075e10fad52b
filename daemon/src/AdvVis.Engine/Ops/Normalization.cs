// Normalisations: BatchNormalization (inference), LRN, Softmax and LogSoftmax.
using System.Numerics.Tensors;

namespace AdvVis.Engine.Ops;

/// <summary>
/// y = γ (x − μ)/√(σ² + ε) + β with running statistics (inference). Backward: dx = dy·γ/√(σ²+ε),
/// dγ = Σ dy·x̂, dβ = Σ dy. The running statistics are constants of the trained model and get no gradient.
/// </summary>
public sealed class BatchNormalization(float epsilon) : Op
{
    public override Tensor[] Forward(Tensor?[] inputs, out object? saved)
    {
        var x = RequireFloat(inputs, 0, "BatchNormalization");
        var scale = RequireFloat(inputs, 1, "BatchNormalization").Data;
        var bias = RequireFloat(inputs, 2, "BatchNormalization").Data;
        var mean = RequireFloat(inputs, 3, "BatchNormalization").Data;
        var variance = RequireFloat(inputs, 4, "BatchNormalization").Data;
        int n = x.Shape[0], c = x.Rank > 1 ? x.Shape[1] : 1, plane = x.Length / Math.Max(n * c, 1);
        var y = Tensor.Uninitialized(x.Shape);
        for (int i = 0; i < n; i++)
        for (int ch = 0; ch < c; ch++)
        {
            float inv = 1f / MathF.Sqrt(variance[ch] + epsilon);
            float a = scale[ch] * inv, b = bias[ch] - mean[ch] * a;
            var src = x.Data.AsSpan((i * c + ch) * plane, plane);
            var dst = y.Data.AsSpan((i * c + ch) * plane, plane);
            TensorPrimitives.Multiply(src, a, dst);
            TensorPrimitives.Add(dst, b, dst);
        }
        saved = null;
        return [y];
    }

    public override void Backward(BackwardContext ctx)
    {
        var x = ctx.Inputs[0]!;
        var scale = ctx.Inputs[1]!.Data; var mean = ctx.Inputs[3]!.Data; var variance = ctx.Inputs[4]!.Data;
        int n = x.Shape[0], c = x.Rank > 1 ? x.Shape[1] : 1, plane = x.Length / Math.Max(n * c, 1);
        var dy = ctx.OutputGradient().Data;
        // dx is asked for before dγ/dβ are done with: x ([N,C,...]) is never the same tensor as γ or β ([C]).
        bool accumulate = true;
        var dxAll = ctx.Wants(0) ? ctx.GradientForWrite(0, out accumulate).Data : null;
        for (int i = 0; i < n; i++)
        for (int ch = 0; ch < c; ch++)
        {
            float inv = 1f / MathF.Sqrt(variance[ch] + epsilon);
            var g = dy.AsSpan((i * c + ch) * plane, plane);
            if (dxAll is not null)
            {
                var dx = dxAll.AsSpan((i * c + ch) * plane, plane);
                // First contributor: zero the plane just before adding into it (in cache), the same bits as before.
                if (!accumulate) dx.Clear();
                TensorPrimitives.MultiplyAdd(g, scale[ch] * inv, dx, dx);
            }
            if (ctx.Wants(1))
            {
                var xs = x.Data.AsSpan((i * c + ch) * plane, plane);
                double sum = 0;
                for (int j = 0; j < plane; j++) sum += g[j] * (xs[j] - mean[ch]) * inv;
                ctx.GradientOf(1).Data[ch] += (float)sum;
            }
            if (ctx.Wants(2)) ctx.GradientOf(2).Data[ch] += TensorPrimitives.Sum(g);
        }
    }
}

/// <summary>
/// Local response normalisation across channels: y_c = x_c / s_c^β with s_c = bias + α/size · Σ_{c' near c} x_c'².
/// Backward: dx_j = dy_j s_j^−β − (2αβ/size) x_j Σ_{c: j near c} dy_c x_c s_c^(−β−1).
/// </summary>
public sealed class Lrn(int size, float alpha, float beta, float bias) : Op
{
    private int Before => (size - 1) / 2;
    private int After => size - 1 - (size - 1) / 2;

    public override Tensor[] Forward(Tensor?[] inputs, out object? saved)
    {
        var x = RequireFloat(inputs, 0, "LRN");
        var s = Scales(x);
        var y = Tensor.Uninitialized(x.Shape);
        for (int i = 0; i < y.Length; i++) y.Data[i] = x.Data[i] * MathF.Pow(s[i], -beta);
        saved = s;
        return [y];
    }

    private float[] Scales(Tensor x)
    {
        int n = x.Shape[0], c = x.Shape[1], plane = x.Length / Math.Max(n * c, 1);
        var s = new float[x.Length];
        for (int i = 0; i < n; i++)
        for (int ch = 0; ch < c; ch++)
        for (int p = 0; p < plane; p++)
        {
            float sum = 0f;
            for (int k = Math.Max(0, ch - Before); k <= Math.Min(c - 1, ch + After); k++)
            {
                float v = x.Data[(i * c + k) * plane + p];
                sum += v * v;
            }
            s[(i * c + ch) * plane + p] = bias + alpha / size * sum;
        }
        return s;
    }

    public override void Backward(BackwardContext ctx)
    {
        if (!ctx.Wants(0)) return;
        var x = ctx.Inputs[0]!; var s = (float[])ctx.Saved!;
        var dy = ctx.OutputGradient().Data; var dx = ctx.GradientOf(0).Data;
        int n = x.Shape[0], c = x.Shape[1], plane = x.Length / Math.Max(n * c, 1);
        var t = new float[x.Length];
        for (int i = 0; i < t.Length; i++) t[i] = dy[i] * x.Data[i] * MathF.Pow(s[i], -beta - 1f);
        float factor = 2f * alpha * beta / size;
        for (int i = 0; i < n; i++)
        for (int j = 0; j < c; j++)
        for (int p = 0; p < plane; p++)
        {
            int at = (i * c + j) * plane + p;
            float sum = 0f;
            // Channel j lies in the window of channel ch when ch − Before ≤ j ≤ ch + After.
            for (int ch = Math.Max(0, j - After); ch <= Math.Min(c - 1, j + Before); ch++)
                sum += t[(i * c + ch) * plane + p];
            dx[at] += dy[at] * MathF.Pow(s[at], -beta) - factor * x.Data[at] * sum;
        }
    }
}

/// <summary>
/// Softmax / LogSoftmax along an axis. Before opset 13 the input is viewed as 2-D [∏dims[:axis], ∏dims[axis:]].
/// Backward: softmax dx = y ⊙ (dy − Σ dy·y); log-softmax dx = dy − softmax · Σ dy.
/// </summary>
public sealed class Softmax(long axis, bool legacyCoerce, bool logarithmic) : Op
{
    private (int Outer, int Length, int Inner) Layout(int[] shape)
    {
        int a = ShapeMath.Axis(axis, shape.Length, logarithmic ? "LogSoftmax" : "Softmax");
        int outer = 1, length = 1, inner = 1;
        for (int i = 0; i < shape.Length; i++)
        {
            if (i < a) outer *= shape[i];
            else if (i == a || legacyCoerce) length *= shape[i];
            else inner *= shape[i];
        }
        return (outer, length, inner);
    }

    public override Tensor[] Forward(Tensor?[] inputs, out object? saved)
    {
        var x = RequireFloat(inputs, 0, logarithmic ? "LogSoftmax" : "Softmax");
        var (outer, length, inner) = Layout(x.Shape);
        var y = Tensor.Uninitialized(x.Shape);
        for (int o = 0; o < outer; o++)
        for (int i = 0; i < inner; i++)
        {
            int start = o * length * inner + i;
            float max = float.NegativeInfinity;
            for (int k = 0; k < length; k++) max = MathF.Max(max, x.Data[start + k * inner]);
            double sum = 0;
            for (int k = 0; k < length; k++) sum += MathF.Exp(x.Data[start + k * inner] - max);
            float logSum = (float)Math.Log(sum);
            for (int k = 0; k < length; k++)
            {
                float shifted = x.Data[start + k * inner] - max;
                y.Data[start + k * inner] = logarithmic ? shifted - logSum : (float)(Math.Exp(shifted) / sum);
            }
        }
        saved = null;
        return [y];
    }

    public override void Backward(BackwardContext c)
    {
        if (!c.Wants(0)) return;
        var y = c.Outputs[0];
        var dy = c.OutputGradient().Data; var dx = c.GradientOf(0).Data;
        var (outer, length, inner) = Layout(y.Shape);
        for (int o = 0; o < outer; o++)
        for (int i = 0; i < inner; i++)
        {
            int start = o * length * inner + i;
            double dot = 0;
            for (int k = 0; k < length; k++)
            {
                int at = start + k * inner;
                dot += logarithmic ? dy[at] : dy[at] * y.Data[at];
            }
            for (int k = 0; k < length; k++)
            {
                int at = start + k * inner;
                dx[at] += logarithmic
                    ? dy[at] - MathF.Exp(y.Data[at]) * (float)dot
                    : y.Data[at] * (dy[at] - (float)dot);
            }
        }
    }
}
