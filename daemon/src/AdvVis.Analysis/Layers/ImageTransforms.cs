// Building blocks of readable activation maximisation (Olah, Mordvintsev & Schubert 2017, "Feature Visualization"):
// an orthonormal 2-D DCT-II (the image is optimised in a frequency basis scaled by 1/frequency, so that every frequency
// learns at a comparable rate and high frequencies do not dominate), Lucid's 3 × 3 colour decorrelation matrix, and a
// random affine warp (jitter, scale, rotation) sampled bilinearly, with its exact adjoint for the backward pass.
using AdvVis.Analysis.Projection;

namespace AdvVis.Analysis.Layers;

/// <summary>Orthonormal 2-D DCT-II on H × W planes: Forward = C_h·X·C_wᵀ, Inverse = C_hᵀ·S·C_w (= the adjoint of Forward).</summary>
internal sealed class Dct2D
{
    private readonly float[] _ch, _cw;
    private readonly float[] _scratch;

    public Dct2D(int height, int width)
    {
        Height = height;
        Width = width;
        _ch = Basis(height);
        _cw = Basis(width);
        _scratch = new float[height * width];
    }

    public int Height { get; }
    public int Width { get; }

    /// <summary>C[u, y] = α_u cos(π (2y + 1) u / 2n), α_0 = √(1/n), α_u = √(2/n): rows are orthonormal.</summary>
    internal static float[] Basis(int n)
    {
        var c = new float[n * n];
        for (int u = 0; u < n; u++)
        {
            double alpha = Math.Sqrt((u == 0 ? 1.0 : 2.0) / n);
            for (int y = 0; y < n; y++)
                c[u * n + y] = (float)(alpha * Math.Cos(Math.PI * (2 * y + 1) * u / (2.0 * n)));
        }
        return c;
    }

    /// <summary>Coefficients of one plane (row-major H × W).</summary>
    public void Forward(ReadOnlySpan<float> plane, Span<float> coefficients)
    {
        int h = Height, w = Width;
        AdvVis.Kernels.Kernels.Gemm(false, false, h, w, h, 1f, _ch, h, plane, w, 0f, _scratch, w);       // C_h·X
        AdvVis.Kernels.Kernels.Gemm(false, true, h, w, w, 1f, _scratch, w, _cw, w, 0f, coefficients, w); // ·C_wᵀ
    }

    /// <summary>The plane whose coefficients are <paramref name="coefficients"/>.</summary>
    public void Inverse(ReadOnlySpan<float> coefficients, Span<float> plane)
    {
        int h = Height, w = Width;
        AdvVis.Kernels.Kernels.Gemm(true, false, h, w, h, 1f, _ch, h, coefficients, w, 0f, _scratch, w); // C_hᵀ·S
        AdvVis.Kernels.Kernels.Gemm(false, false, h, w, w, 1f, _scratch, w, _cw, w, 0f, plane, w);      // ·C_w
    }

    /// <summary>
    /// Lucid's spectrum scale 1 / max(f, 1 / max(H, W))^decay with f = √((u/2H)² + (v/2W)²) cycles per pixel (DCT index
    /// u ↔ u / 2H), divided by 4 as Lucid does.
    /// </summary>
    public static float[] FrequencyScale(int height, int width, double decay)
    {
        var scale = new float[height * width];
        double floor = 1.0 / Math.Max(height, width);
        for (int u = 0; u < height; u++)
            for (int v = 0; v < width; v++)
            {
                double f = Math.Sqrt(Math.Pow(u / (2.0 * height), 2) + Math.Pow(v / (2.0 * width), 2));
                scale[u * width + v] = (float)(Math.Pow(Math.Max(f, floor), -decay) / 4.0);
            }
        return scale;
    }
}

/// <summary>
/// Lucid's colour decorrelation: RGB = M·d with M the square root of ImageNet's colour covariance (its SVD), normalised
/// by its largest column norm, so that the optimised channels are roughly uncorrelated.
/// </summary>
internal static class ColourDecorrelation
{
    private static readonly double[,] SvdSqrt = { { 0.26, 0.09, 0.02 }, { 0.27, 0.00, -0.05 }, { 0.27, -0.09, 0.03 } };

    /// <summary>The normalised 3 × 3 matrix (row = RGB output, column = decorrelated input).</summary>
    public static float[,] Matrix()
    {
        double maxNorm = 0;
        for (int col = 0; col < 3; col++)
            maxNorm = Math.Max(maxNorm, Math.Sqrt(Enumerable.Range(0, 3).Sum(r => SvdSqrt[r, col] * SvdSqrt[r, col])));
        var m = new float[3, 3];
        for (int r = 0; r < 3; r++)
            for (int col = 0; col < 3; col++)
                m[r, col] = (float)(SvdSqrt[r, col] / maxNorm);
        return m;
    }
}

