// Every operator's backward rule against finite differences of its forward rule.
using AdvVis.Engine.Ops;

namespace AdvVis.Engine.Tests;

public class OpGradientTests
{
    private static readonly Random Rng = new(1234);
    private static Tensor R(params int[] shape) => GradCheck.RandomTensor(shape, Rng);
    private static Tensor S(params int[] shape) => GradCheck.SeparatedTensor(shape, Rng);
    /// <summary>Separated values on a grid shifted by a third of the gap, so two operands never tie within a step.</summary>
    private static Tensor Shifted(float thirds, params int[] shape) => GradCheck.SeparatedTensor(shape, Rng, 0.06f, 0.02f * thirds);
    private static Tensor Positive(params int[] shape) => GradCheck.RandomTensor(shape, Rng, 0.5f, 2f);
    private static WindowAttributes Window(int[]? kernel, int[]? strides = null, int[]? pads = null, int[]? dilations = null, string autoPad = "NOTSET", bool ceil = false) =>
        new(kernel, strides ?? [], dilations ?? [], pads ?? [], autoPad, ceil);

    [Fact] public void Relu() => GradCheck.Op(new Relu(), [S(2, 3, 4)], [0]);
    [Fact] public void LeakyRelu() => GradCheck.Op(new LeakyRelu(0.1f), [S(2, 3, 4)], [0]);
    [Fact] public void Sigmoid() => GradCheck.Op(new Sigmoid(), [R(3, 5)], [0]);
    [Fact] public void Tanh() => GradCheck.Op(new Tanh(), [R(3, 5)], [0]);
    [Fact] public void Exp() => GradCheck.Op(new Exp(), [R(3, 5)], [0]);
    [Fact] public void Log() => GradCheck.Op(new Log(), [Positive(3, 5)], [0]);
    [Fact] public void Neg() => GradCheck.Op(new Neg(), [R(3, 5)], [0]);
    [Fact] public void Abs() => GradCheck.Op(new Abs(), [S(3, 5)], [0]);
    [Fact] public void Sqrt() => GradCheck.Op(new Sqrt(), [Positive(3, 5)], [0]);
    [Fact] public void Reciprocal() => GradCheck.Op(new Reciprocal(), [Positive(3, 5)], [0]);
    [Fact] public void Softplus() => GradCheck.Op(new Softplus(), [R(3, 5)], [0]);
    [Fact] public void Elu() => GradCheck.Op(new Elu(1f), [S(3, 5)], [0]);
    [Fact] public void HardSigmoid() => GradCheck.Op(new HardSigmoid(0.2f, 0.5f), [S(3, 5)], [0]);
    // Bounds sit half a grid gap (0.025) from every input value, farther than the finite-difference step.
    [Fact] public void ClipWithAttributes() => GradCheck.Op(new Clip(-0.30f, 0.35f), [S(4, 6)], [0]);
    [Fact] public void ClipWithInputs() => GradCheck.Op(new Clip(float.MinValue, float.MaxValue), [S(4, 6), Tensor.Scalar(-0.35f), Tensor.Scalar(0.45f)], [0]);
    [Fact] public void Identity() => GradCheck.Op(new Identity(), [R(2, 3)], [0]);
    [Fact] public void Dropout() => GradCheck.Op(new Identity(isDropout: true), [R(2, 3)], [0]);

    [Fact]
    public void DropoutInTrainingModeIsRefusedUnlessItsRatioIsZero()
    {
        // torchvision 0.14's Swin exports Dropout(ratio 0, training_mode true): nothing dropped, nothing scaled.
        var x = R(2, 3);
        var training = new Tensor([], [1L]);
        Assert.Same(x, new Identity(isDropout: true).Forward([x, Tensor.Scalar(0f), training], out _)[0]);
        Assert.Throws<UnsupportedFeatureException>(() => new Identity(isDropout: true).Forward([x, Tensor.Scalar(0.1f), training], out _));
        Assert.Throws<UnsupportedFeatureException>(() => new Identity(isDropout: true).Forward([x, null, training], out _));
    }

    [Theory]
    [InlineData(BinaryKind.Add)]
    [InlineData(BinaryKind.Sub)]
    [InlineData(BinaryKind.Mul)]
    [InlineData(BinaryKind.Div)]
    [InlineData(BinaryKind.Max)]
    [InlineData(BinaryKind.Min)]
    public void BinaryWithBroadcasting(BinaryKind kind)
    {
        // [2,3,4,5] ∘ [3,1,5]: the second operand is broadcast over two axes, so its gradient must sum over them.
        var a = Shifted(0, 2, 3, 4, 5);
        // Divisors in [1, 2]: near 0, 1/b curves so sharply that central differences themselves lose accuracy.
        var b = kind == BinaryKind.Div ? GradCheck.RandomTensor([3, 1, 5], Rng, 1f, 2f) : Shifted(1, 3, 1, 5);
        GradCheck.Op(new Binary(kind), [a, b], [0, 1]);
        var c = kind == BinaryKind.Div ? GradCheck.RandomTensor([2, 3, 5, 4], Rng, 1f, 2f) : a.Reshape([2, 3, 5, 4]);
        GradCheck.Op(new Binary(kind), [kind == BinaryKind.Div ? Positive(4) : Shifted(1, 4), c], [0, 1]);
    }

