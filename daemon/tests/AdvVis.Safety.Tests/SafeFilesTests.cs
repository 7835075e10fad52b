// SafeFilesTests: link resolution, special files and link-safe deletion on real files, links, FIFOs, sockets and devices.
using System.Diagnostics;
using System.Net.Sockets;

namespace AdvVis.Safety.Tests;

public sealed class TempFolder : IDisposable
{
    public TempFolder() => Directory.CreateDirectory(Path);

    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "advvis-safety-" + Guid.NewGuid().ToString("N")[..8]);

    public string this[string relative] => System.IO.Path.Combine(Path, relative);

    public string File(string relative, string text = "x")
    {
        string full = this[relative];
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(full)!);
        System.IO.File.WriteAllText(full, text);
        return full;
    }

    public void Dispose()
    {
        try { SafeFiles.DeleteWithoutFollowingLinks(Path); } catch (IOException) { }
    }

    /// <summary>A real FIFO made by mkfifo (Unix only).</summary>
    public string Fifo(string relative)
    {
        string full = this[relative];
        using var p = Process.Start(new ProcessStartInfo("mkfifo", [full]) { UseShellExecute = false })!;
        p.WaitForExit();
        Assert.Equal(0, p.ExitCode);
        return full;
    }
}

public sealed class SafeFilesTests
{
    [Fact]
    public void Resolve_follows_chains_relative_targets_and_dot_dot_after_a_link_as_the_kernel_does()
    {
        if (OperatingSystem.IsWindows()) return;
        using var t = new TempFolder();
        string real = t.File("real/deep/file.txt");
        Directory.CreateDirectory(t["other"]);
        File.CreateSymbolicLink(t["a"], "real/deep");        // relative target
        File.CreateSymbolicLink(t["b"], t["a"]);             // chain: b -> a -> real/deep
        File.CreateSymbolicLink(t["other/up"], "../b");      // relative target with ..
        string resolvedRoot = SafeFiles.Resolve(t.Path);
        Assert.Equal(SafeFiles.Resolve(real), SafeFiles.Resolve(t["other/up/file.txt"]));
        Assert.Equal(Path.Combine(resolvedRoot, "real", "deep", "file.txt"), SafeFiles.Resolve(t["b/file.txt"]));
        // "b/.." is real/ (the link target's parent), not the temp folder a lexical GetFullPath would give.
        Assert.Equal(Path.Combine(resolvedRoot, "real"), SafeFiles.Resolve(t.Path + "/b/.."));
        Assert.NotEqual(Path.GetFullPath(t.Path + "/b/.."), SafeFiles.Resolve(t.Path + "/b/.."));
        // Missing tails stay as written, below the resolved part.
        Assert.Equal(Path.Combine(resolvedRoot, "real", "deep", "new", "x.bin"), SafeFiles.Resolve(t["b/new/x.bin"]));
    }

    [Fact]
    public void Resolve_refuses_link_loops()
    {
        if (OperatingSystem.IsWindows()) return;
        using var t = new TempFolder();
        File.CreateSymbolicLink(t["loop1"], t["loop2"]);
        File.CreateSymbolicLink(t["loop2"], t["loop1"]);
        Assert.Throws<UnsafeFileException>(() => SafeFiles.Resolve(t["loop1/x"]));
    }

    [Fact]
    public void IsInside_judges_resolved_paths_so_a_link_out_of_the_root_is_outside()
    {
        if (OperatingSystem.IsWindows()) return;
        using var t = new TempFolder();
        using var outside = new TempFolder();
        string secret = outside.File("passwd", "root:x:0:0");
        Directory.CreateDirectory(t["model"]);
        File.CreateSymbolicLink(t["model/etc_link"], outside.Path);
        Assert.False(SafeFiles.IsInside(t["model"], t["model/etc_link/passwd"]));
        Assert.True(SafeFiles.IsInside(t["model"], t["model/weights.bin"]));
        Assert.False(SafeFiles.IsInside(t["model"], t["model-sibling/x"])); // a prefix of the name is not a parent
        Assert.True(File.Exists(secret));
    }

    [Fact]
    public void Path_comparison_follows_the_platforms_case_rules()
    {
        bool insensitive = OperatingSystem.IsWindows() || OperatingSystem.IsMacOS();
        Assert.Equal(insensitive, SafeFiles.IsInsideResolved(Path.Combine(Path.GetTempPath(), "Cache"), Path.Combine(Path.GetTempPath(), "cache", "x")));
    }

