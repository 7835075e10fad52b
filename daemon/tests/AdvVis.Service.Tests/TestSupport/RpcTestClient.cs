// RpcTestClient: an Endpoint wired to in-memory pipes plus a client side that frames requests and collects every
// message the server sends (responses and notifications, with arrival timestamps). All waits have timeouts so a
// broken server fails the test instead of hanging the run.
using System.Diagnostics;
using System.IO.Pipelines;
using System.Text;
using System.Text.Json;
using AdvVis.Service.JsonRpc;

namespace AdvVis.Service.Tests.TestSupport;

public sealed record ReceivedMessage(JsonElement Json, long Timestamp)
{
    public bool IsResponse => Json.ValueKind == JsonValueKind.Object && !Json.TryGetProperty("method", out _);

    public string? Method => Json.ValueKind == JsonValueKind.Object && Json.TryGetProperty("method", out JsonElement m) ? m.GetString() : null;
}

public sealed class RpcTestClient : IAsyncDisposable
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(15);

    private static readonly PipeOptions LargePipe = new(pauseWriterThreshold: 64 * 1024 * 1024, resumeWriterThreshold: 32 * 1024 * 1024);

    // Towards the endpoint, a write wakes the reader at once, as an OS pipe does for a blocked read(): the endpoint reads
    // on its own thread, and a thread-pool hop here would measure this test pipe's scheduling, not the endpoint.
    private static readonly PipeOptions ToServerPipe = new(readerScheduler: PipeScheduler.Inline, writerScheduler: PipeScheduler.Inline,
        pauseWriterThreshold: 64 * 1024 * 1024, resumeWriterThreshold: 32 * 1024 * 1024);

    private readonly Pipe _toServer = new(ToServerPipe);
    private readonly Pipe _toClient = new(LargePipe);
    private readonly MessageWriter _writer;
    private readonly Stream _toServerStream;
    private readonly List<ReceivedMessage> _received = new();
    private readonly object _gate = new();
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Task _pump;
    private int _nextId = 1000;

    public RpcTestClient(Action<Endpoint>? register = null, EndpointOptions? options = null)
    {
        Log = new StringWriter();
        options ??= new EndpointOptions();
        options = new EndpointOptions
        {
            MaxFrameBytes = options.MaxFrameBytes,
            Workers = options.Workers,
            ProgressThrottle = options.ProgressThrottle,
            TimeProvider = options.TimeProvider,
            DrainTimeout = options.DrainTimeout,
            SerializerOptions = options.SerializerOptions,
            ServerVersion = options.ServerVersion,
            Logger = new RpcLogger(Log, RpcLogLevel.Debug),
        };
        Endpoint = new Endpoint(_toServer.Reader.AsStream(), _toClient.Writer.AsStream(), options);
        register?.Invoke(Endpoint);
        RunTask = Task.Run(() => Endpoint.RunAsync());
        _toServerStream = _toServer.Writer.AsStream();
        _writer = new MessageWriter(_toServerStream);
        _pump = Task.Run(PumpAsync);
    }

    public Endpoint Endpoint { get; }

    /// <summary>The endpoint's log (debug level), for asserting that problems were reported.</summary>
    public StringWriter Log { get; }

    public Task<int> RunTask { get; }

    public IReadOnlyList<ReceivedMessage> Received
    {
        get
        {
            lock (_gate)
            {
                return _received.ToList();
            }
        }
    }

    public Task SendAsync(string json) => _writer.WriteAsync(json);

    /// <summary>Writes bytes as-is (no framing), for framing-level tests.</summary>
    public async Task SendRawAsync(byte[] bytes)
    {
        await _toServerStream.WriteAsync(bytes);
        await _toServerStream.FlushAsync();
    }

    public Task SendRawAsync(string text) => SendRawAsync(Encoding.UTF8.GetBytes(text));

    /// <summary>Closes the server's input (EOF).</summary>
    public void CloseInput() => _toServer.Writer.Complete();

    public int NextId() => Interlocked.Increment(ref _nextId);

    public static string Request(object id, string method, object? parameters = null)
    {
        var message = new Dictionary<string, object?> { ["jsonrpc"] = "2.0", ["id"] = id, ["method"] = method };
        if (parameters is not null)
        {
            message["params"] = parameters;
        }

        return JsonSerializer.Serialize(message, JsonRpcSerializer.CreateDefaultOptions());
    }

    public static string Notification(string method, object? parameters = null)
    {
        var message = new Dictionary<string, object?> { ["jsonrpc"] = "2.0", ["method"] = method };
        if (parameters is not null)
        {
            message["params"] = parameters;
        }

        return JsonSerializer.Serialize(message, JsonRpcSerializer.CreateDefaultOptions());
    }

    /// <summary>Sends a request with a fresh numeric id and returns its response.</summary>
    public async Task<JsonElement> CallAsync(string method, object? parameters = null, TimeSpan? timeout = null)
    {
        int id = NextId();
        await SendAsync(Request(id, method, parameters));
        return await WaitForResponseAsync(id.ToString(), timeout);
    }

    /// <summary>Waits for the response whose id has this raw JSON text (e.g. "7" or "\"abc\"").</summary>
    public async Task<JsonElement> WaitForResponseAsync(string rawId, TimeSpan? timeout = null)
    {
        JsonElement expected = JsonDocument.Parse(rawId).RootElement.Clone();
        ReceivedMessage message = await WaitForAsync(
            m => m.IsResponse && m.Json.TryGetProperty("id", out JsonElement id) && SameId(id, expected),
            $"response with id {rawId}", timeout);
        return message.Json;
    }

    /// <summary>Ids compare by JSON type and value (string escapes may differ from what was sent).</summary>
    public static bool SameId(JsonElement actual, JsonElement expected) =>
        actual.ValueKind == expected.ValueKind
        && (actual.ValueKind == JsonValueKind.String ? actual.GetString() == expected.GetString() : actual.GetRawText() == expected.GetRawText());

    public async Task<ReceivedMessage> WaitForAsync(Func<ReceivedMessage, bool> predicate, string description, TimeSpan? timeout = null)
    {
        var deadline = Stopwatch.StartNew();
        TimeSpan limit = timeout ?? DefaultTimeout;
        while (true)
        {
            Task changed;
            lock (_gate)
            {
                ReceivedMessage? match = _received.FirstOrDefault(predicate);
                if (match is not null)
                {
                    return match;
                }

                changed = _changed.Task;
            }

            TimeSpan left = limit - deadline.Elapsed;
            if (left <= TimeSpan.Zero || await Task.WhenAny(changed, Task.Delay(left)) != changed)
            {
                throw new TimeoutException($"Timed out after {limit.TotalSeconds:0.#} s waiting for {description}. Received: "
                                           + string.Join(" | ", Received.Select(m => m.Json.GetRawText())) + "\nLog:\n" + Log);
            }
        }
    }

    /// <summary>Asserts nothing matching arrives within the window (used for "no response" checks after a later sync point).</summary>
    public bool Any(Func<ReceivedMessage, bool> predicate)
    {
        lock (_gate)
        {
            return _received.Any(predicate);
        }
    }

    private async Task PumpAsync()
    {
        var reader = new MessageReader(_toClient.Reader.AsStream(), int.MaxValue, new RpcLogger(Log, RpcLogLevel.Warning));
        while (true)
        {
            Frame frame = await reader.ReadAsync();
            if (frame.Kind != FrameKind.Message)
            {
                return;
            }

            JsonElement json;
            using (JsonDocument document = JsonDocument.Parse(frame.Body))
            {
                json = document.RootElement.Clone();
            }

            lock (_gate)
            {
                _received.Add(new ReceivedMessage(json, Stopwatch.GetTimestamp()));
                TaskCompletionSource changed = _changed;
                _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                changed.SetResult();
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            _toServer.Writer.Complete();
        }
        catch (InvalidOperationException)
        {
        }

        await Task.WhenAny(RunTask, Task.Delay(TimeSpan.FromSeconds(10)));
        _toClient.Writer.Complete();
        await Task.WhenAny(_pump, Task.Delay(TimeSpan.FromSeconds(5)));
        _writer.Dispose();
    }
}

