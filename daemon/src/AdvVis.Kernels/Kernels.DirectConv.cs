// Direct convolution for few output channels (small CNNs' first layers, input gradients into thin layers): with M
// under ~16 an im2col GEMM spends more time gathering its columns than multiplying them, since every gathered value
// feeds only M multiply-adds. Here each output vector (8 columns of one output row) sums its C·KH·KW taps in a
// register, reading zero-padded copies of the image's rows: no column matrix, no packing.
using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace AdvVis.Kernels;

public static partial class Kernels
{
    /// <summary>Whether <see cref="DirectConvolution"/> handles this geometry (its row and tap tables are on the stack).</summary>
    public static bool SupportsDirectConvolution(in ConvGeometry g) => (long)g.Channels * g.KernelH <= 4096 && g.KernelW <= 64;

    /// <summary>
    /// The contract of <see cref="ConvolutionGemm(ReadOnlySpan{float}, int, in ConvGeometry, int, ReadOnlySpan{float}, int, int, ReadOnlySpan{float}, Span{float}, int, bool)"/>
    /// with W's rows K = C·KH·KW apart: Y[n][m, p] = init[m] + Σ_k W[m, k] · cols_n[k, p], computed directly.
    /// Per element the taps add in the order channel, kernel row, kernel column, then init is added (deterministic,
    /// images in parallel). Strided rows are read through their stride phases. See <see cref="SupportsDirectConvolution"/>.
    /// </summary>
    public static void DirectConvolution(ReadOnlySpan<float> x, int xImageStride, in ConvGeometry g, int images,
        ReadOnlySpan<float> w, int m, ReadOnlySpan<float> bias, Span<float> y, int yImageStride, bool accumulate,
        OutputClamp clamp = default)
    {
        if (accumulate && clamp.Active) throw new ArgumentException("A clamp applies to written outputs, not accumulated ones.", nameof(clamp));
        if (!SupportsDirectConvolution(g)) throw new ArgumentException("DirectConvolution takes at most 4096 channel rows (channels x kernel height) and kernels up to 64 wide.", nameof(g));
        int plane = g.OutHeight * g.OutWidth, k = g.ColumnRows;
        if (!HasConvolutionWork("DirectConvolution", x.Length, xImageStride, g, images, m, bias.Length, y.Length, yImageStride)) return;
        if (w.Length < (long)m * k) throw new ArgumentException("DirectConvolution: a buffer is smaller than the geometry requires.");
        unsafe
        {
            fixed (float* px0 = x, pw0 = w, pb0 = bias, py0 = y)
            {
                nint px = (nint)px0, pw = (nint)pw0, pb = bias.IsEmpty ? 0 : (nint)pb0, py = (nint)py0;
                var geometry = g;
                Parallelism.For(images, (long)images * m * plane * k, n =>
                    DirectConvolutionImage((float*)px + (nint)n * xImageStride, geometry, (float*)pw, m, (float*)pb,
                        (float*)py + (nint)n * yImageStride, accumulate, clamp));
            }
        }
    }

