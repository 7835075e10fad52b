// A classifier seen from pixel space: x_model = x_pixel · Scale[c] + Offset[c] (the preprocessing's normalisation
// composed into the graph's input), so budgets, clipping and gradients all live in [Min, Max] ⊂ [0, 1] pixel values.
using AdvVis.Engine;

namespace AdvVis.Attacks;

/// <summary>What the model's first output holds per class.</summary>
public enum OutputKind { Logits, Probabilities }

/// <summary>
/// Per-channel affine map from pixel values in [0, 1] to the model's input: x_model = x·Scale[c] + Offset[c].
/// For a config "(pixel·scale − mean)/std with pixels in 0–255": Scale = 255·scale/std, Offset = −mean/std.
/// </summary>
public sealed record PixelNormalization(float[] Scale, float[] Offset)
{
    public static PixelNormalization Identity(int channels) =>
        new(Enumerable.Repeat(1f, channels).ToArray(), new float[channels]);

    /// <summary>From a 0–255 convention: value = (pixel255 · scale − mean[c]) / std[c].</summary>
    public static PixelNormalization From255(float scale, float[] mean, float[] std)
    {
        if (mean.Length != std.Length) throw new ArgumentException("mean and std need one value per channel.");
        return new(std.Select(s => 255f * scale / s).ToArray(), mean.Zip(std, (m, s) => -m / s).ToArray());
    }

    public bool IsIdentity => Scale.All(s => s == 1f) && Offset.All(o => o == 0f);
}

/// <summary>
/// The model under attack: runs batches of pixel tensors [N, C, H, W] (values in [Min, Max], channels in the model's
/// order) and returns class scores and gradients with respect to the pixels.
/// </summary>
public sealed class AttackModel
{
    public Model Model { get; }
    public string InputName { get; }
    public string OutputName { get; }
    public int Channels { get; }
    public int Height { get; }
    public int Width { get; }
    public PixelNormalization Normalization { get; }
    /// <summary>The model wants NHWC; pixels stay NCHW here and are transposed on the way in (and gradients back).</summary>
    public bool ChannelsLast { get; }
    /// <summary>Pixel value range the attacks respect (a sub-range of [0, 1]).</summary>
    public float Min { get; }
    public float Max { get; }
    /// <summary>Null until detected from the graph (a final Softmax) or from the first scores seen.</summary>
    public OutputKind? OutputKind { get; private set; }
    public int PixelsPerImage => Channels * Height * Width;

    public AttackModel(Model model, int channels, int height, int width, PixelNormalization? normalization = null,
        bool channelsLast = false, float min = 0f, float max = 1f, OutputKind? outputKind = null, string? inputName = null)
    {
        Model = model;
        InputName = inputName ?? (model.Inputs.Count == 1 ? model.Inputs[0].Name
            : throw new ArgumentException($"The model has {model.Inputs.Count} inputs; name the image input."));
        if (model.Inputs.All(i => i.Name != InputName))
            throw new ArgumentException($"The model has no input '{InputName}'. Inputs: {string.Join(", ", model.Inputs.Select(i => i.Name))}.");
        OutputName = model.OutputNames[0];
        Channels = channels; Height = height; Width = width;
        Normalization = normalization ?? PixelNormalization.Identity(channels);
        if (Normalization.Scale.Length != channels || Normalization.Offset.Length != channels)
            throw new ArgumentException($"The normalisation has {Normalization.Scale.Length} channels, the input {channels}.");
        if (!(min >= 0f && max <= 1f && min < max))
            throw new ArgumentException($"The pixel value range [{min}, {max}] must lie inside [0, 1] with min < max.");
        ChannelsLast = channelsLast; Min = min; Max = max;
        OutputKind = outputKind ?? (EndsInSoftmax(model) ? Attacks.OutputKind.Probabilities : null);
    }

    private static bool EndsInSoftmax(Model model)
    {
        var producer = model.Nodes.LastOrDefault(n => n.Outputs.Any(o => o >= 0 && model.ValueNames[o] == model.OutputNames[0]));
        // Softmax possibly followed by shape-only ops (Reshape/Flatten/Squeeze).
        while (producer is not null && producer.OpType is "Reshape" or "Flatten" or "Squeeze" or "Unsqueeze" or "Identity")
        {
            int input = producer.Inputs[0];
            producer = model.Nodes.FirstOrDefault(n => n.Outputs.Contains(input));
        }
        return producer?.OpType is "Softmax";
    }

