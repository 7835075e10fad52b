// The opset-aware table from ONNX op_type to an engine Op. This is the one place that lists what AdvVis claims
// to run; tests and `advvis info` read SupportedOperators from here.
using AdvVis.Engine.Ops;
using AdvVis.Onnx;

namespace AdvVis.Engine.Import;

public static class OperatorTable
{
    private delegate Op Factory(NodeAttributes a, OnnxNode node, long opset);

    private static readonly Dictionary<string, Factory> Factories = new()
    {
        ["Conv"] = (a, _, _) => new Conv(a.Window(), (int)a.Int("group", 1)),
        ["Gemm"] = (a, _, _) => new Gemm(a.Float("alpha", 1f), a.Float("beta", 1f), a.Int("transA", 0) != 0, a.Int("transB", 0) != 0),
        ["MatMul"] = (_, _, _) => new MatMul(),
        ["Add"] = (_, _, _) => new Binary(BinaryKind.Add),
        ["Sub"] = (_, _, _) => new Binary(BinaryKind.Sub),
        ["Mul"] = (_, _, _) => new Binary(BinaryKind.Mul),
        ["Div"] = (_, _, _) => new Binary(BinaryKind.Div),
        ["Pow"] = (_, _, _) => new Binary(BinaryKind.Pow),
        ["Max"] = (_, _, _) => new Variadic(BinaryKind.Max),
        ["Min"] = (_, _, _) => new Variadic(BinaryKind.Min),
        ["Sum"] = (_, _, _) => new Sum(),
        ["Relu"] = (_, _, _) => new Relu(),
        ["LeakyRelu"] = (a, _, _) => new LeakyRelu(a.Float("alpha", 0.01f)),
        ["Elu"] = (a, _, _) => new Elu(a.Float("alpha", 1f)),
        ["HardSigmoid"] = (a, _, _) => new HardSigmoid(a.Float("alpha", 0.2f), a.Float("beta", 0.5f)),
        ["Clip"] = (a, _, opset) => opset < 11
            ? new Clip(a.Float("min", float.MinValue), a.Float("max", float.MaxValue))
            : new Clip(float.MinValue, float.MaxValue),
        ["Sigmoid"] = (_, _, _) => new Sigmoid(),
        ["Tanh"] = (_, _, _) => new Tanh(),
        ["Exp"] = (_, _, _) => new Exp(),
        ["Log"] = (_, _, _) => new Log(),
        ["Neg"] = (_, _, _) => new Neg(),
        ["Abs"] = (_, _, _) => new Abs(),
        ["Sqrt"] = (_, _, _) => new Sqrt(),
        ["Reciprocal"] = (_, _, _) => new Reciprocal(),
        ["Softplus"] = (_, _, _) => new Softplus(),
        ["Softmax"] = (a, _, opset) => new Softmax(a.Int("axis", opset < 13 ? 1 : -1), opset < 13, logarithmic: false),
        ["LogSoftmax"] = (a, _, opset) => new Softmax(a.Int("axis", opset < 13 ? 1 : -1), opset < 13, logarithmic: true),
        ["MaxPool"] = (a, node, _) => new MaxPool(a.Window(), a.Int("storage_order", 0) != 0,
            wantsIndices: node.Outputs.Count > 1 && node.Outputs[1].Length > 0),
        ["AveragePool"] = (a, _, _) => new AveragePool(a.Window(), a.Int("count_include_pad", 0) != 0),
        ["GlobalAveragePool"] = (_, _, _) => new GlobalPool(isMax: false),
        ["GlobalMaxPool"] = (_, _, _) => new GlobalPool(isMax: true),
        ["BatchNormalization"] = (a, node, _) => a.Int("training_mode", 0) != 0 || (node.Outputs.Count > 1 && node.Outputs.Skip(1).Any(o => o.Length > 0))
            ? throw new UnsupportedFeatureException("training-mode BatchNormalization is not supported; AdvVis explains trained models in inference mode.")
            : new BatchNormalization(a.Float("epsilon", 1e-5f)),
        ["LRN"] = (a, _, _) => new Lrn((int)a.Int("size", 1), a.Float("alpha", 1e-4f), a.Float("beta", 0.75f), a.Float("bias", 1f)),
        ["Dropout"] = (_, _, _) => new Identity(isDropout: true),
        ["Identity"] = (_, _, _) => new Identity(),
        ["Flatten"] = (a, _, _) => new Flatten(a.Int("axis", 1)),
        ["Reshape"] = (a, _, opset) => new Reshape(a.Int("allowzero", 0) != 0, opset < 5 ? a.Ints("shape") : null),
        ["Transpose"] = (a, _, _) => new Transpose(a.Ints("perm")),
        ["Concat"] = (a, _, _) => new Concat(a.Int("axis", 0)),
        ["Split"] = (a, node, opset) => new Split(a.Int("axis", 0), opset < 13 ? a.Ints("split") : null, node.Outputs.Count),
        ["Squeeze"] = (a, _, opset) => new Squeeze(opset < 13 ? a.Ints("axes") : null),
        ["Unsqueeze"] = (a, _, opset) => new Unsqueeze(opset < 13 ? a.Ints("axes") ?? [] : null),
        ["Pad"] = (a, _, opset) => new Pad(a.String("mode", "constant"), opset < 11 ? a.Ints("pads") ?? a.Ints("paddings") ?? [] : null, a.Float("value", 0f)),
        ["Slice"] = (a, _, opset) => opset < 10 ? new Slice(a.Ints("starts") ?? [], a.Ints("ends") ?? [], a.Ints("axes")) : new Slice(null, null, null),
        ["Expand"] = (_, _, _) => new Expand(),
        ["Constant"] = (a, node, _) => new Constant(a.ConstantValue(node)),
        ["ConstantOfShape"] = (a, _, _) => new ConstantOfShape(a.Tensor("value")),
        ["Shape"] = (a, _, _) => new Shape(a.Int("start", 0), a.Has("end") ? a.Int("end", 0) : null),
        ["Gather"] = (a, _, _) => new Gather(a.Int("axis", 0)),
        ["Cast"] = (a, _, _) => CastTo((OnnxElementType)a.Int("to", 1)),
        ["ReduceMean"] = (a, _, opset) => Reduction(ReduceKind.Mean, a, opset, 18),
        ["ReduceSum"] = (a, _, opset) => Reduction(ReduceKind.Sum, a, opset, 13),
        ["ReduceMax"] = (a, _, opset) => Reduction(ReduceKind.Max, a, opset, 18),
        ["ReduceMin"] = (a, _, opset) => Reduction(ReduceKind.Min, a, opset, 18),
        ["ReduceSumSquare"] = (a, _, opset) => Reduction(ReduceKind.SumSquare, a, opset, 18),
        ["ReduceL2"] = (a, _, opset) => Reduction(ReduceKind.L2, a, opset, 18),
        ["ReduceL1"] = (a, _, opset) => Reduction(ReduceKind.L1, a, opset, 18),
        ["ReduceLogSum"] = (a, _, opset) => Reduction(ReduceKind.LogSum, a, opset, 18),
        ["ReduceLogSumExp"] = (a, _, opset) => Reduction(ReduceKind.LogSumExp, a, opset, 18),
        ["ReduceProd"] = (a, _, opset) => Reduction(ReduceKind.Prod, a, opset, 18),
        ["ArgMax"] = (a, _, _) => new ArgExtreme(max: true, a.Int("axis", 0), a.Int("keepdims", 1) != 0, a.Int("select_last_index", 0) != 0),
        ["ArgMin"] = (a, _, _) => new ArgExtreme(max: false, a.Int("axis", 0), a.Int("keepdims", 1) != 0, a.Int("select_last_index", 0) != 0),
        ["CumSum"] = (a, _, _) => new CumSum(a.Int("exclusive", 0) != 0, a.Int("reverse", 0) != 0),
        ["Range"] = (_, _, _) => new Ops.Range(),
        ["Size"] = (_, _, _) => new Size(),

        // Activations (Unary.cs) and their relatives.
        ["HardSwish"] = (_, _, _) => new HardSwish(),
        ["Erf"] = (_, _, _) => new Erf(),
        ["Gelu"] = (a, _, _) => new Gelu(a.String("approximate", "none") switch
        {
            "none" => false,
            "tanh" => true,
            var other => throw new EngineException($"Gelu: approximate='{other}' is not one of 'none', 'tanh'."),
        }),
        ["Mish"] = (_, _, _) => new Mish(),
        ["Selu"] = (a, _, _) => new Selu(a.Float("alpha", 1.67326319217681884765625f), a.Float("gamma", 1.05070102214813232421875f)),
        ["Celu"] = (a, _, _) => new Celu(a.Float("alpha", 1f)),
        ["ThresholdedRelu"] = (a, _, _) => new ThresholdedRelu(a.Float("alpha", 1f)),
        ["Softsign"] = (_, _, _) => new Softsign(),
        ["PRelu"] = (_, _, opset) => new PRelu(channelSlope: opset < 7),
        ["Sin"] = (_, _, _) => new Trigonometric(cosine: false),
        ["Cos"] = (_, _, _) => new Trigonometric(cosine: true),
        ["Floor"] = (_, _, _) => new Rounding(RoundingKind.Floor),
        ["Ceil"] = (_, _, _) => new Rounding(RoundingKind.Ceil),
        ["Round"] = (_, _, _) => new Rounding(RoundingKind.Round),
        ["Sign"] = (_, _, _) => new Rounding(RoundingKind.Sign),
        ["Mod"] = (a, _, _) => new Mod(a.Int("fmod", 0) != 0),
        ["Mean"] = (_, _, _) => new Mean(),

        // Comparisons, logic and selection (Logic.cs): booleans are 0/1 int64 tensors.
        ["Equal"] = (_, _, _) => new Compare(CompareKind.Equal),
        ["Less"] = (_, _, _) => new Compare(CompareKind.Less),
        ["Greater"] = (_, _, _) => new Compare(CompareKind.Greater),
        ["LessOrEqual"] = (_, _, _) => new Compare(CompareKind.LessOrEqual),
        ["GreaterOrEqual"] = (_, _, _) => new Compare(CompareKind.GreaterOrEqual),
        ["Not"] = (_, _, _) => new Not(),
        ["And"] = (_, _, _) => new Logical(LogicKind.And),
        ["Or"] = (_, _, _) => new Logical(LogicKind.Or),
        ["Xor"] = (_, _, _) => new Logical(LogicKind.Xor),
        ["Where"] = (_, _, _) => new Where(),
        ["IsNaN"] = (_, _, _) => new FloatClass(infinity: false),
        ["IsInf"] = (a, _, _) => new FloatClass(infinity: true, a.Int("detect_positive", 1) != 0, a.Int("detect_negative", 1) != 0),

        // Normalisation, products, resampling, layout.
        ["LayerNormalization"] = (a, _, _) => new LayerNormalization(a.Int("axis", -1), a.Float("epsilon", 1e-5f)),
        ["InstanceNormalization"] = (a, _, _) => new InstanceNormalization(a.Float("epsilon", 1e-5f)),
        ["Einsum"] = (a, _, _) => new Einsum(a.String("equation", "")),
        ["ConvTranspose"] = (a, _, _) => new ConvTranspose(a.Window(), (int)a.Int("group", 1),
            a.Ints("output_padding")?.Select(v => (int)v).ToArray() ?? [], a.Ints("output_shape") is { Length: > 0 } s ? s.Select(v => (int)v).ToArray() : null),
        ["Resize"] = (a, _, opset) => ResizeFor(a, opset),
        ["Upsample"] = (a, _, opset) => new Resize(new ResizeAttributes(a.String("mode", "nearest") is "bilinear" ? "linear" : a.String("mode", "nearest"),
            "asymmetric", "floor", -0.75f, false, 0f), scalesInput: opset < 9 ? -1 : 1, sizesInput: -1, roiInput: -1,
            opset < 9 ? a.Floats("scales") ?? throw new EngineException("Upsample needs the scales attribute.") : null),
        ["Tile"] = (_, _, _) => new Tile(),
        ["Trilu"] = (a, _, _) => new Trilu(a.Int("upper", 1) != 0),
        ["ScatterND"] = (a, _, _) => new ScatterND(a.String("reduction", "none")),
        ["GatherElements"] = (a, _, _) => new GatherElements(a.Int("axis", 0)),
        ["DepthToSpace"] = (a, _, _) => new DepthSpace(toSpace: true, (int)a.Int("blocksize", 1), a.String("mode", "DCR") == "CRD"),
        ["SpaceToDepth"] = (a, _, _) => new DepthSpace(toSpace: false, (int)a.Int("blocksize", 1), false),
    };

