// Direct depthwise convolution of one channel plane (MobileNet's 3x3 convolutions): no im2col, SIMD along output rows.
// A strided row is first split into its stride phases (phase r holds pixels r, r+s, r+2s, ...), which turns every
// kernel tap into a contiguous multiply-add over a run of output columns, whatever the stride.
// Per output element the taps add up in the order kh, kw (skipping padding), exactly as the *Reference loops do.
namespace AdvVis.Kernels;

public static partial class Kernels
{
    [ThreadStatic] private static float[]? _depthwiseScratch;

    private static float[] Scratch(int length)
    {
        var s = _depthwiseScratch;
        if (s is null || s.Length < length) _depthwiseScratch = s = new float[Math.Max(length, 1024)];
        return s;
    }

    /// <summary>Output columns [lo, hi) whose input column ow·stride + offset falls inside [0, width).</summary>
    private static (int Lo, int Hi) ValidColumns(int offset, int stride, int width, int outWidth)
    {
        int lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
        int hi = width - offset <= 0 ? 0 : (width - offset + stride - 1) / stride;
        lo = Math.Min(lo, outWidth);
        hi = Math.Clamp(hi, lo, outWidth);
        return (lo, hi);
    }

    /// <summary>Splits row into its stride phases: phases[r * phaseLength + j] = row[j * stride + r].</summary>
    private static void SplitPhases(ReadOnlySpan<float> row, int stride, Span<float> phases, int phaseLength)
    {
        for (int r = 0; r < stride; r++)
        {
            var dst = phases.Slice(r * phaseLength, phaseLength);
            int j = 0;
            for (int iw = r; iw < row.Length; iw += stride, j++) dst[j] = row[iw];
        }
    }

    /// <summary>y[oh, ow] = Σ_{kh, kw} x[oh·sh − pt + kh·dh, ow·sw − pl + kw·dw] · k[kh, kw] over one plane.</summary>
    public static void DepthwiseConv(ReadOnlySpan<float> x, ReadOnlySpan<float> k, in ConvGeometry g, Span<float> y)
    {
        int sw = g.StrideW, phaseLength = (g.Width + sw - 1) / sw;
        var phases = sw == 1 ? Span<float>.Empty : Scratch(sw * phaseLength).AsSpan(0, sw * phaseLength);
        y = y[..(g.OutHeight * g.OutWidth)];
        y.Clear();
        for (int oh = 0; oh < g.OutHeight; oh++)
        {
            var yrow = y.Slice(oh * g.OutWidth, g.OutWidth);
            for (int kh = 0; kh < g.KernelH; kh++)
            {
                int ih = oh * g.StrideH - g.PadTop + kh * g.DilationH;
                if ((uint)ih >= (uint)g.Height) continue;
                var xrow = x.Slice(ih * g.Width, g.Width);
                if (sw != 1) SplitPhases(xrow, sw, phases, phaseLength);
                for (int kw = 0; kw < g.KernelW; kw++)
                {
                    int offset = kw * g.DilationW - g.PadLeft;
                    var (lo, hi) = ValidColumns(offset, sw, g.Width, g.OutWidth);
                    if (hi <= lo) continue;
                    float kv = k[kh * g.KernelW + kw];
                    if (sw == 1) MulAdd(xrow.Slice(lo + offset, hi - lo), kv, yrow[lo..hi]);
                    else
                    {
                        // iw = ow·s + offset = (ow + q)·s + r with 0 ≤ r < s.
                        int r = ((offset % sw) + sw) % sw, q = (offset - r) / sw;
                        MulAdd(phases.Slice(r * phaseLength + lo + q, hi - lo), kv, yrow[lo..hi]);
                    }
                }
            }
        }
    }

    public static void DepthwiseConvReference(ReadOnlySpan<float> x, ReadOnlySpan<float> k, in ConvGeometry g, Span<float> y)
    {
        for (int oh = 0; oh < g.OutHeight; oh++)
        for (int ow = 0; ow < g.OutWidth; ow++)
        {
            float sum = 0f;
            for (int kh = 0; kh < g.KernelH; kh++)
            {
                int ih = oh * g.StrideH - g.PadTop + kh * g.DilationH;
                if ((uint)ih >= (uint)g.Height) continue;
                for (int kw = 0; kw < g.KernelW; kw++)
                {
                    int iw = ow * g.StrideW - g.PadLeft + kw * g.DilationW;
                    if ((uint)iw < (uint)g.Width) sum += x[ih * g.Width + iw] * k[kh * g.KernelW + kw];
                }
            }
            y[oh * g.OutWidth + ow] = sum;
        }
    }

