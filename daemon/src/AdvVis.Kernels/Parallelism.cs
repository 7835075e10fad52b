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
        if (count <= 1 || _maxThreads == 1 || work < MinParallelWork || _insideParallelRegion)
        {
            for (int i = 0; i < count; i++) body(i);
            return;
        }
        // Many small items (one per image plane, say) go in contiguous chunks, a few per thread: a hand-off per item
        // costs about a microsecond, as much as a small plane's work. Which thread runs an item never changes its result.
        int chunks = Math.Min(count, 8 * _maxThreads);
        Parallel.For(0, chunks, Options, chunk =>
        {
            bool outer = _insideParallelRegion;
            _insideParallelRegion = true;
            try
            {
                int end = (int)((long)count * (chunk + 1) / chunks);
                for (int i = (int)((long)count * chunk / chunks); i < end; i++) body(i);
            }
            finally { _insideParallelRegion = outer; }
        });
    }

    /// <summary>
    /// Runs body(start, length) over [0, total) in fixed blocks of 64 Ki elements, in parallel when worthwhile:
    /// for elementwise work whose result does not depend on how the range is cut.
    /// </summary>
    public static void ForRange(int total, Action<int, int> body)
    {
        const int Block = 1 << 16;
        int blocks = (total + Block - 1) / Block;
        if (blocks <= 1) { body(0, total); return; }
        For(blocks, (long)total * 4, i => body(i * Block, Math.Min(Block, total - i * Block)));
    }

    /// <summary>Below this much work (about a flop count) a region runs on the calling thread: a hand-off costs more.</summary>
    public const long MinParallelWork = 1 << 19;

    /// <summary>How many threads a parallel region started here would get: 1 inside another region.</summary>
    public static int AvailableThreads => _insideParallelRegion ? 1 : _maxThreads;

    [ThreadStatic] private static bool _insideParallelRegion;
}