    [Fact] public void Pow() => GradCheck.Op(new Binary(BinaryKind.Pow), [Positive(3, 4), R(4)], [0, 1]);
    [Fact] public void SumOfThree() => GradCheck.Op(new Sum(), [R(2, 3), R(3), R(1, 1)], [0, 1, 2]);
    [Fact] public void VariadicMax() => GradCheck.Op(new Variadic(BinaryKind.Max), [Shifted(0, 2, 3), Shifted(1, 3), Shifted(2, 2, 1)], [0, 1, 2]);

    [Theory]
    [InlineData(1, 1, 0, 1, 1)]     // 3x3, stride 1, pad 1
    [InlineData(1, 2, 1, 2, 1)]     // stride 2, dilation 2
    [InlineData(2, 1, 0, 1, 1)]     // groups
    [InlineData(1, 1, 0, 1, 0)]     // no padding
    public void Conv(int group, int stride, int _, int dilation, int pad)
    {
        var x = R(2, 4, 7, 6);
        var w = R(6, 4 / group, 3, 3);
        var b = R(6);
        var op = new Conv(Window([3, 3], [stride, stride], [pad, pad, pad, pad], [dilation, dilation]), group);
        GradCheck.Op(op, [x, w, b], [0, 1, 2]);
    }

    [Fact]
    public void ConvDepthwiseAndPointwise()
    {
        GradCheck.Op(new Conv(Window([3, 3], [2, 2], [1, 1, 1, 1]), 5), [R(2, 5, 6, 6), R(5, 1, 3, 3), R(5)], [0, 1, 2]);
        GradCheck.Op(new Conv(Window([1, 1]), 1), [R(2, 5, 4, 3), R(7, 5, 1, 1), R(7)], [0, 1, 2]);
    }

    [Fact]
    public void ConvUnitStrideDilatedAsymmetric()
    {
        // Unit-stride input gradients run as a convolution by flipped filters: padding larger and smaller than the
        // kernel's reach, asymmetric pads, rectangular dilated windows and groups all change that convolution's geometry.
        GradCheck.Op(new Conv(Window([2, 3], [1, 1], [0, 1, 1, 2], [2, 1]), 1), [R(2, 3, 7, 6), R(4, 3, 2, 3), R(4)], [0, 1, 2]);
        GradCheck.Op(new Conv(Window([3, 3], [1, 1], [3, 0, 2, 1]), 2), [R(1, 4, 5, 6), R(6, 2, 3, 3)], [0, 1]);
        GradCheck.Op(new Conv(Window([1, 1], [1, 1], [1, 1, 0, 0]), 1), [R(2, 3, 4, 3), R(5, 3, 1, 1)], [0, 1]);
        // Rows of 12+ columns and few channels both ways: the direct kernel, forward and for the input gradient,
        // including a partial group of four filters and a vertical stride.
        GradCheck.Op(new Conv(Window([3, 3], [1, 1], [1, 1, 1, 1]), 1), [R(1, 2, 4, 13), R(3, 2, 3, 3), R(3)], [0, 1, 2]);
        GradCheck.Op(new Conv(Window([3, 3], [2, 1], [1, 1, 1, 1]), 1), [R(1, 2, 5, 17), R(5, 2, 3, 3)], [0, 1]);
        GradCheck.Op(new Conv(Window([3, 3], [2, 2], [1, 1, 1, 1]), 1), [R(1, 3, 6, 26), R(20, 3, 3, 3), R(20)], [0, 1, 2]); // an RGB stem
    }

    [Fact]
    public void ConvWinogradLayers()
    {
        // 64-256 channels, 64+ filters, 128+ tiles of 2x2 outputs: forward and input gradient by Winograd F(2x2, 3x3),
        // with different input and output channel counts (the input gradient's filters are transposed) and in groups.
        var x = R(2, 64, 16, 16); var w = R(96, 64, 3, 3); var b = R(96);
        var conv = new Conv(Window([3, 3], [1, 1], [1, 1, 1, 1]), 1);
        var y = conv.Forward([x, w, b], out _)[0];
        // The forward against the implicit GEMM (the direct sum, deterministic in its own order).
        var g = new AdvVis.Kernels.ConvGeometry(64, 16, 16, 3, 3, 1, 1, 1, 1, 1, 1, 16, 16);
        var expected = new float[y.Length];
        AdvVis.Kernels.Kernels.ConvolutionGemm(x.Data, 64 * 256, g, 2, w.Data, 96, 64 * 9, b.Data, expected, 96 * 256, accumulate: false);
        double worst = 0, scale = expected.Max(v => Math.Abs(v));
        for (int i = 0; i < expected.Length; i++) worst = Math.Max(worst, Math.Abs(expected[i] - y.Data[i]));
        Assert.True(worst <= 1e-5 * scale, $"Winograd forward differs from the direct sum by {worst:G3} (scale {scale:G3})");
        Assert.NotEqual(expected, y.Data); // so this shape really took the Winograd path (its roundings differ)
        GradCheck.Op(conv, [x, w, b], [0, 1, 2]);
        GradCheck.Op(new Conv(Window([3, 3], [1, 1], [1, 1, 1, 1]), 2), [R(2, 128, 16, 16), R(128, 64, 3, 3)], [0, 1]);
    }

