// Elementwise kernels for the hot activation ops and the row helpers of the direct convolution kernels.
// Each has a Vector512 path, a Vector256 path and a portable scalar path that do the same IEEE operations per element
// (no fused multiply-add where the reference does a separate multiply and add), so all three give identical bits.
// The *Reference methods are the plain-loop specifications the tests compare against on every length 0-256.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace AdvVis.Kernels;

public static partial class Kernels
{
    /// <summary>Test hook: 512 forces Vector512 off (Vector256 then scalar), 256 forces both off (scalar only).</summary>
    public static int DisableSimdAbove { get; set; } = int.MaxValue;

    internal static bool Use512 => Vector512.IsHardwareAccelerated && DisableSimdAbove > 512;
    internal static bool Use256 => Vector256.IsHardwareAccelerated && DisableSimdAbove > 256;

    /// <summary>y[i] += x[i] * k (a separate multiply and add, as <c>y += x * k</c> in C#).</summary>
    public static unsafe void MulAdd(ReadOnlySpan<float> x, float k, Span<float> y)
    {
        if (x.Length != y.Length) throw new ArgumentException("x and y differ in length.");
        int n = x.Length, i = 0;
        fixed (float* px = x, py = y)
        {
            if (Use512)
            {
                var vk = Vector512.Create(k);
                for (; i + 16 <= n; i += 16) (Vector512.Load(py + i) + Vector512.Load(px + i) * vk).Store(py + i);
            }
            if (Use256)
            {
                var vk = Vector256.Create(k);
                for (; i + 8 <= n; i += 8) (Vector256.Load(py + i) + Vector256.Load(px + i) * vk).Store(py + i);
            }
            for (; i < n; i++) py[i] += px[i] * k;
        }
    }

    public static void MulAddReference(ReadOnlySpan<float> x, float k, Span<float> y)
    {
        for (int i = 0; i < x.Length; i++) y[i] += x[i] * k;
    }

    /// <summary>
    /// Σ x[i]·y[i] in a fixed order on every path: eight running lanes (lane = i mod 8 over whole blocks of 8),
    /// summed lane 0 to 7, then the tail in order.
    /// </summary>
    public static unsafe float Dot(ReadOnlySpan<float> x, ReadOnlySpan<float> y)
    {
        if (x.Length != y.Length) throw new ArgumentException("x and y differ in length.");
        int n = x.Length, i = 0;
        float* lanes = stackalloc float[8];
        fixed (float* px = x, py = y)
        {
            if (Use256)
            {
                var acc = Vector256<float>.Zero;
                for (; i + 8 <= n; i += 8) acc += Vector256.Load(px + i) * Vector256.Load(py + i);
                acc.Store(lanes);
            }
            else
            {
                for (int l = 0; l < 8; l++) lanes[l] = 0f;
                for (; i + 8 <= n; i += 8)
                    for (int l = 0; l < 8; l++) lanes[l] += px[i + l] * py[i + l];
            }
            float sum = 0f;
            for (int l = 0; l < 8; l++) sum += lanes[l];
            for (; i < n; i++) sum += px[i] * py[i];
            return sum;
        }
    }

    public static float DotReference(ReadOnlySpan<float> x, ReadOnlySpan<float> y)
    {
        var lanes = new float[8];
        int blocks = x.Length / 8 * 8;
        for (int i = 0; i < blocks; i++) lanes[i % 8] += x[i] * y[i];
        float sum = 0f;
        for (int l = 0; l < 8; l++) sum += lanes[l];
        for (int i = blocks; i < x.Length; i++) sum += x[i] * y[i];
        return sum;
    }

    /// <summary>y = min(max(x, lo), hi) with MathF.Max/Min semantics (NaN propagates).</summary>
    public static unsafe void Clip(ReadOnlySpan<float> x, float lo, float hi, Span<float> y)
    {
        if (x.Length != y.Length) throw new ArgumentException("x and y differ in length.");
        int n = x.Length, i = 0;
        fixed (float* px = x, py = y)
        {
            if (Use512)
            {
                Vector512<float> vl = Vector512.Create(lo), vh = Vector512.Create(hi);
                for (; i + 16 <= n; i += 16) Vector512.Min(Vector512.Max(Vector512.Load(px + i), vl), vh).Store(py + i);
            }
            if (Use256)
            {
                Vector256<float> vl = Vector256.Create(lo), vh = Vector256.Create(hi);
                for (; i + 8 <= n; i += 8) Vector256.Min(Vector256.Max(Vector256.Load(px + i), vl), vh).Store(py + i);
            }
            for (; i < n; i++) py[i] = MathF.Min(MathF.Max(px[i], lo), hi);
        }
    }

    public static void ClipReference(ReadOnlySpan<float> x, float lo, float hi, Span<float> y)
    {
        for (int i = 0; i < x.Length; i++) y[i] = MathF.Min(MathF.Max(x[i], lo), hi);
    }

    /// <summary>dx[i] += lo &lt; x[i] &lt; hi ? dy[i] : 0 (strict on both sides; NaN passes nothing).</summary>
    public static void ClipBackward(ReadOnlySpan<float> x, float lo, float hi, ReadOnlySpan<float> dy, Span<float> dx) =>
        ClipBackward(x, lo, hi, dy, dx, accumulate: true);

