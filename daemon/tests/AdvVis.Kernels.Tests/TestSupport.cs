// Shared by the kernel tests: reproducible random inputs, and a run at a given thread count that restores the setting.
namespace AdvVis.Kernels.Tests;

internal static class TestSupport
{
    /// <summary>n values uniform in [−1, 1) from a seeded generator.</summary>
    public static float[] RandomValues(int n, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
    }

    /// <summary>Runs <paramref name="run"/> with Parallelism.MaxThreads set to <paramref name="threads"/>, then puts it back.</summary>
    public static T WithThreads<T>(int threads, Func<T> run)
    {
        int before = Parallelism.MaxThreads;
        Parallelism.MaxThreads = threads;
        try { return run(); }
        finally { Parallelism.MaxThreads = before; }
    }

    /// <summary>
    /// Runs <paramref name="compute"/> on 1, 2 and 3 threads and with the AVX2 and the portable GEMM micro-kernels
    /// forced (2 threads), and asserts that every run gives the bits of the first.
    /// </summary>
    public static void SameBitsOnEveryThreadCountAndMicroKernel(Func<float[]> compute)
    {
        float[] Run(int threads, bool vector256, bool scalar) => WithThreads(threads, () =>
        {
            Kernels.ForceVector256Gemm = vector256; Kernels.ForceScalarGemm = scalar;
            try { return compute(); }
            finally { Kernels.ForceVector256Gemm = false; Kernels.ForceScalarGemm = false; }
        });
        var one = Run(1, false, false);
        Assert.Equal(one, Run(2, false, false));
        Assert.Equal(one, Run(3, false, false));
        Assert.Equal(one, Run(2, true, false));
        Assert.Equal(one, Run(2, false, true));
    }
}