    [Fact]
    public void ConvAutoPadAndOneD()
    {
        GradCheck.Op(new Conv(Window([3, 3], [2, 2], autoPad: "SAME_UPPER"), 1), [R(1, 2, 5, 6), R(3, 2, 3, 3)], [0, 1]);
        GradCheck.Op(new Conv(Window([3], [1], [1, 1]), 1), [R(2, 3, 8), R(4, 3, 3), R(4)], [0, 1, 2]);
    }

    [Fact]
    public void MaxPoolRoutesToTheFirstMaximumOnTiesNaNAndSignedZeros()
    {
        // Backward finds each window's winner again from x and y; it must be the tap the forward pass chose, and
        // forward must give the same values whether or not the Indices output is asked for.
        float nan = float.NaN;
        var x = new Tensor([1, 1, 2, 8], [1f, 3f, nan, 2f, -0f, 0f, 5f, 5f,
                                          3f, 3f, 4f, nan, 0f, -0f, 5f, 5f]);
        foreach (bool indices in new[] { false, true })
        {
            var op = new MaxPool(Window([2, 2], [2, 2]), wantsIndices: indices);
            var outputs = op.Forward([x], out var saved);
            var y = outputs[0].AsFloats();
            Assert.Equal(3f, y[0]);
            Assert.True(float.IsNaN(y[1]));                       // a NaN first tap stays the maximum
            Assert.Equal(float.NegativeZero, y[2]);               // −0 first, +0 not strictly greater
            Assert.Equal(5f, y[3]);
            if (indices) Assert.Equal(new long[] { 1, 2, 4, 6 }, outputs[1].Longs!.Take(4));
            Tensor? dx = null;
            var dy = new Tensor([1, 1, 1, 4], [10f, 20f, 30f, 40f]);
            op.Backward(new BackwardContext([x], outputs, saved, [dy, null], [true], _ => dx ??= Tensor.Zeros(x.Shape)));
            Assert.Equal(new float[] { 0, 10, 20, 0, 30, 0, 40, 0, 0, 0, 0, 0, 0, 0, 0, 0 }, dx!.AsFloats());
        }
    }

    [Fact]
    public void MaxPoolVectorRowsMatchTheScalarScan()
    {
        // Rows of 16+ columns take the 8-wide path when the Indices output is not asked for; the scalar scan (which
        // records positions) is its reference: values bit for bit, on coarse values full of ties, NaNs and signed zeros.
        // Also rows of 8-15 outputs (a last vector overlapping the one before) and small planes (under 8 outputs a row:
        // gathers from a table of window origins, any window without padding).
        var rng = new Random(3);
        float[] pool = [0f, -0f, 1f, -1f, 2f, float.NaN, float.NegativeInfinity];
        foreach (var (shape, window) in new (int[], WindowAttributes)[]
        {
            ([2, 3, 6, 41], Window([2, 2], [2, 2])), ([2, 3, 28, 28], Window([2, 2], [2, 2])), ([3, 4, 14, 14], Window([2, 2], [2, 2])),
            ([2, 5, 7, 7], Window([2, 2], [2, 2])), ([2, 3, 3, 3], Window([2, 2], [2, 2])), ([2, 3, 9, 11], Window([3, 3], [2, 2])),
            ([1, 2, 8, 9], Window([2, 3], [1, 2], dilations: [2, 1])),
        })
        {
            var x = new Tensor(shape, Enumerable.Range(0, shape.Aggregate(1, (a, b) => a * b)).Select(_ => pool[rng.Next(pool.Length)]).ToArray());
            var fast = new MaxPool(window, wantsIndices: false).Forward([x], out _)[0].AsFloats();
            var scan = new MaxPool(window, wantsIndices: true).Forward([x], out _)[0].AsFloats();
            Assert.Equal(scan.Select(BitConverter.SingleToInt32Bits), fast.Select(BitConverter.SingleToInt32Bits));
        }
    }

