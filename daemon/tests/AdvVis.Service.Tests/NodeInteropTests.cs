// NodeInteropTests: runs node-interop/interop.mjs (the real npm vscode-jsonrpc client against the stdio test host and
// then the real daemon: model/open, model/graph, attack/run with progress)
// when node and node-interop/node_modules are present; otherwise the test is reported as skipped with the reason.
using System.Diagnostics;
using AdvVis.Service.Tests.TestSupport;
using Xunit.Abstractions;

namespace AdvVis.Service.Tests;

/// <summary>A fact that skips itself (with instructions) when node or the npm dependencies are missing.</summary>
public sealed class NodeInteropFactAttribute : FactAttribute
{
    public NodeInteropFactAttribute()
    {
        if (NodeInterop.Directory is null)
        {
            Skip = "node-interop/ folder not found next to the test project";
        }
        else if (NodeInterop.NodeExecutable is null)
        {
            Skip = "node is not on PATH; install Node.js >= 18 to run the vscode-jsonrpc interop test";
        }
        else if (!System.IO.Directory.Exists(Path.Combine(NodeInterop.Directory, "node_modules", "vscode-jsonrpc")))
        {
            Skip = $"vscode-jsonrpc is not installed; run 'npm ci' in {NodeInterop.Directory}";
        }
    }
}

internal static class NodeInterop
{
    /// <summary>The node-interop folder: found by walking up from the test output (bin/Debug/net10.0 → project).</summary>
    public static string? Directory { get; } = FindDirectory();

    public static string? NodeExecutable { get; } = FindOnPath("node");

    private static string? FindDirectory()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "node-interop");
            if (File.Exists(Path.Combine(candidate, "interop.mjs")))
            {
                return candidate;
            }
        }

        return null;
    }

    private static string? FindOnPath(string name)
    {
        foreach (string folder in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = Path.Combine(folder, name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }
}

public sealed class NodeInteropTests(ITestOutputHelper output)
{
    [NodeInteropFact]
    public async Task Vscode_jsonrpc_client_interoperates_with_the_stdio_host()
    {
        var start = new ProcessStartInfo(NodeInterop.NodeExecutable!)
        {
            WorkingDirectory = NodeInterop.Directory!,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("interop.mjs");
        start.ArgumentList.Add(TestHostProcess.TestAssemblyPath);
        start.ArgumentList.Add(DaemonProcess.AdvvisDll); // then the real daemon: model/open, model/graph, attack/run
        start.Environment["DOTNET"] = TestHostProcess.DotnetExecutable();
        start.Environment["ADVVIS_SHARED"] = Path.GetFullPath(Path.Combine(DaemonProcess.RepoRoot, "..", "shared"));

        using Process node = Process.Start(start)!;
        Task<string> stdout = node.StandardOutput.ReadToEndAsync();
        Task<string> stderr = node.StandardError.ReadToEndAsync();
        bool exited = await Task.Run(() => node.WaitForExit(240_000));
        if (!exited)
        {
            node.Kill(entireProcessTree: true);
        }

        string log = await stdout + await stderr;
        output.WriteLine(log);
        Assert.True(exited, "interop script timed out");
        Assert.Matches(@"\d+ passed, 0 failed", log);
        Assert.Contains("ok    daemon: attack/run", log);
        Assert.Equal(0, node.ExitCode);
    }
}
