// Convolution as an implicit GEMM: Y[n] = W · im2col(X[n]) for a whole batch, where the column matrix is never
// materialised. Each 32-column panel of it is gathered straight from the images into the packed layout the GEMM
// micro-kernel reads, right before use, so it is still in L1 when the kernel streams over it. Explicit im2col followed by
// a GEMM moved the same data three times (im2col, pack, compute) through caches too small to hold it, which left the
// convolutions at about 60% of the GEMM's own speed.
using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace AdvVis.Kernels;

public static partial class Kernels
{
    /// <summary>
    /// For every image n in [0, images): Y[n][m, p] = init[m] + Σ_k W[m, k] · cols_n[k, p], where cols_n is the
    /// im2col matrix of image n under geometry <paramref name="g"/> (rows ordered channel, kernel row, kernel column,
    /// as ONNX weights are). init is <paramref name="bias"/> (or 0) when <paramref name="accumulate"/> is false, and Y's
    /// current value when it is true.
    /// Image n's channels start at x[n · xImageStride]; W's row m at w[m · ldw]; Y[n][m, p] is
    /// y[n · yImageStride + m · P + p] with P = OutHeight · OutWidth.
    /// Every element's sum runs over K in the same order whatever the thread count (deterministic), in blocks of
    /// <see cref="DepthBlock"/> added in order.
    /// </summary>
    public static void ConvolutionGemm(ReadOnlySpan<float> x, int xImageStride, in ConvGeometry g, int images,
        ReadOnlySpan<float> w, int m, int ldw, ReadOnlySpan<float> bias, Span<float> y, int yImageStride, bool accumulate)
    {
        int plane = g.OutHeight * g.OutWidth, k = g.ColumnRows;
        if (m == 0 || plane == 0 || images == 0) return;
        if (!bias.IsEmpty && bias.Length < m) throw new ArgumentException("Bias shorter than the number of output rows.", nameof(bias));
        long inputNeeded = (long)(images - 1) * xImageStride + (long)g.Channels * g.Height * g.Width;
        long outputNeeded = (long)(images - 1) * yImageStride + (long)m * plane;
        if (x.Length < inputNeeded || y.Length < outputNeeded || w.Length < (long)(m - 1) * ldw + k)
            throw new ArgumentException("ConvolutionGemm: a buffer is smaller than the geometry requires.");
        unsafe
        {
            fixed (float* px = x, pw = w, pb = bias, py = y)
            {
                ConvolutionGemmCore(px, xImageStride, g, images, pw, m, ldw, bias.IsEmpty ? null : pb, py, yImageStride, accumulate);
            }
        }
    }

    /// <summary>One run of consecutive panel columns that read consecutive pixels of one image.</summary>
    private struct ColumnRun
    {
        public int Column;      // first panel column
        public int Length;      // columns in the run
        public nint Image;      // offset of the image's first channel in x
        public nint Output;     // offset of the run's first output element in y, for output row 0
        public int RowOrigin;   // input row of the first column for kernel row 0 (oh · strideH − padTop)
        public int ColOrigin;   // input column of the first column for kernel column 0 (ow · strideW − padLeft)
    }

