// Direct depthwise convolution of one channel plane (MobileNet's 3x3 convolutions): no im2col, SIMD along output rows.
// A strided row is first split into its stride phases (phase r holds pixels r, r+s, r+2s, ...), which turns every
// kernel tap into a contiguous multiply-add over a run of output columns, whatever the stride.
// Per output element the taps add up in the order kh, kw (skipping padding), exactly as the *Reference loops do.
using System.Runtime.Intrinsics;

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

    /// <summary>
    /// y[oh, ow] = Σ_{kh, kw} x[oh·sh − pt + kh·dh, ow·sw − pl + kw·dw] · k[kh, kw] over one plane.
    /// The plane is first copied into a zero-padded scratch (each row split into its stride phases), so every tap of
    /// a run of output columns is one contiguous vector load; each output vector adds its taps in registers.
    /// Padding taps add 0·k, which leaves every sum unchanged, so the result equals the reference, which skips them.
    /// </summary>
    public static unsafe void DepthwiseConv(ReadOnlySpan<float> x, ReadOnlySpan<float> k, in ConvGeometry g, Span<float> y)
    {
        int sw = g.StrideW, ow = g.OutWidth, taps = g.KernelH * g.KernelW;
        // Phase r of padded row p holds p[j·s + r]; tap kw reads phase (kw·d) mod s from (kw·d) div s + ow.
        int phaseLength = ow + ((g.KernelW - 1) * g.DilationW) / sw + 1;
        int rowLength = sw * phaseLength;
        var scratch = Scratch(g.Height * rowLength + taps * 2);
        if (y.Length < g.OutHeight * ow || x.Length < g.Height * g.Width || k.Length < taps) throw new ArgumentException("Buffer too small for the geometry.");
        fixed (float* px = x, pk = k, py = y, ps = scratch)
        {
            int* tapOffset = stackalloc int[g.KernelW];
            for (int kw = 0; kw < g.KernelW; kw++)
            {
                int o = kw * g.DilationW;
                tapOffset[kw] = o % sw * phaseLength + o / sw;
            }
            // Padded, phase-split copy of the plane.
            for (int ih = 0; ih < g.Height; ih++)
            {
                float* dst = ps + (nint)ih * rowLength;
                float* src = px + (nint)ih * g.Width;
                for (int r = 0; r < sw; r++)
                {
                    float* phase = dst + r * phaseLength;
                    for (int j = 0; j < phaseLength; j++)
                    {
                        int iw = j * sw + r - g.PadLeft;
                        phase[j] = (uint)iw < (uint)g.Width ? src[iw] : 0f;
                    }
                }
            }
            float** rows = stackalloc float*[g.KernelH];
            int* kOf = stackalloc int[g.KernelH];
            for (int oh = 0; oh < g.OutHeight; oh++)
            {
                // The input rows this output row reads (rows in the vertical padding are skipped, as in the reference).
                int valid = 0;
                for (int kh = 0; kh < g.KernelH; kh++)
                {
                    int ih = oh * g.StrideH - g.PadTop + kh * g.DilationH;
                    if ((uint)ih >= (uint)g.Height) continue;
                    rows[valid] = ps + (nint)ih * rowLength;
                    kOf[valid++] = kh * g.KernelW;
                }
                float* yrow = py + (nint)oh * ow;
                int j0 = 0;
                if (Use512)
                {
                    for (; j0 + 16 <= ow; j0 += 16)
                    {
                        var acc = Vector512<float>.Zero;
                        for (int v = 0; v < valid; v++)
                        {
                            float* row = rows[v] + j0; float* kk = pk + kOf[v];
                            for (int kw = 0; kw < g.KernelW; kw++) acc += Vector512.Load(row + tapOffset[kw]) * Vector512.Create(kk[kw]);
                        }
                        acc.Store(yrow + j0);
                    }
                }
                if (Use256)
                {
                    for (; j0 + 8 <= ow; j0 += 8)
                    {
                        var acc = Vector256<float>.Zero;
                        for (int v = 0; v < valid; v++)
                        {
                            float* row = rows[v] + j0; float* kk = pk + kOf[v];
                            for (int kw = 0; kw < g.KernelW; kw++) acc += Vector256.Load(row + tapOffset[kw]) * Vector256.Create(kk[kw]);
                        }
                        acc.Store(yrow + j0);
                    }
                }
                for (; j0 < ow; j0++)
                {
                    float acc = 0f;
                    for (int v = 0; v < valid; v++)
                    {
                        float* row = rows[v] + j0; float* kk = pk + kOf[v];
                        for (int kw = 0; kw < g.KernelW; kw++) acc += row[tapOffset[kw]] * kk[kw];
                    }
                    yrow[j0] = acc;
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
    /// dx[ih, iw] += Σ_{kh, kw} dy[oh, ow] · k[kh, kw] over the taps that read (ih, iw), summed kh then kw per input
    /// row and then added to dx once (rows no tap reads are left alone). dy rows are first spread into a zero-filled,
    /// padded scratch (dy[oh, ow] at column ow·sw + offset), so each tap is one contiguous vector load per run of dx;
    /// the zeros add 0·k and change no sum.
    /// </summary>
    public static unsafe void DepthwiseConvBackwardInput(ReadOnlySpan<float> dy, ReadOnlySpan<float> k, in ConvGeometry g, Span<float> dx)
    {
        int sw = g.StrideW, span = (g.KernelW - 1) * g.DilationW;
        // Spread row: z[t + lead] = dy[oh, t / sw] when t = iw + pl − kw·d is a multiple of sw inside the output.
        int lead = span;
        int rowLength = g.Width + g.PadLeft + lead + 1;
        var scratch = Scratch(g.OutHeight * rowLength);
        if (dy.Length < g.OutHeight * g.OutWidth || dx.Length < g.Height * g.Width || k.Length < g.KernelH * g.KernelW) throw new ArgumentException("Buffer too small for the geometry.");
        fixed (float* pdy = dy, pk = k, pdx = dx, ps = scratch)
        {
            for (int oh = 0; oh < g.OutHeight; oh++)
            {
                float* z = ps + (nint)oh * rowLength;
                new Span<float>(z, rowLength).Clear();
                for (int o = 0; o < g.OutWidth; o++)
                {
                    int t = o * sw + lead;
                    if (t < rowLength) z[t] = pdy[(nint)oh * g.OutWidth + o];
                }
            }
            // Tap kw of dx column iw reads z[iw + pl − kw·d + lead].
            int* tapOffset = stackalloc int[g.KernelW];
            for (int kw = 0; kw < g.KernelW; kw++) tapOffset[kw] = g.PadLeft - kw * g.DilationW + lead;
            float** rows = stackalloc float*[g.KernelH];
            int* kOf = stackalloc int[g.KernelH];
            int w = g.Width;
            for (int ih = 0; ih < g.Height; ih++)
            {
                int valid = 0;
                for (int kh = 0; kh < g.KernelH; kh++)
                {
                    int t = ih + g.PadTop - kh * g.DilationH;
                    if (t < 0 || t % g.StrideH != 0 || t / g.StrideH >= g.OutHeight) continue;
                    rows[valid] = ps + (nint)(t / g.StrideH) * rowLength;
                    kOf[valid++] = kh * g.KernelW;
                }
                if (valid == 0) continue;
                float* dxrow = pdx + (nint)ih * w;
                int j0 = 0;
                if (Use512)
                {
                    for (; j0 + 16 <= w; j0 += 16)
                    {
                        var acc = Vector512<float>.Zero;
                        for (int v = 0; v < valid; v++)
                        {
                            float* row = rows[v] + j0; float* kk = pk + kOf[v];
                            for (int kw = 0; kw < g.KernelW; kw++) acc += Vector512.Load(row + tapOffset[kw]) * Vector512.Create(kk[kw]);
                        }
                        (Vector512.Load(dxrow + j0) + acc).Store(dxrow + j0);
                    }
                }
                if (Use256)
                {
                    for (; j0 + 8 <= w; j0 += 8)
                    {
                        var acc = Vector256<float>.Zero;
                        for (int v = 0; v < valid; v++)
                        {
                            float* row = rows[v] + j0; float* kk = pk + kOf[v];
                            for (int kw = 0; kw < g.KernelW; kw++) acc += Vector256.Load(row + tapOffset[kw]) * Vector256.Create(kk[kw]);
                        }
                        (Vector256.Load(dxrow + j0) + acc).Store(dxrow + j0);
                    }
                }
                for (; j0 < w; j0++)
                {
                    float acc = 0f;
                    for (int v = 0; v < valid; v++)
                    {
                        float* row = rows[v] + j0; float* kk = pk + kOf[v];
                        for (int kw = 0; kw < g.KernelW; kw++) acc += row[tapOffset[kw]] * kk[kw];
                    }
                    dxrow[j0] += acc;
                }
            }
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
                any = true;
                for (int kw = 0; kw < g.KernelW; kw++)
                for (int ow = 0; ow < g.OutWidth; ow++)
                {
                    int iw = ow * g.StrideW - g.PadLeft + kw * g.DilationW;
                    if ((uint)iw >= (uint)g.Width) continue;
                    acc[iw] += dy[oh * g.OutWidth + ow] * k[kh * g.KernelW + kw];
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
