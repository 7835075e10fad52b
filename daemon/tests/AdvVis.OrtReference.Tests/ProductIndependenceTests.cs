// ORT is a reference for tests and benchmarks only: the product's runtime path never loads it.
namespace AdvVis.OrtReference.Tests;

public class ProductIndependenceTests
{
    [Fact]
    public void NoProductProjectReferencesOnnxRuntime()
    {
        string daemon = Path.Combine(AdvVis.TestSupport.RepoPaths.Root, "daemon");
        var files = Directory.GetFiles(Path.Combine(daemon, "src"), "*.*", SearchOption.AllDirectories)
            .Where(f => f.EndsWith(".csproj", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".props", StringComparison.OrdinalIgnoreCase)
                        || f.EndsWith(".targets", StringComparison.OrdinalIgnoreCase))
            .Concat(Directory.GetFiles(daemon, "Directory.*.props")).ToList();
        Assert.Contains(files, f => f.EndsWith("AdvVis.Engine.csproj", StringComparison.OrdinalIgnoreCase));
        var offenders = files.Where(f => File.ReadAllText(f).Contains("OnnxRuntime", StringComparison.OrdinalIgnoreCase)).ToList();
        Assert.True(offenders.Count == 0, "ONNX Runtime is test-only, but these product build files reference it: " + string.Join(", ", offenders));
    }
}
