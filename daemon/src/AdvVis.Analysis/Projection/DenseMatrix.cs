// Row-major float32 matrix used for both the high-dimensional inputs (one row per item, e.g. a
// layer's flattened activations) and the low-dimensional embeddings UMAP produces.
namespace AdvVis.Analysis.Projection;

/// <summary>A dense, row-major <see cref="float"/> matrix: <c>Rows</c> items × <c>Columns</c> features.</summary>
public sealed class DenseMatrix
{
    /// <summary>Creates a zero-filled matrix.</summary>
    public DenseMatrix(int rows, int columns)
        : this(new float[checked(rows * columns)], rows, columns)
    {
    }

    /// <summary>Wraps <paramref name="data"/> (row-major, length rows × columns) without copying.</summary>
    public DenseMatrix(float[] data, int rows, int columns)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfNegative(columns);
        if (data.Length != (long)rows * columns)
            throw new ArgumentException($"Expected {rows}×{columns} = {(long)rows * columns} values, got {data.Length}.", nameof(data));
        Data = data;
        Rows = rows;
        Columns = columns;
    }

    /// <summary>Number of items (rows).</summary>
    public int Rows { get; }

    /// <summary>Number of features / embedding dimensions (columns).</summary>
    public int Columns { get; }

    /// <summary>The backing row-major storage (not a copy).</summary>
    public float[] Data { get; }

    /// <summary>Element access.</summary>
    public float this[int row, int column]
    {
        get => Data[row * Columns + column];
        set => Data[row * Columns + column] = value;
    }

    /// <summary>A view of one row.</summary>
    public Span<float> Row(int row) => Data.AsSpan(row * Columns, Columns);

    /// <summary>Copies a rectangular array.</summary>
    public static DenseMatrix FromArray(float[,] values)
    {
        ArgumentNullException.ThrowIfNull(values);
        int rows = values.GetLength(0), columns = values.GetLength(1);
        var result = new DenseMatrix(rows, columns);
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < columns; c++)
                result.Data[r * columns + c] = values[r, c];
        return result;
    }

    /// <summary>Copies a list of equally long rows.</summary>
    public static DenseMatrix FromRows(IReadOnlyList<float[]> rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        int columns = rows.Count == 0 ? 0 : rows[0].Length;
        var result = new DenseMatrix(rows.Count, columns);
        for (int r = 0; r < rows.Count; r++)
        {
            if (rows[r].Length != columns)
                throw new ArgumentException($"Row {r} has {rows[r].Length} values, expected {columns}.", nameof(rows));
            rows[r].CopyTo(result.Data, r * columns);
        }
        return result;
    }

    /// <summary>A deep copy.</summary>
    public DenseMatrix Clone() => new((float[])Data.Clone(), Rows, Columns);

    /// <summary>One column as a new array (e.g. the 1-D coordinate of every item).</summary>
    public float[] Column(int column)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(column);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(column, Columns);
        var result = new float[Rows];
        for (int r = 0; r < Rows; r++)
            result[r] = Data[r * Columns + column];
        return result;
    }

    /// <summary>Copies into a rectangular array.</summary>
    public float[,] ToArray()
    {
        var result = new float[Rows, Columns];
        for (int r = 0; r < Rows; r++)
            for (int c = 0; c < Columns; c++)
                result[r, c] = Data[r * Columns + c];
        return result;
    }
}
