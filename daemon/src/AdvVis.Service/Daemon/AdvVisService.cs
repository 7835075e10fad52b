// AdvVisService: the daemon behind `advvis serve --stdio`. It registers one thin handler per protocol method (see
// Handlers/, one file per noun) on the JSON-RPC endpoint, maps library exceptions to the protocol's error codes, and
// checks at startup that what it registers is exactly ProtocolCatalog (which docs/protocol.md is tested against).
using AdvVis.Data;
using AdvVis.Engine;
using AdvVis.Onnx;
using AdvVis.Safety;
using AdvVis.Service.Handlers;
using AdvVis.Service.JsonRpc;
using AdvVis.Service.Protocol;

namespace AdvVis.Service.Daemon;

public static class AdvVisService
{
    /// <summary>
    /// `advvis serve --stdio [--workspace DIR] [--cache DIR] [--export DIR] [--cache-max-bytes N] [--memory-budget SIZE]
    /// [--workers N] [--log debug|info|warning]`.
    /// Returns the process exit code.
    /// </summary>
    public static async Task<int> RunAsync(IReadOnlyList<string> args, CancellationToken cancellationToken = default)
    {
        string? Option(string name)
        {
            for (int i = 0; i < args.Count; i++)
            {
                if (args[i] == name && i + 1 < args.Count) return args[i + 1];
                if (args[i].StartsWith(name + "=", StringComparison.Ordinal)) return args[i][(name.Length + 1)..];
            }
            return null;
        }
        if (!args.Contains("--stdio"))
        {
            await Console.Error.WriteLineAsync("usage: advvis serve --stdio [--workspace DIR] [--cache DIR] [--export DIR] [--cache-max-bytes N] [--memory-budget SIZE] [--workers N] [--log debug|info|warning]");
            return 2;
        }
        var level = (Option("--log") ?? Environment.GetEnvironmentVariable("ADVVIS_LOG")) switch
        {
            "debug" => RpcLogLevel.Debug,
            "info" => RpcLogLevel.Info,
            "error" => RpcLogLevel.Error,
            _ => RpcLogLevel.Warning,
        };
        var options = new EndpointOptions
        {
            Logger = RpcLogger.Stderr(level),
            Workers = Option("--workers") is { } workers ? Math.Max(1, int.Parse(workers, System.Globalization.CultureInfo.InvariantCulture)) : new EndpointOptions().Workers,
        };
        var state = new ServiceState(options.Logger);
        try
        {
            state.Configure(new WorkspaceConfigureParams(Option("--workspace"), Option("--cache"), Option("--export"),
                Option("--cache-max-bytes") is { } max ? long.Parse(max, System.Globalization.CultureInfo.InvariantCulture) : null,
                MemoryBudgetBytes: Option("--memory-budget") is { } budget ? MemoryBudget.Parse(budget).Bytes : null));
        }
        catch (AdvVis.Safety.UnsafeFileException e)
        {
            // A refused folder must not stop the daemon: it runs without disk cache/export until workspace/configure fixes it.
            options.Logger.Error(e.Message);
        }
        return await JsonRpcServer.RunStdioAsync(endpoint => Register(endpoint, state), options, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Registers every protocol method on <paramref name="endpoint"/>.</summary>
    public static void Register(Endpoint endpoint, ServiceState state)
    {
        var registrar = new Registrar(endpoint, state);
        WorkspaceHandlers.Register(registrar);
        CacheHandlers.Register(registrar);
        ModelHandlers.Register(registrar);
        AttackHandlers.Register(registrar);
        RobustnessHandlers.Register(registrar);
        ExplainHandlers.Register(registrar);
        ProfilesHandlers.Register(registrar);
        LayerHandlers.Register(registrar);
        UnitHandlers.Register(registrar);
        VulnerabilityHandlers.Register(registrar);
        NeuronsHandlers.Register(registrar);
        AttributionHandlers.Register(registrar);
        ExportHandlers.Register(registrar);
        registrar.CheckComplete();
    }
}

/// <summary>Registers handlers by catalog entry, running them off the receive loop with exceptions mapped to protocol errors.</summary>
public sealed class Registrar(Endpoint endpoint, ServiceState state)
{
    private readonly HashSet<string> _registered = new(StringComparer.Ordinal);

    public ServiceState State => state;

    public Endpoint Endpoint => endpoint;

    public void Add<TParams, TResult>(string method, Func<TParams, RequestContext, TResult> handler)
    {
        var entry = Entry(method, typeof(TParams), typeof(TResult));
        endpoint.Register<TParams, TResult>(method, (p, context) => Run(() => handler(p, context)), entry.Mutates);
    }

    public void Add<TResult>(string method, Func<RequestContext, TResult> handler)
    {
        var entry = Entry(method, null, typeof(TResult));
        endpoint.Register<TResult>(method, context => Run(() => handler(context)), entry.Mutates);
    }

    internal void CheckComplete()
    {
        var missing = ProtocolCatalog.Methods.Select(m => m.Name).Where(n => !_registered.Contains(n)).ToList();
        if (missing.Count > 0) throw new InvalidOperationException("Protocol methods without a handler: " + string.Join(", ", missing));
    }

    private ProtocolMethod Entry(string method, Type? parameters, Type result)
    {
        var entry = ProtocolCatalog.Methods.FirstOrDefault(m => m.Name == method)
            ?? throw new InvalidOperationException($"'{method}' is not in ProtocolCatalog (and so not in docs/protocol.md).");
        if (entry.Params != parameters || entry.Result != result)
            throw new InvalidOperationException($"'{method}' is registered with ({parameters?.Name}) → {result.Name}, but the catalog says ({entry.Params?.Name}) → {entry.Result.Name}.");
        _registered.Add(method);
        return entry;
    }

    /// <summary>
    /// Runs a handler where the endpoint calls it (on one of its request workers, never the receive loop) under the
    /// configured memory budget, and maps its exceptions.
    /// </summary>
    private Task<TResult> Run<TResult>(Func<TResult> work)
    {
        try
        {
            using (MemoryBudget.Use(state.MemoryBudget))
            {
                return Task.FromResult(work());
            }
        }
        catch (Exception e)
        {
            return Task.FromException<TResult>(Map(e) ?? e);
        }
    }

    internal static JsonRpcException? Map(Exception e) => e switch
    {
        JsonRpcException or OperationCanceledException => null,
        AdvVis.Safety.UnsafeFileException u => new JsonRpcException(u.OutsideAllowedFolder ? AdvVisErrorCodes.PathNotAllowed : AdvVisErrorCodes.BadInput, u.Message, innerException: e),
        MemoryBudgetExceededException => new JsonRpcException(AdvVisErrorCodes.OverBudget, e.Message, innerException: e),
        OnnxFormatException or DataFormatException or InvalidDataException or FileNotFoundException or DirectoryNotFoundException
            or UnauthorizedAccessException or FormatException => new JsonRpcException(AdvVisErrorCodes.BadInput, e.Message, innerException: e),
        IOException => new JsonRpcException(AdvVisErrorCodes.BadInput, e.Message, innerException: e),
        EngineException => new JsonRpcException(AdvVisErrorCodes.Unsupported, e.Message, innerException: e),
        ArgumentException => new JsonRpcException(JsonRpcErrorCodes.InvalidParams, e.Message, innerException: e),
        NotImplementedException => new JsonRpcException(AdvVisErrorCodes.NotImplemented, e.Message, innerException: e),
        _ => null,
    };
}
