// EndpointProtocolTests: JSON-RPC 2.0 semantics of the Endpoint: results, every error code, id echo for number and
// string ids, notifications without responses, batches, built-in methods and params binding messages.
using System.Text;
using System.Text.Json;
using AdvVis.Service.JsonRpc;
using AdvVis.Service.Tests.TestHost;
using AdvVis.Service.Tests.TestSupport;

namespace AdvVis.Service.Tests;

public sealed class EndpointProtocolTests
{
    [Fact]
    public async Task Ping_answers_pong_and_version()
    {
        await using var client = new RpcTestClient(options: new EndpointOptions { ServerVersion = "9.8.7-test" });
        JsonElement result = ResponseAssert.Result(await client.CallAsync("daemon/ping"));
        Assert.True(result.GetProperty("pong").GetBoolean());
        Assert.Equal("9.8.7-test", result.GetProperty("version").GetString());
    }

    [Fact]
    public async Task Methods_lists_registered_and_builtin_methods_with_mutates_flag()
    {
        await using var client = new RpcTestClient(endpoint =>
        {
            endpoint.Register<AddParams, int>("model/load", (p, _) => Task.FromResult(0), mutates: true);
            endpoint.Register<AddParams, int>("model/query", (p, _) => Task.FromResult(0), mutates: false);
            endpoint.RegisterNotification<JsonElement>("model/touched", (_, _) => Task.CompletedTask);
        });
        JsonElement methods = ResponseAssert.Result(await client.CallAsync("daemon/methods")).GetProperty("methods");
        var byName = methods.EnumerateArray().ToDictionary(m => m.GetProperty("name").GetString()!);

        Assert.True(byName["model/load"].GetProperty("mutates").GetBoolean());
        Assert.False(byName["model/query"].GetProperty("mutates").GetBoolean());
        Assert.Equal("notification", byName["model/touched"].GetProperty("kind").GetString());
        Assert.Equal("request", byName["model/query"].GetProperty("kind").GetString());
        Assert.False(byName["model/query"].GetProperty("builtIn").GetBoolean());
        Assert.True(byName["daemon/ping"].GetProperty("builtIn").GetBoolean());
        Assert.True(byName["shutdown"].GetProperty("mutates").GetBoolean());
        Assert.Contains("exit", byName.Keys);
        Assert.Contains("$/cancelRequest", byName.Keys);
        Assert.Equal(byName.Keys.Order(StringComparer.Ordinal), byName.Keys);
    }

    [Theory]
    [InlineData("7")]
    [InlineData("0")]
    [InlineData("-3")]
    [InlineData("9007199254740993")]
    [InlineData("1.5")]
    [InlineData("\"abc\"")]
    [InlineData("\"\"")]
    [InlineData("\"ünï 🌍\"")]
    public async Task Response_echoes_id_with_its_original_type_and_text(string rawId)
    {
        await using var client = new RpcTestClient(TestMethods.Register);
        await client.SendAsync($$$"""{"jsonrpc":"2.0","id":{{{rawId}}},"method":"test/add","params":{"a":2,"b":3}}""");
        JsonElement response = await client.WaitForResponseAsync(rawId);
        Assert.Equal(5, ResponseAssert.Result(response).GetInt32());
        JsonElement sent = JsonDocument.Parse(rawId).RootElement;
        JsonElement echoed = response.GetProperty("id");
        Assert.Equal(sent.ValueKind, echoed.ValueKind);
        if (sent.ValueKind == JsonValueKind.Number)
        {
            Assert.Equal(rawId, echoed.GetRawText()); // numbers keep their exact text: no double rounding of 2^53+1
        }
        else
        {
            Assert.Equal(sent.GetString(), echoed.GetString());
        }
    }

    [Fact]
    public async Task Null_id_is_answered_with_null_id()
    {
        await using var client = new RpcTestClient(TestMethods.Register);
        await client.SendAsync("""{"jsonrpc":"2.0","id":null,"method":"test/add","params":{"a":1,"b":1}}""");
        JsonElement response = await client.WaitForResponseAsync("null");
        Assert.Equal(2, ResponseAssert.Result(response).GetInt32());
    }

