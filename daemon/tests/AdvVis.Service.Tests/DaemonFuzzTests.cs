// DaemonFuzzTests: 5,000 seeded frames against the real `advvis serve --stdio` process: well-formed requests to every
// protocol method with random params, LF-only and odd headers, mutated and truncated bodies, framed noise, junk between
// frames, cancels of random ids, unknown notifications and two oversized frames. Every well-formed request must get
// exactly one well-formed response, no error may carry a stack trace or the daemon's own paths, and the daemon must
// survive and answer a ping afterwards. Bounded in time: the whole run must finish within 30 s.
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using AdvVis.Service.Protocol;
using AdvVis.Service.Tests.TestSupport;
using Xunit.Abstractions;

namespace AdvVis.Service.Tests;

public sealed class DaemonFuzzTests(ITestOutputHelper output)
{
    private const int Frames = 5000;

    // Methods that write where their params say, or end the session, are left out: the fuzz must not scribble outside
    // its workspace or stop the daemon half-way.
    private static readonly string[] Methods =
        [.. ProtocolCatalog.Methods.Select(m => m.Name).Where(m => m is not ("workspace/configure" or "export/write")),
         "daemon/ping", "daemon/methods", "nope/none", "", "$/cancelRequest"];

    private static readonly string[] MemberNames =
        ["model", "path", "items", "attack", "layer", "layers", "image", "units", "eps", "dataset", "limit", "kind", "paths",
         "labels", "steps", "seed", "blocks", "collapse", "selection", "unit", "k", "background", "edits", "workDoneToken", "sha256"];

