// Resampling: Resize (opset 10, 11-18 attributes) and the older Upsample. Every mode is separable, so each axis is
// resampled in turn by a table of taps (input index, weight) per output index; backward runs the transposed tables
// in reverse axis order.
namespace AdvVis.Engine.Ops;

public sealed record ResizeAttributes(string Mode, string CoordinateMode, string NearestMode, float CubicA, bool ExcludeOutside, float Extrapolation);

/// <summary>
/// Resize / Upsample of any rank. Inputs: X, then (opset 10, Upsample 9) scales, or (opset 11+) roi, scales, sizes.
/// Output positions map to input coordinates by the coordinate transformation (half_pixel, pytorch_half_pixel,
/// align_corners, asymmetric, tf_half_pixel_for_nn, tf_crop_and_resize), then nearest (four rounding modes), linear
/// or cubic (Keys, coefficient a) taps with edge clamping, following the ONNX reference implementation.
/// Backward: dx = the transposed taps applied to dy.
/// </summary>
public sealed class Resize(ResizeAttributes attributes, int scalesInput, int sizesInput, int roiInput, float[]? attributeScales) : Op
{
    private sealed record Axis(int In, int Out, int[] Index, float[] Weight, int Taps, bool[]? Outside);

    private Axis[] Plan(Tensor?[] inputs)
    {
        var x = inputs[0]!;
        int rank = x.Rank;
        float[]? scales = attributeScales;
        if (scalesInput >= 0 && scalesInput < inputs.Length && inputs[scalesInput] is { Length: > 0 } st) scales = st.AsFloats();
        long[]? sizes = sizesInput >= 0 && sizesInput < inputs.Length && inputs[sizesInput] is { Length: > 0 } sz ? sz.AsLongs() : null;
        float[]? roi = roiInput >= 0 && roiInput < inputs.Length && inputs[roiInput] is { Length: > 0 } r ? r.AsFloats() : null;
        if (sizes is null && scales is null) throw new EngineException("Resize: neither scales nor sizes is given.");
        if ((sizes?.Length ?? scales!.Length) != rank)
            throw new EngineException($"Resize: {(sizes is null ? "scales" : "sizes")} has {(sizes?.Length ?? scales!.Length)} entries for a rank-{rank} input.");
        var axes = new Axis[rank];
        for (int d = 0; d < rank; d++)
        {
            int input = x.Shape[d];
            int output = sizes is not null ? (int)sizes[d] : (int)Math.Floor(input * (double)scales![d]);
            if (output < 0) throw new EngineException($"Resize: negative output size on axis {d}.");
            double scale = sizes is not null ? (double)output / input : scales![d];
            axes[d] = MakeAxis(input, output, scale, roi is null ? 0 : roi[d], roi is null ? 1 : roi[d + rank]);
        }
        return axes;
    }

    private Axis MakeAxis(int input, int output, double scale, double roiStart, double roiEnd)
    {
        var a = attributes;
        int taps = a.Mode switch { "nearest" => 1, "linear" => 2, "cubic" => 4, _ => throw new EngineException($"Resize: unknown mode '{a.Mode}'.") };
        var index = new int[output * taps];
        var weight = new float[output * taps];
        bool[]? outside = a.CoordinateMode == "tf_crop_and_resize" ? new bool[output] : null;
        double outputWidth = scale * input;
        Span<double> w = stackalloc double[4];
        Span<int> at = stackalloc int[4];
        for (int o = 0; o < output; o++)
        {
            double xo = a.CoordinateMode switch
            {
                "align_corners" => outputWidth == 1 ? 0 : o * (input - 1) / (outputWidth - 1),
                "asymmetric" => o / scale,
                "tf_half_pixel_for_nn" => (o + 0.5) / scale,
                "pytorch_half_pixel" => outputWidth == 1 ? -0.5 : (o + 0.5) / scale - 0.5,
                "tf_crop_and_resize" => output > 1
                    ? roiStart * (input - 1) + o * (roiEnd - roiStart) * (input - 1) / (output - 1)
                    : 0.5 * (roiStart + roiEnd) * (input - 1),
                "half_pixel" => (o + 0.5) / scale - 0.5,
                _ => throw new EngineException($"Resize: coordinate_transformation_mode '{a.CoordinateMode}' is not supported."),
            };
            if (outside is not null && (xo < 0 || xo > input - 1)) outside[o] = true;
            // The left neighbour, with the ratio in (0, 1] (an integer coordinate is its right neighbour at ratio 1).
            double floor = Math.Floor(xo);
            int baseIndex = xo == floor ? (int)floor - 1 : (int)floor;
            double ratio = xo - baseIndex;
            switch (a.Mode)
            {
                case "nearest":
                    bool right = xo == floor || a.NearestMode switch
                    {
                        "round_prefer_ceil" => ratio >= 0.5,
                        "floor" => false,
                        "ceil" => true,
                        _ => ratio > 0.5, // round_prefer_floor
                    };
                    at[0] = baseIndex + (right ? 1 : 0); w[0] = 1;
                    break;
                case "linear":
                    at[0] = baseIndex; at[1] = baseIndex + 1; w[0] = 1 - ratio; w[1] = ratio;
                    break;
                default:
                {
                    double c = a.CubicA, r = ratio, s = 1 - ratio;
                    w[0] = ((c * (r + 1) - 5 * c) * (r + 1) + 8 * c) * (r + 1) - 4 * c;
                    w[1] = ((c + 2) * r - (c + 3)) * r * r + 1;
                    w[2] = ((c + 2) * s - (c + 3)) * s * s + 1;
                    w[3] = ((c * (s + 1) - 5 * c) * (s + 1) + 8 * c) * (s + 1) - 4 * c;
                    for (int t = 0; t < 4; t++) at[t] = baseIndex - 1 + t;
                    if (a.ExcludeOutside)
                    {
                        double sum = 0;
                        for (int t = 0; t < 4; t++) { if (at[t] < 0 || at[t] >= input) w[t] = 0; sum += w[t]; }
                        for (int t = 0; t < 4; t++) w[t] = sum == 0 ? 0 : w[t] / sum;
                    }
                    break;
                }
            }
            for (int t = 0; t < taps; t++)
            {
                index[o * taps + t] = Math.Clamp(at[t], 0, input - 1);
                weight[o * taps + t] = (float)w[t];
            }
        }
        return new Axis(input, output, index, weight, taps, outside);
    }

