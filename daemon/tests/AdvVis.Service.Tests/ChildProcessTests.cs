// ChildProcessTests: the real stdio host in a child process: protocol over OS pipes, stdout kept clean of stray
// Console output, cancellation across the process boundary, exit codes, and the round-trip time of a trivial request.
using System.Diagnostics;
using System.Text.Json;
using AdvVis.Service.JsonRpc;
using AdvVis.Service.Tests.TestSupport;
using Xunit.Abstractions;

namespace AdvVis.Service.Tests;

public sealed class ChildProcessTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Stdio_host_serves_requests_and_exits_cleanly()
    {
        using var host = new TestHostProcess();

        JsonElement pong = ResponseAssert.Result(await host.CallAsync(1, "daemon/ping"));
        Assert.True(pong.GetProperty("pong").GetBoolean());

        const string text = "stdio ✓ 日本語 🌍";
        Assert.Equal(text, ResponseAssert.Result(await host.CallAsync("e", "test/echo", new { text })).GetProperty("text").GetString());

        // Console.WriteLine inside a handler must not reach the protocol stream: the next frames must still parse.
        Assert.Equal("stray line", ResponseAssert.Result(await host.CallAsync(2, "test/print", new { text = "stray line" })).GetString());
        ResponseAssert.Result(await host.CallAsync(3, "daemon/ping"));

        await host.Writer.WriteAsync(RpcTestClient.Request(4, "test/wait"));
        await Task.Delay(50);
        await host.Writer.WriteAsync(RpcTestClient.Notification("$/cancelRequest", new { id = 4 }));
        Assert.Equal(JsonRpcErrorCodes.RequestCancelled, ResponseAssert.ErrorCode(await host.ReadResponseAsync()));

        Assert.Equal(JsonValueKind.Null, ResponseAssert.Result(await host.CallAsync(5, "shutdown")).ValueKind);
        await host.Writer.WriteAsync(RpcTestClient.Notification("exit"));
        Assert.True(host.Process.WaitForExit(10_000), "host did not exit");
        Assert.Equal(0, host.Process.ExitCode);
        Assert.Contains("stray line", host.Stderr);
    }

    [Fact]
    public async Task Stdio_host_exits_when_stdin_closes()
    {
        using var host = new TestHostProcess();
        ResponseAssert.Result(await host.CallAsync(1, "daemon/ping"));
        host.Process.StandardInput.Close();
        Assert.True(host.Process.WaitForExit(10_000), "host did not exit on EOF");
        Assert.Equal(0, host.Process.ExitCode);
    }

    [Fact]
    public async Task Round_trip_time_over_a_child_process()
    {
        using var host = new TestHostProcess();
        for (int i = 0; i < 100; i++)
        {
            await host.CallAsync(i, "daemon/ping"); // warm-up: JIT and tiering
        }

        double[] samples = new double[1000];
        for (int i = 0; i < samples.Length; i++)
        {
            long start = Stopwatch.GetTimestamp();
            await host.CallAsync(1000 + i, "daemon/ping");
            samples[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }

        Array.Sort(samples);
        output.WriteLine($"child process daemon/ping RTT: median {samples[500]:0.000} ms, p95 {samples[950]:0.000} ms, max {samples[^1]:0.000} ms");
        Assert.True(samples[500] < 50, $"median {samples[500]} ms is implausibly slow");
    }
}
