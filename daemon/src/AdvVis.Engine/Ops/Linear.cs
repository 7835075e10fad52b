// Matrix products: Gemm (Y = α·op(A)·op(B) + β·C) and MatMul (numpy semantics, batched, broadcast).
// Backward of a product is a product with the other factor transposed: dA = dY·Bᵀ, dB = Aᵀ·dY.
using AdvVis.Kernels;

namespace AdvVis.Engine.Ops;

public sealed class Gemm(float alpha, float beta, bool transA, bool transB) : Op
{
    public override Tensor[] Forward(Tensor?[] inputs, out object? saved)
    {
        var a = RequireFloat(inputs, 0, "Gemm");
        var b = RequireFloat(inputs, 1, "Gemm");
        var c = inputs.Length > 2 ? inputs[2] : null;
        if (a.Rank != 2 || b.Rank != 2) throw new EngineException($"Gemm expects 2-D operands, got {ShapeMath.Text(a.Shape)} and {ShapeMath.Text(b.Shape)}.");
        int m = transA ? a.Shape[1] : a.Shape[0], k = transA ? a.Shape[0] : a.Shape[1];
        int kb = transB ? b.Shape[1] : b.Shape[0], n = transB ? b.Shape[0] : b.Shape[1];
        if (k != kb) throw new EngineException($"Gemm: inner sizes differ ({ShapeMath.Text(a.Shape)}{(transA ? "ᵀ" : "")} · {ShapeMath.Text(b.Shape)}{(transB ? "ᵀ" : "")}).");
        Tensor y;
        if (c is not null && beta != 0f)
        {
            y = Broadcasting.Apply(Tensor.Zeros(m, n), c, BinaryKind.Add, "Gemm");
            if (!ShapeMath.SameShape(y.Shape, [m, n])) throw new EngineException($"Gemm: C of shape {ShapeMath.Text(c.Shape)} does not broadcast to [{m},{n}].");
        }
        else y = Tensor.Zeros(m, n);
        Kernels.Kernels.Gemm(transA, transB, m, n, k, alpha, a.Span, a.Shape[1], b.Span, b.Shape[1], c is not null ? beta : 0f, y.Span, n);
        saved = null;
        return [y];
    }

    public override void Backward(BackwardContext ctx)
    {
        var a = ctx.Inputs[0]!; var b = ctx.Inputs[1]!;
        var dy = ctx.OutputGradient();
        int m = dy.Shape[0], n = dy.Shape[1], k = transA ? a.Shape[0] : a.Shape[1];
        if (ctx.Wants(0))
        {
            var da = ctx.GradientOf(0).Span;
            // d op(A) = α dY op(B)ᵀ; when A is stored transposed its gradient is that product transposed.
            if (!transA) Kernels.Kernels.Gemm(false, !transB, m, k, n, alpha, dy.Span, n, b.Span, b.Shape[1], 1f, da, k);
            else Kernels.Kernels.Gemm(transB, true, k, m, n, alpha, b.Span, b.Shape[1], dy.Span, n, 1f, da, m);
        }
        if (ctx.Wants(1))
        {
            var db = ctx.GradientOf(1).Span;
            // d op(B) = α op(A)ᵀ dY.
            if (!transB) Kernels.Kernels.Gemm(!transA, false, k, n, m, alpha, a.Span, a.Shape[1], dy.Span, n, 1f, db, n);
            else Kernels.Kernels.Gemm(true, transA, n, k, m, alpha, dy.Span, n, a.Span, a.Shape[1], 1f, db, k);
        }
        if (ctx.Wants(2) && ctx.Inputs.Length > 2 && ctx.Inputs[2] is { } c)
        {
            var scaled = Broadcasting.Apply(dy, Tensor.Scalar(beta), BinaryKind.Mul, "Gemm");
            Broadcasting.AccumulateReduced(scaled.Span, scaled.Shape, ctx.GradientOf(2).Span, c.Shape);
        }
    }
}

/// <summary>Numpy matmul: [..., M, K] · [..., K, N] with broadcast batch dimensions; 1-D operands are promoted.</summary>
public sealed class MatMul : Op
{
    private sealed record Plan(int M, int K, int N, int[] OutShape, int[] AOffsets, int[] BOffsets);

