// Model configs (sidecar, workspace advvis.json, command-line overrides, inferred layout) and the dataset loader's
// choice of reader, its skipping of unreadable files and its downscaling of oversized images.
namespace AdvVis.Data.Tests;

public sealed class PreprocessingAndLoaderTests
{
    [Fact]
    public void WorkspaceConfigIsFoundAndCommandLineOverridesIt()
    {
        using var dir = TestSupport.CreateTempDirectory();
        Directory.CreateDirectory(Path.Combine(dir.Path, "models"));
        var model = Path.Combine(dir.Path, "models", "net.onnx");
        File.WriteAllText(model, "");
        File.WriteAllText(Path.Combine(dir.Path, "advvis.json"),
            """{ "models": [ { "model": "models/net.onnx", "channels": "BGR", "resize": 256, "scale": 1, "mean": [104, 117, 123], "range": [0.1, 0.9] } ] }""");
        var pre = Preprocessing.Resolve(model, [1, 3, 224, 224]);
        Assert.Equal(ChannelOrder.Bgr, pre.Order);
        Assert.Equal(256, pre.ResizeShorterSide);
        Assert.Equal([104f, 117f, 123f], pre.Mean);
        Assert.Equal((0.1f, 0.9f), (pre.RangeMin, pre.RangeMax));
        Assert.EndsWith("advvis.json", pre.Source);

        var overridden = Preprocessing.Resolve(model, [1, 3, 224, 224], new PreprocessingOverrides { Channels = "rgb", Mean = [0.5f], Std = [2f] });
        Assert.Equal(ChannelOrder.Rgb, overridden.Order);
        Assert.Equal([0.5f, 0.5f, 0.5f], overridden.Mean);
        Assert.Equal([2f, 2f, 2f], overridden.Std);
        Assert.Equal(256, overridden.ResizeShorterSide); // kept from the config
        Assert.Contains(overridden.Assumptions, a => a.Contains("command-line"));
    }

    [Fact]
    public void WithoutConfigTheLayoutAndChannelsAreInferredAndReported()
    {
        using var dir = TestSupport.CreateTempDirectory();
        var model = Path.Combine(dir.Path, "nhwc.onnx");
        var pre = Preprocessing.Resolve(model, [null, 32, 32, 3]);
        Assert.Equal(InputLayout.Nhwc, pre.Layout);
        Assert.Equal((3, 32, 32), (pre.Channels, pre.Height, pre.Width));
        Assert.Contains(pre.Assumptions, a => a.Contains("NHWC"));
        Assert.Contains(pre.Assumptions, a => a.Contains("no MODEL.onnx.advvis.json"));
        var ex = Assert.Throws<InvalidDataException>(() => Preprocessing.Resolve(model, [1, 3, 224, 224], new PreprocessingOverrides { Range = [0.5f, 0.2f] }));
        Assert.Contains("--range", ex.Message);
    }

    [Fact]
    public void PixelsAreInTheModelsChannelOrderAndToImageInvertsThem()
    {
        var image = new Image(2, 1, 3, [10, 20, 30, 40, 50, 60]);
        var bgr = new Preprocessing(2, 1, ChannelOrder.Bgr, 1f, [0, 0, 0], [1, 1, 1], null, null, null, []);
        var px = bgr.ToPixels(image);
        float[] expected = [30 / 255f, 60 / 255f, 20 / 255f, 50 / 255f, 10 / 255f, 40 / 255f];
        Assert.Equal(expected.Length, px.Length);
        for (int i = 0; i < px.Length; i++) Assert.Equal(expected[i], px[i], 1e-6f);
        Assert.Equal(image.Pixels, bgr.ToImage(px).Pixels);
    }

    [Fact]
    public void LoaderReadsNpzAndIdxWithLabelsFoundBeside()
    {
        var npz = DatasetLoader.Load(TestSupport.DataPath("fashion-mnist", "fmnist-test-2000.npz"), new DatasetOptions { Limit = 10 });
        Assert.Equal(10, npz.Count);
        Assert.All(npz.Labels, l => Assert.InRange(l, 0, 9));
        var idx = DatasetLoader.Load(TestSupport.DataPath("mnist", "t10k-images-idx3-ubyte.gz"), new DatasetOptions { Limit = 5 });
        Assert.Equal([7, 2, 1, 0, 4], idx.Labels);
    }

    [Fact]
    public void AnUnreadableImageIsSkippedAndAnOversizedOneDownscaledWithWarnings()
    {
        using var dir = TestSupport.CreateTempDirectory();
        var cat = Directory.CreateDirectory(Path.Combine(dir.Path, "cat")).FullName;
        PngEncoder.Save(new Image(4, 4, 3), Path.Combine(cat, "ok.png"));
        PngEncoder.Save(new Image(300, 100, 1), Path.Combine(cat, "big.png"));
        File.WriteAllBytes(Path.Combine(cat, "broken.png"), [0x89, 0x50, 0x4E, 0x47, 1, 2, 3]);
        var set = DatasetLoader.Load(dir.Path, new DatasetOptions { MaxSide = 150 });
        Assert.Equal(2, set.Count);
        Assert.Contains(set.Warnings, w => w.Contains("broken.png") && w.Contains("Skipped"));
        Assert.Contains(set.Warnings, w => w.Contains("big.png") && w.Contains("downscaled"));
        Assert.Contains(set.Images, i => i.Width == 150 && i.Height == 50);
    }

    [Fact]
    public void UnknownFilesGetAnErrorNamingThemAndTheFix()
    {
        using var dir = TestSupport.CreateTempDirectory();
        var f = Path.Combine(dir.Path, "data.csv");
        File.WriteAllText(f, "1,2,3");
        var e = Assert.Throws<DataFormatException>(() => DatasetLoader.Load(f));
        Assert.Contains("data.csv", e.Message);
        Assert.Contains("image folder", e.Message);
        Assert.Throws<FileNotFoundException>(() => DatasetLoader.Load(Path.Combine(dir.Path, "missing.npz")));
    }
}
