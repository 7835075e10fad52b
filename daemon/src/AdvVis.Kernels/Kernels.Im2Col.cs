// Convolution lowering: im2col turns a padded, strided, dilated 2-D convolution into one GEMM;
// col2im is its adjoint (it accumulates, which is exactly the gradient of im2col).
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace AdvVis.Kernels;

/// <summary>Geometry of one 2-D convolution or pooling window over a single image (channels x height x width).</summary>
public readonly record struct ConvGeometry(
    int Channels, int Height, int Width,
    int KernelH, int KernelW,
    int StrideH, int StrideW,
    int PadTop, int PadLeft,
    int DilationH, int DilationW,
    int OutHeight, int OutWidth)
{
    public int ColumnRows => Channels * KernelH * KernelW;
    public int ColumnCols => OutHeight * OutWidth;
}

public static partial class Kernels
{
    /// <summary>col[(c,kh,kw), (oh,ow)] = x[c, oh*s - pad + kh*d, ow*s - pad + kw*d], zero outside the image.</summary>
    public static void Im2Col(ReadOnlySpan<float> image, in ConvGeometry g, Span<float> columns) =>
        Im2Col(image, g, columns, g.OutHeight * g.OutWidth);

    /// <summary>
    /// Im2Col into a wider matrix: row r of this image's columns starts at columns[r * rowStride], so several images
    /// can sit side by side (image i at offset i * OutHeight * OutWidth) and share one GEMM.
    /// </summary>
    public static void Im2Col(ReadOnlySpan<float> image, in ConvGeometry g, Span<float> columns, int rowStride) =>
        Im2Col(image, g, columns, rowStride, 0, g.ColumnRows);

    /// <summary>
    /// Only rows [rowStart, rowStart + rowCount) of the column matrix, written from columns[0]: a GEMM can then take
    /// the depth in blocks whose columns stay in cache instead of materialising the whole matrix.
    /// </summary>
    public static void Im2Col(ReadOnlySpan<float> image, in ConvGeometry g, Span<float> columns, int rowStride, int rowStart, int rowCount)
    {
        int outPlane = g.OutHeight * g.OutWidth, taps = g.KernelH * g.KernelW;
        for (int row = rowStart; row < rowStart + rowCount; row++)
        {
            int c = row / taps, kh = row % taps / g.KernelW, kw = row % g.KernelW;
            var plane = image.Slice(c * g.Height * g.Width, g.Height * g.Width);
            {
                var dst = columns.Slice((row - rowStart) * rowStride, outPlane);
                for (int oh = 0; oh < g.OutHeight; oh++)
                {
                    int ih = oh * g.StrideH - g.PadTop + kh * g.DilationH;
                    var dstRow = dst.Slice(oh * g.OutWidth, g.OutWidth);
                    if ((uint)ih >= (uint)g.Height) { dstRow.Clear(); continue; }
                    var src = plane.Slice(ih * g.Width, g.Width);
                    int iw0 = -g.PadLeft + kw * g.DilationW;
                    if (g.StrideW == 1)
                    {
                        // Output columns [lo, hi) read pixels iw0 + ow; the rest fall in the padding.
                        int lo = Math.Clamp(-iw0, 0, g.OutWidth), hi = Math.Clamp(g.Width - iw0, lo, g.OutWidth);
                        dstRow[..lo].Clear();
                        if (hi > lo) src.Slice(iw0 + lo, hi - lo).CopyTo(dstRow[lo..]);
                        dstRow[hi..].Clear();
                        continue;
                    }
                    for (int ow = 0; ow < g.OutWidth; ow++)
                    {
                        int iw = iw0 + ow * g.StrideW;
                        dstRow[ow] = (uint)iw < (uint)g.Width ? src[iw] : 0f;
                    }
                }
            }
        }
    }

    /// <summary>The adjoint of Im2Col: image += scatter(columns). Overlapping windows add up.</summary>
    public static void Col2ImAccumulate(ReadOnlySpan<float> columns, in ConvGeometry g, Span<float> image) =>
        Col2ImAccumulate(columns, g, image, g.OutHeight * g.OutWidth);

    /// <summary>
    /// dst[j · stride] += src[j] for every j. Stride 2 in vectors: 8 values spread over 16 floats with −0 between them
    /// (adding −0 leaves every float as it is, −0 included), so each element gets the same one addition as the scalar loop.
    /// </summary>
    private static unsafe void AddStrided(ReadOnlySpan<float> src, Span<float> dst, int stride)
    {
        if (src.Length == 0) return;
        if ((long)(src.Length - 1) * stride >= dst.Length) throw new ArgumentException("AddStrided: the destination is too short.");
        fixed (float* ps = src, pd = dst)
        {
            int j = 0;
            if (stride == 2 && Use256 && Avx.IsSupported)
            {
                var negativeZero = Vector256.Create(-0f);
                for (; j + 8 <= src.Length && 2 * j + 16 <= dst.Length; j += 8)
                {
                    var v = Avx.LoadVector256(ps + j);
                    var low = Avx.UnpackLow(v, negativeZero);    // v0 · v1 · | v4 · v5 ·
                    var high = Avx.UnpackHigh(v, negativeZero);  // v2 · v3 · | v6 · v7 ·
                    float* d = pd + 2 * j;
                    (Avx.LoadVector256(d) + Avx.Permute2x128(low, high, 0x20)).Store(d);
                    (Avx.LoadVector256(d + 8) + Avx.Permute2x128(low, high, 0x31)).Store(d + 8);
                }
            }
            for (; j < src.Length; j++) pd[(nint)j * stride] += ps[j];
        }
    }

