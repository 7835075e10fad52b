// Winograd F(2x2, 3x3) for 3x3, unit-stride, undilated convolutions (most of ResNet's work): each 2x2 block of outputs
// ("tile") comes from its 4x4 block of inputs with 16 multiplies per input channel and filter instead of 36, so the
// multiply-adds shrink 2.25x. The 16 products of a tile are 16 independent GEMMs, U_ξ[m, c] · V_ξ[c, tile], over
// transformed filters U = G g Gᵀ (made once per model) and transformed inputs V = Bᵀ d B (made per call, a chunk of
// tiles at a time so they stay in cache); the outputs are Y = Aᵀ M A. The GEMMs run on the same packed micro-kernels as
// the implicit GEMM (Kernels.ConvGemm.cs), with V written straight into the layout those read.
// Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks" (2016), give the matrices:
//   Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1], G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1], Aᵀ = [1 1 1 0; 0 1 −1 −1].
using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace AdvVis.Kernels;

public static partial class Kernels
{
    // The 4x4 transformed tile: 16 GEMMs, one per (row, column) ξ of it.
    private const int WinogradParts = 16;

    /// <summary>Whether <see cref="WinogradConvolution"/> computes this geometry: 3x3 windows, unit strides, no dilation.</summary>
    public static bool SupportsWinograd(in ConvGeometry g) =>
        g.KernelH == 3 && g.KernelW == 3 && g.StrideH == 1 && g.StrideW == 1 && g.DilationH == 1 && g.DilationW == 1;

    /// <summary>
    /// The Winograd transform of filters W[m, c, 3, 3] (rows K = 9c apart): U_ξ = (G g Gᵀ)_ξ per filter and channel,
    /// computed in double and rounded once, each of the 16 parts packed for the micro-kernels.
    /// </summary>
    /// <param name="source">Recorded with the result, for a cache to check later that the weights are unchanged.</param>
    public static WinogradFilters TransformFilters(ReadOnlySpan<float> w, int m, int channels, WeightFingerprint? source = null)
    {
        if (m < 0 || channels < 0 || w.Length < (long)m * channels * 9)
            throw new ArgumentException("TransformFilters: the weights are smaller than m filters of channels x 3 x 3.", nameof(w));
        int partLength = (m + MR - 1) / MR * MR * channels;
        var u = new float[(long)WinogradParts * m * channels];
        Span<double> gg = stackalloc double[12];
        for (int mi = 0; mi < m; mi++)
        for (int ci = 0; ci < channels; ci++)
        {
            var g = w.Slice((mi * channels + ci) * 9, 9);
            // G g (4x3): rows g0, (g0 + g1 + g2)/2, (g0 − g1 + g2)/2, g2 of g's rows.
            for (int s = 0; s < 3; s++)
            {
                double g0 = g[s], g1 = g[3 + s], g2 = g[6 + s];
                gg[s] = g0; gg[3 + s] = (g0 + g1 + g2) / 2; gg[6 + s] = (g0 - g1 + g2) / 2; gg[9 + s] = g2;
            }
            // (G g) Gᵀ: the same combination of each row's three values.
            for (int i = 0; i < 4; i++)
            {
                double a = gg[3 * i], b = gg[3 * i + 1], c = gg[3 * i + 2];
                Span<double> row = [a, (a + b + c) / 2, (a - b + c) / 2, c];
                for (int j = 0; j < 4; j++) u[((long)(i * 4 + j) * m + mi) * channels + ci] = (float)row[j];
            }
        }
        var packed = new float[Math.Max(1, WinogradParts * partLength)];
        unsafe
        {
            fixed (float* pu = u, pp = packed)
            {
                for (int part = 0; part < WinogradParts; part++)
                    PackFiltersCore((nint)(pu + (long)part * m * channels), m, channels, channels, (nint)(pp + (long)part * partLength));
            }
        }
        return new WinogradFilters(m, channels, packed) { Source = source };
    }

