// Layout operators: they move or select values without arithmetic, so each backward rule moves the gradient back.
// Reshape-like views share storage with their input (tensors are never mutated after they are produced).
using System.Numerics.Tensors;

namespace AdvVis.Engine.Ops;

/// <summary>Ops whose output is their input with another shape. Backward: dx += dy (same memory layout).</summary>
public abstract class ViewOp : Op
{
    protected abstract int[] OutputShape(Tensor?[] inputs);

    public override Tensor[] Forward(Tensor?[] inputs, out object? saved)
    {
        saved = null;
        return [Required(inputs, 0, GetType().Name).Reshape(OutputShape(inputs))];
    }

    public override void Backward(BackwardContext c)
    {
        if (c.Wants(0) && c.OutputGradients[0] is { } dy) PassThrough.Gradient(c, 0, dy);
    }
}

/// <summary>[d0..dn] → [∏d[:axis], ∏d[axis:]].</summary>
public sealed class Flatten(long axis) : ViewOp
{
    protected override int[] OutputShape(Tensor?[] inputs)
    {
        var shape = inputs[0]!.Shape;
        int a = (int)(axis < 0 ? axis + shape.Length : axis);
        if (a < 0 || a > shape.Length) throw new EngineException($"Flatten: axis {axis} out of range for rank {shape.Length}.");
        return [ShapeMath.Count(shape.AsSpan(0, a)), ShapeMath.Count(shape.AsSpan(a))];
    }
}

/// <summary>
/// Reshape to the shape input (0 copies a dimension unless allowzero, −1 is inferred). A leading size that the
/// exporter baked from its example batch (e.g. [1, 256] in a batch-1 file) follows the actual batch instead, so that
/// models saved with batch 1 still run batches.
/// </summary>
public sealed class Reshape(bool allowZero, long[]? attributeShape = null) : ViewOp
{
    protected override int[] OutputShape(Tensor?[] inputs)
    {
        var x = inputs[0]!;
        var requested = attributeShape ?? Required(inputs, 1, "Reshape").AsLongs();
        return Resolve(x.Shape, requested, allowZero);
    }

    public static int[] Resolve(int[] input, long[] requested, bool allowZero)
    {
        var shape = new int[requested.Length];
        int infer = -1;
        long known = 1;
        for (int i = 0; i < requested.Length; i++)
        {
            long d = requested[i];
            if (d == 0 && !allowZero)
            {
                if (i >= input.Length) throw new EngineException($"Reshape: 0 at position {i} copies a dimension the input {ShapeMath.Text(input)} does not have.");
                d = input[i];
            }
            if (d == -1)
            {
                if (infer >= 0) throw new EngineException("Reshape: more than one −1 in the target shape.");
                infer = i;
                continue;
            }
            if (d < 0) throw new EngineException($"Reshape: invalid size {d}.");
            shape[i] = (int)d;
            known *= d;
        }
        int count = ShapeMath.Count(input);
        if (infer >= 0)
        {
            if (known == 0 || count % known != 0)
                throw new EngineException($"Reshape: cannot infer −1 for {ShapeMath.Text(input)} → [{string.Join(",", requested)}].");
            shape[infer] = (int)(count / known);
        }
        else if (known != count && shape.Length > 0 && input.Length > 0 && known > 0
                 && count % (known / Math.Max(shape[0], 1)) == 0 && shape[0] != 0
                 && input[0] * (known / shape[0]) == count)
        {
            // Batch-polymorphic fix-up: the target's leading size was the export-time batch.
            shape[0] = input[0];
        }
        else if (known != count)
            throw new EngineException($"Reshape: {ShapeMath.Text(input)} has {count} values, target [{string.Join(",", requested)}] holds {known}.");
        return shape;
    }
}

/// <summary>Removes size-1 axes (the given ones, or all). Axes come from the attribute (opset &lt; 13) or input 1.</summary>
public sealed class Squeeze(long[]? attributeAxes) : ViewOp
{
    protected override int[] OutputShape(Tensor?[] inputs)
    {
        var shape = inputs[0]!.Shape;
        var axes = attributeAxes ?? (inputs.Length > 1 ? inputs[1]?.AsLongs() : null);
        if (axes is null || axes.Length == 0) return shape.Where(d => d != 1).ToArray();
        var drop = axes.Select(a => ShapeMath.Axis(a, shape.Length, "Squeeze")).ToHashSet();
        foreach (var a in drop)
            if (shape[a] != 1) throw new EngineException($"Squeeze: axis {a} of {ShapeMath.Text(shape)} has size {shape[a]}, not 1.");
        return shape.Where((_, i) => !drop.Contains(i)).ToArray();
    }
}

