// Bad models and bad inputs meet clear errors that name the problem, and never crash or hang the process.
using AdvVis.Onnx;
using AdvVis.Onnx.Proto;
using Google.Protobuf;

namespace AdvVis.Engine.Tests;

public class BadInputTests
{
    [Fact]
    public void TruncatedModelIsAClearError()
    {
        var bytes = File.ReadAllBytes(TestPaths.SharedModel("mnist-zoo-opset7.onnx"));
        var e = Assert.Throws<OnnxFormatException>(() => OnnxReader.LoadModel(bytes[..(bytes.Length / 2)], "cut.onnx"));
        Assert.Contains("cut.onnx", e.Message);
    }

    [Fact]
    public void NonOnnxFileIsAClearError()
    {
        var e = Assert.Throws<OnnxFormatException>(() => OnnxReader.LoadModel("hello, I am a text file"u8.ToArray(), "notes.onnx"));
        Assert.Contains("notes.onnx", e.Message);
        Assert.Throws<OnnxFormatException>(() => OnnxReader.LoadModel("/definitely/not/here.onnx"));
    }

    [Fact]
    public void UnsupportedOperatorIsNamedWithNodeAndOpset()
    {
        var model = Model.FromOnnx(OnnxReader.LoadModel(BuildModel(graph =>
        {
            graph.Node.Add(new NodeProto { Name = "the_fancy_node", OpType = "GridSample", Input = { "x" }, Output = { "y" } });
        }), "fancy.onnx"));
        Assert.Single(model.UnsupportedNodes);
        var e = Assert.Throws<EngineException>(() => model.Forward(Tensor.Zeros(1, 3)));
        Assert.Contains("GridSample", e.Message);
        Assert.Contains("the_fancy_node", e.Message);
        Assert.Contains("opset 13", e.Message);
        // Messages for users name the operator and what to do, never a type name or a command for another tool.
        Assert.DoesNotContain("advvis info", e.Message, StringComparison.Ordinal);
        Assert.Equal("GridSample (1 node)", model.DescribeUnsupported());
        string? shapes = AdvVis.Analysis.Architecture.ArchitectureGraph.Build(model).ShapeError;
        Assert.Equal("the model uses operators AdvVis cannot run yet: GridSample (1 node)", shapes);
        Assert.DoesNotContain("AdvVis.Engine", shapes, StringComparison.Ordinal);
    }

    [Fact]
    public void UnsupportedAttributeOfASupportedOperatorIsNamedWithNodeAndOpset()
    {
        // Resize's opset-18 antialias: the model loads, `info` lists the node, running it names op, node, opset and why.
        var model = Model.FromOnnx(OnnxReader.LoadModel(BuildModel(graph =>
        {
            var node = new NodeProto { Name = "smooth_resize", OpType = "Resize", Input = { "x", "", "scales" }, Output = { "y" } };
            node.Attribute.Add(new AttributeProto { Name = "antialias", Type = AttributeProto.Types.AttributeType.Int, I = 1 });
            graph.Node.Add(node);
            graph.Initializer.Add(new TensorProto { Name = "scales", DataType = 1, Dims = { 2 }, FloatData = { 1f, 1f } });
        }), "resize.onnx"));
        var unsupported = Assert.Single(model.UnsupportedNodes);
        Assert.Equal("Resize", unsupported.OpType);
        var e = Assert.Throws<EngineException>(() => model.Forward(Tensor.Zeros(1, 3)));
        Assert.Contains("Resize", e.Message);
        Assert.Contains("smooth_resize", e.Message);
        Assert.Contains("opset 13", e.Message);
        Assert.Contains("antialias", e.Message);
    }

    [Fact]
    public void IntegerInputToAFloatOnlyOperatorIsAClearError()
    {
        // Erf on an int64 tensor: refused with the op's name, not a crash or a wrong cast.
        var e = Assert.Throws<UnsupportedFeatureException>(() => new Ops.Erf().Forward([Tensor.FromLongs(1, 2)], out _));
        Assert.Contains("Erf", e.Message);
        Assert.Contains("integer", e.Message);
    }

