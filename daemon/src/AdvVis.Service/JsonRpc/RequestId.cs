// RequestId: a JSON-RPC request id exactly as the client sent it. JSON-RPC 2.0 allows a number, a string or null;
// the response must echo it unchanged, so numbers keep their original JSON text (no double/long round trip).
using System.Buffers;
using System.Text.Json;

namespace AdvVis.Service.JsonRpc;

/// <summary>Which JSON type a <see cref="RequestId"/> had on the wire.</summary>
public enum RequestIdKind
{
    Null = 0,
    Number = 1,
    String = 2,
}

/// <summary>
/// Immutable request id. Two ids are equal when they have the same kind and the same value text, which is what
/// <c>$/cancelRequest</c> matching needs (vscode-jsonrpc always repeats the id with the same JSON type).
/// </summary>
public readonly struct RequestId : IEquatable<RequestId>
{
    private readonly string? _value;

    private RequestId(RequestIdKind kind, string? value)
    {
        Kind = kind;
        _value = value;
    }

    /// <summary>The id JSON-RPC uses when the request's own id could not be determined (parse errors and the like).</summary>
    public static RequestId Null => default;

    public static RequestId FromNumber(long value) =>
        new(RequestIdKind.Number, value.ToString(System.Globalization.CultureInfo.InvariantCulture));

    public static RequestId FromString(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        return new RequestId(RequestIdKind.String, value);
    }

    public RequestIdKind Kind { get; }

    public bool IsNull => Kind == RequestIdKind.Null;

    /// <summary>The string value for string ids; null otherwise.</summary>
    public string? StringValue => Kind == RequestIdKind.String ? _value : null;

    /// <summary>The numeric value for integral number ids that fit a long; null otherwise.</summary>
    public long? NumberValue =>
        Kind == RequestIdKind.Number && long.TryParse(_value, System.Globalization.NumberStyles.AllowLeadingSign,
            System.Globalization.CultureInfo.InvariantCulture, out long number)
            ? number
            : null;

    /// <summary>
    /// Reads an id from a JSON value. Returns false for objects, arrays and booleans, which JSON-RPC 2.0 forbids.
    /// </summary>
    public static bool TryRead(JsonElement element, out RequestId id)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Number:
                id = new RequestId(RequestIdKind.Number, element.GetRawText());
                return true;
            case JsonValueKind.String:
                id = new RequestId(RequestIdKind.String, element.GetString()!);
                return true;
            case JsonValueKind.Null:
                id = Null;
                return true;
            default:
                id = Null;
                return false;
        }
    }

    /// <summary>Reads an id from the current token of a reader positioned on a value (used by the frame sniffer).</summary>
    internal static bool TryRead(ref Utf8JsonReader reader, out RequestId id)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.Number:
                id = new RequestId(RequestIdKind.Number, System.Text.Encoding.UTF8.GetString(
                    reader.HasValueSequence ? reader.ValueSequence.ToArray() : reader.ValueSpan));
                return true;
            case JsonTokenType.String:
                id = new RequestId(RequestIdKind.String, reader.GetString()!);
                return true;
            case JsonTokenType.Null:
                id = Null;
                return true;
            default:
                id = Null;
                return false;
        }
    }

    /// <summary>Writes the id as the same JSON type and text it arrived with.</summary>
    public void WriteTo(Utf8JsonWriter writer)
    {
        switch (Kind)
        {
            case RequestIdKind.Number:
                writer.WriteRawValue(_value!, skipInputValidation: true);
                break;
            case RequestIdKind.String:
                writer.WriteStringValue(_value);
                break;
            default:
                writer.WriteNullValue();
                break;
        }
    }

    public bool Equals(RequestId other) => Kind == other.Kind && string.Equals(_value, other._value, StringComparison.Ordinal);

    public override bool Equals(object? obj) => obj is RequestId other && Equals(other);

    public override int GetHashCode() => HashCode.Combine(Kind, _value);

    public static bool operator ==(RequestId left, RequestId right) => left.Equals(right);

    public static bool operator !=(RequestId left, RequestId right) => !left.Equals(right);

    /// <summary>JSON-ish text for logs: numbers bare, strings quoted, null as "null".</summary>
    public override string ToString() => Kind switch
    {
        RequestIdKind.Number => _value!,
        RequestIdKind.String => JsonSerializer.Serialize(_value),
        _ => "null",
    };
}