/// <summary>Inserts size-1 axes at the given positions of the output.</summary>
public sealed class Unsqueeze(long[]? attributeAxes) : ViewOp
{
    protected override int[] OutputShape(Tensor?[] inputs)
    {
        var shape = inputs[0]!.Shape;
        var axes = attributeAxes ?? Required(inputs, 1, "Unsqueeze").AsLongs();
        int rank = shape.Length + axes.Length;
        var insert = axes.Select(a => ShapeMath.Axis(a, rank, "Unsqueeze")).ToHashSet();
        var result = new int[rank];
        for (int i = 0, j = 0; i < rank; i++) result[i] = insert.Contains(i) ? 1 : shape[j++];
        return result;
    }
}

/// <summary>Permutes axes. Backward: dx += transpose(dy, perm⁻¹).</summary>
public sealed class Transpose(long[]? perm) : Op
{
    private int[] Permutation(int rank)
    {
        if (perm is null) return Enumerable.Range(0, rank).Reverse().ToArray();
        if (perm.Length != rank) throw new EngineException($"Transpose: perm has {perm.Length} entries for rank {rank}.");
        return perm.Select(p => (int)p).ToArray();
    }

    public override Tensor[] Forward(Tensor?[] inputs, out object? saved)
    {
        var x = Required(inputs, 0, "Transpose");
        saved = null;
        return [Apply(x, Permutation(x.Rank))];
    }

    public static Tensor Apply(Tensor x, int[] p)
    {
        var outShape = p.Select(i => x.Shape[i]).ToArray();
        var inStrides = ShapeMath.Strides(x.Shape);
        var indices = new int[p.Length][];
        for (int d = 0; d < p.Length; d++)
            indices[d] = Enumerable.Range(0, outShape[d]).Select(i => i * inStrides[p[d]]).ToArray();
        return IndexedCopy.Gather(x, outShape, indices);
    }

    public override void Backward(BackwardContext c)
    {
        if (!c.Wants(0)) return;
        var p = Permutation(c.Inputs[0]!.Rank);
        var inverse = new int[p.Length];
        for (int i = 0; i < p.Length; i++) inverse[p[i]] = i;
        var dx = c.GradientOf(0).Span;
        TensorPrimitives.Add(dx, Apply(c.OutputGradient(), inverse).Span, dx);
    }
}

/// <summary>
/// Copies by per-axis offset tables: out[i0,i1,…] = x[Σ offsets_d[i_d]], or a fill value where any offset is −1.
/// Transpose, Slice and Pad are all this copy with different tables, and their backward is the matching scatter-add.
/// </summary>
internal static class IndexedCopy
{
    public static Tensor Gather(Tensor x, int[] outShape, int[][] offsets, float fill = 0f)
    {
        int count = ShapeMath.Count(outShape);
        if (x.IsInteger)
        {
            var longs = new long[count];
            Walk(outShape, offsets, (o, s) => longs[o] = s < 0 ? (long)fill : x.Longs![s]);
            return new Tensor(outShape, longs);
        }
        var y = Tensor.Uninitialized(outShape);
        var src = x.Data; var dst = y.Data;
        Walk(outShape, offsets, (o, s) => dst[o] = s < 0 ? fill : src[s]);
        return y;
    }

    public static void ScatterAdd(ReadOnlySpan<float> dy, int[] outShape, int[][] offsets, float[] dx)
    {
        var g = dy.ToArray();
        Walk(outShape, offsets, (o, s) => { if (s >= 0) dx[s] += g[o]; });
    }

    private static void Walk(int[] shape, int[][] offsets, Action<int, int> visit)
    {
        int count = ShapeMath.Count(shape);
        if (count == 0) return;
        int rank = shape.Length;
        if (rank == 0) { visit(0, 0); return; }
        var index = new int[rank];
        for (int o = 0; o < count; o++)
        {
            int s = 0;
            for (int d = 0; d < rank; d++)
            {
                int off = offsets[d][index[d]];
                if (off < 0) { s = -1; break; }
                s += off;
            }
            visit(o, s);
            for (int d = rank - 1; d >= 0; d--)
            {
                if (++index[d] < shape[d]) break;
                index[d] = 0;
            }
        }
    }
}