    /// <summary>
    /// Resize 10 takes (X, scales) with asymmetric coordinates and floor rounding (PyTorch's nearest); from 11 it takes
    /// (X, roi, scales, sizes) and the coordinate/rounding attributes. Opset 18's antialias, axes and aspect-ratio policy
    /// are refused when set.
    /// </summary>
    private static Op ResizeFor(NodeAttributes a, long opset)
    {
        string mode = a.String("mode", "nearest");
        if (opset < 11) return new Resize(new ResizeAttributes(mode, "asymmetric", "floor", -0.75f, false, 0f), 1, -1, -1, null);
        if (a.Int("antialias", 0) != 0 || a.Has("axes") || a.String("keep_aspect_ratio_policy", "stretch") != "stretch")
            throw new UnsupportedFeatureException("Resize: antialias, axes and keep_aspect_ratio_policy (opset 18) are not supported.");
        return new Resize(new ResizeAttributes(mode, a.String("coordinate_transformation_mode", "half_pixel"),
            a.String("nearest_mode", "round_prefer_floor"), a.Float("cubic_coeff_a", -0.75f), a.Int("exclude_outside", 0) != 0,
            a.Float("extrapolation_value", 0f)), scalesInput: 2, sizesInput: 3, roiInput: 1, null);
    }

