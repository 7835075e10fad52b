// MessageReader: splits a byte stream into LSP base-protocol frames ("Content-Length: N\r\n\r\n" + N bytes of UTF-8 JSON).
// It never throws for bad input: malformed header blocks are logged and skipped by resynchronising on the next
// "Content-Length" text, oversized or undecodable frames are skipped and reported as Rejected (so the endpoint can answer
// the request instead of leaving the client waiting), and end of stream is an ordinary result.
using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace AdvVis.Service.JsonRpc;

/// <summary>What <see cref="MessageReader.ReadAsync"/> produced.</summary>
public enum FrameKind
{
    /// <summary>A complete frame; <see cref="Frame.Body"/> holds its bytes.</summary>
    Message,

    /// <summary>A frame that was skipped (too large, unsupported charset); see <see cref="Frame.RejectionReason"/>.</summary>
    Rejected,

    /// <summary>The input ended (cleanly or inside a frame); no more frames will come.</summary>
    EndOfStream,
}

/// <summary>One result of reading the stream.</summary>
public readonly struct Frame
{
    private Frame(FrameKind kind, byte[]? body, string? rejectionReason, RequestId? sniffedId)
    {
        Kind = kind;
        Body = body;
        RejectionReason = rejectionReason;
        SniffedRequestId = sniffedId;
    }

    public FrameKind Kind { get; }

    /// <summary>The frame body (exactly Content-Length bytes) for <see cref="FrameKind.Message"/>; owned by the caller.</summary>
    public byte[]? Body { get; }

    /// <summary>Human-readable reason for <see cref="FrameKind.Rejected"/>.</summary>
    public string? RejectionReason { get; }

    /// <summary>
    /// For rejected frames: the top-level "id" found in the first bytes of the skipped body, if any, so the error
    /// response can carry the request's real id and the client's pending request fails instead of hanging.
    /// </summary>
    public RequestId? SniffedRequestId { get; }

    public static Frame Message(byte[] body) => new(FrameKind.Message, body, null, null);

    public static Frame Rejected(string reason, RequestId? sniffedId) => new(FrameKind.Rejected, null, reason, sniffedId);

    public static Frame EndOfStream { get; } = new(FrameKind.EndOfStream, null, null, null);
}

/// <summary>
/// Reads LSP frames from a stream. Not thread-safe: exactly one loop reads (the endpoint's receive loop).
/// Header names are case-insensitive; Content-Length is required; Content-Type is optional and, if it names a
/// charset, must be UTF-8; unknown headers are ignored as the LSP spec allows.
/// </summary>
public sealed class MessageReader
{
    /// <summary>
    /// Default cap on one frame body. Requests are small (paths, options, at most an inline PNG for export/write), so
    /// 16 MiB leaves room while a larger frame is skipped in 64 KiB pieces instead of being buffered and parsed whole.
    /// </summary>
    public const int DefaultMaxFrameBytes = 16 * 1024 * 1024;

    /// <summary>A header block longer than this without its blank line is treated as garbage (real headers are ~30 bytes).</summary>
    public const int MaxHeaderBlockBytes = 8 * 1024;

    /// <summary>How much of a rejected body is kept to look for its id.</summary>
    private const int SniffPrefixBytes = 4 * 1024;

    private static readonly byte[] ContentLengthLower = "content-length"u8.ToArray();

    private readonly Stream _input;
    private readonly int _maxFrameBytes;
    private readonly RpcLogger _log;

    // Bytes received but not yet consumed live in _buffer[_start.._end). The buffer only ever needs to hold a header
    // block plus whatever arrived with it: bodies larger than what is buffered are read straight into their own array.
    private byte[] _buffer = new byte[64 * 1024];
    private int _start;
    private int _end;
    private bool _endOfStream;

