// DatasetTests: dataset readers on the real data (MNIST IDX gz, CIFAR-10 JPEG tar, label files) and on
// structures built at test time (a CIFAR binary batch made by numpy/PIL, an image-folder tree with a
// corrupt file), with numpy/PIL as the independent reference where values are compared.

using System.Globalization;
using System.IO.Compression;
using System.Text;

namespace AdvVis.Data.Tests;

public sealed class DatasetTests
{
    [Fact]
    public void MnistTestSetFromIdxGz()
    {
        string images = TestSupport.DataPath("mnist", "t10k-images-idx3-ubyte.gz");
        string labels = TestSupport.DataPath("mnist", "t10k-labels-idx1-ubyte.gz");
        var set = IdxReader.LoadImagesAndLabels(images, labels);
        Assert.Equal(10_000, set.Count);
        Assert.Equal((28, 28, 1), (set.Images[0].Width, set.Images[0].Height, set.Images[0].Channels));
        Assert.Equal(7, set.Labels[0]);
        Assert.Equal("7", set.ClassNameOf(0));
        Assert.Empty(set.Warnings);

        // numpy reading the same gzip bytes independently.
        string[] reference = Encoding.ASCII.GetString(TestSupport.Python(
            "import sys, gzip, numpy as np\nim = np.frombuffer(gzip.open(sys.argv[1]).read(), np.uint8, offset=16).astype(np.int64)\n" +
            "lb = np.frombuffer(gzip.open(sys.argv[2]).read(), np.uint8, offset=8)\n" +
            "print(im.sum(), im[:784].sum(), ' '.join(map(str, lb[:10])), np.bincount(lb).tolist()[3])", images, labels)).Trim().Split(' ');
        Assert.Equal(long.Parse(reference[0], CultureInfo.InvariantCulture), set.Images.Sum(i => i.Pixels.Sum(p => (long)p)));
        Assert.Equal(long.Parse(reference[1], CultureInfo.InvariantCulture), set.Images[0].Pixels.Sum(p => (long)p));
        Assert.Equal(reference[2..12].Select(int.Parse), set.Labels.Take(10));
        Assert.Equal(int.Parse(reference[12], CultureInfo.InvariantCulture), set.Labels.Count(l => l == 3));

        // The same data decompressed: format detection is by magic, not by the .gz name.
        using var temp = TestSupport.CreateTempDirectory();
        using (var gz = new GZipStream(File.OpenRead(labels), CompressionMode.Decompress))
        using (var plain = File.Create(temp.File("labels.gz")))
            gz.CopyTo(plain);
        var raw = IdxReader.Read(temp.File("labels.gz"));
        Assert.Equal(new[] { 10_000 }, raw.Shape);
        Assert.Equal(set.Labels, raw.ToInt32Array());
    }

    [Fact]
    public void IdxErrorsNameTheProblem()
    {
        using var temp = TestSupport.CreateTempDirectory();
        byte[] labels = File.ReadAllBytes(TestSupport.DataPath("mnist", "t10k-labels-idx1-ubyte.gz"));
        File.WriteAllBytes(temp.File("cut.gz"), labels[..(labels.Length / 2)]);
        var error = Assert.Throws<DataFormatException>(() => IdxReader.Read(temp.File("cut.gz")));
        Assert.Contains(temp.File("cut.gz"), error.Message);
        // Swapped arguments are caught with a hint.
        error = Assert.Throws<DataFormatException>(() => IdxReader.LoadImagesAndLabels(
            TestSupport.DataPath("mnist", "t10k-labels-idx1-ubyte.gz"), TestSupport.DataPath("mnist", "t10k-images-idx3-ubyte.gz")));
        Assert.Contains("labels file", error.Message);
        Assert.Throws<DataFormatException>(() => IdxReader.Parse(new byte[] { 0, 0, 0x08, 1, 0, 0, 0, 9, 1, 2 }));
    }

    [Fact]
    public void Cifar10BinaryBatchBuiltFromFoolboxSamples()
    {
        using var temp = TestSupport.CreateTempDirectory();
        var files = Directory.GetFiles(TestSupport.DataPath("cifar10", "foolbox_samples"), "*.png").Order().ToArray();
        string batch = temp.File("test_batch.bin");
        // numpy/PIL write the official layout: label byte, then R, G, B planes of 32×32.
        TestSupport.Python(
            "import sys, numpy as np\nfrom PIL import Image\nout = bytearray()\nfor f in sys.argv[2:]:\n" +
            "    label = int(f.rsplit('_', 1)[1].split('.')[0])\n    a = np.asarray(Image.open(f).convert('RGB'))\n" +
            "    out += bytes([label]) + a.transpose(2, 0, 1).tobytes()\nopen(sys.argv[1], 'wb').write(out)",
            [batch, .. files]);
        var set = Cifar10Reader.ReadBatch(batch);
        Assert.Equal(files.Length, set.Count);
        Assert.Equal(Cifar10Reader.Cifar10ClassNames, set.ClassNames);
        for (int i = 0; i < files.Length; i++)
        {
            int label = int.Parse(Path.GetFileNameWithoutExtension(files[i]).Split('_')[^1], CultureInfo.InvariantCulture);
            Assert.Equal(label, set.Labels[i]);
            Assert.Equal(ImageDecoder.Decode(files[i]).Pixels, set.Images[i].Pixels);
        }
        var classNames = File.ReadAllLines(TestSupport.DataPath("cifar10", "cifar10_classes.txt")).Where(l => l.Length > 0);
        Assert.Equal(classNames, Cifar10Reader.Cifar10ClassNames);

        File.WriteAllBytes(temp.File("bad.bin"), File.ReadAllBytes(batch)[..5000]);
        Assert.Contains("3073", Assert.Throws<DataFormatException>(() => Cifar10Reader.ReadBatch(temp.File("bad.bin"))).Message);
    }