    /// <summary>Every ONNX operator (default domain) AdvVis runs forward and backward.</summary>
    public static IReadOnlyCollection<string> SupportedOperators => Factories.Keys;

    public static bool IsSupported(string opType, string domain) =>
        (domain is "" or "ai.onnx") && Factories.ContainsKey(opType);

    public static Op Create(OnnxNode node, long opset)
    {
        if (node.Domain is not ("" or "ai.onnx"))
            return new Unsupported(node.OpType, node.DisplayName, opset, $"custom domain '{node.Domain}' operators are not supported; re-export with standard ONNX ops.");
        if (!Factories.TryGetValue(node.OpType, out var factory))
            return new Unsupported(node.OpType, node.DisplayName, opset, "AdvVis has no implementation of it yet; export the model without it (another opset or an equivalent of the layer).");
        try
        {
            return factory(new NodeAttributes(node), node, opset);
        }
        catch (EngineException e)
        {
            return new Unsupported(node.OpType, node.DisplayName, opset, e.Message);
        }
    }

    private static Op Reduction(ReduceKind kind, NodeAttributes a, long opset, long axesBecameInputAt) =>
        new Reduce(kind, opset < axesBecameInputAt ? a.Ints("axes") : null, a.Int("keepdims", 1) != 0, a.Int("noop_with_empty_axes", 0) != 0);