    /// <summary>
    /// dx[i] = 0 + (lo &lt; x[i] &lt; hi ? dy[i] : 0): <see cref="ClipBackward(ReadOnlySpan{float}, float, float, ReadOnlySpan{float}, Span{float})"/>
    /// into a zeroed dx, without reading dx (the "+ 0" turns −0 into +0, as adding into zeros does, so both give the same bits).
    /// </summary>
    public static void ClipBackwardAssign(ReadOnlySpan<float> x, float lo, float hi, ReadOnlySpan<float> dy, Span<float> dx) =>
        ClipBackward(x, lo, hi, dy, dx, accumulate: false);

    /// <summary>dx = (accumulate ? dx : 0) + masked dy: the adding and the assigning rule share one loop.</summary>
    private static unsafe void ClipBackward(ReadOnlySpan<float> x, float lo, float hi, ReadOnlySpan<float> dy, Span<float> dx, bool accumulate)
    {
        if (x.Length != dx.Length || dy.Length != dx.Length) throw new ArgumentException("x, dy and dx differ in length.");
        int n = x.Length, i = 0;
        fixed (float* px = x, pdy = dy, pdx = dx)
        {
            if (Use512)
            {
                Vector512<float> vl = Vector512.Create(lo), vh = Vector512.Create(hi);
                for (; i + 16 <= n; i += 16)
                {
                    var v = Vector512.Load(px + i);
                    var inside = Vector512.GreaterThan(v, vl) & Vector512.LessThan(v, vh);
                    ((accumulate ? Vector512.Load(pdx + i) : Vector512<float>.Zero) + (Vector512.Load(pdy + i) & inside)).Store(pdx + i);
                }
            }
            if (Use256)
            {
                Vector256<float> vl = Vector256.Create(lo), vh = Vector256.Create(hi);
                for (; i + 8 <= n; i += 8)
                {
                    var v = Vector256.Load(px + i);
                    var inside = Vector256.GreaterThan(v, vl) & Vector256.LessThan(v, vh);
                    ((accumulate ? Vector256.Load(pdx + i) : Vector256<float>.Zero) + (Vector256.Load(pdy + i) & inside)).Store(pdx + i);
                }
            }
            for (; i < n; i++) pdx[i] = (accumulate ? pdx[i] : 0f) + (px[i] > lo && px[i] < hi ? pdy[i] : 0f);
        }
    }

    public static void ClipBackwardReference(ReadOnlySpan<float> x, float lo, float hi, ReadOnlySpan<float> dy, Span<float> dx)
    {
        for (int i = 0; i < x.Length; i++) dx[i] += x[i] > lo && x[i] < hi ? dy[i] : 0f;
    }

    public static void ClipBackwardAssignReference(ReadOnlySpan<float> x, float lo, float hi, ReadOnlySpan<float> dy, Span<float> dx)
    {
        for (int i = 0; i < x.Length; i++) dx[i] = 0f + (x[i] > lo && x[i] < hi ? dy[i] : 0f);
    }

    /// <summary>dx[i] += x[i] &gt; 0 ? dy[i] : 0 (ReLU's backward; the subgradient at 0 is 0).</summary>
    public static void ReluBackward(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx) =>
        ReluBackward(x, dy, dx, accumulate: true);

    /// <summary>
    /// dx[i] = 0 + (x[i] &gt; 0 ? dy[i] : 0): <see cref="ReluBackward(ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float})"/>
    /// into a zeroed dx, without reading dx (the "+ 0" turns −0 into +0, as adding into zeros does, so both give the same bits).
    /// </summary>
    public static void ReluBackwardAssign(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx) =>
        ReluBackward(x, dy, dx, accumulate: false);

    /// <summary>dx = (accumulate ? dx : 0) + masked dy: the adding and the assigning rule share one loop.</summary>
    private static unsafe void ReluBackward(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx, bool accumulate)
    {
        if (x.Length != dx.Length || dy.Length != dx.Length) throw new ArgumentException("x, dy and dx differ in length.");
        int n = x.Length, i = 0;
        fixed (float* px = x, pdy = dy, pdx = dx)
        {
            if (Use512)
            {
                for (; i + 16 <= n; i += 16)
                {
                    var mask = Vector512.GreaterThan(Vector512.Load(px + i), Vector512<float>.Zero);
                    ((accumulate ? Vector512.Load(pdx + i) : Vector512<float>.Zero) + (Vector512.Load(pdy + i) & mask)).Store(pdx + i);
                }
            }
            if (Use256)
            {
                for (; i + 8 <= n; i += 8)
                {
                    var mask = Vector256.GreaterThan(Vector256.Load(px + i), Vector256<float>.Zero);
                    ((accumulate ? Vector256.Load(pdx + i) : Vector256<float>.Zero) + (Vector256.Load(pdy + i) & mask)).Store(pdx + i);
                }
            }
            for (; i < n; i++) pdx[i] = (accumulate ? pdx[i] : 0f) + (px[i] > 0f ? pdy[i] : 0f);
        }
    }

    public static void ReluBackwardReference(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx)
    {
        for (int i = 0; i < x.Length; i++) dx[i] += x[i] > 0f ? dy[i] : 0f;
    }

    public static void ReluBackwardAssignReference(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx)
    {
        for (int i = 0; i < x.Length; i++) dx[i] = 0f + (x[i] > 0f ? dy[i] : 0f);
    }
}
