// The fork-join team behind Parallelism.For: every index runs exactly once, whatever the thread count (changed between
// regions), with several callers at once, nested regions, and an exception surfacing in the caller.
namespace AdvVis.Kernels.Tests;

public class ParallelismTests
{
    [Fact]
    public void EveryIndexRunsOnceAcrossThreadCountsAndConcurrentCallers()
    {
        int before = Parallelism.MaxThreads;
        try
        {
            foreach (int threads in new[] { 2, 4, 1, 3, 2 })
            {
                Parallelism.MaxThreads = threads;
                // Three callers at once: one gets the team, the others the thread pool; all must finish correctly.
                var callers = Enumerable.Range(0, 3).Select(c => Task.Run(() =>
                {
                    for (int region = 0; region < 200; region++)
                    {
                        int count = 1 + (region * 7 + c) % 97;
                        var hits = new int[count];
                        Parallelism.For(count, Parallelism.MinParallelWork, i =>
                        {
                            Interlocked.Increment(ref hits[i]);
                            // A nested region runs inline on whichever thread is here.
                            Parallelism.For(2, Parallelism.MinParallelWork, _ => { });
                        });
                        Assert.All(hits, h => Assert.Equal(1, h));
                    }
                })).ToArray();
                Assert.True(Task.WaitAll(callers, TimeSpan.FromMinutes(2)), $"regions did not finish with {threads} threads");
            }
        }
        finally { Parallelism.MaxThreads = before; }
    }

    [Fact]
    public void AnExceptionInABodyReachesTheCaller()
    {
        int before = Parallelism.MaxThreads;
        Parallelism.MaxThreads = 2;
        try
        {
            var error = Record.Exception(() => Parallelism.For(64, Parallelism.MinParallelWork, i =>
            {
                if (i == 40) throw new InvalidOperationException("body failed");
            }));
            // The team rethrows the body's exception; the thread-pool fallback wraps it.
            var inner = error is AggregateException aggregate ? aggregate.InnerExceptions.Single() : error;
            Assert.IsType<InvalidOperationException>(inner);
            // And the team still works afterwards.
            var hits = new int[64];
            Parallelism.For(64, Parallelism.MinParallelWork, i => hits[i]++);
            Assert.All(hits, h => Assert.Equal(1, h));
        }
        finally { Parallelism.MaxThreads = before; }
    }
}
