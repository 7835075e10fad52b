// Single-precision GEMM: C = alpha * op(A) * op(B) + beta * C, row-major, with packing and a register-tiled
// SIMD micro-kernel. The scalar reference (GemmReference) is the specification the fast path is tested against.
using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace AdvVis.Kernels;

public static partial class Kernels
{
    // Micro-tile: MR rows x NR columns of C live in registers (6 x 2 Vector256 = 12 accumulators).
    private const int MR = 6;
    private const int NR = 16;
    // Cache blocking: a KC x NR panel of B stays in L1, an MC x KC block of A in L2.
    private const int KC = 256;
    private const int MC = 72;

    /// <summary>
    /// C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C. lda/ldb/ldc are row strides of the stored matrices.
    /// Every C element's sum over K runs in the same order whatever the thread count (deterministic).
    /// </summary>
    public static void Gemm(bool transA, bool transB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc)
    {
        if (m == 0 || n == 0) return;
        if (beta != 1f)
        {
            for (int i = 0; i < m; i++)
            {
                var row = c.Slice(i * ldc, n);
                if (beta == 0f) row.Clear();
                else System.Numerics.Tensors.TensorPrimitives.Multiply(row, beta, row);
            }
        }
        if (k == 0 || alpha == 0f) return;
        unsafe
        {
            fixed (float* pa = a, pb = b, pc = c)
            {
                GemmCore(transA, transB, m, n, k, alpha, pa, lda, pb, ldb, pc, ldc);
            }
        }
    }

    private static unsafe void GemmCore(bool transA, bool transB, int m, int n, int k, float alpha,
        float* a, int lda, float* b, int ldb, float* c, int ldc)
    {
        int nPanels = (n + NR - 1) / NR;
        int mBlocks = (m + MC - 1) / MC;
        nint pa = (nint)a, pb = (nint)b, pc = (nint)c;
        var packedB = ArrayPool<float>.Shared.Rent(KC * nPanels * NR);
        try
        {
            for (int k0 = 0; k0 < k; k0 += KC)
            {
                int kc = Math.Min(KC, k - k0);
                fixed (float* pPackedB = packedB)
                {
                    PackB(transB, (float*)pb, ldb, k0, kc, n, pPackedB);
                }
                // Split over blocks of rows and, when M is small, over column panels too, so both cores work.
                int nChunks = mBlocks >= Parallelism.MaxThreads ? 1 : Math.Min(nPanels, Parallelism.MaxThreads * 2);
                int panelsPerChunk = (nPanels + nChunks - 1) / nChunks;
                long work = (long)m * n * kc;
                Parallelism.For(mBlocks * nChunks, work, job =>
                {
                    int mb = job / nChunks, chunk = job % nChunks;
                    int m0 = mb * MC, mc = Math.Min(MC, m - m0);
                    int p0 = chunk * panelsPerChunk, p1 = Math.Min(nPanels, p0 + panelsPerChunk);
                    if (p0 >= p1) return;
                    var packedA = ArrayPool<float>.Shared.Rent(MC * KC + MR * KC);
                    try
                    {
                        fixed (float* pPackedA = packedA, pPackedB = packedB)
                        {
                            PackA(transA, (float*)pa, lda, m0, mc, k0, kc, pPackedA);
                            for (int p = p0; p < p1; p++)
                            {
                                int j0 = p * NR, nr = Math.Min(NR, n - j0);
                                for (int i0 = 0; i0 < mc; i0 += MR)
                                {
                                    int mr = Math.Min(MR, mc - i0);
                                    MicroKernel(kc, alpha, pPackedA + i0 * kc, pPackedB + p * NR * kc,
                                        (float*)pc + (m0 + i0) * (nint)ldc + j0, ldc, mr, nr);
                                }
                            }
                        }
                    }
                    finally { ArrayPool<float>.Shared.Return(packedA); }
                });
            }
        }
        finally { ArrayPool<float>.Shared.Return(packedB); }
    }

    /// <summary>Packs rows [m0, m0+mc) x cols [k0, k0+kc) of op(A) into MR-row panels, k-major, zero-padded.</summary>
    private static unsafe void PackA(bool transA, float* a, int lda, int m0, int mc, int k0, int kc, float* dst)
    {
        for (int i0 = 0; i0 < mc; i0 += MR)
        {
            int mr = Math.Min(MR, mc - i0);
            float* panel = dst + i0 * kc;
            for (int kk = 0; kk < kc; kk++)
            {
                for (int r = 0; r < MR; r++)
                {
                    int row = m0 + i0 + r;
                    panel[kk * MR + r] = r < mr
                        ? (transA ? a[(nint)(k0 + kk) * lda + row] : a[(nint)row * lda + k0 + kk])
                        : 0f;
                }
            }
        }
    }