    [Fact]
    public void WrongInputShapeRankAndNonFiniteValuesAreRejected()
    {
        var model = Model.Load(TestPaths.SharedModel("fmnist-cnn-paper.onnx"));
        Assert.Contains("rank", Assert.Throws<EngineException>(() => model.Forward(Tensor.Zeros(1, 28, 28))).Message);
        Assert.Contains("dimension 1", Assert.Throws<EngineException>(() => model.Forward(Tensor.Zeros(1, 3, 28, 28))).Message);
        var x = Tensor.Zeros(1, 1, 28, 28);
        x.Data[17] = float.NaN;
        Assert.Contains("NaN", Assert.Throws<EngineException>(() => model.Forward(x)).Message);
        x.Data[17] = float.PositiveInfinity;
        Assert.Contains("index 17", Assert.Throws<EngineException>(() => model.Forward(x)).Message);
        Assert.Contains("input", Assert.Throws<EngineException>(() => model.Forward(new Dictionary<string, Tensor>())).Message);
        // The model object is unharmed: a good input still runs.
        Assert.Equal([1, 10], model.Forward(Tensor.Zeros(1, 1, 28, 28)).Output.Shape);
    }

    [Fact]
    public void ExternalDataMustStayInsideTheModelFolder()
    {
        var root = Directory.CreateTempSubdirectory("advvis-ext-");
        try
        {
            var inside = Path.Combine(root.FullName, "model");
            Directory.CreateDirectory(inside);
            var weights = new float[] { 1f, 2f, 3f };
            File.WriteAllBytes(Path.Combine(inside, "weights.bin"), System.Runtime.InteropServices.MemoryMarshal.AsBytes(weights.AsSpan()).ToArray());
            File.WriteAllBytes(Path.Combine(root.FullName, "secret.bin"), new byte[12]);

            byte[] WithLocation(string location) => BuildModel(graph =>
            {
                var w = new TensorProto { Name = "w", DataType = 1, Dims = { 1, 3 }, DataLocation = TensorProto.Types.DataLocation.External };
                w.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = location });
                graph.Initializer.Add(w);
                graph.Node.Add(new NodeProto { OpType = "Add", Input = { "x", "w" }, Output = { "y" } });
            });

            var good = Path.Combine(inside, "good.onnx");
            File.WriteAllBytes(good, WithLocation("weights.bin"));
            var y = Model.Load(good).Forward(Tensor.Zeros(1, 3)).Output;
            Assert.Equal(weights, y.Data);