    [Fact]
    public void MaxPool2x2BackwardRoutesLikeTheWindowScan()
    {
        // The 2×2 stride-2 backward path against the rule written out here: dy goes to the first tap (scan order)
        // equal to y, or the first tap when y is NaN; on values full of ties, NaNs and signed zeros, odd sizes included.
        var rng = new Random(7);
        float[] pool = [0f, -0f, 1f, -1f, 2f, float.NaN, float.NegativeInfinity];
        foreach (var shape in new[] { new[] { 2, 3, 28, 28 }, [3, 2, 7, 7], [1, 4, 6, 9], [2, 2, 3, 3] })
        {
            var x = new Tensor(shape, Enumerable.Range(0, shape.Aggregate(1, (a, b) => a * b)).Select(_ => pool[rng.Next(pool.Length)]).ToArray());
            var op = new MaxPool(Window([2, 2], [2, 2]), wantsIndices: false);
            var outputs = op.Forward([x], out var saved);
            var y = outputs[0];
            var dy = new Tensor(y.Shape, Enumerable.Range(0, y.Length).Select(i => (float)(i % 13) - 6f).ToArray());
            Tensor? dx = null;
            op.Backward(new BackwardContext([x], outputs, saved, [dy], [true], _ => dx ??= Tensor.Zeros(x.Shape)));
            int h = shape[2], w = shape[3], oh = h / 2, ow = w / 2;
            var expected = new float[x.Length];
            for (int p = 0; p < shape[0] * shape[1]; p++)
                for (int i = 0; i < oh; i++)
                    for (int j = 0; j < ow; j++)
                    {
                        float m = y.Data[(p * oh + i) * ow + j];
                        int[] taps = [p * h * w + 2 * i * w + 2 * j, p * h * w + 2 * i * w + 2 * j + 1, p * h * w + (2 * i + 1) * w + 2 * j, p * h * w + (2 * i + 1) * w + 2 * j + 1];
                        int winner = float.IsNaN(m) ? taps[0] : taps.FirstOrDefault(t => x.Data[t] == m, -1);
                        if (winner >= 0) expected[winner] += dy.Data[(p * oh + i) * ow + j];
                    }
            Assert.Equal(expected.Select(BitConverter.SingleToInt32Bits), dx!.AsFloats().Select(BitConverter.SingleToInt32Bits));
        }
    }

    [Fact]
    public void MaxPool()
    {
        GradCheck.Op(new MaxPool(Window([2, 2], [2, 2])), [S(2, 3, 6, 6)], [0]);
        GradCheck.Op(new MaxPool(Window([3, 3], [2, 2], [1, 1, 1, 1], ceil: true)), [S(1, 2, 7, 7)], [0]);
    }

    [Fact]
    public void AveragePool()
    {
        GradCheck.Op(new AveragePool(Window([2, 2], [2, 2]), false), [R(2, 3, 6, 6)], [0]);
        GradCheck.Op(new AveragePool(Window([3, 3], [2, 2], [1, 1, 1, 1]), false), [R(1, 2, 7, 7)], [0]);
        GradCheck.Op(new AveragePool(Window([3, 3], [2, 2], [1, 1, 1, 1]), true), [R(1, 2, 7, 7)], [0]);
    }

    [Fact] public void GlobalAveragePool() => GradCheck.Op(new GlobalPool(isMax: false), [R(2, 3, 4, 5)], [0]);
    [Fact] public void GlobalMaxPool() => GradCheck.Op(new GlobalPool(isMax: true), [S(2, 3, 4, 5)], [0]);

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public void Gemm(bool transA, bool transB)
    {
        var a = transA ? R(5, 3) : R(3, 5);
        var b = transB ? R(4, 5) : R(5, 4);
        GradCheck.Op(new Gemm(0.7f, 1.3f, transA, transB), [a, b, R(4)], [0, 1, 2]);
    }

    [Fact]
    public void MatMulBatchedAndBroadcast()
    {
        GradCheck.Op(new MatMul(), [R(2, 3, 4), R(4, 5)], [0, 1]);
        GradCheck.Op(new MatMul(), [R(3, 4), R(2, 4, 2)], [0, 1]);
        GradCheck.Op(new MatMul(), [R(4), R(4, 3)], [0, 1]);
    }

    [Fact]
    public void BatchNormalization() =>
        GradCheck.Op(new BatchNormalization(1e-5f), [R(2, 3, 4, 4), R(3), R(3), R(3), Positive(3)], [0, 1, 2]);

    [Fact] public void Lrn() => GradCheck.Op(new Lrn(3, 0.5f, 0.75f, 1f), [R(2, 5, 3, 3)], [0]);
    [Fact] public void LrnEvenSize() => GradCheck.Op(new Lrn(4, 0.3f, 0.6f, 2f), [R(1, 6, 2, 2)], [0]);

    [Theory]
    [InlineData(1, false, false)]
    [InlineData(-1, false, true)]
    [InlineData(1, true, false)]
    [InlineData(1, true, true)]
    public void Softmax(long axis, bool legacy, bool log) => GradCheck.Op(new Softmax(axis, legacy, log), [R(2, 4, 3)], [0]);