    /// <summary>
    /// For every image n in [0, images): Y[n] = init + conv3x3(X[n]) under geometry <paramref name="g"/> (which
    /// <see cref="SupportsWinograd"/> must accept), by Winograd F(2x2, 3x3). init is <paramref name="bias"/> (or 0)
    /// when <paramref name="accumulate"/> is false, and Y's current value when it is true. Layout as in
    /// <see cref="ConvolutionGemm(ReadOnlySpan{float}, int, in ConvGeometry, int, PackedFilters, ReadOnlySpan{float}, Span{float}, int, bool, OutputClamp)"/>.
    /// The result differs from the direct sum by rounding only (the transforms add and subtract; relative error ~1e-6
    /// of the output's scale). Every output's sum runs in the same order for any thread count (deterministic).
    /// </summary>
    public static void WinogradConvolution(ReadOnlySpan<float> x, int xImageStride, in ConvGeometry g, int images,
        WinogradFilters filters, ReadOnlySpan<float> bias, Span<float> y, int yImageStride, bool accumulate, OutputClamp clamp = default)
    {
        if (accumulate && clamp.Active) throw new ArgumentException("A clamp applies to written outputs, not accumulated ones.", nameof(clamp));
        if (!SupportsWinograd(g)) throw new ArgumentException("WinogradConvolution computes 3x3 windows with unit strides and no dilation.", nameof(g));
        if (filters.Channels != g.Channels)
            throw new ArgumentException($"Filters over {filters.Channels} channels do not fit an input of {g.Channels}.", nameof(filters));
        int m = filters.Rows;
        if (!HasConvolutionWork("WinogradConvolution", x.Length, xImageStride, g, images, m, bias.Length, y.Length, yImageStride)) return;
        unsafe
        {
            fixed (float* px = x, pu = filters.Data, pb = bias, py = y)
            {
                WinogradCore((nint)px, xImageStride, g, images, (nint)pu, m, bias.IsEmpty ? 0 : (nint)pb, (nint)py, yImageStride, accumulate, clamp);
            }
        }
    }

    /// <summary>A run of consecutive tiles of one tile row of one image, and where its columns sit in a panel.</summary>
    private struct TileRun
    {
        public int Column;    // first column in the panel
        public int Length;    // tiles in the run
        public int Image;
        public int TileRow;
        public int TileColumn; // of the first tile
    }

    private static unsafe void WinogradCore(nint x, int xImageStride, ConvGeometry g, int images, nint u, int m, nint bias,
        nint y, int yImageStride, bool accumulate, OutputClamp clamp)
    {
        int tilesW = (g.OutWidth + 1) / 2, tilesH = (g.OutHeight + 1) / 2;
        long tiles = (long)images * tilesW * tilesH;
        int panels = (int)((tiles + NR - 1) / NR), c = g.Channels;
        // Panels per chunk: the chunk's transformed inputs (16 x c x 32 floats per panel) stay within ~256 KiB of L2.
        int perChunk = Math.Clamp(128 / Math.Max(1, c), 1, 8);
        int chunks = (panels + perChunk - 1) / perChunk;
        int slivers = (m + MR - 1) / MR, threads = Parallelism.AvailableThreads;
        // Too few chunks to feed every thread: split the filters too (each part transforms the chunk's inputs itself).
        int rowChunks = chunks >= 2 * threads ? 1 : Math.Min(slivers, (2 * threads + chunks - 1) / chunks);
        long work = tiles * m * c * WinogradParts;
        Parallelism.For(chunks * rowChunks, work, job =>
        {
            int chunk = job / rowChunks, rc = job % rowChunks;
            int s0 = slivers * rc / rowChunks, s1 = slivers * (rc + 1) / rowChunks;
            int p0 = chunk * perChunk, p1 = Math.Min(panels, p0 + perChunk);
            if (s0 < s1)
                WinogradChunk((float*)x, xImageStride, g, tilesW, tilesH, tiles, p0, p1, (float*)u, m, s0 * MR, Math.Min(m, s1 * MR),
                    (float*)bias, (float*)y, yImageStride, accumulate, clamp);
        });
    }

