// WorkDoneProgress and ProgressReporter: LSP work-done progress ($/progress with {token, value:{kind,...}}).
// The client opts in by putting workDoneToken into the request params; without a token every call is a no-op, so
// handlers can report unconditionally. Reports are throttled (default 50 ms) because a tight loop reporting per item
// would flood the pipe and the VS Code UI; the newest suppressed report is sent when the window closes, so the last
// visible state is never stale. begin and end are never throttled.
using System.Buffers;
using System.Text.Json;

namespace AdvVis.Service.JsonRpc;

/// <summary>The three LSP work-done progress phases, serialized as "begin", "report", "end".</summary>
public enum WorkDoneProgressKind
{
    Begin,
    Report,
    End,
}

/// <summary>One progress value. Title is only sent with begin; cancellable only with begin; percentage 0..100.</summary>
public sealed record WorkDoneProgress(WorkDoneProgressKind Kind, string? Title = null, string? Message = null, int? Percentage = null, bool? Cancellable = null);

/// <summary>Per-request progress state: ordering, throttling and the begin/report/end state machine.</summary>
internal sealed class ProgressReporter : IDisposable
{
    private enum Phase
    {
        NotStarted,
        Begun,
        Ended,
    }

    private readonly Endpoint _endpoint;
    private readonly TimeProvider _time;
    private readonly JsonElement _token;
    private readonly string _defaultTitle;
    private readonly long _throttleTicks;
    private readonly object _gate = new();

    private Phase _phase = Phase.NotStarted;
    private long _lastSentTimestamp;
    private WorkDoneProgress? _pendingReport;
    private ITimer? _flushTimer;

    // Sends are chained so notifications leave in the order they were reported even though the writer lock is not FIFO.
    private Task _sendTail = Task.CompletedTask;

    public ProgressReporter(Endpoint endpoint, JsonElement token, string defaultTitle, TimeSpan throttle, TimeProvider time)
    {
        _endpoint = endpoint;
        _time = time;
        _token = token;
        _defaultTitle = defaultTitle;
        _throttleTicks = (long)(throttle.TotalSeconds * time.TimestampFrequency);
    }

    public void Report(WorkDoneProgress value)
    {
        lock (_gate)
        {
            switch (value.Kind)
            {
                case WorkDoneProgressKind.Begin:
                    if (_phase != Phase.NotStarted)
                    {
                        return; // LSP allows one begin per token.
                    }

                    SendLocked(value with { Title = value.Title ?? _defaultTitle });
                    _phase = Phase.Begun;
                    return;

                case WorkDoneProgressKind.Report:
                    if (_phase == Phase.Ended)
                    {
                        return;
                    }

                    if (_phase == Phase.NotStarted)
                    {
                        // A report before begin would be ignored by the client; open the progress UI implicitly.
                        SendLocked(new WorkDoneProgress(WorkDoneProgressKind.Begin, _defaultTitle));
                        _phase = Phase.Begun;
                    }

                    long elapsed = _time.GetTimestamp() - _lastSentTimestamp;
                    if (elapsed >= _throttleTicks)
                    {
                        _pendingReport = null;
                        SendLocked(value with { Title = null, Cancellable = null });
                    }
                    else
                    {
                        _pendingReport = value with { Title = null, Cancellable = null };
                        if (_flushTimer is null)
                        {
                            var due = TimeSpan.FromSeconds((double)(_throttleTicks - elapsed) / _time.TimestampFrequency);
                            _flushTimer = _time.CreateTimer(_ => FlushPending(), null, due, Timeout.InfiniteTimeSpan);
                        }
                    }

                    return;

                case WorkDoneProgressKind.End:
                    if (_phase != Phase.Begun)
                    {
                        _phase = Phase.Ended; // End without begin: nothing was shown, so nothing to close.
                        return;
                    }

                    // The pending report is superseded: end closes the UI, an older percentage would only flicker.
                    _pendingReport = null;
                    _flushTimer?.Dispose();
                    _flushTimer = null;
                    SendLocked(new WorkDoneProgress(WorkDoneProgressKind.End, Message: value.Message));
                    _phase = Phase.Ended;
                    return;
            }
        }
    }

    /// <summary>
    /// Called by the endpoint before it sends the response: closes a progress the handler forgot to end (so the
    /// client's progress UI does not linger) and waits until every progress notification is written, so they all
    /// precede the response on the wire.
    /// </summary>
    public Task CompleteAsync()
    {
        Report(new WorkDoneProgress(WorkDoneProgressKind.End));
        lock (_gate)
        {
            return _sendTail;
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _flushTimer?.Dispose();
            _flushTimer = null;
        }
    }

    private void FlushPending()
    {
        lock (_gate)
        {
            _flushTimer?.Dispose();
            _flushTimer = null;
            if (_pendingReport is { } pending && _phase == Phase.Begun)
            {
                _pendingReport = null;
                SendLocked(pending);
            }
        }
    }

    private void SendLocked(WorkDoneProgress value)
    {
        _lastSentTimestamp = _time.GetTimestamp();
        byte[] frame = Serialize(value);
        Task previous = _sendTail;
        _sendTail = SendAfterAsync(previous, frame);
    }

    private async Task SendAfterAsync(Task previous, byte[] frame)
    {
        await previous.ConfigureAwait(false);
        await _endpoint.SendFrameAsync(frame).ConfigureAwait(false);
    }

    private byte[] Serialize(WorkDoneProgress value)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer, JsonRpcSerializer.WriterOptions))
        {
            writer.WriteStartObject();
            writer.WriteString("jsonrpc", "2.0");
            writer.WriteString("method", "$/progress");
            writer.WriteStartObject("params");
            writer.WritePropertyName("token");
            _token.WriteTo(writer);
            writer.WriteStartObject("value");
            writer.WriteString("kind", value.Kind switch
            {
                WorkDoneProgressKind.Begin => "begin",
                WorkDoneProgressKind.Report => "report",
                _ => "end",
            });
            if (value.Kind == WorkDoneProgressKind.Begin && value.Title is not null)
            {
                writer.WriteString("title", value.Title);
            }

            if (value.Kind == WorkDoneProgressKind.Begin && value.Cancellable is not null)
            {
                writer.WriteBoolean("cancellable", value.Cancellable.Value);
            }

            if (value.Message is not null)
            {
                writer.WriteString("message", value.Message);
            }

            if (value.Percentage is not null && value.Kind != WorkDoneProgressKind.End)
            {
                writer.WriteNumber("percentage", Math.Clamp(value.Percentage.Value, 0, 100));
            }

            writer.WriteEndObject();
            writer.WriteEndObject();
            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }
}