    private static unsafe void DirectConvolutionImage(float* x, in ConvGeometry g, float* w, int m, float* bias, float* y, bool accumulate, OutputClamp clamp)
    {
        const int V = 8;
        int ow = g.OutWidth, oh = g.OutHeight, plane = ow * oh, taps = g.KernelH * g.KernelW;
        // Output vectors go in pairs (the second may be past the row: computed, not stored).
        int vectors = (ow + V - 1) / V, pairs = (vectors + 1) / 2;
        // Each padded input row ([PadLeft zeros][Width values][zeros]) is stored split into its stride phases: phase r
        // holds padded columns r, r + s, r + 2s, ... Output column j at tap kw reads padded column j·s + kw·d, which is
        // phase (kw·d) mod s at index j + (kw·d) div s: consecutive output columns read consecutive phase entries.
        int sw = g.StrideW;
        int phaseLength = pairs * 2 * V + (g.KernelW - 1) * g.DilationW / sw + 1;
        int padded = sw * phaseLength;
        var scratch = ArrayPool<float>.Shared.Rent(g.Channels * g.Height * padded + padded);
        int* tapOffset = stackalloc int[g.KernelW];
        for (int kw = 0; kw < g.KernelW; kw++)
            tapOffset[kw] = kw * g.DilationW % sw * phaseLength + kw * g.DilationW / sw;
        try
        {
            fixed (float* s = scratch)
            {
                float* zeroRow = s + (nint)g.Channels * g.Height * padded;
                new Span<float>(zeroRow, padded).Clear();
                for (int c = 0; c < g.Channels; c++)
                for (int ih = 0; ih < g.Height; ih++)
                {
                    float* row = s + ((nint)c * g.Height + ih) * padded;
                    float* src = x + ((nint)c * g.Height + ih) * g.Width;
                    if (sw == 1)
                    {
                        // Column iw + PadLeft holds pixel iw; everything else is zero (a negative padding crops).
                        new Span<float>(row, padded).Clear();
                        int first = Math.Max(0, -g.PadLeft), last = Math.Min(g.Width, padded - g.PadLeft);
                        if (last > first)
                            new ReadOnlySpan<float>(src + first, last - first).CopyTo(new Span<float>(row + first + g.PadLeft, last - first));
                        continue;
                    }
                    for (int r = 0; r < sw; r++)
                    {
                        float* phase = row + r * phaseLength;
                        for (int j = 0; j < phaseLength; j++)
                        {
                            int iw = j * sw + r - g.PadLeft;
                            phase[j] = (uint)iw < (uint)g.Width ? src[iw] : 0f;
                        }
                    }
                }
                float** rows = stackalloc float*[g.Channels * g.KernelH];
                float* tail = stackalloc float[V];
                for (int r = 0; r < oh; r++)
                {
                    // The padded input rows this output row reads, per channel and kernel row (a zero row in the padding).
                    for (int c = 0; c < g.Channels; c++)
                    for (int kh = 0; kh < g.KernelH; kh++)
                    {
                        int ih = r * g.StrideH - g.PadTop + kh * g.DilationH;
                        rows[c * g.KernelH + kh] = (uint)ih < (uint)g.Height ? s + ((nint)c * g.Height + ih) * padded : zeroRow;
                    }
                    // Four filters x two output vectors at a time: eight independent multiply-add chains (one chain
                    // would wait on the FMA latency at every tap), and each loaded input vector feeds four filters.
                    for (int m0 = 0; m0 < m; m0 += 4)
                    {
                        // A partial group repeats its last filter; the repeats are computed but not stored.
                        float* f0 = w + (nint)m0 * taps * g.Channels;
                        float* f1 = w + (nint)Math.Min(m0 + 1, m - 1) * taps * g.Channels;
                        float* f2 = w + (nint)Math.Min(m0 + 2, m - 1) * taps * g.Channels;
                        float* f3 = w + (nint)Math.Min(m0 + 3, m - 1) * taps * g.Channels;
                        for (int pair = 0; pair < pairs; pair++)
                        {
                            int col = pair * 2 * V;
                            Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
                            Vector256<float> b0 = default, b1 = default, b2 = default, b3 = default;
                            int t = 0;
                            for (int c = 0; c < g.Channels; c++)
                            for (int kh = 0; kh < g.KernelH; kh++)
                            {
                                float* src = rows[c * g.KernelH + kh] + col;
                                for (int kw = 0; kw < g.KernelW; kw++, t++)
                                {
                                    var lo = Vector256.Load(src + tapOffset[kw]);
                                    var hi = Vector256.Load(src + tapOffset[kw] + V);
                                    var w0 = Vector256.Create(f0[t]); a0 = Vector256.FusedMultiplyAdd(w0, lo, a0); b0 = Vector256.FusedMultiplyAdd(w0, hi, b0);
                                    var w1 = Vector256.Create(f1[t]); a1 = Vector256.FusedMultiplyAdd(w1, lo, a1); b1 = Vector256.FusedMultiplyAdd(w1, hi, b1);
                                    var w2 = Vector256.Create(f2[t]); a2 = Vector256.FusedMultiplyAdd(w2, lo, a2); b2 = Vector256.FusedMultiplyAdd(w2, hi, b2);
                                    var w3 = Vector256.Create(f3[t]); a3 = Vector256.FusedMultiplyAdd(w3, lo, a3); b3 = Vector256.FusedMultiplyAdd(w3, hi, b3);
                                }
                            }
                            int first = Math.Min(V, ow - col), second = Math.Min(V, ow - col - V);
                            StoreFilterColumns(y, plane, r * ow + col, m0, m, bias, accumulate, clamp, first, second, tail, a0, b0, a1, b1, a2, b2, a3, b3);
                        }
                    }
                }
            }
        }
        finally { ArrayPool<float>.Shared.Return(scratch); }
    }

    /// <summary>Stores filters m0..m0+3 (those below m) of one vector pair: init (bias, 0 or Y) + the tap sums.</summary>
    private static unsafe void StoreFilterColumns(float* y, int plane, int offset, int m0, int m, float* bias, bool accumulate, OutputClamp clamp,
        int first, int second, float* tail, Vector256<float> a0, Vector256<float> b0, Vector256<float> a1, Vector256<float> b1,
        Vector256<float> a2, Vector256<float> b2, Vector256<float> a3, Vector256<float> b3)
    {
        for (int j = 0; j < 4 && m0 + j < m; j++)
        {
            var (lo, hi) = j switch { 0 => (a0, b0), 1 => (a1, b1), 2 => (a2, b2), _ => (a3, b3) };
            float* dst = y + (nint)(m0 + j) * plane + offset;
            float init = bias is null ? 0f : bias[m0 + j];
            StoreColumns(lo, dst, first, accumulate, init, tail, clamp);
            if (second > 0) StoreColumns(hi, dst + 8, second, accumulate, init, tail, clamp);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void StoreColumns(Vector256<float> sum, float* dst, int count, bool accumulate, float init, float* tail, OutputClamp clamp)
    {
        if (count == 8)
        {
            var value = accumulate ? Vector256.Load(dst) + sum : Vector256.Create(init) + sum;
            (clamp.Active ? clamp.Apply(value) : value).Store(dst);
            return;
        }
        sum.Store(tail);
        for (int j = 0; j < count; j++)
        {
            float value = accumulate ? dst[j] + tail[j] : init + tail[j];
            dst[j] = clamp.Active ? clamp.Apply(value) : value;
        }
    }
}