    private static bool IsIdentity(Axis a)
    {
        if (a.In != a.Out) return false;
        for (int o = 0; o < a.Out; o++)
        {
            float sum = 0;
            for (int t = 0; t < a.Taps; t++)
            {
                if (a.Weight[o * a.Taps + t] != 0 && a.Index[o * a.Taps + t] != o) return false;
                sum += a.Weight[o * a.Taps + t];
            }
            if (sum != 1f) return false;
        }
        return a.Outside is null || !a.Outside.Any(v => v);
    }

    public override Tensor[] Forward(Tensor?[] inputs, out object? saved)
    {
        var x = RequireFloat(inputs, 0, "Resize");
        var axes = Plan(inputs);
        var current = x.Data.AsSpan(0, x.Length).ToArray();
        var shape = (int[])x.Shape.Clone();
        for (int d = 0; d < axes.Length; d++)
        {
            if (IsIdentity(axes[d])) continue;
            current = AlongAxis(current, shape, d, axes[d]);
            shape[d] = axes[d].Out;
        }
        if (axes.Any(a => a.Outside is not null && a.Outside.Any(v => v)))
            MarkOutside(current, shape, axes, attributes.Extrapolation);
        saved = null;
        var y = Tensor.Uninitialized(shape);
        current.AsSpan(0, y.Length).CopyTo(y.Span);
        return [y];
    }

    private static float[] AlongAxis(float[] x, int[] shape, int d, Axis a)
    {
        int outer = ShapeMath.Count(shape.AsSpan(0, d)), inner = ShapeMath.Count(shape.AsSpan(d + 1));
        var y = new float[outer * a.Out * inner];
        for (int o = 0; o < outer; o++)
        for (int j = 0; j < a.Out; j++)
        {
            var dst = y.AsSpan((o * a.Out + j) * inner, inner);
            for (int t = 0; t < a.Taps; t++)
            {
                float w = a.Weight[j * a.Taps + t];
                if (w == 0) continue;
                var src = x.AsSpan((o * a.In + a.Index[j * a.Taps + t]) * inner, inner);
                System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(src, w, dst, dst);
            }
        }
        return y;
    }

    private static float[] AlongAxisTransposed(float[] dy, int[] shape, int d, Axis a)
    {
        int outer = ShapeMath.Count(shape.AsSpan(0, d)), inner = ShapeMath.Count(shape.AsSpan(d + 1));
        var dx = new float[outer * a.In * inner];
        for (int o = 0; o < outer; o++)
        for (int j = 0; j < a.Out; j++)
        {
            var src = dy.AsSpan((o * a.Out + j) * inner, inner);
            for (int t = 0; t < a.Taps; t++)
            {
                float w = a.Weight[j * a.Taps + t];
                if (w == 0) continue;
                var dst = dx.AsSpan((o * a.In + a.Index[j * a.Taps + t]) * inner, inner);
                System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(src, w, dst, dst);
            }
        }
        return dx;
    }

    private static void MarkOutside(float[] y, int[] shape, Axis[] axes, float value)
    {
        var index = new int[shape.Length];
        for (int i = 0; i < ShapeMath.Count(shape); i++)
        {
            for (int d = 0; d < shape.Length; d++)
                if (axes[d].Outside is { } o && o[index[d]]) { y[i] = value; break; }
            for (int d = shape.Length - 1; d >= 0; d--) { if (++index[d] < shape[d]) break; index[d] = 0; }
        }
    }

    public override void Backward(BackwardContext c)
    {
        if (!c.Wants(0)) return;
        var x = c.Inputs[0]!;
        var axes = Plan(c.Inputs);
        var dy = c.OutputGradient();
        var current = dy.Data.AsSpan(0, dy.Length).ToArray();
        var shape = (int[])dy.Shape.Clone();
        if (axes.Any(a => a.Outside is not null && a.Outside.Any(v => v))) MarkOutside(current, shape, axes, 0f);
        for (int d = axes.Length - 1; d >= 0; d--)
        {
            if (IsIdentity(axes[d])) continue;
            current = AlongAxisTransposed(current, shape, d, axes[d]);
            shape[d] = axes[d].In;
        }
        var dx = c.GradientOf(0).Span;
        System.Numerics.Tensors.TensorPrimitives.Add(dx, current.AsSpan(0, x.Length), dx);
    }
}
