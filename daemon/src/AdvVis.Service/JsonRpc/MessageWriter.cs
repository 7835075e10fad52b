// MessageWriter: writes LSP base-protocol frames. Responses, progress notifications and server notifications are
// produced by concurrently running handlers, so every frame is written header+body as one unit under a single lock
// and flushed immediately (a buffered response would leave the VS Code client waiting). Writes are synchronous: the
// receive loop answers cheap requests itself and must never wait for a thread-pool thread to be handed the lock.
using System.Buffers;
using System.Globalization;
using System.Text;

namespace AdvVis.Service.JsonRpc;

/// <summary>Thread-safe frame writer: one frame at a time, each flushed before the lock is released.</summary>
public sealed class MessageWriter : IDisposable
{
    private readonly Stream _output;
    private readonly object _writeLock = new();

    public MessageWriter(Stream output)
    {
        ArgumentNullException.ThrowIfNull(output);
        _output = output;
    }

    /// <summary>Writes "Content-Length: N\r\n\r\n" followed by the UTF-8 JSON body, then flushes (on the calling thread).</summary>
    public Task WriteAsync(ReadOnlyMemory<byte> utf8JsonBody, CancellationToken cancellationToken = default)
    {
        if (cancellationToken.IsCancellationRequested) return Task.FromCanceled(cancellationToken);
        string header = string.Create(CultureInfo.InvariantCulture, $"Content-Length: {utf8JsonBody.Length}\r\n\r\n");
        int headerLength = Encoding.ASCII.GetByteCount(header);

        // Header and body go out in one Write so a pipe reader sees whole frames and stdout costs one syscall per frame.
        byte[] frame = ArrayPool<byte>.Shared.Rent(headerLength + utf8JsonBody.Length);
        try
        {
            Encoding.ASCII.GetBytes(header, frame);
            utf8JsonBody.Span.CopyTo(frame.AsSpan(headerLength));
            lock (_writeLock)
            {
                _output.Write(frame, 0, headerLength + utf8JsonBody.Length);
                _output.Flush();
            }
            return Task.CompletedTask;
        }
        catch (Exception e)
        {
            return Task.FromException(e);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(frame);
        }
    }

    /// <summary>Convenience for tests and tools: writes a JSON string as one frame.</summary>
    public Task WriteAsync(string json, CancellationToken cancellationToken = default) =>
        WriteAsync(Encoding.UTF8.GetBytes(json), cancellationToken);

    /// <summary>Nothing to release (the lock is a plain monitor); kept so callers' using blocks stay valid.</summary>
    public void Dispose()
    {
    }
}
