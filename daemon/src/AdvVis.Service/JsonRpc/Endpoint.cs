// Endpoint: a JSON-RPC 2.0 server over LSP framing, written on System.Text.Json because StreamJsonRpc cannot be
// restored here. One receive loop, on its own thread with blocking reads and writes (so it never waits for the thread
// pool), reads frames, validates them, handles cancels and answers the cheap built-ins itself, and hands requests to the
// ArrivalOrderScheduler; their handlers run on the WorkerPool's bounded set of threads and write their own responses
// through the shared MessageWriter.
//
// Protocol decisions (documented here because the VS Code client relies on them):
//   - Errors: -32700 parse error (id null), -32600 invalid request (also oversized frames, batches, requests after
//     shutdown), -32601 method not found, -32602 invalid params, -32603 handler exception, -32800 cancelled.
//   - Batches (a JSON array) are not supported: LSP never sends them. The endpoint answers with an array holding one
//     -32600 error per element that has an id (so no client call hangs); notifications in a batch are dropped.
//   - $/cancelRequest, exit and daemon-level bookkeeping are handled inside the receive loop, never queued, so a
//     cancel reaches a request even while it waits behind a mutating one or for a worker (then it never starts).
//     daemon/ping and daemon/methods are answered by the receive loop itself unless a mutating call is pending
//     (then they wait for it, as every read-only call does).
//   - A request whose id is already in flight is a client bug that makes both responses ambiguous: the earlier request
//     is cancelled and the id gets exactly one response, a -32600 error saying so.
//   - Unknown notifications are ignored (LSP: "$/" ones may be ignored; others are logged).
//   - shutdown waits for everything before it (it is mutating), answers null, and from its arrival on every request
//     gets -32600 "server is shutting down". exit ends the loop; exit code 0 after shutdown, 1 without (LSP rule).
//   - End of input ends the loop; in-flight requests get EndpointOptions.DrainTimeout to finish, then are cancelled.
using System.Buffers;
using System.Collections.Concurrent;
using System.Text.Json;

namespace AdvVis.Service.JsonRpc;

/// <summary>JSON-RPC 2.0 endpoint over LSP base-protocol framing. Register handlers, then call <see cref="RunAsync"/> once.</summary>
public sealed class Endpoint
{
    public const string PingMethod = "daemon/ping";
    public const string MethodsMethod = "daemon/methods";
    public const string ShutdownMethod = "shutdown";
    public const string ExitMethod = "exit";
    public const string CancelRequestMethod = "$/cancelRequest";
    public const string ProgressMethod = "$/progress";

