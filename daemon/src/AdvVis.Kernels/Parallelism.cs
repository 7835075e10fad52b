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
        if (Team.TryRun(chunks, _maxThreads, chunk => RunChunk(chunk, chunks, count, body))) return;
        // The team is busy with another caller's region: a concurrent request, which already has a thread of its own
        // (the daemon's request workers). It runs this region on that thread rather than flood the thread pool, which
        // the daemon's bookkeeping (responses, cancels) needs free.
        RunChunk(0, 1, count, body);
    }

    private static void RunChunk(int chunk, int chunks, int count, Action<int> body)
    {
        bool outer = _insideParallelRegion;
        _insideParallelRegion = true;
        try
        {
            int end = (int)((long)count * (chunk + 1) / chunks);
            for (int i = (int)((long)count * chunk / chunks); i < end; i++) body(i);
        }
        finally { _insideParallelRegion = outer; }
    }

    /// <summary>
    /// A fork-join team: dedicated worker threads that spin briefly between regions before they sleep, so the many
    /// short regions of a batch-1 pass (a few hundred microseconds each) start in about a microsecond instead of waking
    /// thread-pool threads (tens of microseconds, often more than the region's work). The caller works too. One region
    /// at a time; a second concurrent caller is told to use the thread pool instead.
    /// </summary>
    private static class Team
    {
        // How long an idle worker keeps polling for the next region before it blocks (about 50 µs: SpinWait(1) is
        // normalised by the runtime to a few tens of nanoseconds).
        private const int SpinIterations = 1500;

        private static readonly object Gate = new();
        private static readonly List<Thread> Workers = [];
        // One wake-up signal per worker, so a region wakes exactly the workers it waits for.
        private static readonly List<SemaphoreSlim> Wake = [];
        private static Action<int>? _job;
        private static int _chunks, _next, _helpers, _working;
        private static volatile int _generation;
        private static Exception? _failure;

        public static bool TryRun(int chunks, int threads, Action<int> job)
        {
            if (!Monitor.TryEnter(Gate)) return false;
            try
            {
                int helpers = Math.Min(threads, chunks) - 1;
                while (Workers.Count < helpers) StartWorker();
                _job = job; _chunks = chunks; _next = 0; _failure = null;
                _helpers = helpers;
                _working = helpers;
                Interlocked.Increment(ref _generation);
                // Sleeping workers need a signal; spinning ones see the generation change first and take none.
                for (int i = 0; i < helpers; i++) Wake[i].Release();
                Work(job);
                var spin = new SpinWait();
                while (Volatile.Read(ref _working) > 0) spin.SpinOnce(-1);
                _job = null;
                // Signals no worker took (they were spinning) are drained so they cannot wake anyone later.
                for (int i = 0; i < helpers; i++) while (Wake[i].Wait(0)) { }
                if (_failure is { } e) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(e);
                return true;
            }
            finally { Monitor.Exit(Gate); }
        }

        private static void Work(Action<int> job)
        {
            int chunk;
            while ((chunk = Interlocked.Increment(ref _next) - 1) < _chunks)
            {
                try { job(chunk); }
                catch (Exception e) { Interlocked.CompareExchange(ref _failure, e, null); }
            }
        }

        private static void StartWorker()
        {
            int index = Workers.Count;
            // The generation before the region being started: read here, not in the new thread, which may first run
            // after that region has begun (it would then never see it start, and the region would wait forever).
            int seen = _generation;
            var wake = new SemaphoreSlim(0);
            var thread = new Thread(() => WorkerLoop(index, seen, wake)) { IsBackground = true, Name = $"AdvVis kernel worker {index + 1}" };
            Workers.Add(thread);
            Wake.Add(wake);
            thread.Start();
        }

        private static void WorkerLoop(int index, int seen, SemaphoreSlim wake)
        {
            while (true)
            {
                // Poll for a new region for a while, then sleep until one is signalled.
                int spins = 0;
                while (_generation == seen && spins++ < SpinIterations) Thread.SpinWait(1);
                if (_generation == seen) wake.Wait();
                int generation = _generation;
                if (generation == seen) continue;
                seen = generation;
                var job = _job;
                // Only the first _helpers workers take part; the region waits for exactly that many.
                if (job is null || index >= _helpers) continue;
                Work(job);
                Interlocked.Decrement(ref _working);
            }
        }
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
