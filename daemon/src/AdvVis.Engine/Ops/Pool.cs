// Pooling: MaxPool (ties go to the first maximum in scan order), AveragePool, GlobalAveragePool, GlobalMaxPool.
// Backward: max routes dy to each window's first maximum (found again from x and y); average spreads dy evenly over the window it averaged.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using AdvVis.Kernels;

namespace AdvVis.Engine.Ops;

public sealed class MaxPool(WindowAttributes window, bool columnMajorIndices = false, bool wantsIndices = true) : Op
{
    private sealed record Saved(ConvGeometry Geometry, int Planes);

    public override Tensor[] Forward(Tensor?[] inputs, out object? saved)
    {
        var x = RequireFloat(inputs, 0, "MaxPool");
        var (g, outShape) = PoolGeometry.Make(x, window, "MaxPool");
        int planes = x.Shape[0] * x.Shape[1], outPlane = g.OutHeight * g.OutWidth;
        var y = Tensor.Uninitialized(outShape);
        long work = (long)planes * outPlane * g.KernelH * g.KernelW;
        saved = new Saved(g, planes);
        if (!wantsIndices)
        {
            // The usual node: only the values. Backward finds each window's winner again (see WinnerOf).
            // Small planes whose windows all lie inside (rows under 8 outputs wide) go through a table of window
            // origins and hardware gathers, 8 outputs at a time, instead of a scalar scan per window.
            if (g.OutWidth < 8 && AllWindowsInside(g) && Avx2.IsSupported && (long)g.Height * g.Width < int.MaxValue / 2)
            {
                var origins = WindowOrigins(g);
                Parallelism.For(planes, work, plane => MaxValuesGathered(x.Data, plane, g, origins, y.Data));
                return [y];
            }
            Parallelism.For(planes, work, plane => MaxValues(x.Data, plane, g, y.Data));
            return [y];
        }
        var indices = new long[planes * outPlane];
        Parallelism.For(planes, work, plane => MaxPlane(x.Data, plane, g, y.Data, indices));
        return [y, new Tensor(outShape, indices)];
    }

    /// <summary>
    /// One plane's window maxima, no positions: the first tap seeds the maximum and a later tap replaces it only when
    /// strictly greater (so a NaN first tap stays and a later NaN never wins), the rule of WinnerOf.
    /// </summary>
    private static unsafe void MaxValues(float[] xData, int plane, ConvGeometry g, float[] yData)
    {
        int inPlane = g.Height * g.Width, outPlane = g.OutHeight * g.OutWidth;
        fixed (float* px0 = xData, py0 = yData)
        {
            float* xs = px0 + (nint)plane * inPlane, ys = py0 + (nint)plane * outPlane;
            bool plain2x2 = g.KernelH == 2 && g.KernelW == 2 && g.DilationH == 1 && g.DilationW == 1;
            for (int oh = 0; oh < g.OutHeight; oh++)
            {
                int ih0 = oh * g.StrideH - g.PadTop;
                bool rowsInside = ih0 >= 0 && ih0 + (g.KernelH - 1) * g.DilationH < g.Height;
                float* yrow = ys + oh * g.OutWidth;
                int ow = 0;
                if (plain2x2 && rowsInside && g.StrideW == 2 && g.PadLeft == 0 && Avx2.IsSupported)
                {
                    // Eight outputs at a time: even and odd columns of both rows split out of 16 inputs each, then the
                    // scalar rule (replace only when strictly greater, taps in scan order) as lane-wise selects.
                    float* r0 = xs + ih0 * g.Width, r1 = r0 + g.Width;
                    for (; ow + 8 <= g.OutWidth && 2 * ow + 16 <= g.Width; ow += 8) MaxOf2x2(r0, r1, ow, yrow);
                    // The rest of a row of 8+ outputs: one more vector, ending at the last output (it recomputes a few
                    // outputs with the same values) instead of a scalar scan of each.
                    if (ow < g.OutWidth && g.OutWidth >= 8 && 2 * g.OutWidth <= g.Width)
                    {
                        MaxOf2x2(r0, r1, g.OutWidth - 8, yrow);
                        ow = g.OutWidth;
                    }
                }
                for (; ow < g.OutWidth; ow++)
                {
                    int iw0 = ow * g.StrideW - g.PadLeft;
                    if (plain2x2 && rowsInside && iw0 >= 0 && iw0 + 1 < g.Width)
                    {
                        float* w0 = xs + ih0 * g.Width + iw0;
                        float best = w0[0], v = w0[1];
                        best = v > best ? v : best; v = w0[g.Width];
                        best = v > best ? v : best; v = w0[g.Width + 1];
                        yrow[ow] = v > best ? v : best;
                    }
                    else
                    {
                        int winner = WinnerOf(xs, g, oh, ow, float.NaN, byValue: false);
                        yrow[ow] = winner >= 0 ? xs[winner] : float.NegativeInfinity;
                    }
                }
            }
        }
    }