/// <summary>
/// A sampled affine warp of C × H × W images: output (y, x) reads the input at A·((y, x) − centre) + centre + shift
/// bilinearly, coordinates clamped to the border (edge replication). <see cref="Apply"/> is linear in the image;
/// <see cref="Adjoint"/> is its exact transpose (scatter-add with the same weights).
/// </summary>
internal sealed class AffineWarp
{
    private readonly double _a00, _a01, _a10, _a11, _ty, _tx;

    public AffineWarp(double a00, double a01, double a10, double a11, double shiftY, double shiftX)
    {
        (_a00, _a01, _a10, _a11, _ty, _tx) = (a00, a01, a10, a11, shiftY, shiftX);
    }

    /// <summary>
    /// Zoom by s ∈ [1 − scale, 1 + scale], rotate by θ ∈ [−rotation, rotation] degrees and shift by up to ±jitter
    /// pixels per axis, drawn from <paramref name="rng"/>.
    /// </summary>
    public static AffineWarp Random(ref Xoshiro128StarStar rng, double jitter, double scale, double rotationDegrees)
    {
        double s = 1 + scale * (2 * rng.NextDouble() - 1);
        double theta = rotationDegrees * Math.PI / 180 * (2 * rng.NextDouble() - 1);
        double ty = jitter * (2 * rng.NextDouble() - 1), tx = jitter * (2 * rng.NextDouble() - 1);
        // Output = zoom(s)∘rotate(θ) of the input: the input position is R(−θ)/s times the output offset.
        double c = Math.Cos(theta) / s, sn = Math.Sin(theta) / s;
        return new AffineWarp(c, sn, -sn, c, ty, tx);
    }

    /// <summary>dst = W·src.</summary>
    public void Apply(ReadOnlySpan<float> src, Span<float> dst, int channels, int height, int width)
    {
        int plane = height * width;
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                Sample(y, x, height, width, out int i00, out int i01, out int i10, out int i11, out float w00, out float w01, out float w10, out float w11);
                for (int ch = 0; ch < channels; ch++)
                {
                    ReadOnlySpan<float> s = src.Slice(ch * plane, plane);
                    dst[ch * plane + y * width + x] = w00 * s[i00] + w01 * s[i01] + w10 * s[i10] + w11 * s[i11];
                }
            }
    }

    /// <summary>gsrc = Wᵀ·gdst (gsrc is overwritten).</summary>
    public void Adjoint(ReadOnlySpan<float> gdst, Span<float> gsrc, int channels, int height, int width)
    {
        int plane = height * width;
        gsrc.Clear();
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                Sample(y, x, height, width, out int i00, out int i01, out int i10, out int i11, out float w00, out float w01, out float w10, out float w11);
                for (int ch = 0; ch < channels; ch++)
                {
                    float g = gdst[ch * plane + y * width + x];
                    Span<float> s = gsrc.Slice(ch * plane, plane);
                    s[i00] += w00 * g;
                    s[i01] += w01 * g;
                    s[i10] += w10 * g;
                    s[i11] += w11 * g;
                }
            }
    }

    private void Sample(int y, int x, int height, int width, out int i00, out int i01, out int i10, out int i11,
        out float w00, out float w01, out float w10, out float w11)
    {
        double cy = (height - 1) / 2.0, cx = (width - 1) / 2.0;
        double dy = y - cy, dx = x - cx;
        double sy = _a00 * dy + _a01 * dx + cy + _ty;
        double sx = _a10 * dy + _a11 * dx + cx + _tx;
        sy = Math.Clamp(sy, 0, height - 1);
        sx = Math.Clamp(sx, 0, width - 1);
        int y0 = Math.Min((int)sy, height - 1), x0 = Math.Min((int)sx, width - 1);
        int y1 = Math.Min(y0 + 1, height - 1), x1 = Math.Min(x0 + 1, width - 1);
        float fy = (float)(sy - y0), fx = (float)(sx - x0);
        i00 = y0 * width + x0;
        i01 = y0 * width + x1;
        i10 = y1 * width + x0;
        i11 = y1 * width + x1;
        w00 = (1 - fy) * (1 - fx);
        w01 = (1 - fy) * fx;
        w10 = fy * (1 - fx);
        w11 = fy * fx;
    }
}