    /// <summary>
    /// dx[ih, iw] += Σ dy[oh, ow] · k[kh, kw] over the taps that read (ih, iw): each input row gathers its taps
    /// (kh, then kw) into a scratch row, which is then added to dx once.
    /// </summary>
    public static void DepthwiseConvBackwardInput(ReadOnlySpan<float> dy, ReadOnlySpan<float> k, in ConvGeometry g, Span<float> dx)
    {
        int sw = g.StrideW, phaseLength = (g.Width + sw - 1) / sw + 1;
        var acc = Scratch(sw * phaseLength).AsSpan(0, sw * phaseLength);
        for (int ih = 0; ih < g.Height; ih++)
        {
            acc.Clear();
            bool any = false;
            for (int kh = 0; kh < g.KernelH; kh++)
            {
                int t = ih + g.PadTop - kh * g.DilationH;
                if (t < 0 || t % g.StrideH != 0) continue;
                int oh = t / g.StrideH;
                if (oh >= g.OutHeight) continue;
                var dyrow = dy.Slice(oh * g.OutWidth, g.OutWidth);
                for (int kw = 0; kw < g.KernelW; kw++)
                {
                    int offset = kw * g.DilationW - g.PadLeft;
                    var (lo, hi) = ValidColumns(offset, sw, g.Width, g.OutWidth);
                    if (hi <= lo) continue;
                    int r = ((offset % sw) + sw) % sw, q = (offset - r) / sw;
                    MulAdd(dyrow[lo..hi], k[kh * g.KernelW + kw], acc.Slice(r * phaseLength + lo + q, hi - lo));
                    any = true;
                }
            }
            if (!any) continue;
            var dxrow = dx.Slice(ih * g.Width, g.Width);
            if (sw == 1) System.Numerics.Tensors.TensorPrimitives.Add(dxrow, acc[..g.Width], dxrow);
            else for (int iw = 0; iw < g.Width; iw++) dxrow[iw] += acc[iw % sw * phaseLength + iw / sw];
        }
    }

    public static void DepthwiseConvBackwardInputReference(ReadOnlySpan<float> dy, ReadOnlySpan<float> k, in ConvGeometry g, Span<float> dx)
    {
        var acc = new float[g.Width];
        for (int ih = 0; ih < g.Height; ih++)
        {
            Array.Clear(acc);
            bool any = false;
            for (int kh = 0; kh < g.KernelH; kh++)
            {
                int t = ih + g.PadTop - kh * g.DilationH;
                if (t < 0 || t % g.StrideH != 0 || t / g.StrideH >= g.OutHeight) continue;
                int oh = t / g.StrideH;
                for (int kw = 0; kw < g.KernelW; kw++)
                for (int ow = 0; ow < g.OutWidth; ow++)
                {
                    int iw = ow * g.StrideW - g.PadLeft + kw * g.DilationW;
                    if ((uint)iw >= (uint)g.Width) continue;
                    acc[iw] += dy[oh * g.OutWidth + ow] * k[kh * g.KernelW + kw];
                    any = true;
                }
            }
            if (!any) continue;
            for (int iw = 0; iw < g.Width; iw++) dx[ih * g.Width + iw] += acc[iw];
        }
    }

    /// <summary>dk[kh, kw] += Σ_{oh} Dot(x row segment, dy row) for one plane: one sum per tap, rows in order.</summary>
    public static void DepthwiseConvBackwardKernel(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, in ConvGeometry g, Span<float> dk)
    {
        int sw = g.StrideW, phaseLength = (g.Width + sw - 1) / sw;
        var phases = sw == 1 ? Span<float>.Empty : Scratch(sw * phaseLength).AsSpan(0, sw * phaseLength);
        Span<float> sums = g.KernelH * g.KernelW <= 64 ? stackalloc float[g.KernelH * g.KernelW] : new float[g.KernelH * g.KernelW];
        sums.Clear();
        for (int oh = 0; oh < g.OutHeight; oh++)
        {
            var dyrow = dy.Slice(oh * g.OutWidth, g.OutWidth);
            for (int kh = 0; kh < g.KernelH; kh++)
            {
                int ih = oh * g.StrideH - g.PadTop + kh * g.DilationH;
                if ((uint)ih >= (uint)g.Height) continue;
                var xrow = x.Slice(ih * g.Width, g.Width);
                if (sw != 1) SplitPhases(xrow, sw, phases, phaseLength);
                for (int kw = 0; kw < g.KernelW; kw++)
                {
                    int offset = kw * g.DilationW - g.PadLeft;
                    var (lo, hi) = ValidColumns(offset, sw, g.Width, g.OutWidth);
                    if (hi <= lo) continue;
                    int r = ((offset % sw) + sw) % sw, q = (offset - r) / sw;
                    var xs = sw == 1 ? xrow.Slice(lo + offset, hi - lo) : phases.Slice(r * phaseLength + lo + q, hi - lo);
                    sums[kh * g.KernelW + kw] += Dot(xs, dyrow[lo..hi]);
                }
            }
        }
        for (int t = 0; t < sums.Length; t++) dk[t] += sums[t];
    }

    public static void DepthwiseConvBackwardKernelReference(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, in ConvGeometry g, Span<float> dk)
    {
        var sums = new float[g.KernelH * g.KernelW];
        for (int oh = 0; oh < g.OutHeight; oh++)
        for (int kh = 0; kh < g.KernelH; kh++)
        {
            int ih = oh * g.StrideH - g.PadTop + kh * g.DilationH;
            if ((uint)ih >= (uint)g.Height) continue;
            for (int kw = 0; kw < g.KernelW; kw++)
            {
                var xs = new List<float>(); var ds = new List<float>();
                for (int ow = 0; ow < g.OutWidth; ow++)
                {
                    int iw = ow * g.StrideW - g.PadLeft + kw * g.DilationW;
                    if ((uint)iw < (uint)g.Width) { xs.Add(x[ih * g.Width + iw]); ds.Add(dy[oh * g.OutWidth + ow]); }
                }
                if (xs.Count > 0) sums[kh * g.KernelW + kw] += DotReference(xs.ToArray(), ds.ToArray());
            }
        }
        for (int t = 0; t < sums.Length; t++) dk[t] += sums[t];
    }
}