    /// <summary>Outputs [ow, ow + 8) of a 2x2, stride-2 row: taps in scan order, a later one wins only when strictly greater.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void MaxOf2x2(float* r0, float* r1, int ow, float* yrow)
    {
        var (e0, o0) = EvenOdd(r0 + 2 * ow);
        var (e1, o1) = EvenOdd(r1 + 2 * ow);
        var best = e0;
        best = Vector256.ConditionalSelect(Vector256.GreaterThan(o0, best), o0, best);
        best = Vector256.ConditionalSelect(Vector256.GreaterThan(e1, best), e1, best);
        best = Vector256.ConditionalSelect(Vector256.GreaterThan(o1, best), o1, best);
        best.Store(yrow + ow);
    }

    /// <summary>Whether every window lies wholly inside the image (no padding is ever read).</summary>
    private static bool AllWindowsInside(in ConvGeometry g) =>
        g.PadTop == 0 && g.PadLeft == 0
        && (g.OutHeight - 1) * g.StrideH + (g.KernelH - 1) * g.DilationH < g.Height
        && (g.OutWidth - 1) * g.StrideW + (g.KernelW - 1) * g.DilationW < g.Width;

    /// <summary>Each output's window origin (its first tap) within the plane, padded to a whole number of 8.</summary>
    private static int[] WindowOrigins(in ConvGeometry g)
    {
        int outPlane = g.OutHeight * g.OutWidth;
        var origins = new int[(outPlane + 7) / 8 * 8];
        for (int q = 0; q < outPlane; q++)
            origins[q] = q / g.OutWidth * g.StrideH * g.Width + q % g.OutWidth * g.StrideW;
        return origins;
    }

    /// <summary>
    /// One plane's window maxima through gathers: for 8 outputs at a time, tap t of every window is one gather at the
    /// origins plus t's offset; the scalar rule (a later tap wins only when strictly greater) as lane-wise selects.
    /// </summary>
    private static unsafe void MaxValuesGathered(float[] xData, int plane, ConvGeometry g, int[] origins, float[] yData)
    {
        int inPlane = g.Height * g.Width, outPlane = g.OutHeight * g.OutWidth;
        fixed (float* px0 = xData, py0 = yData)
        fixed (int* po = origins)
        {
            float* xs = px0 + (nint)plane * inPlane, ys = py0 + (nint)plane * outPlane;
            int q = 0;
            for (; q + 8 <= outPlane; q += 8)
            {
                var at = Avx.LoadVector256(po + q);
                var best = Avx2.GatherVector256(xs, at, 4);
                for (int kh = 0; kh < g.KernelH; kh++)
                for (int kw = kh == 0 ? 1 : 0; kw < g.KernelW; kw++)
                {
                    var v = Avx2.GatherVector256(xs, Avx2.Add(at, Vector256.Create(kh * g.DilationH * g.Width + kw * g.DilationW)), 4);
                    best = Vector256.ConditionalSelect(Vector256.GreaterThan(v, best), v, best);
                }
                best.Store(ys + q);
            }
            for (; q < outPlane; q++)
            {
                float* w0 = xs + po[q];
                float best = w0[0];
                for (int kh = 0; kh < g.KernelH; kh++)
                for (int kw = kh == 0 ? 1 : 0; kw < g.KernelW; kw++)
                {
                    float v = w0[kh * g.DilationH * g.Width + kw * g.DilationW];
                    best = v > best ? v : best;
                }
                ys[q] = best;
            }
        }
    }

