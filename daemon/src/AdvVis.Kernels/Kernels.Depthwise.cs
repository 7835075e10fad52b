// Direct depthwise convolution of one channel plane (MobileNet's 3x3 convolutions): no im2col, SIMD over the whole plane.
// A strided plane is first split into its stride phases (phase (a, b) holds pixels (r·sh + a, c·sw + b)), which turns
// every kernel tap into a contiguous multiply-add over the plane's outputs, whatever the stride.
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
    /// The zero-padded plane is first split into its sh x sw stride phases (phase (a, b) holds padded pixel
    /// (r·sh + a, c·sw + b) at row r, column c). Then every tap reads one phase at a fixed offset from the output's
    /// position, and the plane's outputs, laid out on the phases' row pitch, are computed as one flat run of vectors: rows
    /// of 7 or 14 outputs fill vectors as well as rows of 112 do. The columns past each output row are computed and
    /// dropped. Padding taps add 0·k, which leaves every sum unchanged, so the result equals the reference, which skips them.
    /// </summary>
    public static unsafe void DepthwiseConv(ReadOnlySpan<float> x, ReadOnlySpan<float> k, in ConvGeometry g, Span<float> y)
    {
        if (y.Length < g.OutHeight * g.OutWidth || x.Length < g.Height * g.Width || k.Length < g.KernelH * g.KernelW)
            throw new ArgumentException("Buffer too small for the geometry.");
        int sh = g.StrideH, sw = g.StrideW, taps = g.KernelH * g.KernelW;
        // Padded rows and columns the windows reach, and each phase's extent (every phase gets the largest).
        int spanH = (g.OutHeight - 1) * sh + (g.KernelH - 1) * g.DilationH + 1;
        int spanW = (g.OutWidth - 1) * sw + (g.KernelW - 1) * g.DilationW + 1;
        int pitch = (spanW + sw - 1) / sw, phaseRows = (spanH + sh - 1) / sh;
        int phaseSize = phaseRows * pitch + Slack;
        // Outputs q = oh·pitch + ow for q in [0, flat): the last row ends at its last real column.
        int flat = (g.OutHeight - 1) * pitch + g.OutWidth;
        var scratch = Scratch(sh * sw * phaseSize + flat + Slack + taps);
        fixed (float* px = x, pk = k, py = y, ps = scratch)
        {
            SplitPaddedPhases(px, g.Height, g.Width, g.PadTop, g.PadLeft, spanH, spanW, sh, sw, pitch, phaseSize, ps);
            // Tap t reads phase ((kh·dh) mod sh, (kw·dw) mod sw) at q + (kh·dh div sh)·pitch + kw·dw div sw.
            float** source = stackalloc float*[taps];
            for (int kh = 0; kh < g.KernelH; kh++)
            for (int kw = 0; kw < g.KernelW; kw++)
            {
                int a = kh * g.DilationH, b = kw * g.DilationW;
                source[kh * g.KernelW + kw] = ps + (nint)(a % sh * sw + b % sw) * phaseSize + (nint)(a / sh) * pitch + b / sw;
            }
            float* outputs = ps + (nint)sh * sw * phaseSize;
            TapSums(source, pk, taps, flat, outputs);
            for (int oh = 0; oh < g.OutHeight; oh++)
                new ReadOnlySpan<float>(outputs + (nint)oh * pitch, g.OutWidth).CopyTo(new Span<float>(py + (nint)oh * g.OutWidth, g.OutWidth));
        }
    }

    // Floats past the end of each scratch region that a last vector may read or write (one AVX-512 vector).
    private const int Slack = 16;

    /// <summary>
    /// The zero-padded plane (rows [−padTop, spanH − padTop), columns [−padLeft, spanW − padLeft) of x) split into its
    /// sh x sw stride phases of <paramref name="pitch"/> columns, phase (a, b) at phases + (a·sw + b)·phaseSize; the
    /// slack past each phase is zero.
    /// </summary>
    private static unsafe void SplitPaddedPhases(float* x, int height, int width, int padTop, int padLeft, int spanH, int spanW,
        int sh, int sw, int pitch, int phaseSize, float* phases)
    {
        new Span<float>(phases, sh * sw * phaseSize).Clear();
        for (int pr = 0; pr < spanH; pr++)
        {
            int ih = pr - padTop;
            if ((uint)ih >= (uint)height) continue;
            float* src = x + (nint)ih * width;
            float* rowOfPhases = phases + (nint)(pr % sh * sw) * phaseSize + (nint)(pr / sh) * pitch;
            // Columns pc in [first, last) read pixels inside the row.
            int first = Math.Max(0, padLeft), last = Math.Min(spanW, width + padLeft);
            if (sw == 1)
            {
                if (last > first) new ReadOnlySpan<float>(src + first - padLeft, last - first).CopyTo(new Span<float>(rowOfPhases + first, last - first));
                continue;
            }
            if (sw == 2)
            {
                // Padded column pc = 2j + b is pixel pc − padLeft. (A last odd entry past spanW may hold a pixel instead
                // of 0: only the dropped columns past an output row read it.)
                SplitEvenOdd(src, -padLeft, width, pitch, rowOfPhases, rowOfPhases + phaseSize);
                continue;
            }
            for (int b = 0; b < sw; b++)
            {
                // Phase b holds columns pc = j·sw + b; those in [first, last) are j in [j0, j1).
                int j0 = first <= b ? 0 : (first - b + sw - 1) / sw, j1 = last <= b ? 0 : (last - b + sw - 1) / sw;
                float* dst = rowOfPhases + (nint)b * phaseSize;
                float* from = src + (nint)j0 * sw + b - padLeft;
                for (int j = j0; j < j1; j++, from += sw) dst[j] = *from;
            }
        }
    }

    /// <summary>
    /// out[q] = Σ_t source_t[q] · k[t] for q in [0, count), the taps in order (a multiply, then an add, per tap, as the
    /// scalar references do). Vectors may run up to 15 floats past count: sources and out have that slack.
    /// </summary>
    private static unsafe void TapSums(float** source, float* k, int taps, int count, float* output)
    {
        int q = 0;
        if (Use512)
        {
            for (; q < count; q += 16)
            {
                var acc = Vector512<float>.Zero;
                for (int t = 0; t < taps; t++) acc += Vector512.Load(source[t] + q) * Vector512.Create(k[t]);
                acc.Store(output + q);
            }
            return;
        }
        if (Use256)
        {
            for (; q < count; q += 8)
            {
                var acc = Vector256<float>.Zero;
                for (int t = 0; t < taps; t++) acc += Vector256.Load(source[t] + q) * Vector256.Create(k[t]);
                acc.Store(output + q);
            }
            return;
        }
        for (; q < count; q++)
        {
            float acc = 0f;
            for (int t = 0; t < taps; t++) acc += source[t][q] * k[t];
            output[q] = acc;
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
    /// row and then added to dx once (rows no tap reads are left alone). dy is first spread into a zero plane
    /// (dy[oh, ow] at row oh·sh + leadH, column ow·sw + leadW), in which tap (kh, kw) of dx position (ih, iw) sits at a
    /// fixed offset; dx's positions, laid out on that plane's pitch, are then computed as one flat run of vectors, as in
    /// <see cref="DepthwiseConv"/>. The zeros add 0·k and change no sum.
    /// </summary>
    public static unsafe void DepthwiseConvBackwardInput(ReadOnlySpan<float> dy, ReadOnlySpan<float> k, in ConvGeometry g, Span<float> dx)
    {
        if (dy.Length < g.OutHeight * g.OutWidth || dx.Length < g.Height * g.Width || k.Length < g.KernelH * g.KernelW)
            throw new ArgumentException("Buffer too small for the geometry.");
        int taps = g.KernelH * g.KernelW;
        // Tap (kh, kw) of (ih, iw) reads spread position (ih + padTop − kh·dh + leadH, iw + padLeft − kw·dw + leadW),
        // which is dy[oh, ow] when that is (oh·sh + leadH, ow·sw + leadW); the leads keep every index non-negative.
        int leadH = (g.KernelH - 1) * g.DilationH, leadW = (g.KernelW - 1) * g.DilationW;
        int pitch = g.Width + g.PadLeft + leadW, rows = g.Height + g.PadTop + leadH;
        int planeSize = rows * pitch + Slack;
        int flat = (g.Height - 1) * pitch + g.Width;
        var scratch = Scratch(planeSize + flat + Slack + taps);
        fixed (float* pdy = dy, pk = k, pdx = dx, ps = scratch)
        {
            new Span<float>(ps, planeSize).Clear();
            for (int oh = 0; oh < g.OutHeight; oh++)
            {
                int r = oh * g.StrideH + leadH;
                if (r >= rows) break;
                float* spread = ps + (nint)r * pitch + leadW;
                float* src = pdy + (nint)oh * g.OutWidth;
                int count = Math.Min(g.OutWidth, (pitch - leadW + g.StrideW - 1) / g.StrideW);
                for (int ow = 0; ow < count; ow++) spread[(nint)ow * g.StrideW] = src[ow];
            }
            float** source = stackalloc float*[taps];
            for (int kh = 0; kh < g.KernelH; kh++)
            for (int kw = 0; kw < g.KernelW; kw++)
                source[kh * g.KernelW + kw] = ps + (nint)(g.PadTop - kh * g.DilationH + leadH) * pitch + (g.PadLeft - kw * g.DilationW + leadW);
            float* sums = ps + planeSize;
            TapSums(source, pk, taps, flat, sums);
            for (int ih = 0; ih < g.Height; ih++)
            {
                if (!AnyTapReads(g, ih)) continue;
                float* dxrow = pdx + (nint)ih * g.Width;
                float* sum = sums + (nint)ih * pitch;
                int j = 0;
                if (Use256)
                    for (; j + 8 <= g.Width; j += 8) (Vector256.Load(dxrow + j) + Vector256.Load(sum + j)).Store(dxrow + j);
                for (; j < g.Width; j++) dxrow[j] += sum[j];
            }
        }
    }

    /// <summary>Whether some kernel row reads input row ih (else its gradient gets nothing, not even a +0).</summary>
    private static bool AnyTapReads(in ConvGeometry g, int ih)
    {
        for (int kh = 0; kh < g.KernelH; kh++)
        {
            int t = ih + g.PadTop - kh * g.DilationH;
            if (t >= 0 && t % g.StrideH == 0 && t / g.StrideH < g.OutHeight) return true;
        }
        return false;
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
