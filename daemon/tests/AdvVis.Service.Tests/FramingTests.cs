// FramingTests: MessageReader/MessageWriter on their own: round trips, frames split at every byte, several frames in
// one read, byte-counted Unicode, and recovery from oversize, header-less and garbage input.
using System.Text;
using AdvVis.Service.JsonRpc;
using AdvVis.Service.Tests.TestSupport;

namespace AdvVis.Service.Tests;

public sealed class FramingTests
{
    private readonly StringWriter _log = new();

    private MessageReader ReaderOver(byte[] bytes, int maxFrameBytes = MessageReader.DefaultMaxFrameBytes, int chunk = int.MaxValue) =>
        new(new TrickleStream(bytes, chunk), maxFrameBytes, new RpcLogger(_log, RpcLogLevel.Debug));

    private static byte[] Framed(string json)
    {
        byte[] body = Encoding.UTF8.GetBytes(json);
        return [.. Encoding.ASCII.GetBytes($"Content-Length: {body.Length}\r\n\r\n"), .. body];
    }

    private static async Task<List<string>> ReadAllBodies(MessageReader reader)
    {
        var bodies = new List<string>();
        while (true)
        {
            Frame frame = await reader.ReadAsync();
            if (frame.Kind == FrameKind.EndOfStream)
            {
                return bodies;
            }

            bodies.Add(frame.Kind == FrameKind.Message ? Encoding.UTF8.GetString(frame.Body!) : "REJECTED:" + frame.RejectionReason);
        }
    }

    [Fact]
    public async Task Writer_output_reads_back_identically()
    {
        var stream = new MemoryStream();
        using var writer = new MessageWriter(stream);
        await writer.WriteAsync("""{"jsonrpc":"2.0","id":1,"method":"a"}""");
        await writer.WriteAsync("""{"jsonrpc":"2.0","method":"b"}""");

        Assert.StartsWith("Content-Length: 37\r\n\r\n{", Encoding.UTF8.GetString(stream.ToArray()));
        List<string> bodies = await ReadAllBodies(ReaderOver(stream.ToArray()));
        Assert.Equal(["""{"jsonrpc":"2.0","id":1,"method":"a"}""", """{"jsonrpc":"2.0","method":"b"}"""], bodies);
    }

    [Fact]
    public async Task Frames_delivered_one_byte_per_read_are_reassembled()
    {
        byte[] input = [.. Framed("""{"a":"first"}"""), .. Framed("""{"b":"second ü"}""")];
        List<string> bodies = await ReadAllBodies(ReaderOver(input, chunk: 1));
        Assert.Equal(["""{"a":"first"}""", """{"b":"second ü"}"""], bodies);
        Assert.DoesNotContain("warn", _log.ToString());
    }

    [Fact]
    public async Task Two_frames_in_one_read_are_both_returned()
    {
        byte[] input = [.. Framed("[1]"), .. Framed("[2,3]")];
        Assert.Equal(["[1]", "[2,3]"], await ReadAllBodies(ReaderOver(input)));
    }

    [Fact]
    public async Task Content_length_counts_utf8_bytes_not_characters()
    {
        const string json = """{"text":"héllo 🌍 日本語 ✓"}""";
        byte[] frame = Framed(json);
        Assert.Contains($"Content-Length: {Encoding.UTF8.GetByteCount(json)}\r\n", Encoding.ASCII.GetString(frame));
        Assert.NotEqual(json.Length, Encoding.UTF8.GetByteCount(json));
        Assert.Equal([json, json], await ReadAllBodies(ReaderOver([.. frame, .. frame], chunk: 3)));

        var stream = new MemoryStream();
        await new MessageWriter(stream).WriteAsync(json);
        Assert.Equal(frame, stream.ToArray());
    }

    [Fact]
    public async Task Header_names_are_case_insensitive_and_content_type_is_optional()
    {
        byte[] input = Encoding.UTF8.GetBytes("content-LENGTH: 2\r\nContent-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n{}"
                                              + "CONTENT-TYPE: application/vscode-jsonrpc; charset=utf8\r\nContent-Length:3\r\n\r\n[1]"
                                              + "Content-Length: 2\r\nX-Custom: ignored\r\n\r\n[]");
        Assert.Equal(["{}", "[1]", "[]"], await ReadAllBodies(ReaderOver(input)));
    }

    [Fact]
    public async Task Oversize_frame_is_skipped_and_reported_with_its_id()
    {
        string big = "{\"jsonrpc\":\"2.0\",\"id\":42,\"method\":\"x\",\"params\":{\"blob\":\"" + new string('x', 500) + "\"}}";
        byte[] input = [.. Framed(big), .. Framed("""{"ok":true}""")];
        MessageReader reader = ReaderOver(input, maxFrameBytes: 100, chunk: 7);

        Frame rejected = await reader.ReadAsync();
        Assert.Equal(FrameKind.Rejected, rejected.Kind);
        Assert.Contains("exceeds the limit of 100 bytes", rejected.RejectionReason);
        Assert.Equal(RequestId.FromNumber(42), rejected.SniffedRequestId);

        Frame next = await reader.ReadAsync();
        Assert.Equal(FrameKind.Message, next.Kind);
        Assert.Equal("""{"ok":true}""", Encoding.UTF8.GetString(next.Body!));
        Assert.Equal(FrameKind.EndOfStream, (await reader.ReadAsync()).Kind);
    }

