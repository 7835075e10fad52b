// DaemonTests: the real `advvis serve --stdio` process over pipes: every protocol method, the cache, progress,
// cancellation mid-attack, parallel requests, malformed input, and the process lifecycle.
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using AdvVis.Service.JsonRpc;
using AdvVis.Service.Protocol;
using AdvVis.Service.Tests.TestSupport;
using Xunit.Abstractions;

namespace AdvVis.Service.Tests;

public sealed class DaemonFixture : IDisposable
{
    public DaemonProcess Daemon { get; } = new();
    public void Dispose() => Daemon.Dispose();
}

public sealed class DaemonMethodTests(DaemonFixture fixture, ITestOutputHelper output) : IClassFixture<DaemonFixture>
{
    private DaemonProcess D => fixture.Daemon;
    private static string Mnist => Path.GetFullPath(Path.Combine(DaemonProcess.Models, "mnist-zoo-opset7.onnx"));
    private static string[] Digits => Directory.GetFiles(Path.Combine(DaemonProcess.Data, "mnist", "foolbox_samples"), "*.png").Order(StringComparer.Ordinal).Take(4).ToArray();
    private static int[] DigitLabels => Digits.Select(p => int.Parse(Path.GetFileNameWithoutExtension(p).Split('_')[2])).ToArray();

    private async Task<string> OpenMnist() => (await D.ResultAsync("model/open", new { path = Mnist })).GetProperty("handle").GetString()!;

    private static int Code(JsonElement response) => response.GetProperty("error").GetProperty("code").GetInt32();

    [Fact]
    public async Task Daemon_registers_exactly_the_documented_methods()
    {
        var methods = (await D.ResultAsync("daemon/methods")).GetProperty("methods").EnumerateArray().Select(m => m.GetProperty("name").GetString()!).ToHashSet();
        foreach (var m in ProtocolCatalog.Methods) Assert.Contains(m.Name, methods);
        Assert.Empty(methods.Except(ProtocolCatalog.Methods.Select(m => m.Name)).Except(["daemon/ping", "daemon/methods", "shutdown", "exit", "$/cancelRequest"]));
    }

    [Fact]
    public async Task Model_methods_open_describe_graph_predict_and_close()
    {
        var info = await D.ResultAsync("model/open", new { path = Mnist });
        string handle = info.GetProperty("handle").GetString()!;
        Assert.Equal(info.GetProperty("sha256").GetString()![..16], handle);
        Assert.Equal(handle, (await D.ResultAsync("model/open", new { path = Mnist })).GetProperty("handle").GetString()); // same file, same handle
        Assert.Equal(AdvVisErrorCodes.ModelChanged, Code(await D.CallAsync("model/open", new { path = Mnist, sha256 = new string('0', 64) })));
        Assert.Equal(AdvVisErrorCodes.BadInput, Code(await D.CallAsync("model/open", new { path = "/nonexistent/model.onnx" })));

        var graph = await D.ResultAsync("model/graph", new { model = handle, selection = new[] { "Plus30_Output_0", "Plus112_Output_0" } });
        Assert.True(graph.GetProperty("nodes").GetArrayLength() >= 8);
        Assert.Contains(graph.GetProperty("nodes").EnumerateArray(), n => n.GetProperty("opType").GetString() == "Conv" && n.GetProperty("category").GetString() == "connectedWeighted");
        Assert.True(graph.GetProperty("selection").GetProperty("isSequential").GetBoolean());

        var predict = await D.ResultAsync("model/predict", new { model = handle, items = new { images = Digits, labels = DigitLabels } });
        Assert.Equal(1.0, predict.GetProperty("accuracy").GetDouble());
        Assert.Contains((await D.ResultAsync("model/list")).GetProperty("models").EnumerateArray(), m => m.GetProperty("handle").GetString() == handle);
        Assert.Equal(AdvVisErrorCodes.ModelNotOpen, Code(await D.CallAsync("model/graph", new { model = "nope" })));
        Assert.Equal(JsonRpcErrorCodes.InvalidParams, Code(await D.CallAsync("model/graph", new { model = 5 })));
    }

