// RpcLogger: the JSON-RPC layer's only diagnostic channel. In stdio mode stdout carries the protocol,
// so every diagnostic must go to stderr (or to a test's StringWriter); nothing here ever touches Console.Out.
namespace AdvVis.Service.JsonRpc;

/// <summary>Severity of a diagnostic line; lines below <see cref="RpcLogger.MinimumLevel"/> are dropped.</summary>
public enum RpcLogLevel
{
    Debug = 0,
    Info = 1,
    Warning = 2,
    Error = 3,
}

/// <summary>
/// Line-oriented logger writing "[level] message" to a <see cref="TextWriter"/> (stderr by default).
/// Thread-safe: the writer is wrapped with <see cref="TextWriter.Synchronized"/> because request handlers log concurrently.
/// </summary>
public sealed class RpcLogger
{
    private readonly TextWriter _writer;

    public RpcLogger(TextWriter writer, RpcLogLevel minimumLevel = RpcLogLevel.Info)
    {
        ArgumentNullException.ThrowIfNull(writer);
        _writer = TextWriter.Synchronized(writer);
        MinimumLevel = minimumLevel;
    }

    /// <summary>Logger writing to the process's stderr, the default for the daemon.</summary>
    public static RpcLogger Stderr(RpcLogLevel minimumLevel = RpcLogLevel.Info) => new(Console.Error, minimumLevel);

    /// <summary>Logger that discards everything (benchmarks, fuzzing).</summary>
    public static RpcLogger Null { get; } = new(TextWriter.Null, RpcLogLevel.Error + 1);

    public RpcLogLevel MinimumLevel { get; }

    public bool IsEnabled(RpcLogLevel level) => level >= MinimumLevel;

    public void Debug(string message) => Write(RpcLogLevel.Debug, message);
    public void Info(string message) => Write(RpcLogLevel.Info, message);
    public void Warning(string message) => Write(RpcLogLevel.Warning, message);
    public void Error(string message) => Write(RpcLogLevel.Error, message);

    public void Write(RpcLogLevel level, string message)
    {
        if (!IsEnabled(level))
        {
            return;
        }

        try
        {
            _writer.WriteLine($"[advvis-rpc {LevelTag(level)}] {message}");
            _writer.Flush();
        }
        catch (Exception)
        {
            // A broken stderr must never take the protocol down with it; diagnostics are best effort.
        }
    }

    private static string LevelTag(RpcLogLevel level) => level switch
    {
        RpcLogLevel.Debug => "debug",
        RpcLogLevel.Info => "info",
        RpcLogLevel.Warning => "warn",
        _ => "error",
    };
}
