// NpyArray: an n-dimensional array as stored in NumPy files (and IDX files): a shape, an element type and
// a typed .NET array in C (row-major) order, with accessors that convert to float/double/long/int/byte
// so model code doesn't care how the file stored the numbers.

namespace AdvVis.Data;

/// <summary>Element types AdvVis reads and writes (NumPy descr in brackets).</summary>
public enum NpyDType
{
    Bool,     // |b1
    Int8,     // |i1
    UInt8,    // |u1
    Int16,    // <i2
    UInt16,   // <u2
    Int32,    // <i4
    Int64,    // <i8
    Float32,  // <f4
    Float64,  // <f8
}

/// <summary>A dense C-order array: <see cref="Shape"/>, <see cref="DType"/> and the typed <see cref="Data"/>.</summary>
public sealed class NpyArray
{
    public int[] Shape { get; }
    public NpyDType DType { get; }

    /// <summary>bool[], sbyte[], byte[], short[], ushort[], int[], long[], float[] or double[] matching <see cref="DType"/>.</summary>
    public Array Data { get; }

    public int Length => Data.Length;
    public int Rank => Shape.Length;

    public NpyArray(Array data, params int[] shape)
    {
        ArgumentNullException.ThrowIfNull(data);
        DType = DTypeOf(data);
        long count = 1;
        foreach (int dimension in shape)
        {
            if (dimension < 0) throw new ArgumentException($"Shape has a negative dimension: ({string.Join(", ", shape)}).", nameof(shape));
            count *= dimension;
        }
        if (count != data.Length)
            throw new ArgumentException($"Shape ({string.Join(", ", shape)}) holds {count} elements but the data has {data.Length}.", nameof(shape));
        Shape = (int[])shape.Clone();
        Data = data;
    }

    public override string ToString() => $"NpyArray {DType} ({string.Join(", ", Shape)})";

    /// <summary>The backing array when it has element type T; otherwise a clear InvalidCastException.</summary>
    public T[] GetData<T>() => Data.GetType() == typeof(T[]) ? (T[])Data :
        throw new InvalidCastException($"Array holds {DType} elements, not {typeof(T).Name}; use a To…Array() accessor to convert.");

    public float[] ToFloatArray() => DType == NpyDType.Float32 ? (float[])Data.Clone() : Convert(i => (float)ElementAsDouble(i));

    public double[] ToDoubleArray() => Convert(ElementAsDouble);

    /// <summary>Integer view; floating-point values must be whole numbers (labels stored as float are common).</summary>
    public long[] ToInt64Array() => Convert(i =>
    {
        if (IsFloatingPoint)
        {
            double value = ElementAsDouble(i);
            if (value != Math.Floor(value) || value < long.MinValue || value > long.MaxValue)
                throw new InvalidCastException($"Element {i} is {value}, which is not an integer.");
            return (long)value;
        }
        return ElementAsInt64(i);
    });

    public int[] ToInt32Array() => Convert(i =>
    {
        long value = IsFloatingPoint ? ToInt64At(i) : ElementAsInt64(i);
        if (value is < int.MinValue or > int.MaxValue) throw new InvalidCastException($"Element {i} ({value}) does not fit in int32.");
        return (int)value;
    });

    /// <summary>Bytes 0..255; other types must already be in that range (e.g. uint8 images stored as int).</summary>
    public byte[] ToByteArray() => DType == NpyDType.UInt8 ? (byte[])Data.Clone() : Convert(i =>
    {
        long value = IsFloatingPoint ? ToInt64At(i) : ElementAsInt64(i);
        if (value is < 0 or > 255) throw new InvalidCastException($"Element {i} ({value}) is outside 0..255.");
        return (byte)value;
    });

    private long ToInt64At(int i)
    {
        double value = ElementAsDouble(i);
        if (value != Math.Floor(value)) throw new InvalidCastException($"Element {i} is {value}, which is not an integer.");
        return (long)value;
    }

    private T[] Convert<T>(Func<int, T> element)
    {
        var result = new T[Data.Length];
        for (int i = 0; i < result.Length; i++) result[i] = element(i);
        return result;
    }

    private bool IsFloatingPoint => DType is NpyDType.Float32 or NpyDType.Float64;

    // Switch on DType, not on `Data is byte[]`: the CLR treats byte[]/sbyte[] (and ushort[]/short[]) as
    // interchangeable in type tests, so pattern matching on the array type would misread signedness.
    private double ElementAsDouble(int i) => DType switch
    {
        NpyDType.Float32 => ((float[])Data)[i],
        NpyDType.Float64 => ((double[])Data)[i],
        _ => ElementAsInt64(i),
    };

    private long ElementAsInt64(int i) => DType switch
    {
        NpyDType.Bool => ((bool[])Data)[i] ? 1 : 0,
        NpyDType.Int8 => ((sbyte[])Data)[i],
        NpyDType.UInt8 => ((byte[])Data)[i],
        NpyDType.Int16 => ((short[])Data)[i],
        NpyDType.UInt16 => ((ushort[])Data)[i],
        NpyDType.Int32 => ((int[])Data)[i],
        NpyDType.Int64 => ((long[])Data)[i],
        NpyDType.Float32 => (long)((float[])Data)[i],
        _ => (long)((double[])Data)[i],
    };

    internal static NpyDType DTypeOf(Array data)
    {
        Type type = data.GetType(); // exact type: see the note on ElementAsInt64
        if (type == typeof(bool[])) return NpyDType.Bool;
        if (type == typeof(sbyte[])) return NpyDType.Int8;
        if (type == typeof(byte[])) return NpyDType.UInt8;
        if (type == typeof(short[])) return NpyDType.Int16;
        if (type == typeof(ushort[])) return NpyDType.UInt16;
        if (type == typeof(int[])) return NpyDType.Int32;
        if (type == typeof(long[])) return NpyDType.Int64;
        if (type == typeof(float[])) return NpyDType.Float32;
        if (type == typeof(double[])) return NpyDType.Float64;
        throw new ArgumentException($"Arrays of {type.Name} cannot be stored; use bool, sbyte, byte, short, ushort, int, long, float or double.", nameof(data));
    }

    internal static int ItemSize(NpyDType type) => type switch
    {
        NpyDType.Bool or NpyDType.Int8 or NpyDType.UInt8 => 1,
        NpyDType.Int16 or NpyDType.UInt16 => 2,
        NpyDType.Int32 or NpyDType.Float32 => 4,
        _ => 8,
    };

    internal static Array Allocate(NpyDType type, int length) => type switch
    {
        NpyDType.Bool => new bool[length],
        NpyDType.Int8 => new sbyte[length],
        NpyDType.UInt8 => new byte[length],
        NpyDType.Int16 => new short[length],
        NpyDType.UInt16 => new ushort[length],
        NpyDType.Int32 => new int[length],
        NpyDType.Int64 => new long[length],
        NpyDType.Float32 => new float[length],
        _ => new double[length],
    };
}