    /// <summary>Pixels [N,C,H,W] → the model's input tensor.</summary>
    public Tensor ToModelInput(Tensor pixels)
    {
        CheckPixels(pixels);
        int n = pixels.Shape[0], plane = Height * Width;
        var data = new float[pixels.Length];
        var src = pixels.Data;
        for (int b = 0; b < n; b++)
            for (int c = 0; c < Channels; c++)
            {
                float a = Normalization.Scale[c], o = Normalization.Offset[c];
                int s0 = (b * Channels + c) * plane;
                if (!ChannelsLast)
                    for (int i = 0; i < plane; i++) data[s0 + i] = src[s0 + i] * a + o;
                else
                    for (int i = 0; i < plane; i++) data[(b * plane + i) * Channels + c] = src[s0 + i] * a + o;
            }
        return new Tensor(ChannelsLast ? [n, Height, Width, Channels] : [n, Channels, Height, Width], data);
    }

    /// <summary>Gradient w.r.t. the model input → gradient w.r.t. the pixels (chain rule through the affine map).</summary>
    private Tensor ToPixelGradient(Tensor modelGradient, int n)
    {
        int plane = Height * Width;
        var g = modelGradient.Data;
        var result = new float[n * PixelsPerImage];
        for (int b = 0; b < n; b++)
            for (int c = 0; c < Channels; c++)
            {
                float a = Normalization.Scale[c];
                int d0 = (b * Channels + c) * plane;
                if (!ChannelsLast)
                    for (int i = 0; i < plane; i++) result[d0 + i] = g[d0 + i] * a;
                else
                    for (int i = 0; i < plane; i++) result[d0 + i] = g[(b * plane + i) * Channels + c] * a;
            }
        return new Tensor([n, Channels, Height, Width], result);
    }

    private void CheckPixels(Tensor pixels)
    {
        if (pixels.Rank != 4 || pixels.Shape[1] != Channels || pixels.Shape[2] != Height || pixels.Shape[3] != Width)
            throw new ArgumentException($"Pixels must be [N,{Channels},{Height},{Width}], got {ShapeMath.Text(pixels.Shape)}.");
    }

    /// <summary>Class scores [N, K] (the first output flattened per item) for a batch of pixels.</summary>
    public Scores Evaluate(Tensor pixels, CancellationToken cancellation = default, IReadOnlyCollection<string>? capture = null)
    {
        var pass = Model.Forward(new Dictionary<string, Tensor> { [InputName] = ToModelInput(pixels) },
            new RunOptions { Cancellation = cancellation, Capture = capture ?? [] });
        return MakeScores(pass[OutputName], pixels.Shape[0]);
    }

    /// <summary>Forward pass that also returns the pass (for captured activations).</summary>
    public (Scores Scores, ForwardPass Pass) EvaluateWithCapture(Tensor pixels, IReadOnlyCollection<string> capture, CancellationToken cancellation = default)
    {
        var pass = Model.Forward(new Dictionary<string, Tensor> { [InputName] = ToModelInput(pixels) },
            new RunOptions { Cancellation = cancellation, Capture = capture });
        return (MakeScores(pass[OutputName], pixels.Shape[0]), pass);
    }

    private Scores MakeScores(Tensor output, int n)
    {
        if (output.IsInteger) throw new EngineException($"The model's output '{OutputName}' holds integers, not class scores.");
        if (n == 0 || output.Length % n != 0) throw new EngineException($"Output {ShapeMath.Text(output.Shape)} does not split into {n} items.");
        int k = output.Length / n;
        var values = output.Data.AsSpan(0, output.Length).ToArray();
        OutputKind ??= LooksLikeProbabilities(values, n, k) ? Attacks.OutputKind.Probabilities : Attacks.OutputKind.Logits;
        return new Scores(values, n, k, OutputKind.Value);
    }

