// RequestContext: what a handler gets besides its params: the request's identity, its cancellation token (fired by
// $/cancelRequest or by exit) and work-done progress reporting. One instance per request or notification.
using System.Text.Json;

namespace AdvVis.Service.JsonRpc;

/// <summary>Per-call context passed to every handler.</summary>
public sealed class RequestContext
{
    private readonly ProgressReporter? _progress;

    internal RequestContext(Endpoint endpoint, string method, RequestId? id, CancellationToken cancellationToken, JsonElement? workDoneToken, TimeSpan progressThrottle, TimeProvider time)
    {
        Endpoint = endpoint;
        Method = method;
        Id = id;
        CancellationToken = cancellationToken;
        WorkDoneToken = workDoneToken;
        if (workDoneToken is { } token)
        {
            _progress = new ProgressReporter(endpoint, token, method, progressThrottle, time);
        }
    }

    /// <summary>The endpoint, e.g. to send server-to-client notifications with <see cref="Endpoint.NotifyAsync{TParams}"/>.</summary>
    public Endpoint Endpoint { get; }

    public string Method { get; }

    /// <summary>The request id; null for notifications.</summary>
    public RequestId? Id { get; }

    public bool IsNotification => Id is null;

    /// <summary>
    /// Cancelled when the client sends <c>$/cancelRequest</c> for this id or the endpoint exits. Throwing
    /// OperationCanceledException after it fired answers -32800 RequestCancelled.
    /// </summary>
    public CancellationToken CancellationToken { get; }

    /// <summary>The client's <c>params.workDoneToken</c> (string or number), read from the raw params before binding.</summary>
    public JsonElement? WorkDoneToken { get; }

    /// <summary>True when the client asked for progress; reporting without a token is a harmless no-op.</summary>
    public bool CanReportProgress => _progress is not null;

    /// <summary>Sends any progress value (the general form of the three helpers below).</summary>
    public void ReportProgress(WorkDoneProgress value)
    {
        ArgumentNullException.ThrowIfNull(value);
        _progress?.Report(value);
    }

    /// <summary>Opens the client's progress UI. Title defaults to the method name.</summary>
    public void BeginProgress(string? title = null, string? message = null, int? percentage = null, bool? cancellable = null) =>
        _progress?.Report(new WorkDoneProgress(WorkDoneProgressKind.Begin, title, message, percentage, cancellable));

    /// <summary>Updates the progress (throttled; the newest suppressed update is delivered when the window closes).</summary>
    public void ReportProgress(string? message = null, int? percentage = null) =>
        _progress?.Report(new WorkDoneProgress(WorkDoneProgressKind.Report, null, message, percentage));

    /// <summary>Closes the progress UI. Optional: the endpoint ends an open progress before sending the response.</summary>
    public void EndProgress(string? message = null) =>
        _progress?.Report(new WorkDoneProgress(WorkDoneProgressKind.End, null, message));

    internal Task CompleteProgressAsync() => _progress?.CompleteAsync() ?? Task.CompletedTask;

    internal void DisposeProgress() => _progress?.Dispose();
}