    /// <summary>Panels [p0, p1) of tiles, output rows [r0, r1) (r0 a multiple of MR).</summary>
    private static unsafe void WinogradChunk(float* x, int xImageStride, in ConvGeometry g, int tilesW, int tilesH, long tiles,
        int p0, int p1, float* u, int m, int r0, int r1, float* bias, float* y, int yImageStride, bool accumulate, OutputClamp clamp)
    {
        int c = g.Channels, count = p1 - p0, mPadded = (m + MR - 1) / MR * MR, partLength = mPadded * c;
        // Rows in blocks whose accumulators (16 x rows x 32 floats per panel) stay within ~256 KiB of L2.
        int rowBlock = Math.Max(MR, 128 / count / MR * MR);
        int rowsInBlock = Math.Min(rowBlock, (r1 - r0 + MR - 1) / MR * MR);
        var transformed = ArrayPool<float>.Shared.Rent(count * WinogradParts * c * NR);
        var accumulator = ArrayPool<float>.Shared.Rent(count * WinogradParts * rowsInBlock * NR);
        Span<TileRun> runs = stackalloc TileRun[8 * NR];
        Span<int> runStart = stackalloc int[9];
        try
        {
            fixed (float* v = transformed, acc = accumulator)
            {
                // The chunk's inputs, transformed once for all its rows: panel q, part ξ, channel ci at v[((q·16 + ξ)·c + ci)·NR].
                for (int q = 0; q < count; q++)
                {
                    long t0 = (long)(p0 + q) * NR;
                    int used = (int)Math.Min(NR, tiles - t0);
                    runStart[q + 1] = runStart[q] + TileRuns(t0, used, tilesW, tilesH, runs[runStart[q]..]);
                    float* panel = v + (nint)q * WinogradParts * c * NR;
                    foreach (ref readonly var run in runs[runStart[q]..runStart[q + 1]])
                        TransformInputs(x + (nint)run.Image * xImageStride, g, run, panel, c);
                    // Columns past the last tile: zero, so the products there stay finite (they are never stored).
                    if (used < NR)
                        for (int row = 0; row < WinogradParts * c; row++) new Span<float>(panel + row * NR + used, NR - used).Clear();
                }
                for (int b0 = r0; b0 < r1; b0 += rowBlock)
                {
                    int rows = Math.Min(rowBlock, r1 - b0), rowsPadded = (rows + MR - 1) / MR * MR;
                    new Span<float>(acc, count * WinogradParts * rowsPadded * NR).Clear();
                    for (int part = 0; part < WinogradParts; part++)
                    for (int q = 0; q < count; q++)
                    {
                        float* panel = v + ((nint)q * WinogradParts + part) * c * NR;
                        float* tile = acc + ((nint)q * WinogradParts + part) * rowsPadded * NR;
                        // The panel (c x 32, in L1 for c up to ~300) meets every sliver of the block's filters.
                        for (int i0 = 0; i0 < rowsPadded; i0 += MR)
                        for (int k0 = 0; k0 < c; k0 += KC)
                        {
                            int kc = Math.Min(KC, c - k0);
                            MicroKernel(kc, 1f, u + (nint)part * partLength + (nint)mPadded * k0 + (nint)(b0 + i0) * kc,
                                panel + (nint)k0 * NR, tile + i0 * NR, NR, MR, NR);
                        }
                    }
                    for (int q = 0; q < count; q++)
                    foreach (ref readonly var run in runs[runStart[q]..runStart[q + 1]])
                        TransformOutputs(acc + (nint)q * WinogradParts * rowsPadded * NR, rowsPadded, run, g, b0, rows, bias,
                            y + (nint)run.Image * yImageStride, accumulate, clamp);
                }
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(transformed);
            ArrayPool<float>.Shared.Return(accumulator);
        }
    }

    /// <summary>Splits panel columns [0, used) (tiles t0, t0 + 1, ...) into runs within one tile row.</summary>
    private static int TileRuns(long t0, int used, int tilesW, int tilesH, Span<TileRun> runs)
    {
        int count = 0, perImage = tilesW * tilesH;
        for (int j = 0; j < used;)
        {
            long t = t0 + j;
            int n = (int)(t / perImage), within = (int)(t % perImage), th = within / tilesW, tw = within % tilesW;
            int length = Math.Min(used - j, tilesW - tw);
            runs[count++] = new TileRun { Column = j, Length = length, Image = n, TileRow = th, TileColumn = tw };
            j += length;
        }
        return count;
    }

    /// <summary>
    /// V = Bᵀ d B for every channel of one run's tiles, into the panel's 16 parts (column run.Column onwards). The input
    /// rows are read split into even and odd columns, so that both passes run along the tiles in vectors.
    /// </summary>
    private static unsafe void TransformInputs(float* image, in ConvGeometry g, in TileRun run, float* panel, int c)
    {
        const int V = 8;
        int len = run.Length, stride = (len + 1 + V - 1) / V * V + V;
        // even[i][k] = d_i[2k], odd[i][k] = d_i[2k + 1] for the 4 input rows i and k in [0, len]; then in place Bᵀ d.
        float* even = stackalloc float[4 * stride];
        float* odd = stackalloc float[4 * stride];
        int firstRow = 2 * run.TileRow - g.PadTop, firstColumn = 2 * run.TileColumn - g.PadLeft;
        int planeSize = g.Height * g.Width;
        for (int ci = 0; ci < c; ci++)
        {
            float* channel = image + (nint)ci * planeSize;
            for (int i = 0; i < 4; i++)
            {
                float* e = even + i * stride, o = odd + i * stride;
                int ih = firstRow + i;
                if ((uint)ih >= (uint)g.Height)
                {
                    new Span<float>(e, len + 1).Clear();
                    new Span<float>(o, len + 1).Clear();
                    continue;
                }
                SplitEvenOdd(channel + (nint)ih * g.Width, firstColumn, g.Width, len + 1, e, o);
            }
            // Bᵀ d down the columns: rows d0 − d2, d1 + d2, d2 − d1, d1 − d3.
            VerticalInputTransform(even, stride, len + 1);
            VerticalInputTransform(odd, stride, len + 1);
            // … B across: of row t, tile k reads t[2k..2k+3] = even[k], odd[k], even[k+1], odd[k+1]:
            // t0 − t2, t1 + t2, t2 − t1, t1 − t3.
            for (int i = 0; i < 4; i++)
            {
                float* e = even + i * stride, o = odd + i * stride;
                float* d0 = panel + ((nint)(i * 4) * c + ci) * NR + run.Column;
                float* d1 = d0 + (nint)c * NR, d2 = d1 + (nint)c * NR, d3 = d2 + (nint)c * NR;
                int k = 0;
                if (Use256)
                {
                    for (; k + V <= len; k += V)
                    {
                        var e0 = Vector256.Load(e + k); var o0 = Vector256.Load(o + k);
                        var e1 = Vector256.Load(e + k + 1); var o1 = Vector256.Load(o + k + 1);
                        (e0 - e1).Store(d0 + k); (o0 + e1).Store(d1 + k); (e1 - o0).Store(d2 + k); (o0 - o1).Store(d3 + k);
                    }
                }
                for (; k < len; k++)
                {
                    d0[k] = e[k] - e[k + 1]; d1[k] = o[k] + e[k + 1]; d2[k] = e[k + 1] - o[k]; d3[k] = o[k] - o[k + 1];
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void VerticalInputTransform(float* rows, int stride, int count)
    {
        float* r0 = rows, r1 = rows + stride, r2 = rows + 2 * stride, r3 = rows + 3 * stride;
        int k = 0;
        if (Use256)
        {
            for (; k + 8 <= count; k += 8)
            {
                var d0 = Vector256.Load(r0 + k); var d1 = Vector256.Load(r1 + k);
                var d2 = Vector256.Load(r2 + k); var d3 = Vector256.Load(r3 + k);
                (d0 - d2).Store(r0 + k); (d1 + d2).Store(r1 + k); (d2 - d1).Store(r2 + k); (d1 - d3).Store(r3 + k);
            }
        }
        for (; k < count; k++)
        {
            float d0 = r0[k], d1 = r1[k], d2 = r2[k], d3 = r3[k];
            r0[k] = d0 - d2; r1[k] = d1 + d2; r2[k] = d2 - d1; r3[k] = d1 - d3;
        }
    }

    /// <summary>
    /// Y = Aᵀ M A for one run's tiles and output rows [b0, b0 + rows): of each tile's 4x4 products M (the 16 parts'
    /// accumulators), the 2x2 outputs (those inside the image) get init added (bias or Y's value) and the clamp.
    /// </summary>
    private static unsafe void TransformOutputs(float* acc, int rowsPadded, in TileRun run, in ConvGeometry g, int b0, int rows,
        float* bias, float* image, bool accumulate, OutputClamp clamp)
    {
        const int V = 8;
        int len = run.Length, plane = g.OutHeight * g.OutWidth;
        int oh = 2 * run.TileRow, ow0 = 2 * run.TileColumn;
        bool secondRow = oh + 1 < g.OutHeight;
        // The run's last tile may stick out of the image on the right (odd widths): its second column is dropped.
        int pairs = Math.Min(len, (g.OutWidth - ow0) / 2);
        float* result = stackalloc float[4 * NR];
        nint partStride = (nint)rowsPadded * NR;
        for (int r = 0; r < rows; r++)
        {
            float* m0 = acc + (nint)r * NR + run.Column;
            int k = 0;
            if (Use256)
            {
                for (; k + V <= len; k += V)
                {
                    // Aᵀ M down the columns (rows M0 + M1 + M2 and M1 − M2 − M3), then A across.
                    Vector256<float> s00, s01, s02, s03, s10, s11, s12, s13;
                    {
                        var a = Vector256.Load(m0 + k); var b = Vector256.Load(m0 + 4 * partStride + k);
                        var cc = Vector256.Load(m0 + 8 * partStride + k); var d = Vector256.Load(m0 + 12 * partStride + k);
                        s00 = a + b + cc; s10 = b - cc - d;
                    }
                    {
                        var a = Vector256.Load(m0 + partStride + k); var b = Vector256.Load(m0 + 5 * partStride + k);
                        var cc = Vector256.Load(m0 + 9 * partStride + k); var d = Vector256.Load(m0 + 13 * partStride + k);
                        s01 = a + b + cc; s11 = b - cc - d;
                    }
                    {
                        var a = Vector256.Load(m0 + 2 * partStride + k); var b = Vector256.Load(m0 + 6 * partStride + k);
                        var cc = Vector256.Load(m0 + 10 * partStride + k); var d = Vector256.Load(m0 + 14 * partStride + k);
                        s02 = a + b + cc; s12 = b - cc - d;
                    }
                    {
                        var a = Vector256.Load(m0 + 3 * partStride + k); var b = Vector256.Load(m0 + 7 * partStride + k);
                        var cc = Vector256.Load(m0 + 11 * partStride + k); var d = Vector256.Load(m0 + 15 * partStride + k);
                        s03 = a + b + cc; s13 = b - cc - d;
                    }
                    Vector256<float> y00 = s00 + s01 + s02, y01 = s01 - s02 - s03, y10 = s10 + s11 + s12, y11 = s11 - s12 - s13;
                    if (k + V <= pairs && Avx.IsSupported)
                    {
                        // All 8 tiles have both columns inside: 16 outputs per row, interleaved in registers.
                        float* row0 = image + (nint)(b0 + r) * plane + (nint)oh * g.OutWidth + ow0 + 2 * k;
                        float init0 = bias is null ? 0f : bias[b0 + r];
                        WritePairs(row0, y00, y01, accumulate, init0, clamp);
                        if (secondRow) WritePairs(row0 + g.OutWidth, y10, y11, accumulate, init0, clamp);
                        continue;
                    }
                    y00.Store(result + k); y01.Store(result + NR + k);
                    y10.Store(result + 2 * NR + k); y11.Store(result + 3 * NR + k);
                }
            }
            for (; k < len; k++)
            {
                float* mk = m0 + k;
                float s00 = mk[0] + mk[4 * partStride] + mk[8 * partStride], s10 = mk[4 * partStride] - mk[8 * partStride] - mk[12 * partStride];
                float s01 = mk[partStride] + mk[5 * partStride] + mk[9 * partStride], s11 = mk[5 * partStride] - mk[9 * partStride] - mk[13 * partStride];
                float s02 = mk[2 * partStride] + mk[6 * partStride] + mk[10 * partStride], s12 = mk[6 * partStride] - mk[10 * partStride] - mk[14 * partStride];
                float s03 = mk[3 * partStride] + mk[7 * partStride] + mk[11 * partStride], s13 = mk[7 * partStride] - mk[11 * partStride] - mk[15 * partStride];
                result[k] = s00 + s01 + s02; result[NR + k] = s01 - s02 - s03;
                result[2 * NR + k] = s10 + s11 + s12; result[3 * NR + k] = s11 - s12 - s13;
            }
            // Tiles from the first not written in vectors above (a run's vectors are full-pair ones first, then the rest).
            int from = Use256 && Avx.IsSupported ? Math.Min(pairs, len) / V * V : 0;
            if (from >= len) continue;
            int row = b0 + r;
            float init = bias is null ? 0f : bias[row];
            float* out0 = image + (nint)row * plane + (nint)oh * g.OutWidth + ow0;
            WriteOutputRow(out0, result, result + NR, from, len, pairs, accumulate, init, clamp);
            if (secondRow) WriteOutputRow(out0 + g.OutWidth, result + 2 * NR, result + 3 * NR, from, len, pairs, accumulate, init, clamp);
        }
    }

    /// <summary>Outputs left[0..8) and right[0..8) of 8 tiles as 16 consecutive floats: init (or Y) added, clamped.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void WritePairs(float* dst, Vector256<float> left, Vector256<float> right, bool accumulate, float init, OutputClamp clamp)
    {
        // Unpack interleaves within 128-bit halves: low = tiles 0,1 | 4,5 and high = tiles 2,3 | 6,7; the permutes order them.
        var low = Avx.UnpackLow(left, right);
        var high = Avx.UnpackHigh(left, right);
        var first = Avx.Permute2x128(low, high, 0x20);
        var second = Avx.Permute2x128(low, high, 0x31);
        if (accumulate)
        {
            (Vector256.Load(dst) + first).Store(dst);
            (Vector256.Load(dst + 8) + second).Store(dst + 8);
            return;
        }
        var start = Vector256.Create(init);
        first = start + first; second = start + second;
        if (clamp.Active) { first = clamp.Apply(first); second = clamp.Apply(second); }
        first.Store(dst); second.Store(dst + 8);
    }

    /// <summary>Interleaves tiles [from, len) of a run's left and right output columns into one output row (the last right one may be outside).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void WriteOutputRow(float* dst, float* left, float* right, int from, int len, int pairs, bool accumulate, float init, OutputClamp clamp)
    {
        for (int k = from; k < len; k++)
        {
            float a = accumulate ? dst[2 * k] + left[k] : init + left[k];
            dst[2 * k] = clamp.Active ? clamp.Apply(a) : a;
            if (k >= pairs) break;
            float b = accumulate ? dst[2 * k + 1] + right[k] : init + right[k];
            dst[2 * k + 1] = clamp.Active ? clamp.Apply(b) : b;
        }
    }
}

/// <summary>Filters transformed for <see cref="Kernels.WinogradConvolution"/> (16 packed parts).</summary>
public sealed class WinogradFilters : PreparedFilters
{
    internal WinogradFilters(int rows, int channels, float[] data) : base(rows, data) { Channels = channels; }

    /// <summary>Input channels.</summary>
    public int Channels { get; }
}
