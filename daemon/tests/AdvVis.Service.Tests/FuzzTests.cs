// FuzzTests: a seeded stream of ~500 random, truncated and mutated frames. The endpoint must never fault, every
// message it sends must be a well-formed JSON-RPC response or notification, every well-framed request with a usable
// id must get exactly one response, and a valid daemon/ping must still answer afterwards.
using System.Text;
using System.Text.Json;
using AdvVis.Service.JsonRpc;
using AdvVis.Service.Tests.TestHost;
using AdvVis.Service.Tests.TestSupport;

namespace AdvVis.Service.Tests;

public sealed class FuzzTests
{
    private static readonly string[] Methods =
        ["daemon/ping", "daemon/methods", "test/echo", "test/add", "test/fail", "test/rpcError", "test/wait", "test/progress", "nope", "", "$/cancelRequest", "$/x"];

    [Theory]
    [InlineData(20240601)]
    [InlineData(7)]
    public async Task Random_frames_never_break_the_endpoint(int seed)
    {
        var random = new Random(seed);
        await using var client = new RpcTestClient(TestMethods.Register, new EndpointOptions { MaxFrameBytes = 4096 });
        var expectedIds = new HashSet<string>(); // raw id text of requests that must be answered exactly once
        bool previousFrameOverstatedLength = false; // then this frame's first bytes were swallowed as that body

        for (int i = 0; i < 500; i++)
        {
            int kind = random.Next(100);
            bool overstated = false;
            string json = RandomMessage(random, i, out string? answerableId);
            if (kind < 70)
            {
                // Well-framed, possibly mutated JSON: the endpoint must answer every valid-shaped request.
                string body = kind < 40 ? json : Mutate(random, json);
                if (body == json && answerableId is not null && !previousFrameOverstatedLength)
                {
                    expectedIds.Add(answerableId);
                }

                await client.SendAsync(body);
            }
            else if (kind < 80)
            {
                // Truncated body with an honest Content-Length.
                await client.SendAsync(json[..random.Next(json.Length)]);
            }
            else if (kind < 88)
            {
                // Random bytes, framed.
                byte[] noise = new byte[random.Next(0, 200)];
                random.NextBytes(noise);
                await client.SendRawAsync([.. Encoding.ASCII.GetBytes($"Content-Length: {noise.Length}\r\n\r\n"), .. noise]);
            }
            else if (kind < 94)
            {
                // Header mutations: wrong length (slightly), bad header lines, unframed garbage.
                byte[] body = Encoding.UTF8.GetBytes(json);
                string header = random.Next(4) switch
                {
                    0 => $"Content-Length: {Math.Max(0, body.Length - random.Next(1, 10))}\r\n\r\n",
                    1 => $"Content-Length: {body.Length + random.Next(1, 10)}\r\n\r\n".Also(() => overstated = true),
                    2 => $"Content-Lenght: {body.Length}\r\n\r\n",
                    _ => $"Content-Length: x{body.Length}\r\nBogus\r\n\r\n",
                };
                await client.SendRawAsync([.. Encoding.ASCII.GetBytes(header), .. body]);
            }
            else
            {
                // Oversized frame (limit is 4 KiB).
                await client.SendAsync(RpcTestClient.Request($"big-{i}", "test/echo", new { text = new string('z', 5000 + random.Next(3000)) }));
            }

            previousFrameOverstatedLength = overstated;
            if (i % 50 == 0)
            {
                await Task.Yield();
            }
        }

        // Re-synchronise: a frame whose Content-Length overstated its body may still be waiting for bytes. Blank
        // padding fills it (or is skipped as stray line breaks), then pings must get through.
        await client.SendRawAsync(new string('\n', 64));
        JsonElement? pong = null;
        for (int attempt = 0; attempt < 5 && pong is null; attempt++)
        {
            try
            {
                pong = await client.CallAsync("daemon/ping", timeout: TimeSpan.FromSeconds(3));
            }
            catch (TimeoutException)
            {
                await client.SendRawAsync(new string('\n', 64));
            }
        }

        Assert.NotNull(pong);
        Assert.True(ResponseAssert.Result(pong!.Value).GetProperty("pong").GetBoolean());
        Assert.False(client.RunTask.IsCompleted, "the endpoint stopped during the fuzz");

        // Every well-framed valid request got exactly one response, and every message is well-formed.
        foreach (string id in expectedIds)
        {
            await client.WaitForResponseAsync(id);
        }

        var responseCounts = new Dictionary<string, int>();
        foreach (ReceivedMessage message in client.Received)
        {
            JsonElement json = message.Json;
            if (json.ValueKind == JsonValueKind.Array)
            {
                continue; // batch rejection
            }

            Assert.Equal("2.0", json.GetProperty("jsonrpc").GetString());
            if (message.Method is not null)
            {
                Assert.Equal("$/progress", message.Method);
                continue;
            }

            Assert.True(json.TryGetProperty("result", out _) ^ json.TryGetProperty("error", out _), json.GetRawText());
            string id = json.GetProperty("id").GetRawText();
            responseCounts[id] = responseCounts.GetValueOrDefault(id) + 1;
        }

        foreach (string id in expectedIds)
        {
            Assert.Equal(1, responseCounts.GetValueOrDefault(JsonDocument.Parse(id).RootElement.GetRawText()));
        }

        client.CloseInput();
        Assert.True((await client.RunTask.WaitAsync(RpcTestClient.DefaultTimeout)) is 0 or 1);
    }