    public MessageReader(Stream input, int maxFrameBytes = DefaultMaxFrameBytes, RpcLogger? log = null)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxFrameBytes);
        _input = input;
        _maxFrameBytes = maxFrameBytes;
        _log = log ?? RpcLogger.Stderr();
    }

    public int MaxFrameBytes => _maxFrameBytes;

    /// <summary>
    /// Reads the next frame. Returns <see cref="FrameKind.EndOfStream"/> at end of input; an I/O error from the
    /// underlying stream or cancellation of <paramref name="cancellationToken"/> propagates as an exception.
    /// </summary>
    public async ValueTask<Frame> ReadAsync(CancellationToken cancellationToken = default)
    {
        while (true)
        {
            SkipLeadingLineBreaks();
            int terminatorIndex = FindHeaderEnd(Buffered, out int terminatorLength);
            if (terminatorIndex < 0)
            {
                if (_end - _start > MaxHeaderBlockBytes)
                {
                    _log.Warning($"No end of header block within {MaxHeaderBlockBytes} bytes; discarding garbage and resynchronising.");
                    Resynchronise(_start);
                    continue;
                }

                if (!await FillBufferAsync(cancellationToken).ConfigureAwait(false))
                {
                    if (_end > _start)
                    {
                        _log.Warning($"Input ended inside a frame header; {_end - _start} bytes discarded.");
                        _start = _end;
                    }

                    return Frame.EndOfStream;
                }

                continue;
            }

            HeaderParseResult header = ParseHeaderBlock(_buffer.AsSpan(_start, terminatorIndex));
            if (header.Error is not null)
            {
                _log.Warning($"Malformed frame header ({header.Error}): {Printable(_buffer.AsSpan(_start, terminatorIndex))}; resynchronising.");
                if (header.SkipWholeBlock)
                {
                    // A well-formed block with an unusable Content-Length: its other lines (even a second
                    // Content-Length) belong to the same broken header, so resynchronising inside it would
                    // misread a fragment as a frame and swallow the start of the next real one.
                    _start += terminatorIndex + terminatorLength;
                }
                else
                {
                    // Garbage may be glued in front of a real header ("junkContent-Length: 5"), so look for a
                    // marker after the first unparseable byte position.
                    Resynchronise(_start + header.ResyncFrom);
                }

                continue;
            }

            _start += terminatorIndex + terminatorLength;
            long contentLength = header.ContentLength;

            if (contentLength > _maxFrameBytes)
            {
                return await SkipBodyAsync(contentLength,
                    $"frame of {contentLength} bytes exceeds the limit of {_maxFrameBytes} bytes", cancellationToken).ConfigureAwait(false);
            }

            if (header.UnsupportedCharset is not null)
            {
                return await SkipBodyAsync(contentLength,
                    $"unsupported charset '{header.UnsupportedCharset}' (only utf-8 is accepted)", cancellationToken).ConfigureAwait(false);
            }

            byte[]? body = await ReadBodyAsync((int)contentLength, cancellationToken).ConfigureAwait(false);
            if (body is null)
            {
                _log.Warning($"Input ended inside a frame body of {contentLength} bytes.");
                return Frame.EndOfStream;
            }

            return Frame.Message(body);
        }
    }

    private ReadOnlySpan<byte> Buffered => _buffer.AsSpan(_start, _end - _start);

    /// <summary>
    /// Where the header block ends: the first empty line. Lines end in CRLF as LSP says, or in a bare LF as some
    /// hand-written clients send; accepting both means an LF-only header never swallows the frame after it.
    /// Returns the block's length (without its final line break) and, in <paramref name="terminatorLength"/>, how
    /// many bytes the final line break and the empty line take; -1 while the end is not buffered yet.
    /// </summary>
    internal static int FindHeaderEnd(ReadOnlySpan<byte> buffered, out int terminatorLength)
    {
        terminatorLength = 0;
        int from = 0;
        while (true)
        {
            int lf = buffered[from..].IndexOf((byte)'\n');
            if (lf < 0) return -1;
            lf += from;
            int blankLineEnd = lf + 1 < buffered.Length && buffered[lf + 1] == (byte)'\n' ? lf + 2
                : lf + 2 < buffered.Length && buffered[lf + 1] == (byte)'\r' && buffered[lf + 2] == (byte)'\n' ? lf + 3
                : -1;
            if (blankLineEnd < 0 && lf + 2 >= buffered.Length) return -1; // the next bytes decide
            if (blankLineEnd >= 0)
            {
                int blockEnd = lf > 0 && buffered[lf - 1] == (byte)'\r' ? lf - 1 : lf;
                terminatorLength = blankLineEnd - blockEnd;
                return blockEnd;
            }
            from = lf + 1;
        }
    }

    /// <summary>
    /// Stray CR/LF between frames (some hand-written clients append a newline) carry no information, so they are
    /// dropped silently instead of triggering a resync warning.
    /// </summary>
    private void SkipLeadingLineBreaks()
    {
        while (_start < _end && (_buffer[_start] == (byte)'\r' || _buffer[_start] == (byte)'\n'))
        {
            _start++;
        }
    }

    /// <summary>
    /// Drops bytes up to the next "Content-Length" (case-insensitive) after <paramref name="badPosition"/>, the one
    /// marker a real frame always starts with. Always advances by at least one byte, so the read loop cannot spin.
    /// If no marker is buffered, keeps only a tail that might be the start of a split marker.
    /// </summary>
    private void Resynchronise(int badPosition)
    {
        int searchFrom = Math.Max(_start, badPosition) + 1;
        int found = IndexOfIgnoreAsciiCase(_buffer.AsSpan(searchFrom, Math.Max(0, _end - searchFrom)), ContentLengthLower);
        if (found >= 0)
        {
            _start = searchFrom + found;
            return;
        }

        int keepTail = ContentLengthLower.Length - 1;
        _start = Math.Max(searchFrom, _end - keepTail);
        if (_start > _end)
        {
            _start = _end;
        }
    }

    /// <summary>Reads more bytes into the buffer; returns false at end of stream.</summary>
    private async ValueTask<bool> FillBufferAsync(CancellationToken cancellationToken)
    {
        if (_endOfStream)
        {
            return false;
        }

        if (_start > 0 && (_start == _end || _buffer.Length - _end < 4096))
        {
            // Compact: move unconsumed bytes to the front so the buffer never grows while frames keep flowing.
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }

        if (_end == _buffer.Length)
        {
            Array.Resize(ref _buffer, _buffer.Length * 2);
        }

        int read = await _input.ReadAsync(_buffer.AsMemory(_end), cancellationToken).ConfigureAwait(false);
        if (read == 0)
        {
            _endOfStream = true;
            return false;
        }

        _end += read;
        return true;
    }

    /// <summary>Returns the body, or null if the stream ended first.</summary>
    private async ValueTask<byte[]?> ReadBodyAsync(int length, CancellationToken cancellationToken)
    {
        byte[] body = new byte[length];
        int fromBuffer = Math.Min(length, _end - _start);
        _buffer.AsSpan(_start, fromBuffer).CopyTo(body);
        _start += fromBuffer;

        int filled = fromBuffer;
        while (filled < length)
        {
            if (_endOfStream)
            {
                return null;
            }

            // Read straight into the body so large frames are copied once, and never ask for more than the frame
            // needs: bytes after the body belong to the next frame and must go through the header path.
            int read = await _input.ReadAsync(body.AsMemory(filled, length - filled), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                _endOfStream = true;
                return null;
            }

            filled += read;
        }

        return body;
    }

    /// <summary>Discards a body without buffering it whole, keeping a prefix to recover the request id.</summary>
    private async ValueTask<Frame> SkipBodyAsync(long length, string reason, CancellationToken cancellationToken)
    {
        _log.Warning($"Skipping frame: {reason}.");
        byte[] prefix = new byte[(int)Math.Min(SniffPrefixBytes, length)];
        int prefixFilled = 0;
        long remaining = length;

        int fromBuffer = (int)Math.Min(remaining, _end - _start);
        int toPrefix = Math.Min(fromBuffer, prefix.Length);
        _buffer.AsSpan(_start, toPrefix).CopyTo(prefix);
        prefixFilled += toPrefix;
        _start += fromBuffer;
        remaining -= fromBuffer;

        byte[] scratch = ArrayPool<byte>.Shared.Rent(64 * 1024);
        try
        {
            while (remaining > 0)
            {
                if (_endOfStream)
                {
                    return Frame.EndOfStream;
                }

                int read = await _input.ReadAsync(scratch.AsMemory(0, (int)Math.Min(scratch.Length, remaining)), cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    _endOfStream = true;
                    _log.Warning("Input ended inside a skipped frame body.");
                    return Frame.EndOfStream;
                }

                int copy = Math.Min(read, prefix.Length - prefixFilled);
                if (copy > 0)
                {
                    scratch.AsSpan(0, copy).CopyTo(prefix.AsSpan(prefixFilled));
                    prefixFilled += copy;
                }

                remaining -= read;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(scratch);
        }

        return Frame.Rejected(reason, TrySniffRequestId(prefix.AsSpan(0, prefixFilled)));
    }

    /// <summary>
    /// Finds the top-level "id" member in a (possibly truncated) JSON object prefix. vscode-jsonrpc writes
    /// jsonrpc, id, method before params, so the id is almost always within the first few bytes.
    /// </summary>
    internal static RequestId? TrySniffRequestId(ReadOnlySpan<byte> jsonPrefix)
    {
        try
        {
            var reader = new Utf8JsonReader(jsonPrefix, isFinalBlock: false, state: default);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return null;
            }

            while (reader.Read())
            {
                if (reader.TokenType == JsonTokenType.PropertyName && reader.CurrentDepth == 1 && reader.ValueTextEquals("id"u8))
                {
                    if (!reader.Read())
                    {
                        return null;
                    }

                    return RequestId.TryRead(ref reader, out RequestId id) ? id : null;
                }
            }
        }
        catch (JsonException)
        {
            // Not JSON: there is no id to recover, the error response goes out with id null.
        }

        return null;
    }

    /// <summary>
    /// Error is null on success. On failure, SkipWholeBlock says the block was syntactically fine but its
    /// Content-Length unusable; otherwise ResyncFrom is the offset (in the block) where parsing went wrong.
    /// </summary>
    private readonly record struct HeaderParseResult(long ContentLength, string? UnsupportedCharset, string? Error, bool SkipWholeBlock = false, int ResyncFrom = 0)
    {
        public static HeaderParseResult Syntax(string error, int lineOffset) => new(0, null, error, ResyncFrom: lineOffset);

        public static HeaderParseResult BadLength(string error) => new(0, null, error, SkipWholeBlock: true);
    }

    private static HeaderParseResult ParseHeaderBlock(ReadOnlySpan<byte> block)
    {
        long? contentLength = null;
        string? unsupportedCharset = null;
        int lineOffset = 0;

        while (lineOffset < block.Length)
        {
            ReadOnlySpan<byte> rest = block[lineOffset..];
            int lineEnd = rest.IndexOf((byte)'\n');
            ReadOnlySpan<byte> line = lineEnd >= 0 ? rest[..lineEnd] : rest;
            int thisLineOffset = lineOffset;
            lineOffset += line.Length + 1;
            if (line.EndsWith((byte)'\r')) line = line[..^1];

            int colon = line.IndexOf((byte)':');
            if (colon <= 0)
            {
                return HeaderParseResult.Syntax("header line without 'name:'", thisLineOffset);
            }

            ReadOnlySpan<byte> name = line[..colon].Trim((byte)' ');
            ReadOnlySpan<byte> value = line[(colon + 1)..].Trim(" \t"u8);
            if (name.IsEmpty || !IsHeaderToken(name))
            {
                return HeaderParseResult.Syntax("invalid header name", thisLineOffset);
            }

            if (EqualsIgnoreAsciiCase(name, "content-length"u8))
            {
                if (!IsAllDigits(value) || !long.TryParse(Encoding.ASCII.GetString(value), NumberStyles.None, CultureInfo.InvariantCulture, out long parsed))
                {
                    return HeaderParseResult.BadLength("Content-Length is not a non-negative integer");
                }

                if (contentLength is not null && contentLength != parsed)
                {
                    return HeaderParseResult.BadLength("conflicting Content-Length headers");
                }

                contentLength = parsed;
            }
            else if (EqualsIgnoreAsciiCase(name, "content-type"u8))
            {
                unsupportedCharset = UnsupportedCharsetOf(Encoding.ASCII.GetString(value));
            }

            // Any other header is ignored: the LSP base protocol reserves the right to add headers.
        }

        // Missing Content-Length: if a marker is glued to junk inside this block ("junkContent-Length: 5"), it is
        // found by resynchronising from the block start.
        return contentLength is null
            ? HeaderParseResult.Syntax("missing Content-Length", 0)
            : new HeaderParseResult(contentLength.Value, unsupportedCharset, null);
    }

    /// <summary>Returns the charset if one is named and it is not UTF-8 (LSP still accepts the legacy "utf8" spelling).</summary>
    private static string? UnsupportedCharsetOf(string contentType)
    {
        foreach (string part in contentType.Split(';'))
        {
            string trimmed = part.Trim();
            if (trimmed.StartsWith("charset=", StringComparison.OrdinalIgnoreCase))
            {
                string charset = trimmed["charset=".Length..].Trim().Trim('"');
                return charset.Equals("utf-8", StringComparison.OrdinalIgnoreCase) || charset.Equals("utf8", StringComparison.OrdinalIgnoreCase)
                    ? null
                    : charset;
            }
        }

        return null;
    }

    private static bool IsHeaderToken(ReadOnlySpan<byte> name)
    {
        foreach (byte b in name)
        {
            bool ok = (b >= (byte)'a' && b <= (byte)'z') || (b >= (byte)'A' && b <= (byte)'Z') || (b >= (byte)'0' && b <= (byte)'9')
                      || b == (byte)'-' || b == (byte)'_' || b == (byte)'.';
            if (!ok)
            {
                return false;
            }
        }

        return true;
    }

    private static bool IsAllDigits(ReadOnlySpan<byte> value)
    {
        if (value.IsEmpty || value.Length > 18)
        {
            return false;
        }

        foreach (byte b in value)
        {
            if (b < (byte)'0' || b > (byte)'9')
            {
                return false;
            }
        }

        return true;
    }

    private static bool EqualsIgnoreAsciiCase(ReadOnlySpan<byte> value, ReadOnlySpan<byte> lowerCaseExpected)
    {
        if (value.Length != lowerCaseExpected.Length)
        {
            return false;
        }

        for (int i = 0; i < value.Length; i++)
        {
            if (ToLowerAscii(value[i]) != lowerCaseExpected[i])
            {
                return false;
            }
        }

        return true;
    }

    private static int IndexOfIgnoreAsciiCase(ReadOnlySpan<byte> haystack, ReadOnlySpan<byte> lowerCaseNeedle)
    {
        for (int i = 0; i + lowerCaseNeedle.Length <= haystack.Length; i++)
        {
            if (EqualsIgnoreAsciiCase(haystack.Slice(i, lowerCaseNeedle.Length), lowerCaseNeedle))
            {
                return i;
            }
        }

        return -1;
    }

    private static byte ToLowerAscii(byte b) => b is >= (byte)'A' and <= (byte)'Z' ? (byte)(b + 32) : b;

    /// <summary>Header bytes rendered for a log line: printable ASCII kept, the rest escaped, long blocks cut.</summary>
    private static string Printable(ReadOnlySpan<byte> bytes)
    {
        var text = new StringBuilder();
        foreach (byte b in bytes[..Math.Min(bytes.Length, 120)])
        {
            text.Append(b is >= 0x20 and < 0x7f ? (char)b : b == '\r' ? "\\r" : b == '\n' ? "\\n" : $"\\x{b:x2}");
        }

        if (bytes.Length > 120)
        {
            text.Append($"… ({bytes.Length} bytes)");
        }

        return text.ToString();
    }
}
