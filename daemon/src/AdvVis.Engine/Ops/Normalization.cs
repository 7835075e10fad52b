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

/// <summary>
/// Normalisation over rows: each row of x is standardised, x̂ = (x − μ)·r with r = 1/√(σ² + ε) (statistics in double),
/// then scaled and shifted. LayerNormalization's rows are the trailing axes from <c>axis</c>, with a scale per row
/// element; InstanceNormalization's are the spatial planes of each (image, channel), with a scale per channel.
/// Backward: with g = dy·γ, dx = r·(g − mean(g) − x̂·mean(g·x̂)); dγ = Σ dy·x̂ and dβ = Σ dy.
/// </summary>
internal static class RowNormalization
{
    public static void Forward(ReadOnlySpan<float> x, float epsilon, Span<float> y, out float mean, out float inverse,
        ReadOnlySpan<float> scale, ReadOnlySpan<float> bias, float scaleAll, float biasAll)
    {
        double sum = 0;
        foreach (var v in x) sum += v;
        double mu = sum / x.Length, squares = 0;
        foreach (var v in x) squares += (v - mu) * (v - mu);
        double r = 1 / Math.Sqrt(squares / x.Length + epsilon);
        for (int j = 0; j < x.Length; j++)
        {
            double normalized = (x[j] - mu) * r;
            y[j] = (float)(normalized * (scale.IsEmpty ? scaleAll : scale[j]) + (bias.IsEmpty ? biasAll : bias[j]));
        }
        mean = (float)mu; inverse = (float)r;
    }

    public static void Backward(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, float mean, float inverse,
        ReadOnlySpan<float> scale, float scaleAll, Span<float> dx, Span<float> dScale, Span<float> dBias, ref double dScaleAll, ref double dBiasAll)
    {
        int n = x.Length;
        double sumG = 0, sumGx = 0;
        for (int j = 0; j < n; j++)
        {
            double xh = (x[j] - mean) * (double)inverse, g = dy[j] * (double)(scale.IsEmpty ? scaleAll : scale[j]);
            sumG += g; sumGx += g * xh;
            if (!dScale.IsEmpty) dScale[j] += (float)(dy[j] * xh);
            else dScaleAll += dy[j] * xh;
            if (!dBias.IsEmpty) dBias[j] += dy[j];
            else dBiasAll += dy[j];
        }
        if (dx.IsEmpty) return;
        double meanG = sumG / n, meanGx = sumGx / n;
        for (int j = 0; j < n; j++)
        {
            double xh = (x[j] - mean) * (double)inverse, g = dy[j] * (double)(scale.IsEmpty ? scaleAll : scale[j]);
            dx[j] += (float)(inverse * (g - meanG - xh * meanGx));
        }
    }
}

/// <summary>
/// LayerNormalization (opset 17): rows are the axes from <c>axis</c> on; Scale (and the optional B) broadcast to the
/// row shape. The optional Mean and InvStdDev outputs have the row axes set to 1 (gradients flow through them too).
/// </summary>
public sealed class LayerNormalization(long axis, float epsilon) : Op
{
    private (int Rows, int Length, int[] RowShape) Layout(Tensor x)
    {
        int a = ShapeMath.Axis(axis, x.Rank, "LayerNormalization");
        var rowShape = x.Shape[a..];
        int length = ShapeMath.Count(rowShape);
        return (length == 0 ? 0 : x.Length / length, length, rowShape);
    }

    public override Tensor[] Forward(Tensor?[] inputs, out object? saved)
    {
        var x = RequireFloat(inputs, 0, "LayerNormalization");
        var (rows, length, rowShape) = Layout(x);
        var scale = Broadcasting.To(RequireFloat(inputs, 1, "LayerNormalization"), rowShape);
        var bias = inputs.Length > 2 && inputs[2] is { } b ? Broadcasting.To(b, rowShape) : null;
        if (scale.Length != length || bias is not null && bias.Length != length)
            throw new EngineException($"LayerNormalization: Scale/B do not broadcast to the normalised shape {ShapeMath.Text(rowShape)}.");
        var y = Tensor.Uninitialized(x.Shape);
        int a = x.Rank - rowShape.Length;
        var statShape = x.Shape.Select((d, i) => i < a ? d : 1).ToArray();
        var mean = new Tensor(statShape, new float[rows]);
        var inverse = new Tensor(statShape, new float[rows]);
        Kernels.Parallelism.For(rows, (long)rows * length * 8, r =>
            RowNormalization.Forward(x.Data.AsSpan(r * length, length), epsilon, y.Data.AsSpan(r * length, length),
                out mean.Data[r], out inverse.Data[r], scale.Data.AsSpan(0, length), bias is null ? default : bias.Data.AsSpan(0, length), 0f, 0f));
        // The statistics travel in saved too: nothing may read the optional outputs, so a pass need not keep them.
        saved = (mean.Data, inverse.Data);
        return [y, mean, inverse];
    }

