// AdvVis.Onnx: the ONNX file as plain C# data (graph, nodes, attributes, initializers).
// It reads only and never executes; the engine lowers this into runnable ops.
// Protobuf types stay internal to this project so no other layer depends on the wire schema.
namespace AdvVis.Onnx;

/// <summary>ONNX tensor element types (the TensorProto.DataType numbers).</summary>
public enum OnnxElementType
{
    Undefined = 0, Float = 1, UInt8 = 2, Int8 = 3, UInt16 = 4, Int16 = 5, Int32 = 6, Int64 = 7, String = 8,
    Bool = 9, Float16 = 10, Double = 11, UInt32 = 12, UInt64 = 13, Complex64 = 14, Complex128 = 15, BFloat16 = 16,
}

/// <summary>A whole model file: metadata, operator-set versions and the main graph.</summary>
public sealed record OnnxModel(
    long IrVersion,
    string Producer,
    IReadOnlyDictionary<string, long> Opsets,
    OnnxGraph Graph,
    string? SourcePath)
{
    /// <summary>The default-domain ("ai.onnx") opset; ops are interpreted with this version's semantics.</summary>
    public long DefaultOpset => Opsets.TryGetValue("", out var v) ? v : Opsets.TryGetValue("ai.onnx", out v) ? v : 1;
}

public sealed record OnnxGraph(
    string Name,
    IReadOnlyList<OnnxNode> Nodes,
    IReadOnlyDictionary<string, OnnxTensor> Initializers,
    IReadOnlyList<OnnxValueInfo> Inputs,
    IReadOnlyList<OnnxValueInfo> Outputs,
    IReadOnlyList<OnnxValueInfo> ValueInfos);

public sealed record OnnxNode(
    string Name,
    string OpType,
    string Domain,
    IReadOnlyList<string> Inputs,
    IReadOnlyList<string> Outputs,
    IReadOnlyDictionary<string, OnnxAttribute> Attributes)
{
    /// <summary>A name to show users: the node's own name, or its first output when the exporter left it empty.</summary>
    public string DisplayName => Name.Length > 0 ? Name : Outputs.Count > 0 ? Outputs[0] : OpType;
}

public enum OnnxAttributeKind { Undefined, Float, Int, String, Tensor, Graph, Floats, Ints, Strings, Tensors, Other }

public sealed record OnnxAttribute(
    string Name,
    OnnxAttributeKind Kind,
    float Float = 0,
    long Int = 0,
    string? String = null,
    OnnxTensor? Tensor = null,
    IReadOnlyList<float>? Floats = null,
    IReadOnlyList<long>? Ints = null,
    IReadOnlyList<string>? Strings = null);

/// <summary>One dimension of a declared shape: a fixed size, a symbolic name (e.g. "batch"), or unknown.</summary>
public readonly record struct OnnxDim(long? Value, string? Symbol)
{
    public override string ToString() => Value?.ToString() ?? Symbol ?? "?";
}

public sealed record OnnxValueInfo(string Name, OnnxElementType ElementType, IReadOnlyList<OnnxDim>? Shape)
{
    public string ShapeText => Shape is null ? "?" : "[" + string.Join(",", Shape) + "]";
}

/// <summary>
/// A constant tensor from the file. Floating types (float, double, fp16, bf16) are widened or narrowed to float32;
/// integer and bool types are widened to int64, which is all a CNN's shape arithmetic needs.
/// </summary>
public sealed class OnnxTensor
{
    public string Name { get; }
    public long[] Dims { get; }
    public OnnxElementType ElementType { get; }
    public float[]? Floats { get; }
    public long[]? Longs { get; }

    public OnnxTensor(string name, long[] dims, OnnxElementType elementType, float[]? floats, long[]? longs)
    {
        Name = name; Dims = dims; ElementType = elementType; Floats = floats; Longs = longs;
    }

    public bool IsFloating => Floats is not null;
    public long ElementCount => Dims.Aggregate(1L, (a, d) => a * d);
}

/// <summary>A model or tensor file that cannot be read; the message names the file and what to do.</summary>
public sealed class OnnxFormatException(string message, Exception? inner = null) : Exception(message, inner);
