// TestHostProcess: starts this test assembly as a stdio JSON-RPC host ("dotnet AdvVis.Service.Tests.dll --test-host")
// and gives the test a framed client on its stdin/stdout, with stderr captured for diagnostics.
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using AdvVis.Service.JsonRpc;
using AdvVis.Service.Tests.TestHost;

namespace AdvVis.Service.Tests.TestSupport;

public sealed class TestHostProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stderr = new();

    public TestHostProcess()
    {
        var start = new ProcessStartInfo(DotnetExecutable())
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(TestAssemblyPath);
        start.ArgumentList.Add("--test-host");
        _process = Process.Start(start) ?? throw new InvalidOperationException("could not start the test host");
        _process.ErrorDataReceived += (_, e) =>
        {
            lock (_stderr)
            {
                _stderr.AppendLine(e.Data);
            }
        };
        _process.BeginErrorReadLine();
        Writer = new MessageWriter(_process.StandardInput.BaseStream);
        Reader = new MessageReader(_process.StandardOutput.BaseStream, int.MaxValue, RpcLogger.Null);
    }

    public static string TestAssemblyPath => typeof(TestHostProgram).Assembly.Location;

    public MessageWriter Writer { get; }

    public MessageReader Reader { get; }

    public Process Process => _process;

    public string Stderr
    {
        get
        {
            lock (_stderr)
            {
                return _stderr.ToString();
            }
        }
    }

    /// <summary>The dotnet host running this test (so the child uses the same runtime), else "dotnet" from PATH.</summary>
    public static string DotnetExecutable()
    {
        string? current = Environment.ProcessPath;
        if (current is not null && Path.GetFileNameWithoutExtension(current).Equals("dotnet", StringComparison.OrdinalIgnoreCase))
        {
            return current;
        }

        return Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } hostPath && File.Exists(hostPath) ? hostPath : "dotnet";
    }

    /// <summary>Sends one request and reads frames until its response arrives (notifications are skipped).</summary>
    public async Task<JsonElement> CallAsync(object id, string method, object? parameters = null)
    {
        await Writer.WriteAsync(RpcTestClient.Request(id, method, parameters));
        return await ReadResponseAsync();
    }

    public async Task<JsonElement> ReadResponseAsync()
    {
        using var timeout = new CancellationTokenSource(RpcTestClient.DefaultTimeout);
        while (true)
        {
            Frame frame;
            try
            {
                frame = await Reader.ReadAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException("no response from the test host; stderr:\n" + Stderr);
            }

            if (frame.Kind != FrameKind.Message)
            {
                throw new InvalidOperationException($"host output ended ({frame.Kind}); stderr:\n{Stderr}");
            }

            using JsonDocument document = JsonDocument.Parse(frame.Body);
            if (!document.RootElement.TryGetProperty("method", out _))
            {
                return document.RootElement.Clone();
            }
        }
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(5000);
            }
        }
        catch (InvalidOperationException)
        {
        }

        _process.Dispose();
    }
}