    [Fact]
    public async Task The_vulnerability_map_of_a_pair_is_computed_once_for_receptive_fields_and_the_map()
    {
        string handle = await OpenMnist();
        var explain = await D.ResultAsync("explain/run", new { model = handle, image = Digits[1], attack = new { kind = "pgd", eps = 0.3, alpha = 0.075, steps = 10 } });
        string adversarial = explain.GetProperty("attack").GetProperty("adversarialPath").GetString()!;
        async Task<(long Hits, long Misses)> Stats() { var s = await D.ResultAsync("cache/stats"); return (s.GetProperty("hits").GetInt64(), s.GetProperty("misses").GetInt64()); }
        // A stride no other test uses, so nothing of this pair is cached yet.
        var fields = new { model = handle, layer = "ReLU114_Output_0", units = new[] { 0, 1 }, image = Digits[1], adversarial, stride = 5 };
        var start = await Stats();
        var first = await D.ResultAsync("unit/receptiveFields", fields);
        Assert.True(first.GetProperty("fields")[0].TryGetProperty("iou", out _));
        var afterFields = await Stats();
        Assert.Equal(start.Hits, afterFields.Hits);
        // The map on its own reuses the maps the receptive fields computed: one hit (maps), one miss (its own result).
        var map = await D.ResultAsync("vulnerability/map", new { model = handle, image = Digits[1], adversarial, stride = 5 });
        var afterMap = await Stats();
        Assert.Equal(afterFields.Hits + 1, afterMap.Hits);
        // Explaining the same image again: both answered from the cache, nothing recomputed.
        Assert.True((await D.ResultAsync("vulnerability/map", new { model = handle, image = Digits[1], adversarial, stride = 5 })).GetProperty("fromCache").GetBoolean());
        var again = await D.ResultAsync("unit/receptiveFields", fields);
        Assert.Equal(afterMap.Hits + 2, (await Stats()).Hits);
        Assert.Equal(first.GetProperty("fields")[1].GetProperty("iou").GetDouble(), again.GetProperty("fields")[1].GetProperty("iou").GetDouble());
        Assert.Equal(map.GetProperty("benignClass").GetInt32(), explain.GetProperty("benign").GetProperty("class").GetInt32());
    }

    [Fact]
    public async Task Attack_is_cached_and_feeds_explain_vulnerability_and_receptive_fields()
    {
        string handle = await OpenMnist();
        var attack = new { kind = "pgd", eps = 0.3, alpha = 0.075, steps = 10 };
        var parameters = new { model = handle, items = new { images = Digits, labels = DigitLabels }, attack, returnImages = true };
        var first = await D.ResultAsync("attack/run", parameters);
        Assert.False(first.GetProperty("fromCache").GetBoolean());
        Assert.Equal(1.0, first.GetProperty("successRate").GetDouble());
        Assert.True(first.GetProperty("meanLinf").GetDouble() <= 0.3 + 1e-6);
        var item = first.GetProperty("items")[0];
        string adversarial = item.GetProperty("adversarialPath").GetString()!;
        Assert.StartsWith(Path.Combine(D.Workspace, ".advvis", "cache"), adversarial);
        Assert.True(Convert.FromBase64String(item.GetProperty("adversarialImage").GetProperty("pngBase64").GetString()!).AsSpan(1, 3).SequenceEqual("PNG"u8));
        var second = await D.ResultAsync("attack/run", parameters);
        Assert.True(second.GetProperty("fromCache").GetBoolean());
        Assert.Equal(first.GetProperty("meanL2").GetDouble(), second.GetProperty("meanL2").GetDouble());

        var explain = await D.ResultAsync("explain/run", new { model = handle, image = Digits[0], attack });
        Assert.True(explain.GetProperty("layers").GetArrayLength() > 0);
        Assert.NotEqual(explain.GetProperty("benign").GetProperty("class").GetInt32(), explain.GetProperty("adversarial").GetProperty("class").GetInt32());

        var map = await D.ResultAsync("vulnerability/map", new { model = handle, image = Digits[0], adversarial, stride = 2 });
        var bMap = Convert.FromBase64String(map.GetProperty("bMap").GetProperty("base64").GetString()!);
        Assert.Equal(28 * 28 * 4, bMap.Length);
        Assert.True((await D.ResultAsync("vulnerability/map", new { model = handle, image = Digits[0], adversarial, stride = 2 })).GetProperty("fromCache").GetBoolean());

        var rf = await D.ResultAsync("unit/receptiveFields", new { model = handle, layer = "ReLU32_Output_0", units = new[] { 0, 1 }, image = Digits[0], adversarial, stride = 4 });
        Assert.Equal(2, rf.GetProperty("fields").GetArrayLength());
        Assert.True(rf.GetProperty("fields")[0].TryGetProperty("iou", out _));

        var cluster = await D.ResultAsync("neurons/cluster", new { model = handle, layer = "ReLU32_Output_0", images = new[] { Digits[0], adversarial } });
        Assert.Equal(7, cluster.GetProperty("merges").GetArrayLength()); // 8 units → 7 merges
    }