/// <summary>Joins tensors along an axis. Backward: each input takes its slice of dy.</summary>
public sealed class Concat(long axis) : Op
{
    public override Tensor[] Forward(Tensor?[] inputs, out object? saved)
    {
        saved = null;
        var parts = inputs.Where(t => t is not null).Select(t => t!).ToArray();
        if (parts.Length == 0) throw new EngineException("Concat needs at least one input.");
        int rank = parts[0].Rank;
        int a = ShapeMath.Axis(axis, rank, "Concat");
        var outShape = (int[])parts[0].Shape.Clone();
        outShape[a] = 0;
        foreach (var p in parts)
        {
            if (p.Rank != rank) throw new EngineException("Concat: inputs differ in rank.");
            for (int d = 0; d < rank; d++)
                if (d != a && p.Shape[d] != outShape[d])
                    throw new EngineException($"Concat: {ShapeMath.Text(p.Shape)} does not match {ShapeMath.Text(parts[0].Shape)} outside axis {a}.");
            outShape[a] += p.Shape[a];
        }
        int outer = ShapeMath.Count(outShape.AsSpan(0, a)), inner = ShapeMath.Count(outShape.AsSpan(a + 1));
        bool integer = parts.All(p => p.IsInteger);
        var y = integer ? new Tensor(outShape, new long[ShapeMath.Count(outShape)]) : Tensor.Uninitialized(outShape);
        int offset = 0, rowOut = outShape[a] * inner;
        foreach (var p in parts)
        {
            int rowIn = p.Shape[a] * inner;
            for (int o = 0; o < outer; o++)
            {
                if (integer) p.Longs.AsSpan(o * rowIn, rowIn).CopyTo(y.Longs.AsSpan(o * rowOut + offset, rowIn));
                else (p.IsInteger ? p.AsFloats() : p.Data).AsSpan(o * rowIn, rowIn).CopyTo(y.Data.AsSpan(o * rowOut + offset, rowIn));
            }
            offset += rowIn;
        }
        return [y];
    }

    public override void Backward(BackwardContext c)
    {
        var dy = c.OutputGradient();
        int a = ShapeMath.Axis(axis, dy.Rank, "Concat");
        int outer = ShapeMath.Count(dy.Shape.AsSpan(0, a)), inner = ShapeMath.Count(dy.Shape.AsSpan(a + 1));
        int offset = 0, rowOut = dy.Shape[a] * inner;
        for (int i = 0; i < c.Inputs.Length; i++)
        {
            var p = c.Inputs[i];
            if (p is null) continue;
            int rowIn = p.Shape[a] * inner;
            if (c.Wants(i))
            {
                var dx = c.GradientOf(i).Data;
                for (int o = 0; o < outer; o++)
                    TensorPrimitives.Add(dx.AsSpan(o * rowIn, rowIn), dy.Data.AsSpan(o * rowOut + offset, rowIn), dx.AsSpan(o * rowIn, rowIn));
            }
            offset += rowIn;
        }
    }
}

/// <summary>Splits along an axis into given sizes (attribute, input 1, or equal parts). Backward: concatenation of dy's.</summary>
public sealed class Split(long axis, long[]? attributeSplit, int outputCount) : Op
{
    private int[] Sizes(Tensor?[] inputs, int length)
    {
        var split = attributeSplit ?? (inputs.Length > 1 ? inputs[1]?.AsLongs() : null);
        if (split is not null)
        {
            if (split.Sum() != length) throw new EngineException($"Split: sizes [{string.Join(",", split)}] do not add up to {length}.");
            return split.Select(s => (int)s).ToArray();
        }
        int chunk = (length + outputCount - 1) / outputCount;
        return Enumerable.Range(0, outputCount).Select(i => Math.Max(0, Math.Min(chunk, length - i * chunk))).ToArray();
    }

    public override Tensor[] Forward(Tensor?[] inputs, out object? saved)
    {
        var x = Required(inputs, 0, "Split");
        int a = ShapeMath.Axis(axis, x.Rank, "Split");
        var sizes = Sizes(inputs, x.Shape[a]);
        var results = new Tensor[sizes.Length];
        int start = 0;
        for (int i = 0; i < sizes.Length; i++)
        {
            results[i] = Slicing.Take(x, a, start, sizes[i]);
            start += sizes[i];
        }
        saved = null;
        return results;
    }

    public override void Backward(BackwardContext c)
    {
        if (!c.Wants(0)) return;
        var x = c.Inputs[0]!;
        int a = ShapeMath.Axis(axis, x.Rank, "Split");
        int outer = ShapeMath.Count(x.Shape.AsSpan(0, a)), inner = ShapeMath.Count(x.Shape.AsSpan(a + 1));
        var dx = c.GradientOf(0).Data;
        int offset = 0, rowIn = x.Shape[a] * inner;
        for (int i = 0; i < c.Outputs.Length; i++)
        {
            int rowOut = c.Outputs[i].Shape[a] * inner;
            if (c.OutputGradients[i] is { } dy)
                for (int o = 0; o < outer; o++)
                    TensorPrimitives.Add(dx.AsSpan(o * rowIn + offset, rowOut), dy.Data.AsSpan(o * rowOut, rowOut), dx.AsSpan(o * rowIn + offset, rowOut));
            offset += rowOut;
        }
    }
}

