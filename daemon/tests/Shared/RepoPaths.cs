// The one way tests find their data: the repository root is found by walking up from the test binaries to the
// folder that holds daemon/AdvVis.Daemon.sln, and ../shared (real models and data) lies beside it, as on every
// clone and in CI. No environment variable and no machine path.
namespace AdvVis.TestSupport;

internal static class RepoPaths
{
    public static string Root { get; } = FindRoot();

    /// <summary>The shared folder beside the repository (models/, data/, papers/).</summary>
    public static string Shared => Path.GetFullPath(Path.Combine(Root, "..", "shared"));

    public static string SharedModels => Path.Combine(Shared, "models");

    public static string SharedData => Path.Combine(Shared, "data");

    /// <summary>A file under ../shared, which must exist: a missing one says where it was looked for.</summary>
    public static string SharedFile(string relative)
    {
        string path = Path.Combine(Shared, relative);
        if (!File.Exists(path))
            throw new FileNotFoundException($"Test data '{relative}' not found at {path}: the shared folder must lie beside the repository (../shared).", path);
        return path;
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "daemon", "AdvVis.Daemon.sln"))) return dir.FullName;
        throw new DirectoryNotFoundException($"No daemon/AdvVis.Daemon.sln above {AppContext.BaseDirectory}: run the tests from a clone of the repository.");
    }
}