    private static Plan MakePlan(Tensor a, Tensor b)
    {
        if (a.Rank == 0 || b.Rank == 0) throw new EngineException("MatMul operands must have rank ≥ 1.");
        int[] ash = a.Rank == 1 ? [1, a.Shape[0]] : a.Shape;
        int[] bsh = b.Rank == 1 ? [b.Shape[0], 1] : b.Shape;
        int m = ash[^2], k = ash[^1], kb = bsh[^2], n = bsh[^1];
        if (k != kb) throw new EngineException($"MatMul: {ShapeMath.Text(a.Shape)} · {ShapeMath.Text(b.Shape)}: inner sizes {k} and {kb} differ.");
        var aBatch = ash[..^2]; var bBatch = bsh[..^2];
        var batch = ShapeMath.Broadcast(aBatch, bBatch, "MatMul");
        int count = ShapeMath.Count(batch);
        var aOff = new int[count]; var bOff = new int[count];
        if (count > 0)
        {
            var plan = new BroadcastPlan(aBatch, bBatch, batch);
            int idx = 0;
            for (int r = 0; r < plan.Rows; r++)
            for (int i = 0; i < plan.Inner; i++, idx++)
            {
                aOff[idx] = (plan.AOffsets[r] + i * plan.AInner) * m * k;
                bOff[idx] = (plan.BOffsets[r] + i * plan.BInner) * k * n;
            }
        }
        var outShape = new List<int>(batch);
        if (a.Rank > 1) outShape.Add(m);
        if (b.Rank > 1) outShape.Add(n);
        return new Plan(m, k, n, outShape.ToArray(), aOff, bOff);
    }

    public override Tensor[] Forward(Tensor?[] inputs, out object? saved)
    {
        var a = RequireFloat(inputs, 0, "MatMul");
        var b = RequireFloat(inputs, 1, "MatMul");
        var p = MakePlan(a, b);
        var y = Tensor.Uninitialized(p.OutShape);
        int stride = p.M * p.N;
        for (int i = 0; i < p.AOffsets.Length; i++)
            Kernels.Kernels.Gemm(false, false, p.M, p.N, p.K, 1f, a.Data.AsSpan(p.AOffsets[i], p.M * p.K), p.K,
                b.Data.AsSpan(p.BOffsets[i], p.K * p.N), p.N, 0f, y.Data.AsSpan(i * stride, stride), p.N);
        saved = null;
        return [y];
    }

    public override void Backward(BackwardContext c)
    {
        var a = c.Inputs[0]!; var b = c.Inputs[1]!;
        var p = MakePlan(a, b);
        var dy = c.OutputGradient();
        int stride = p.M * p.N;
        // Batches run in order, so gradients of broadcast operands sum deterministically.
        for (int i = 0; i < p.AOffsets.Length; i++)
        {
            var dyi = dy.Data.AsSpan(i * stride, stride);
            if (c.Wants(0))
                Kernels.Kernels.Gemm(false, true, p.M, p.K, p.N, 1f, dyi, p.N, b.Data.AsSpan(p.BOffsets[i], p.K * p.N), p.N, 1f,
                    c.GradientOf(0).Data.AsSpan(p.AOffsets[i], p.M * p.K), p.K);
            if (c.Wants(1))
                Kernels.Kernels.Gemm(true, false, p.K, p.N, p.M, 1f, a.Data.AsSpan(p.AOffsets[i], p.M * p.K), p.K, dyi, p.N, 1f,
                    c.GradientOf(1).Data.AsSpan(p.BOffsets[i], p.K * p.N), p.N);
        }
    }
}

/// <summary>
/// Einsum over any number of operands: repeated letters in an operand take its diagonal, letters absent from the output
/// are summed, "..." stands for broadcast leading axes, and an implicit output lists the letters that occur once, in
/// alphabetical order. Two operands at a time are contracted as batched GEMMs ([batch, free_a, k] · [batch, k, free_b]),
/// so attention's "bhid,bhjd->bhij" runs as fast as MatMul. Backward: the gradient of operand i is the einsum of dY
/// with the other operands into operand i's letters, broadcast along letters only it had and put back on its diagonal.
/// </summary>
public sealed class Einsum : Op
{
    private readonly string _equation;
    private readonly string[] _operands;
    private readonly string? _explicitOutput;

    public Einsum(string equation)
    {
        _equation = equation;
        var text = new string(equation.Where(ch => !char.IsWhiteSpace(ch)).ToArray());
        var sides = text.Split("->");
        if (sides.Length > 2) throw new EngineException($"Einsum: equation '{equation}' has more than one '->'.");
        _operands = sides[0].Split(',');
        _explicitOutput = sides.Length == 2 ? sides[1] : null;
        foreach (var term in _operands.Append(_explicitOutput ?? ""))
            if (term.Replace("...", "").Any(ch => !char.IsAsciiLetter(ch)))
                throw new EngineException($"Einsum: equation '{equation}' has a term '{term}' with characters other than letters and '...'.");
    }

