// MethodTable: the registered handlers and the generic adapters that turn raw JSON params into a handler's TParams
// and its TResult back into JSON. Binding errors become -32602 with the JSON path and the reason, so the client
// developer sees "at '$.count': ... could not be converted to System.Int32" instead of a generic failure.
using System.Text.Json;

namespace AdvVis.Service.JsonRpc;

/// <summary>A method the endpoint answers, as reported by <c>daemon/methods</c>.</summary>
/// <param name="Name">Wire name, e.g. "daemon/ping".</param>
/// <param name="Mutates">True when the method changes server state and therefore runs alone, in arrival order.</param>
/// <param name="IsNotification">True for notifications (no response).</param>
/// <param name="IsBuiltIn">True for methods the endpoint itself provides.</param>
public sealed record RegisteredMethod(string Name, bool Mutates, bool IsNotification, bool IsBuiltIn);

/// <summary>Binds params, runs a handler and serializes its result. Throws <see cref="JsonRpcException"/> for protocol errors.</summary>
internal delegate Task<byte[]?> MethodInvoker(JsonElement? rawParams, RequestContext context);

internal sealed record MethodEntry(RegisteredMethod Info, MethodInvoker Invoke);

internal static class ParamsBinder
{
    private static readonly JsonElement EmptyObject = JsonDocument.Parse("{}").RootElement.Clone();

    /// <summary>
    /// Params may be an object or absent/null. Absent params bind as "{}", so a params type whose members are all
    /// optional still works and one with required members yields -32602 naming the missing member.
    /// Positional (array) params are rejected: every AdvVis method takes named params, and silently mapping
    /// positions would make protocol drift invisible.
    /// </summary>
    public static TParams Bind<TParams>(string method, JsonElement? rawParams, JsonSerializerOptions options)
    {
        if (typeof(TParams) == typeof(JsonElement))
        {
            // Clone: the element must outlive the request's JsonDocument, which is disposed when the call completes.
            return (TParams)(object)(rawParams?.Clone() ?? default);
        }

        bool absent = rawParams is null || rawParams.Value.ValueKind == JsonValueKind.Null;
        JsonElement source = absent ? EmptyObject : rawParams!.Value;

        if (source.ValueKind == JsonValueKind.Array)
        {
            throw new JsonRpcException(JsonRpcErrorCodes.InvalidParams,
                $"Invalid params for '{method}': params must be an object (by name); positional (array) params are not supported.");
        }

        TParams? value;
        try
        {
            value = source.Deserialize<TParams>(options);
        }
        catch (JsonException ex)
        {
            string where = string.IsNullOrEmpty(ex.Path) || ex.Path == "$" ? "" : $"at '{ex.Path}': ";
            string prefix = absent ? "params are missing; " : "";
            throw new JsonRpcException(JsonRpcErrorCodes.InvalidParams,
                $"Invalid params for '{method}': {prefix}{where}{StripLocation(ex.Message)}",
                ex.Path is null ? null : new { path = ex.Path }, ex);
        }

        if (value is null)
        {
            throw new JsonRpcException(JsonRpcErrorCodes.InvalidParams, $"Invalid params for '{method}': params must not be null.");
        }

        return value;
    }

    public static byte[]? SerializeResult<TResult>(string method, TResult result, JsonSerializerOptions options)
    {
        try
        {
            return JsonSerializer.SerializeToUtf8Bytes(result, options);
        }
        catch (Exception ex) when (ex is JsonException or NotSupportedException or InvalidOperationException)
        {
            throw new JsonRpcException(JsonRpcErrorCodes.InternalError,
                $"Internal error in '{method}': the result could not be serialized: {ex.Message}", null, ex);
        }
    }

    /// <summary>System.Text.Json appends " Path: $.x | LineNumber: 0 | BytePositionInLine: 9." which we report separately.</summary>
    private static string StripLocation(string message)
    {
        int index = message.IndexOf(" Path: ", StringComparison.Ordinal);
        return index >= 0 ? message[..index] : message;
    }
}
