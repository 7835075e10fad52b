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