    [Fact]
    public async Task Layer_edit_export_workspace_and_cache_methods_work()
    {
        string handle = await OpenMnist();
        var reduce = await D.ResultAsync("layer/reduce", new { model = handle, layer = "ReLU114_Output_0", items = new { images = Digits }, topK = 3 });
        Assert.Equal(16, reduce.GetProperty("unitCount").GetInt32());
        Assert.Equal(16 * 4, Convert.FromBase64String(reduce.GetProperty("values").GetProperty("base64").GetString()!).Length);
        var maps = await D.ResultAsync("layer/activationMaps", new { model = handle, layer = "ReLU114_Output_0", item = Digits[0], units = new[] { 3 } });
        Assert.Equal(14, maps.GetProperty("maps")[0].GetProperty("height").GetInt32());

        var edit = await D.ResultAsync("neurons/edit", new { model = handle, deletions = new[] { new { layer = "ReLU114_Output_0", units = Enumerable.Range(0, 16).ToArray() } },
            items = new { images = Digits, labels = DigitLabels } });
        Assert.Equal(1.0, edit.GetProperty("before").GetProperty("cleanAccuracy").GetDouble());
        Assert.True(edit.GetProperty("after").GetProperty("cleanAccuracy").GetDouble() < 1.0);
        Assert.True((await D.ResultAsync("model/predict", new { model = handle, items = new { images = Digits } })).GetProperty("edited").GetBoolean());
        await D.ResultAsync("neurons/edit", new { model = handle, deletions = Array.Empty<object>() });

        var array = new { shape = new[] { 2, 2 }, base64 = Convert.ToBase64String(new float[] { 1, 2, 3, 4 }.SelectMany(BitConverter.GetBytes).ToArray()) };
        var csv = await D.ResultAsync("export/write", new { fileName = "sub/values.csv", format = "csv", array, columnNames = new[] { "a", "b" } });
        Assert.Equal("a,b\n1,2\n3,4\n", File.ReadAllText(csv.GetProperty("path").GetString()!).Replace("\r", ""));
        var npy = await D.ResultAsync("export/write", new { fileName = "values.npy", format = "npy", array });
        Assert.True(File.Exists(npy.GetProperty("path").GetString()));
        Assert.Equal(AdvVisErrorCodes.PathNotAllowed, Code(await D.CallAsync("export/write", new { fileName = "../escape.csv", format = "csv", array })));
        Assert.Equal(AdvVisErrorCodes.PathNotAllowed, Code(await D.CallAsync("export/write", new { fileName = "/tmp/abs.csv", format = "csv", array })));

        var configured = await D.ResultAsync("workspace/configure", new { });
        Assert.Equal(Path.Combine(D.Workspace, ".advvis", "cache"), configured.GetProperty("cacheDir").GetString());
        Assert.True((await D.ResultAsync("cache/stats")).GetProperty("maxBytes").GetInt64() > 0);
        await D.ResultAsync("cache/clear");
        Assert.Equal(0, (await D.ResultAsync("cache/stats")).GetProperty("entries").GetInt32());
    }