/// <summary>Helpers for asserting on JSON-RPC responses.</summary>
public static class ResponseAssert
{
    public static int ErrorCode(JsonElement response)
    {
        Assert.True(response.TryGetProperty("error", out JsonElement error), $"expected an error response, got {response.GetRawText()}");
        Assert.False(response.TryGetProperty("result", out _), "a response must not carry both result and error");
        return error.GetProperty("code").GetInt32();
    }

    public static string ErrorMessage(JsonElement response) => response.GetProperty("error").GetProperty("message").GetString()!;

    public static JsonElement Result(JsonElement response)
    {
        Assert.False(response.TryGetProperty("error", out JsonElement error), $"expected a result, got error {error}");
        Assert.True(response.TryGetProperty("result", out JsonElement result), $"response without result: {response.GetRawText()}");
        Assert.Equal("2.0", response.GetProperty("jsonrpc").GetString());
        return result;
    }
}

/// <summary>A read-only stream that hands out at most <c>chunk</c> bytes per read: frames split at every byte boundary.</summary>
public sealed class TrickleStream(byte[] data, int chunk = 1) : Stream
{
    private int _position;

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        int n = Math.Min(Math.Min(chunk, buffer.Length), data.Length - _position);
        data.AsSpan(_position, n).CopyTo(buffer);
        _position += n;
        return n;
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => ValueTask.FromResult(Read(buffer.Span));

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => Task.FromResult(Read(buffer, offset, count));

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => data.Length;
    public override long Position { get => _position; set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