    [Fact]
    public void ImageFolderSkipsCorruptFilesWithAWarning()
    {
        using var temp = TestSupport.CreateTempDirectory();
        string root = temp.File("tree");
        var mnist = Directory.GetFiles(TestSupport.DataPath("mnist", "foolbox_samples"), "*.png").Order().ToArray();
        var cifar = Directory.GetFiles(TestSupport.DataPath("cifar10", "foolbox_samples"), "*.png").Order().ToArray();
        foreach (string cls in new[] { "dog", "Zebra", "cat", ".hidden" }) Directory.CreateDirectory(Path.Combine(root, cls));
        File.Copy(cifar[0], Path.Combine(root, "cat", "b.png"));
        File.Copy(cifar[1], Path.Combine(root, "cat", "a.PNG"));
        File.Copy(mnist[0], Path.Combine(root, "dog", "one.png"));
        File.Copy(TestSupport.DataPath("imagenet", "giant_panda_byassine.jpg"), Path.Combine(root, "Zebra", "panda.jpg"));
        byte[] png = File.ReadAllBytes(cifar[2]);
        File.WriteAllBytes(Path.Combine(root, "dog", "broken.png"), png[..(png.Length - 40)]);
        File.WriteAllText(Path.Combine(root, "dog", "notes.txt"), "not an image");
        File.Copy(cifar[3], Path.Combine(root, ".hidden", "x.png"));

        var set = ImageFolderReader.Read(root);
        Assert.Equal(new[] { "Zebra", "cat", "dog" }, set.ClassNames); // ordinal order, like Python's sorted()
        Assert.Equal(4, set.Count);
        Assert.Equal(new[] { 0, 1, 1, 2 }, set.Labels);
        Assert.EndsWith(Path.Combine("cat", "a.PNG"), set.Sources[1]);
        Assert.All(set.Images, i => Assert.Equal(3, i.Channels)); // default converts to RGB
        Assert.Equal(ImageDecoder.Decode(cifar[1]).Pixels, set.Images[1].Pixels);
        Assert.Equal(2, set.Warnings.Count);
        Assert.Contains("sorted order ('Zebra' = 0, 'cat' = 1, 'dog' = 2)", set.Warnings[0], StringComparison.Ordinal); // names, not numbers: said so
        Assert.Contains("broken.png", set.Warnings[1]);
        Assert.Contains("truncated", set.Warnings[1]);

        // One file per class: dog's first file (sorted) is the broken one, so dog ends up empty and says so.
        var gray = ImageFolderReader.Read(root, new ImageFolderOptions { Channels = 1, MaxImagesPerClass = 1 });
        Assert.Equal(2, gray.Count);
        Assert.Equal(3, gray.Warnings.Count);
        Assert.Contains(gray.Warnings, w => w.Contains("'dog' has no readable images"));
        Assert.All(gray.Images, i => Assert.Equal(1, i.Channels));

        Assert.Throws<DataFormatException>(() => ImageFolderReader.Read(Path.Combine(root, "cat")));
        Assert.Throws<DirectoryNotFoundException>(() => ImageFolderReader.Read(temp.File("missing")));
    }

    [Fact]
    public void DigitFoldersKeepTheirNumberWhenOneClassIsMissing()
    {
        // MNIST samples (file names end in their digit) in folders 0..9 without 8: sorted numbering would make "9" class 8.
        using var temp = TestSupport.CreateTempDirectory();
        string root = temp.File("digits");
        foreach (string file in Directory.GetFiles(TestSupport.DataPath("mnist", "foolbox_samples"), "*.png"))
        {
            string digit = Path.GetFileNameWithoutExtension(file)[^1..];
            if (digit == "8") continue;
            Directory.CreateDirectory(Path.Combine(root, digit));
            File.Copy(file, Path.Combine(root, digit, Path.GetFileName(file)));
        }
        int FileDigit(string source) => Path.GetFileNameWithoutExtension(source)[^1] - '0';

        var set = ImageFolderReader.Read(root);
        Assert.Contains(set.Labels, l => l == 9);
        Assert.Equal(set.Sources.Select(FileDigit), set.Labels);
        Assert.Equal("9", set.ClassNames[9]);
        Assert.Empty(set.Warnings);
        // The same through the loader the CLI uses, with the model's names: still by number.
        var loaded = DatasetLoader.Load(root, new DatasetOptions { ModelClasses = new ClassLabels(IdxReader.MnistClassNames) });
        Assert.Equal(loaded.Sources.Select(FileDigit), loaded.Labels);
        Assert.Equal(IdxReader.MnistClassNames, loaded.ClassNames);
    }