    [Fact]
    public async Task Parallel_read_only_requests_all_complete()
    {
        string handle = await OpenMnist();
        var ids = Enumerable.Range(0, 16).Select(_ => D.NextId()).ToArray();
        var waiters = ids.Select(D.Expect).ToArray();
        for (int i = 0; i < ids.Length; i++)
            await D.SendAsync(RpcTestClient.Request(ids[i], i % 2 == 0 ? "model/predict" : "daemon/ping",
                i % 2 == 0 ? new { model = handle, items = new { images = Digits } } : null));
        foreach (var w in waiters) Assert.True((await D.WaitAsync(w)).TryGetProperty("result", out _));
    }

    [Fact]
    public async Task Trivial_round_trip_is_fast()
    {
        for (int i = 0; i < 50; i++) await D.CallAsync("daemon/ping"); // warm up
        const int n = 500;
        var samples = new double[n];
        for (int i = 0; i < n; i++)
        {
            long start = Stopwatch.GetTimestamp();
            await D.CallAsync("daemon/ping");
            samples[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }
        double ms = samples.Average(), median = samples.Order().ElementAt(n / 2);
        output.WriteLine($"round trip of daemon/ping: median {median:F3} ms, mean {ms:F3} ms (this test's client; other test classes run in parallel); daemon working set {D.Process.WorkingSet64 / (1 << 20)} MiB");
        Assert.True(ms < 20, $"{ms} ms per ping");
    }
}

public sealed class DaemonLifecycleTests(ITestOutputHelper output)
{
    private static string Fmnist => Path.GetFullPath(Path.Combine(DaemonProcess.Models, "fmnist-cnn-paper.onnx"));
    private static string FmnistData => Path.GetFullPath(Path.Combine(DaemonProcess.Data, "fashion-mnist", "fmnist-test-2000.npz"));

    [Fact]
    public async Task Cold_start_to_first_response_and_exit_on_stdin_close()
    {
        // The first start also JIT-compiles this test's client code; later starts time the (always cold) daemon alone.
        var starts = new List<double>();
        for (int i = 0; i < 4; i++)
        {
            using var cold = new DaemonProcess();
            await cold.CallAsync("daemon/ping");
            starts.Add(cold.Started.Elapsed.TotalMilliseconds);
        }
        output.WriteLine($"cold start to first response: {string.Join(", ", starts.Select(ms => $"{ms:F0}"))} ms (first includes the test client's JIT); median of the rest {starts.Skip(1).Order().ElementAt(1):F0} ms");
        using var d = new DaemonProcess();
        await d.CallAsync("daemon/ping");
        await Task.Delay(300);
        d.Process.Refresh();
        output.WriteLine($"idle working set: {d.Process.WorkingSet64 / (1 << 20)} MiB");
        d.CloseInput();
        Assert.True(d.Process.WaitForExit(10_000), "daemon did not exit after stdin closed");
        Assert.Equal(0, d.Process.ExitCode);
    }

    [Fact]
    public async Task Shutdown_then_exit_ends_with_code_zero()
    {
        using var d = new DaemonProcess();
        var response = await d.CallAsync("shutdown");
        Assert.Equal(JsonValueKind.Null, response.GetProperty("result").ValueKind);
        await d.SendAsync(RpcTestClient.Notification("exit"));
        Assert.True(d.Process.WaitForExit(10_000));
        Assert.Equal(0, d.Process.ExitCode);
    }

