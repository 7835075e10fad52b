// Recycled buffers and write-first gradients must not change a single bit, and must never touch a tensor a caller
// holds: pooled runs are compared with unpooled, add-only runs on real models, returned arrays are poisoned with NaN so
// a stale read shows, and tensors from earlier passes are checked after later passes reuse the pool.
using AdvVis.Engine.Ops;
using AdvVis.Onnx;

namespace AdvVis.Engine.Tests;

public class BufferReuseTests
{
    private static int Bits(float v) => BitConverter.SingleToInt32Bits(v);

    private static void SameBits(Tensor expected, Tensor actual, string what)
    {
        Assert.Equal(expected.Shape, actual.Shape);
        for (int i = 0; i < expected.Length; i++)
            if (Bits(expected.Data[i]) != Bits(actual.Data[i]))
                Assert.Fail($"{what}: element {i} is {actual.Data[i]:R} ({Bits(actual.Data[i]):X8}), expected {expected.Data[i]:R} ({Bits(expected.Data[i]):X8})");
    }

    /// <summary>A model as it ran before pooling: fresh arrays, zeroed add-only gradient buffers.</summary>
    private static Model Unpooled(Model m)
    {
        m.BufferPoolBytes = 0;
        m.WriteFirstGradients = false;
        return m;
    }

    private static Model Pooled(Model m)
    {
        m.Buffers.PoisonReturned = true;
        return m;
    }

    public static TheoryData<string, string, int> RealModels => new()
    {
        { "resnet18-cifar.onnx", "/layer2/layer2.1/relu_1/Relu_output_0", 3 },
        { "mobilenetv2.onnx", "/features/features.8/Add_output_0", 2 },
        { "vgg11-bn-cifar.onnx", "/features/features.14/MaxPool_output_0", 3 },
        { "shared:fmnist-cnn-paper.onnx", "/blocks.1/blocks.1.1/Relu_output_0", 16 },
        { "shared:squeezenet1.0-fp32.onnx", "", 1 },
        { "shared:mnist-zoo-opset7.onnx", "", 4 },
    };

    private static string ModelPath(string file) =>
        file.StartsWith("shared:") ? TestPaths.SharedModel(file["shared:".Length..]) : TestPaths.GeneratedModel(file);

    private static Tensor Input(Model model, int batch, int seed)
    {
        var shape = model.Inputs[0].DeclaredShape!.Select(d => (int)(d.Value ?? 1)).ToArray();
        shape[0] = batch;
        return GradCheck.RandomTensor(shape, new Random(seed), 0f, 1f);
    }

    [Theory]
    [MemberData(nameof(RealModels))]
    public void PooledRunsGiveTheBitsOfUnpooledAddOnlyRuns(string file, string intermediate, int batch)
    {
        var reference = Unpooled(Model.Load(ModelPath(file)));
        var pooled = Pooled(Model.Load(ModelPath(file)));
        string input = reference.Inputs[0].Name, output = reference.OutputNames[0];
        string[] wrt = intermediate.Length > 0 ? [input, intermediate] : [input];
        string[] capture = intermediate.Length > 0 ? [intermediate] : [];
        // Several rounds, so later passes run on arrays recycled (and NaN-poisoned) by earlier ones.
        for (int round = 0; round < 3; round++)
        {
            var x = Input(reference, batch, seed: round);
            var cot = GradCheck.RandomTensor(reference.Forward(x).Output.Shape, new Random(100 + round));
            var expectedPass = reference.Forward(x, new RunOptions { RecordForBackward = true });
            var expected = expectedPass.Backward(new Dictionary<string, Tensor> { [output] = cot }, wrt);
            var actualPass = pooled.Forward(x, new RunOptions { RecordForBackward = true });
            var actual = actualPass.Backward(new Dictionary<string, Tensor> { [output] = cot }, wrt);
            SameBits(expectedPass.Output, actualPass.Output, $"{file} round {round}: output");
            foreach (var name in wrt) SameBits(expected[name], actual[name], $"{file} round {round}: gradient of {name}");
            actualPass.Release();

            var plain = reference.Forward(x, new RunOptions { Capture = capture });
            var recycled = pooled.Forward(x, new RunOptions { Capture = capture });
            SameBits(plain.Output, recycled.Output, $"{file} round {round}: forward-only output");
            foreach (var name in capture) SameBits(plain[name], recycled[name], $"{file} round {round}: captured {name}");
        }
        Assert.True(pooled.Buffers.HeldBytes > 0, "the pooled model never recycled a buffer: the test compared nothing new");
    }

