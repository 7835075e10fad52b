// EndpointOptions and JsonRpcSerializer: the knobs of an Endpoint and the System.Text.Json settings shared by
// params binding and result serialization. Kept in one place so the protocol's wire conventions (camelCase,
// omitted nulls, string enums) are decided once, not per handler.
using System.Reflection;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace AdvVis.Service.JsonRpc;

/// <summary>Configuration of an <see cref="Endpoint"/>. All members have daemon-appropriate defaults.</summary>
public sealed class EndpointOptions
{
    /// <summary>Frames with a larger Content-Length are skipped and answered with -32600.</summary>
    public int MaxFrameBytes { get; init; } = MessageReader.DefaultMaxFrameBytes;

    /// <summary>
    /// How many requests run at once, each on its own dedicated worker thread (the receive loop is not one of them).
    /// Default: half the processor count, at least 2: one running request also gets the kernels' fork-join team (one
    /// thread per core), the others compute on their worker alone. More requests wait in arrival order, cancellable
    /// while they wait.
    /// </summary>
    public int Workers { get; init; } = Math.Max(2, Environment.ProcessorCount / 2);

    /// <summary>Minimum spacing of <c>$/progress</c> "report" notifications per request; begin/end are never delayed.</summary>
    public TimeSpan ProgressThrottle { get; init; } = TimeSpan.FromMilliseconds(50);

    /// <summary>Clock for progress throttling; tests substitute a manual one so throttling is checked without sleeps.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>After stdin closes, how long in-flight requests may keep running before they are cancelled.</summary>
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Where diagnostics go. Defaults to stderr because stdout carries the protocol.</summary>
    public RpcLogger Logger { get; init; } = RpcLogger.Stderr();

    /// <summary>Serializer settings for params and results; null means <see cref="JsonRpcSerializer.CreateDefaultOptions"/>.</summary>
    public JsonSerializerOptions? SerializerOptions { get; init; }

    /// <summary>Reported by <c>daemon/ping</c>.</summary>
    public string ServerVersion { get; init; } = DefaultServerVersion();

    private static string DefaultServerVersion() =>
        typeof(Endpoint).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? typeof(Endpoint).Assembly.GetName().Version?.ToString()
        ?? "0.0.0";
}

/// <summary>Factory for the protocol's System.Text.Json settings.</summary>
public static class JsonRpcSerializer
{
    /// <summary>
    /// Writer settings for envelopes. Relaxed escaping because the JSON goes to a JSON parser, never into HTML:
    /// the default encoder would turn every non-ASCII character into a 6-byte \uXXXX escape.
    /// </summary>
    public static JsonWriterOptions WriterOptions { get; } = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>
    /// camelCase members (the TypeScript client's convention), nulls omitted on write, enums as camelCase strings,
    /// and strict binding: non-nullable reference members and required constructor parameters must be present, so a
    /// client bug surfaces as a -32602 naming the member rather than as a NullReferenceException inside a handler.
    /// Reflection-based by default; to use source generation insert a JsonSerializerContext at the front of
    /// <see cref="JsonSerializerOptions.TypeInfoResolverChain"/> before the options are first used.
    /// </summary>
    public static JsonSerializerOptions CreateDefaultOptions()
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.General)
        {
            PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
            DictionaryKeyPolicy = null,
            DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
            Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
            RespectNullableAnnotations = true,
            RespectRequiredConstructorParameters = true,
            TypeInfoResolver = new System.Text.Json.Serialization.Metadata.DefaultJsonTypeInfoResolver(),
        };
        options.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.CamelCase));
        return options;
    }
}

/// <summary>Process exit codes returned by <see cref="Endpoint.RunAsync"/>.</summary>
public static class EndpointExitCodes
{
    /// <summary>shutdown then exit, stdin closed, or the host cancelled the run.</summary>
    public const int Success = 0;

    /// <summary>LSP rule: an exit notification without a preceding shutdown request exits with 1.</summary>
    public const int ExitWithoutShutdown = 1;

    /// <summary>Reading the input failed with an I/O error.</summary>
    public const int TransportFailure = 2;
}
