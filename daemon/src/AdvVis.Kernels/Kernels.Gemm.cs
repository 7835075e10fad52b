// Single-precision GEMM: C = alpha * op(A) * op(B) + beta * C, row-major, with packing and a register-tiled
// SIMD micro-kernel. The scalar reference (GemmReference) is the specification the fast path is tested against.
using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace AdvVis.Kernels;

public static partial class Kernels
{
    // Micro-tile: MR rows x NR columns of C live in registers (AVX-512: 8 x 2 Vector512 = 16 accumulators;
    // AVX2: the same tile in four 4 x 16 passes; portable: scalar). Every path does one fused multiply-add per k
    // per element in the same order, so all three give bit-identical results.
    private const int MR = 8;
    private const int NR = 32;
    // Cache blocking: a KC x NR panel of B (32 KiB) stays in L1, an MC x KC block of A in L2.
    // KC and MC are fixed (never derived from the thread count): they fix each element's order of summation.
    private const int KC = 256;

    /// <summary>
    /// The GEMM's depth block. Callers that split K into blocks of this size, each added with beta = 1 after a first
    /// beta = 0 call, get exactly the bits of one call over the whole K (the kernel adds per-block sums in order).
    /// </summary>
    public const int DepthBlock = KC;
    private const int MC = 128;

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
        if (m <= SmallRows)
        {
            SmallRowsGemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, c, ldc);
            return;
        }
        unsafe
        {
            fixed (float* pa = a, pb = b, pc = c)
            {
                GemmCore(transA, transB, m, n, k, alpha, pa, lda, pb, ldb, pc, ldc);
            }
        }
    }

    // Up to this many rows of C (a batch-1 or batch-4 fully connected layer) the product is a few matrix-vector
    // products: packing B, which the tiled kernel needs, would cost more than the arithmetic (MobileNetV2's 1280x1000
    // classifier at batch 1: 2.8 ms packed, a tenth of that as dot products).
    private const int SmallRows = 4;

    /// <summary>
    /// C += alpha · op(A) · op(B) for m ≤ SmallRows: dot products against B's rows when B is stored transposed, else
    /// row updates C[i,:] += A[i,k] · B[k,:] in k order. Columns split across threads; each element is computed by one
    /// thread in a fixed order (deterministic).
    /// </summary>
    private static void SmallRowsGemm(bool transA, bool transB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, Span<float> c, int ldc)
    {
        // op(A)'s rows, contiguous.
        var rows = ArrayPool<float>.Shared.Rent(m * k);
        var sums = ArrayPool<float>.Shared.Rent(m * n);
        try
        {
            for (int i = 0; i < m; i++)
            for (int p = 0; p < k; p++)
                rows[i * k + p] = transA ? a[p * lda + i] : a[i * lda + p];
            // Dot products (B transposed) take chunks of 64+ columns; row updates call FusedMultiplyAdd once per depth
            // and chunk, so they take a few wide chunks (MobileNetV2's 1000x1280 input gradient at batch 1: 16 chunks
            // of 80 columns paid 16,000 calls' overhead on 1.3M multiply-adds).
            int chunks = transB ? Math.Min(Math.Max(1, n / 64), 8 * Parallelism.AvailableThreads)
                : Math.Min(Math.Max(1, n / 256), 2 * Parallelism.AvailableThreads);
            unsafe
            {
                fixed (float* pb0 = b)
                {
                    nint pb = (nint)pb0;
                    int bLength = b.Length;
                    Parallelism.For(chunks, (long)m * n * k, chunk =>
                    {
                        int j0 = (int)((long)n * chunk / chunks), j1 = (int)((long)n * (chunk + 1) / chunks);
                        var bs = new ReadOnlySpan<float>((float*)pb, bLength);
                        for (int i = 0; i < m; i++)
                        {
                            var row = rows.AsSpan(i * k, k);
                            var sum = sums.AsSpan(i * n + j0, j1 - j0);
                            if (transB)
                            {
                                for (int j = j0; j < j1; j++) sum[j - j0] = System.Numerics.Tensors.TensorPrimitives.Dot(row, bs.Slice(j * ldb, k));
                                continue;
                            }
                            sum.Clear();
                            for (int p = 0; p < k; p++)
                                System.Numerics.Tensors.TensorPrimitives.FusedMultiplyAdd(bs.Slice(p * ldb + j0, j1 - j0), row[p], sum, sum);
                        }
                    });
                }
            }
            for (int i = 0; i < m; i++)
            {
                var crow = c.Slice(i * ldc, n);
                var sum = sums.AsSpan(i * n, n);
                if (alpha != 1f) System.Numerics.Tensors.TensorPrimitives.Multiply(sum, alpha, sum);
                System.Numerics.Tensors.TensorPrimitives.Add(crow, sum, crow);
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(rows);
            ArrayPool<float>.Shared.Return(sums);
        }
    }

    private static unsafe void GemmCore(bool transA, bool transB, int m, int n, int k, float alpha,
        float* a, int lda, float* b, int ldb, float* c, int ldc)
    {
        int nPanels = (n + NR - 1) / NR;
        int mBlocks = (m + MC - 1) / MC;
        nint pa = (nint)a, pb = (nint)b, pc = (nint)c;
        int threads = Parallelism.AvailableThreads;
        int mPadded = (m + MR - 1) / MR * MR;
        // A block used by a single column panel is read in place rather than packed (batch-1 convolutions: packing
        // would cost as much memory traffic as the product itself).
        bool directA = nPanels == 1 && !transA && Vector512.IsHardwareAccelerated && !ForceScalarGemm && !ForceVector256Gemm;
        var packedB = ArrayPool<float>.Shared.Rent(KC * nPanels * NR);
        // Every row block of A is packed once per depth block and shared by all jobs (column chunks included).
        var packedA = ArrayPool<float>.Shared.Rent(directA ? MR * KC : mPadded * KC);
        try
        {
            fixed (float* pPackedB0 = packedB, pPackedA0 = packedA)
            {
                nint ppb = (nint)pPackedB0, ppa = (nint)pPackedA0;
                for (int k0 = 0; k0 < k; k0 += KC)
                {
                    int kc = Math.Min(KC, k - k0);
                    int packChunks = Math.Min(nPanels, threads);
                    Parallelism.For(packChunks, (long)kc * n * 8, chunk =>
                    {
                        int q0 = (int)((long)nPanels * chunk / packChunks), q1 = (int)((long)nPanels * (chunk + 1) / packChunks);
                        PackB(transB, (float*)pb, ldb, k0, kc, n, q0, q1, (float*)ppb);
                    });
                    if (!directA)
                    {
                        Parallelism.For(mBlocks, (long)m * kc * 8, mb =>
                        {
                            int m0 = mb * MC;
                            PackA(transA, (float*)pa, lda, m0, Math.Min(MC, m - m0), k0, kc, (float*)ppa + (nint)m0 * kc);
                        });
                    }
                    else if (m % MR != 0)
                    {
                        // The last, partial row block still goes through the packed kernel.
                        PackA(transA, (float*)pa, lda, m - m % MR, m % MR, k0, kc, (float*)ppa);
                    }
                    // Split over blocks of rows and, when M is small, over column panels too, so every core works.
                    // (About four jobs per thread when M alone cannot feed them, so the dynamic split stays balanced.)
                    long work = (long)m * n * kc;
                    int nChunks = threads == 1 || work < Parallelism.MinParallelWork || mBlocks >= 2 * threads
                        ? 1 : Math.Min(nPanels, (4 * threads + mBlocks - 1) / mBlocks);
                    Parallelism.For(mBlocks * nChunks, work, job =>
                    {
                        int mb = job / nChunks, chunk = job % nChunks;
                        int m0 = mb * MC, mc = Math.Min(MC, m - m0);
                        int p0 = (int)((long)nPanels * chunk / nChunks), p1 = (int)((long)nPanels * (chunk + 1) / nChunks);
                        if (p0 >= p1) return;
                        if (directA)
                        {
                            int j0 = p0 * NR, nr = Math.Min(NR, n - j0);
                            float* bPanel = (float*)ppb + p0 * NR * kc;
                            for (int i0 = 0; i0 < mc; i0 += MR)
                            {
                                int mr = Math.Min(MR, mc - i0);
                                float* cTile = (float*)pc + (m0 + i0) * (nint)ldc + j0;
                                if (mr == MR)
                                    MicroKernel512(kc, alpha, (float*)pa + (nint)(m0 + i0) * lda + k0, lda, 1, bPanel, cTile, ldc, MR, nr);
                                else
                                    MicroKernel(kc, alpha, (float*)ppa, bPanel, cTile, ldc, mr, nr);
                            }
                            return;
                        }
                        float* blockA = (float*)ppa + (nint)m0 * kc;
                        for (int p = p0; p < p1; p++)
                        {
                            int j0 = p * NR, nr = Math.Min(NR, n - j0);
                            for (int i0 = 0; i0 < mc; i0 += MR)
                            {
                                int mr = Math.Min(MR, mc - i0);
                                MicroKernel(kc, alpha, blockA + i0 * kc, (float*)ppb + p * NR * kc,
                                    (float*)pc + (m0 + i0) * (nint)ldc + j0, ldc, mr, nr);
                            }
                        }
                    });
                }
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(packedB);
            ArrayPool<float>.Shared.Return(packedA);
        }
    }

    /// <summary>Packs rows [m0, m0+mc) x cols [k0, k0+kc) of op(A) into MR-row panels, k-major, zero-padded.</summary>
    private static unsafe void PackA(bool transA, float* a, int lda, int m0, int mc, int k0, int kc, float* dst)
    {
        for (int i0 = 0; i0 < mc; i0 += MR)
        {
            int mr = Math.Min(MR, mc - i0);
            float* panel = dst + i0 * kc;
            if (transA)
            {
                // op(A)[row, kk] = a[kk, row]: each k reads MR consecutive floats.
                for (int kk = 0; kk < kc; kk++)
                {
                    float* s = a + (nint)(k0 + kk) * lda + m0 + i0;
                    float* d = panel + kk * MR;
                    if (mr == MR && Vector256.IsHardwareAccelerated) Vector256.Store(Vector256.Load(s), d);
                    else
                    {
                        int r = 0;
                        for (; r < mr; r++) d[r] = s[r];
                        for (; r < MR; r++) d[r] = 0f;
                    }
                }
            }
            else
            {
                for (int r = 0; r < MR; r++)
                {
                    float* d = panel + r;
                    if (r < mr)
                    {
                        float* s = a + (nint)(m0 + i0 + r) * lda + k0;
                        for (int kk = 0; kk < kc; kk++) d[kk * MR] = s[kk];
                    }
                    else
                    {
                        for (int kk = 0; kk < kc; kk++) d[kk * MR] = 0f;
                    }
                }
            }
        }
    }

    /// <summary>Packs rows [k0, k0+kc) x panels [q0, q1) of op(B) into NR-column panels, k-major, zero-padded.</summary>
    private static unsafe void PackB(bool transB, float* b, int ldb, int k0, int kc, int n, int q0, int q1, float* dst)
    {
        for (int p = q0; p < q1; p++)
        {
            int j0 = p * NR, nr = Math.Min(NR, n - j0);
            float* panel = dst + p * NR * kc;
            if (!transB)
            {
                for (int kk = 0; kk < kc; kk++)
                {
                    float* d = panel + kk * NR;
                    float* s = b + (nint)(k0 + kk) * ldb + j0;
                    if (nr == NR) Buffer.MemoryCopy(s, d, NR * sizeof(float), NR * sizeof(float));
                    else
                    {
                        int j = 0;
                        for (; j < nr; j++) d[j] = s[j];
                        for (; j < NR; j++) d[j] = 0f;
                    }
                }
            }
            else
            {
                // op(B)[kk, j] = b[j, kk]: walk each stored row once, writing a strided column of the panel.
                for (int j = 0; j < NR; j++)
                {
                    float* d = panel + j;
                    if (j < nr)
                    {
                        float* s = b + (nint)(j0 + j) * ldb + k0;
                        for (int kk = 0; kk < kc; kk++) d[kk * NR] = s[kk];
                    }
                    else
                    {
                        for (int kk = 0; kk < kc; kk++) d[kk * NR] = 0f;
                    }
                }
            }
        }
    }

    /// <summary>C[mr x nr] += alpha * Apanel[kc x MR]^T * Bpanel[kc x NR], accumulating in registers.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void MicroKernel(int kc, float alpha, float* a, float* b, float* c, int ldc, int mr, int nr)
    {
        if (Vector512.IsHardwareAccelerated && !ForceScalarGemm && !ForceVector256Gemm)
        {
            MicroKernel512(kc, alpha, a, 1, MR, b, c, ldc, mr, nr);
            return;
        }
        float* tile = stackalloc float[MR * NR];
        if (Vector256.IsHardwareAccelerated && !ForceScalarGemm)
        {
            for (int half = 0; half < NR; half += 16)
            for (int r0 = 0; r0 < MR; r0 += 4)
                MicroKernel256x4(kc, a + r0, b + half, tile + r0 * NR + half);
        }
        else
        {
            // Portable path: the same order of operations (one fused multiply-add per k) in scalar code.
            for (int t = 0; t < MR * NR; t++) tile[t] = 0f;
            for (int kk = 0; kk < kc; kk++)
            {
                for (int r = 0; r < MR; r++)
                {
                    float av = a[kk * MR + r];
                    float* trow = tile + r * NR;
                    float* brow = b + kk * NR;
                    for (int j = 0; j < NR; j++) trow[j] = MathF.FusedMultiplyAdd(av, brow[j], trow[j]);
                }
            }
        }
        if (alpha != 1f) for (int t = 0; t < MR * NR; t++) tile[t] *= alpha;
        AddTile(tile, c, ldc, mr, nr);
    }

    /// <summary>4 rows x 16 columns of the tile with Vector256 (AVX2): 8 accumulators.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void MicroKernel256x4(int kc, float* a, float* b, float* tile)
    {
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default;
        Vector256<float> c20 = default, c21 = default, c30 = default, c31 = default;
        for (int kk = 0; kk < kc; kk++)
        {
            var b0 = Vector256.Load(b);
            var b1 = Vector256.Load(b + 8);
            var a0 = Vector256.Create(a[0]); c00 = Vector256.FusedMultiplyAdd(a0, b0, c00); c01 = Vector256.FusedMultiplyAdd(a0, b1, c01);
            var a1 = Vector256.Create(a[1]); c10 = Vector256.FusedMultiplyAdd(a1, b0, c10); c11 = Vector256.FusedMultiplyAdd(a1, b1, c11);
            var a2 = Vector256.Create(a[2]); c20 = Vector256.FusedMultiplyAdd(a2, b0, c20); c21 = Vector256.FusedMultiplyAdd(a2, b1, c21);
            var a3 = Vector256.Create(a[3]); c30 = Vector256.FusedMultiplyAdd(a3, b0, c30); c31 = Vector256.FusedMultiplyAdd(a3, b1, c31);
            a += MR; b += NR;
        }
        c00.Store(tile); c01.Store(tile + 8);
        c10.Store(tile + NR); c11.Store(tile + NR + 8);
        c20.Store(tile + 2 * NR); c21.Store(tile + 2 * NR + 8);
        c30.Store(tile + 3 * NR); c31.Store(tile + 3 * NR + 8);
    }

    /// <summary>
    /// The whole 8 x 32 tile with Vector512 (AVX-512): 16 accumulators, stored straight into C when full.
    /// A's element (row r, depth kk) is a[r · rowStride + kk · step]: packed slivers (1, MR), or a full 8-row block of
    /// row-major A read in place (lda, 1) when packing would cost as much as the product (batch-1 convolutions).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void MicroKernel512(int kc, float alpha, float* a, int rowStride, int step, float* b, float* c, int ldc, int mr, int nr)
    {
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector512<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        Vector512<float> c60 = default, c61 = default, c70 = default, c71 = default;
        float* r0 = a, r1 = a + rowStride, r2 = a + 2 * (nint)rowStride, r3 = a + 3 * (nint)rowStride;
        float* r4 = a + 4 * (nint)rowStride, r5 = a + 5 * (nint)rowStride, r6 = a + 6 * (nint)rowStride, r7 = a + 7 * (nint)rowStride;
        for (nint o = 0, end = (nint)kc * step; o < end; o += step)
        {
            var b0 = Vector512.Load(b);
            var b1 = Vector512.Load(b + 16);
            var a0 = Vector512.Create(r0[o]); c00 = Vector512.FusedMultiplyAdd(a0, b0, c00); c01 = Vector512.FusedMultiplyAdd(a0, b1, c01);
            var a1 = Vector512.Create(r1[o]); c10 = Vector512.FusedMultiplyAdd(a1, b0, c10); c11 = Vector512.FusedMultiplyAdd(a1, b1, c11);
            var a2 = Vector512.Create(r2[o]); c20 = Vector512.FusedMultiplyAdd(a2, b0, c20); c21 = Vector512.FusedMultiplyAdd(a2, b1, c21);
            var a3 = Vector512.Create(r3[o]); c30 = Vector512.FusedMultiplyAdd(a3, b0, c30); c31 = Vector512.FusedMultiplyAdd(a3, b1, c31);
            var a4 = Vector512.Create(r4[o]); c40 = Vector512.FusedMultiplyAdd(a4, b0, c40); c41 = Vector512.FusedMultiplyAdd(a4, b1, c41);
            var a5 = Vector512.Create(r5[o]); c50 = Vector512.FusedMultiplyAdd(a5, b0, c50); c51 = Vector512.FusedMultiplyAdd(a5, b1, c51);
            var a6 = Vector512.Create(r6[o]); c60 = Vector512.FusedMultiplyAdd(a6, b0, c60); c61 = Vector512.FusedMultiplyAdd(a6, b1, c61);
            var a7 = Vector512.Create(r7[o]); c70 = Vector512.FusedMultiplyAdd(a7, b0, c70); c71 = Vector512.FusedMultiplyAdd(a7, b1, c71);
            b += NR;
        }
        if (alpha != 1f)
        {
            var va = Vector512.Create(alpha);
            c00 *= va; c01 *= va; c10 *= va; c11 *= va; c20 *= va; c21 *= va; c30 *= va; c31 *= va;
            c40 *= va; c41 *= va; c50 *= va; c51 *= va; c60 *= va; c61 *= va; c70 *= va; c71 *= va;
        }
        if (mr == MR && nr == NR)
        {
            Add512(c, c00, c01); Add512(c + ldc, c10, c11); Add512(c + 2 * (nint)ldc, c20, c21); Add512(c + 3 * (nint)ldc, c30, c31);
            Add512(c + 4 * (nint)ldc, c40, c41); Add512(c + 5 * (nint)ldc, c50, c51); Add512(c + 6 * (nint)ldc, c60, c61); Add512(c + 7 * (nint)ldc, c70, c71);
            return;
        }
        float* tile = stackalloc float[MR * NR];
        c00.Store(tile); c01.Store(tile + 16); c10.Store(tile + 32); c11.Store(tile + 48);
        c20.Store(tile + 64); c21.Store(tile + 80); c30.Store(tile + 96); c31.Store(tile + 112);
        c40.Store(tile + 128); c41.Store(tile + 144); c50.Store(tile + 160); c51.Store(tile + 176);
        c60.Store(tile + 192); c61.Store(tile + 208); c70.Store(tile + 224); c71.Store(tile + 240);
        AddTile(tile, c, ldc, mr, nr);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Add512(float* crow, Vector512<float> v0, Vector512<float> v1)
    {
        (Vector512.Load(crow) + v0).Store(crow);
        (Vector512.Load(crow + 16) + v1).Store(crow + 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void AddTile(float* tile, float* c, int ldc, int mr, int nr)
    {
        for (int r = 0; r < mr; r++)
        {
            float* crow = c + (nint)r * ldc;
            float* trow = tile + r * NR;
            int j = 0;
            if (Vector256.IsHardwareAccelerated)
                for (; j + 8 <= nr; j += 8) (Vector256.Load(crow + j) + Vector256.Load(trow + j)).Store(crow + j);
            for (; j < nr; j++) crow[j] += trow[j];
        }
    }

    /// <summary>Test hook: uses the AVX2 (Vector256) micro-kernel even where AVX-512 is available.</summary>
    public static bool ForceVector256Gemm { get; set; }

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