    [Theory]
    [InlineData(20261208)]
    [InlineData(7)]
    public async Task Five_thousand_random_frames_each_well_formed_request_answered_once(int seed)
    {
        var random = new Random(seed);
        string fuzzRoot = Directory.CreateTempSubdirectory("advvis-fuzz-").FullName;
        using var d = new DaemonProcess();
        var stdin = d.Process.StandardInput.BaseStream;
        var expected = new HashSet<string>(StringComparer.Ordinal); // ids of well-formed requests, "ok-N" or "big-N"
        var kinds = new int[10];
        var clock = Stopwatch.StartNew();
        int[] oversizedAt = [random.Next(Frames), random.Next(Frames)];

        for (int i = 0; i < Frames; i++)
        {
            int kind = oversizedAt.Contains(i) ? 9 : random.Next(100) switch
            {
                < 50 => 0, // well-formed request, CRLF header
                < 58 => 1, // well-formed request, LF-only or odd-case header, extra headers
                < 66 => 2, // notification: cancel of a random id, unknown, malformed
                < 78 => 3, // mutated body (numeric ids, never counted)
                < 84 => 4, // truncated body with an honest length
                < 88 => 5, // understated length: the rest is junk before the next header
                < 93 => 6, // framed random bytes
                < 97 => 7, // unframed junk line between frames
                _ => 8,    // wrong charset: skipped, answered for its id
            };
            kinds[kind]++;
            byte[] frame;
            switch (kind)
            {
                case 0:
                case 1:
                case 8:
                {
                    string id = $"ok-{i}";
                    expected.Add(id);
                    byte[] body = Encoding.UTF8.GetBytes(RandomRequest(random, JsonValue.Create(id), fuzzRoot));
                    string header = kind switch
                    {
                        0 => $"Content-Length: {body.Length}\r\n\r\n",
                        8 => $"Content-Length: {body.Length}\r\nContent-Type: application/json; charset=utf-16\r\n\r\n",
                        _ => random.Next(3) switch
                        {
                            0 => $"Content-Length: {body.Length}\n\n",
                            1 => $"content-length:{body.Length}\r\nX-Fuzz: {i}\n\r\n",
                            _ => $"CONTENT-LENGTH:   {body.Length}  \nContent-Type: application/vscode-jsonrpc; charset=utf8\n\n",
                        },
                    };
                    frame = [.. Encoding.ASCII.GetBytes(header), .. body];
                    break;
                }
                case 2:
                {
                    string body = random.Next(3) switch
                    {
                        0 => $"{{\"jsonrpc\":\"2.0\",\"method\":\"$/cancelRequest\",\"params\":{{\"id\":\"ok-{random.Next(Math.Max(1, i))}\"}}}}",
                        1 => $"{{\"jsonrpc\":\"2.0\",\"method\":\"fuzz/{random.Next(100)}\",\"params\":{(RandomValue(random, 2, fuzzRoot)?.ToJsonString() ?? "null")}}}",
                        _ => "{\"jsonrpc\":\"2.0\",\"method\":\"$/cancelRequest\",\"params\":" + (RandomValue(random, 2, fuzzRoot)?.ToJsonString() ?? "null") + "}",
                    };
                    frame = Framed(Encoding.UTF8.GetBytes(body));
                    break;
                }
                case 3:
                    frame = Framed(Mutate(random, Encoding.UTF8.GetBytes(RandomRequest(random, JsonValue.Create(1_000_000 + i), fuzzRoot))));
                    break;
                case 4:
                {
                    byte[] body = Encoding.UTF8.GetBytes(RandomRequest(random, JsonValue.Create(2_000_000 + i), fuzzRoot));
                    frame = Framed(body[..random.Next(body.Length)]);
                    break;
                }
                case 5:
                {
                    byte[] body = Encoding.UTF8.GetBytes(RandomRequest(random, JsonValue.Create(3_000_000 + i), fuzzRoot));
                    frame = [.. Encoding.ASCII.GetBytes($"Content-Length: {random.Next(body.Length)}\r\n\r\n"), .. body];
                    break;
                }
                case 6:
                {
                    var noise = new byte[random.Next(0, 300)];
                    random.NextBytes(noise);
                    frame = Framed(noise);
                    break;
                }
                case 7:
                    frame = Encoding.ASCII.GetBytes(random.Next(3) switch
                    {
                        0 => "garbage without a header\r\n\r\n",
                        1 => "Content-Type: text/plain\r\n\r\n",
                        _ => "\r\n\n\r\n",
                    });
                    break;
                default:
                {
                    // Over the 16 MiB frame limit: skipped unread and answered with -32600 for its id.
                    string id = $"big-{i}";
                    expected.Add(id);
                    string head = $"{{\"jsonrpc\":\"2.0\",\"id\":\"{id}\",\"method\":\"daemon/ping\",\"params\":{{\"pad\":\"";
                    var body = new byte[(17 << 20) + random.Next(1000)];
                    body.AsSpan().Fill((byte)'z');
                    Encoding.ASCII.GetBytes(head, body);
                    "\"}}"u8.CopyTo(body.AsSpan(body.Length - 3));
                    frame = Framed(body);
                    break;
                }
            }
            await stdin.WriteAsync(frame);
            if (i % 100 == 0) await stdin.FlushAsync();
        }
        await stdin.FlushAsync();
        long sentMs = clock.ElapsedMilliseconds;

        // Everything answered: then a ping, and a moment for any duplicate response to show.
        var deadline = Stopwatch.StartNew();
        while (expected.Except(AnsweredIds(d)).Any() && deadline.Elapsed < TimeSpan.FromSeconds(60) && !d.Process.HasExited)
            await Task.Delay(50);
        var pong = await d.CallAsync("daemon/ping", timeout: TimeSpan.FromSeconds(30));
        await Task.Delay(300);
        long totalMs = clock.ElapsedMilliseconds;
        output.WriteLine($"seed {seed}: {Frames} frames sent in {sentMs} ms, all answered after {totalMs} ms; kinds {string.Join(",", kinds)}; "
                         + $"{expected.Count} well-formed requests, {d.Responses.Count} responses");

        Assert.False(d.Process.HasExited, "the daemon died; stderr:\n" + d.Stderr);
        Assert.True(pong.TryGetProperty("result", out _));
        var counts = AnsweredIds(d).GroupBy(id => id).ToDictionary(g => g.Key, g => g.Count());
        var missing = expected.Where(id => !counts.ContainsKey(id)).ToList();
        Assert.True(missing.Count == 0, $"{missing.Count} well-formed requests unanswered, e.g. {string.Join(", ", missing.Take(5))}");
        var twice = counts.Where(c => c.Key.StartsWith("ok-", StringComparison.Ordinal) || c.Key.StartsWith("big-", StringComparison.Ordinal)).Where(c => c.Value != 1).ToList();
        Assert.True(twice.Count == 0, $"answered more than once: {string.Join(", ", twice.Take(5).Select(c => $"{c.Key}×{c.Value}"))}");

        string daemonFolder = Path.GetDirectoryName(DaemonProcess.AdvvisDll)!;
        foreach (var response in d.Responses)
        {
            Assert.Equal("2.0", response.GetProperty("jsonrpc").GetString());
            Assert.True(response.TryGetProperty("id", out _));
            Assert.True(response.TryGetProperty("result", out _) ^ response.TryGetProperty("error", out _), response.ToString());
            if (!response.TryGetProperty("error", out var error)) continue;
            Assert.Equal(JsonValueKind.Number, error.GetProperty("code").ValueKind);
            string text = error.ToString();
            Assert.False(text.Contains("   at ", StringComparison.Ordinal) || text.Contains(".cs:line", StringComparison.Ordinal), "stack trace in " + text);
            Assert.False(text.Contains(daemonFolder, StringComparison.Ordinal) || text.Contains("daemon/src/", StringComparison.Ordinal), "daemon path in " + text);
        }
        Assert.DoesNotContain("Unhandled exception", d.Stderr);
        Assert.True(totalMs < 30_000, $"the fuzz run took {totalMs} ms");
        try { Directory.Delete(fuzzRoot, recursive: true); } catch (IOException) { }
    }

