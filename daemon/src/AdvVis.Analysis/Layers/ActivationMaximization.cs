// Filter visualisation by activation maximisation (Erhan et al. 2009, with the regularisers of Yosinski et al. 2015
// that make the images readable): an image in pixel space [0, 1] is optimised with Adam to raise the mean of one unit's
// map at a captured intermediate tensor, the gradient coming from the engine's reverse pass seeded at that tensor and
// taken through the model's preprocessing (x = p·Scale + Offset per channel). Two parameterisations:
//  * Pixel: p itself, clamped to [0, 1]; regularisers: random jitter (circular shifts, or a bilinear warp with random
//    scale and rotation), L2 decay toward mid-grey, total variation, and a periodic Gaussian blur.
//  * Fourier (Olah et al. 2017, Lucid's recipe): p = sigmoid(M · IDCT(S ⊙ 1/f)), S optimised; the 1/f scaling makes
//    low frequencies learn as fast as high ones, M decorrelates colour (3 channels); every step sees the image through a
//    random affine warp (jitter, scale, rotation) whose adjoint carries the gradient back.
// Only the layers up to the unit's run (StopAfterCaptures), and the backward pass is seeded there. Seeded and deterministic.
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

/// <summary>How the optimised image is represented.</summary>
public enum ImageParameterization
{
    /// <summary>Pixels in [0, 1], clamped after each step.</summary>
    Pixel,

    /// <summary>Scaled DCT spectrum (1/frequency), optionally colour-decorrelated, through a sigmoid.</summary>
    Fourier,
}

/// <summary>Channel order of the model's input, for the colour decorrelation of 3-channel images.</summary>
public enum ColourOrder { Rgb, Bgr }

public sealed record ActivationMaximizationOptions
{
    /// <summary>
    /// The settings that make images readable (Lucid's recipe): Fourier parameterisation with colour decorrelation, jitter
    /// of ±8 pixels, scale ±10%, rotation ±10°, 256 Adam steps at learning rate 0.05, no pixel-space penalties or blur.
    /// </summary>
    public static ActivationMaximizationOptions Readable { get; } = new()
    {
        Parameterization = ImageParameterization.Fourier, Steps = 256, LearningRate = 0.05, Jitter = 8, Scale = 0.1,
        RotationDegrees = 10, L2 = 0, TotalVariation = 0, BlurEvery = 0,
    };

    public ImageParameterization Parameterization { get; init; } = ImageParameterization.Pixel;
    /// <summary>Largest relative zoom (s ∈ [1 − Scale, 1 + Scale]) of the random warp; 0 with no rotation keeps integer jitter.</summary>
    public double Scale { get; init; }
    /// <summary>Largest rotation (degrees, either way) of the random warp.</summary>
    public double RotationDegrees { get; init; }
    /// <summary>Fourier: decorrelate colour with Lucid's 3 × 3 matrix (3-channel inputs only).</summary>
    public bool DecorrelateColour { get; init; } = true;
    /// <summary>Channel order of 3-channel inputs (SqueezeNet's Caffe preprocessing is BGR).</summary>
    public ColourOrder ColourOrder { get; init; } = ColourOrder.Rgb;
    /// <summary>Fourier: spectrum scale 1/f^DecayPower.</summary>
    public double DecayPower { get; init; } = 1.0;
    /// <summary>Fourier: standard deviation of the initial spectrum.</summary>
    public double InitialSpectrum { get; init; } = 0.01;
    public ulong Seed { get; init; } = 1;
    public int Steps { get; init; } = 128;
    public double LearningRate { get; init; } = 0.05;
    /// <summary>Largest random shift (pixels, each axis) applied before every step (sub-pixel when the warp is used).</summary>
    public int Jitter { get; init; } = 2;
    /// <summary>Weight of mean (p − 0.5)² (L2 decay toward grey).</summary>
    public double L2 { get; init; } = 1e-3;
    /// <summary>Weight of the mean total variation (squared neighbour differences).</summary>
    public double TotalVariation { get; init; } = 1e-2;
    /// <summary>Pixel parameterisation: blur with a 3 × 3 Gaussian (σ ≈ 0.85) every this many steps (0 = never).</summary>
    public int BlurEvery { get; init; } = 8;
    /// <summary>Pixel parameterisation: amplitude of the uniform noise around mid-grey the image starts from.</summary>
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
        int c = inputShape[1], h = inputShape[2], wd = inputShape[3], plane = h * wd;
        if (transform.Scale.Length != c || transform.Offset.Length != c)
            throw new ArgumentException($"The pixel transform has {transform.Scale.Length} channels, the input {c}.", nameof(transform));
        model.ValueId(layer);
        string input = model.Inputs[0].Name;