    private static Op CastTo(OnnxElementType to) => to switch
    {
        OnnxElementType.Float or OnnxElementType.Double or OnnxElementType.Float16 or OnnxElementType.BFloat16 => new Cast(toFloat: true, toBool: false),
        OnnxElementType.Bool => new Cast(toFloat: false, toBool: true),
        OnnxElementType.Int8 or OnnxElementType.Int16 or OnnxElementType.Int32 or OnnxElementType.Int64 or OnnxElementType.UInt8
            or OnnxElementType.UInt16 or OnnxElementType.UInt32 or OnnxElementType.UInt64 => new Cast(toFloat: false, toBool: false),
        _ => throw new EngineException($"Cast to {to} is not supported."),
    };
}

/// <summary>Typed access to a node's attributes with the spec's defaults.</summary>
internal sealed class NodeAttributes(OnnxNode node)
{
    public bool Has(string name) => node.Attributes.ContainsKey(name);
    public long Int(string name, long fallback) => node.Attributes.TryGetValue(name, out var a) ? a.Int : fallback;
    public float Float(string name, float fallback) => node.Attributes.TryGetValue(name, out var a) ? a.Float : fallback;
    public string String(string name, string fallback) => node.Attributes.TryGetValue(name, out var a) && a.String is not null ? a.String : fallback;
    public float[]? Floats(string name) => node.Attributes.TryGetValue(name, out var a) ? a.Floats?.ToArray() ?? [] : null;
    public long[]? Ints(string name) => node.Attributes.TryGetValue(name, out var a) ? a.Ints?.ToArray() ?? [] : null;
    public Tensor? Tensor(string name) => node.Attributes.TryGetValue(name, out var a) && a.Tensor is not null ? TensorConversion.FromOnnx(a.Tensor) : null;

    public WindowAttributes Window()
    {
        int[] ToInts(long[]? v) => v?.Select(x => (int)x).ToArray() ?? [];
        return new WindowAttributes(
            Ints("kernel_shape") is { Length: > 0 } k ? ToInts(k) : null,
            ToInts(Ints("strides")), ToInts(Ints("dilations")), ToInts(Ints("pads")),
            String("auto_pad", "NOTSET") is var p && p.Length == 0 ? "NOTSET" : String("auto_pad", "NOTSET"),
            Int("ceil_mode", 0) != 0);
    }

    public Tensor ConstantValue(OnnxNode n)
    {
        if (Tensor("value") is { } t) return t;
        if (Has("value_float")) return Engine.Tensor.Scalar(Float("value_float", 0));
        if (Has("value_floats")) return new Tensor([node.Attributes["value_floats"].Floats!.Count], node.Attributes["value_floats"].Floats!.ToArray());
        if (Has("value_int")) return new Tensor([], [Int("value_int", 0)]);
        if (Has("value_ints")) return Engine.Tensor.FromLongs(Ints("value_ints")!);
        throw new EngineException($"Constant node '{n.DisplayName}' has no supported value attribute (sparse and string constants are not supported).");
    }
}

public static class TensorConversion
{
    public static Tensor FromOnnx(OnnxTensor t)
    {
        var shape = t.Dims.Select(d => (int)d).ToArray();
        return t.Floats is not null ? new Tensor(shape, t.Floats) : new Tensor(shape, t.Longs!);
    }
}
