// FileSafetyTests: every reader refuses FIFOs and devices (directly or through a link) without blocking, dataset folders
// skip them, and a model config cannot name a labels file outside its own folder.
using System.Diagnostics;
using AdvVis.Safety;

namespace AdvVis.Data.Tests;

public sealed class FileSafetyTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("advvis-data-safety-").FullName;

    private string At(string relative) => Path.Combine(_root, relative);

    private string Fifo(string relative)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(At(relative))!);
        using var p = Process.Start(new ProcessStartInfo("mkfifo", [At(relative)]) { UseShellExecute = false })!;
        p.WaitForExit();
        Assert.Equal(0, p.ExitCode);
        return At(relative);
    }

    /// <summary>Runs a read that must be refused; a read that blocks fails the test instead of hanging it.</summary>
    private static async Task<Exception> RefusedAsync(Action read)
    {
        var attempt = Task.Run(() => Record.Exception(read));
        Assert.True(await Task.WhenAny(attempt, Task.Delay(TimeSpan.FromSeconds(20))) == attempt, "the read blocked");
        return Assert.IsType<UnsafeFileException>(await attempt);
    }

    [Fact]
    public async Task Every_reader_refuses_a_fifo_a_link_to_one_and_dev_zero_at_once()
    {
        if (OperatingSystem.IsWindows()) return;
        string fifo = Fifo("pipe");
        File.CreateSymbolicLink(At("pipe-link.png"), fifo);
        foreach (var path in new[] { fifo, At("pipe-link.png"), "/dev/zero" })
        {
            foreach (var read in new Action[]
            {
                () => ImageDecoder.Decode(path), () => Npy.Read(path), () => Npz.Read(path), () => IdxReader.Read(path),
                () => Cifar10Reader.ReadBatch(path), () => ClassLabels.Load(path), () => ImageFolderReader.ReadArchive(path),
            })
                Assert.Contains(path, (await RefusedAsync(read)).Message);
        }
    }

    [Fact]
    public async Task A_fifo_in_an_image_folder_is_skipped_with_a_warning_and_a_fifo_sidecar_is_refused()
    {
        if (OperatingSystem.IsWindows()) return;
        string digit = Directory.GetFiles(TestSupport.DataPath("mnist", "foolbox_samples"), "*.png").Order(StringComparer.Ordinal).First();
        Directory.CreateDirectory(At("set/seven"));
        File.Copy(digit, At("set/seven/a.png"));
        Fifo("set/seven/b.png");
        var read = Task.Run(() => ImageFolderReader.Read(At("set")));
        Assert.True(await Task.WhenAny(read, Task.Delay(TimeSpan.FromSeconds(20))) == read, "reading the folder blocked");
        var set = await read;
        Assert.Equal(1, set.Count);
        Assert.Contains(set.Warnings, w => w.Contains("b.png", StringComparison.Ordinal) && w.Contains("FIFO", StringComparison.Ordinal));

        File.WriteAllBytes(At("model.onnx"), []);
        Fifo("model.onnx.advvis.json");
        Assert.Contains("FIFO", (await RefusedAsync(() => Preprocessing.ForModel(At("model.onnx"), 1, 28, 28))).Message);
    }

    [Fact]
    public void A_config_cannot_name_labels_outside_its_folder_even_through_a_link()
    {
        if (OperatingSystem.IsWindows()) return;
        string outside = Directory.CreateTempSubdirectory("advvis-data-outside-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(outside, "secrets.txt"), "aws_secret_access_key=1234\n");
            Directory.CreateDirectory(At("repo"));
            File.CreateSymbolicLink(At("repo/labels_link"), outside);
            File.WriteAllText(At("repo/labels.txt"), "zero\none\n");
            File.WriteAllBytes(At("repo/model.onnx"), []);
            foreach (var labels in new[] { Path.Combine(outside, "secrets.txt"), "../../" + Path.GetFileName(outside) + "/secrets.txt", "labels_link/secrets.txt" })
            {
                File.WriteAllText(At("repo/model.onnx.advvis.json"), $$"""{"labels": "{{labels}}"}""");
                var pre = Preprocessing.ForModel(At("repo/model.onnx"), 1, 28, 28);
                Assert.Null(pre.LabelsPath);
                Assert.Contains(pre.Assumptions, a => a.Contains("outside the folder", StringComparison.Ordinal));
            }
            File.WriteAllText(At("repo/model.onnx.advvis.json"), """{"labels": "labels.txt"}""");
            Assert.Equal(At("repo/labels.txt"), Preprocessing.ForModel(At("repo/model.onnx"), 1, 28, 28).LabelsPath);
        }
        finally { SafeFiles.DeleteWithoutFollowingLinks(outside); }
    }

    public void Dispose() => SafeFiles.DeleteWithoutFollowingLinks(_root);
}
