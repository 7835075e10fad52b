// AdvVis.Kernels: Span<float> in, Span<float> out. Matrix multiply, convolution lowering and their backward helpers.
// This project knows nothing about graphs, ONNX or JSON.
namespace AdvVis.Kernels;

/// <summary>
/// How many threads kernels may use. Work is always split so that each output element is computed by one thread
/// in a fixed order, so results are bit-identical for any thread count.
/// </summary>
public static class Parallelism
{
    private static int _maxThreads = Environment.ProcessorCount;

    public static int MaxThreads
    {
        get => _maxThreads;
        set => _maxThreads = value < 1 ? 1 : value;
    }

    internal static ParallelOptions Options => new() { MaxDegreeOfParallelism = _maxThreads };

    /// <summary>Runs body(i) for i in [0, count), in parallel when worthwhile (work = rough flop count).</summary>
    public static void For(int count, long work, Action<int> body)
    {
        // Nested parallel regions run sequentially: the outer split already keeps every core busy.
        if (count <= 1 || _maxThreads == 1 || work < 1 << 16 || _insideParallelRegion)
        {
            for (int i = 0; i < count; i++) body(i);
            return;
        }
        Parallel.For(0, count, Options, i =>
        {
            bool outer = _insideParallelRegion;
            _insideParallelRegion = true;
            try { body(i); }
            finally { _insideParallelRegion = outer; }
        });
    }

    [ThreadStatic] private static bool _insideParallelRegion;
}