    private static bool LooksLikeProbabilities(float[] v, int n, int k)
    {
        for (int b = 0; b < n; b++)
        {
            double sum = 0;
            for (int j = 0; j < k; j++) { if (v[b * k + j] < 0) return false; sum += v[b * k + j]; }
            if (Math.Abs(sum - 1) > 1e-3) return false;
        }
        return true;
    }

    /// <summary>
    /// Scores at the pixels and the gradient of Σ_rows L(row) with respect to the pixels, where
    /// <paramref name="lossGradient"/> fills dL/dz for the row's log-space scores z (logits, or log-probabilities
    /// for a model that outputs probabilities).
    /// </summary>
    public (Scores Scores, Tensor Gradient) Gradient(Tensor pixels, LossGradient lossGradient, CancellationToken cancellation = default)
    {
        var (scores, pass) = RecordedForward(pixels, cancellation);
        var cot = new float[scores.Values.Length];
        for (int b = 0; b < scores.Count; b++)
            lossGradient(b, scores.LogSpace(b), cot.AsSpan(b * scores.Classes, scores.Classes));
        var gradient = BackwardFromLogSpace(pass, scores, cot, pixels.Shape[0], cancellation);
        // The pass never leaves this method and everything returned is a copy (scores, pixel gradient): its
        // intermediates go back to the model's pool for the next step.
        pass.Release();
        return (scores, gradient);
    }

    /// <summary>A recorded forward pass for several backward passes (DeepFool).</summary>
    public (Scores Scores, ForwardPass Pass) RecordedForward(Tensor pixels, CancellationToken cancellation = default)
    {
        var pass = Model.Forward(new Dictionary<string, Tensor> { [InputName] = ToModelInput(pixels) },
            new RunOptions { RecordForBackward = true, Cancellation = cancellation });
        return (MakeScores(pass[OutputName], pixels.Shape[0]), pass);
    }

    /// <summary>Backward from a cotangent on the log-space scores (dL/dz) to the pixels.</summary>
    public Tensor BackwardFromLogSpace(ForwardPass pass, Scores scores, float[] logSpaceCotangent, int n, CancellationToken cancellation = default)
    {
        var cot = logSpaceCotangent;
        if (scores.Kind == Attacks.OutputKind.Probabilities)
        {
            // z = log p  ⇒  dL/dp = dL/dz / p.
            cot = new float[cot.Length];
            for (int i = 0; i < cot.Length; i++) cot[i] = logSpaceCotangent[i] / Math.Max(scores.Values[i], 1e-30f);
        }
        var output = pass[OutputName];
        var grads = pass.Backward(new Dictionary<string, Tensor> { [OutputName] = new Tensor((int[])output.Shape.Clone(), cot) }, [InputName], cancellation);
        return ToPixelGradient(grads[InputName], n);
    }
}

/// <summary>Fills dL/dz (<paramref name="gradient"/>, zeroed) for row <paramref name="row"/> with log-space scores z.</summary>
public delegate void LossGradient(int row, ReadOnlySpan<float> z, Span<float> gradient);

/// <summary>Class scores for a batch: raw values as the model gives them, and views in log space and as probabilities.</summary>
public sealed class Scores(float[] values, int count, int classes, OutputKind kind)
{
    public float[] Values { get; } = values;
    public int Count { get; } = count;
    public int Classes { get; } = classes;
    public OutputKind Kind { get; } = kind;

    public ReadOnlySpan<float> Row(int b) => Values.AsSpan(b * Classes, Classes);

    /// <summary>Logits, or log-probabilities for a probability output (a valid set of logits for it).</summary>
    public float[] LogSpace(int b)
    {
        var row = Row(b).ToArray();
        if (Kind == OutputKind.Probabilities)
            for (int j = 0; j < row.Length; j++) row[j] = MathF.Log(Math.Max(row[j], 1e-30f));
        return row;
    }

    public float[] Probabilities(int b)
    {
        if (Kind == OutputKind.Probabilities) return Row(b).ToArray();
        return Losses.Softmax(Row(b));
    }

    public int Predicted(int b)
    {
        var row = Row(b);
        int best = 0;
        for (int j = 1; j < row.Length; j++) if (row[j] > row[best]) best = j;
        return best;
    }
}
