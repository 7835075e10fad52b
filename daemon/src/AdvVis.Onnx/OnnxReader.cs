// Reads .onnx model files and .pb tensor files (the ONNX test-case format) into AdvVis.Onnx types.
// Parsing is Google.Protobuf's; this file converts, validates sizes before allocating, and confines external data.
using AdvVis.Onnx.Proto;
using AdvVis.Safety;
using Google.Protobuf;

namespace AdvVis.Onnx;

public static class OnnxReader
{
    /// <summary>Largest tensor we agree to materialise (2^31 elements would not fit a .NET array anyway).</summary>
    public const long MaxTensorElements = 1L << 30;

    public static OnnxModel LoadModel(string path)
    {
        var fullPath = Path.GetFullPath(path);
        if (!SafeFiles.Exists(fullPath))
            throw new OnnxFormatException($"Model file '{path}' does not exist. Check the path.");
        byte[] bytes;
        try { bytes = SafeFiles.ReadAllBytes(fullPath, "Model file"); }
        catch (UnsafeFileException e) { throw new OnnxFormatException(e.Message, e); } // already names the file and the fix
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new OnnxFormatException($"Model file '{path}' cannot be read: {e.Message}", e);
        }
        return LoadModel(bytes, fullPath);
    }

    /// <summary>Parses model bytes; <paramref name="sourcePath"/> names the file in errors and anchors external data.</summary>
    public static OnnxModel LoadModel(byte[] bytes, string? sourcePath)
    {
        var label = sourcePath ?? "<memory>";
        ModelProto proto;
        try
        {
            proto = ModelProto.Parser.ParseFrom(bytes);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new OnnxFormatException(
                $"'{label}' is not a valid ONNX model (protobuf parse failed: {e.Message}). The file may be truncated or not an ONNX file; re-export it.", e);
        }
        if (proto.Graph is null || (proto.Graph.Node.Count == 0 && proto.Graph.Output.Count == 0))
            throw new OnnxFormatException($"'{label}' holds no ONNX graph. Is it really an .onnx model file?");
        if (proto.IrVersion < 3)
            throw new OnnxFormatException($"'{label}' has IR version {proto.IrVersion}; AdvVis reads IR version 3 and later. Re-export with a newer exporter.");

        var opsets = new Dictionary<string, long>();
        foreach (var o in proto.OpsetImport) opsets[o.Domain] = o.Version;
        if (opsets.Count == 0) opsets[""] = 1;

        var baseDir = sourcePath is null ? null : Path.GetDirectoryName(Path.GetFullPath(sourcePath));
        var graph = ConvertGraph(proto.Graph, baseDir, label);
        return new OnnxModel(proto.IrVersion, (proto.ProducerName + " " + proto.ProducerVersion).Trim(), opsets, graph, sourcePath);
    }

    /// <summary>Reads a serialized TensorProto (.pb) as written by the ONNX backend test suite.</summary>
    public static OnnxTensor LoadTensor(string path)
    {
        byte[] bytes;
        try { bytes = SafeFiles.ReadAllBytes(path, "Tensor file"); }
        catch (UnsafeFileException e) { throw new OnnxFormatException(e.Message, e); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new OnnxFormatException($"Tensor file '{path}' cannot be read: {e.Message}", e);
        }
        TensorProto proto;
        try { proto = TensorProto.Parser.ParseFrom(bytes); }
        catch (InvalidProtocolBufferException e)
        {
            throw new OnnxFormatException($"'{path}' is not a serialized ONNX TensorProto: {e.Message}", e);
        }
        return ConvertTensor(proto, Path.GetDirectoryName(Path.GetFullPath(path)), path);
    }

    private static OnnxGraph ConvertGraph(GraphProto g, string? baseDir, string label)
    {
        var initializers = new Dictionary<string, OnnxTensor>();
        foreach (var t in g.Initializer)
            initializers[t.Name] = ConvertTensor(t, baseDir, label);
        var nodes = g.Node.Select(n => ConvertNode(n, baseDir, label)).ToList();
        return new OnnxGraph(
            g.Name,
            nodes,
            initializers,
            g.Input.Select(ConvertValueInfo).ToList(),
            g.Output.Select(ConvertValueInfo).ToList(),
            g.ValueInfo.Select(ConvertValueInfo).ToList());
    }

    private static OnnxNode ConvertNode(NodeProto n, string? baseDir, string label)
    {
        var attributes = new Dictionary<string, OnnxAttribute>();
        foreach (var a in n.Attribute)
            attributes[a.Name] = ConvertAttribute(a, baseDir, label);
        return new OnnxNode(n.Name, n.OpType, n.Domain, n.Input.ToList(), n.Output.ToList(), attributes);
    }

    private static OnnxAttribute ConvertAttribute(AttributeProto a, string? baseDir, string label)
    {
        // Old exporters leave `type` unset; infer it from whichever field is populated.
        var kind = a.Type switch
        {
            AttributeProto.Types.AttributeType.Float => OnnxAttributeKind.Float,
            AttributeProto.Types.AttributeType.Int => OnnxAttributeKind.Int,
            AttributeProto.Types.AttributeType.String => OnnxAttributeKind.String,
            AttributeProto.Types.AttributeType.Tensor => OnnxAttributeKind.Tensor,
            AttributeProto.Types.AttributeType.Graph => OnnxAttributeKind.Graph,
            AttributeProto.Types.AttributeType.Floats => OnnxAttributeKind.Floats,
            AttributeProto.Types.AttributeType.Ints => OnnxAttributeKind.Ints,
            AttributeProto.Types.AttributeType.Strings => OnnxAttributeKind.Strings,
            AttributeProto.Types.AttributeType.Tensors => OnnxAttributeKind.Tensors,
            AttributeProto.Types.AttributeType.Undefined => InferKind(a),
            _ => OnnxAttributeKind.Other,
        };
        return new OnnxAttribute(
            a.Name, kind, a.F, a.I,
            a.S.Length > 0 || kind == OnnxAttributeKind.String ? a.S.ToStringUtf8() : null,
            a.T is null ? null : ConvertTensor(a.T, baseDir, label),
            a.Floats.Count > 0 || kind == OnnxAttributeKind.Floats ? a.Floats.ToArray() : null,
            a.Ints.Count > 0 || kind == OnnxAttributeKind.Ints ? a.Ints.ToArray() : null,
            a.Strings.Count > 0 ? a.Strings.Select(s => s.ToStringUtf8()).ToArray() : null);
    }

    private static OnnxAttributeKind InferKind(AttributeProto a) =>
        a.Ints.Count > 0 ? OnnxAttributeKind.Ints
        : a.Floats.Count > 0 ? OnnxAttributeKind.Floats
        : a.Strings.Count > 0 ? OnnxAttributeKind.Strings
        : a.T is not null ? OnnxAttributeKind.Tensor
        : a.S.Length > 0 ? OnnxAttributeKind.String
        : a.F != 0 ? OnnxAttributeKind.Float
        : OnnxAttributeKind.Int;

    private static OnnxValueInfo ConvertValueInfo(ValueInfoProto v)
    {
        var tensorType = v.Type?.TensorType;
        if (tensorType is null) return new OnnxValueInfo(v.Name, OnnxElementType.Undefined, null);
        var shape = tensorType.Shape?.Dim.Select(d =>
            d.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue ? new OnnxDim(d.DimValue, null)
            : d.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimParam ? new OnnxDim(null, d.DimParam)
            : new OnnxDim(null, null)).ToList();
        return new OnnxValueInfo(v.Name, (OnnxElementType)tensorType.ElemType, shape);
    }

    internal static OnnxTensor ConvertTensor(TensorProto t, string? baseDir, string label)
    {
        var type = (OnnxElementType)t.DataType;
        var dims = t.Dims.ToArray();
        long count = 1;
        foreach (var d in dims)
        {
            if (d < 0) throw new OnnxFormatException($"'{label}': tensor '{t.Name}' has a negative dimension {d}.");
            count *= d;
            if (count > MaxTensorElements)
                throw new OnnxFormatException($"'{label}': tensor '{t.Name}' claims {string.Join("x", dims)} elements, more than AdvVis can hold; the file is corrupt or the model too large.");
        }

        var raw = t.RawData.Memory;
        if (t.DataLocation == TensorProto.Types.DataLocation.External)
            raw = ReadExternalData(t, baseDir, label);

        try
        {
            return type switch
            {
                OnnxElementType.Float => new OnnxTensor(t.Name, dims, type,
                    raw.Length > 0 ? FromRaw<float>(raw.Span, count, t.Name, label) : Exact(t.FloatData.ToArray(), count, t.Name, label), null),
                OnnxElementType.Double => new OnnxTensor(t.Name, dims, type,
                    (raw.Length > 0 ? FromRaw<double>(raw.Span, count, t.Name, label) : Exact(t.DoubleData.ToArray(), count, t.Name, label))
                        .Select(d => (float)d).ToArray(), null),
                OnnxElementType.Float16 => new OnnxTensor(t.Name, dims, type,
                    (raw.Length > 0 ? FromRaw<ushort>(raw.Span, count, t.Name, label) : Exact(t.Int32Data.Select(i => (ushort)i).ToArray(), count, t.Name, label))
                        .Select(h => (float)BitConverter.UInt16BitsToHalf(h)).ToArray(), null),
                OnnxElementType.BFloat16 => new OnnxTensor(t.Name, dims, type,
                    (raw.Length > 0 ? FromRaw<ushort>(raw.Span, count, t.Name, label) : Exact(t.Int32Data.Select(i => (ushort)i).ToArray(), count, t.Name, label))
                        .Select(h => BitConverter.Int32BitsToSingle(h << 16)).ToArray(), null),
                OnnxElementType.Int64 => new OnnxTensor(t.Name, dims, type, null,
                    raw.Length > 0 ? FromRaw<long>(raw.Span, count, t.Name, label) : Exact(t.Int64Data.ToArray(), count, t.Name, label)),
                OnnxElementType.Int32 => Longs(t, dims, type, raw.Length > 0 ? FromRaw<int>(raw.Span, count, t.Name, label).Select(v => (long)v) : t.Int32Data.Select(v => (long)v), count, label),
                OnnxElementType.Int16 => Longs(t, dims, type, raw.Length > 0 ? FromRaw<short>(raw.Span, count, t.Name, label).Select(v => (long)v) : t.Int32Data.Select(v => (long)v), count, label),
                OnnxElementType.UInt16 => Longs(t, dims, type, raw.Length > 0 ? FromRaw<ushort>(raw.Span, count, t.Name, label).Select(v => (long)v) : t.Int32Data.Select(v => (long)v), count, label),
                OnnxElementType.Int8 => Longs(t, dims, type, raw.Length > 0 ? FromRaw<sbyte>(raw.Span, count, t.Name, label).Select(v => (long)v) : t.Int32Data.Select(v => (long)v), count, label),
                OnnxElementType.UInt8 or OnnxElementType.Bool => Longs(t, dims, type, raw.Length > 0 ? FromRaw<byte>(raw.Span, count, t.Name, label).Select(v => (long)v) : t.Int32Data.Select(v => (long)v), count, label),
                OnnxElementType.UInt32 => Longs(t, dims, type, raw.Length > 0 ? FromRaw<uint>(raw.Span, count, t.Name, label).Select(v => (long)v) : t.Uint64Data.Select(v => (long)v), count, label),
                OnnxElementType.UInt64 => Longs(t, dims, type, raw.Length > 0 ? FromRaw<ulong>(raw.Span, count, t.Name, label).Select(v => (long)v) : t.Uint64Data.Select(v => (long)v), count, label),
                _ => throw new OnnxFormatException($"'{label}': tensor '{t.Name}' has element type {type}, which AdvVis does not support (float, fp16, bf16, double and integer types are)."),
            };
        }
        catch (ArgumentException e)
        {
            throw new OnnxFormatException($"'{label}': tensor '{t.Name}' is malformed: {e.Message}", e);
        }
    }

    private static OnnxTensor Longs(TensorProto t, long[] dims, OnnxElementType type, IEnumerable<long> values, long count, string label) =>
        new(t.Name, dims, type, null, Exact(values.ToArray(), count, t.Name, label));

    private static T[] Exact<T>(T[] values, long count, string name, string label)
    {
        if (values.Length != count)
            throw new OnnxFormatException($"'{label}': tensor '{name}' should hold {count} values but holds {values.Length}; the file is corrupt.");
        return values;
    }

    private static T[] FromRaw<T>(ReadOnlySpan<byte> raw, long count, string name, string label) where T : unmanaged
    {
        int size = System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
        if (raw.Length != count * size)
            throw new OnnxFormatException($"'{label}': tensor '{name}' should hold {count} values ({count * size} bytes) but its raw data has {raw.Length} bytes; the file is corrupt.");
        var result = new T[count];
        // ONNX raw data is little-endian; so are all platforms .NET runs AdvVis on.
        raw.CopyTo(System.Runtime.InteropServices.MemoryMarshal.AsBytes(result.AsSpan()));
        return result;
    }

    /// <summary>
    /// Loads a tensor stored beside the model. The location must stay inside the model's folder once every link is
    /// resolved (a folder link in the repository must not lead out), and name a regular file, whose own length (not a
    /// link's) bounds the read: a model file must never make AdvVis read arbitrary files on the user's machine.
    /// Refusals say nothing about the file outside (not even whether it exists).
    /// </summary>
    private static ReadOnlyMemory<byte> ReadExternalData(TensorProto t, string? baseDir, string label)
    {
        var entries = t.ExternalData.ToDictionary(e => e.Key, e => e.Value);
        if (!entries.TryGetValue("location", out var location) || string.IsNullOrWhiteSpace(location))
            throw new OnnxFormatException($"'{label}': tensor '{t.Name}' is marked external but names no location.");
        if (baseDir is null)
            throw new OnnxFormatException($"'{label}': tensor '{t.Name}' uses external data, which needs the model loaded from a file.");
        if (Path.IsPathRooted(location))
            throw new OnnxFormatException($"'{label}': tensor '{t.Name}' points to the absolute path '{location}'; external data must lie in the model's folder.");
        string outside = $"'{label}': tensor '{t.Name}' points outside the model's folder ('{location}'); AdvVis refuses to read it. Keep external data files beside the model, not behind links that lead elsewhere.";
        string root, full;
        try
        {
            root = SafeFiles.Resolve(baseDir);
            full = SafeFiles.Resolve(Path.Combine(baseDir, location));
        }
        catch (UnsafeFileException) { throw new OnnxFormatException(outside); }
        if (!SafeFiles.IsInsideResolved(root, full) || full.Equals(root, SafeFiles.PathComparison)) throw new OnnxFormatException(outside);
        if (!SafeFiles.Exists(full))
            throw new OnnxFormatException($"'{label}': external data file '{location}' of tensor '{t.Name}' is missing; copy it next to the model.");
        long offset = entries.TryGetValue("offset", out var o) && long.TryParse(o, out var ov) ? ov : 0;
        using var stream = OpenExternal(full, location, t.Name, label);
        var fileLength = stream.Length;
        long length = entries.TryGetValue("length", out var l) && long.TryParse(l, out var lv) ? lv : fileLength - offset;
        if (offset < 0 || length < 0 || offset + length > fileLength)
            throw new OnnxFormatException($"'{label}': tensor '{t.Name}' asks for bytes {offset}..{offset + length} of '{location}', which has {fileLength} bytes.");
        stream.Seek(offset, SeekOrigin.Begin);
        var buffer = new byte[length];
        stream.ReadExactly(buffer);
        return buffer;
    }

    private static FileStream OpenExternal(string resolved, string location, string tensor, string label)
    {
        try { return SafeFiles.OpenRead(resolved, $"External data file '{location}' of tensor '{tensor}'"); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new OnnxFormatException($"'{label}': {e.Message}", e);
        }
    }
}