internal static class Slicing
{
    /// <summary>A contiguous range [start, start+length) of one axis, copied.</summary>
    public static Tensor Take(Tensor x, int axis, int start, int length)
    {
        var offsets = new int[x.Rank][];
        var strides = ShapeMath.Strides(x.Shape);
        var shape = (int[])x.Shape.Clone();
        shape[axis] = length;
        for (int d = 0; d < x.Rank; d++)
        {
            int first = d == axis ? start : 0;
            offsets[d] = Enumerable.Range(0, shape[d]).Select(i => (first + i) * strides[d]).ToArray();
        }
        return IndexedCopy.Gather(x, shape, offsets);
    }
}

/// <summary>
/// Numpy slicing with starts, ends, axes and steps (attributes before opset 10, inputs after); negative steps run
/// backwards. Backward: scatter-add dy into the selected positions.
/// </summary>
public sealed class Slice(long[]? attrStarts, long[]? attrEnds, long[]? attrAxes) : Op
{
    private (int[] Shape, int[][] Offsets) Plan(Tensor?[] inputs)
    {
        var x = inputs[0]!;
        var starts = attrStarts ?? Required(inputs, 1, "Slice").AsLongs();
        var ends = attrEnds ?? Required(inputs, 2, "Slice").AsLongs();
        var axes = attrAxes ?? (inputs.Length > 3 ? inputs[3]?.AsLongs() : null) ?? Enumerable.Range(0, starts.Length).Select(i => (long)i).ToArray();
        var steps = attrStarts is null && inputs.Length > 4 && inputs[4] is { } s ? s.AsLongs() : Enumerable.Repeat(1L, starts.Length).ToArray();
        var strides = ShapeMath.Strides(x.Shape);
        var shape = (int[])x.Shape.Clone();
        var offsets = new int[x.Rank][];
        for (int d = 0; d < x.Rank; d++) offsets[d] = Enumerable.Range(0, shape[d]).Select(i => i * strides[d]).ToArray();
        for (int i = 0; i < starts.Length; i++)
        {
            int d = ShapeMath.Axis(axes[i], x.Rank, "Slice");
            long dim = x.Shape[d], step = steps[i];
            if (step == 0) throw new EngineException("Slice: step cannot be 0.");
            long start = starts[i] < 0 ? starts[i] + dim : starts[i];
            long end = ends[i] < 0 ? ends[i] + dim : ends[i];
            if (step > 0) { start = Math.Clamp(start, 0, dim); end = Math.Clamp(end, 0, dim); }
            else { start = Math.Clamp(start, -1, dim - 1); end = Math.Clamp(end, -1, dim - 1); }
            var picked = new List<int>();
            for (long j = start; step > 0 ? j < end : j > end; j += step) picked.Add((int)j * strides[d]);
            shape[d] = picked.Count;
            offsets[d] = picked.ToArray();
        }
        return (shape, offsets);
    }

    public override Tensor[] Forward(Tensor?[] inputs, out object? saved)
    {
        Required(inputs, 0, "Slice");
        var (shape, offsets) = Plan(inputs);
        saved = null;
        return [IndexedCopy.Gather(inputs[0]!, shape, offsets)];
    }

    public override void Backward(BackwardContext c)
    {
        if (!c.Wants(0)) return;
        var (shape, offsets) = Plan(c.Inputs);
        IndexedCopy.ScatterAdd(c.OutputGradient().Span, shape, offsets, c.GradientOf(0).Data);
    }
}