    private static unsafe void ConvolutionGemmCore(float* x, int xImageStride, ConvGeometry g, int images,
        float* w, int m, int ldw, float* bias, float* y, int yImageStride, bool accumulate)
    {
        int plane = g.OutHeight * g.OutWidth, k = g.ColumnRows;
        long columns = (long)images * plane;
        int nPanels = (int)((columns + NR - 1) / NR);
        int mPadded = (m + MR - 1) / MR * MR, tiles = mPadded / MR;
        int threads = Parallelism.AvailableThreads;

        // W packed once per call into MR-row slivers, depth block after depth block (block k0 starts at mPadded · k0).
        var packedA = ArrayPool<float>.Shared.Rent(Math.Max(1, mPadded * k));
        try
        {
            fixed (float* pa0 = packedA)
            {
                nint pa = (nint)pa0, px = (nint)x, pw = (nint)w, pb = (nint)bias, py = (nint)y;
                int depthBlocks = (k + KC - 1) / KC, rowBlocks = (m + MC - 1) / MC;
                Parallelism.For(depthBlocks * rowBlocks, (long)mPadded * k * 8, job =>
                {
                    int k0 = job / rowBlocks * KC, m0 = job % rowBlocks * MC;
                    int kc = Math.Min(KC, k - k0);
                    PackA(false, (float*)pw, ldw, m0, Math.Min(MC, m - m0), k0, kc, (float*)pa + (nint)mPadded * k0 + (nint)m0 * kc);
                });

                // Jobs: chunks of panels and, when there are too few panels to feed every thread, chunks of rows too.
                // Each output element belongs to exactly one job and is computed the same way in any of them.
                int rowChunks = nPanels >= 2 * threads ? 1 : Math.Min(tiles, (4 * threads + nPanels - 1) / nPanels);
                // (At least a full panel group per chunk where the panels allow: W is read once per group.)
                int panelChunks = threads == 1 ? 1 : Math.Max(Math.Min(nPanels / PanelGroup, 4 * threads), Math.Min(nPanels, threads));
                long work = columns * m * k;
                Parallelism.For(panelChunks * rowChunks, work, job =>
                {
                    int pc = job / rowChunks, rc = job % rowChunks;
                    int p0 = (int)((long)nPanels * pc / panelChunks), p1 = (int)((long)nPanels * (pc + 1) / panelChunks);
                    int t0 = (int)((long)tiles * rc / rowChunks), t1 = (int)((long)tiles * (rc + 1) / rowChunks);
                    if (p0 >= p1 || t0 >= t1) return;
                    ConvolutionPanels((float*)px, xImageStride, g, images, (float*)pa, mPadded, m, k, (float*)pb,
                        (float*)py, yImageStride, accumulate, p0, p1, t0 * MR, Math.Min(m, t1 * MR));
                });
            }
        }
        finally { ArrayPool<float>.Shared.Return(packedA); }
    }

    // Panels processed together: each MR-row sliver of W is loaded once per depth block for all of them (while it is in
    // L1) instead of once per panel; their packed columns (4 x 32 KiB) and accumulators stay in L2.
    private const int PanelGroup = 4;