    /// <summary>Packs rows [k0, k0+kc) of op(B) into NR-column panels, k-major, zero-padded.</summary>
    private static unsafe void PackB(bool transB, float* b, int ldb, int k0, int kc, int n, float* dst)
    {
        int nPanels = (n + NR - 1) / NR;
        for (int p = 0; p < nPanels; p++)
        {
            int j0 = p * NR, nr = Math.Min(NR, n - j0);
            float* panel = dst + p * NR * kc;
            for (int kk = 0; kk < kc; kk++)
            {
                float* d = panel + kk * NR;
                if (!transB)
                {
                    float* s = b + (nint)(k0 + kk) * ldb + j0;
                    if (nr == NR) Buffer.MemoryCopy(s, d, NR * sizeof(float), NR * sizeof(float));
                    else
                    {
                        for (int j = 0; j < nr; j++) d[j] = s[j];
                        for (int j = nr; j < NR; j++) d[j] = 0f;
                    }
                }
                else
                {
                    for (int j = 0; j < nr; j++) d[j] = b[(nint)(j0 + j) * ldb + k0 + kk];
                    for (int j = nr; j < NR; j++) d[j] = 0f;
                }
            }
        }
    }

    /// <summary>C[mr x nr] += alpha * Apanel[kc x MR]^T * Bpanel[kc x NR], accumulating in registers.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void MicroKernel(int kc, float alpha, float* a, float* b, float* c, int ldc, int mr, int nr)
    {
        if (Vector256.IsHardwareAccelerated && !ForceScalarGemm)
        {
            Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
            Vector256<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
            for (int kk = 0; kk < kc; kk++)
            {
                var b0 = Vector256.Load(b);
                var b1 = Vector256.Load(b + 8);
                var a0 = Vector256.Create(a[0]); c00 = Vector256.FusedMultiplyAdd(a0, b0, c00); c01 = Vector256.FusedMultiplyAdd(a0, b1, c01);
                var a1 = Vector256.Create(a[1]); c10 = Vector256.FusedMultiplyAdd(a1, b0, c10); c11 = Vector256.FusedMultiplyAdd(a1, b1, c11);
                var a2 = Vector256.Create(a[2]); c20 = Vector256.FusedMultiplyAdd(a2, b0, c20); c21 = Vector256.FusedMultiplyAdd(a2, b1, c21);
                var a3 = Vector256.Create(a[3]); c30 = Vector256.FusedMultiplyAdd(a3, b0, c30); c31 = Vector256.FusedMultiplyAdd(a3, b1, c31);
                var a4 = Vector256.Create(a[4]); c40 = Vector256.FusedMultiplyAdd(a4, b0, c40); c41 = Vector256.FusedMultiplyAdd(a4, b1, c41);
                var a5 = Vector256.Create(a[5]); c50 = Vector256.FusedMultiplyAdd(a5, b0, c50); c51 = Vector256.FusedMultiplyAdd(a5, b1, c51);
                a += MR; b += NR;
            }
            float* tile = stackalloc float[MR * NR];
            var va = Vector256.Create(alpha);
            (c00 * va).Store(tile + 0); (c01 * va).Store(tile + 8);
            (c10 * va).Store(tile + 16); (c11 * va).Store(tile + 24);
            (c20 * va).Store(tile + 32); (c21 * va).Store(tile + 40);
            (c30 * va).Store(tile + 48); (c31 * va).Store(tile + 56);
            (c40 * va).Store(tile + 64); (c41 * va).Store(tile + 72);
            (c50 * va).Store(tile + 80); (c51 * va).Store(tile + 88);
            AddTile(tile, c, ldc, mr, nr);
        }
        else
        {
            // Portable path: the same order of operations (one fused multiply-add per k) in scalar code.
            float* tile = stackalloc float[MR * NR];
            for (int t = 0; t < MR * NR; t++) tile[t] = 0f;
            for (int kk = 0; kk < kc; kk++)
            {
                for (int r = 0; r < MR; r++)
                {
                    float av = a[r];
                    for (int j = 0; j < NR; j++) tile[r * NR + j] = MathF.FusedMultiplyAdd(av, b[j], tile[r * NR + j]);
                }
                a += MR; b += NR;
            }
            for (int t = 0; t < MR * NR; t++) tile[t] *= alpha;
            AddTile(tile, c, ldc, mr, nr);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void AddTile(float* tile, float* c, int ldc, int mr, int nr)
    {
        for (int r = 0; r < mr; r++)
        {
            float* crow = c + (nint)r * ldc;
            float* trow = tile + r * NR;
            if (nr == NR && Vector256.IsHardwareAccelerated)
            {
                (Vector256.Load(crow) + Vector256.Load(trow)).Store(crow);
                (Vector256.Load(crow + 8) + Vector256.Load(trow + 8)).Store(crow + 8);
            }
            else
            {
                for (int j = 0; j < nr; j++) crow[j] += trow[j];
            }
        }
    }

    /// <summary>Test hook: forces the portable micro-kernel so both paths can be checked on one machine.</summary>
    public static bool ForceScalarGemm { get; set; }

    /// <summary>The specification: a plain triple loop with double accumulation.</summary>
    public static void GemmReference(bool transA, bool transB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc)
    {
        for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++)
        {
            double sum = 0;
            for (int p = 0; p < k; p++)
            {
                float av = transA ? a[p * lda + i] : a[i * lda + p];
                float bv = transB ? b[j * ldb + p] : b[p * ldb + j];
                sum += (double)av * bv;
            }
            float prior = beta == 0f ? 0f : beta * c[i * ldc + j];
            c[i * ldc + j] = (float)(alpha * sum) + prior;
        }
    }
}