/// <summary>
/// Pads (or crops, with negative pads) in constant, reflect or edge mode. Pads come from the attribute (opset &lt; 11)
/// or input 1, the constant from input 2, the axes from input 3 (opset 18). Backward: scatter-add the kept positions.
/// </summary>
public sealed class Pad(string mode, long[]? attributePads, float attributeValue) : Op
{
    private (int[] Shape, int[][] Offsets, float Fill) Plan(Tensor?[] inputs)
    {
        var x = inputs[0]!;
        int rank = x.Rank;
        var given = attributePads ?? Required(inputs, 1, "Pad").AsLongs();
        float fill = attributePads is null && inputs.Length > 2 && inputs[2] is { Length: > 0 } v ? v.AsFloats()[0] : attributeValue;
        var axes = attributePads is null && inputs.Length > 3 && inputs[3] is { } ax
            ? ax.AsLongs().Select(a => ShapeMath.Axis(a, rank, "Pad")).ToArray()
            : Enumerable.Range(0, rank).ToArray();
        if (given.Length != 2 * axes.Length) throw new EngineException($"Pad: {given.Length} pad values for {axes.Length} axes.");
        var begin = new long[rank]; var end = new long[rank];
        for (int i = 0; i < axes.Length; i++) { begin[axes[i]] = given[i]; end[axes[i]] = given[i + axes.Length]; }
        var strides = ShapeMath.Strides(x.Shape);
        var shape = new int[rank];
        var offsets = new int[rank][];
        for (int d = 0; d < rank; d++)
        {
            int size = x.Shape[d];
            shape[d] = (int)(size + begin[d] + end[d]);
            if (shape[d] < 0) throw new EngineException($"Pad: negative output size on axis {d}.");
            if (mode != "constant" && size == 0 && shape[d] > 0) throw new EngineException($"Pad: {mode} mode needs a non-empty axis {d}.");
            offsets[d] = new int[shape[d]];
            for (int o = 0; o < shape[d]; o++)
            {
                long i = o - begin[d];
                if (i < 0 || i >= size)
                {
                    if (mode == "constant") { offsets[d][o] = -1; continue; }
                    i = mode == "edge" ? Math.Clamp(i, 0, size - 1) : Reflect(i, size);
                }
                offsets[d][o] = (int)i * strides[d];
            }
        }
        return (shape, offsets, fill);
    }

    private static long Reflect(long i, long size)
    {
        if (size == 1) return 0;
        long period = 2 * (size - 1);
        i = ((i % period) + period) % period;
        return i < size ? i : period - i;
    }

    public override Tensor[] Forward(Tensor?[] inputs, out object? saved)
    {
        Required(inputs, 0, "Pad");
        var (shape, offsets, fill) = Plan(inputs);
        saved = null;
        return [IndexedCopy.Gather(inputs[0]!, shape, offsets, fill)];
    }

    public override void Backward(BackwardContext c)
    {
        if (!c.Wants(0)) return;
        var (shape, offsets, _) = Plan(c.Inputs);
        IndexedCopy.ScatterAdd(c.OutputGradient().Span, shape, offsets, c.GradientOf(0).Data);
    }
}

/// <summary>Broadcasts the input to a shape (numpy rules). Backward: dy summed over the broadcast dimensions.</summary>
public sealed class Expand : Op
{
    public override Tensor[] Forward(Tensor?[] inputs, out object? saved)
    {
        var x = Required(inputs, 0, "Expand");
        var target = Required(inputs, 1, "Expand").AsLongs().Select(v => (int)v).ToArray();
        var shape = ShapeMath.Broadcast(x.Shape, target, "Expand");
        saved = null;
        var zeros = x.IsInteger ? new Tensor(shape, new long[ShapeMath.Count(shape)]) : Tensor.Zeros(shape);
        return [Broadcasting.Apply(x, zeros, BinaryKind.Add, "Expand")];
    }

    public override void Backward(BackwardContext c)
    {
        if (!c.Wants(0)) return;
        var dy = c.OutputGradient();
        Broadcasting.AccumulateReduced(dy.Span, dy.Shape, c.GradientOf(0).Span, c.Inputs[0]!.Shape);
    }
}

/// <summary>
/// Picks entries along an axis by (possibly negative) indices; float or int64 data.
/// Backward: scatter-add dy back to the picked entries (an index picked twice receives both).
/// </summary>
public sealed class Gather(long axis) : Op
{
    public override Tensor[] Forward(Tensor?[] inputs, out object? saved)
    {
        var data = Required(inputs, 0, "Gather");
        var indices = Required(inputs, 1, "Gather");
        int a = ShapeMath.Axis(axis, data.Rank, "Gather");
        var idx = Normalize(indices.AsLongs(), data.Shape[a]);
        var outShape = data.Shape[..a].Concat(indices.Shape).Concat(data.Shape[(a + 1)..]).ToArray();
        int outer = ShapeMath.Count(data.Shape.AsSpan(0, a)), inner = ShapeMath.Count(data.Shape.AsSpan(a + 1));
        int axisLen = data.Shape[a];
        Tensor y = data.IsInteger ? new Tensor(outShape, new long[ShapeMath.Count(outShape)]) : Tensor.Uninitialized(outShape);
        for (int o = 0; o < outer; o++)
        for (int i = 0; i < idx.Length; i++)
        {
            int src = (o * axisLen + idx[i]) * inner, dst = (o * idx.Length + i) * inner;
            if (data.IsInteger) data.Longs.AsSpan(src, inner).CopyTo(y.Longs.AsSpan(dst, inner));
            else data.Data.AsSpan(src, inner).CopyTo(y.Data.AsSpan(dst, inner));
        }
        saved = null;
        return [y];
    }

