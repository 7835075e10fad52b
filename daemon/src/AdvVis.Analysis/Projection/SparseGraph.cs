// Compressed-sparse-row weighted graph: UMAP's fuzzy simplicial set (1-skeleton) and the
// bipartite new-point → training-point graphs used by Transform.
namespace AdvVis.Analysis.Projection;

/// <summary>A CSR matrix of float weights; rows are sorted by column index.</summary>
public sealed class SparseGraph
{
    /// <summary>Wraps CSR arrays (not copied); each row's column indices must be strictly increasing and in range.</summary>
    public SparseGraph(int rows, int columns, int[] rowStarts, int[] columnIndices, float[] weights)
    {
        ArgumentNullException.ThrowIfNull(rowStarts);
        ArgumentNullException.ThrowIfNull(columnIndices);
        ArgumentNullException.ThrowIfNull(weights);
        if (rowStarts.Length != rows + 1 || rowStarts[0] != 0 || rowStarts[rows] != columnIndices.Length || weights.Length != columnIndices.Length)
            throw new ArgumentException("Inconsistent CSR arrays.");
        for (int r = 0; r < rows; r++)
        {
            if (rowStarts[r + 1] < rowStarts[r])
                throw new ArgumentException($"Row {r} has a negative length.");
            for (int e = rowStarts[r]; e < rowStarts[r + 1]; e++)
            {
                if ((uint)columnIndices[e] >= (uint)columns || (e > rowStarts[r] && columnIndices[e] <= columnIndices[e - 1]))
                    throw new ArgumentException($"Row {r}'s column indices must be increasing and in [0, {columns}).");
            }
        }
        Rows = rows;
        Columns = columns;
        RowStarts = rowStarts;
        ColumnIndices = columnIndices;
        Weights = weights;
    }

    /// <summary>Number of rows (head vertices).</summary>
    public int Rows { get; }

    /// <summary>Number of columns (tail vertices).</summary>
    public int Columns { get; }

    /// <summary>Row r's entries are at [RowStarts[r], RowStarts[r + 1]).</summary>
    public int[] RowStarts { get; }

    /// <summary>Column of each stored entry.</summary>
    public int[] ColumnIndices { get; }

    /// <summary>Weight (membership strength) of each stored entry.</summary>
    public float[] Weights { get; }

    /// <summary>Number of stored entries.</summary>
    public int EdgeCount => RowStarts[Rows];

    /// <summary>Column indices of one row.</summary>
    public ReadOnlySpan<int> ColumnsOf(int row) => ColumnIndices.AsSpan(RowStarts[row], RowStarts[row + 1] - RowStarts[row]);

    /// <summary>Weights of one row.</summary>
    public ReadOnlySpan<float> WeightsOf(int row) => Weights.AsSpan(RowStarts[row], RowStarts[row + 1] - RowStarts[row]);

    /// <summary>Largest stored weight (0 for an empty graph).</summary>
    public float MaxWeight()
    {
        float max = 0f;
        for (int i = 0; i < EdgeCount; i++)
            max = Math.Max(max, Weights[i]);
        return max;
    }

    /// <summary>Weight of (row, column), 0 when absent.</summary>
    public float Weight(int row, int column)
    {
        int at = ColumnsOf(row).BinarySearch(column);
        return at >= 0 ? Weights[RowStarts[row] + at] : 0f;
    }

    /// <summary>Connected-component label of every vertex (square graphs; edges read as undirected).</summary>
    public int[] ConnectedComponents(out int componentCount)
    {
        if (Rows != Columns)
            throw new InvalidOperationException("Connected components need a square graph.");
        var label = new int[Rows];
        Array.Fill(label, -1);
        var stack = new Stack<int>();
        componentCount = 0;
        for (int start = 0; start < Rows; start++)
        {
            if (label[start] >= 0)
                continue;
            label[start] = componentCount;
            stack.Push(start);
            while (stack.Count > 0)
            {
                int v = stack.Pop();
                for (int e = RowStarts[v]; e < RowStarts[v + 1]; e++)
                {
                    int w = ColumnIndices[e];
                    if (Weights[e] > 0 && label[w] < 0)
                    {
                        label[w] = componentCount;
                        stack.Push(w);
                    }
                }
            }
            componentCount++;
        }
        return label;
    }
}