    [Fact]
    public void TensorsACallerHoldsSurviveLaterPasses()
    {
        var model = Pooled(Model.Load(TestPaths.GeneratedModel("resnet18-cifar.onnx")));
        string input = model.Inputs[0].Name, output = model.OutputNames[0];
        const string captured = "/layer2/layer2.1/relu_1/Relu_output_0";
        const string read = "/layer3/layer3.0/Add_output_0";
        var xa = Input(model, 2, seed: 1);
        var xb = Input(model, 2, seed: 2);

        // Pass A, forward only: its output and capture must outlive B.
        var a = model.Forward(xa, new RunOptions { Capture = [captured] });
        var aOutput = a.Output; var aCaptured = a[captured];
        var aOutputCopy = aOutput.Clone(); var aCapturedCopy = aCaptured.Clone();
        a.Release();

        // Pass C, recorded: output, a tensor read through the indexer, and its gradients must outlive its Release and B.
        var c = model.Forward(xa, new RunOptions { RecordForBackward = true });
        var cOutput = c.Output; var cRead = c[read];
        var cot = GradCheck.RandomTensor(cOutput.Shape, new Random(5));
        var cGrads = c.Backward(new Dictionary<string, Tensor> { [output] = cot }, [input, read]);
        var copies = new[] { cOutput.Clone(), cRead.Clone(), cGrads[input].Clone(), cGrads[read].Clone() };
        c.Release();
        Assert.Throws<EngineException>(() => c.Backward(new Dictionary<string, Tensor> { [output] = cot }, [input]));
        Assert.Throws<EngineException>(() => c["/layer1/layer1.0/relu/Relu_output_0"]);
        SameBits(copies[1], c[read], "a tensor read before Release can be read again");

        for (int i = 0; i < 3; i++)
        {
            var b = model.Forward(xb, new RunOptions { RecordForBackward = true });
            b.Backward(new Dictionary<string, Tensor> { [output] = GradCheck.RandomTensor(b.Output.Shape, new Random(i)) }, [input, read]);
            b.Release();
            model.Forward(xb);
        }
        Assert.True(model.Buffers.HeldBytes > 0);
        SameBits(aOutputCopy, aOutput, "pass A's output");
        SameBits(aCapturedCopy, aCaptured, "pass A's capture");
        SameBits(copies[0], cOutput, "pass C's output");
        SameBits(copies[1], cRead, "pass C's tensor read through the indexer");
        SameBits(copies[2], cGrads[input], "pass C's input gradient");
        SameBits(copies[3], cGrads[read], "pass C's intermediate gradient");
    }

    /// <summary>
    /// x [N,4,16,16] → Relu "r" → Reshape "r_flat" [N,1024] (a view of r's storage) and Flatten "f" [N,1024] (another view)
    /// → Add "s" = r_flat + f → Relu "t" → Reshape "t4" [N,4,16,16] → GlobalAveragePool → Flatten → "y". In a forward-only
    /// pass r's readers finish before its views do, so r's array must stay out of the pool while r_flat or f is live
    /// (the tensors are large enough, ≥ BufferPool.MinLength, to be pooled at all).
    /// </summary>
    private static Model Views()
    {
        OnnxNode Node(string op, string[] inputs, string output, params OnnxAttribute[] attributes) =>
            new(output, op, "", inputs, [output], attributes.ToDictionary(a => a.Name));
        var nodes = new[]
        {
            Node("Relu", ["x"], "r"),
            Node("Reshape", ["r", "flat_shape"], "r_flat"),
            Node("Flatten", ["r"], "f", new OnnxAttribute("axis", OnnxAttributeKind.Int, Int: 1)),
            Node("Add", ["r_flat", "f"], "s"),
            Node("Relu", ["s"], "t"),
            Node("Reshape", ["t", "image_shape"], "t4"),
            Node("GlobalAveragePool", ["t4"], "p"),
            Node("Flatten", ["p"], "y", new OnnxAttribute("axis", OnnxAttributeKind.Int, Int: 1)),
        };
        var initializers = new[]
        {
            new OnnxTensor("flat_shape", [2], OnnxElementType.Int64, null, [-1, 1024]),
            new OnnxTensor("image_shape", [4], OnnxElementType.Int64, null, [-1, 4, 16, 16]),
        };
        var input = new OnnxValueInfo("x", OnnxElementType.Float, [new OnnxDim(null, "N"), new OnnxDim(4, null), new OnnxDim(16, null), new OnnxDim(16, null)]);
        var graph = new OnnxGraph("views", nodes, initializers.ToDictionary(t => t.Name), [input], [new OnnxValueInfo("y", OnnxElementType.Float, null)], []);
        return Model.FromOnnx(new OnnxModel(8, "advvis-tests", new Dictionary<string, long> { [""] = 13 }, graph, null));
    }