            foreach (var evil in new[] { "../secret.bin", Path.Combine(root.FullName, "secret.bin"), "sub/../../secret.bin" })
            {
                var path = Path.Combine(inside, "evil.onnx");
                File.WriteAllBytes(path, WithLocation(evil));
                var e = Assert.Throws<OnnxFormatException>(() => Model.Load(path));
                Assert.Contains("model's folder", e.Message);
            }
        }
        finally { root.Delete(recursive: true); }
    }

    [Fact]
    public void ExternalDataIsConfinedByItsResolvedTargetAndSizedByIt()
    {
        if (OperatingSystem.IsWindows()) return; // symbolic links need privileges there
        var root = Directory.CreateTempSubdirectory("advvis-ext-link-");
        try
        {
            var inside = Path.Combine(root.FullName, "model");
            var etc = Path.Combine(root.FullName, "etc");
            Directory.CreateDirectory(inside);
            Directory.CreateDirectory(etc);
            var secret = new float[] { 7f, 8f, 9f };
            File.WriteAllBytes(Path.Combine(etc, "passwd"), System.Runtime.InteropServices.MemoryMarshal.AsBytes(secret.AsSpan()).ToArray());
            File.CreateSymbolicLink(Path.Combine(inside, "etc_link"), etc);                           // a folder link out
            File.CreateSymbolicLink(Path.Combine(inside, "passwd_link"), Path.Combine(etc, "passwd")); // a file link out
            byte[] WithLocation(string location, long? length = null) => BuildModel(graph =>
            {
                var w = new TensorProto { Name = "w", DataType = 1, Dims = { 1, 3 }, DataLocation = TensorProto.Types.DataLocation.External };
                w.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = location });
                if (length is { } l) w.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = l.ToString(System.Globalization.CultureInfo.InvariantCulture) });
                graph.Initializer.Add(w);
                graph.Node.Add(new NodeProto { OpType = "Add", Input = { "x", "w" }, Output = { "y" } });
            });

            var path = Path.Combine(inside, "evil.onnx");
            foreach (var (evil, length) in new (string, long?)[] { ("etc_link/passwd", null), ("passwd_link", 12), ("passwd_link", null) })
            {
                File.WriteAllBytes(path, WithLocation(evil, length));
                var e = Assert.Throws<OnnxFormatException>(() => Model.Load(path));
                Assert.Contains("outside the model's folder", e.Message);
                Assert.DoesNotContain("12 bytes", e.Message); // nothing about the file behind the link
            }

            // A link inside the folder to a file inside it: allowed, and sized by its target (a 1-character link target
            // is 1 byte long as a link, the weights are 12).
            var weights = new float[] { 1f, 2f, 3f };
            File.WriteAllBytes(Path.Combine(inside, "w"), System.Runtime.InteropServices.MemoryMarshal.AsBytes(weights.AsSpan()).ToArray());
            File.CreateSymbolicLink(Path.Combine(inside, "weights_link"), "w");
            var good = Path.Combine(inside, "good.onnx");
            File.WriteAllBytes(good, WithLocation("weights_link"));
            Assert.Equal(weights, Model.Load(good).Forward(Tensor.Zeros(1, 3)).Output.Data);
        }
        finally { AdvVis.Safety.SafeFiles.DeleteWithoutFollowingLinks(root.FullName); }
    }

    [Fact]
    public void Float16InitializersAreWidenedExactly()
    {
        var halfs = new[] { (Half)0.5f, (Half)(-2.25f), (Half)65504f };
        var bytes = BuildModel(graph =>
        {
            var raw = halfs.SelectMany(h => BitConverter.GetBytes(BitConverter.HalfToUInt16Bits(h))).ToArray();
            graph.Initializer.Add(new TensorProto { Name = "w", DataType = 10, Dims = { 1, 3 }, RawData = ByteString.CopyFrom(raw) });
            graph.Node.Add(new NodeProto { OpType = "Add", Input = { "x", "w" }, Output = { "y" } });
        });
        var y = Model.FromOnnx(OnnxReader.LoadModel(bytes, null)).Forward(Tensor.Zeros(2, 3)).Output;
        Assert.Equal(new[] { 0.5f, -2.25f, 65504f, 0.5f, -2.25f, 65504f }, y.Data);
    }

    [Theory]
    [InlineData("mnist-zoo-opset7.onnx")]
    [InlineData("fmnist-cnn-paper.onnx")]
    [InlineData("cifar10-tutorialnet-opset9.onnx")]
    public void FuzzedModelsNeverCrashHangOrOverAllocate(string file)
    {
        var original = File.ReadAllBytes(TestPaths.SharedModel(file));
        var rng = new Random(file.Length);
        var watch = System.Diagnostics.Stopwatch.StartNew();
        int loaded = 0, rejected = 0;
        for (int trial = 0; trial < 150; trial++)
        {
            var bytes = (byte[])original.Clone();
            if (trial % 3 == 0) bytes = bytes[..rng.Next(bytes.Length)];
            else for (int k = 0; k < 1 + trial % 8; k++) bytes[rng.Next(bytes.Length)] = (byte)rng.Next(256);
            try
            {
                var model = Model.FromOnnx(OnnxReader.LoadModel(bytes, file));
                loaded++;
                // A model that loads must also run or fail cleanly.
                var shape = model.Inputs.Count == 1 && model.Inputs[0].DeclaredShape is { } s ? s.Select(d => (int)Math.Clamp(d.Value ?? 1, 1, 64)).ToArray() : null;
                if (shape is not null && shape.Aggregate(1L, (a, d) => a * d) < 1 << 20)
                    try { model.Forward(Tensor.Zeros(shape)); } catch (EngineException) { }
            }
            catch (OnnxFormatException) { rejected++; }
            catch (EngineException) { rejected++; }
        }
        Assert.Equal(150, loaded + rejected);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(60), $"fuzzing took {watch.Elapsed}");
    }

    /// <summary>A one-node-at-a-time model with input x [N,3] and output y, for constructing edge cases.</summary>
    internal static byte[] BuildModel(Action<GraphProto> addNodes)
    {
        var graph = new GraphProto { Name = "test" };
        graph.Input.Add(ValueInfo("x", new TensorShapeProto.Types.Dimension { DimParam = "N" }, new TensorShapeProto.Types.Dimension { DimValue = 3 }));
        graph.Output.Add(new ValueInfoProto { Name = "y" });
        addNodes(graph);
        var model = new ModelProto { IrVersion = 8, Graph = graph, ProducerName = "advvis-tests" };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 13 });
        return model.ToByteArray();
    }

    private static ValueInfoProto ValueInfo(string name, params TensorShapeProto.Types.Dimension[] dims)
    {
        var shape = new TensorShapeProto();
        shape.Dim.AddRange(dims);
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = 1, Shape = shape } } };
    }
}