    [Fact] public void Flatten() => GradCheck.Op(new Flatten(2), [R(2, 3, 4)], [0]);
    [Fact] public void Reshape() => GradCheck.Op(new Reshape(false), [R(2, 3, 4), Tensor.FromLongs(0, -1)], [0]);
    [Fact] public void Transpose() => GradCheck.Op(new Transpose([2, 0, 1]), [R(2, 3, 4)], [0]);
    [Fact] public void Concat() => GradCheck.Op(new Concat(1), [R(2, 3, 2), R(2, 1, 2), R(2, 2, 2)], [0, 1, 2]);
    [Fact] public void Split() => GradCheck.Op(new Split(1, [1, 3], 2), [R(2, 4, 3)], [0]);
    [Fact] public void Squeeze() => GradCheck.Op(new Squeeze([1]), [R(2, 1, 3)], [0]);
    [Fact] public void Unsqueeze() => GradCheck.Op(new Unsqueeze([0, 3]), [R(2, 3)], [0]);
    [Fact] public void SliceWithSteps() => GradCheck.Op(new Slice(null, null, null), [R(5, 6), Tensor.FromLongs(4, 1), Tensor.FromLongs(0, 6), Tensor.FromLongs(0, 1), Tensor.FromLongs(-2, 2)], [0]);
    [Fact] public void Expand() => GradCheck.Op(new Expand(), [R(3, 1), Tensor.FromLongs(2, 3, 4)], [0]);
    [Fact] public void Gather() => GradCheck.Op(new Gather(1), [R(3, 5), new Tensor([2, 2], [0L, 4, -1, 0])], [0]);
    [Fact] public void CastFloatToFloat() => GradCheck.Op(new Cast(toFloat: true, toBool: false), [R(3, 2)], [0]);

    [Theory]
    [InlineData("constant")]
    [InlineData("reflect")]
    [InlineData("edge")]
    public void Pad(string mode) => GradCheck.Op(new Pad(mode, null, 0.5f), [R(1, 2, 4, 5), Tensor.FromLongs(0, 0, 1, 2, 0, 0, 2, -1)], [0]);

    [Theory]
    [InlineData(ReduceKind.Mean)]
    [InlineData(ReduceKind.Sum)]
    [InlineData(ReduceKind.Max)]
    [InlineData(ReduceKind.Min)]
    [InlineData(ReduceKind.SumSquare)]
    [InlineData(ReduceKind.L2)]
    public void Reduce(ReduceKind kind)
    {
        GradCheck.Op(new Ops.Reduce(kind, [1, -1], keepDims: true, noopWithEmptyAxes: false), [S(2, 3, 4)], [0]);
        GradCheck.Op(new Ops.Reduce(kind, null, keepDims: false, noopWithEmptyAxes: false), [S(2, 3)], [0]);
    }

    // Activations of transformers, MobileNetV3 and friends. Kinks (HardSwish at ±3, the thresholds) sit between the
    // separated grid's values, more than a step away.
    [Fact] public void HardSwish() => GradCheck.Op(new HardSwish(), [GradCheck.SeparatedTensor([4, 40], Rng, 0.2f, 0.07f)], [0]);
    [Fact] public void Erf() => GradCheck.Op(new Erf(), [GradCheck.RandomTensor([3, 7], Rng, -2.5f, 2.5f)], [0]);
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Gelu(bool tanh) => GradCheck.Op(new Gelu(tanh), [GradCheck.RandomTensor([3, 7], Rng, -3f, 3f)], [0]);
    [Fact] public void Mish() => GradCheck.Op(new Mish(), [GradCheck.RandomTensor([3, 7], Rng, -3f, 3f)], [0]);
    [Fact] public void Selu() => GradCheck.Op(new Selu(1.6732632f, 1.050701f), [S(3, 5)], [0]);
    [Fact] public void Celu() => GradCheck.Op(new Celu(0.7f), [S(3, 5)], [0]);
    [Fact] public void ThresholdedRelu() => GradCheck.Op(new ThresholdedRelu(0.11f), [S(3, 5)], [0]);
    [Fact] public void Softsign() => GradCheck.Op(new Softsign(), [S(3, 5)], [0]);
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void SinCos(bool cosine) => GradCheck.Op(new Trigonometric(cosine), [GradCheck.RandomTensor([3, 5], Rng, -3f, 3f)], [0]);
    [Fact] public void RoundingHasZeroGradient() => GradCheck.Op(new Rounding(RoundingKind.Floor), [new Tensor([2, 3], [0.5f, -1.3f, 2.6f, -0.4f, 7.2f, 3.7f])], [0]);

    [Fact]
    public void GeluMatchesHandComputedValues()
    {
        // x·Φ(x) and the tanh formula of Hendrycks & Gimpel, evaluated in double with Python's math.erf / math.tanh.
        var x = new Tensor([5], [-3f, -1f, 0f, 1f, 2f]);
        double[] exact = [-0.00404969409489031, -0.15865525393145707, 0, 0.8413447460685429, 1.9544997361036416];
        double[] tanh = [-0.0036373920817729943, -0.15880800939172324, 0, 0.8411919906082768, 1.954597694087775];
        var y = new Gelu(false).Forward([x], out _)[0].AsFloats();
        var t = new Gelu(true).Forward([x], out _)[0].AsFloats();
        for (int i = 0; i < 5; i++)
        {
            Assert.True(Math.Abs(y[i] - exact[i]) <= 2e-7 * Math.Max(1, Math.Abs(exact[i])), $"gelu({x.Data[i]}) = {y[i]}, expected {exact[i]}");
            Assert.True(Math.Abs(t[i] - tanh[i]) <= 2e-7 * Math.Max(1, Math.Abs(tanh[i])), $"gelu_tanh({x.Data[i]}) = {t[i]}, expected {tanh[i]}");
        }
    }