    /// <summary>The letters of each operand and of the output, with "..." expanded to private letters per axis.</summary>
    private (string[] Terms, string Output) Resolve(Tensor?[] inputs)
    {
        if (inputs.Length != _operands.Length) throw new EngineException($"Einsum: '{_equation}' names {_operands.Length} operands, got {inputs.Length}.");
        int ellipsisRank = 0;
        var terms = new string[_operands.Length];
        for (int i = 0; i < terms.Length; i++)
        {
            var term = _operands[i];
            int letters = term.Replace("...", "").Length, rank = inputs[i]!.Rank;
            if (term.Contains("..."))
            {
                int e = rank - letters;
                if (e < 0) throw new EngineException($"Einsum: operand {i} of rank {rank} is too small for '{term}'.");
                ellipsisRank = Math.Max(ellipsisRank, e);
            }
            else if (letters != rank) throw new EngineException($"Einsum: operand {i} has rank {rank} but '{term}' names {letters} axes.");
        }
        string Ellipsis(int count) => new(Enumerable.Range(ellipsisRank - count, count).Select(k => (char)('\u0100' + k)).ToArray());
        for (int i = 0; i < terms.Length; i++)
        {
            var term = _operands[i];
            terms[i] = term.Contains("...") ? term.Replace("...", Ellipsis(inputs[i]!.Rank - term.Replace("...", "").Length)) : term;
        }
        string output;
        if (_explicitOutput is not null) output = _explicitOutput.Replace("...", Ellipsis(ellipsisRank));
        else
        {
            var counts = terms.SelectMany(t => t).Where(ch => ch < '\u0100').GroupBy(ch => ch).Where(g => g.Count() == 1).Select(g => g.Key).OrderBy(ch => ch);
            output = Ellipsis(ellipsisRank) + new string(counts.ToArray());
        }
        return (terms, output);
    }

    private static Dictionary<char, int> Sizes(string[] terms, Tensor?[] inputs, string equation)
    {
        var sizes = new Dictionary<char, int>();
        for (int i = 0; i < terms.Length; i++)
            for (int d = 0; d < terms[i].Length; d++)
            {
                int size = inputs[i]!.Shape[d];
                if (!sizes.TryGetValue(terms[i][d], out var known) || known == 1) sizes[terms[i][d]] = size;
                else if (size != known && size != 1)
                    throw new EngineException($"Einsum '{equation}': axis '{terms[i][d]}' has sizes {known} and {size}.");
            }
        return sizes;
    }

    public override Tensor[] Forward(Tensor?[] inputs, out object? saved)
    {
        for (int i = 0; i < inputs.Length; i++) RequireFloat(inputs, i, "Einsum");
        var (terms, output) = Resolve(inputs);
        var sizes = Sizes(terms, inputs, _equation);
        saved = null;
        return [Evaluate(inputs.Select(t => t!).ToArray(), terms, output, sizes)];
    }

    public override void Backward(BackwardContext c)
    {
        var (terms, output) = Resolve(c.Inputs);
        var sizes = Sizes(terms, c.Inputs, _equation);
        var dy = c.OutputGradient();
        for (int i = 0; i < terms.Length; i++)
        {
            if (!c.Wants(i)) continue;
            var unique = new string(terms[i].Distinct().ToArray());
            var others = Enumerable.Range(0, terms.Length).Where(j => j != i).ToList();
            var operands = others.Select(j => c.Inputs[j]!).Prepend(dy).ToArray();
            var operandTerms = others.Select(j => terms[j]).Prepend(output).ToArray();
            // Letters only operand i had were summed in the forward: their gradient is dY broadcast along them.
            var present = new string(unique.Where(ch => operandTerms.Any(t => t.Contains(ch))).ToArray());
            var partial = Evaluate(operands, operandTerms, present, sizes);
            var full = Broadcasting.To(partial.Reshape(unique.Select(ch => present.Contains(ch) ? sizes[ch] : 1).ToArray()),
                unique.Select(ch => sizes[ch]).ToArray());
            var fullShape = unique.Select(ch => sizes[ch]).ToArray();
            var x = c.Inputs[i]!;
            var (diagonalShape, offsets) = Diagonal(x.Shape, terms[i], unique);
            // Reduce over axes where operand i was broadcast (size 1 against a larger size), then onto its diagonal.
            var reduced = Tensor.Zeros(diagonalShape);
            Broadcasting.AccumulateReduced(full.Span, fullShape, reduced.Span, diagonalShape);
            IndexedCopy.ScatterAdd(reduced.Span, diagonalShape, offsets, c.GradientOf(i).Data);
        }
    }

