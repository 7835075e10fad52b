// ProtocolDocTests: docs/protocol.md is the protocol's single source of truth for client authors; these tests fail
// when the document, the DTOs (Protocol/*.cs) and the daemon's registered methods disagree.
using AdvVis.Service.Protocol;

namespace AdvVis.Service.Tests;

public sealed class ProtocolDocTests
{
    [Fact]
    public void Reference_section_matches_the_code()
    {
        string doc = File.ReadAllText(ProtocolDoc.DocPath);
        var (before, reference, after) = ProtocolDoc.Split(doc);
        string expected = ProtocolDoc.Render(ProtocolDoc.Meanings(reference));
        if (Environment.GetEnvironmentVariable("ADVVIS_WRITE_PROTOCOL_DOC") == "1")
        {
            File.WriteAllText(ProtocolDoc.DocPath, before + expected + after);
            return;
        }
        Assert.Equal(ProtocolDoc.WithoutMeanings(expected), ProtocolDoc.WithoutMeanings(reference));
    }

    [Fact]
    public void Every_method_has_a_prose_section()
    {
        string doc = File.ReadAllText(ProtocolDoc.DocPath);
        var (before, _, _) = ProtocolDoc.Split(doc);
        foreach (var method in ProtocolCatalog.Methods)
            Assert.True(before.Contains($"### `{method.Name}`", StringComparison.Ordinal), $"docs/protocol.md has no '### `{method.Name}`' section");
    }
}