    [Fact]
    public void MishMatchesHandComputedValues()
    {
        // x·tanh(ln(1 + e^x)) in double with Python's math (Debian's onnx 1.12 has no Mish node tests).
        var x = new Tensor([5], [-2f, -0.5f, 0f, 1f, 3f]);
        double[] expected = [-0.2525014826957089, -0.22074377465173, 0, 0.8650983882673103, 2.9865350049679575];
        var y = new Mish().Forward([x], out _)[0].AsFloats();
        for (int i = 0; i < 5; i++)
            Assert.True(Math.Abs(y[i] - expected[i]) <= 2e-7 * Math.Max(1, Math.Abs(expected[i])), $"mish({x.Data[i]}) = {y[i]}, expected {expected[i]}");
    }

    [Fact]
    public void ErfIsAccurateNearZeroAndInTheTails()
    {
        // Relative accuracy where erf is tiny (x = 1e-6) and near 1 (x = 3): reference values from Python's math.erf (libm).
        (double X, double Erf)[] cases = [(1e-6, 1.1283791670951364e-6), (0.3, 0.32862675945912741), (0.5, 0.52049987781304654),
            (1.7, 0.98379045859077456), (3.0, 0.99997790950300141), (-2.2, -0.99813715370201811)];
        foreach (var (x, expected) in cases)
            Assert.True(Math.Abs(AdvVis.Engine.Ops.SpecialFunctions.Erf(x) - expected) <= 1.5e-7 * Math.Abs(expected), $"erf({x})");
    }

    [Fact] public void PRelu() => GradCheck.Op(new PRelu(), [S(2, 3, 4, 4), R(3, 1, 1)], [0, 1]);
    [Fact] public void PReluLegacyChannelSlope() => GradCheck.Op(new PRelu(channelSlope: true), [S(2, 3, 4, 5), R(3)], [0, 1]);
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Mod(bool fmod) =>
        // Quotients stay away from integers (a in ±[0.1, 0.9] + k·b for b in [1, 2]) so floor/trunc do not jump within a step.
        GradCheck.Op(new Mod(fmod), [new Tensor([2, 3], [0.3f, -2.6f, 3.7f, -0.4f, 5.5f, 1.2f]), new Tensor([3], [1.1f, 1.7f, -1.3f])], [0, 1]);
    [Fact] public void Mean() => GradCheck.Op(new Mean(), [R(2, 3), R(3), R(1, 1)], [0, 1, 2]);

    [Fact]
    public void Where()
    {
        var condition = new Tensor([2, 1, 4], [1L, 0, 0, 1, 0, 1, 1, 0]);
        GradCheck.Op(new Where(), [condition, R(3, 4), R(2, 3, 1)], [1, 2]);
    }

    [Fact]
    public void LayerNormalization()
    {
        GradCheck.Op(new LayerNormalization(-1, 1e-5f), [R(2, 3, 8), R(8), R(8)], [0, 1, 2]);
        GradCheck.Op(new LayerNormalization(1, 1e-3f), [R(2, 3, 4), R(3, 4)], [0, 1]);
        GradCheck.Op(new LayerNormalization(-2, 1e-5f), [R(2, 3, 4), R(1, 4), R(3, 1)], [0, 1, 2]); // broadcast Scale and B
    }

    [Fact] public void InstanceNormalization() => GradCheck.Op(new InstanceNormalization(1e-5f), [R(2, 3, 4, 5), R(3), R(3)], [0, 1, 2]);

    [Theory]
    [InlineData("bhid,bhjd->bhij")]
    [InlineData("bhij,bhjd->bhid")]
    [InlineData("bij,bjk->bik")]
    [InlineData("ij->ji")]
    [InlineData("bii->bi")]
    [InlineData("ij,j")]
    [InlineData("...ij,...jk->...ik")]
    [InlineData("i,i->")]
    [InlineData("bn,anm,bm->ba")]
    public void Einsum(string equation)
    {
        Tensor T(string term) => R(term.Replace("...", "x").Select(ch => ch switch
        {
            'b' => 2, 'h' => 2, 'i' => 3, 'j' => 4, 'd' => 5, 'k' => 3, 'x' => 2, 'n' => 3, 'a' => 2, _ => 4,
        }).ToArray());
        var operands = equation.Split("->")[0].Split(',');
        var inputs = equation == "bii->bi" ? [R(2, 3, 3)] : operands.Select(T).ToArray();
        GradCheck.Op(new Einsum(equation), inputs, Enumerable.Range(0, inputs.Length).ToArray());
    }

