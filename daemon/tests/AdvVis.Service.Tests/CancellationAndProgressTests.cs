// CancellationAndProgressTests: $/cancelRequest reaching running and queued requests (-32800, endpoint keeps
// serving) and LSP work-done progress: token echo, begin/report/end order, throttling, no token = no notifications.
using System.Diagnostics;
using System.Text.Json;
using AdvVis.Service.JsonRpc;
using AdvVis.Service.Tests.TestHost;
using AdvVis.Service.Tests.TestSupport;

namespace AdvVis.Service.Tests;

public sealed class CancellationAndProgressTests
{
    [Fact]
    public async Task Cancelling_a_running_request_answers_request_cancelled_and_serving_continues()
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        bool sawToken = false;
        await using var client = new RpcTestClient(endpoint =>
            endpoint.Register<string>("test/block", async context =>
            {
                started.SetResult();
                try
                {
                    await Task.Delay(Timeout.Infinite, context.CancellationToken);
                }
                catch (OperationCanceledException ex) when (ex.CancellationToken == context.CancellationToken)
                {
                    sawToken = true;
                    throw;
                }

                return "never";
            }, mutates: false));

        await client.SendAsync(RpcTestClient.Request("c-1", "test/block"));
        await started.Task.WaitAsync(RpcTestClient.DefaultTimeout);
        await client.SendAsync(RpcTestClient.Notification("$/cancelRequest", new { id = "c-1" }));