    /// <summary>Splits 16 consecutive floats into their even- and odd-indexed halves.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe (Vector256<float> Even, Vector256<float> Odd) EvenOdd(float* p)
    {
        var a = Avx.LoadVector256(p); var b = Avx.LoadVector256(p + 8);
        // Within each 128-bit half: [a0 a2 b0 b2 | a4 a6 b4 b6]; then the middle quarters swap places.
        var even = Avx2.Permute4x64(Avx.Shuffle(a, b, 0b10_00_10_00).AsDouble(), 0b11_01_10_00).AsSingle();
        var odd = Avx2.Permute4x64(Avx.Shuffle(a, b, 0b11_01_11_01).AsDouble(), 0b11_01_10_00).AsSingle();
        return (even, odd);
    }

    /// <summary>
    /// The winning tap's position in the plane (−1 for a window wholly in the padding): the first maximum in scan order.
    /// With <paramref name="byValue"/> it is found again from the window's known maximum: the first tap equal to it,
    /// or, for a NaN maximum, the first tap (only a NaN first tap survives as the maximum), which is the same tap.
    /// </summary>
    private static unsafe int WinnerOf(float* xs, in ConvGeometry g, int oh, int ow, float maximum, bool byValue)
    {
        int ih0 = oh * g.StrideH - g.PadTop, iw0 = ow * g.StrideW - g.PadLeft;
        bool nanMaximum = byValue && float.IsNaN(maximum);
        float best = float.NegativeInfinity;
        int bestIndex = -1;
        for (int kh = 0; kh < g.KernelH; kh++)
        {
            int ih = ih0 + kh * g.DilationH;
            if ((uint)ih >= (uint)g.Height) continue;
            float* row = xs + ih * g.Width;
            for (int kw = 0; kw < g.KernelW; kw++)
            {
                int iw = iw0 + kw * g.DilationW;
                if ((uint)iw >= (uint)g.Width) continue;
                float v = row[iw];
                if (byValue)
                {
                    if (nanMaximum || v == maximum) return ih * g.Width + iw;
                    continue;
                }
                if (bestIndex < 0 || v > best) { best = v; bestIndex = ih * g.Width + iw; }
            }
        }
        return bestIndex;
    }

    /// <summary>
    /// One plane with the ONNX Indices output: each window's maximum and its winner's position (flat over the tensor;
    /// column-major within the plane when storage_order is 1). Only nodes that declare Indices come here.
    /// </summary>
    private unsafe void MaxPlane(float[] xData, int plane, ConvGeometry g, float[] yData, long[] indices)
    {
        int inPlane = g.Height * g.Width, outPlane = g.OutHeight * g.OutWidth;
        fixed (float* px0 = xData)
        {
            float* xs = px0 + (nint)plane * inPlane;
            long planeBase = (long)plane * inPlane;
            for (int oh = 0; oh < g.OutHeight; oh++)
            for (int ow = 0; ow < g.OutWidth; ow++)
            {
                int winner = WinnerOf(xs, g, oh, ow, float.NaN, byValue: false);
                int o = plane * outPlane + oh * g.OutWidth + ow;
                yData[o] = winner >= 0 ? xs[winner] : float.NegativeInfinity;
                // storage_order 1 numbers positions column-major within each plane.
                int local = columnMajorIndices ? winner % g.Width * g.Height + winner / g.Width : winner;
                indices[o] = planeBase + local;
            }
        }
    }

