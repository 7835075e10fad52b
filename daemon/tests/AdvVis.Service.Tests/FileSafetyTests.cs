// FileSafetyTests: what a hostile repository can plant (a symlinked cache or export folder, external data behind a folder
// link, FIFOs and devices named as models, edited cache entries) against the real daemon process over pipes.
using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using AdvVis.Safety;
using AdvVis.Service.Protocol;
using AdvVis.Service.Tests.TestSupport;

namespace AdvVis.Service.Tests;

public sealed class FileSafetyTests : IDisposable
{
    private readonly List<string> _folders = [];

    private static string Mnist => Path.GetFullPath(Path.Combine(DaemonProcess.Models, "mnist-zoo-opset7.onnx"));

    private static string[] Digits => Directory.GetFiles(Path.Combine(DaemonProcess.Data, "mnist", "foolbox_samples"), "*.png").Order(StringComparer.Ordinal).Take(2).ToArray();

    private static string AddExternal => Path.Combine(DaemonProcess.RepoRoot, "daemon", "tests", "testdata", "safety", "add-external.onnx");

    private static int Code(JsonElement response) => response.GetProperty("error").GetProperty("code").GetInt32();

    private static string Message(JsonElement response) => response.GetProperty("error").GetProperty("message").GetString()!;

    private string NewFolder(string name)
    {
        string path = Path.Combine(Path.GetTempPath(), $"advvis-{name}-{Guid.NewGuid().ToString("N")[..8]}");
        Directory.CreateDirectory(path);
        _folders.Add(path);
        return path;
    }

    /// <summary>A folder of the user's own files that a planted link points at; its contents are checked after every test.</summary>
    private string Precious()
    {
        string folder = NewFolder("precious");
        Directory.CreateDirectory(Path.Combine(folder, "results"));
        Directory.CreateDirectory(Path.Combine(folder, "blobs"));
        File.WriteAllText(Path.Combine(folder, "results", "thesis.json"), "{\"mine\": true}");
        File.WriteAllBytes(Path.Combine(folder, "blobs", "photo.jpg"), new byte[300_000]);
        File.WriteAllText(Path.Combine(folder, "notes.txt"), "precious");
        return folder;
    }

    private static void AssertIntact(string precious)
    {
        Assert.Equal("{\"mine\": true}", File.ReadAllText(Path.Combine(precious, "results", "thesis.json")));
        Assert.Equal(300_000, new FileInfo(Path.Combine(precious, "blobs", "photo.jpg")).Length);
        Assert.Equal("precious", File.ReadAllText(Path.Combine(precious, "notes.txt")));
    }

    /// <summary>What the extension sends first (ctx.ts), here with a small bound so eviction has work to do.</summary>
    private static object ExtensionConfigure(string root, long? cacheMaxBytes = 100_000) => new
    {
        workspaceRoot = root, cacheDir = Path.Combine(root, ".advvis", "cache"), exportDir = Path.Combine(root, ".advvis", "export"),
        inlineLimitBytes = 16 << 20, cacheMaxBytes,
    };

    [Fact]
    public async Task A_symlinked_cache_is_refused_and_neither_configure_nor_clear_deletes_its_target()
    {
        if (OperatingSystem.IsWindows()) return;
        string precious = Precious();
        string workspace = NewFolder("repo");
        Directory.CreateDirectory(Path.Combine(workspace, ".advvis"));
        File.CreateSymbolicLink(Path.Combine(workspace, ".advvis", "cache"), precious); // as a cloned repository ships it
        using var d = new DaemonProcess(workspace);

        var configure = await d.CallAsync("workspace/configure", ExtensionConfigure(workspace));
        Assert.Equal(AdvVisErrorCodes.PathNotAllowed, Code(configure));
        Assert.Contains(Path.Combine(workspace, ".advvis", "cache"), Message(configure));
        Assert.Contains("symbolic link", Message(configure));
        Assert.Contains("Remove the link", Message(configure));
        await d.CallAsync("cache/clear");
        var stats = await d.ResultAsync("cache/stats");
        Assert.False(stats.TryGetProperty("cacheDir", out var cacheDir) && cacheDir.ValueKind != JsonValueKind.Null); // runs without a disk cache
        await d.ResultAsync("model/predict", new { model = (await d.ResultAsync("model/open", new { path = Mnist })).GetProperty("handle").GetString(), items = new { images = Digits } });
        AssertIntact(precious);
        Assert.Contains("symbolic link", d.Stderr); // the startup configuration (--workspace) was refused too, and logged
    }

