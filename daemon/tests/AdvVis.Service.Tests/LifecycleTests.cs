// LifecycleTests: shutdown/exit per LSP, end of input, and what happens to requests still running at that moment.
using AdvVis.Service.JsonRpc;
using AdvVis.Service.Tests.TestHost;
using AdvVis.Service.Tests.TestSupport;

namespace AdvVis.Service.Tests;

public sealed class LifecycleTests
{
    [Fact]
    public async Task Shutdown_answers_null_then_rejects_requests_and_exit_returns_zero()
    {
        await using var client = new RpcTestClient(TestMethods.Register);
        var response = await client.CallAsync("shutdown");
        Assert.Equal(System.Text.Json.JsonValueKind.Null, ResponseAssert.Result(response).ValueKind);
        Assert.True(client.Endpoint.IsShuttingDown);

        var rejected = await client.CallAsync("daemon/ping");
        Assert.Equal(JsonRpcErrorCodes.InvalidRequest, ResponseAssert.ErrorCode(rejected));
        Assert.Contains("server is shutting down", ResponseAssert.ErrorMessage(rejected));

        await client.SendAsync(RpcTestClient.Notification("exit"));
        Assert.Equal(EndpointExitCodes.Success, await client.RunTask.WaitAsync(RpcTestClient.DefaultTimeout));
    }

    [Fact]
    public async Task Shutdown_waits_for_earlier_requests()
    {
        await using var client = new RpcTestClient(TestMethods.Register);
        await client.SendAsync(RpcTestClient.Request(1, "test/wait", new { milliseconds = 200 }));
        await client.SendAsync(RpcTestClient.Request(2, "shutdown"));
        ReceivedMessage first = await client.WaitForAsync(m => m.IsResponse, "first response");
        Assert.Equal("1", first.Json.GetProperty("id").GetRawText());
        await client.WaitForResponseAsync("2");
    }

    [Fact]
    public async Task Exit_without_shutdown_returns_one()
    {
        await using var client = new RpcTestClient();
        await client.SendAsync(RpcTestClient.Notification("exit"));
        Assert.Equal(EndpointExitCodes.ExitWithoutShutdown, await client.RunTask.WaitAsync(RpcTestClient.DefaultTimeout));
    }

    [Fact]
    public async Task End_of_input_ends_run_with_zero()
    {
        await using var client = new RpcTestClient();
        ResponseAssert.Result(await client.CallAsync("daemon/ping"));
        client.CloseInput();
        Assert.Equal(EndpointExitCodes.Success, await client.RunTask.WaitAsync(RpcTestClient.DefaultTimeout));
    }

    [Fact]
    public async Task End_of_input_lets_in_flight_requests_finish_within_the_drain_timeout()
    {
        await using var client = new RpcTestClient(TestMethods.Register, new EndpointOptions { DrainTimeout = TimeSpan.FromSeconds(5) });
        await client.SendAsync(RpcTestClient.Request(1, "test/wait", new { milliseconds = 150 }));
        client.CloseInput();
        Assert.Equal("waited", ResponseAssert.Result(await client.WaitForResponseAsync("1")).GetString());
        Assert.Equal(0, await client.RunTask.WaitAsync(RpcTestClient.DefaultTimeout));
    }

    [Fact]
    public async Task Exit_cancels_in_flight_requests_promptly()
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var observedCancel = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var client = new RpcTestClient(endpoint =>
            endpoint.Register<int>("test/forever", async context =>
            {
                started.SetResult();
                context.CancellationToken.Register(() => observedCancel.TrySetResult());
                await Task.Delay(Timeout.Infinite, context.CancellationToken);
                return 0;
            }, mutates: false));

        await client.SendAsync(RpcTestClient.Request(1, "test/forever"));
        await started.Task.WaitAsync(RpcTestClient.DefaultTimeout);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await client.SendAsync(RpcTestClient.Notification("exit"));
        Assert.Equal(EndpointExitCodes.ExitWithoutShutdown, await client.RunTask.WaitAsync(RpcTestClient.DefaultTimeout));
        await observedCancel.Task.WaitAsync(RpcTestClient.DefaultTimeout);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), $"exit took {clock.ElapsedMilliseconds} ms");
    }

    [Fact]
    public async Task Cancelling_the_host_token_stops_the_loop()
    {
        var input = new System.IO.Pipelines.Pipe();
        var endpoint = new Endpoint(input.Reader.AsStream(), Stream.Null, new EndpointOptions { Logger = RpcLogger.Null });
        using var cts = new CancellationTokenSource();
        Task<int> run = endpoint.RunAsync(cts.Token);
        await cts.CancelAsync();
        Assert.Equal(0, await run.WaitAsync(RpcTestClient.DefaultTimeout));
    }
}
