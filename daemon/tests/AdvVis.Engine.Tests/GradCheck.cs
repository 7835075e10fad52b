// Finite-difference checks of backward rules. The engine computes in float32, so the loss is accumulated in double and
// central differences use a step large enough (1e-2) that float32 rounding stays far below the tolerance.
namespace AdvVis.Engine.Tests;

internal static class GradCheck
{
    /// <summary>
    /// Checks op.Backward against central differences of L = Σ_outputs Σ y ⊙ c (seeded cotangents c)
    /// for each input index in <paramref name="wrt"/>.
    /// </summary>
    public static void Op(Op op, Tensor?[] inputs, int[] wrt, float step = 1e-2f, double tolerance = 1e-2, int probes = 40, int seed = 7)
    {
        var outputs = op.Forward(inputs, out var saved);
        var rng = new Random(seed);
        var cotangents = outputs.Select(o => o.IsInteger ? null : RandomTensor(o.Shape, rng)).ToArray();
        double Loss(Tensor?[] ins)
        {
            var outs = op.Forward(ins, out _);
            double sum = 0;
            for (int o = 0; o < outs.Length; o++)
            {
                if (cotangents[o] is not { } c) continue;
                for (int i = 0; i < outs[o].Length; i++) sum += (double)outs[o].Data[i] * c.Data[i];
            }
            return sum;
        }

        var grads = new Tensor?[inputs.Length];
        var wants = Enumerable.Range(0, inputs.Length).Select(i => wrt.Contains(i)).ToArray();
        op.Backward(new BackwardContext(inputs, outputs, saved, cotangents, wants, i => grads[i] ??= Tensor.Zeros(inputs[i]!.Shape)));

        foreach (var index in wrt)
        {
            var x = inputs[index]!;
            var analytic = grads[index] ?? Tensor.Zeros(x.Shape);
            var positions = x.Length <= probes ? Enumerable.Range(0, x.Length).ToArray()
                : Enumerable.Range(0, probes).Select(_ => rng.Next(x.Length)).Distinct().ToArray();
            var numeric = new double[positions.Length];
            for (int p = 0; p < positions.Length; p++)
            {
                int at = positions[p];
                float original = x.Data[at];
                x.Data[at] = original + step; double plus = Loss(inputs);
                x.Data[at] = original - step; double minus = Loss(inputs);
                x.Data[at] = original;
                numeric[p] = (plus - minus) / (2 * step);
            }
            double scale = Math.Max(1e-3, numeric.Select(Math.Abs).DefaultIfEmpty(0).Max());
            for (int p = 0; p < positions.Length; p++)
            {
                double a = analytic.Data[positions[p]];
                Assert.True(Math.Abs(a - numeric[p]) <= tolerance * scale,
                    $"{op.GetType().Name}: d/dinput{index}[{positions[p]}] analytic {a:G6} vs numeric {numeric[p]:G6} (scale {scale:G3})");
            }
        }
    }

    public static Tensor RandomTensor(int[] shape, Random rng, float low = -1f, float high = 1f)
    {
        var t = Tensor.Zeros(shape);
        for (int i = 0; i < t.Length; i++) t.Data[i] = low + (float)rng.NextDouble() * (high - low);
        return t;
    }

    /// <summary>Values at least <paramref name="gap"/> apart and away from 0, so kinks (ReLU, max) never sit within a step.</summary>
    public static Tensor SeparatedTensor(int[] shape, Random rng, float gap = 0.05f, float offset = 0f)
    {
        var t = Tensor.Zeros(shape);
        var order = Enumerable.Range(0, t.Length).OrderBy(_ => rng.Next()).ToArray();
        for (int i = 0; i < t.Length; i++) t.Data[i] = (order[i] - t.Length / 2 + 0.5f) * gap + offset;
        return t;
    }
}
