// `advvis profiles` as a user runs it: a child process on the paper CNN and 500 Fashion-MNIST images. Its figures must
// agree with the library's on the same images and seed (the CLI's preprocessing rounds pixels differently in the last
// bit, and UMAP's SGD amplifies that, so agreement is to 0.01, far tighter than a wrong layer, item set or preprocessing
// would give), and --bench must not put umap-learn's 2,000-item figures next to a 500-item run.
using System.Text.Json;
using AdvVis.Analysis.Profiles;
using AdvVis.Data;

namespace AdvVis.Engine.Tests;

public class CliProfilesTests
{
    private static readonly string[] Layers =
    [
        "/blocks.0/blocks.0.2/MaxPool_output_0", "/blocks.1/blocks.1.2/MaxPool_output_0", "/blocks.2/blocks.2.2/MaxPool_output_0",
        "/blocks.3/blocks.3.2/MaxPool_output_0", "logits",
    ];

    [Fact]
    public void ProfilesPrintTheLibrarysTrustworthinessAndAlignmentAndKeepMismatchedReferencesApart()
    {
        string model = TestPaths.SharedModel("fmnist-cnn-paper.onnx"), data = TestPaths.SharedData("fashion-mnist/fmnist-test-2000.npz");
        var (code, stdout, stderr) = CliTests.Run("profiles", model, "--data", data, "--layers", string.Join(',', Layers),
            "--limit", "500", "--seed", "7", "--json", "--bench");
        Assert.True(code == 0, stderr);
        using var doc = JsonDocument.Parse(stdout);
        var root = doc.RootElement;
        Assert.Equal(500, root.GetProperty("items").GetInt32());
        double[] cli = root.GetProperty("axes").EnumerateArray().Select(a => a.GetProperty("trustworthiness").GetDouble()).ToArray();
        Assert.Equal(Layers.Length, cli.Length);
        Assert.False(root.TryGetProperty("umap_learn", out _), "umap-learn's 2,000-item figures shown next to a 500-item run");
        Assert.Contains(root.GetProperty("notes").EnumerateArray(), n => n.GetString()!.Contains("not shown next to ours"));
        Assert.True(root.GetProperty("timings").GetProperty("projection_s").GetDouble() > 0);

        // The same computation through the library: pixels / 255 of the first 500 images, seed 7.
        var arrays = Npz.Read(data);
        byte[] bytes = arrays["images"].GetData<byte>();
        var pixels = new float[500 * 784];
        for (int i = 0; i < pixels.Length; i++)
            pixels[i] = bytes[i] / 255f;
        long[] labels = arrays["labels"].GetData<long>()[..500];
        FlowResult library = ActivationProfiles.Compute(Model.Load(model), Layers, new Tensor([500, 1, 28, 28], pixels),
            Array.ConvertAll(labels, l => (int)l), LabelSource.True, null, null, new FlowOptions { Seed = 7, ComputeQuality = true });
        for (int l = 0; l < Layers.Length; l++)
        {
            Assert.True(Math.Abs(library.Axes[l].Trustworthiness!.Value - cli[l]) < 0.01,
                $"{Layers[l]}: CLI trustworthiness {cli[l]:F4}, library {library.Axes[l].Trustworthiness:F4}");
            Assert.InRange(cli[l], 0.9, 1.0); // 1-D UMAP of these layers: umap-learn reaches 0.96–0.98 on 2,000 items
        }
        Assert.True(Math.Abs(library.Alignment!.Value - root.GetProperty("alignment").GetDouble()) < 0.005);
        Assert.True(library.Alignment > 0.95);
    }
    [Fact]
    public void WithoutLayersTheFlowUsesTheDefaultPathAndParallelBranchesAreRefusedInWords()
    {
        string data = TestPaths.SharedData("fashion-mnist/fmnist-test-2000.npz"), paper = TestPaths.SharedModel("fmnist-cnn-paper.onnx");
        var (code, stdout, stderr) = CliTests.Run("profiles", paper, "--data", data, "--limit", "100", "--json");
        Assert.True(code == 0, stderr);
        using (var doc = JsonDocument.Parse(stdout))
        {
            var layers = doc.RootElement.GetProperty("axes").EnumerateArray().Select(a => a.GetProperty("layer").GetString()).ToArray();
            Assert.Equal(Attacks.Divergence.SelectLayers(Model.Load(paper)).Select(l => l.Name), layers);
        }

        // SqueezeNet's two expand branches of a fire module: no path leads from one to the other.
        (code, _, stderr) = CliTests.Run("profiles", TestPaths.SharedModel("squeezenet1.0-fp32.onnx"), "--data", data,
            "--layers", "fire2/expand1x1_2,fire2/expand3x3_2");
        Assert.NotEqual(0, code);
        Assert.Contains("parallel branches", stderr, StringComparison.Ordinal);
    }
}