    [Fact]
    public void EinsumMatchesMatMulAndSumsImplicitly()
    {
        var a = R(2, 2, 3, 5); var b = R(2, 2, 4, 5);
        var attention = new Einsum("bhid,bhjd->bhij").Forward([a, b], out _)[0];
        var reference = new MatMul().Forward([a, new Transpose([0, 1, 3, 2]).Forward([b], out _)[0]], out _)[0];
        Assert.Equal(reference.Shape, attention.Shape);
        for (int i = 0; i < reference.Length; i++) Assert.Equal(reference.Data[i], attention.Data[i], 5);
        // Implicit output: letters occurring once, alphabetically ("ij,jk" -> "ik"; "ba" sorted to "ab").
        Assert.Equal(new[] { 3, 2 }, new Einsum("ij,jk").Forward([R(3, 4), R(4, 2)], out _)[0].Shape);
        Assert.Equal(new[] { 4, 3 }, new Einsum("ba").Forward([R(3, 4)], out _)[0].Shape);
    }

    [Theory]
    [InlineData("nearest", "asymmetric", "floor")]
    [InlineData("nearest", "half_pixel", "round_prefer_floor")]
    [InlineData("linear", "half_pixel", "")]
    [InlineData("linear", "align_corners", "")]
    [InlineData("linear", "pytorch_half_pixel", "")]
    [InlineData("cubic", "half_pixel", "")]
    public void Resize(string mode, string coordinates, string nearest)
    {
        var op = new Resize(new ResizeAttributes(mode, coordinates, nearest, -0.75f, false, 0f), 2, 3, 1, null);
        GradCheck.Op(op, [R(1, 2, 3, 4), null, new Tensor([4], [1f, 1f, 2f, 1.5f]), null], [0]);
        GradCheck.Op(op, [R(1, 2, 5, 6), null, null, Tensor.FromLongs(1, 2, 3, 4)], [0]); // downsampling by sizes
    }

    [Theory]
    [InlineData(1, 1, 0, 1)]
    [InlineData(2, 2, 1, 1)]
    [InlineData(2, 1, 0, 2)]
    public void ConvTranspose(int stride, int group, int pad, int dilation)
    {
        var op = new ConvTranspose(Window([3, 3], [stride, stride], [pad, pad, pad, pad], [dilation, dilation]), group, stride > 1 ? [1, 0] : [], null);
        GradCheck.Op(op, [R(2, 4, 3, 4), R(4, 6 / group, 3, 3), R(6)], [0, 1, 2]);
    }

    [Fact] public void ConvTransposeOneD() => GradCheck.Op(new ConvTranspose(Window([3], [2], [1, 0]), 1, [], null), [R(2, 3, 5), R(3, 2, 3), R(2)], [0, 1, 2]);
    [Fact] public void Tile() => GradCheck.Op(new Tile(), [R(2, 3), Tensor.FromLongs(2, 3)], [0]);
    [Fact] public void Trilu() => GradCheck.Op(new Trilu(upper: false), [R(2, 4, 5), new Tensor([], [1L])], [0]);
    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public void CumSum(bool exclusive, bool reverse) => GradCheck.Op(new CumSum(exclusive, reverse), [R(3, 4, 2), new Tensor([], [1L])], [0]);
    [Theory]
    [InlineData("none")]
    [InlineData("add")]
    public void ScatterND(string reduction) =>
        GradCheck.Op(new ScatterND(reduction), [R(4, 3, 2), new Tensor([2, 2], [1L, 2, -1, 0]), R(2, 2)], [0, 2]);
    [Fact] public void GatherElements() => GradCheck.Op(new GatherElements(1), [R(3, 4), new Tensor([3, 2], [0L, 3, 1, 1, -1, 2])], [0]);
    [Theory]
    [InlineData(true, false)]
    [InlineData(true, true)]
    [InlineData(false, false)]
    public void DepthSpace(bool toSpace, bool crd) => GradCheck.Op(new DepthSpace(toSpace, 2, crd), [toSpace ? R(1, 8, 2, 3) : R(1, 2, 4, 6)], [0]);

    [Theory]
    [InlineData(ReduceKind.L1)]
    [InlineData(ReduceKind.LogSum)]
    [InlineData(ReduceKind.LogSumExp)]
    [InlineData(ReduceKind.Prod)]
    public void ReduceMore(ReduceKind kind)
    {
        var x = kind == ReduceKind.LogSum ? Positive(2, 3, 4) : S(2, 3, 4);
        GradCheck.Op(new Ops.Reduce(kind, [1, -1], keepDims: true, noopWithEmptyAxes: false), [x], [0]);
        GradCheck.Op(new Ops.Reduce(kind, null, keepDims: false, noopWithEmptyAxes: false), [kind == ReduceKind.LogSum ? Positive(2, 3) : S(2, 3)], [0]);
    }

    [Fact]
    public void ReduceAxesFromTheInputAndNoopWithEmptyAxes()
    {
        var x = R(2, 3, 4);
        GradCheck.Op(new Ops.Reduce(ReduceKind.Mean, null, keepDims: false, noopWithEmptyAxes: false), [x, Tensor.FromLongs(-1)], [0]);
        var same = new Ops.Reduce(ReduceKind.Sum, null, keepDims: true, noopWithEmptyAxes: true).Forward([x, Tensor.FromLongs()], out _)[0];
        Assert.Equal(x.Shape, same.Shape);
        Assert.Equal(x.AsFloats(), same.AsFloats());
    }