    [Fact]
    public async Task Eviction_and_clear_never_descend_into_a_symlinked_sub_folder_and_remove_the_link_itself()
    {
        if (OperatingSystem.IsWindows()) return;
        string precious = Precious();
        string workspace = NewFolder("repo");
        Directory.CreateDirectory(Path.Combine(workspace, ".advvis", "cache"));
        File.CreateSymbolicLink(Path.Combine(workspace, ".advvis", "cache", "blobs"), Path.Combine(precious, "blobs"));
        File.CreateSymbolicLink(Path.Combine(workspace, ".advvis", "cache", "results"), Path.Combine(precious, "results"));
        using var d = new DaemonProcess(workspace);

        await d.ResultAsync("workspace/configure", ExtensionConfigure(workspace, cacheMaxBytes: 1)); // evicts at once
        AssertIntact(precious);
        Assert.Equal(0, (await d.ResultAsync("cache/stats")).GetProperty("entries").GetInt32());
        await d.ResultAsync("cache/clear");
        AssertIntact(precious);
        Assert.Equal(FileKind.Missing, FileStatus.OfLink(Path.Combine(workspace, ".advvis", "cache", "blobs")).Kind);
        Assert.Equal(FileKind.Missing, FileStatus.OfLink(Path.Combine(workspace, ".advvis", "cache", "results")).Kind);
    }

    [Fact]
    public async Task A_cache_folder_of_another_user_is_refused()
    {
        if (OperatingSystem.IsWindows() || FileStatus.CurrentUserId != 0) return; // only root can give a folder away here
        string workspace = NewFolder("repo");
        string cache = Path.Combine(workspace, ".advvis", "cache");
        Directory.CreateDirectory(cache);
        File.WriteAllText(Path.Combine(cache, "someone-elses.txt"), "theirs");
        using (var chown = Process.Start(new ProcessStartInfo("chown", ["-R", "65534", Path.Combine(workspace, ".advvis")]) { UseShellExecute = false })!) chown.WaitForExit();
        using var d = new DaemonProcess(NewFolder("daemon"));
        var configure = await d.CallAsync("workspace/configure", ExtensionConfigure(workspace, cacheMaxBytes: 1));
        Assert.Equal(AdvVisErrorCodes.PathNotAllowed, Code(configure));
        Assert.Contains("another user", Message(configure));
        Assert.Equal("theirs", File.ReadAllText(Path.Combine(cache, "someone-elses.txt")));
    }