    public override void Backward(BackwardContext c)
    {
        if (!c.Wants(0)) return;
        var s = (Saved)c.Saved!;
        var g = s.Geometry;
        int inPlane = g.Height * g.Width, outPlane = g.OutHeight * g.OutWidth;
        var x = c.Inputs[0]!.Data; var y = c.Outputs[0].Data;
        var dy = c.OutputGradient().Data; var dx = c.GradientForWrite(0, out bool accumulate).Data;
        // 2×2 windows at stride 2 inside the plane (the usual pooling layer): the same winner rule as WinnerOf written
        // out for four taps, without the generic window walk (half of an attack step's backward time went there).
        bool plain2x2 = g.KernelH == 2 && g.KernelW == 2 && g.StrideH == 2 && g.StrideW == 2 && g.DilationH == 1 && g.DilationW == 1 && AllWindowsInside(g);
        // Planes are disjoint in dx, and within a plane the outputs add in order: deterministic for any thread count.
        Parallelism.For(s.Planes, (long)s.Planes * outPlane * g.KernelH * g.KernelW, plane =>
        {
            // First contributor: zero the plane while it is about to be in cache, then scatter as usual.
            if (!accumulate) dx.AsSpan(plane * inPlane, inPlane).Clear();
            if (plain2x2)
            {
                Route2x2(x, y, dy, dx, plane, g);
                return;
            }
            unsafe
            {
                fixed (float* px = x)
                {
                    float* xs = px + (nint)plane * inPlane;
                    for (int oh = 0; oh < g.OutHeight; oh++)
                    for (int ow = 0; ow < g.OutWidth; ow++)
                    {
                        int o = plane * outPlane + oh * g.OutWidth + ow;
                        int winner = WinnerOf(xs, g, oh, ow, y[o], byValue: true);
                        if (winner >= 0) dx[plane * inPlane + winner] += dy[o];
                    }
                }
            }
        });
    }

    /// <summary>
    /// dy of one plane routed through 2×2 stride-2 windows that lie inside it: to the first tap (scan order) equal to
    /// the window's maximum, or the first tap when the maximum is NaN, exactly as <see cref="WinnerOf"/> decides.
    /// </summary>
    private static unsafe void Route2x2(float[] x, float[] y, float[] dy, float[] dx, int plane, in ConvGeometry g)
    {
        int width = g.Width, inPlane = g.Height * width, outPlane = g.OutHeight * g.OutWidth;
        fixed (float* px = x, py = y, pdy = dy, pdx = dx)
        {
            float* xs = px + (nint)plane * inPlane, dxs = pdx + (nint)plane * inPlane;
            float* ys = py + (nint)plane * outPlane, dys = pdy + (nint)plane * outPlane;
            for (int oh = 0; oh < g.OutHeight; oh++)
            {
                float* r0 = xs + 2 * oh * width, r1 = r0 + width, d0 = dxs + 2 * oh * width, d1 = d0 + width;
                float* yr = ys + oh * g.OutWidth, dyr = dys + oh * g.OutWidth;
                for (int ow = 0, iw = 0; ow < g.OutWidth; ow++, iw += 2)
                {
                    float m = yr[ow], grad = dyr[ow];
                    if (float.IsNaN(m) || r0[iw] == m) d0[iw] += grad;
                    else if (r0[iw + 1] == m) d0[iw + 1] += grad;
                    else if (r1[iw] == m) d1[iw] += grad;
                    else if (r1[iw + 1] == m) d1[iw + 1] += grad;
                }
            }
        }
    }
}

