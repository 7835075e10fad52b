// WorkerPool: the bounded set of dedicated threads that run handlers, apart from the thread that reads frames. The
// receive loop, cancels and cheap built-ins never wait for a worker, and the thread pool is left to bookkeeping, so
// twenty attacks in flight cannot delay a ping or a $/cancelRequest. Work waits in arrival order; cancelled while it
// waits, it never starts.
using System.Collections.Concurrent;

namespace AdvVis.Service.JsonRpc;

internal sealed class WorkerPool
{
    private readonly BlockingCollection<WorkItem> _queue = new(new ConcurrentQueue<WorkItem>());
    private readonly RpcLogger _log;
    private int _started;

    public WorkerPool(int workers, RpcLogger log)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(workers);
        Count = workers;
        _log = log;
    }

    /// <summary>Starts the worker threads (once; the endpoint calls it when its receive loop starts).</summary>
    public void Start()
    {
        if (Interlocked.Exchange(ref _started, 1) != 0) return;
        for (int i = 0; i < Count; i++)
        {
            var thread = new Thread(() => Work(_log)) { IsBackground = true, Name = $"AdvVis request worker {i + 1}" };
            thread.Start();
        }
    }

    /// <summary>Lets the workers finish what is queued (cancelled work is skipped) and exit.</summary>
    public void Complete() => _queue.CompleteAdding();

    /// <summary>How many requests run at once.</summary>
    public int Count { get; }

    /// <summary>How many items wait for a worker (for diagnostics and tests).</summary>
    public int Queued => _queue.Count;

    /// <summary>
    /// Runs <paramref name="work"/> on a worker when one is free (with the caller's execution context). If
    /// <paramref name="cancellation"/> fires while it waits, the returned task is cancelled at once and the work never
    /// runs; once started, the work observes the token itself.
    /// </summary>
    public Task<T> RunAsync<T>(Func<Task<T>> work, CancellationToken cancellation)
    {
        if (cancellation.IsCancellationRequested) return Task.FromCanceled<T>(cancellation);
        var item = new WorkItem<T>(work, cancellation);
        try
        {
            _queue.Add(item);
        }
        catch (InvalidOperationException)
        {
            return Task.FromException<T>(new OperationCanceledException("The endpoint has stopped."));
        }
        return item.Completion.Task;
    }

    private void Work(RpcLogger log)
    {
        foreach (var item in _queue.GetConsumingEnumerable())
        {
            try
            {
                item.Run();
            }
            catch (Exception e)
            {
                // WorkItem reports the work's own failures through its task; this would be a bug in the pool itself.
                log.Error($"Request worker failed: {e}");
            }
        }
    }

    private abstract class WorkItem
    {
        public abstract void Run();
    }

    private sealed class WorkItem<T> : WorkItem
    {
        private const int Waiting = 0, Started = 1, Cancelled = 2;
        private readonly Func<Task<T>> _work;
        private readonly ExecutionContext? _context = ExecutionContext.Capture();
        private readonly CancellationTokenRegistration _registration;
        private int _state;

        public WorkItem(Func<Task<T>> work, CancellationToken cancellation)
        {
            _work = work;
            _registration = cancellation.Register(() =>
            {
                if (Interlocked.CompareExchange(ref _state, Cancelled, Waiting) == Waiting) Completion.TrySetCanceled(cancellation);
            });
        }

        // Continuations run on the thread pool, never inline on the thread that cancelled (the receive loop).
        public TaskCompletionSource<T> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override void Run()
        {
            if (Interlocked.CompareExchange(ref _state, Started, Waiting) != Waiting) return; // cancelled while queued
            _registration.Dispose();
            if (_context is null) Start(this);
            else ExecutionContext.Run(_context, static self => Start((WorkItem<T>)self!), this);
        }

        private static void Start(WorkItem<T> self)
        {
            Task<T> task;
            try
            {
                task = self._work();
            }
            catch (Exception e)
            {
                task = Task.FromException<T>(e);
            }
            // Synchronous handlers have finished here; asynchronous ones complete the task when they are done.
            task.ContinueWith(static (t, state) =>
            {
                var completion = (TaskCompletionSource<T>)state!;
                if (t.IsCanceled) completion.TrySetCanceled();
                else if (t.IsFaulted) completion.TrySetException(t.Exception!.InnerExceptions);
                else completion.TrySetResult(t.Result);
            }, self.Completion, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
    }
}