    private static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = 128 };

    private readonly MessageReader _reader;
    private readonly MessageWriter _writer;
    private readonly EndpointOptions _options;
    private readonly Dictionary<string, MethodEntry> _methods = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<RequestId, InFlightRequest> _inFlight = new();
    private readonly ArrivalOrderScheduler _scheduler = new();
    private readonly WorkerPool _workers;
    private readonly CancellationTokenSource _lifetime = new();

    private int _runState; // 0 = not started, 1 = running or finished; registration is closed once running.
    private volatile bool _shutdownRequested;
    private volatile bool _exitRequested;
    private int _outputFailureLogged;

    public Endpoint(Stream input, Stream output, EndpointOptions? options = null)
        : this(options ?? new EndpointOptions(), input, output)
    {
    }

    // Resolves the options once so the reader's frame limit and logger are the endpoint's own.
    private Endpoint(EndpointOptions options, Stream input, Stream output)
        : this(new MessageReader(new BlockingReadStream(input), options.MaxFrameBytes, options.Logger), new MessageWriter(output), options)
    {
    }

    public Endpoint(MessageReader reader, MessageWriter writer, EndpointOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(writer);
        _reader = reader;
        _writer = writer;
        _options = options ?? new EndpointOptions();
        SerializerOptions = _options.SerializerOptions ?? JsonRpcSerializer.CreateDefaultOptions();
        _workers = new WorkerPool(_options.Workers, _options.Logger);
        RegisterBuiltIns();
    }

    public JsonSerializerOptions SerializerOptions { get; }

    public RpcLogger Logger => _options.Logger;

    public string ServerVersion => _options.ServerVersion;

    /// <summary>True once a shutdown request has arrived.</summary>
    public bool IsShuttingDown => _shutdownRequested;

    /// <summary>Every method the endpoint answers, built-ins included, sorted by name.</summary>
    public IReadOnlyList<RegisteredMethod> Methods =>
        _methods.Values.Select(entry => entry.Info)
            .Concat([
                new RegisteredMethod(ExitMethod, Mutates: false, IsNotification: true, IsBuiltIn: true),
                new RegisteredMethod(CancelRequestMethod, Mutates: false, IsNotification: true, IsBuiltIn: true),
            ])
            .OrderBy(method => method.Name, StringComparer.Ordinal)
            .ToList();

    /// <summary>
    /// Registers a request handler. <paramref name="mutates"/>: false runs concurrently with other read-only calls;
    /// true runs alone, after everything that arrived before it, and before anything that arrives after it.
    /// </summary>
    public void Register<TParams, TResult>(string method, Func<TParams, RequestContext, Task<TResult>> handler, bool mutates)
    {
        ArgumentNullException.ThrowIfNull(handler);
        AddMethod(method, mutates, isNotification: false, isBuiltIn: false, async (rawParams, context) =>
        {
            TParams parameters = ParamsBinder.Bind<TParams>(method, rawParams, SerializerOptions);
            TResult result = await handler(parameters, context).ConfigureAwait(false);
            return ParamsBinder.SerializeResult(method, result, SerializerOptions);
        });
    }

    /// <summary>Registers a request handler that takes no params (any params sent are ignored).</summary>
    public void Register<TResult>(string method, Func<RequestContext, Task<TResult>> handler, bool mutates)
    {
        ArgumentNullException.ThrowIfNull(handler);
        AddMethod(method, mutates, isNotification: false, isBuiltIn: false, async (_, context) =>
        {
            TResult result = await handler(context).ConfigureAwait(false);
            return ParamsBinder.SerializeResult(method, result, SerializerOptions);
        });
    }

    /// <summary>
    /// Registers a notification handler. Notifications get no response; binding failures and exceptions are logged.
    /// Ordering follows the same <paramref name="mutates"/> rule as requests.
    /// </summary>
    public void RegisterNotification<TParams>(string method, Func<TParams, RequestContext, Task> handler, bool mutates = false)
    {
        ArgumentNullException.ThrowIfNull(handler);
        AddMethod(method, mutates, isNotification: true, isBuiltIn: false, async (rawParams, context) =>
        {
            TParams parameters = ParamsBinder.Bind<TParams>(method, rawParams, SerializerOptions);
            await handler(parameters, context).ConfigureAwait(false);
            return null;
        });
    }

    /// <summary>Sends a server-to-client notification. Safe to call from any thread, including handlers.</summary>
    public Task NotifyAsync<TParams>(string method, TParams parameters, CancellationToken cancellationToken = default)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer, JsonRpcSerializer.WriterOptions))
        {
            writer.WriteStartObject();
            writer.WriteString("jsonrpc", "2.0");
            writer.WriteString("method", method);
            writer.WritePropertyName("params");
            JsonSerializer.Serialize(writer, parameters, SerializerOptions);
            writer.WriteEndObject();
        }

        return SendFrameAsync(buffer.WrittenSpan.ToArray(), cancellationToken);
    }

    /// <summary>
    /// Runs the receive loop until exit, end of input, or <paramref name="cancellationToken"/>. Never throws for
    /// protocol input; returns one of <see cref="EndpointExitCodes"/>.
    /// </summary>
    public async Task<int> RunAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _runState, 1) != 0)
        {
            throw new InvalidOperationException("RunAsync can only be called once per Endpoint.");
        }

        // The loop's reads and writes block its thread rather than wait for a thread-pool thread to resume them, so
        // it answers pings and cancels however busy the pool and the workers are.
        _workers.Start();
        var loop = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                loop.TrySetResult(ReceiveLoopAsync(cancellationToken).GetAwaiter().GetResult());
            }
            catch (Exception e)
            {
                loop.TrySetException(e);
            }
        })
        { IsBackground = true, Name = "AdvVis JSON-RPC receive loop" };
        thread.Start();

        var hostCancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using (cancellationToken.Register(() => hostCancelled.TrySetResult()))
        {
            if (await Task.WhenAny(loop.Task, hostCancelled.Task).ConfigureAwait(false) == loop.Task)
            {
                _workers.Complete();
                return await loop.Task.ConfigureAwait(false);
            }
        }

        // A blocking read cannot be interrupted: the loop thread (a background thread) stops at its next frame.
        Logger.Info("Receive loop cancelled by the host.");
        _exitRequested = true;
        await StopInFlightAsync(TimeSpan.Zero).ConfigureAwait(false);
        _workers.Complete();
        return EndpointExitCodes.Success;
    }

    private async Task<int> ReceiveLoopAsync(CancellationToken cancellationToken)
    {
        int exitCode = EndpointExitCodes.Success;
        bool inputEnded = false;
        while (!_exitRequested)
        {
            Frame frame;
            try
            {
                frame = await _reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                Logger.Info("Receive loop cancelled by the host.");
                break;
            }
            catch (Exception ex)
            {
                Logger.Error($"Reading the input failed: {ex.GetType().Name}: {ex.Message}");
                exitCode = EndpointExitCodes.TransportFailure;
                inputEnded = true;
                break;
            }

            if (_exitRequested)
            {
                break; // the host stopped the endpoint while this frame was being read
            }

            if (frame.Kind == FrameKind.EndOfStream)
            {
                Logger.Info("Input closed; stopping.");
                inputEnded = true;
                break;
            }

            try
            {
                if (frame.Kind == FrameKind.Rejected)
                {
                    await SendErrorAsync(frame.SniffedRequestId ?? RequestId.Null, JsonRpcErrorCodes.InvalidRequest,
                        $"Invalid request: {frame.RejectionReason}.").ConfigureAwait(false);
                }
                else
                {
                    await DispatchAsync(frame.Body!).ConfigureAwait(false);
                }
            }
            catch (Exception ex)
            {
                // A bug in dispatch must not kill the daemon; the client may still get answers for later requests.
                Logger.Error($"Unexpected failure while dispatching a message: {ex}");
            }
        }

        if (_exitRequested)
        {
            exitCode = _shutdownRequested ? EndpointExitCodes.Success : EndpointExitCodes.ExitWithoutShutdown;
        }

        await StopInFlightAsync(graceBeforeCancel: inputEnded ? _options.DrainTimeout : TimeSpan.Zero).ConfigureAwait(false);
        return exitCode;
    }

    /// <summary>Writes one already-serialized message; write failures (client gone) are logged once and swallowed.</summary>
    internal async Task SendFrameAsync(byte[] utf8Json, CancellationToken cancellationToken = default)
    {
        try
        {
            await _writer.WriteAsync(utf8Json, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or OperationCanceledException or InvalidOperationException or NotSupportedException)
        {
            if (Interlocked.Exchange(ref _outputFailureLogged, 1) == 0)
            {
                Logger.Error($"Writing to the output failed ({ex.GetType().Name}: {ex.Message}); further messages are dropped.");
            }
        }
    }

    private void RegisterBuiltIns()
    {
        AddMethod(PingMethod, mutates: false, isNotification: false, isBuiltIn: true, (_, _) =>
            Task.FromResult(ParamsBinder.SerializeResult(PingMethod, new PingResult(true, ServerVersion), SerializerOptions)));

        AddMethod(MethodsMethod, mutates: false, isNotification: false, isBuiltIn: true, (_, _) =>
            Task.FromResult(ParamsBinder.SerializeResult(MethodsMethod, new MethodsResult(Methods.Select(MethodDescription.From).ToList()), SerializerOptions)));

        // Mutating, so it answers only after every earlier call has finished: the LSP client may exit right after.
        AddMethod(ShutdownMethod, mutates: true, isNotification: false, isBuiltIn: true, (_, _) =>
            Task.FromResult<byte[]?>("null"u8.ToArray()));
    }

    private void AddMethod(string method, bool mutates, bool isNotification, bool isBuiltIn, MethodInvoker invoker)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(method);
        if (Volatile.Read(ref _runState) != 0)
        {
            throw new InvalidOperationException("Handlers must be registered before RunAsync starts.");
        }

        if (!isBuiltIn && (method.StartsWith("$/", StringComparison.Ordinal) || method is ExitMethod or ShutdownMethod))
        {
            throw new ArgumentException($"'{method}' is reserved by the protocol.", nameof(method));
        }

        if (!_methods.TryAdd(method, new MethodEntry(new RegisteredMethod(method, mutates, isNotification, isBuiltIn), invoker)))
        {
            throw new ArgumentException($"A handler for '{method}' is already registered.", nameof(method));
        }
    }

    private async Task DispatchAsync(byte[] body)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body, DocumentOptions);
        }
        catch (JsonException ex)
        {
            await SendErrorAsync(RequestId.Null, JsonRpcErrorCodes.ParseError, $"Parse error: {ex.Message}").ConfigureAwait(false);
            return;
        }

        bool documentHandedOff = false;
        try
        {
            JsonElement root = document.RootElement;
            if (root.ValueKind == JsonValueKind.Array)
            {
                await RejectBatchAsync(root).ConfigureAwait(false);
                return;
            }

            if (root.ValueKind != JsonValueKind.Object)
            {
                await SendErrorAsync(RequestId.Null, JsonRpcErrorCodes.InvalidRequest, "Invalid request: a message must be a JSON object.").ConfigureAwait(false);
                return;
            }

            bool hasId = root.TryGetProperty("id", out JsonElement idElement);
            RequestId id = RequestId.Null;
            if (hasId && !RequestId.TryRead(idElement, out id))
            {
                await SendErrorAsync(RequestId.Null, JsonRpcErrorCodes.InvalidRequest, "Invalid request: 'id' must be a number, a string or null.").ConfigureAwait(false);
                return;
            }

            if (!root.TryGetProperty("jsonrpc", out JsonElement version) || version.ValueKind != JsonValueKind.String || !version.ValueEquals("2.0"))
            {
                await SendErrorAsync(id, JsonRpcErrorCodes.InvalidRequest, "Invalid request: 'jsonrpc' must be \"2.0\".").ConfigureAwait(false);
                return;
            }

            if (!root.TryGetProperty("method", out JsonElement methodElement))
            {
                if (hasId && (root.TryGetProperty("result", out _) || root.TryGetProperty("error", out _)))
                {
                    // A response: this endpoint never sends requests, so there is nothing waiting for it.
                    Logger.Debug($"Ignoring a response with id {id}; this server sends no requests.");
                    return;
                }

                await SendErrorAsync(id, JsonRpcErrorCodes.InvalidRequest, "Invalid request: 'method' is missing.").ConfigureAwait(false);
                return;
            }

            if (methodElement.ValueKind != JsonValueKind.String)
            {
                await SendErrorAsync(id, JsonRpcErrorCodes.InvalidRequest, "Invalid request: 'method' must be a string.").ConfigureAwait(false);
                return;
            }

            string method = methodElement.GetString()!;
            JsonElement? rawParams = null;
            if (root.TryGetProperty("params", out JsonElement paramsElement))
            {
                if (paramsElement.ValueKind is not (JsonValueKind.Object or JsonValueKind.Array or JsonValueKind.Null))
                {
                    await SendErrorAsync(id, JsonRpcErrorCodes.InvalidRequest, "Invalid request: 'params' must be an object or an array.").ConfigureAwait(false);
                    return;
                }

                rawParams = paramsElement;
            }

            if (!hasId)
            {
                documentHandedOff = HandleNotification(method, rawParams, document);
            }
            else
            {
                documentHandedOff = await HandleRequestAsync(id, method, rawParams, document).ConfigureAwait(false);
            }
        }
        finally
        {
            if (!documentHandedOff)
            {
                document.Dispose();
            }
        }
    }

    /// <summary>Returns true when the document was handed to a scheduled handler (which then disposes it).</summary>
    private bool HandleNotification(string method, JsonElement? rawParams, JsonDocument document)
    {
        switch (method)
        {
            case ExitMethod:
                _exitRequested = true;
                return false;

            case CancelRequestMethod:
                CancelRequest(rawParams);
                return false;
        }

        if (_shutdownRequested)
        {
            Logger.Debug($"Ignoring notification '{method}' after shutdown.");
            return false;
        }

        if (!_methods.TryGetValue(method, out MethodEntry? entry) || !entry.Info.IsNotification)
        {
            // LSP: notifications starting with "$/" may be ignored silently; anything else is worth a line in the log.
            RpcLogLevel level = method.StartsWith("$/", StringComparison.Ordinal) ? RpcLogLevel.Debug : RpcLogLevel.Info;
            Logger.Write(level, $"Ignoring unknown notification '{method}'.");
            return false;
        }

        var context = new RequestContext(this, method, id: null, _lifetime.Token, workDoneToken: null, _options.ProgressThrottle, _options.TimeProvider);
        _ = _scheduler.Schedule(entry.Info.Mutates, gate => RunNotificationAsync(gate, entry, rawParams, context, document));
        return true;
    }

    private async Task<bool> HandleRequestAsync(RequestId id, string method, JsonElement? rawParams, JsonDocument document)
    {
        if (_shutdownRequested)
        {
            await SendErrorAsync(id, JsonRpcErrorCodes.InvalidRequest, "Invalid request: server is shutting down.").ConfigureAwait(false);
            return false;
        }

        if (!_methods.TryGetValue(method, out MethodEntry? entry) || entry.Info.IsNotification)
        {
            string detail = entry is not null ? $" ('{method}' is a notification)" : "";
            await SendErrorAsync(id, JsonRpcErrorCodes.MethodNotFound, $"Method not found: '{method}'{detail}.").ConfigureAwait(false);
            return false;
        }

        if (_inFlight.TryGetValue(id, out InFlightRequest? earlier) && earlier.Supersede())
        {
            // Two requests under one id: whatever answered first, the client could not tell which request it answers.
            // The earlier one is cancelled and stays silent, and the id gets this one error. (An earlier request that
            // has already sent its response is only finishing: then this one is a new request under a free id.)
            await SendErrorAsync(id, JsonRpcErrorCodes.InvalidRequest,
                $"Invalid request: id {id} is already used by a request in progress; both are cancelled. Give every request its own id.").ConfigureAwait(false);
            return false;
        }

        if (entry.Info.IsBuiltIn && !entry.Info.Mutates && _scheduler.NoMutationPending)
        {
            // Cheap and touching no state: answered here, at once, whatever the workers are doing.
            var inline = new RequestContext(this, method, id, CancellationToken.None, null, _options.ProgressThrottle, _options.TimeProvider);
            byte[]? result = await entry.Invoke(rawParams, inline).ConfigureAwait(false);
            await SendResultAsync(id, result).ConfigureAwait(false);
            return false;
        }

        var request = new InFlightRequest();
        _inFlight[id] = request; // only this loop adds; a finishing earlier holder removes only its own entry

        if (method == ShutdownMethod)
        {
            _shutdownRequested = true;
            Logger.Info("Shutdown requested.");
        }

        var context = new RequestContext(this, method, id, request.Cancellation.Token, ReadWorkDoneToken(rawParams), _options.ProgressThrottle, _options.TimeProvider);
        // Not awaited: the task reports its own outcome as a response; the scheduler keeps it for ordering and drain.
        _ = _scheduler.Schedule(entry.Info.Mutates, gate => RunRequestAsync(gate, entry, rawParams, context, document, request));
        return true;
    }

    /// <summary>Read before binding so any params type can carry a token without declaring it.</summary>
    private static JsonElement? ReadWorkDoneToken(JsonElement? rawParams)
    {
        if (rawParams is { ValueKind: JsonValueKind.Object } parameters
            && parameters.TryGetProperty("workDoneToken", out JsonElement token)
            && token.ValueKind is JsonValueKind.String or JsonValueKind.Number)
        {
            return token.Clone();
        }

        return null;
    }

    private void CancelRequest(JsonElement? rawParams)
    {
        if (rawParams is not { ValueKind: JsonValueKind.Object } parameters
            || !parameters.TryGetProperty("id", out JsonElement idElement)
            || !RequestId.TryRead(idElement, out RequestId id))
        {
            Logger.Warning("Ignoring $/cancelRequest without a valid params.id.");
            return;
        }

        if (_inFlight.TryGetValue(id, out InFlightRequest? request))
        {
            Logger.Debug($"Cancelling request {id}.");
            request.Cancellation.Cancel();
        }
        // Otherwise the request already finished: the cancel raced with the response, which LSP says is fine.
    }

    private async Task RunRequestAsync(Task gate, MethodEntry entry, JsonElement? rawParams, RequestContext context, JsonDocument document, InFlightRequest request)
    {
        RequestId id = context.Id!.Value;
        CancellationToken token = context.CancellationToken;
        try
        {
            if (!gate.IsCompleted)
            {
                try
                {
                    await gate.WaitAsync(token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (token.IsCancellationRequested)
                {
                    // Cancelled while queued: answer now, but keep this task open until the gate completes so nothing
                    // scheduled after it can overtake what was scheduled before it.
                    await AnswerErrorAsync(request, id, JsonRpcErrorCodes.RequestCancelled, "Request cancelled before it started.").ConfigureAwait(false);
                    await gate.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                    return;
                }
            }

            if (token.IsCancellationRequested)
            {
                await AnswerErrorAsync(request, id, JsonRpcErrorCodes.RequestCancelled, "Request cancelled before it started.").ConfigureAwait(false);
                return;
            }

            byte[]? result = entry.Info.IsBuiltIn
                ? await entry.Invoke(rawParams, context).ConfigureAwait(false)
                : await _workers.RunAsync(() => entry.Invoke(rawParams, context), token).ConfigureAwait(false);
            await context.CompleteProgressAsync().ConfigureAwait(false);
            await AnswerAsync(request, id, result).ConfigureAwait(false);
        }
        catch (JsonRpcException ex)
        {
            await context.CompleteProgressAsync().ConfigureAwait(false);
            await AnswerErrorAsync(request, id, ex.Code, ex.Message, ex.ErrorData).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            await context.CompleteProgressAsync().ConfigureAwait(false);
            await AnswerErrorAsync(request, id, JsonRpcErrorCodes.RequestCancelled, "Request cancelled.").ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            Logger.Error($"Handler for '{entry.Info.Name}' (id {id}) failed: {ex}");
            await context.CompleteProgressAsync().ConfigureAwait(false);
            await AnswerErrorAsync(request, id, JsonRpcErrorCodes.InternalError, $"Internal error in '{entry.Info.Name}': {ex.GetType().Name}: {ex.Message}",
                new { exceptionType = ex.GetType().FullName }).ConfigureAwait(false);
        }
        finally
        {
            _inFlight.TryRemove(new KeyValuePair<RequestId, InFlightRequest>(id, request));
            context.DisposeProgress();
            document.Dispose();
        }
    }

    private async Task RunNotificationAsync(Task gate, MethodEntry entry, JsonElement? rawParams, RequestContext context, JsonDocument document)
    {
        try
        {
            await gate.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            if (entry.Info.IsBuiltIn) await entry.Invoke(rawParams, context).ConfigureAwait(false);
            else await _workers.RunAsync(() => entry.Invoke(rawParams, context), context.CancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (context.CancellationToken.IsCancellationRequested)
        {
            Logger.Debug($"Notification '{entry.Info.Name}' cancelled by exit.");
        }
        catch (JsonRpcException ex)
        {
            // Typically a params binding failure; no response can carry it, and a stack trace would add nothing.
            Logger.Warning($"Notification '{entry.Info.Name}' rejected: {ex.Message}");
        }
        catch (Exception ex)
        {
            // Notifications have no response, so the log is the only place a failure can surface.
            Logger.Error($"Notification handler for '{entry.Info.Name}' failed: {ex}");
        }
        finally
        {
            document.Dispose();
        }
    }

    private async Task RejectBatchAsync(JsonElement batch)
    {
        if (batch.GetArrayLength() == 0)
        {
            await SendErrorAsync(RequestId.Null, JsonRpcErrorCodes.InvalidRequest, "Invalid request: empty batch.").ConfigureAwait(false);
            return;
        }

        const string message = "Invalid request: batch requests are not supported; send one message per frame.";
        var buffer = new ArrayBufferWriter<byte>(256);
        int responses = 0;
        using (var writer = new Utf8JsonWriter(buffer, JsonRpcSerializer.WriterOptions))
        {
            writer.WriteStartArray();
            foreach (JsonElement element in batch.EnumerateArray())
            {
                bool isNotification = element.ValueKind == JsonValueKind.Object && !element.TryGetProperty("id", out _);
                if (isNotification)
                {
                    continue;
                }

                RequestId id = RequestId.Null;
                if (element.ValueKind == JsonValueKind.Object && element.TryGetProperty("id", out JsonElement idElement))
                {
                    RequestId.TryRead(idElement, out id);
                }

                WriteError(writer, id, JsonRpcErrorCodes.InvalidRequest, message, null);
                responses++;
            }

            writer.WriteEndArray();
        }

        Logger.Warning($"Rejected a batch of {batch.GetArrayLength()} messages.");
        if (responses > 0)
        {
            await SendFrameAsync(buffer.WrittenSpan.ToArray()).ConfigureAwait(false);
        }
    }

    private async Task StopInFlightAsync(TimeSpan graceBeforeCancel)
    {
        Task settled = _scheduler.WhenAllSettled();
        if (!settled.IsCompleted && graceBeforeCancel > TimeSpan.Zero)
        {
            await Task.WhenAny(settled, Task.Delay(graceBeforeCancel)).ConfigureAwait(false);
        }

        if (!settled.IsCompleted)
        {
            Logger.Info($"Cancelling {_inFlight.Count} in-flight request(s).");
            foreach (InFlightRequest request in _inFlight.Values)
            {
                request.Cancellation.Cancel();
            }

            _lifetime.Cancel();

            // Handlers that ignore their token cannot be stopped; do not let them hold the process forever.
            await Task.WhenAny(settled, Task.Delay(TimeSpan.FromSeconds(2))).ConfigureAwait(false);
        }
    }

    /// <summary>Sends a request's result unless its one response has gone out already (a duplicate id answered it).</summary>
    private Task AnswerAsync(InFlightRequest request, RequestId id, byte[]? resultJson) =>
        request.TryClaimResponse() ? SendResultAsync(id, resultJson) : Task.CompletedTask;

    private Task AnswerErrorAsync(InFlightRequest request, RequestId id, int code, string message, object? data = null) =>
        request.TryClaimResponse() ? SendErrorAsync(id, code, message, data) : Task.CompletedTask;

    private Task SendResultAsync(RequestId id, byte[]? resultJson)
    {
        var buffer = new ArrayBufferWriter<byte>(64 + (resultJson?.Length ?? 4));
        using (var writer = new Utf8JsonWriter(buffer, JsonRpcSerializer.WriterOptions))
        {
            writer.WriteStartObject();
            writer.WriteString("jsonrpc", "2.0");
            writer.WritePropertyName("id");
            id.WriteTo(writer);
            writer.WritePropertyName("result");
            if (resultJson is null)
            {
                writer.WriteNullValue();
            }
            else
            {
                writer.WriteRawValue(resultJson, skipInputValidation: true);
            }

            writer.WriteEndObject();
        }

        return SendFrameAsync(buffer.WrittenSpan.ToArray());
    }

    private Task SendErrorAsync(RequestId id, int code, string message, object? data = null)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer, JsonRpcSerializer.WriterOptions))
        {
            WriteError(writer, id, code, message, data);
        }

        return SendFrameAsync(buffer.WrittenSpan.ToArray());
    }

    private void WriteError(Utf8JsonWriter writer, RequestId id, int code, string message, object? data)
    {
        byte[]? dataJson = null;
        if (data is not null)
        {
            try
            {
                dataJson = JsonSerializer.SerializeToUtf8Bytes(data, data.GetType(), SerializerOptions);
            }
            catch (Exception ex) when (ex is JsonException or NotSupportedException or InvalidOperationException)
            {
                Logger.Warning($"Dropping unserializable error data ({ex.Message}).");
            }
        }

        writer.WriteStartObject();
        writer.WriteString("jsonrpc", "2.0");
        writer.WritePropertyName("id");
        id.WriteTo(writer);
        writer.WriteStartObject("error");
        writer.WriteNumber("code", code);
        writer.WriteString("message", message);
        if (dataJson is not null)
        {
            writer.WritePropertyName("data");
            writer.WriteRawValue(dataJson, skipInputValidation: true);
        }

        writer.WriteEndObject();
        writer.WriteEndObject();
    }
}