public sealed class AveragePool(WindowAttributes window, bool countIncludePad) : Op
{
    public override Tensor[] Forward(Tensor?[] inputs, out object? saved)
    {
        var x = RequireFloat(inputs, 0, "AveragePool");
        var (g, outShape) = PoolGeometry.Make(x, window, "AveragePool");
        int planes = x.Shape[0] * x.Shape[1], inPlane = g.Height * g.Width, outPlane = g.OutHeight * g.OutWidth;
        var divisors = Divisors(g);
        var y = Tensor.Uninitialized(outShape);
        Parallelism.For(planes, (long)planes * outPlane * g.KernelH * g.KernelW, plane =>
        {
            var xs = x.Data;
            int baseIndex = plane * inPlane;
            for (int oh = 0; oh < g.OutHeight; oh++)
            for (int ow = 0; ow < g.OutWidth; ow++)
            {
                float sum = 0f;
                ForEachTap(g, oh, ow, index => sum += xs[baseIndex + index]);
                y.Data[plane * outPlane + oh * g.OutWidth + ow] = sum / divisors[oh * g.OutWidth + ow];
            }
        });
        saved = divisors;
        return [y];
    }

    public override void Backward(BackwardContext c)
    {
        if (!c.Wants(0)) return;
        var x = c.Inputs[0]!;
        var (g, _) = PoolGeometry.Make(x, window, "AveragePool");
        var divisors = (float[])c.Saved!;
        int planes = x.Shape[0] * x.Shape[1], inPlane = g.Height * g.Width, outPlane = g.OutHeight * g.OutWidth;
        var dy = c.OutputGradient().Data; var dx = c.GradientOf(0).Data;
        for (int plane = 0; plane < planes; plane++)
        for (int oh = 0; oh < g.OutHeight; oh++)
        for (int ow = 0; ow < g.OutWidth; ow++)
        {
            float share = dy[plane * outPlane + oh * g.OutWidth + ow] / divisors[oh * g.OutWidth + ow];
            int baseIndex = plane * inPlane;
            ForEachTap(g, oh, ow, index => dx[baseIndex + index] += share);
        }
    }

    private static void ForEachTap(in ConvGeometry g, int oh, int ow, Action<int> tap)
    {
        for (int kh = 0; kh < g.KernelH; kh++)
        {
            int ih = oh * g.StrideH - g.PadTop + kh * g.DilationH;
            if ((uint)ih >= (uint)g.Height) continue;
            for (int kw = 0; kw < g.KernelW; kw++)
            {
                int iw = ow * g.StrideW - g.PadLeft + kw * g.DilationW;
                if ((uint)iw < (uint)g.Width) tap(ih * g.Width + iw);
            }
        }
    }

    /// <summary>
    /// Window sizes to divide by: the in-image taps, or (count_include_pad) the taps inside the padded image,
    /// never those a ceil-mode window hangs past the padding.
    /// </summary>
    private float[] Divisors(in ConvGeometry g)
    {
        int padBottom = window.Pads.Length >= 4 ? window.Pads[2] : window.Pads.Length == 2 ? window.Pads[1] : 0;
        int padRight = window.Pads.Length >= 4 ? window.Pads[3] : 0;
        var result = new float[g.OutHeight * g.OutWidth];
        for (int oh = 0; oh < g.OutHeight; oh++)
        for (int ow = 0; ow < g.OutWidth; ow++)
        {
            int count = 0;
            for (int kh = 0; kh < g.KernelH; kh++)
            {
                int ih = oh * g.StrideH - g.PadTop + kh * g.DilationH;
                bool inH = countIncludePad ? ih >= -g.PadTop && ih < g.Height + padBottom : (uint)ih < (uint)g.Height;
                if (!inH) continue;
                for (int kw = 0; kw < g.KernelW; kw++)
                {
                    int iw = ow * g.StrideW - g.PadLeft + kw * g.DilationW;
                    bool inW = countIncludePad ? iw >= -g.PadLeft && iw < g.Width + padRight : (uint)iw < (uint)g.Width;
                    if (inW) count++;
                }
            }
            result[oh * g.OutWidth + ow] = Math.Max(count, 1);
        }
        return result;
    }
}