    [Fact]
    public void ClassFoldersMapToTheModelsLabelsByNameIdOrNumberAndSayWhenTheyCannot()
    {
        var cifar = new ClassLabels(Cifar10Reader.Cifar10ClassNames);
        var byName = ImageFolderReader.MapClassFolders(["Dog", "cat", "ship"], cifar);
        Assert.Equal(new[] { 5, 3, 8 }, byName.Labels);
        Assert.Null(byName.Warning);
        var imagenet = new ClassLabels(["tench, Tinca tinca", "goldfish", "giant panda, panda"], ["n01440764", "n01443537", "n02510455"]);
        Assert.Equal(new[] { 2, 0, 1 }, ImageFolderReader.MapClassFolders(["n02510455", "tench", "1"], imagenet).Labels);
        Assert.Equal(new[] { 2 }, ImageFolderReader.MapClassFolders(["giant_panda"], imagenet).Labels);
        Assert.Equal(new[] { 0, 9 }, ImageFolderReader.MapClassFolders(["0", "9"]).Labels);

        // Names the model does not know: numbered in sorted order, with a warning that says so and how to fix it.
        var unknown = ImageFolderReader.MapClassFolders(["zebra", "horse"], cifar);
        Assert.Equal(new[] { 1, 0 }, unknown.Labels);
        Assert.Contains("sorted order ('horse' = 0, 'zebra' = 1)", unknown.Warning, StringComparison.Ordinal);
        Assert.Contains("Name each folder by its class number", unknown.Warning, StringComparison.Ordinal);
        // A number the model has no class for is not silently used.
        Assert.NotNull(ImageFolderReader.MapClassFolders(["3", "12"], cifar).Warning);
    }

    [Fact]
    public void Cifar10JpegTarArchive()
    {
        var set = ImageFolderReader.ReadArchive(TestSupport.DataPath("cifar10", "cifar10-test-jpeg-q75-yoongikim.tar.gz"),
            new ImageFolderOptions { MaxImagesPerClass = 3, ModelClasses = new ClassLabels(Cifar10Reader.Cifar10ClassNames) });
        Assert.Equal(Cifar10Reader.Cifar10ClassNames, set.ClassNames);
        Assert.Equal(30, set.Count);
        Assert.Empty(set.Warnings);
        Assert.All(set.Images, i => Assert.Equal((32, 32, 3), (i.Width, i.Height, i.Channels)));
        Assert.Equal(Enumerable.Range(0, 10).SelectMany(l => Enumerable.Repeat(l, 3)), set.Labels);
    }

    [Fact]
    public void ImageNetLabelFiles()
    {
        var synsets = ClassLabels.Load(TestSupport.DataPath("imagenet", "labels", "synset_words.txt"));
        Assert.Equal(1000, synsets.Count);
        Assert.Equal("n02510455", synsets.Ids![388]);
        Assert.Equal("giant panda", synsets.ShortName(388));
        Assert.Equal("n01440764", synsets.Ids[0]);
        Assert.Equal("tench, Tinca tinca", synsets.Names[0]);
        Assert.Equal(227, synsets.IndexOfId("n02105412")); // kelpie
        Assert.Equal(363, synsets.IndexOfId("n02454379")); // armadillo

        var keras = ClassLabels.Load(TestSupport.DataPath("imagenet", "labels", "imagenet_class_index.json"));
        Assert.Equal(1000, keras.Count);
        Assert.Equal("giant_panda", keras.Names[388]);
        Assert.Equal(synsets.Ids, keras.Ids);

        var plain = ClassLabels.Load(TestSupport.DataPath("imagenet", "labels", "imagenet_classes.txt"));
        Assert.Equal(1000, plain.Count);
        Assert.Null(plain.Ids);

        var cifar = ClassLabels.Load(TestSupport.DataPath("cifar10", "cifar10_classes.txt"));
        Assert.Equal(Cifar10Reader.Cifar10ClassNames, cifar.Names);
    }

    [Fact]
    public void LabelFileErrors()
    {
        Assert.Contains("line 2", Assert.Throws<DataFormatException>(() => ClassLabels.ParseText("cat\n\ndog\n")).Message);
        Assert.Equal(2, ClassLabels.ParseText("\uFEFFcat\r\ndog\r\n\r\n").Count);
        Assert.Contains("index 1", Assert.Throws<DataFormatException>(() =>
            ClassLabels.ParseKerasJson("{\"0\": [\"n1\", \"a\"], \"2\": [\"n2\", \"b\"]}")).Message);
        Assert.Throws<DataFormatException>(() => ClassLabels.ParseKerasJson("{\"0\": \"cat\"}"));
        Assert.Throws<DataFormatException>(() => ClassLabels.ParseKerasJson("{not json"));
    }
}
