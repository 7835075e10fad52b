// AdvVis.Engine: tensors, operators with forward and backward rules, ONNX lowering and the graph executor.
// It knows nothing about attacks, analyses, JSON or the editor.
using AdvVis.Safety;

namespace AdvVis.Engine;

/// <summary>
/// A dense, row-major tensor. Activations and weights are float32 (<see cref="Data"/>); shape arithmetic
/// (Shape, Gather on indices, Concat of sizes) runs on int64 (<see cref="Longs"/>). Exactly one of the two is set.
/// </summary>
public sealed class Tensor
{
    public int[] Shape { get; }
    public float[] Data { get; }
    public long[]? Longs { get; }
    public int Length { get; }

    public bool IsInteger => Longs is not null;

    /// <summary>
    /// A model constant (initializer or folded value): never written after load, so what is derived from its values
    /// (packed convolution filters) may be kept with it.
    /// </summary>
    internal bool IsConstant { get; set; }
    public int Rank => Shape.Length;
    public Span<float> Span => Data.AsSpan(0, Length);

    public Tensor(int[] shape, float[] data)
    {
        Shape = shape;
        Length = ShapeMath.Count(shape);
        if (data.Length < Length) throw new ArgumentException($"Tensor of shape {ShapeMath.Text(shape)} needs {Length} values, got {data.Length}.");
        Data = data;
    }

    public Tensor(int[] shape, long[] longs)
    {
        Shape = shape;
        Length = ShapeMath.Count(shape);
        if (longs.Length < Length) throw new ArgumentException($"Tensor of shape {ShapeMath.Text(shape)} needs {Length} values, got {longs.Length}.");
        Data = [];
        Longs = longs;
    }

    /// <summary>A zero-filled float tensor (inside a forward pass, possibly a recycled array, cleared).</summary>
    public static Tensor Zeros(params int[] shape)
    {
        int count = ShapeMath.Count(shape);
        return new(shape, BufferScope.Current is { } scope ? scope.Rent(count, clear: true) : new float[count]);
    }

    /// <summary>
    /// An uninitialised float tensor: callers must write every element. Inside a forward pass the array may be a
    /// recycled one holding another tensor's old values, so an element left unwritten is a wrong result, not a zero.
    /// </summary>
    public static Tensor Uninitialized(int[] shape)
    {
        int count = ShapeMath.Count(shape);
        return new(shape, BufferScope.Current is { } scope ? scope.Rent(count, clear: false) : GC.AllocateUninitializedArray<float>(count));
    }

    public static Tensor Scalar(float value) => new([], [value]);
    public static Tensor FromLongs(params long[] values) => new([values.Length], values);

    public Tensor Reshape(int[] shape)
    {
        if (ShapeMath.Count(shape) != Length)
            throw new EngineException($"Cannot reshape {ShapeMath.Text(Shape)} ({Length} values) to {ShapeMath.Text(shape)}.");
        return Longs is null ? new Tensor(shape, Data) : new Tensor(shape, Longs);
    }

    public Tensor Clone() => Longs is null
        ? new Tensor((int[])Shape.Clone(), Data.AsSpan(0, Length).ToArray())
        : new Tensor((int[])Shape.Clone(), Longs.AsSpan(0, Length).ToArray());

    /// <summary>Values as int64 whatever the storage (float values are truncated, as Cast does).</summary>
    public long[] AsLongs() => Longs ?? Data.AsSpan(0, Length).ToArray().Select(v => (long)v).ToArray();

    public float[] AsFloats() => Longs is null ? Data.AsSpan(0, Length).ToArray() : Longs.AsSpan(0, Length).ToArray().Select(v => (float)v).ToArray();

    public override string ToString() => $"Tensor{(IsInteger ? "<int64>" : "")}{ShapeMath.Text(Shape)}";
}

/// <summary>A problem running a model: bad input, an unsupported operator, or an inconsistent graph.</summary>
public class EngineException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// A valid model uses a feature outside the engine's scope (3-D convolution, training-mode normalisation,
/// integer arithmetic in a float op). Distinct from a bug or bad input, so conformance runs can report it as unsupported.
/// </summary>
public sealed class UnsupportedFeatureException(string message) : EngineException(message);

/// <summary>Shape arithmetic shared by every operator.</summary>
public static class ShapeMath
{
    /// <summary>
    /// The element count of a shape. Every tensor's storage is sized by this before it is allocated, so it is the one
    /// place the request's memory budget (AdvVis.Safety.MemoryBudget) is checked: a size that comes from data (a
    /// ConstantOfShape or Expand shape, a declared input) is refused here, never allocated. Counted at 4 bytes per
    /// element (float32; int64 tensors are shape arithmetic).
    /// </summary>
    public static int Count(ReadOnlySpan<int> shape)
    {
        long n = 1;
        foreach (var d in shape)
        {
            if (d < 0) throw new EngineException($"Negative dimension {d} in shape.");
            n = n > long.MaxValue / Math.Max(d, 1) ? long.MaxValue : n * d;
        }
        var budget = MemoryBudget.Current;
        if (n > budget.Bytes / sizeof(float))
            throw new MemoryBudgetExceededException($"a float32 tensor of shape {Text(shape)}", MemoryBudget.SaturatingBytes(sizeof(float), n), budget.Bytes);
        if (n > int.MaxValue) throw new EngineException($"Tensor of shape {Text(shape)} too large: more than 2^31 elements.");
        return (int)n;
    }

    public static string Text(ReadOnlySpan<int> shape) => "[" + string.Join(",", shape.ToArray()) + "]";

    public static int[] Strides(ReadOnlySpan<int> shape)
    {
        var s = new int[shape.Length];
        int acc = 1;
        for (int i = shape.Length - 1; i >= 0; i--) { s[i] = acc; acc *= shape[i]; }
        return s;
    }

    /// <summary>Normalises a possibly negative axis against a rank, with a clear error when it is out of range.</summary>
    public static int Axis(long axis, int rank, string op)
    {
        long a = axis < 0 ? axis + rank : axis;
        if (a < 0 || a >= Math.Max(rank, 1))
            throw new EngineException($"{op}: axis {axis} is out of range for rank {rank}.");
        return (int)a;
    }

    /// <summary>Numpy-style broadcast of two shapes.</summary>
    public static int[] Broadcast(int[] a, int[] b, string op)
    {
        int rank = Math.Max(a.Length, b.Length);
        var result = new int[rank];
        for (int i = 0; i < rank; i++)
        {
            int da = i - (rank - a.Length) >= 0 ? a[i - (rank - a.Length)] : 1;
            int db = i - (rank - b.Length) >= 0 ? b[i - (rank - b.Length)] : 1;
            if (da != db && da != 1 && db != 1)
                throw new EngineException($"{op}: shapes {Text(a)} and {Text(b)} cannot be broadcast together.");
            result[i] = da == 1 ? db : da;
        }
        return result;
    }

    public static bool SameShape(ReadOnlySpan<int> a, ReadOnlySpan<int> b) => a.SequenceEqual(b);
}
