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
}