    /// <summary>Per unique letter, the operand's size and the flat offset step (the sum of the strides of its axes).</summary>
    private static (int[] Shape, int[][] Offsets) Diagonal(int[] shape, string term, string unique)
    {
        var strides = ShapeMath.Strides(shape);
        var result = new int[unique.Length];
        var offsets = new int[unique.Length][];
        for (int u = 0; u < unique.Length; u++)
        {
            int step = 0, size = -1;
            for (int d = 0; d < term.Length; d++)
                if (term[d] == unique[u])
                {
                    step += strides[d];
                    if (size >= 0 && shape[d] != size) throw new EngineException($"Einsum: repeated axis '{unique[u]}' has sizes {size} and {shape[d]}.");
                    size = shape[d];
                }
            result[u] = size;
            offsets[u] = Enumerable.Range(0, size).Select(i => i * step).ToArray();
        }
        return (result, offsets);
    }

    /// <summary>Contracts the operands into the output letters, two at a time, summing letters no later term needs.</summary>
    private static Tensor Evaluate(Tensor[] operands, string[] terms, string output, Dictionary<char, int> sizes)
    {
        var current = new List<(Tensor T, string L)>();
        for (int i = 0; i < operands.Length; i++)
        {
            var unique = new string(terms[i].Distinct().ToArray());
            var t = operands[i];
            if (unique.Length != terms[i].Length)
            {
                var (shape, offsets) = Diagonal(t.Shape, terms[i], unique);
                t = IndexedCopy.Gather(t, shape, offsets);
            }
            current.Add((t, unique));
        }
        var (acc, letters) = current[0];
        for (int i = 1; i <= current.Count; i++)
        {
            var later = string.Concat(current.Skip(i + 1).Select(p => p.L)) + output;
            if (i == current.Count)
            {
                acc = SumOut(acc, letters, later, out letters);
                break;
            }
            var (next, nextLetters) = current[i];
            acc = Contract(acc, letters, next, nextLetters, later, sizes, out letters);
        }
        // Letters of the output in the output's order (all present: the caller asked only for contracted letters).
        return Permute(acc, letters, output);
    }

    private static Tensor SumOut(Tensor t, string letters, string keep, out string kept)
    {
        var axes = Enumerable.Range(0, letters.Length).Where(d => !keep.Contains(letters[d])).Select(d => (long)d).ToArray();
        kept = new string(letters.Where(keep.Contains).ToArray());
        if (axes.Length == 0) return t;
        return new Reduce(ReduceKind.Sum, axes, keepDims: false, noopWithEmptyAxes: false).Forward([t], out _)[0];
    }

    private static Tensor Permute(Tensor t, string letters, string order)
    {
        if (letters == order) return t;
        return Transpose.Apply(t, order.Select(ch => letters.IndexOf(ch)).ToArray());
    }

    private static Tensor Contract(Tensor a, string la, Tensor b, string lb, string later, Dictionary<char, int> sizes, out string letters)
    {
        a = SumOut(a, la, lb + later, out la);
        b = SumOut(b, lb, la + later, out lb);
        var batch = la.Where(ch => lb.Contains(ch) && later.Contains(ch)).ToArray();
        var inner = la.Where(ch => lb.Contains(ch) && !later.Contains(ch)).ToArray();
        var freeA = la.Where(ch => !lb.Contains(ch)).ToArray();
        var freeB = lb.Where(ch => !la.Contains(ch)).ToArray();
        string orderA = new(batch.Concat(freeA).Concat(inner).ToArray()), orderB = new(batch.Concat(inner).Concat(freeB).ToArray());
        // Shared letters broadcast where one operand has size 1.
        a = Broadcasting.To(Permute(a, la, orderA), orderA.Select(ch => sizes[ch]).ToArray());
        b = Broadcasting.To(Permute(b, lb, orderB), orderB.Select(ch => sizes[ch]).ToArray());
        int nb = batch.Aggregate(1, (p, ch) => p * sizes[ch]), m = freeA.Aggregate(1, (p, ch) => p * sizes[ch]);
        int k = inner.Aggregate(1, (p, ch) => p * sizes[ch]), n = freeB.Aggregate(1, (p, ch) => p * sizes[ch]);
        letters = new string(batch.Concat(freeA).Concat(freeB).ToArray());
        var y = Tensor.Uninitialized(letters.Select(ch => sizes[ch]).ToArray());
        for (int i = 0; i < nb; i++)
        {
            if (m * n == 0) continue;
            if (k == 0) { y.Data.AsSpan(i * m * n, m * n).Clear(); continue; }
            Kernels.Kernels.Gemm(false, false, m, n, k, 1f, a.Data.AsSpan(i * m * k, m * k), k, b.Data.AsSpan(i * k * n, k * n), n, 0f,
                y.Data.AsSpan(i * m * n, m * n), n);
        }
        return y;
    }
}