    [Fact]
    public void ComparisonsAndLogicGiveBoolsAsZeroOrOneIntegers()
    {
        var a = new Tensor([4], [1f, 2f, float.NaN, -0f]);
        var b = new Tensor([1], [2f]);
        long[] Run(Op op, params Tensor[] inputs) => op.Forward(inputs, out _)[0].Longs!;
        Assert.Equal(new long[] { 0, 1, 0, 0 }, Run(new Compare(CompareKind.Equal), a, b));
        Assert.Equal(new long[] { 1, 0, 0, 1 }, Run(new Compare(CompareKind.Less), a, b));
        Assert.Equal(new long[] { 1, 1, 0, 1 }, Run(new Compare(CompareKind.LessOrEqual), a, b));
        Assert.Equal(new long[] { 0, 1, 0, 0 }, Run(new Compare(CompareKind.GreaterOrEqual), a, b));
        Assert.Equal(new long[] { 1 }, Run(new Compare(CompareKind.Equal), new Tensor([1], [0f]), new Tensor([1], [-0f])));
        var p = new Tensor([4], [0L, 1, 0, 1]); var q = new Tensor([4], [0L, 0, 1, 1]);
        Assert.Equal(new long[] { 0, 0, 0, 1 }, Run(new Logical(LogicKind.And), p, q));
        Assert.Equal(new long[] { 0, 1, 1, 1 }, Run(new Logical(LogicKind.Or), p, q));
        Assert.Equal(new long[] { 0, 1, 1, 0 }, Run(new Logical(LogicKind.Xor), p, q));
        Assert.Equal(new long[] { 1, 0, 1, 0 }, Run(new Not(), p));
        // Where keeps integer values integer (Swin's masks) and picks by any non-zero condition.
        var w = new Where().Forward([Run(new Not(), p) is var np ? new Tensor([4], np) : null, new Tensor([1], [7L]), q], out _)[0];
        Assert.Equal(new long[] { 7, 0, 7, 1 }, w.Longs);
    }

    [Fact]
    public void RangeAndIntegerModFollowTheSpec()
    {
        Assert.Equal(new long[] { 10, 7, 4, 1 }, new Ops.Range().Forward([new Tensor([], [10L]), new Tensor([], [-1L]), new Tensor([], [-3L])], out _)[0].Longs);
        Assert.Empty(new Ops.Range().Forward([new Tensor([], [3L]), new Tensor([], [1L]), new Tensor([], [1L])], out _)[0].Longs!);
        Assert.Equal(new[] { 0.5f, 1.0f, 1.5f }, new Ops.Range().Forward([Tensor.Scalar(0.5f), Tensor.Scalar(1.9f), Tensor.Scalar(0.5f)], out _)[0].AsFloats());
        var a = new Tensor([4], [-7L, 7, -7, 7]); var b = new Tensor([4], [3L, -3, -3, 3]);
        Assert.Equal(new long[] { 2, -2, -1, 1 }, new Mod(fmod: false).Forward([a, b], out _)[0].Longs); // sign of the divisor
        Assert.Equal(new long[] { -1, 1, -1, 1 }, new Mod(fmod: true).Forward([a, b], out _)[0].Longs);  // sign of the dividend
    }

    [Fact]
    public void ReluGradientAtZeroIsZero()
    {
        var x = new Tensor([3], [-1f, 0f, 1f]);
        var op = new Relu();
        var y = op.Forward([x], out var saved);
        Tensor? g = null;
        op.Backward(new BackwardContext([x], y, saved, [new Tensor([3], [1f, 1f, 1f])], [true], _ => g ??= Tensor.Zeros(3)));
        Assert.Equal([0f, 0f, 1f], g!.Data);
    }

    [Fact]
    public void MaxPoolTiesGoToTheFirstMaximum()
    {
        var x = new Tensor([1, 1, 2, 2], [5f, 5f, 5f, 5f]);
        var op = new MaxPool(Window([2, 2]));
        var y = op.Forward([x], out var saved);
        Tensor? g = null;
        op.Backward(new BackwardContext([x], y, saved, [new Tensor([1, 1, 1, 1], [1f]), null], [true], _ => g ??= Tensor.Zeros(1, 1, 2, 2)));
        Assert.Equal([1f, 0f, 0f, 0f], g!.Data);
    }

    [Fact]
    public void BackwardAccumulatesIntoExistingGradients()
    {
        // Backward must add (+=), never assign: a tensor read by two nodes collects both contributions.
        var x = R(2, 3);
        var existing = Tensor.Zeros(2, 3);
        existing.Span.Fill(1f);
        var op = new Sigmoid();
        var y = op.Forward([x], out var saved);
        var dy = Tensor.Zeros(2, 3);
        op.Backward(new BackwardContext([x], y, saved, [dy], [true], _ => existing));
        Assert.All(existing.Data, v => Assert.Equal(1f, v));
    }
}
