// A fast, deterministic float power for the SGD inner loop: x^y = 2^(y·log2 x) with short
// series kernels (relative error ≈ 3e−6, far below SGD noise; umap-learn itself compiles this loop
// with fastmath). Pure IEEE float arithmetic, so results are reproducible run to run.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace AdvVis.Analysis.Projection;

internal static class FastMath
{
    private const float Sqrt2 = 1.41421356f;
    private const float TwoLog2E = 2.88539008f; // 2 / ln 2

    /// <summary>x^y for x &gt; 0 (x is clamped to the normal range; results saturate at 2^±126).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Pow(float x, float y) => Exp2(y * Log2(x));

    /// <summary>log2 x for x &gt; 0: exponent bits + 2·atanh((m − 1)/(m + 1))/ln 2 with m ∈ [√½, √2).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Log2(float x)
    {
        if (x < 1e-37f)
            x = 1e-37f; // keep denormals (and zero) out of the bit manipulation
        int bits = BitConverter.SingleToInt32Bits(x);
        // Re-centre the mantissa on [√½, √2) by borrowing from the exponent when it exceeds √2 (bit trick on 0x3F3504F3 = √½).
        int offset = bits - 0x3F3504F3;
        int exponent = offset >> 23;
        float m = BitConverter.Int32BitsToSingle((offset & 0x007FFFFF) + 0x3F3504F3);
        float t = (m - 1f) / (m + 1f); // |t| < 0.1716
        float t2 = t * t;
        // 2/ln2 · (t + t³/3 + t⁵/5 + t⁷/7): remainder < 2e−8; split to shorten the dependency chain.
        float low = t * TwoLog2E + t * t2 * (TwoLog2E / 3f);
        float high = t * t2 * t2 * ((TwoLog2E / 5f) + t2 * (TwoLog2E / 7f));
        return exponent + (low + high);
    }

    /// <summary>2^y: integer part into the exponent bits, fractional part f ∈ [−½, ½] by a degree-6 Taylor series.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Exp2(float y)
    {
        if (y > 126f)
            y = 126f;
        else if (y < -126f)
            y = -126f;
        float rounded = MathF.Round(y);
        float f = (y - rounded) * 0.693147181f; // ln 2 · f, |·| ≤ 0.3466
        float f2 = f * f;
        // Estrin-style grouping of 1 + f + f²/2 + … + f⁶/720.
        float p01 = 1f + f;
        float p23 = 0.5f + f * (1f / 6f);
        float p45 = (1f / 24f) + f * (1f / 120f);
        float poly = p01 + f2 * (p23 + f2 * (p45 + f2 * (1f / 720f)));
        float scale = BitConverter.Int32BitsToSingle(((int)rounded + 127) << 23);
        return poly * scale;
    }

    /// <summary>
    /// Lane-wise <see cref="Pow(float, float)"/>: the same IEEE operations in the same order, so every lane is bit-identical
    /// to the scalar result (Vector256 is emulated, with the same results, where the hardware lacks it).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Pow(Vector256<float> x, float y) => Exp2(Vector256.Create(y) * Log2(x));

    /// <summary>Lane-wise <see cref="Log2(float)"/>, bit-identical to it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Log2(Vector256<float> x)
    {
        Vector256<float> floor = Vector256.Create(1e-37f);
        x = Vector256.ConditionalSelect(Vector256.LessThan(x, floor), floor, x);
        Vector256<int> offset = x.AsInt32() - Vector256.Create(0x3F3504F3);
        Vector256<int> exponent = Vector256.ShiftRightArithmetic(offset, 23);
        Vector256<float> m = ((offset & Vector256.Create(0x007FFFFF)) + Vector256.Create(0x3F3504F3)).AsSingle();
        Vector256<float> one = Vector256<float>.One;
        Vector256<float> t = (m - one) / (m + one);
        Vector256<float> t2 = t * t;
        Vector256<float> low = t * Vector256.Create(TwoLog2E) + t * t2 * Vector256.Create(TwoLog2E / 3f);
        Vector256<float> high = t * t2 * t2 * (Vector256.Create(TwoLog2E / 5f) + t2 * Vector256.Create(TwoLog2E / 7f));
        return Vector256.ConvertToSingle(exponent) + (low + high);
    }

    /// <summary>Lane-wise <see cref="Exp2(float)"/>, bit-identical to it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Exp2(Vector256<float> y)
    {
        Vector256<float> top = Vector256.Create(126f), bottom = Vector256.Create(-126f);
        y = Vector256.ConditionalSelect(Vector256.GreaterThan(y, top), top, y);
        y = Vector256.ConditionalSelect(Vector256.LessThan(y, bottom), bottom, y);
        Vector256<float> rounded = Vector256.Round(y);
        Vector256<float> f = (y - rounded) * Vector256.Create(0.693147181f);
        Vector256<float> f2 = f * f;
        Vector256<float> p01 = Vector256<float>.One + f;
        Vector256<float> p23 = Vector256.Create(0.5f) + f * Vector256.Create(1f / 6f);
        Vector256<float> p45 = Vector256.Create(1f / 24f) + f * Vector256.Create(1f / 120f);
        Vector256<float> poly = p01 + f2 * (p23 + f2 * (p45 + f2 * Vector256.Create(1f / 720f)));
        Vector256<float> scale = Vector256.ShiftLeft(Vector256.ConvertToInt32(rounded) + Vector256.Create(127), 23).AsSingle();
        return poly * scale;
    }
}