    [Fact]
    public async Task Cancelling_an_attack_mid_run_answers_request_cancelled_and_caches_nothing()
    {
        using var d = new DaemonProcess();
        string handle = (await d.ResultAsync("model/open", new { path = Fmnist })).GetProperty("handle").GetString()!;
        int id = d.NextId();
        var waiter = d.Expect(id);
        await d.SendAsync(RpcTestClient.Request(id, "attack/run", new
        {
            model = handle, items = new { dataset = new { path = FmnistData, limit = 400 } },
            attack = new { kind = "pgd", eps = 0.1, alpha = 0.01, steps = 200 }, workDoneToken = "cancel-me",
        }));
        var deadline = Stopwatch.StartNew();
        while (!d.Notifications.Any(n => n.GetProperty("params").GetProperty("value").GetProperty("kind").GetString() == "report") && deadline.Elapsed < TimeSpan.FromSeconds(60))
            await Task.Delay(20);
        Assert.Contains(d.Notifications, n => n.GetProperty("params").GetProperty("token").GetString() == "cancel-me");
        await d.SendAsync(RpcTestClient.Notification("$/cancelRequest", new { id }));
        var response = await d.WaitAsync(waiter);
        Assert.Equal(JsonRpcErrorCodes.RequestCancelled, response.GetProperty("error").GetProperty("code").GetInt32());
        Assert.Equal(0, (await d.ResultAsync("cache/stats")).GetProperty("entries").GetInt32());
        Assert.False(Directory.Exists(Path.Combine(d.Workspace, ".advvis", "cache", "results")) &&
                     Directory.EnumerateFiles(Path.Combine(d.Workspace, ".advvis", "cache", "results")).Any());
        Assert.True((await d.CallAsync("daemon/ping")).TryGetProperty("result", out _));
    }

    [Fact]
    public async Task Malformed_and_random_input_is_answered_or_ignored_and_the_daemon_keeps_serving()
    {
        using var d = new DaemonProcess();
        var random = new Random(7);
        var stdin = d.Process.StandardInput.BaseStream;
        string[] methods = ProtocolCatalog.Methods.Select(m => m.Name).ToArray();
        for (int i = 0; i < 300; i++)
        {
            byte[] body = (i % 3) switch
            {
                0 => Enumerable.Range(0, random.Next(1, 200)).Select(_ => (byte)random.Next(256)).ToArray(),
                1 => Encoding.UTF8.GetBytes($"{{\"jsonrpc\":\"2.0\",\"id\":{100000 + i},\"method\":\"{methods[random.Next(methods.Length)]}\",\"params\":{{\"model\":{random.Next()},\"path\":[1],\"items\":\"x\"}}}}"),
                _ => Encoding.UTF8.GetBytes("{\"jsonrpc\":\"2.0\",\"id\":" + i + ",\"method\":\"model/open\",\"params\":{\"path\":\"" + new string('x', random.Next(0, 50))),
            };
            if (i % 3 == 2) body = body[..random.Next(0, body.Length)]; // truncated JSON inside a correct frame
            await stdin.WriteAsync(Encoding.ASCII.GetBytes($"Content-Length: {body.Length}\r\n\r\n"));
            await stdin.WriteAsync(body);
        }
        // A header without a body length and garbage lines between frames.
        await stdin.WriteAsync("Content-Type: nothing\r\n\r\n"u8.ToArray());
        await stdin.FlushAsync();
        var ping = await d.CallAsync("daemon/ping", id: 999_999, timeout: TimeSpan.FromSeconds(60));
        Assert.True(ping.TryGetProperty("result", out var pong) && pong.GetProperty("pong").GetBoolean(), ping + "\n" + d.Stderr);
        Assert.False(d.Process.HasExited);
    }
}