    [Fact]
    public void ViewsKeepTheirSharedStorageOutOfThePool()
    {
        var reference = Unpooled(Views());
        var pooled = Pooled(Views());
        for (int round = 0; round < 4; round++)
        {
            var x = GradCheck.RandomTensor([2, 4, 16, 16], new Random(round));
            // Forward only, capturing a view: its storage is r's, which r's last reader would otherwise give back.
            var plain = reference.Forward(x, new RunOptions { Capture = ["r_flat"] });
            var recycled = pooled.Forward(x, new RunOptions { Capture = ["r_flat"] });
            SameBits(plain.Output, recycled.Output, $"round {round}: output");
            SameBits(plain["r_flat"], recycled["r_flat"], $"round {round}: captured view");
            var keptView = recycled["r_flat"]; var keptCopy = keptView.Clone();
            pooled.Forward(GradCheck.RandomTensor([2, 4, 16, 16], new Random(50 + round)));
            SameBits(keptCopy, keptView, $"round {round}: captured view after another pass");

            // Recorded: r gets gradient from two views (write-first, then accumulate), s from both Add sides.
            var cot = GradCheck.RandomTensor([2, 4], new Random(9 + round));
            var e = reference.Forward(x, new RunOptions { RecordForBackward = true }).Backward(new Dictionary<string, Tensor> { ["y"] = cot }, ["x", "r", "f"]);
            var pass = pooled.Forward(x, new RunOptions { RecordForBackward = true });
            var a = pass.Backward(new Dictionary<string, Tensor> { ["y"] = cot }, ["x", "r", "f"]);
            foreach (var name in new[] { "x", "r", "f" }) SameBits(e[name], a[name], $"round {round}: gradient of {name}");
            pass.Release();
        }
        Assert.True(pooled.Buffers.HeldBytes > 0, "nothing was pooled: the test compared nothing new");
    }

    // Write-first rules, op by op: the first contributor gets a garbage (NaN) buffer and must assign every element,
    // a second contributor adds; the result must be the bits of two add-only contributions into zeros, −0 included.

    private static Tensor Values(int[] shape, int seed)
    {
        var t = GradCheck.RandomTensor(shape, new Random(seed), -2f, 2f);
        var rng = new Random(seed + 1);
        for (int i = 0; i < t.Length; i++)
            if (rng.Next(6) == 0) t.Data[i] = rng.Next(2) == 0 ? -0f : 0f; // signed zeros and ReLU/clip kinks
        return t;
    }

    /// <summary>
    /// Runs op's backward twice into the same input gradients, as two consumers of one tensor would: once with the
    /// add-only context, once with write-first buffers that start as NaN garbage, and compares the bits.
    /// </summary>
    private static void TwoConsumers(Op op, Tensor?[] inputs, int[] wrt, string what)
    {
        var outputs = op.Forward(inputs, out var saved);
        var dys = new[] { outputs.Select((o, k) => o.IsInteger ? null : Values(o.Shape, 10 + k)).ToArray(),
                          outputs.Select((o, k) => o.IsInteger ? null : Values(o.Shape, 20 + k)).ToArray() };
        var wants = Enumerable.Range(0, inputs.Length).Select(i => wrt.Contains(i)).ToArray();

        var expected = new Tensor?[inputs.Length];
        foreach (var dy in dys)
            op.Backward(new BackwardContext(inputs, outputs, saved, dy, wants, i => expected[i] ??= Tensor.Zeros(inputs[i]!.Shape)));

        var actual = new Tensor?[inputs.Length];
        var firsts = new List<bool>();
        Tensor Zeroed(int i) => actual[i] ??= Tensor.Zeros(inputs[i]!.Shape);
        Tensor ForWrite(int i, out bool accumulate)
        {
            accumulate = actual[i] is not null;
            firsts.Add(!accumulate);
            if (actual[i] is null)
            {
                actual[i] = Tensor.Zeros(inputs[i]!.Shape);
                actual[i]!.Span.Fill(float.NaN);
            }
            return actual[i]!;
        }
        foreach (var dy in dys)
            op.Backward(new BackwardContext(inputs, outputs, saved, dy, wants, Zeroed, ForWrite));

        Assert.Contains(true, firsts); // the op did take the write-first path
        foreach (var i in wrt) SameBits(expected[i]!, actual[i]!, $"{what}: gradient of input {i}");
    }