    /// <summary>
    /// even[k] = row[first + 2k], odd[k] = row[first + 2k + 1] (0 outside [0, width)) for k in [0, count): a row,
    /// zero-padded on either side, split into its two column phases (Winograd's tiles, stride-2 depthwise windows). The
    /// stretch where both reads are inside the row (all of it but a padded edge) is split in vectors.
    /// </summary>
    private static unsafe void SplitEvenOdd(float* row, int first, int width, int count, float* even, float* odd)
    {
        // k in [lo, hi): columns first + 2k and first + 2k + 1 both inside the row.
        int lo = Math.Min(count, first >= 0 ? 0 : (1 - first) / 2);
        int hi = Math.Max(lo, Math.Min(count, width - first >= 0 ? (width - first) / 2 : 0));
        for (int k = 0; k < lo; k++) EvenOddChecked(row, first, width, k, even, odd);
        int j = lo;
        if (Use256 && Avx2.IsSupported)
        {
            // 16 floats into their 8 even and 8 odd ones (the shuffles pick within 128-bit halves; the permutes put the
            // halves in order).
            for (; j + 8 <= hi; j += 8)
            {
                float* from = row + first + 2 * j;
                var a = Avx.LoadVector256(from); var b = Avx.LoadVector256(from + 8);
                Avx.Store(even + j, Avx2.Permute4x64(Avx.Shuffle(a, b, 0b10_00_10_00).AsDouble(), 0b11_01_10_00).AsSingle());
                Avx.Store(odd + j, Avx2.Permute4x64(Avx.Shuffle(a, b, 0b11_01_11_01).AsDouble(), 0b11_01_10_00).AsSingle());
            }
        }
        for (; j < hi; j++) { even[j] = row[first + 2 * j]; odd[j] = row[first + 2 * j + 1]; }
        for (int k = hi; k < count; k++) EvenOddChecked(row, first, width, k, even, odd);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void EvenOddChecked(float* row, int first, int width, int k, float* even, float* odd)
    {
        int column = first + 2 * k;
        even[k] = (uint)column < (uint)width ? row[column] : 0f;
        odd[k] = (uint)(column + 1) < (uint)width ? row[column + 1] : 0f;
    }

    /// <summary>Col2ImAccumulate from a wider matrix whose rows start every <paramref name="rowStride"/> floats.</summary>
    public static void Col2ImAccumulate(ReadOnlySpan<float> columns, in ConvGeometry g, Span<float> image, int rowStride)
    {
        int outPlane = g.OutHeight * g.OutWidth;
        int row = 0;
        for (int c = 0; c < g.Channels; c++)
        {
            var plane = image.Slice(c * g.Height * g.Width, g.Height * g.Width);
            for (int kh = 0; kh < g.KernelH; kh++)
            for (int kw = 0; kw < g.KernelW; kw++, row++)
            {
                var src = columns.Slice(row * rowStride, outPlane);
                for (int oh = 0; oh < g.OutHeight; oh++)
                {
                    int ih = oh * g.StrideH - g.PadTop + kh * g.DilationH;
                    if ((uint)ih >= (uint)g.Height) continue;
                    var dst = plane.Slice(ih * g.Width, g.Width);
                    var srcRow = src.Slice(oh * g.OutWidth, g.OutWidth);
                    int iw0 = -g.PadLeft + kw * g.DilationW;
                    if (g.StrideW == 1)
                    {
                        int lo = Math.Clamp(-iw0, 0, g.OutWidth), hi = Math.Clamp(g.Width - iw0, lo, g.OutWidth);
                        if (hi <= lo) continue;
                        var d = dst.Slice(iw0 + lo, hi - lo);
                        System.Numerics.Tensors.TensorPrimitives.Add(d, srcRow[lo..hi], d);
                        continue;
                    }
                    // Output columns [first, last) land inside the row (iw = iw0 + ow·stride).
                    int s = g.StrideW;
                    int first = iw0 >= 0 ? 0 : (-iw0 + s - 1) / s;
                    int last = iw0 >= g.Width ? 0 : Math.Min(g.OutWidth, (g.Width - 1 - iw0) / s + 1);
                    if (last > first) AddStrided(srcRow[first..last], dst[(iw0 + first * s)..], s);
                }
            }
        }
    }
}