internal static class PoolGeometry
{
    public static (ConvGeometry Geometry, int[] OutShape) Make(Tensor x, WindowAttributes window, string op)
    {
        if (x.Rank > 4) throw new UnsupportedFeatureException($"{op} on {x.Rank - 2}-D data is not supported (1-D and 2-D are).");
        if (x.Rank != 4 && x.Rank != 3) throw new EngineException($"{op} expects [N,C,H,W] or [N,C,W], got {ShapeMath.Text(x.Shape)}.");
        if (window.KernelShape is null) throw new EngineException($"{op} needs the kernel_shape attribute.");
        bool oneD = x.Rank == 3;
        var w2 = window.As2D(oneD ? 1 : 2);
        int h = oneD ? 1 : x.Shape[2], w = x.Shape[^1];
        var g = w2.Geometry(1, h, w, w2.KernelShape![0], w2.KernelShape[1], isPool: true);
        if (g.OutHeight <= 0 || g.OutWidth <= 0) throw new EngineException($"{op}: input {ShapeMath.Text(x.Shape)} is smaller than the window.");
        int[] outShape = oneD ? [x.Shape[0], x.Shape[1], g.OutWidth] : [x.Shape[0], x.Shape[1], g.OutHeight, g.OutWidth];
        return (g, outShape);
    }
}

/// <summary>y[n,c] = mean or max over all spatial positions of x[n,c]. Backward: spread evenly / route to the first max.</summary>
public sealed class GlobalPool(bool isMax) : Op
{
    public override Tensor[] Forward(Tensor?[] inputs, out object? saved)
    {
        var x = RequireFloat(inputs, 0, isMax ? "GlobalMaxPool" : "GlobalAveragePool");
        if (x.Rank < 3) throw new EngineException($"Global pooling expects [N,C,...], got {ShapeMath.Text(x.Shape)}.");
        int planes = x.Shape[0] * x.Shape[1], plane = x.Length / Math.Max(planes, 1);
        var outShape = x.Shape.Select((d, i) => i < 2 ? d : 1).ToArray();
        var y = Tensor.Uninitialized(outShape);
        var argMax = isMax ? new int[planes] : null;
        for (int p = 0; p < planes; p++)
        {
            var s = x.Data.AsSpan(p * plane, plane);
            if (isMax)
            {
                int best = 0;
                for (int i = 1; i < s.Length; i++) if (s[i] > s[best]) best = i;
                argMax![p] = best;
                y.Data[p] = s[best];
            }
            else y.Data[p] = System.Numerics.Tensors.TensorPrimitives.Sum(s) / plane;
        }
        saved = argMax;
        return [y];
    }

    public override void Backward(BackwardContext c)
    {
        if (!c.Wants(0)) return;
        var x = c.Inputs[0]!;
        int planes = x.Shape[0] * x.Shape[1], plane = x.Length / Math.Max(planes, 1);
        var dy = c.OutputGradient().Data;
        var argMax = (int[]?)c.Saved;
        if (argMax is null)
        {
            var dx = c.GradientForWrite(0, out bool accumulate).Data;
            for (int p = 0; p < planes; p++)
            {
                var d = dx.AsSpan(p * plane, plane);
                // First contributor: every element is 0 + dy/plane, the bits of adding into zeros.
                if (accumulate) System.Numerics.Tensors.TensorPrimitives.Add(d, dy[p] / plane, d);
                else d.Fill(0f + dy[p] / plane);
            }
            return;
        }
        var dxMax = c.GradientOf(0).Data;
        for (int p = 0; p < planes; p++) dxMax[p * plane + argMax[p]] += dy[p];
    }
}