        var rng = new Xoshiro128StarStar(options.Seed);
        string ascent = AscentLayer(model, layer);
        if (options.Parameterization == ImageParameterization.Fourier)
            return RunFourier(model, layer, ascent, unit, inputShape, transform, options, input, ref rng, cancellation, progress);
        var p = new float[c * plane];
        for (int i = 0; i < p.Length; i++)
            p[i] = (float)(0.5 + options.InitialNoise * (2 * rng.NextDouble() - 1));
        var m = new double[p.Length];
        var v = new double[p.Length];
        const double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
        var trace = new double[options.Steps];
        bool warp = options.Scale > 0 || options.RotationDegrees > 0;
        var warped = new float[p.Length];
        var grad = new float[p.Length];
        double start = Objective(model, layer, unit, p, transform, inputShape, input, needGradient: false, out _);

        for (int step = 0; step < options.Steps; step++)
        {
            cancellation.ThrowIfCancellationRequested();
            if (warp)
            {
                AffineWarp w = AffineWarp.Random(ref rng, options.Jitter, options.Scale, options.RotationDegrees);
                w.Apply(p, warped, c, h, wd);
                trace[step] = Objective(model, ascent, unit, warped, transform, inputShape, input, needGradient: true, out float[] gradWarped);
                w.Adjoint(gradWarped, grad, c, h, wd);
            }
            else
            {
                int dy = options.Jitter > 0 ? rng.NextInt(2 * options.Jitter + 1) - options.Jitter : 0;
                int dx = options.Jitter > 0 ? rng.NextInt(2 * options.Jitter + 1) - options.Jitter : 0;
                float[] shifted = Shift(p, c, h, wd, dy, dx);
                trace[step] = Objective(model, ascent, unit, shifted, transform, inputShape, input, needGradient: true, out float[] gradShifted);
                grad = Shift(gradShifted, c, h, wd, -dy, -dx); // d objective / d p (ascent direction)
            }
            AddPenaltyGradients(p, grad, c, h, wd, options);
            double bias1 = 1 - Math.Pow(beta1, step + 1), bias2 = 1 - Math.Pow(beta2, step + 1);
            for (int i = 0; i < p.Length; i++)
            {
                double g = grad[i];
                m[i] = beta1 * m[i] + (1 - beta1) * g;
                v[i] = beta2 * v[i] + (1 - beta2) * g * g;
                double mh = m[i] / bias1, vh = v[i] / bias2;
                p[i] = (float)Math.Clamp(p[i] + options.LearningRate * mh / (Math.Sqrt(vh) + eps), 0.0, 1.0);
            }
            if (options.BlurEvery > 0 && (step + 1) % options.BlurEvery == 0 && step + 1 < options.Steps)
                Blur(p, c, h, wd);
            progress?.Report((step + 1.0) / options.Steps);
        }
        double final = Objective(model, layer, unit, p, transform, inputShape, input, needGradient: false, out _);
        return new ActivationMaximizationResult(layer, unit, p, c, h, wd, start, final, trace);
    }

    /// <summary>grad −= d/dp [L2·mean (p − ½)² + TV·mean squared neighbour differences] (in place).</summary>
    private static void AddPenaltyGradients(float[] p, float[] grad, int c, int h, int w, ActivationMaximizationOptions options)
    {
        if (options.L2 == 0 && options.TotalVariation == 0)
            return;
        double n = p.Length;
        int plane = h * w;
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
                    grad[i] = (float)g;
                }
    }

    /// <summary>The Fourier parameterisation: Adam on the DCT spectrum S, p = sigmoid(M · IDCT(S ⊙ scale)).</summary>
    private static ActivationMaximizationResult RunFourier(Model model, string layer, string ascent, int unit, int[] inputShape, PixelTransform transform,
        ActivationMaximizationOptions options, string input, ref Xoshiro128StarStar rng, CancellationToken cancellation,
        IProgress<double>? progress)
    {
        int c = inputShape[1], h = inputShape[2], wd = inputShape[3], plane = h * wd;
        var image = new FourierImage(c, h, wd, options);
        var spectrum = new float[c * plane];
        for (int i = 0; i < spectrum.Length; i++)
            spectrum[i] = (float)(options.InitialSpectrum * rng.NextGaussian());
        var m = new double[spectrum.Length];
        var v = new double[spectrum.Length];
        const double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
        var trace = new double[options.Steps];
        var p = new float[c * plane];
        var warped = new float[p.Length];
        var gradP = new float[p.Length];
        var gradS = new float[p.Length];
        image.Render(spectrum, p);
        double start = Objective(model, layer, unit, p, transform, inputShape, input, needGradient: false, out _);
        for (int step = 0; step < options.Steps; step++)
        {
            cancellation.ThrowIfCancellationRequested();
            image.Render(spectrum, p);
            AffineWarp w = AffineWarp.Random(ref rng, options.Jitter, options.Scale, options.RotationDegrees);
            w.Apply(p, warped, c, h, wd);
            trace[step] = Objective(model, ascent, unit, warped, transform, inputShape, input, needGradient: true, out float[] gradWarped);
            w.Adjoint(gradWarped, gradP, c, h, wd);
            AddPenaltyGradients(p, gradP, c, h, wd, options);
            image.Backward(p, gradP, gradS);
            double bias1 = 1 - Math.Pow(beta1, step + 1), bias2 = 1 - Math.Pow(beta2, step + 1);
            for (int i = 0; i < spectrum.Length; i++)
            {
                double g = gradS[i];
                m[i] = beta1 * m[i] + (1 - beta1) * g;
                v[i] = beta2 * v[i] + (1 - beta2) * g * g;
                spectrum[i] = (float)(spectrum[i] + options.LearningRate * (m[i] / bias1) / (Math.Sqrt(v[i] / bias2) + eps));
            }
            progress?.Report((step + 1.0) / options.Steps);
        }
        image.Render(spectrum, p);
        double final = Objective(model, layer, unit, p, transform, inputShape, input, needGradient: false, out _);
        return new ActivationMaximizationResult(layer, unit, p, c, h, wd, start, final, trace);
    }

    /// <summary>Mean of unit <paramref name="unit"/>'s map at <paramref name="layer"/> for pixels <paramref name="p"/>, and d/dp.</summary>
    /// <summary>
    /// The tensor whose gradient drives the ascent. A unit behind a ReLU (or ReLU6/Clip) that is off on the start image
    /// passes no gradient, so the optimisation would never move; its pre-activation is monotone in it and always has one.
    /// Start and final activations are still measured on the requested tensor.
    /// </summary>
    internal static string AscentLayer(Model model, string layer)
    {
        int id = model.ValueId(layer);
        var producer = model.Nodes.FirstOrDefault(n => n.Outputs.Contains(id));
        if (producer is null || producer.OpType is not ("Relu" or "Clip" or "LeakyRelu") || producer.Inputs.Length == 0 || producer.Inputs[0] < 0)
            return layer;
        return model.ValueNames[producer.Inputs[0]];
    }

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

