// Filter visualisation by activation maximisation (Erhan et al. 2009, with the regularisers of Yosinski et al. 2015
// that make the images readable): an image in pixel space [0, 1] is optimised with Adam to raise the mean of one unit's
// map at a captured intermediate tensor, the gradient coming from the engine's reverse pass seeded at that tensor and
// taken through the model's preprocessing (x = p·Scale + Offset per channel). Regularisers: random jitter (circular
// shifts), L2 decay toward mid-grey, total variation, and a periodic Gaussian blur. Seeded and deterministic.
using AdvVis.Analysis.Projection;
using AdvVis.Engine;

namespace AdvVis.Analysis.Layers;

/// <summary>Pixel [0, 1] → model input, per channel: x = p · Scale[c] + Offset[c].</summary>
public sealed record PixelTransform(float[] Scale, float[] Offset)
{
    public static PixelTransform Identity(int channels) => new(Enumerable.Repeat(1f, channels).ToArray(), new float[channels]);

    /// <summary>From AdvVis.Data's Preprocessing convention x = (pixel255 · scale − mean) / std.</summary>
    public static PixelTransform FromNormalisation(float scale, float[] mean, float[] std) =>
        new(std.Select(s => 255f * scale / s).ToArray(), mean.Zip(std, (m, s) => -m / s).ToArray());
}

public sealed record ActivationMaximizationOptions
{
    public ulong Seed { get; init; } = 1;
    public int Steps { get; init; } = 128;
    public double LearningRate { get; init; } = 0.05;
    /// <summary>Largest random shift (pixels, each axis) applied before every step.</summary>
    public int Jitter { get; init; } = 2;
    /// <summary>Weight of mean (p − 0.5)² (L2 decay toward grey).</summary>
    public double L2 { get; init; } = 1e-3;
    /// <summary>Weight of the mean total variation (squared neighbour differences).</summary>
    public double TotalVariation { get; init; } = 1e-2;
    /// <summary>Blur with a 3 × 3 Gaussian (σ ≈ 0.85) every this many steps (0 = never).</summary>
    public int BlurEvery { get; init; } = 8;
    /// <summary>Amplitude of the uniform noise around mid-grey the image starts from.</summary>
    public double InitialNoise { get; init; } = 0.1;
}

/// <summary>The optimised image (C × H × W in [0, 1], model channel order) and the unit's activation before and after.</summary>
public sealed record ActivationMaximizationResult(string Layer, int Unit, float[] Image, int Channels, int Height, int Width,
    double StartActivation, double FinalActivation, double[] Trace);

public static class ActivationMaximization
{
    /// <summary>Optimises an input image so that unit <paramref name="unit"/> of tensor <paramref name="layer"/> responds strongly.</summary>
    /// <param name="inputShape">The single-item input shape [1, C, H, W].</param>
    public static ActivationMaximizationResult Run(Model model, string layer, int unit, int[] inputShape, PixelTransform transform,
        ActivationMaximizationOptions options, CancellationToken cancellation = default, IProgress<double>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        if (inputShape.Length != 4 || inputShape[0] != 1)
            throw new ArgumentException("The input shape must be [1, C, H, W].", nameof(inputShape));
        int c = inputShape[1], h = inputShape[2], w = inputShape[3], plane = h * w;
        if (transform.Scale.Length != c || transform.Offset.Length != c)
            throw new ArgumentException($"The pixel transform has {transform.Scale.Length} channels, the input {c}.", nameof(transform));
        model.ValueId(layer);
        string input = model.Inputs[0].Name;

        var rng = new Xoshiro128StarStar(options.Seed);
        var p = new float[c * plane];
        for (int i = 0; i < p.Length; i++)
            p[i] = (float)(0.5 + options.InitialNoise * (2 * rng.NextDouble() - 1));
        var m = new double[p.Length];
        var v = new double[p.Length];
        const double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
        var trace = new double[options.Steps];
        double start = Objective(model, layer, unit, Shift(p, c, h, w, 0, 0), transform, inputShape, input, needGradient: false, out _);

        for (int step = 0; step < options.Steps; step++)
        {
            cancellation.ThrowIfCancellationRequested();
            int dy = options.Jitter > 0 ? rng.NextInt(2 * options.Jitter + 1) - options.Jitter : 0;
            int dx = options.Jitter > 0 ? rng.NextInt(2 * options.Jitter + 1) - options.Jitter : 0;
            float[] shifted = Shift(p, c, h, w, dy, dx);
            trace[step] = Objective(model, layer, unit, shifted, transform, inputShape, input, needGradient: true, out float[] gradShifted);
            float[] grad = Shift(gradShifted, c, h, w, -dy, -dx); // d objective / d p (ascent direction)
            double n = p.Length;
            for (int ch = 0; ch < c; ch++)
                for (int y = 0; y < h; y++)
                    for (int x = 0; x < w; x++)
                    {
                        int i = ch * plane + y * w + x;
                        double g = grad[i] - options.L2 * 2 * (p[i] - 0.5) / n;
                        // TV = Σ (p[y][x+1] − p[y][x])² + (p[y+1][x] − p[y][x])², mean over pixels.
                        double tv = 0;
                        if (x + 1 < w) tv -= 2 * (p[i + 1] - p[i]);
                        if (x > 0) tv += 2 * (p[i] - p[i - 1]);
                        if (y + 1 < h) tv -= 2 * (p[i + w] - p[i]);
                        if (y > 0) tv += 2 * (p[i] - p[i - w]);
                        g -= options.TotalVariation * tv / n;
                        m[i] = beta1 * m[i] + (1 - beta1) * g;
                        v[i] = beta2 * v[i] + (1 - beta2) * g * g;
                        double mh = m[i] / (1 - Math.Pow(beta1, step + 1)), vh = v[i] / (1 - Math.Pow(beta2, step + 1));
                        p[i] = (float)Math.Clamp(p[i] + options.LearningRate * mh / (Math.Sqrt(vh) + eps), 0.0, 1.0);
                    }
            if (options.BlurEvery > 0 && (step + 1) % options.BlurEvery == 0 && step + 1 < options.Steps)
                Blur(p, c, h, w);
            progress?.Report((step + 1.0) / options.Steps);
        }
        double final = Objective(model, layer, unit, p, transform, inputShape, input, needGradient: false, out _);
        return new ActivationMaximizationResult(layer, unit, p, c, h, w, start, final, trace);
    }