    /// <summary>Panels [p0, p1) for output rows [r0, r1) (r0 a multiple of MR).</summary>
    private static unsafe void ConvolutionPanels(float* x, int xImageStride, in ConvGeometry g, int images, float* packedA,
        int mPadded, int m, int k, float* bias, float* y, int yImageStride, bool accumulate, int p0, int p1, int r0, int r1)
    {
        int plane = g.OutHeight * g.OutWidth;
        long columns = (long)images * plane;
        int rows = r1 - r0, rowsPadded = (rows + MR - 1) / MR * MR, accStride = rowsPadded * NR;
        var panelBuffer = ArrayPool<float>.Shared.Rent(PanelGroup * KC * NR);
        // Each panel's block of C, accumulated over every depth block before it is written out once.
        var accumulator = ArrayPool<float>.Shared.Rent(PanelGroup * accStride);
        Span<ColumnRun> runs = stackalloc ColumnRun[PanelGroup * NR];
        Span<int> runStart = stackalloc int[PanelGroup + 1];
        Span<int> used = stackalloc int[PanelGroup];
        // Short runs (small or strided output rows) pack faster through a per-tap table of source offsets.
        int taps = g.KernelH * g.KernelW;
        bool gather = !ReadsWholePlane(g) && (g.OutWidth < NR / 2 || g.StrideW != 1);
        var offsetBuffer = gather ? ArrayPool<int>.Shared.Rent(PanelGroup * taps * NR) : null;
        try
        {
            fixed (float* panels = panelBuffer, acc = accumulator)
            fixed (int* offsets = offsetBuffer)
            {
                for (int q0 = p0; q0 < p1; q0 += PanelGroup)
                {
                    int count = Math.Min(PanelGroup, p1 - q0);
                    for (int q = 0; q < count; q++)
                    {
                        long j0 = (long)(q0 + q) * NR;
                        used[q] = (int)Math.Min(NR, columns - j0);
                        runStart[q + 1] = runStart[q] + ColumnRuns(g, plane, xImageStride, yImageStride, j0, used[q], runs[runStart[q]..]);
                        if (gather) SourceOffsets(g, runs[runStart[q]..runStart[q + 1]], offsets + q * taps * NR);
                        for (int r = 0; r < rowsPadded; r++)
                            new Span<float>(acc + q * accStride + r * NR, NR).Fill(bias is null || accumulate || r0 + r >= m ? 0f : bias[r0 + r]);
                    }
                    for (int k0 = 0; k0 < k; k0 += KC)
                    {
                        int kc = Math.Min(KC, k - k0);
                        for (int q = 0; q < count; q++)
                        {
                            if (gather) PackImagePanel(x, g, offsets + q * taps * NR, k0, kc, panels + q * KC * NR);
                            else PackImagePanel(x, g, runs[runStart[q]..runStart[q + 1]], used[q], k0, kc, panels + q * KC * NR);
                        }
                        float* sliver = packedA + (nint)mPadded * k0 + (nint)r0 * kc;
                        // Rows in blocks of MC, so a block of W (MC x KC), the packed panels and their accumulators
                        // share L2; within a block each panel stays in L1 while the block's slivers stream past it.
                        for (int ib = 0; ib < rowsPadded; ib += MC)
                        for (int q = 0; q < count; q++)
                        for (int i0 = ib; i0 < Math.Min(ib + MC, rowsPadded); i0 += MR)
                            MicroKernel(kc, 1f, sliver + i0 * kc, panels + q * KC * NR, acc + q * accStride + i0 * NR, NR, MR, NR);
                    }
                    for (int q = 0; q < count; q++)
                        StorePanel(acc + q * accStride, runs[runStart[q]..runStart[q + 1]], y, plane, r0, rows, accumulate);
                }
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(panelBuffer);
            ArrayPool<float>.Shared.Return(accumulator);
            if (offsetBuffer is not null) ArrayPool<int>.Shared.Return(offsetBuffer);
        }
    }

    /// <summary>
    /// For every kernel tap and panel column: where in x (relative to channel 0) the column reads, or −1 in the padding
    /// and past the last column.
    /// </summary>
    private static unsafe void SourceOffsets(in ConvGeometry g, ReadOnlySpan<ColumnRun> runs, int* offsets)
    {
        for (int t = 0; t < g.KernelH * g.KernelW; t++)
        {
            int* row = offsets + t * NR;
            new Span<int>(row, NR).Fill(-1);
            int rowOffset = t / g.KernelW * g.DilationH, colOffset = t % g.KernelW * g.DilationW;
            foreach (ref readonly var run in runs)
            {
                int ih = run.RowOrigin + rowOffset;
                if ((uint)ih >= (uint)g.Height) continue;
                for (int j = 0; j < run.Length; j++)
                {
                    int iw = run.ColOrigin + colOffset + j * g.StrideW;
                    if ((uint)iw < (uint)g.Width) row[run.Column + j] = (int)run.Image + ih * g.Width + iw;
                }
            }
        }
    }

    /// <summary>Rows [k0, k0 + kc) of the panel's im2col columns through a table from <see cref="SourceOffsets"/>.</summary>
    private static unsafe void PackImagePanel(float* x, in ConvGeometry g, int* offsets, int k0, int kc, float* panel)
    {
        int taps = g.KernelH * g.KernelW, channelPlane = g.Height * g.Width;
        int c = k0 / taps, t = k0 % taps;
        for (int kk = 0; kk < kc; kk++)
        {
            float* row = panel + kk * NR, src = x + (nint)c * channelPlane;
            int* table = offsets + t * NR;
            for (int j = 0; j < NR; j++)
            {
                int at = table[j];
                row[j] = at >= 0 ? src[at] : 0f;
            }
            if (++t == taps) { t = 0; c++; }
        }
    }

    /// <summary>A 1x1, unit-stride, unpadded window reads each image plane exactly as it lies in memory.</summary>
    private static bool ReadsWholePlane(in ConvGeometry g) =>
        g.KernelH == 1 && g.KernelW == 1 && g.StrideH == 1 && g.StrideW == 1 && g.PadTop == 0 && g.PadLeft == 0
        && g.OutWidth == g.Width && g.OutHeight == g.Height;

    /// <summary>Splits panel columns [j0, j0 + used) into runs that read consecutive pixels of one image.</summary>
    private static int ColumnRuns(in ConvGeometry g, int plane, int xImageStride, int yImageStride, long j0, int used, Span<ColumnRun> runs)
    {
        // Then a run may cross output rows; otherwise it ends with its output row.
        bool wholePlane = ReadsWholePlane(g);
        int count = 0;
        for (int j = 0; j < used;)
        {
            long column = j0 + j;
            int n = (int)(column / plane), pixel = (int)(column % plane);
            int oh = pixel / g.OutWidth, ow = pixel % g.OutWidth;
            int length = wholePlane ? Math.Min(used - j, plane - pixel) : Math.Min(used - j, g.OutWidth - ow);
            runs[count++] = new ColumnRun
            {
                Column = j, Length = length,
                Image = (nint)n * xImageStride, Output = (nint)n * yImageStride + pixel,
                RowOrigin = oh * g.StrideH - g.PadTop, ColOrigin = ow * g.StrideW - g.PadLeft,
            };
            j += length;
        }
        return count;
    }

    /// <summary>
    /// Rows [k0, k0 + kc) of the panel's im2col columns, k-major with NR floats per row (the layout PackB produces);
    /// columns past <paramref name="used"/> are zero.
    /// </summary>
    private static unsafe void PackImagePanel(float* x, in ConvGeometry g, ReadOnlySpan<ColumnRun> runs, int used, int k0, int kc, float* panel)
    {
        int taps = g.KernelH * g.KernelW, channelPlane = g.Height * g.Width;
        int c = k0 / taps, kh = k0 % taps / g.KernelW, kw = k0 % g.KernelW;
        bool wholePlane = ReadsWholePlane(g);
        for (int kk = 0; kk < kc; kk++)
        {
            float* row = panel + kk * NR;
            int rowOffset = kh * g.DilationH, colOffset = kw * g.DilationW;
            foreach (ref readonly var run in runs)
            {
                float* dst = row + run.Column;
                int ih = run.RowOrigin + rowOffset, iw = run.ColOrigin + colOffset;
                if (wholePlane)
                {
                    // 1x1 unit-stride windows: the run is a straight copy of consecutive pixels.
                    CopyFloats(x + run.Image + (nint)c * channelPlane + (nint)ih * g.Width + iw, dst, run.Length);
                    continue;
                }
                if ((uint)ih >= (uint)g.Height) { ClearFloats(dst, run.Length); continue; }
                float* src = x + run.Image + (nint)c * channelPlane + (nint)ih * g.Width;
                if (g.StrideW == 1)
                {
                    // Columns [lo, hi) read pixels iw + j; the rest fall in the padding.
                    int lo = Math.Clamp(-iw, 0, run.Length), hi = Math.Clamp(g.Width - iw, lo, run.Length);
                    ClearFloats(dst, lo);
                    CopyFloats(src + iw + lo, dst + lo, hi - lo);
                    ClearFloats(dst + hi, run.Length - hi);
                }
                else
                {
                    for (int j = 0; j < run.Length; j++, iw += g.StrideW)
                        dst[j] = (uint)iw < (uint)g.Width ? src[iw] : 0f;
                }
            }
            ClearFloats(row + used, NR - used);
            if (++kw == g.KernelW) { kw = 0; if (++kh == g.KernelH) { kh = 0; c++; } }
        }
    }

    /// <summary>Writes (or adds) rows [0, rows) of the panel accumulator to Y, run by run.</summary>
    private static unsafe void StorePanel(float* acc, ReadOnlySpan<ColumnRun> runs, float* y, int plane, int r0, int rows, bool accumulate)
    {
        for (int r = 0; r < rows; r++)
        {
            float* src = acc + r * NR;
            foreach (ref readonly var run in runs)
            {
                float* dst = y + run.Output + (nint)(r0 + r) * plane;
                if (accumulate) AddFloats(src + run.Column, dst, run.Length);
                else CopyFloats(src + run.Column, dst, run.Length);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void CopyFloats(float* src, float* dst, int count)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
            for (; i + 8 <= count; i += 8) Vector256.Store(Vector256.Load(src + i), dst + i);
        for (; i < count; i++) dst[i] = src[i];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void ClearFloats(float* dst, int count)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
            for (; i + 8 <= count; i += 8) Vector256.Store(Vector256<float>.Zero, dst + i);
        for (; i < count; i++) dst[i] = 0f;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void AddFloats(float* src, float* dst, int count)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
            for (; i + 8 <= count; i += 8) Vector256.Store(Vector256.Load(dst + i) + Vector256.Load(src + i), dst + i);
        for (; i < count; i++) dst[i] += src[i];
    }
}
