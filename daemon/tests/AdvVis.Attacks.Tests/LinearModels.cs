// Linear classifiers built in code (plain AdvVis.Onnx records: Flatten → Gemm, optionally → Softmax), whose attack
// optima and boundary distances are known in closed form.
using AdvVis.Engine;
using AdvVis.Onnx;

namespace AdvVis.Attacks.Tests;

internal sealed record LinearModel(float[][] W, float[] B, int Channels, int Height, int Width)
{
    public int Pixels => Channels * Height * Width;
    public int Classes => B.Length;

    /// <summary>A random linear model: weights ~ U(−scale, scale), biases given.</summary>
    public static LinearModel Random(int classes, int channels, int height, int width, float scale, float[] bias, int seed)
    {
        var rng = new System.Random(seed);
        var w = Enumerable.Range(0, classes).Select(_ => Enumerable.Range(0, channels * height * width).Select(_ => (float)(rng.NextDouble() * 2 - 1) * scale).ToArray()).ToArray();
        return new LinearModel(w, bias, channels, height, width);
    }

    public double[] Logits(ReadOnlySpan<float> x)
    {
        var z = new double[Classes];
        for (int k = 0; k < Classes; k++)
        {
            double s = B[k];
            for (int i = 0; i < Pixels; i++) s += (double)W[k][i] * x[i];
            z[k] = s;
        }
        return z;
    }

    public AttackModel ToAttackModel(bool softmax = false, float min = 0f, float max = 1f)
    {
        var input = new OnnxValueInfo("x", OnnxElementType.Float, [new OnnxDim(null, "N"), new OnnxDim(Channels, null), new OnnxDim(Height, null), new OnnxDim(Width, null)]);
        var nodes = new List<OnnxNode>
        {
            new("flatten", "Flatten", "", ["x"], ["flat"], new Dictionary<string, OnnxAttribute>()),
            new("fc", "Gemm", "", ["flat", "w", "b"], [softmax ? "z" : "logits"],
                new Dictionary<string, OnnxAttribute> { ["transB"] = new("transB", OnnxAttributeKind.Int, Int: 1) }),
        };
        if (softmax) nodes.Add(new("softmax", "Softmax", "", ["z"], ["logits"], new Dictionary<string, OnnxAttribute>()));
        var inits = new Dictionary<string, OnnxTensor>
        {
            ["w"] = new("w", [Classes, Pixels], OnnxElementType.Float, W.SelectMany(r => r).ToArray(), null),
            ["b"] = new("b", [Classes], OnnxElementType.Float, (float[])B.Clone(), null),
        };
        var graph = new OnnxGraph("linear", nodes, inits, [input], [new OnnxValueInfo("logits", OnnxElementType.Float, null)], []);
        var model = Model.FromOnnx(new OnnxModel(8, "advvis-tests", new Dictionary<string, long> { [""] = 13 }, graph, null));
        return new AttackModel(model, Channels, Height, Width, min: min, max: max);
    }

    /// <summary>Images with pixels uniform in [lo, hi].</summary>
    public Tensor Images(int count, float lo, float hi, int seed)
    {
        var rng = new System.Random(seed);
        var data = new float[count * Pixels];
        for (int i = 0; i < data.Length; i++) data[i] = lo + (float)rng.NextDouble() * (hi - lo);
        return new Tensor([count, Channels, Height, Width], data);
    }
}