    private static int[] Normalize(long[] indices, int length) => indices.Select(i =>
    {
        long j = i < 0 ? i + length : i;
        if (j < 0 || j >= length) throw new EngineException($"Gather: index {i} is out of range for an axis of size {length}.");
        return (int)j;
    }).ToArray();

    public override void Backward(BackwardContext c)
    {
        if (!c.Wants(0)) return;
        var data = c.Inputs[0]!; var indices = c.Inputs[1]!;
        int a = ShapeMath.Axis(axis, data.Rank, "Gather");
        var idx = Normalize(indices.AsLongs(), data.Shape[a]);
        int outer = ShapeMath.Count(data.Shape.AsSpan(0, a)), inner = ShapeMath.Count(data.Shape.AsSpan(a + 1));
        var dy = c.OutputGradient().Data; var dx = c.GradientOf(0).Data;
        for (int o = 0; o < outer; o++)
        for (int i = 0; i < idx.Length; i++)
        {
            var target = dx.AsSpan((o * data.Shape[a] + idx[i]) * inner, inner);
            TensorPrimitives.Add(target, dy.AsSpan((o * idx.Length + i) * inner, inner), target);
        }
    }
}

/// <summary>
/// Repeats the input along each axis (repeats input). Backward: dx[i] += Σ over the tiles of dy at the matching positions.
/// </summary>
public sealed class Tile : Op
{
    private static (int[] Shape, int[][] Offsets) Plan(Tensor x, Tensor repeatsInput)
    {
        var repeats = repeatsInput.AsLongs();
        if (repeats.Length != x.Rank) throw new EngineException($"Tile: {repeats.Length} repeats for a rank-{x.Rank} input.");
        var strides = ShapeMath.Strides(x.Shape);
        var shape = new int[x.Rank];
        var offsets = new int[x.Rank][];
        for (int d = 0; d < x.Rank; d++)
        {
            if (repeats[d] < 0) throw new EngineException($"Tile: negative repeat {repeats[d]}.");
            shape[d] = checked(x.Shape[d] * (int)repeats[d]);
            int size = x.Shape[d], stride = strides[d];
            offsets[d] = Enumerable.Range(0, shape[d]).Select(i => i % size * stride).ToArray();
        }
        return (shape, offsets);
    }

    public override Tensor[] Forward(Tensor?[] inputs, out object? saved)
    {
        var x = Required(inputs, 0, "Tile");
        var (shape, offsets) = Plan(x, Required(inputs, 1, "Tile"));
        saved = null;
        return [IndexedCopy.Gather(x, shape, offsets)];
    }

    public override void Backward(BackwardContext c)
    {
        if (!c.Wants(0)) return;
        var (shape, offsets) = Plan(c.Inputs[0]!, c.Inputs[1]!);
        IndexedCopy.ScatterAdd(c.OutputGradient().Span, shape, offsets, c.GradientOf(0).Data);
    }
}

/// <summary>
/// Keeps the upper (upper = 1) or lower triangle of the last two axes, from diagonal k (input 1), zeroing the rest.
/// Backward: the same mask applied to dy.
/// </summary>
public sealed class Trilu(bool upper) : Op
{
    private bool Keeps(int row, int column, long k) => upper ? column - row >= k : column - row <= k;

    public override Tensor[] Forward(Tensor?[] inputs, out object? saved)
    {
        var x = Required(inputs, 0, "Trilu");
        long k = inputs.Length > 1 && inputs[1] is { } kt ? kt.AsLongs()[0] : 0;
        if (x.Rank < 2) throw new EngineException($"Trilu needs rank ≥ 2, got {ShapeMath.Text(x.Shape)}.");
        int rows = x.Shape[^2], cols = x.Shape[^1];
        saved = null;
        if (x.IsInteger)
        {
            var longs = new long[x.Length];
            for (int i = 0; i < x.Length; i++) longs[i] = Keeps(i / cols % rows, i % cols, k) ? x.Longs![i] : 0;
            return [new Tensor(x.Shape, longs)];
        }
        var y = Tensor.Uninitialized(x.Shape);
        for (int i = 0; i < x.Length; i++) y.Data[i] = Keeps(i / cols % rows, i % cols, k) ? x.Data[i] : 0f;
        return [y];
    }

    public override void Backward(BackwardContext c)
    {
        if (!c.Wants(0)) return;
        var x = c.Inputs[0]!;
        long k = c.Inputs.Length > 1 && c.Inputs[1] is { } kt ? kt.AsLongs()[0] : 0;
        int rows = x.Shape[^2], cols = x.Shape[^1];
        var dy = c.OutputGradient().Data; var dx = c.GradientOf(0).Data;
        for (int i = 0; i < x.Length; i++) if (Keeps(i / cols % rows, i % cols, k)) dx[i] += dy[i];
    }
}

