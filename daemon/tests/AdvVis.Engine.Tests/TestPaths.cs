// Where tests find the repository, the shared models and data beside it, and committed reference files.
namespace AdvVis.Engine.Tests;

internal static class TestPaths
{
    public static string RepoRoot { get; } = FindRoot();

    private static string FindRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "daemon", "AdvVis.Daemon.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("Cannot find the repository root (daemon/AdvVis.Daemon.sln) above " + AppContext.BaseDirectory);
    }

    public static string Shared => Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared"));
    public static string SharedModel(string file) => Existing(Path.Combine(Shared, "models", file), "the shared models folder ../shared/models");
    public static string SharedData(string relative) => Existing(Path.Combine(Shared, "data", relative), "the shared data folder ../shared/data");
    public static string TestData(string relative) => Existing(Path.Combine(RepoRoot, "daemon", "tests", "testdata", relative), "committed test data");

    /// <summary>The PyTorch reference models are generated, not committed (~95 MB); the test script makes them.</summary>
    public static string GeneratedModel(string file) => Existing(Path.Combine(RepoRoot, "daemon", "tests", ".cache", "models", file),
        "generated reference models: run `daemon/tests/reference/make_reference_models.sh daemon/tests/.cache/models` (needs Debian python3-torch)");

    /// <summary>The torchvision classifiers and their PyTorch references (make_classifier_references.py, via scripts/setup.sh).</summary>
    public static string GeneratedClassifier(string file) => Existing(Path.Combine(RepoRoot, "daemon", "tests", ".cache", "classifiers", file),
        "generated classifier references: run `/usr/bin/python3 daemon/tests/reference/make_classifier_references.py daemon/tests/.cache/classifiers` (needs Debian python3-torch)");

    public const string OnnxTestData = "/usr/share/libonnx-testdata/data";

    private static string Existing(string path, string what) =>
        File.Exists(path) || Directory.Exists(path) ? path : throw new FileNotFoundException($"Missing {path} ({what}).");
}