    [Theory]
    [InlineData("{not json", JsonRpcErrorCodes.ParseError)]
    [InlineData("", JsonRpcErrorCodes.ParseError)]
    [InlineData("\"just a string\"", JsonRpcErrorCodes.InvalidRequest)]
    [InlineData("42", JsonRpcErrorCodes.InvalidRequest)]
    [InlineData("""{"jsonrpc":"2.0","id":{"nested":1},"method":"daemon/ping"}""", JsonRpcErrorCodes.InvalidRequest)]
    [InlineData("""{"jsonrpc":"2.0","id":true,"method":"daemon/ping"}""", JsonRpcErrorCodes.InvalidRequest)]
    public async Task Unidentifiable_bad_messages_get_an_error_with_null_id(string body, int expectedCode)
    {
        await using var client = new RpcTestClient();
        await client.SendAsync(body);
        JsonElement response = await client.WaitForResponseAsync("null");
        Assert.Equal(expectedCode, ResponseAssert.ErrorCode(response));
        Assert.Equal("2.0", response.GetProperty("jsonrpc").GetString());
    }

    [Theory]
    [InlineData("""{"id":5,"method":"daemon/ping"}""", "jsonrpc")]
    [InlineData("""{"jsonrpc":"1.0","id":5,"method":"daemon/ping"}""", "jsonrpc")]
    [InlineData("""{"jsonrpc":"2.0","id":5}""", "method")]
    [InlineData("""{"jsonrpc":"2.0","id":5,"method":17}""", "method")]
    [InlineData("""{"jsonrpc":"2.0","id":5,"method":"daemon/ping","params":"text"}""", "params")]
    [InlineData("""{"jsonrpc":"2.0","id":5,"method":"daemon/ping","params":3}""", "params")]
    public async Task Invalid_request_keeps_its_id_and_names_the_problem(string body, string mentioned)
    {
        await using var client = new RpcTestClient();
        await client.SendAsync(body);
        JsonElement response = await client.WaitForResponseAsync("5");
        Assert.Equal(JsonRpcErrorCodes.InvalidRequest, ResponseAssert.ErrorCode(response));
        Assert.Contains(mentioned, ResponseAssert.ErrorMessage(response));
    }

    [Fact]
    public async Task Unknown_method_is_method_not_found()
    {
        await using var client = new RpcTestClient(TestMethods.Register);
        JsonElement response = await client.CallAsync("test/doesNotExist");
        Assert.Equal(JsonRpcErrorCodes.MethodNotFound, ResponseAssert.ErrorCode(response));
        Assert.Contains("test/doesNotExist", ResponseAssert.ErrorMessage(response));
    }

    [Theory]
    [InlineData("""{"a":"two","b":3}""", "$.a")]
    [InlineData("""{"a":1}""", "b")]
    [InlineData("""[1,2]""", "positional")]
    public async Task Params_that_do_not_bind_are_invalid_params_naming_the_member(string parameters, string mentioned)
    {
        await using var client = new RpcTestClient(TestMethods.Register);
        await client.SendAsync($$"""{"jsonrpc":"2.0","id":1,"method":"test/add","params":{{parameters}}}""");
        JsonElement response = await client.WaitForResponseAsync("1");
        Assert.Equal(JsonRpcErrorCodes.InvalidParams, ResponseAssert.ErrorCode(response));
        Assert.Contains(mentioned, ResponseAssert.ErrorMessage(response));
        Assert.Contains("test/add", ResponseAssert.ErrorMessage(response));
    }