/// <summary>
/// ScatterND: a copy of data with the slices addressed by the last axis of indices replaced by updates (reduction
/// "none"), or combined with them ("add", "mul", "max", "min"). Backward (none): d data = dy outside the written slices,
/// d updates = dy gathered at them; (add): d data = dy, d updates = the gathered dy.
/// </summary>
public sealed class ScatterND(string reduction) : Op
{
    /// <summary>Flat start of each update slice in data, and the slice length.</summary>
    private static (int[] Starts, int Slice) Plan(Tensor data, Tensor indices, Tensor updates)
    {
        if (indices.Rank < 1) throw new EngineException("ScatterND: indices need rank ≥ 1.");
        int depth = indices.Shape[^1];
        if (depth > data.Rank) throw new EngineException($"ScatterND: index depth {depth} exceeds the data rank {data.Rank}.");
        int slice = ShapeMath.Count(data.Shape.AsSpan(depth));
        int count = ShapeMath.Count(indices.Shape.AsSpan(0, indices.Rank - 1));
        var expected = indices.Shape[..^1].Concat(data.Shape[depth..]).ToArray();
        if (!ShapeMath.SameShape(updates.Shape, expected))
            throw new EngineException($"ScatterND: updates {ShapeMath.Text(updates.Shape)} should have shape {ShapeMath.Text(expected)}.");
        var strides = ShapeMath.Strides(data.Shape);
        var idx = indices.AsLongs();
        var starts = new int[count];
        for (int u = 0; u < count; u++)
        {
            long flat = 0;
            for (int d = 0; d < depth; d++)
            {
                long i = idx[u * depth + d], size = data.Shape[d];
                if (i < 0) i += size;
                if (i < 0 || i >= size) throw new EngineException($"ScatterND: index {idx[u * depth + d]} is out of range for axis {d} of size {size}.");
                flat += i * strides[d];
            }
            starts[u] = (int)flat;
        }
        return (starts, slice);
    }

    public override Tensor[] Forward(Tensor?[] inputs, out object? saved)
    {
        var data = Required(inputs, 0, "ScatterND");
        var updates = Required(inputs, 2, "ScatterND");
        var (starts, slice) = Plan(data, Required(inputs, 1, "ScatterND"), updates);
        saved = null;
        if (data.IsInteger)
        {
            var y = data.Longs!.AsSpan(0, data.Length).ToArray();
            var u = updates.AsLongs();
            for (int s = 0; s < starts.Length; s++)
            for (int j = 0; j < slice; j++)
            {
                ref long t = ref y[starts[s] + j];
                long v = u[s * slice + j];
                t = reduction switch { "add" => t + v, "mul" => t * v, "max" => Math.Max(t, v), "min" => Math.Min(t, v), _ => v };
            }
            return [new Tensor(data.Shape, y)];
        }
        var result = Tensor.Uninitialized(data.Shape);
        data.Span.CopyTo(result.Span);
        var uf = updates.IsInteger ? updates.AsFloats() : updates.Data;
        for (int s = 0; s < starts.Length; s++)
        for (int j = 0; j < slice; j++)
        {
            ref float t = ref result.Data[starts[s] + j];
            float v = uf[s * slice + j];
            t = reduction switch { "add" => t + v, "mul" => t * v, "max" => MathF.Max(t, v), "min" => MathF.Min(t, v), _ => v };
        }
        return [result];
    }

    public override void Backward(BackwardContext c)
    {
        if (reduction is not ("none" or "add"))
            throw new UnsupportedFeatureException($"ScatterND: no gradient rule for reduction '{reduction}'.");
        var data = c.Inputs[0]!; var updates = c.Inputs[2]!;
        var (starts, slice) = Plan(data, c.Inputs[1]!, updates);
        var dy = c.OutputGradient().Data;
        if (c.Wants(0) && !data.IsInteger)
        {
            var local = dy.AsSpan(0, data.Length).ToArray();
            // With "none" the written slices no longer depend on data.
            if (reduction == "none") foreach (var s in starts) local.AsSpan(s, slice).Clear();
            TensorPrimitives.Add(c.GradientOf(0).Span, local, c.GradientOf(0).Span);
        }
        if (c.Wants(2) && !updates.IsInteger)
        {
            // Where slices repeat under "none", the last write wins and only it receives the gradient.
            var du = c.GradientOf(2).Data;
            var winner = new Dictionary<int, int>();
            for (int s = 0; s < starts.Length; s++) winner[starts[s]] = s;
            for (int s = 0; s < starts.Length; s++)
                if (reduction == "add" || winner[starts[s]] == s)
                    TensorPrimitives.Add(du.AsSpan(s * slice, slice), dy.AsSpan(starts[s], slice), du.AsSpan(s * slice, slice));
        }
    }
}