    /// <summary>Mean of unit <paramref name="unit"/>'s map at <paramref name="layer"/> for pixels <paramref name="p"/>, and d/dp.</summary>
    private static double Objective(Model model, string layer, int unit, float[] p, PixelTransform t, int[] inputShape, string input,
        bool needGradient, out float[] gradient)
    {
        int c = t.Scale.Length, plane = p.Length / c;
        var x = new float[p.Length];
        for (int ch = 0; ch < c; ch++)
            for (int i = 0; i < plane; i++)
                x[ch * plane + i] = p[ch * plane + i] * t.Scale[ch] + t.Offset[ch];
        ForwardPass pass = model.Forward(new Tensor(inputShape, x), new RunOptions
        {
            Capture = [layer], RecordForBackward = needGradient, StopAfterCaptures = true,
        });
        Tensor a = pass[layer];
        int units = a.Rank > 1 ? a.Shape[1] : a.Length;
        if ((uint)unit >= (uint)units)
            throw new ArgumentOutOfRangeException(nameof(unit), $"'{layer}' has {units} units.");
        int map = a.Length / units;
        double sum = 0;
        for (int i = 0; i < map; i++)
            sum += a.Data[unit * map + i];
        double objective = sum / map;
        gradient = [];
        if (!needGradient)
            return objective;
        var seed = new float[a.Length];
        for (int i = 0; i < map; i++)
            seed[unit * map + i] = 1f / map;
        Tensor gx = pass.Backward(new Dictionary<string, Tensor> { [layer] = new Tensor(a.Shape, seed) }, [input])[input];
        gradient = new float[p.Length];
        for (int ch = 0; ch < c; ch++)
            for (int i = 0; i < plane; i++)
                gradient[ch * plane + i] = gx.Data[ch * plane + i] * t.Scale[ch];
        return objective;
    }

    /// <summary>Circular shift of each channel by (dy, dx).</summary>
    internal static float[] Shift(float[] p, int c, int h, int w, int dy, int dx)
    {
        var result = new float[p.Length];
        for (int ch = 0; ch < c; ch++)
            for (int y = 0; y < h; y++)
            {
                int sy = ((y - dy) % h + h) % h;
                for (int x = 0; x < w; x++)
                    result[(ch * h + y) * w + x] = p[(ch * h + sy) * w + ((x - dx) % w + w) % w];
            }
        return result;
    }

    /// <summary>3 × 3 Gaussian blur [1 2 1]ᵀ[1 2 1] / 16 with edge clamping, in place.</summary>
    internal static void Blur(float[] p, int c, int h, int w)
    {
        var copy = (float[])p.Clone();
        ReadOnlySpan<float> k = [0.25f, 0.5f, 0.25f];
        for (int ch = 0; ch < c; ch++)
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                {
                    float s = 0;
                    for (int a = -1; a <= 1; a++)
                        for (int b = -1; b <= 1; b++)
                        {
                            int yy = Math.Clamp(y + a, 0, h - 1), xx = Math.Clamp(x + b, 0, w - 1);
                            s += k[a + 1] * k[b + 1] * copy[(ch * h + yy) * w + xx];
                        }
                    p[(ch * h + y) * w + x] = s;
                }
    }
}
