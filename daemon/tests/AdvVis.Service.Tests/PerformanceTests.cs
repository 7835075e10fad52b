// PerformanceTests: round-trip time of a trivial request over in-memory pipes (no OS involvement), reported through
// the test output. The assertion is only a sanity bound; the number itself is for the report.
using System.Diagnostics;
using System.IO.Pipelines;
using AdvVis.Service.JsonRpc;
using Xunit.Abstractions;

namespace AdvVis.Service.Tests;

public sealed class PerformanceTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Round_trip_time_over_in_memory_pipes()
    {
        var toServer = new Pipe();
        var toClient = new Pipe();
        var endpoint = new Endpoint(toServer.Reader.AsStream(), toClient.Writer.AsStream(), new EndpointOptions { Logger = RpcLogger.Null });
        Task<int> run = endpoint.RunAsync();
        using var writer = new MessageWriter(toServer.Writer.AsStream());
        var reader = new MessageReader(toClient.Reader.AsStream(), int.MaxValue, RpcLogger.Null);

        async Task PingAsync(int id)
        {
            await writer.WriteAsync($$"""{"jsonrpc":"2.0","id":{{id}},"method":"daemon/ping"}""");
            Frame frame = await reader.ReadAsync();
            Assert.Equal(FrameKind.Message, frame.Kind);
        }

        for (int i = 0; i < 200; i++)
        {
            await PingAsync(i);
        }

        double[] samples = new double[1000];
        for (int i = 0; i < samples.Length; i++)
        {
            long start = Stopwatch.GetTimestamp();
            await PingAsync(1000 + i);
            samples[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }

        Array.Sort(samples);
        output.WriteLine($"in-memory daemon/ping RTT: median {samples[500] * 1000:0.0} µs, p95 {samples[950] * 1000:0.0} µs, max {samples[^1]:0.000} ms");
        Assert.True(samples[500] < 20, $"median {samples[500]} ms is implausibly slow");

        toServer.Writer.Complete();
        Assert.Equal(0, await run.WaitAsync(TimeSpan.FromSeconds(10)));
    }
}