    /// <summary>
    /// A random message. <paramref name="answerableId"/> is set when, sent unmodified, it is a request that must get
    /// exactly one response (unique id, not cancelled, not exit/shutdown).
    /// </summary>
    private static string RandomMessage(Random random, int index, out string? answerableId)
    {
        answerableId = null;
        string method = Methods[random.Next(Methods.Length)];
        object? parameters = method == "test/wait" ? new { milliseconds = random.Next(0, 5) } : random.Next(6) switch
        {
            0 => null,
            1 => new { text = RandomText(random) },
            2 => new { a = random.Next(), b = random.Next(-5, 5) },
            3 => new { milliseconds = random.Next(0, 5) },
            4 => new { steps = random.Next(0, 3), workDoneToken = $"tok{index}" },
            _ => new object[] { 1, "two", null! },
        };

        if (random.Next(5) == 0)
        {
            return RpcTestClient.Notification(method, parameters);
        }

        // Ids are sparse (numbers) or carry a random suffix (strings) so a mutated copy cannot collide with another
        // message's id and break the exactly-once bookkeeping.
        object id = random.Next(2) == 0 ? 1_000_003 * index + 17 : $"s{index}-{random.Next(100_000, 999_999)}";
        answerableId = id is int number ? number.ToString() : JsonSerializer.Serialize(id);
        return RpcTestClient.Request(id, method, parameters);
    }

    private static string RandomText(Random random)
    {
        string[] pieces = ["a", "ü", "🌍", "日本", "\"", "\\", "\n", "\u0001", " "];
        return string.Concat(Enumerable.Range(0, random.Next(0, 12)).Select(_ => pieces[random.Next(pieces.Length)]));
    }

    private static string Mutate(Random random, string json)
    {
        var chars = json.ToCharArray().ToList();
        int edits = random.Next(1, 4);
        for (int e = 0; e < edits && chars.Count > 0; e++)
        {
            int at = random.Next(chars.Count);
            switch (random.Next(3))
            {
                case 0:
                    chars.RemoveAt(at);
                    break;
                case 1:
                    chars.Insert(at, "{}[]\":,0a\\"[random.Next(10)]);
                    break;
                default:
                    chars[at] = (char)random.Next(0x20, 0x7f);
                    break;
            }
        }

        return new string(chars.ToArray());
    }
}

internal static class FuzzExtensions
{
    /// <summary>Runs a side effect inside an expression (keeps the switch above readable).</summary>
    public static string Also(this string value, Action action)
    {
        action();
        return value;
    }
}
