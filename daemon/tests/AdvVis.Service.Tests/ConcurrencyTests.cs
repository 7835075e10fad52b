// ConcurrencyTests: the reader/writer ordering. Read-only requests must overlap (checked with a rendezvous plus
// Stopwatch intervals, so a serial implementation fails instead of passing slowly); mutating requests must run alone
// and in arrival order, and read-only requests that arrive after a mutation must not start before it ends.
using System.Collections.Concurrent;
using System.Diagnostics;
using AdvVis.Service.JsonRpc;
using AdvVis.Service.Tests.TestSupport;

namespace AdvVis.Service.Tests;

public sealed class ConcurrencyTests
{
    private sealed record Interval(string Name, long Start, long End)
    {
        public bool Overlaps(Interval other) => Start < other.End && other.Start < End;
    }

    private sealed record NamedParams(string Name, int Milliseconds);

    /// <summary>Registers "read" and "write" handlers that record their [start, end] interval.</summary>
    private static Action<Endpoint> RecordingHandlers(ConcurrentBag<Interval> intervals, ConcurrentQueue<string> startOrder) => endpoint =>
    {
        async Task<string> Run(NamedParams p)
        {
            long start = Stopwatch.GetTimestamp();
            startOrder.Enqueue(p.Name);
            await Task.Delay(p.Milliseconds);
            intervals.Add(new Interval(p.Name, start, Stopwatch.GetTimestamp()));
            return p.Name;
        }

        endpoint.Register<NamedParams, string>("test/read", (p, _) => Run(p), mutates: false);
        endpoint.Register<NamedParams, string>("test/write", (p, _) => Run(p), mutates: true);
    };

    [Fact]
    public async Task Two_slow_read_only_requests_overlap()
    {
        // Each handler waits until both have started: a serialising endpoint can never satisfy that and times out.
        var bothStarted = new CountdownEvent(2);
        var intervals = new ConcurrentBag<Interval>();
        await using var client = new RpcTestClient(endpoint =>
            endpoint.Register<NamedParams, bool>("test/rendezvous", async (p, _) =>
            {
                long start = Stopwatch.GetTimestamp();
                bothStarted.Signal();
                bool met = await Task.Run(() => bothStarted.Wait(TimeSpan.FromSeconds(5)));
                await Task.Delay(p.Milliseconds);
                intervals.Add(new Interval(p.Name, start, Stopwatch.GetTimestamp()));
                return met;
            }, mutates: false));

        await client.SendAsync(RpcTestClient.Request(1, "test/rendezvous", new { name = "a", milliseconds = 100 }));
        await client.SendAsync(RpcTestClient.Request(2, "test/rendezvous", new { name = "b", milliseconds = 100 }));
        Assert.True(ResponseAssert.Result(await client.WaitForResponseAsync("1")).GetBoolean());
        Assert.True(ResponseAssert.Result(await client.WaitForResponseAsync("2")).GetBoolean());

        Interval[] both = intervals.ToArray();
        Assert.Equal(2, both.Length);
        Assert.True(both[0].Overlaps(both[1]), "read-only requests did not run concurrently");
    }

    [Fact]
    public async Task Mutating_request_runs_alone_between_the_reads_around_it()
    {
        var intervals = new ConcurrentBag<Interval>();
        var startOrder = new ConcurrentQueue<string>();
        await using var client = new RpcTestClient(RecordingHandlers(intervals, startOrder));

        // r1, r2 before the write; w1; r3, r4 after it; w2; r5.
        (int id, string method, string name, int ms)[] script =
        [
            (1, "test/read", "r1", 120), (2, "test/read", "r2", 60), (3, "test/write", "w1", 80),
            (4, "test/read", "r3", 60), (5, "test/read", "r4", 60), (6, "test/write", "w2", 40), (7, "test/read", "r5", 10),
        ];
        foreach (var step in script)
        {
            await client.SendAsync(RpcTestClient.Request(step.id, step.method, new { name = step.name, milliseconds = step.ms }));
        }

        foreach (var step in script)
        {
            ResponseAssert.Result(await client.WaitForResponseAsync(step.id.ToString()));
        }

        Dictionary<string, Interval> byName = intervals.ToDictionary(i => i.Name);
        foreach (string write in new[] { "w1", "w2" })
        {
            foreach (Interval other in byName.Values.Where(i => i.Name != write))
            {
                Assert.False(byName[write].Overlaps(other), $"{write} overlapped {other.Name}");
            }
        }

        Assert.True(byName["w1"].Start >= byName["r1"].End && byName["w1"].Start >= byName["r2"].End, "w1 started before earlier reads ended");
        Assert.True(byName["r3"].Start >= byName["w1"].End && byName["r4"].Start >= byName["w1"].End, "a later read started before w1 ended");
        Assert.True(byName["r3"].Overlaps(byName["r4"]), "reads between the writes should still overlap");
        Assert.True(byName["w2"].Start >= byName["r4"].End && byName["r5"].Start >= byName["w2"].End);
        Assert.True(byName["r1"].Overlaps(byName["r2"]));
    }

    [Fact]
    public async Task Mutating_requests_run_one_at_a_time_in_arrival_order()
    {
        var applied = new List<int>();
        int active = 0;
        int maxActive = 0;
        var random = new Random(1234);
        int[] delays = Enumerable.Range(0, 30).Select(_ => random.Next(0, 15)).ToArray();
        await using var client = new RpcTestClient(endpoint =>
            endpoint.Register<NamedParams, int>("test/append", async (p, _) =>
            {
                int now = Interlocked.Increment(ref active);
                InterlockedMax(ref maxActive, now);
                int index = int.Parse(p.Name);
                await Task.Delay(delays[index]); // random work time: an unordered implementation would reorder
                lock (applied)
                {
                    applied.Add(index);
                }

                Interlocked.Decrement(ref active);
                return index;
            }, mutates: true));

        for (int i = 0; i < delays.Length; i++)
        {
            await client.SendAsync(RpcTestClient.Request(i, "test/append", new { name = i.ToString(), milliseconds = 0 }));
        }

        for (int i = 0; i < delays.Length; i++)
        {
            await client.WaitForResponseAsync(i.ToString());
        }

        Assert.Equal(Enumerable.Range(0, delays.Length), applied);
        Assert.Equal(1, maxActive);
    }

    [Fact]
    public async Task Many_read_only_requests_run_in_parallel()
    {
        const int count = 20;
        int active = 0;
        int maxActive = 0;
        await using var client = new RpcTestClient(endpoint =>
            endpoint.Register<int>("test/slowRead", async _ =>
            {
                InterlockedMax(ref maxActive, Interlocked.Increment(ref active));
                await Task.Delay(150);
                Interlocked.Decrement(ref active);
                return 1;
            }, mutates: false));

        var clock = Stopwatch.StartNew();
        for (int i = 0; i < count; i++)
        {
            await client.SendAsync(RpcTestClient.Request(i, "test/slowRead"));
        }

        for (int i = 0; i < count; i++)
        {
            await client.WaitForResponseAsync(i.ToString());
        }

        Assert.True(maxActive > 1, $"max concurrency was {maxActive}");
        Assert.True(clock.Elapsed < TimeSpan.FromMilliseconds(150 * count / 2.0), $"took {clock.ElapsedMilliseconds} ms; serial would be {150 * count} ms");
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int current;
        while (value > (current = Volatile.Read(ref target)) && Interlocked.CompareExchange(ref target, value, current) != current)
        {
        }
    }
}