    [Fact]
    public async Task Null_for_a_non_nullable_string_member_is_invalid_params()
    {
        await using var client = new RpcTestClient(TestMethods.Register);
        JsonElement response = await client.CallAsync("test/echo", new { text = (string?)null });
        Assert.Equal(JsonRpcErrorCodes.InvalidParams, ResponseAssert.ErrorCode(response));
        Assert.Contains("text", ResponseAssert.ErrorMessage(response), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Absent_params_bind_as_empty_object()
    {
        await using var client = new RpcTestClient(endpoint =>
            endpoint.Register<WaitParams, string>("test/optional", (p, _) => Task.FromResult(p.Milliseconds is null ? "none" : "some"), mutates: false));
        Assert.Equal("none", ResponseAssert.Result(await client.CallAsync("test/optional")).GetString());

        await using var strict = new RpcTestClient(TestMethods.Register);
        JsonElement response = await strict.CallAsync("test/echo");
        Assert.Equal(JsonRpcErrorCodes.InvalidParams, ResponseAssert.ErrorCode(response));
        Assert.Contains("params are missing", ResponseAssert.ErrorMessage(response));
    }

    [Fact]
    public async Task Handler_exception_is_internal_error_and_server_keeps_serving()
    {
        await using var client = new RpcTestClient(TestMethods.Register);
        JsonElement response = await client.CallAsync("test/fail");
        Assert.Equal(JsonRpcErrorCodes.InternalError, ResponseAssert.ErrorCode(response));
        Assert.Contains("boom", ResponseAssert.ErrorMessage(response));
        Assert.Equal("System.InvalidOperationException", response.GetProperty("error").GetProperty("data").GetProperty("exceptionType").GetString());
        Assert.Contains("boom", client.Log.ToString());
        ResponseAssert.Result(await client.CallAsync("daemon/ping"));
    }

    [Fact]
    public async Task JsonRpcException_sets_code_message_and_data()
    {
        await using var client = new RpcTestClient(TestMethods.Register);
        JsonElement response = await client.CallAsync("test/rpcError");
        Assert.Equal(JsonRpcErrorCodes.ContentModified, ResponseAssert.ErrorCode(response));
        Assert.Equal("content modified", ResponseAssert.ErrorMessage(response));
        Assert.Equal("test", response.GetProperty("error").GetProperty("data").GetProperty("reason").GetString());
    }

    [Fact]
    public async Task Unicode_round_trips_through_params_and_result()
    {
        await using var client = new RpcTestClient(TestMethods.Register);
        const string text = "héllo 🌍 日本語 \u0000 \"quoted\" \\ ✓";
        JsonElement result = ResponseAssert.Result(await client.CallAsync("test/echo", new { text }));
        Assert.Equal(text, result.GetProperty("text").GetString());
        Assert.Equal(System.Text.Encoding.UTF8.GetByteCount(text), result.GetProperty("utf8Bytes").GetInt32());
    }

    [Fact]
    public async Task Notifications_get_no_response_and_run_their_handler()
    {
        var seen = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var client = new RpcTestClient(endpoint =>
            endpoint.RegisterNotification<EchoParams>("test/notify", (p, context) =>
            {
                Assert.True(context.IsNotification);
                seen.SetResult(p.Text);
                return Task.CompletedTask;
            }));

        await client.SendAsync(RpcTestClient.Notification("test/notify", new { text = "hi" }));
        await client.SendAsync(RpcTestClient.Notification("test/unknown", new { }));
        await client.SendAsync(RpcTestClient.Notification("$/setTrace", new { value = "off" }));
        await client.SendAsync(RpcTestClient.Notification("test/notify", new { wrong = 1 })); // binding fails: logged only
        Assert.Equal("hi", await seen.Task.WaitAsync(RpcTestClient.DefaultTimeout));

        // Ping acts as a sync point: once its answer is here, anything the notifications caused would be here too.
        ResponseAssert.Result(await client.CallAsync("daemon/ping"));
        Assert.Single(client.Received);
        Assert.Contains("Ignoring unknown notification 'test/unknown'", client.Log.ToString());

        // The failing notification runs concurrently with the ping, so poll for its log line.
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!client.Log.ToString().Contains("Notification 'test/notify' rejected: Invalid params") && clock.Elapsed < RpcTestClient.DefaultTimeout)
        {
            await Task.Delay(10);
        }

        Assert.Contains("Notification 'test/notify' rejected: Invalid params", client.Log.ToString());
    }

    [Fact]
    public async Task Batch_is_answered_with_one_error_per_request_element()
    {
        await using var client = new RpcTestClient();
        await client.SendAsync("""[{"jsonrpc":"2.0","id":1,"method":"daemon/ping"},{"jsonrpc":"2.0","method":"note"},{"jsonrpc":"2.0","id":"b","method":"daemon/ping"},5]""");
        ReceivedMessage batchReply = await client.WaitForAsync(m => m.Json.ValueKind == JsonValueKind.Array, "batch reply");
        JsonElement[] replies = batchReply.Json.EnumerateArray().ToArray();
        Assert.Equal(["1", "\"b\"", "null"], replies.Select(r => r.GetProperty("id").GetRawText()));
        Assert.All(replies, r => Assert.Equal(JsonRpcErrorCodes.InvalidRequest, ResponseAssert.ErrorCode(r)));
        Assert.Contains("batch", ResponseAssert.ErrorMessage(replies[0]));

        await client.SendAsync("[]");
        Assert.Equal(JsonRpcErrorCodes.InvalidRequest, ResponseAssert.ErrorCode(await client.WaitForResponseAsync("null")));
    }

    [Fact]
    public async Task Oversize_frame_is_answered_with_invalid_request_for_its_id_and_serving_continues()
    {
        await using var client = new RpcTestClient(TestMethods.Register, new EndpointOptions { MaxFrameBytes = 1024 });
        await client.SendAsync(RpcTestClient.Request(77, "test/echo", new { text = new string('x', 5000) }));
        JsonElement response = await client.WaitForResponseAsync("77");
        Assert.Equal(JsonRpcErrorCodes.InvalidRequest, ResponseAssert.ErrorCode(response));
        Assert.Contains("exceeds the limit", ResponseAssert.ErrorMessage(response));
        ResponseAssert.Result(await client.CallAsync("test/echo", new { text = "small" }));
    }

    [Fact]
    public async Task Malformed_framing_is_survived()
    {
        await using var client = new RpcTestClient();
        await client.SendRawAsync("this is not a header\r\n\r\nContent-Type: x\r\n\r\n{}");
        ResponseAssert.Result(await client.CallAsync("daemon/ping"));
        Assert.Contains("Malformed frame header", client.Log.ToString());
    }

    [Fact]
    public async Task Duplicate_in_flight_id_gets_exactly_one_response_an_error()
    {
        // Two requests under one id: any second response would be ambiguous, so the id gets one error and the earlier
        // request is cancelled (it would otherwise answer too: before the fix the client saw the error, then "waited").
        await using var client = new RpcTestClient(TestMethods.Register);
        await client.SendAsync(RpcTestClient.Request(9, "test/wait", new { milliseconds = 300 }));
        await client.SendAsync(RpcTestClient.Request(9, "daemon/ping"));
        ReceivedMessage first = await client.WaitForAsync(m => m.IsResponse, "first reply");
        Assert.Equal(JsonRpcErrorCodes.InvalidRequest, ResponseAssert.ErrorCode(first.Json));
        Assert.Contains("already used", ResponseAssert.ErrorMessage(first.Json));
        await Task.Delay(600); // past the first request's own end
        ResponseAssert.Result(await client.CallAsync("daemon/ping"));
        Assert.Single(client.Received, m => m.IsResponse && m.Json.GetProperty("id") is { ValueKind: JsonValueKind.Number } id && id.GetInt32() == 9);

        // The id is free again once its requests are gone.
        await client.SendAsync(RpcTestClient.Request(9, "test/add", new { a = 1, b = 2 }));
        ReceivedMessage reused = await client.WaitForAsync(m => m.IsResponse && m.Json.TryGetProperty("result", out _)
            && m.Json.GetProperty("id") is { ValueKind: JsonValueKind.Number } id && id.GetInt32() == 9, "reused id");
        Assert.Equal(3, ResponseAssert.Result(reused.Json).GetInt32());
    }

    [Fact]
    public async Task A_header_with_bare_LF_line_ends_is_read_and_the_next_frame_with_it()
    {
        // Before the fix the LF-only header ran on to the next frame's CRLF blank line and both requests were lost.
        await using var client = new RpcTestClient(TestMethods.Register);
        string first = RpcTestClient.Request(41, "test/add", new { a = 1, b = 2 });
        string second = RpcTestClient.Request(42, "test/add", new { a = 3, b = 4 });
        await client.SendRawAsync($"Content-Length: {Encoding.UTF8.GetByteCount(first)}\nContent-Type: application/vscode-jsonrpc; charset=utf-8\n\n{first}"
                                  + $"Content-Length: {Encoding.UTF8.GetByteCount(second)}\r\n\r\n{second}");
        Assert.Equal(3, ResponseAssert.Result(await client.WaitForResponseAsync("41")).GetInt32());
        Assert.Equal(7, ResponseAssert.Result(await client.WaitForResponseAsync("42")).GetInt32());
        Assert.Equal(2, client.Received.Count(m => m.IsResponse));
    }

    [Fact]
    public async Task Responses_from_the_client_are_ignored()
    {
        await using var client = new RpcTestClient();
        await client.SendAsync("""{"jsonrpc":"2.0","id":3,"result":{}}""");
        ResponseAssert.Result(await client.CallAsync("daemon/ping"));
        Assert.Single(client.Received);
    }

    [Fact]
    public void Registration_rejects_duplicates_reserved_names_and_late_calls()
    {
        var endpoint = new Endpoint(new MemoryStream(), new MemoryStream(), new EndpointOptions { Logger = RpcLogger.Null });
        endpoint.Register<int>("a", _ => Task.FromResult(1), mutates: false);
        Assert.Throws<ArgumentException>(() => endpoint.Register<int>("a", _ => Task.FromResult(1), mutates: false));
        Assert.Throws<ArgumentException>(() => endpoint.Register<int>("daemon/ping", _ => Task.FromResult(1), mutates: false));
        Assert.Throws<ArgumentException>(() => endpoint.Register<int>("$/custom", _ => Task.FromResult(1), mutates: false));
        Assert.Throws<ArgumentException>(() => endpoint.Register<int>("shutdown", _ => Task.FromResult(1), mutates: false));
        _ = endpoint.RunAsync();
        Assert.Throws<InvalidOperationException>(() => endpoint.Register<int>("b", _ => Task.FromResult(1), mutates: false));
    }
}