/// <summary>p = sigmoid(M · IDCT(S ⊙ scale)) per pixel, and the chain rule back to S.</summary>
internal sealed class FourierImage
{
    private readonly int _c, _h, _w;
    private readonly Dct2D _dct;
    private readonly float[] _scale;
    private readonly float[,]? _colour; // model channel k ← Σ_j _colour[k, j] · decorrelated j
    private readonly float[] _decorrelated;

    public FourierImage(int channels, int height, int width, ActivationMaximizationOptions options)
    {
        _c = channels;
        _h = height;
        _w = width;
        _dct = new Dct2D(height, width);
        _scale = Dct2D.FrequencyScale(height, width, options.DecayPower);
        _decorrelated = new float[channels * height * width];
        if (channels == 3 && options.DecorrelateColour)
        {
            float[,] rgb = ColourDecorrelation.Matrix();
            _colour = new float[3, 3];
            for (int k = 0; k < 3; k++)
            {
                int row = options.ColourOrder == ColourOrder.Bgr ? 2 - k : k; // model channel k is RGB row `row`
                for (int j = 0; j < 3; j++)
                    _colour[k, j] = rgb[row, j];
            }
        }
    }

    public void Render(float[] spectrum, float[] pixels)
    {
        int plane = _h * _w;
        var scaled = new float[plane];
        for (int ch = 0; ch < _c; ch++)
        {
            for (int i = 0; i < plane; i++)
                scaled[i] = spectrum[ch * plane + i] * _scale[i];
            _dct.Inverse(scaled, _decorrelated.AsSpan(ch * plane, plane));
        }
        for (int i = 0; i < plane; i++)
            for (int k = 0; k < _c; k++)
            {
                float q;
                if (_colour is null)
                    q = _decorrelated[k * plane + i];
                else
                    q = _colour[k, 0] * _decorrelated[i] + _colour[k, 1] * _decorrelated[plane + i] + _colour[k, 2] * _decorrelated[2 * plane + i];
                pixels[k * plane + i] = 1f / (1f + MathF.Exp(-q));
            }
    }

    /// <summary>gradSpectrum = d/dS given d/dp (<paramref name="gradPixels"/>) at the rendered <paramref name="pixels"/>.</summary>
    public void Backward(float[] pixels, float[] gradPixels, float[] gradSpectrum)
    {
        int plane = _h * _w;
        var gq = new float[_c * plane];
        for (int i = 0; i < gq.Length; i++)
            gq[i] = gradPixels[i] * pixels[i] * (1 - pixels[i]);
        var gd = _decorrelated; // reused as the gradient of the decorrelated image
        for (int i = 0; i < plane; i++)
            for (int j = 0; j < _c; j++)
            {
                if (_colour is null)
                {
                    gd[j * plane + i] = gq[j * plane + i];
                    continue;
                }
                gd[j * plane + i] = _colour[0, j] * gq[i] + _colour[1, j] * gq[plane + i] + _colour[2, j] * gq[2 * plane + i];
            }
        for (int ch = 0; ch < _c; ch++)
        {
            Span<float> target = gradSpectrum.AsSpan(ch * plane, plane);
            _dct.Forward(gd.AsSpan(ch * plane, plane), target);
            for (int i = 0; i < plane; i++)
                target[i] *= _scale[i];
        }
    }
}