    [Fact]
    public async Task Export_refuses_a_symlinked_folder_a_link_on_the_way_and_arrays_by_path_outside_the_cache()
    {
        if (OperatingSystem.IsWindows()) return;
        string precious = Precious();
        string workspace = NewFolder("repo");
        Directory.CreateDirectory(Path.Combine(workspace, ".advvis"));
        File.CreateSymbolicLink(Path.Combine(workspace, ".advvis", "export"), precious);
        using var d = new DaemonProcess(NewFolder("daemon"));
        var configure = await d.CallAsync("workspace/configure", ExtensionConfigure(workspace));
        Assert.Equal(AdvVisErrorCodes.PathNotAllowed, Code(configure));
        Assert.Contains("export folder", Message(configure));

        // A real export folder with a link inside: writing through it is refused, nothing lands in the target.
        File.Delete(Path.Combine(workspace, ".advvis", "export"));
        Directory.CreateDirectory(Path.Combine(workspace, ".advvis", "export"));
        File.CreateSymbolicLink(Path.Combine(workspace, ".advvis", "export", "out"), precious);
        await d.ResultAsync("workspace/configure", ExtensionConfigure(workspace));
        var array = new { shape = new[] { 1, 2 }, base64 = Convert.ToBase64String(new byte[8]) };
        var through = await d.CallAsync("export/write", new { fileName = "out/notes.txt", format = "csv", array });
        Assert.Equal(AdvVisErrorCodes.PathNotAllowed, Code(through));
        Assert.Contains("symbolic link", Message(through));
        AssertIntact(precious);
        var written = await d.ResultAsync("export/write", new { fileName = "fine/values.csv", format = "csv", array });
        Assert.Equal(Path.Combine(workspace, ".advvis", "export", "fine", "values.csv"), written.GetProperty("path").GetString());

        // Arrays by path: only cache files. Neither the file's content nor its size may come back.
        string outside = Path.Combine(precious, "notes.txt");
        string inWorkspace = Path.Combine(workspace, "weights.f32");
        File.WriteAllBytes(inWorkspace, new byte[8]);
        File.CreateSymbolicLink(Path.Combine(workspace, ".advvis", "cache-link.f32"), "/etc/adduser.conf");
        foreach (var path in new[] { "/etc/adduser.conf", outside, inWorkspace, "/etc/shadow", Path.Combine(workspace, ".advvis", "cache", "..", "cache-link.f32") })
        {
            var response = await d.CallAsync("export/write", new { fileName = "copy.npy", format = "npy", array = new { shape = new[] { 2 }, path } });
            Assert.Equal(AdvVisErrorCodes.PathNotAllowed, Code(response));
            Assert.Contains("only files AdvVis wrote there", Message(response));
            Assert.DoesNotContain("bytes", Message(response));
            Assert.DoesNotContain(new FileInfo("/etc/adduser.conf").Length.ToString(), Message(response));
        }
        Assert.False(File.Exists(Path.Combine(workspace, ".advvis", "export", "copy.npy")));
    }

    [Fact]
    public async Task External_data_behind_a_folder_link_out_of_the_model_folder_is_refused_and_inside_it_loads()
    {
        if (OperatingSystem.IsWindows()) return;
        string secrets = NewFolder("etc");
        var secret = Enumerable.Range(0, 8).Select(i => (float)(i + 1)).ToArray();
        File.WriteAllBytes(Path.Combine(secrets, "passwd"), System.Runtime.InteropServices.MemoryMarshal.AsBytes(secret.AsSpan()).ToArray());
        string repo = NewFolder("repo");
        string model = Path.Combine(repo, "add-external.onnx");
        File.Copy(AddExternal, model);
        File.CreateSymbolicLink(Path.Combine(repo, "etc_link"), secrets); // location "etc_link/passwd" now leaves the folder
        using var d = new DaemonProcess(NewFolder("daemon"));

        var refused = await d.CallAsync("model/open", new { path = model });
        Assert.Equal(AdvVisErrorCodes.BadInput, Code(refused));
        Assert.Contains("outside the model's folder", Message(refused));
        Assert.DoesNotContain("32", Message(refused)); // nothing about the file behind the link (its 32 bytes)

        // The same link pointing inside the model's folder is fine: confinement judges the resolved target.
        File.Delete(Path.Combine(repo, "etc_link"));
        Directory.CreateDirectory(Path.Combine(repo, "real"));
        File.Copy(Path.Combine(secrets, "passwd"), Path.Combine(repo, "real", "passwd"));
        File.CreateSymbolicLink(Path.Combine(repo, "etc_link"), "real");
        var info = await d.ResultAsync("model/open", new { path = model });
        Assert.Equal(8, info.GetProperty("parameterCount").GetInt64());
    }