/// <summary>
/// DepthToSpace (DCR or CRD) and SpaceToDepth: a reshape, a fixed permutation and a reshape.
/// Backward: the inverse permutation of dy.
/// </summary>
public sealed class DepthSpace(bool toSpace, int block, bool columnRowDepth) : Op
{
    private (int[] Split, int[] Perm, int[] Out) Plan(int[] s)
    {
        if (s.Length != 4) throw new EngineException($"{(toSpace ? "DepthToSpace" : "SpaceToDepth")} expects [N,C,H,W], got {ShapeMath.Text(s)}.");
        int n = s[0], c = s[1], h = s[2], w = s[3], b = block;
        if (toSpace)
        {
            if (c % (b * b) != 0) throw new EngineException($"DepthToSpace: {c} channels are not divisible by {b * b}.");
            int cb = c / (b * b);
            return columnRowDepth
                ? ([n, cb, b, b, h, w], [0, 1, 4, 2, 5, 3], [n, cb, h * b, w * b])
                : ([n, b, b, cb, h, w], [0, 3, 4, 1, 5, 2], [n, cb, h * b, w * b]);
        }
        if (h % b != 0 || w % b != 0) throw new EngineException($"SpaceToDepth: {h}x{w} is not divisible by block {b}.");
        return ([n, c, h / b, b, w / b, b], [0, 3, 5, 1, 2, 4], [n, c * b * b, h / b, w / b]);
    }

    public override Tensor[] Forward(Tensor?[] inputs, out object? saved)
    {
        var x = Required(inputs, 0, toSpace ? "DepthToSpace" : "SpaceToDepth");
        var (split, perm, output) = Plan(x.Shape);
        saved = null;
        return [Transpose.Apply(x.Reshape(split), perm).Reshape(output)];
    }

    public override void Backward(BackwardContext c)
    {
        if (!c.Wants(0)) return;
        var x = c.Inputs[0]!;
        var (split, perm, _) = Plan(x.Shape);
        var inverse = new int[perm.Length];
        for (int i = 0; i < perm.Length; i++) inverse[perm[i]] = i;
        var dy = c.OutputGradient().Reshape(perm.Select(p => split[p]).ToArray());
        var dx = c.GradientOf(0).Span;
        TensorPrimitives.Add(dx, Transpose.Apply(dy, inverse).Span, dx);
    }
}

/// <summary>
/// GatherElements: y[i…] = x[… index[i…] on axis …], index the same rank as x. Backward: scatter-add dy.
/// </summary>
public sealed class GatherElements(long axis) : Op
{
    private static int[] Sources(Tensor x, Tensor index, int a)
    {
        if (index.Rank != x.Rank) throw new EngineException("GatherElements: indices must have the data's rank.");
        var idx = index.AsLongs();
        var xs = ShapeMath.Strides(x.Shape);
        var sources = new int[index.Length];
        var pos = new int[index.Rank];
        for (int o = 0; o < sources.Length; o++)
        {
            long flat = 0;
            for (int d = 0; d < index.Rank; d++)
            {
                long i = d == a ? idx[o] : pos[d];
                if (d == a && i < 0) i += x.Shape[a];
                if (i < 0 || i >= x.Shape[d]) throw new EngineException($"GatherElements: index {idx[o]} is out of range for axis {a} of size {x.Shape[a]}.");
                flat += i * xs[d];
            }
            sources[o] = (int)flat;
            for (int d = index.Rank - 1; d >= 0; d--) { if (++pos[d] < index.Shape[d]) break; pos[d] = 0; }
        }
        return sources;
    }

    public override Tensor[] Forward(Tensor?[] inputs, out object? saved)
    {
        var x = Required(inputs, 0, "GatherElements"); var index = Required(inputs, 1, "GatherElements");
        var sources = Sources(x, index, ShapeMath.Axis(axis, x.Rank, "GatherElements"));
        saved = null;
        if (x.IsInteger) return [new Tensor(index.Shape, sources.Select(s => x.Longs![s]).ToArray())];
        var y = Tensor.Uninitialized(index.Shape);
        for (int o = 0; o < sources.Length; o++) y.Data[o] = x.Data[sources[o]];
        return [y];
    }

    public override void Backward(BackwardContext c)
    {
        if (!c.Wants(0)) return;
        var x = c.Inputs[0]!;
        var sources = Sources(x, c.Inputs[1]!, ShapeMath.Axis(axis, x.Rank, "GatherElements"));
        var dy = c.OutputGradient().Data; var dx = c.GradientOf(0).Data;
        for (int o = 0; o < sources.Length; o++) dx[sources[o]] += dy[o];
    }
}