    private static IEnumerable<string> AnsweredIds(DaemonProcess d) =>
        d.Responses.Where(r => r.TryGetProperty("id", out var id) && id.ValueKind == JsonValueKind.String).Select(r => r.GetProperty("id").GetString()!);

    private static byte[] Framed(byte[] body) => [.. Encoding.ASCII.GetBytes($"Content-Length: {body.Length}\r\n\r\n"), .. body];

    private static string RandomRequest(Random random, JsonNode id, string fuzzRoot)
    {
        var request = new JsonObject { ["jsonrpc"] = "2.0", ["id"] = id, ["method"] = Methods[random.Next(Methods.Length)] };
        if (random.Next(10) > 0)
        {
            var parameters = new JsonObject();
            for (int k = random.Next(5); k > 0; k--) parameters[MemberNames[random.Next(MemberNames.Length)]] = RandomValue(random, 3, fuzzRoot);
            request["params"] = parameters;
        }
        return request.ToJsonString();
    }

    private static JsonNode? RandomValue(Random random, int depth, string fuzzRoot) => random.Next(depth > 0 ? 10 : 7) switch
    {
        0 => null,
        1 => JsonValue.Create(random.Next(2) == 0),
        2 => JsonValue.Create(random.Next(-5, 100)),
        3 => JsonValue.Create(random.NextDouble() * 1e6 - 5e5),
        // Paths stay absolute and inside the fuzz folder, so nothing is resolved against the daemon's own folders.
        4 => JsonValue.Create(Path.Combine(fuzzRoot, random.Next(3) switch { 0 => "missing.onnx", 1 => "../x/../missing.png", _ => "dir/" })),
        5 => JsonValue.Create(new string(Enumerable.Range(0, random.Next(0, 12)).Select(_ => (char)random.Next(0x20, 0x250)).ToArray())),
        6 => JsonValue.Create(random.Next(3) switch { 0 => "pgd", 1 => "linf", _ => "0123456789abcdef" }),
        7 or 8 => new JsonArray(Enumerable.Range(0, random.Next(4)).Select(_ => RandomValue(random, depth - 1, fuzzRoot)).ToArray()),
        _ => new JsonObject(Enumerable.Range(0, random.Next(4)).Select(_ =>
            KeyValuePair.Create(MemberNames[random.Next(MemberNames.Length)] + (random.Next(4) == 0 ? "x" : ""), RandomValue(random, depth - 1, fuzzRoot)))
            .DistinctBy(p => p.Key)),
    };

    private static byte[] Mutate(Random random, byte[] body)
    {
        var mutated = (byte[])body.Clone();
        for (int n = random.Next(1, 4); n > 0 && mutated.Length > 0; n--)
        {
            int at = random.Next(mutated.Length);
            mutated[at] = random.Next(3) switch { 0 => (byte)random.Next(256), 1 => (byte)'"', _ => (byte)'{' };
        }
        return mutated;
    }
}