/// <summary>Result of <c>daemon/ping</c>: <c>{ "pong": true, "version": "..." }</c>.</summary>
public sealed record PingResult(bool Pong, string Version);

/// <summary>Result of <c>daemon/methods</c>: <c>{ "methods": [ { name, mutates, kind, builtIn } ] }</c>.</summary>
public sealed record MethodsResult(IReadOnlyList<MethodDescription> Methods);

/// <summary>One entry of <c>daemon/methods</c>; kind is "request" or "notification".</summary>
public sealed record MethodDescription(string Name, bool Mutates, string Kind, bool BuiltIn)
{
    public static MethodDescription From(RegisteredMethod method) =>
        new(method.Name, method.Mutates, method.IsNotification ? "notification" : "request", method.IsBuiltIn);
}

/// <summary>A request between arrival and response: its cancellation and the claim on its single response.</summary>
internal sealed class InFlightRequest
{
    private int _answered;

    // No linked source and no disposal: a plain CancellationTokenSource holds no unmanaged resources, and not
    // disposing it removes the race between a late $/cancelRequest and the request finishing.
    public CancellationTokenSource Cancellation { get; } = new();

    /// <summary>True for the one caller that may send this request's response.</summary>
    public bool TryClaimResponse() => Interlocked.Exchange(ref _answered, 1) == 0;

    /// <summary>
    /// A second request came with the same id: unless this one has answered already, it is cancelled and will send
    /// nothing (true), leaving the id's one response to the caller.
    /// </summary>
    public bool Supersede()
    {
        if (!TryClaimResponse()) return false;
        Cancellation.Cancel();
        return true;
    }
}

/// <summary>
/// Makes ReadAsync a blocking Read on the caller's thread, so the receive loop stays on its own thread instead of
/// waiting for the thread pool to resume it (stdin's own ReadAsync may queue to the pool).
/// </summary>
internal sealed class BlockingReadStream(Stream inner) : Stream
{
    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);

    public override int Read(Span<byte> buffer) => inner.Read(buffer);

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (cancellationToken.IsCancellationRequested) return ValueTask.FromCanceled<int>(cancellationToken);
        try
        {
            return ValueTask.FromResult(inner.Read(buffer.Span));
        }
        catch (Exception e)
        {
            return ValueTask.FromException<int>(e);
        }
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing) inner.Dispose();
        base.Dispose(disposing);
    }
}