    [Fact]
    public async Task Non_utf8_charset_is_rejected_but_the_stream_stays_in_sync()
    {
        byte[] input = [.. Encoding.ASCII.GetBytes("Content-Type: text/json; charset=latin1\r\nContent-Length: 9\r\n\r\n{\"id\":\"a\"}"[..^1]), .. Framed("[]")];
        // Body above is exactly 9 bytes: {"id":"a"  (truncated JSON, so the sniffer sees an id but no end).
        MessageReader reader = ReaderOver(input);
        Frame rejected = await reader.ReadAsync();
        Assert.Equal(FrameKind.Rejected, rejected.Kind);
        Assert.Contains("latin1", rejected.RejectionReason);
        Assert.Equal(RequestId.FromString("a"), rejected.SniffedRequestId);
        Assert.Equal("[]", Encoding.UTF8.GetString((await reader.ReadAsync()).Body!));
    }

    [Fact]
    public async Task Frame_without_content_length_is_logged_and_skipped()
    {
        byte[] input = [.. Encoding.ASCII.GetBytes("Content-Type: application/vscode-jsonrpc\r\n\r\n{\"lost\":1}"), .. Framed("{\"kept\":2}")];
        Assert.Equal(["{\"kept\":2}"], await ReadAllBodies(ReaderOver(input, chunk: 5)));
        Assert.Contains("missing Content-Length", _log.ToString());
    }

    [Theory]
    [InlineData("Content-Length: abc\r\n\r\n")]
    [InlineData("Content-Length: -5\r\n\r\n")]
    [InlineData("Content-Length: 2\r\nContent-Length: 3\r\n\r\n")]
    [InlineData("Content-Length 2\r\n\r\n")]
    [InlineData("\u0001\u0002garbage with no structure")]
    [InlineData("junk line\r\n")]
    [InlineData("junk")]
    [InlineData("X-Only: header\r\n\r\n{\"body\":\"of a frame without length\"}")]
    [InlineData("GET / HTTP/1.1\r\nHost: x\r\n\r\n")]
    public async Task Garbage_before_a_valid_frame_is_discarded(string garbage)
    {
        byte[] input = [.. Encoding.UTF8.GetBytes(garbage), .. Framed("{\"after\":true}")];
        Assert.Equal(["{\"after\":true}"], await ReadAllBodies(ReaderOver(input, chunk: 2)));
    }

    [Fact]
    public async Task Random_binary_garbage_then_valid_frame_resynchronises()
    {
        var random = new Random(7);
        byte[] garbage = new byte[20_000]; // longer than the header-block limit, so the size guard is exercised too
        random.NextBytes(garbage);
        byte[] input = [.. garbage, .. Framed("{\"after\":true}")];
        List<string> bodies = await ReadAllBodies(ReaderOver(input, chunk: 4096));
        Assert.Equal("{\"after\":true}", bodies.Last());
    }

    [Fact]
    public async Task Stray_line_breaks_between_frames_are_tolerated_silently()
    {
        byte[] input = [.. Framed("[1]"), .. "\r\n\n"u8.ToArray(), .. Framed("[2]")];
        Assert.Equal(["[1]", "[2]"], await ReadAllBodies(ReaderOver(input)));
        Assert.DoesNotContain("Malformed", _log.ToString());
    }

    [Fact]
    public async Task Eof_inside_header_or_body_ends_the_stream()
    {
        Assert.Empty(await ReadAllBodies(ReaderOver(Encoding.ASCII.GetBytes("Content-Len"))));
        Assert.Empty(await ReadAllBodies(ReaderOver(Encoding.ASCII.GetBytes("Content-Length: 10\r\n\r\n{\"a\""))));
        Assert.Contains("Input ended inside a frame body", _log.ToString());
        Assert.Equal(FrameKind.EndOfStream, (await ReaderOver([]).ReadAsync()).Kind);
    }

    [Fact]
    public async Task Concurrent_writers_never_interleave_frames()
    {
        var stream = new MemoryStream();
        using var writer = new MessageWriter(stream);
        await Task.WhenAll(Enumerable.Range(0, 200).Select(i => Task.Run(() => writer.WriteAsync($$"""{"n":{{i}},"pad":"{{new string('p', i * 10)}}"}"""))));

        List<string> bodies = await ReadAllBodies(ReaderOver(stream.ToArray()));
        Assert.Equal(200, bodies.Count);
        Assert.Equal(Enumerable.Range(0, 200).ToHashSet(), bodies.Select(b => System.Text.Json.JsonDocument.Parse(b).RootElement.GetProperty("n").GetInt32()).ToHashSet());
    }
}
