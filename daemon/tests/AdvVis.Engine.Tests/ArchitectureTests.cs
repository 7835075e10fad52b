// Keeps the layers visible in the folders honest: project references point down the stack only.
using System.Xml.Linq;

namespace AdvVis.Engine.Tests;

public class ArchitectureTests
{
    // Kernels → Onnx → Engine → Attacks → Analysis → Service → Cli. Data stands beside the stack and references nothing.
    private static readonly string[] Stack = ["AdvVis.Kernels", "AdvVis.Onnx", "AdvVis.Engine", "AdvVis.Attacks", "AdvVis.Analysis", "AdvVis.Service", "AdvVis.Cli"];
    // The engine and below must not know about files a user brings; everything above may read them.
    private const string DataLayer = "AdvVis.Data";
    // Confined file access and memory budgets: below everything, references nothing, any layer may use it.
    private const string SafetyLayer = "AdvVis.Safety";

    public static TheoryData<string> Projects()
    {
        var data = new TheoryData<string>();
        foreach (var csproj in Directory.GetFiles(Path.Combine(TestPaths.RepoRoot, "daemon", "src"), "*.csproj", SearchOption.AllDirectories).Order())
            data.Add(Path.GetFileNameWithoutExtension(csproj));
        return data;
    }

    [Theory]
    [MemberData(nameof(Projects))]
    public void ReferencesPointDownOnly(string project)
    {
        var path = Path.Combine(TestPaths.RepoRoot, "daemon", "src", project, project + ".csproj");
        var references = XDocument.Load(path).Descendants("ProjectReference")
            .Select(r => Path.GetFileNameWithoutExtension(r.Attribute("Include")!.Value)).ToList();
        if (project == SafetyLayer)
        {
            Assert.Empty(references);
            return;
        }
        references.Remove(SafetyLayer);
        if (project == DataLayer)
        {
            Assert.Empty(references);
            return;
        }
        int level = Array.IndexOf(Stack, project);
        Assert.True(level >= 0, $"{project} is not placed in the layer stack; add it to ArchitectureTests and ARCHITECTURE.md.");
        foreach (var reference in references)
        {
            if (reference == DataLayer)
            {
                Assert.True(level > Array.IndexOf(Stack, "AdvVis.Engine"), $"{project} is at or below the engine and must not read user files (AdvVis.Data).");
                continue;
            }
            int target = Array.IndexOf(Stack, reference);
            Assert.True(target >= 0 && target < level, $"{project} references {reference}, which is not below it in the stack.");
        }
    }

    [Fact]
    public void OnlyTheServiceAndCliSpeakJsonRpc()
    {
        foreach (var project in Stack.Take(5).Append(DataLayer).Append(SafetyLayer))
        {
            var folder = Path.Combine(TestPaths.RepoRoot, "daemon", "src", project);
            foreach (var file in Directory.GetFiles(folder, "*.cs", SearchOption.AllDirectories).Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}")))
                Assert.DoesNotContain("AdvVis.Service", File.ReadAllText(file));
        }
    }
}