public class ConstantFoldingTests
{
    [Fact]
    public void ShapeArithmeticFeedingReshapeFoldsAtLoad()
    {
        // Constant → Unsqueeze → Concat(with a constant) → Reshape: the shape chain folds away, only Reshape runs.
        var bytes = BadInputTests.BuildModel(graph =>
        {
            graph.Node.Add(new AdvVis.Onnx.Proto.NodeProto { OpType = "Constant", Output = { "three" },
                Attribute = { new AdvVis.Onnx.Proto.AttributeProto { Name = "value_int", I = 3, Type = AdvVis.Onnx.Proto.AttributeProto.Types.AttributeType.Int } } });
            graph.Node.Add(new AdvVis.Onnx.Proto.NodeProto { OpType = "Constant", Output = { "axes" },
                Attribute = { new AdvVis.Onnx.Proto.AttributeProto { Name = "value_ints", Ints = { 0 }, Type = AdvVis.Onnx.Proto.AttributeProto.Types.AttributeType.Ints } } });
            graph.Node.Add(new AdvVis.Onnx.Proto.NodeProto { OpType = "Unsqueeze", Input = { "three", "axes" }, Output = { "three1" } });
            graph.Node.Add(new AdvVis.Onnx.Proto.NodeProto { OpType = "Constant", Output = { "minus1" },
                Attribute = { new AdvVis.Onnx.Proto.AttributeProto { Name = "value_ints", Ints = { -1 }, Type = AdvVis.Onnx.Proto.AttributeProto.Types.AttributeType.Ints } } });
            graph.Node.Add(new AdvVis.Onnx.Proto.NodeProto { OpType = "Concat", Input = { "minus1", "three1" }, Output = { "shape" },
                Attribute = { new AdvVis.Onnx.Proto.AttributeProto { Name = "axis", I = 0, Type = AdvVis.Onnx.Proto.AttributeProto.Types.AttributeType.Int } } });
            graph.Node.Add(new AdvVis.Onnx.Proto.NodeProto { OpType = "Reshape", Input = { "x", "shape" }, Output = { "y" } });
        });
        var model = Model.FromOnnx(AdvVis.Onnx.OnnxReader.LoadModel(bytes, null));
        Assert.Equal(["Reshape"], model.Nodes.Select(n => n.OpType));
        Assert.Equal([-1L, 3L], model.ConstantValue("shape")!.Longs);
        var y = model.Forward(new Tensor([4, 3], Enumerable.Range(0, 12).Select(i => (float)i).ToArray())).Output;
        Assert.Equal([4, 3], y.Shape);
    }
}