        JsonElement response = await client.WaitForResponseAsync("\"c-1\"");
        Assert.Equal(JsonRpcErrorCodes.RequestCancelled, ResponseAssert.ErrorCode(response));
        Assert.True(sawToken);
        ResponseAssert.Result(await client.CallAsync("daemon/ping"));
    }

    [Fact]
    public async Task Cancelling_a_request_queued_behind_a_mutation_answers_without_running_it()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        int queuedRuns = 0;
        await using var client = new RpcTestClient(endpoint =>
        {
            endpoint.Register<int>("test/hold", async _ =>
            {
                await release.Task;
                return 1;
            }, mutates: true);
            endpoint.Register<int>("test/afterHold", _ => Task.FromResult(Interlocked.Increment(ref queuedRuns)), mutates: false);
        });

        await client.SendAsync(RpcTestClient.Request(1, "test/hold"));
        await client.SendAsync(RpcTestClient.Request(2, "test/afterHold"));
        await client.SendAsync(RpcTestClient.Notification("$/cancelRequest", new { id = 2 }));

        // The cancel is handled by the receive loop, so it answers although the mutation still holds the queue.
        Assert.Equal(JsonRpcErrorCodes.RequestCancelled, ResponseAssert.ErrorCode(await client.WaitForResponseAsync("2")));
        Assert.False(client.Any(m => m.IsResponse && m.Json.GetProperty("id").GetRawText() == "1"));

        release.SetResult();
        ResponseAssert.Result(await client.WaitForResponseAsync("1"));
        await client.CallAsync("daemon/ping");
        Assert.Equal(0, queuedRuns);
    }

    [Fact]
    public async Task Cancel_for_an_unknown_or_finished_id_is_ignored()
    {
        await using var client = new RpcTestClient(TestMethods.Register);
        ResponseAssert.Result(await client.CallAsync("test/add", new { a = 1, b = 2 }));
        await client.SendAsync(RpcTestClient.Notification("$/cancelRequest", new { id = 1001 }));
        await client.SendAsync(RpcTestClient.Notification("$/cancelRequest", new { nope = true }));
        ResponseAssert.Result(await client.CallAsync("daemon/ping"));
        Assert.Equal(2, client.Received.Count);
    }

    [Fact]
    public async Task Handler_that_ignores_cancellation_still_returns_its_result()
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var client = new RpcTestClient(endpoint =>
            endpoint.Register<string>("test/stubborn", async _ =>
            {
                started.SetResult();
                await release.Task;
                return "done anyway";
            }, mutates: false));
        await client.SendAsync(RpcTestClient.Request(5, "test/stubborn"));
        await started.Task.WaitAsync(RpcTestClient.DefaultTimeout);
        await client.SendAsync(RpcTestClient.Notification("$/cancelRequest", new { id = 5 }));
        await client.CallAsync("daemon/ping"); // the cancel has been processed once this answers
        release.SetResult();
        Assert.Equal("done anyway", ResponseAssert.Result(await client.WaitForResponseAsync("5")).GetString());
    }

    [Theory]
    [InlineData("\"tok-1\"")]
    [InlineData("17")]
    public async Task Progress_notifications_carry_the_token_in_begin_report_end_order_before_the_response(string token)
    {
        await using var client = new RpcTestClient(TestMethods.Register);
        await client.SendAsync($$$"""{"jsonrpc":"2.0","id":1,"method":"test/progress","params":{"steps":4,"delayMilliseconds":70,"workDoneToken":{{{token}}}}}""");
        JsonElement response = await client.WaitForResponseAsync("1");
        Assert.Equal(4, ResponseAssert.Result(response).GetInt32());

        List<ReceivedMessage> all = client.Received.ToList();
        List<JsonElement> progress = all.Where(m => m.Method == "$/progress").Select(m => m.Json.GetProperty("params")).ToList();
        Assert.All(progress, p => Assert.Equal(token, p.GetProperty("token").GetRawText()));
        string[] kinds = progress.Select(p => p.GetProperty("value").GetProperty("kind").GetString()!).ToArray();
        Assert.Equal("begin", kinds.First());
        Assert.Equal("end", kinds.Last());
        Assert.Equal(4, kinds.Count(k => k == "report")); // 70 ms apart: none throttled
        Assert.Equal("Testing progress", progress[0].GetProperty("value").GetProperty("title").GetString());
        Assert.Equal(100, progress[^2].GetProperty("value").GetProperty("percentage").GetInt32());
        Assert.Equal("done", progress[^1].GetProperty("value").GetProperty("message").GetString());

        int responseIndex = all.FindIndex(m => m.IsResponse);
        Assert.True(all.FindLastIndex(m => m.Method == "$/progress") < responseIndex, "progress arrived after the response");
    }

    [Fact]
    public async Task Reports_are_throttled_and_the_newest_suppressed_one_is_flushed_when_the_window_closes()
    {
        // The handler drives a manual clock between reports, so the expected notifications are exact.
        var clock = new ManualTimeProvider();
        TimeSpan ms(int n) => TimeSpan.FromMilliseconds(n);
        await using var client = new RpcTestClient(endpoint =>
            endpoint.Register<JsonElement, int>("test/throttled", (_, context) =>
            {
                context.BeginProgress("throttled");   // t=0    begin (never throttled)
                context.ReportProgress("a");           // t=0    within 50 ms of begin: held
                clock.Advance(ms(10));
                context.ReportProgress("b");           // t=10   replaces a
                clock.Advance(ms(40));                 // t=50   window closes: b flushed
                context.ReportProgress("c");           // t=50   held
                clock.Advance(ms(60));                 // t=100  c flushed
                clock.Advance(ms(20));
                for (int i = 0; i < 100; i++)
                {
                    context.ReportProgress($"flood{i}");  // t=120  all held, each replacing the previous
                }

                clock.Advance(ms(30));                 // t=150  flood99 flushed
                clock.Advance(ms(200));
                context.ReportProgress("d");           // t=350  window long closed: sent at once
                context.ReportProgress("e");           // t=350  held ...
                context.EndProgress("fin");            //        ... and superseded by end
                clock.Advance(ms(500));                // no late flush after end
                return Task.FromResult(0);
            }, mutates: false), new EndpointOptions { TimeProvider = clock });

        await client.SendAsync("""{"jsonrpc":"2.0","id":1,"method":"test/throttled","params":{"workDoneToken":"t"}}""");
        ResponseAssert.Result(await client.WaitForResponseAsync("1"));

        string[] sent = client.Received.Where(m => m.Method == "$/progress")
            .Select(m => m.Json.GetProperty("params").GetProperty("value"))
            .Select(v => v.GetProperty("kind").GetString() + ":" + (v.TryGetProperty("message", out JsonElement msg) ? msg.GetString() : v.GetProperty("title").GetString()))
            .ToArray();
        Assert.Equal(["begin:throttled", "report:b", "report:c", "report:flood99", "report:d", "end:fin"], sent);
    }

    [Fact]
    public async Task A_suppressed_report_is_flushed_by_the_real_timer()
    {
        RpcTestClient client = null!;
        client = new RpcTestClient(endpoint =>
            endpoint.Register<JsonElement, bool>("test/trailing", async (_, context) =>
            {
                context.BeginProgress("trailing");
                context.ReportProgress("held", 42); // right after begin: throttled, must arrive via the timer
                var waited = Stopwatch.StartNew();
                while (!client.Any(m => m.Method == "$/progress" && m.Json.GetRawText().Contains("held")) && waited.Elapsed < RpcTestClient.DefaultTimeout)
                {
                    await Task.Delay(5);
                }

                return waited.Elapsed < RpcTestClient.DefaultTimeout;
            }, mutates: false));
        await using (client)
        {
            await client.SendAsync("""{"jsonrpc":"2.0","id":1,"method":"test/trailing","params":{"workDoneToken":7}}""");
            Assert.True(ResponseAssert.Result(await client.WaitForResponseAsync("1")).GetBoolean(), "the held report was never flushed");
        }
    }

    [Fact]
    public async Task Without_a_token_no_progress_is_sent_and_unended_progress_is_closed()
    {
        await using var client = new RpcTestClient(endpoint =>
            endpoint.Register<JsonElement, bool>("test/forgetful", (_, context) =>
            {
                context.BeginProgress("x");
                context.ReportProgress("y", 10);
                return Task.FromResult(context.CanReportProgress); // never calls EndProgress
            }, mutates: false));

        Assert.False(ResponseAssert.Result(await client.CallAsync("test/forgetful", new { })).GetBoolean());
        Assert.DoesNotContain(client.Received, m => m.Method == "$/progress");

        await client.SendAsync("""{"jsonrpc":"2.0","id":"p","method":"test/forgetful","params":{"workDoneToken":"w"}}""");
        Assert.True(ResponseAssert.Result(await client.WaitForResponseAsync("\"p\"")).GetBoolean());
        string[] kinds = client.Received.Where(m => m.Method == "$/progress")
            .Select(m => m.Json.GetProperty("params").GetProperty("value").GetProperty("kind").GetString()!).ToArray();
        Assert.Equal("begin", kinds[0]);
        Assert.Equal("end", kinds[^1]);
    }

    [Fact]
    public async Task Server_notifications_can_be_sent_from_handlers()
    {
        await using var client = new RpcTestClient(endpoint =>
            endpoint.Register<int>("test/announce", async context =>
            {
                await context.Endpoint.NotifyAsync("daemon/log", new { message = "hello ✓" });
                return 1;
            }, mutates: false));
        await client.CallAsync("test/announce");
        ReceivedMessage log = await client.WaitForAsync(m => m.Method == "daemon/log", "daemon/log");
        Assert.Equal("hello ✓", log.Json.GetProperty("params").GetProperty("message").GetString());
    }
}