    private static WindowAttributes Window(int[] kernel, int[]? strides = null) =>
        new(kernel, strides ?? kernel, [1, 1], [0, 0, 0, 0], "NOTSET", false);

    [Fact]
    public void ReluWritesFirst() => TwoConsumers(new Relu(), [Values([3, 5, 7, 11], 1)], [0], "Relu");

    [Fact]
    public void ReluWritesFirstAcrossParallelBlocks() => TwoConsumers(new Relu(), [Values([2, 3, 150, 151], 1)], [0], "Relu (large)");

    [Fact]
    public void ClipWritesFirst() => TwoConsumers(new Clip(0f, 6f), [Values([3, 5, 7, 11], 2), null, null], [0], "Clip");

    [Fact]
    public void AddAndSubWriteFirst()
    {
        TwoConsumers(new Binary(BinaryKind.Add), [Values([2, 3, 4, 5], 3), Values([2, 3, 4, 5], 4)], [0, 1], "Add");
        TwoConsumers(new Binary(BinaryKind.Sub), [Values([2, 3, 4, 5], 3), Values([2, 3, 4, 5], 4)], [0, 1], "Sub");
        // Broadcast side: the reducing, add-only path still runs beside a write-first side.
        TwoConsumers(new Binary(BinaryKind.Add), [Values([2, 3, 4, 5], 3), Values([1, 3, 1, 1], 4)], [0, 1], "Add (broadcast)");
        TwoConsumers(new Binary(BinaryKind.Sub), [Values([1, 3, 1, 1], 3), Values([2, 3, 4, 5], 4)], [0, 1], "Sub (broadcast)");
    }

    [Fact]
    public void AddOfATensorWithItselfAccumulatesTheSecondSide()
    {
        var x = Values([2, 3, 4], 5);
        var op = new Binary(BinaryKind.Add);
        var y = op.Forward([x, x], out var saved);
        var dy = Values([2, 3, 4], 6);
        Tensor? g = null;
        op.Backward(new BackwardContext([x, x], y, saved, [dy], [true, true], _ => g ??= Tensor.Zeros(2, 3, 4),
            (int _, out bool accumulate) =>
            {
                accumulate = g is not null;
                if (g is null) { g = Tensor.Zeros(2, 3, 4); g.Span.Fill(float.NaN); }
                return g;
            }));
        for (int i = 0; i < x.Length; i++) Assert.Equal(Bits(0f + dy.Data[i] + dy.Data[i]), Bits(g!.Data[i]));
    }

    [Fact]
    public void SumWritesFirst()
    {
        TwoConsumers(new Sum(), [Values([2, 3, 4], 7), Values([2, 3, 4], 8), Values([2, 3, 4], 9)], [0, 1, 2], "Sum");
        TwoConsumers(new Sum(), [Values([2, 3, 4], 7), Values([3, 1], 8)], [0, 1], "Sum (broadcast)");
    }

    [Fact]
    public void BatchNormalizationWritesFirst()
    {
        var scale = Values([3], 11); var bias = Values([3], 12); var mean = Values([3], 13);
        var variance = GradCheck.RandomTensor([3], new Random(14), 0.5f, 2f);
        TwoConsumers(new BatchNormalization(1e-5f), [Values([2, 3, 4, 5], 10), scale, bias, mean, variance], [0, 1, 2], "BatchNormalization");
    }

    [Fact]
    public void PassThroughOpsWriteFirst()
    {
        TwoConsumers(new Identity(), [Values([2, 3, 4], 15)], [0], "Identity");
        TwoConsumers(new Identity(isDropout: true), [Values([2, 3, 4], 15)], [0], "Dropout");
        TwoConsumers(new Reshape(allowZero: false), [Values([2, 3, 4], 16), Tensor.FromLongs(6, 4)], [0], "Reshape");
        TwoConsumers(new Flatten(1), [Values([2, 3, 4], 17)], [0], "Flatten");
    }

    [Fact]
    public void PoolsWriteFirst()
    {
        TwoConsumers(new GlobalPool(isMax: false), [Values([2, 3, 5, 7], 18)], [0], "GlobalAveragePool");
        TwoConsumers(new MaxPool(Window([2, 2])), [Values([2, 3, 6, 8], 19)], [0], "MaxPool 2x2");
        TwoConsumers(new MaxPool(Window([3, 3], [1, 1])), [Values([2, 3, 6, 8], 20)], [0], "MaxPool 3x3 stride 1 (overlapping)");
    }
}
