// JsonRpcErrorCodes and JsonRpcException: the error vocabulary of the endpoint. Codes are the JSON-RPC 2.0 reserved
// ones plus the LSP ones the VS Code client understands (-32800 RequestCancelled), so vscode-jsonrpc maps them itself.
namespace AdvVis.Service.JsonRpc;

/// <summary>Error codes used in <c>error.code</c> of responses.</summary>
public static class JsonRpcErrorCodes
{
    /// <summary>The frame body was not valid JSON (the id is unknown, so the response id is null).</summary>
    public const int ParseError = -32700;

    /// <summary>Valid JSON that is not a valid request (bad jsonrpc/id/method/params shape, oversized frame, batch, shutting down).</summary>
    public const int InvalidRequest = -32600;

    public const int MethodNotFound = -32601;

    /// <summary>The params could not be bound to the handler's parameter type; the message names the JSON path and reason.</summary>
    public const int InvalidParams = -32602;

    /// <summary>The handler threw; the endpoint keeps serving.</summary>
    public const int InternalError = -32603;

    /// <summary>LSP: the request was cancelled through <c>$/cancelRequest</c>.</summary>
    public const int RequestCancelled = -32800;

    /// <summary>LSP: the content changed while the request ran, so the result is stale. Handlers may throw it.</summary>
    public const int ContentModified = -32801;
}

/// <summary>
/// Thrown by a handler to answer with a specific error instead of the generic -32603. Also used internally to carry
/// params-binding failures (-32602) out of the generic handler adapters.
/// </summary>
public sealed class JsonRpcException : Exception
{
    public JsonRpcException(int code, string message, object? data = null, Exception? innerException = null)
        : base(message, innerException)
    {
        Code = code;
        ErrorData = data;
    }

    public int Code { get; }

    /// <summary>Serialized into <c>error.data</c> when not null.</summary>
    public object? ErrorData { get; }
}