    [Fact]
    public async Task Model_open_on_a_fifo_a_device_or_a_link_to_either_answers_at_once_and_the_daemon_carries_on()
    {
        if (OperatingSystem.IsWindows()) return;
        string repo = NewFolder("repo");
        string fifo = Path.Combine(repo, "model.onnx");
        using (var mkfifo = Process.Start(new ProcessStartInfo("mkfifo", [fifo]) { UseShellExecute = false })!) mkfifo.WaitForExit();
        File.CreateSymbolicLink(Path.Combine(repo, "pipe-link.onnx"), fifo);
        File.CreateSymbolicLink(Path.Combine(repo, "zero-link.onnx"), "/dev/zero");
        using var d = new DaemonProcess(NewFolder("daemon"));
        foreach (var (path, what) in new[] { (fifo, "FIFO"), (Path.Combine(repo, "pipe-link.onnx"), "FIFO"), ("/dev/zero", "/dev"), (Path.Combine(repo, "zero-link.onnx"), "/dev") })
        {
            var clock = Stopwatch.StartNew();
            var response = await d.CallAsync("model/open", new { path }, timeout: TimeSpan.FromSeconds(30));
            Assert.Equal(AdvVisErrorCodes.BadInput, Code(response));
            Assert.Contains(what, Message(response));
            Assert.Contains(path, Message(response));
            Assert.True((await d.ResultAsync("daemon/ping")).GetProperty("pong").GetBoolean()); // and it still answers
            Console.WriteLine($"model/open {path}: refused in {clock.ElapsedMilliseconds} ms");
        }
        // Items and datasets go through the same check.
        string handle = (await d.ResultAsync("model/open", new { path = Mnist })).GetProperty("handle").GetString()!;
        var item = await d.CallAsync("model/predict", new { model = handle, items = new { images = new[] { Path.Combine(repo, "pipe-link.onnx") } } }, timeout: TimeSpan.FromSeconds(30));
        Assert.Contains("FIFO", Message(item));
        var dataset = await d.CallAsync("model/predict", new { model = handle, items = new { dataset = new { path = "/dev/zero" } } }, timeout: TimeSpan.FromSeconds(30));
        Assert.Equal(AdvVisErrorCodes.BadInput, Code(dataset));
    }

    [Fact]
    public async Task An_edited_cache_entry_is_a_miss_and_is_replaced()
    {
        string workspace = NewFolder("repo");
        using var d = new DaemonProcess(workspace);
        string handle = (await d.ResultAsync("model/open", new { path = Mnist })).GetProperty("handle").GetString()!;
        var parameters = new { model = handle, items = new { images = Digits, labels = new[] { 0, 1 } }, attack = new { kind = "fgsm", eps = 0.2 } };
        var first = await d.ResultAsync("attack/run", parameters);
        Assert.False(first.GetProperty("fromCache").GetBoolean());
        Assert.True((await d.ResultAsync("attack/run", parameters)).GetProperty("fromCache").GetBoolean());

        // Edit the stored result (a plausible number, valid JSON): it must not be served.
        string results = Path.Combine(workspace, ".advvis", "cache", "results");
        string entryPath = Assert.Single(Directory.GetFiles(results, "*.json"));
        var entry = JsonNode.Parse(File.ReadAllText(entryPath))!;
        entry["result"]!["meanL2"] = 0.123;
        File.WriteAllText(entryPath, entry.ToJsonString());
        var afterEdit = await d.ResultAsync("attack/run", parameters);
        Assert.False(afterEdit.GetProperty("fromCache").GetBoolean());
        Assert.Equal(first.GetProperty("meanL2").GetDouble(), afterEdit.GetProperty("meanL2").GetDouble());
        Assert.True((await d.ResultAsync("attack/run", parameters)).GetProperty("fromCache").GetBoolean()); // stored afresh

        // Edit a companion file (the adversarial tensor): also a miss.
        string adversarial = afterEdit.GetProperty("items")[0].GetProperty("adversarialPath").GetString()!;
        var bytes = File.ReadAllBytes(adversarial);
        bytes[^1] ^= 0x40;
        File.WriteAllBytes(adversarial, bytes);
        Assert.False((await d.ResultAsync("attack/run", parameters)).GetProperty("fromCache").GetBoolean());
        Assert.Contains("does not match its content hash", d.Stderr);
    }

    public void Dispose()
    {
        foreach (var folder in _folders)
            try { SafeFiles.DeleteWithoutFollowingLinks(folder); } catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }
}
