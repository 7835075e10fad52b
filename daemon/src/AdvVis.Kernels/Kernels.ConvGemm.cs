// Convolution as an implicit GEMM: Y[n] = W · im2col(X[n]) for a whole batch, where the column matrix is never
// materialised. Each 32-column panel of it is gathered straight from the images into the packed layout the GEMM
// micro-kernel reads, right before use, so it is still in L1 when the kernel streams over it. Explicit im2col followed by
// a GEMM moved the same data three times (im2col, pack, compute) through caches too small to hold it, which left the
// convolutions at about 60% of the GEMM's own speed.
using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

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
        ReadOnlySpan<float> w, int m, int ldw, ReadOnlySpan<float> bias, Span<float> y, int yImageStride, bool accumulate,
        OutputClamp clamp = default)
    {
        if (m == 0 || g.OutHeight * g.OutWidth == 0 || images == 0) return;
        ConvolutionGemm(x, xImageStride, g, images, PackFilters(w, m, ldw, g.ColumnRows), bias, y, yImageStride, accumulate, clamp);
    }

    /// <summary>
    /// <see cref="ConvolutionGemm(ReadOnlySpan{float}, int, in ConvGeometry, int, ReadOnlySpan{float}, int, int, ReadOnlySpan{float}, Span{float}, int, bool)"/>
    /// with filters packed beforehand: constant weights are packed once per model instead of once per call (for batch-1
    /// passes over small planes packing costs as much as the product).
    /// </summary>
    public static void ConvolutionGemm(ReadOnlySpan<float> x, int xImageStride, in ConvGeometry g, int images,
        PackedFilters filters, ReadOnlySpan<float> bias, Span<float> y, int yImageStride, bool accumulate,
        OutputClamp clamp = default)
    {
        if (accumulate && clamp.Active) throw new ArgumentException("A clamp applies to written outputs, not accumulated ones.", nameof(clamp));
        int k = g.ColumnRows, m = filters.Rows;
        if (filters.Depth != k)
            throw new ArgumentException($"Filters of depth {filters.Depth} do not fit a window of depth {k}.", nameof(filters));
        if (!HasConvolutionWork("ConvolutionGemm", x.Length, xImageStride, g, images, m, bias.Length, y.Length, yImageStride)) return;
        unsafe
        {
            fixed (float* px = x, pa = filters.Data, pb = bias, py = y)
            {
                ConvolutionGemmCore(px, xImageStride, g, images, pa, m, bias.IsEmpty ? null : pb, py, yImageStride, accumulate, clamp);
            }
        }
    }

    /// <summary>
    /// The buffer rules the convolution kernels share (images at a stride, outputs at a stride, a bias of m values or
    /// none): false when there is nothing to compute, an exception naming <paramref name="kernel"/> when a buffer is short.
    /// </summary>
    private static bool HasConvolutionWork(string kernel, int xLength, int xImageStride, in ConvGeometry g, int images, int m,
        int biasLength, int yLength, int yImageStride)
    {
        int plane = g.OutHeight * g.OutWidth;
        if (m == 0 || plane == 0 || images == 0) return false;
        if (biasLength != 0 && biasLength < m) throw new ArgumentException("Bias shorter than the number of output rows.", "bias");
        long inputNeeded = (long)(images - 1) * xImageStride + (long)g.Channels * g.Height * g.Width;
        long outputNeeded = (long)(images - 1) * yImageStride + (long)m * plane;
        if (xLength < inputNeeded || yLength < outputNeeded)
            throw new ArgumentException($"{kernel}: a buffer is smaller than the geometry requires.");
        return true;
    }

    /// <summary>
    /// Filters W[m, k] (row stride ldw) packed into MR-row slivers, depth block after depth block (block k0 starts at
    /// RowsPadded · k0, rows past m zero): the layout ConvolutionGemm's micro-kernels read.
    /// </summary>
    /// <param name="source">Recorded with the result, for a cache to check later that the weights are unchanged.</param>
    public static PackedFilters PackFilters(ReadOnlySpan<float> w, int m, int ldw, int k, WeightFingerprint? source = null)
    {
        if (m < 0 || k < 0 || (m > 0 && w.Length < (long)(m - 1) * ldw + k))
            throw new ArgumentException("PackFilters: the weights are smaller than m rows of depth k.", nameof(w));
        int mPadded = (m + MR - 1) / MR * MR;
        var packed = new float[Math.Max(1, mPadded * k)];
        unsafe
        {
            fixed (float* pw0 = w, pa0 = packed)
            {
                PackFiltersCore((nint)pw0, m, ldw, k, (nint)pa0);
            }
        }
        return new PackedFilters(m, k, packed) { Source = source };
    }

    /// <summary>PackFilters into <paramref name="pa"/> (RowsPadded · k floats, rows past m left as they are: zero).</summary>
    private static unsafe void PackFiltersCore(nint pw, int m, int ldw, int k, nint pa)
    {
        int mPadded = (m + MR - 1) / MR * MR;
        int depthBlocks = (k + KC - 1) / KC, rowBlocks = (m + MC - 1) / MC;
        Parallelism.For(depthBlocks * rowBlocks, (long)mPadded * k * 8, job =>
        {
            int k0 = job / rowBlocks * KC, m0 = job % rowBlocks * MC;
            int kc = Math.Min(KC, k - k0);
            PackA(false, (float*)pw, ldw, m0, Math.Min(MC, m - m0), k0, kc, (float*)pa + (nint)mPadded * k0 + (nint)m0 * kc);
        });
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
        float* packed, int m, float* bias, float* y, int yImageStride, bool accumulate, OutputClamp clamp)
    {
        int plane = g.OutHeight * g.OutWidth, k = g.ColumnRows;
        long columns = (long)images * plane;
        int nPanels = (int)((columns + NR - 1) / NR);
        int mPadded = (m + MR - 1) / MR * MR, tiles = mPadded / MR;
        int threads = Parallelism.AvailableThreads;
        nint pa = (nint)packed, px = (nint)x, pb = (nint)bias, py = (nint)y;
        // Jobs: chunks of panels and, when there are too few panels to feed every thread, chunks of rows too.
        // Each output element belongs to exactly one job and is computed the same way in any of them.
        int rowChunks = nPanels >= 2 * threads ? 1 : Math.Min(tiles, (4 * threads + nPanels - 1) / nPanels);
        // (At least a full panel group per chunk where the panels allow: W is read once per group.)
        int panelChunks = threads == 1 ? 1 : Math.Max(Math.Min(nPanels / PanelsPerGroup(m), 4 * threads), Math.Min(nPanels, threads));
        long work = columns * m * k;
        Parallelism.For(panelChunks * rowChunks, work, job =>
        {
            int pc = job / rowChunks, rc = job % rowChunks;
            int p0 = (int)((long)nPanels * pc / panelChunks), p1 = (int)((long)nPanels * (pc + 1) / panelChunks);
            int t0 = (int)((long)tiles * rc / rowChunks), t1 = (int)((long)tiles * (rc + 1) / rowChunks);
            if (p0 >= p1 || t0 >= t1) return;
            ConvolutionPanels((float*)px, xImageStride, g, images, (float*)pa, mPadded, m, k, (float*)pb,
                (float*)py, yImageStride, accumulate, clamp, p0, p1, t0 * MR, Math.Min(m, t1 * MR));
        });
    }

    // Panels processed together (at most): each MR-row sliver of W is loaded once per depth block for all of them (while
    // it is in L1) instead of once per panel; their packed columns (4-8 x 32 KiB) and accumulators stay in L2.
    private const int PanelGroup = 8;

    /// <summary>
    /// Panels per group: 4, or 8 for 256 rows and more, where W is large enough that reading it once per group
    /// dominates (ResNet-18's 512-filter layers at batch 64: ~260-350 against ~180-260 GFLOP/s, alternating runs).
    /// </summary>
    private static int PanelsPerGroup(int rows) => rows >= 256 ? 8 : 4;

    /// <summary>Panels [p0, p1) for output rows [r0, r1) (r0 a multiple of MR).</summary>
    private static unsafe void ConvolutionPanels(float* x, int xImageStride, in ConvGeometry g, int images, float* packedA,
        int mPadded, int m, int k, float* bias, float* y, int yImageStride, bool accumulate, OutputClamp clamp, int p0, int p1, int r0, int r1)
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
                int groupSize = PanelsPerGroup(m);
                for (int q0 = p0; q0 < p1; q0 += groupSize)
                {
                    int count = Math.Min(groupSize, p1 - q0);
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
                        StorePanel(acc + q * accStride, runs[runStart[q]..runStart[q + 1]], y, plane, r0, rows, accumulate, clamp);
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
            if (Avx2.IsSupported)
            {
                // Hardware gathers; lanes whose offset is −1 (padding) are masked off: not read, left zero.
                for (int j = 0; j < NR; j += 8)
                {
                    var at = Avx.LoadVector256(table + j);
                    var inside = Avx2.CompareGreaterThan(at, Vector256.Create(-1)).AsSingle();
                    Avx.Store(row + j, Avx2.GatherMaskVector256(Vector256<float>.Zero, src, at, inside, 4));
                }
            }
            else
            {
                for (int j = 0; j < NR; j++)
                {
                    // Branch-free: padding reads the plane's first value and masks it to +0.
                    int at = table[j];
                    int keep = ~(at >> 31);
                    row[j] = BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(src[at & keep]) & keep);
                }
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
    private static unsafe void StorePanel(float* acc, ReadOnlySpan<ColumnRun> runs, float* y, int plane, int r0, int rows, bool accumulate, OutputClamp clamp)
    {
        for (int r = 0; r < rows; r++)
        {
            float* src = acc + r * NR;
            foreach (ref readonly var run in runs)
            {
                float* dst = y + run.Output + (nint)(r0 + r) * plane;
                if (accumulate) AddFloats(src + run.Column, dst, run.Length);
                else CopyFloats(src + run.Column, dst, run.Length, clamp);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void CopyFloats(float* src, float* dst, int count, OutputClamp clamp)
    {
        if (!clamp.Active) { CopyFloats(src, dst, count); return; }
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
            for (; i + 8 <= count; i += 8) clamp.Apply(Vector256.Load(src + i)).Store(dst + i);
        for (; i < count; i++) dst[i] = clamp.Apply(src[i]);
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

/// <summary>Filters prepared for a convolution kernel (packed, or transformed too); immutable once made.</summary>
public abstract class PreparedFilters
{
    private protected PreparedFilters(int rows, float[] data) { Rows = rows; Data = data; }

    /// <summary>Output channels (rows of W).</summary>
    public int Rows { get; }

    internal float[] Data { get; }

    /// <summary>The fingerprint of the weights these were made from, when the maker of a cache recorded one.</summary>
    public WeightFingerprint? Source { get; internal init; }
}

/// <summary>Convolution filters in the packed layout of <see cref="Kernels.PackFilters"/>.</summary>
public sealed class PackedFilters : PreparedFilters
{
    internal PackedFilters(int rows, int depth, float[] data) : base(rows, data) { Depth = depth; }

    /// <summary>Depth of one filter: input channels × kernel height × kernel width.</summary>
    public int Depth { get; }
}

/// <summary>
/// A cheap check that weights have not changed since something was derived from them: 32 independent lanes of
/// h = (h ^ bits) · odd constant over the values' bits. Each step is a bijection of the lane, so changing any single value
/// always changes the fingerprint; several changes collide only by chance (2^-32 per lane at worst).
/// About a tenth of the cost of packing the same weights.
/// </summary>
public sealed class WeightFingerprint : IEquatable<WeightFingerprint>
{
    private const int Lanes = 32;
    private const uint Multiplier = 0x9E3779B1u;
    private readonly uint[] _lanes;

    private WeightFingerprint(uint[] lanes) => _lanes = lanes;

    public static unsafe WeightFingerprint Of(ReadOnlySpan<float> values)
    {
        var lanes = new uint[Lanes];
        for (int l = 0; l < Lanes; l++) lanes[l] = (uint)(l + 1) * 0x85EBCA6Bu;
        fixed (float* p0 = values)
        fixed (uint* h = lanes)
        {
            uint* p = (uint*)p0;
            int n = values.Length, i = 0;
            if (Vector256.IsHardwareAccelerated)
            {
                var m = Vector256.Create(Multiplier);
                Vector256<uint> h0 = Vector256.Load(h), h1 = Vector256.Load(h + 8), h2 = Vector256.Load(h + 16), h3 = Vector256.Load(h + 24);
                for (; i + Lanes <= n; i += Lanes)
                {
                    h0 = (h0 ^ Vector256.Load(p + i)) * m;
                    h1 = (h1 ^ Vector256.Load(p + i + 8)) * m;
                    h2 = (h2 ^ Vector256.Load(p + i + 16)) * m;
                    h3 = (h3 ^ Vector256.Load(p + i + 24)) * m;
                }
                h0.Store(h); h1.Store(h + 8); h2.Store(h + 16); h3.Store(h + 24);
            }
            else
            {
                for (; i + Lanes <= n; i += Lanes)
                    for (int l = 0; l < Lanes; l++) h[l] = (h[l] ^ p[i + l]) * Multiplier;
            }
            for (int l = 0; i < n; i++, l++) h[l] = (h[l] ^ p[i]) * Multiplier;
            h[0] ^= (uint)n; // so a prefix does not match the whole
        }
        return new WeightFingerprint(lanes);
    }

    public bool Equals(WeightFingerprint? other) => other is not null && _lanes.AsSpan().SequenceEqual(other._lanes);
    public override bool Equals(object? obj) => Equals(obj as WeightFingerprint);
    public override int GetHashCode() => (int)_lanes[0];
}

/// <summary>
/// An activation folded into a convolution's output: y = min(max(v, Low), High), with the semantics of Kernels.Clip (and
/// so of Relu as Clip(0, ∞)): NaN propagates, +0 is above −0. The default clamps nothing.
/// </summary>
public readonly struct OutputClamp
{
    public OutputClamp(float low, float high) { Low = low; High = high; Active = true; }

    public float Low { get; }
    public float High { get; }
    public bool Active { get; }

    public static OutputClamp Relu => new(0f, float.PositiveInfinity);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Apply(float v) => MathF.Min(MathF.Max(v, Low), High);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Apply(Vector256<float> v) => Vector256.Min(Vector256.Max(v, Vector256.Create(Low)), Vector256.Create(High));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Apply(Vector512<float> v) => Vector512.Min(Vector512.Max(v, Vector512.Create(Low)), Vector512.Create(High));
}