    [Fact]
    public async Task A_fifo_a_link_to_a_fifo_a_socket_and_devices_are_refused_before_opening()
    {
        if (OperatingSystem.IsWindows()) return;
        using var t = new TempFolder();
        string fifo = t.Fifo("pipe.onnx");
        File.CreateSymbolicLink(t["link-to-pipe.onnx"], fifo);
        File.CreateSymbolicLink(t["link-to-zero.onnx"], "/dev/zero");
        string socketPath = t["socket.onnx"];
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Bind(new UnixDomainSocketEndPoint(socketPath));

        foreach (var (path, expected) in new[]
        {
            (fifo, "FIFO"), (t["link-to-pipe.onnx"], "FIFO"), (socketPath, "socket"), ("/dev/zero", "/dev"), (t["link-to-zero.onnx"], "/dev"),
        })
        {
            // Opening a FIFO blocks until a writer comes: run on a worker and fail (instead of hanging) if it does.
            var attempt = Task.Run(() => Assert.Throws<UnsafeFileException>(() => SafeFiles.ReadAllBytes(path, "Model file")));
            if (await Task.WhenAny(attempt, Task.Delay(TimeSpan.FromSeconds(20))) != attempt)
            {
                using var unblock = new FileStream(fifo, FileMode.Open, FileAccess.Write); // lets the stuck open return
                Assert.Fail($"reading '{path}' blocked");
            }
            var refused = await attempt;
            Assert.Contains(expected, refused.Message);
            Assert.Contains(path, refused.Message);
        }
        Assert.Contains("through a symbolic link", Assert.Throws<UnsafeFileException>(() => SafeFiles.RequireRegularFile(t["link-to-pipe.onnx"], "Model file")).Message);
        Assert.False(SafeFiles.IsRegularFile(fifo));
    }

    [Fact]
    public void Proc_and_sys_entries_are_refused_although_they_look_like_regular_files()
    {
        if (!OperatingSystem.IsLinux()) return;
        Assert.Equal(FileKind.Regular, FileStatus.OfTarget("/proc/self/status").Kind);
        Assert.Throws<UnsafeFileException>(() => SafeFiles.ReadAllBytes("/proc/self/status", "Image file"));
        using var t = new TempFolder();
        File.CreateSymbolicLink(t["environ.png"], "/proc/self/environ");
        Assert.Throws<UnsafeFileException>(() => SafeFiles.ReadAllBytes(t["environ.png"], "Image file"));
    }

    [Fact]
    public void Regular_files_read_through_links_and_missing_files_say_so()
    {
        using var t = new TempFolder();
        string file = t.File("weights.bin", "abc");
        Assert.Equal("abc"u8.ToArray(), SafeFiles.ReadAllBytes(file, "Weights"));
        if (!OperatingSystem.IsWindows())
        {
            File.CreateSymbolicLink(t["link.bin"], file);
            Assert.Equal("abc", SafeFiles.ReadAllText(t["link.bin"], "Weights"));
        }
        Assert.Throws<FileNotFoundException>(() => SafeFiles.ReadAllBytes(t["nope.bin"], "Weights"));
        Assert.Throws<UnsafeFileException>(() => SafeFiles.ReadAllBytes(t.Path, "Weights"));
    }

    [Fact]
    public void Windows_device_names_are_recognised_in_any_component()
    {
        foreach (var name in new[] { @"\\.\PhysicalDrive0", @"C:\repo\NUL", @"C:\repo\con.onnx", @"C:\repo\COM1.txt", @"C:\x\LPT9", "//./pipe/x", @"\\?\GLOBALROOT\Device\Null" })
            Assert.True(SafeFiles.IsWindowsDeviceName(name), name);
        foreach (var name in new[] { @"C:\repo\model.onnx", @"C:\console\x.png", @"\\?\C:\long\path.onnx", @"C:\COM10\a.png", "nul-test.png" })
            Assert.False(SafeFiles.IsWindowsDeviceName(name), name);
    }

    [Fact]
    public void Deletion_removes_links_as_links_and_never_the_targets_contents()
    {
        if (OperatingSystem.IsWindows()) return;
        using var t = new TempFolder();
        using var precious = new TempFolder();
        string keep = precious.File("thesis/chapter1.tex", "precious");
        string keepFile = precious.File("notes.txt", "precious");
        t.File("cache/results/a.json");
        File.CreateSymbolicLink(t["cache/results/folder-link"], precious.Path);
        File.CreateSymbolicLink(t["cache/file-link"], keepFile);
        Assert.DoesNotContain(SafeFiles.EnumerateWithoutFollowingLinks(t["cache"]), e => e.Path.Contains("chapter1", StringComparison.Ordinal));

        SafeFiles.DeleteWithoutFollowingLinks(t["cache"]);

        Assert.False(Directory.Exists(t["cache"]));
        Assert.Equal("precious", File.ReadAllText(keep));
        Assert.Equal("precious", File.ReadAllText(keepFile));
    }
}