    public override void Backward(BackwardContext c)
    {
        var x = c.Inputs[0]!;
        var (rows, length, rowShape) = Layout(x);
        var scaleInput = c.Inputs[1]!;
        var scale = Broadcasting.To(scaleInput, rowShape);
        var (mean, inverse) = ((float[], float[]))c.Saved!;
        var dy = c.OutputGradient().Data;
        var dx = c.Wants(0) ? c.GradientOf(0).Data : null;
        var dScale = c.Wants(1) ? new float[length] : null;
        bool hasBias = c.Inputs.Length > 2 && c.Inputs[2] is not null;
        var dBias = hasBias && c.Wants(2) ? new float[length] : null;
        var scratchScale = new float[length]; var scratchBias = new float[length];
        double unusedScale = 0, unusedBias = 0;
        for (int r = 0; r < rows; r++)
        {
            RowNormalization.Backward(x.Data.AsSpan(r * length, length), dy.AsSpan(r * length, length), mean[r], inverse[r],
                scale.Data.AsSpan(0, length), 0f, dx is null ? default : dx.AsSpan(r * length, length),
                dScale ?? scratchScale, dBias ?? scratchBias, ref unusedScale, ref unusedBias);
        }
        // The optional statistics outputs: dμ/dx_j = 1/n and dr/dx_j = −r³(x_j − μ)/n.
        var dMean = c.OutputGradients.Length > 1 ? c.OutputGradients[1] : null;
        var dInverse = c.OutputGradients.Length > 2 ? c.OutputGradients[2] : null;
        if (dx is not null && (dMean is not null || dInverse is not null))
            for (int r = 0; r < rows; r++)
            {
                double gm = dMean?.Data[r] ?? 0, gr = dInverse?.Data[r] ?? 0, cube = (double)inverse[r] * inverse[r] * inverse[r];
                for (int j = 0; j < length; j++)
                    dx[r * length + j] += (float)((gm - gr * cube * (x.Data[r * length + j] - mean[r])) / length);
            }
        if (dScale is not null) Broadcasting.AccumulateReduced(dScale, rowShape, c.GradientOf(1).Span, scaleInput.Shape);
        if (dBias is not null) Broadcasting.AccumulateReduced(dBias, rowShape, c.GradientOf(2).Span, c.Inputs[2]!.Shape);
    }
}

/// <summary>InstanceNormalization: each (image, channel) plane standardised over its spatial positions, then γ_c·x̂ + β_c.</summary>
public sealed class InstanceNormalization(float epsilon) : Op
{
    public override Tensor[] Forward(Tensor?[] inputs, out object? saved)
    {
        var x = RequireFloat(inputs, 0, "InstanceNormalization");
        var scale = RequireFloat(inputs, 1, "InstanceNormalization").Data;
        var bias = RequireFloat(inputs, 2, "InstanceNormalization").Data;
        if (x.Rank < 3) throw new EngineException($"InstanceNormalization expects [N,C,...], got {ShapeMath.Text(x.Shape)}.");
        int channels = x.Shape[1], planes = x.Shape[0] * channels, plane = planes == 0 ? 0 : x.Length / planes;
        var y = Tensor.Uninitialized(x.Shape);
        var stats = new float[2 * planes];
        Kernels.Parallelism.For(planes, (long)x.Length * 8, p =>
            RowNormalization.Forward(x.Data.AsSpan(p * plane, plane), epsilon, y.Data.AsSpan(p * plane, plane),
                out stats[2 * p], out stats[2 * p + 1], default, default, scale[p % channels], bias[p % channels]));
        saved = stats;
        return [y];
    }

    public override void Backward(BackwardContext c)
    {
        var x = c.Inputs[0]!; var scale = c.Inputs[1]!.Data;
        var stats = (float[])c.Saved!;
        int channels = x.Shape[1], planes = x.Shape[0] * channels, plane = planes == 0 ? 0 : x.Length / planes;
        var dy = c.OutputGradient().Data;
        var dx = c.Wants(0) ? c.GradientOf(0).Data : null;
        var dScale = new double[channels]; var dBias = new double[channels];
        for (int p = 0; p < planes; p++)
        {
            int ch = p % channels;
            RowNormalization.Backward(x.Data.AsSpan(p * plane, plane), dy.AsSpan(p * plane, plane), stats[2 * p], stats[2 * p + 1],
                default, scale[ch], dx is null ? default : dx.AsSpan(p * plane, plane), default, default, ref dScale[ch], ref dBias[ch]);
        }
        if (c.Wants(1)) { var g = c.GradientOf(1).Data; for (int ch = 0; ch < channels; ch++) g[ch] += (float)dScale[ch]; }
        if (c.Wants(2)) { var g = c.GradientOf(2).Data; for (int ch = 0; ch < channels; ch++) g[ch] += (float)dBias[ch]; }
    }
}
