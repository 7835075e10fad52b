// Paths to the repository, the shared models and data, and small helpers shared by the attack tests.
using AdvVis.Attacks;
using AdvVis.Data;
using AdvVis.Engine;

namespace AdvVis.Attacks.Tests;

internal static class TestPaths
{
    public static string Repo { get; } = FindRepo();
    public static string Shared => Path.GetFullPath(Path.Combine(Repo, "..", "shared"));
    public static string Model(string name) => Path.Combine(Shared, "models", name);
    public static string Data(string relative) => Path.Combine(Shared, "data", relative);
    public static string TestData(string relative) => Path.Combine(Repo, "daemon", "tests", "testdata", relative);

    private static string FindRepo()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "daemon", "AdvVis.Daemon.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("Cannot find the repository root above " + AppContext.BaseDirectory);
    }
}

internal static class Fixtures
{
    private static readonly Lazy<Model> FmnistModel = new(() => Model.Load(TestPaths.Model("fmnist-cnn-paper.onnx")));
    private static readonly Lazy<(Tensor Pixels, int[] Labels)> FmnistData = new(() =>
    {
        var npz = Npz.Read(TestPaths.Data("fashion-mnist/fmnist-test-2000.npz"));
        var set = LabeledImageSet.FromArrays(npz["images"], npz["labels"]);
        var t = set.ToTensor(1f / 255f);
        return (new Tensor(t.Shape, (float[])t.Data), set.Labels.ToArray());
    });

    /// <summary>fmnist-cnn-paper.onnx in pixel space (its preprocessing is pixels/255: the identity here).</summary>
    public static AttackModel Fmnist() => new(FmnistModel.Value, 1, 28, 28);

    public static (Tensor Pixels, int[] Labels) FmnistImages(int count)
    {
        var (pixels, labels) = FmnistData.Value;
        return (Slice(pixels, 0, count), labels.Take(count).ToArray());
    }

    public static Tensor Slice(Tensor t, int start, int count)
    {
        int per = t.Length / t.Shape[0];
        return new Tensor([count, .. t.Shape[1..]], t.Data.AsSpan(start * per, count * per).ToArray());
    }
}
