// DaemonProcess: the real daemon (`dotnet advvis.dll serve --stdio --workspace DIR`) as a child process, with a
// framed client on its stdin/stdout, progress notifications collected, and stderr captured for diagnostics.
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using AdvVis.Service.JsonRpc;

namespace AdvVis.Service.Tests.TestSupport;

public sealed class DaemonProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stderr = new();
    private readonly ConcurrentDictionary<string, TaskCompletionSource<JsonElement>> _pending = new();
    private readonly Task _readLoop;
    private int _nextId;

    public DaemonProcess(string? workspace = null, params string[] extraArguments)
    {
        Workspace = workspace ?? Path.Combine(Path.GetTempPath(), "advvis-daemon-test-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(Workspace);
        var start = new ProcessStartInfo(TestHostProcess.DotnetExecutable())
        {
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        foreach (var a in new[] { AdvvisDll, "serve", "--stdio", "--workspace", Workspace }.Concat(extraArguments)) start.ArgumentList.Add(a);
        Started = Stopwatch.StartNew();
        _process = Process.Start(start) ?? throw new InvalidOperationException("could not start the daemon");
        _process.ErrorDataReceived += (_, e) => { lock (_stderr) _stderr.AppendLine(e.Data); };
        _process.BeginErrorReadLine();
        Writer = new MessageWriter(_process.StandardInput.BaseStream);
        Reader = new MessageReader(_process.StandardOutput.BaseStream, int.MaxValue, RpcLogger.Null);
        _readLoop = Task.Run(ReadLoop);
    }

    public Stopwatch Started { get; }

    public string Workspace { get; }

    public MessageWriter Writer { get; }

    public MessageReader Reader { get; }

    public Process Process => _process;

    public ConcurrentQueue<JsonElement> Notifications { get; } = new();

    /// <summary>Every response in arrival order, duplicates included (the waiters keep only the first per id).</summary>
    public ConcurrentQueue<JsonElement> Responses { get; } = new();

    /// <summary>Linux: the daemon's resident set now and at its peak (VmRSS, VmHWM), in bytes; null elsewhere.</summary>
    public (long Rss, long Peak)? Memory()
    {
        if (!OperatingSystem.IsLinux()) return null;
        long Field(string[] lines, string name) =>
            long.Parse(lines.First(l => l.StartsWith(name, StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
        string[] status = File.ReadAllLines($"/proc/{_process.Id}/status");
        return (Field(status, "VmRSS:"), Field(status, "VmHWM:"));
    }

    public string Stderr { get { lock (_stderr) return _stderr.ToString(); } }

    public static string Models => Path.Combine(RepoRoot, "..", "shared", "models");

    public static string Data => Path.Combine(RepoRoot, "..", "shared", "data");

    public static string RepoRoot
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "daemon", "AdvVis.Daemon.sln"))) return dir.FullName;
            throw new DirectoryNotFoundException("repository root not found");
        }
    }

    /// <summary>advvis.dll built beside this test (same configuration), via the project reference.</summary>
    public static string AdvvisDll
    {
        get
        {
            var output = new DirectoryInfo(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory)); // bin/<config>/<tfm>
            string config = output.Parent!.Name;
            string tfm = output.Name;
            string path = Path.Combine(RepoRoot, "daemon", "src", "AdvVis.Cli", "bin", config, tfm, "advvis.dll");
            return File.Exists(path) ? path : throw new FileNotFoundException("advvis.dll not built", path);
        }
    }

    public int NextId() => Interlocked.Increment(ref _nextId);

    public Task SendAsync(string json) => Writer.WriteAsync(json);

    /// <summary>Sends a request and waits for its response (the whole response object).</summary>
    public async Task<JsonElement> CallAsync(string method, object? parameters = null, int? id = null, TimeSpan? timeout = null)
    {
        int requestId = id ?? NextId();
        var waiter = Expect(requestId);
        await Writer.WriteAsync(RpcTestClient.Request(requestId, method, parameters));
        return await WaitAsync(waiter, timeout);
    }

    public Task<JsonElement> Expect(int id) => _pending.GetOrAdd(id.ToString(), _ => new(TaskCreationOptions.RunContinuationsAsynchronously)).Task;

    public async Task<JsonElement> WaitAsync(Task<JsonElement> response, TimeSpan? timeout = null)
    {
        var done = await Task.WhenAny(response, Task.Delay(timeout ?? TimeSpan.FromSeconds(60)));
        if (done != response) throw new TimeoutException("no response from the daemon; stderr:\n" + Stderr);
        return await response;
    }

    /// <summary>The result of a successful call; fails the test with the error otherwise.</summary>
    public async Task<JsonElement> ResultAsync(string method, object? parameters = null)
    {
        var response = await CallAsync(method, parameters);
        if (response.TryGetProperty("error", out var error)) throw new Xunit.Sdk.XunitException($"{method} failed: {error}");
        return response.GetProperty("result");
    }

    public void CloseInput() => _process.StandardInput.BaseStream.Close();

    private async Task ReadLoop()
    {
        while (true)
        {
            Frame frame;
            try { frame = await Reader.ReadAsync(); }
            catch (Exception) { break; }
            if (frame.Kind != FrameKind.Message) break;
            using var doc = JsonDocument.Parse(frame.Body);
            var root = doc.RootElement.Clone();
            if (root.TryGetProperty("method", out _)) { Notifications.Enqueue(root); continue; }
            Responses.Enqueue(root);
            string key = root.TryGetProperty("id", out var id) && id.ValueKind != JsonValueKind.Null ? id.ToString() : "null";
            _pending.GetOrAdd(key, _ => new(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult(root);
        }
        foreach (var waiter in _pending.Values) waiter.TrySetException(new InvalidOperationException("daemon output ended; stderr:\n" + Stderr));
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited) { _process.Kill(entireProcessTree: true); _process.WaitForExit(5000); }
        }
        catch (InvalidOperationException) { }
        _process.Dispose();
        try { Directory.Delete(Workspace, recursive: true); } catch (IOException) { }
    }
}
