// NpyTests: .npy/.npz against numpy itself (Debian's /usr/bin/python3): the real Fashion-MNIST .npz, files
// numpy writes in every supported dtype, byte order and header version, and our writer's output read back
// by numpy. Plus the clear errors for Fortran order, structured dtypes and truncation.

using System.Globalization;
using System.Text;

namespace AdvVis.Data.Tests;

public sealed class NpyTests
{
    [Fact]
    public void FashionMnistNpzMatchesNumpy()
    {
        string path = TestSupport.DataPath("fashion-mnist", "fmnist-test-2000.npz");
        var arrays = Npz.Read(path);
        var images = arrays["images"];
        var labels = arrays["labels"];
        Assert.Equal(NpyDType.UInt8, images.DType);
        Assert.Equal(new[] { 2000, 28, 28 }, images.Shape);
        Assert.Equal(NpyDType.Int64, labels.DType);
        Assert.Equal(new[] { 2000 }, labels.Shape);

        // numpy's own view: pixel sum, a weighted checksum and the first labels.
        string[] reference = Encoding.ASCII.GetString(TestSupport.Python(
            "import sys, numpy as np\nz = np.load(sys.argv[1])\nim = z['images'].astype(np.int64); lb = z['labels']\n" +
            "w = (np.arange(im.size, dtype=np.int64) % 1000 + 1).reshape(im.shape)\n" +
            "print(im.sum(), (im * w).sum(), ' '.join(map(str, lb[:20])), lb.sum())", path)).Split(' ', '\n');
        byte[] pixels = images.GetData<byte>();
        Assert.Equal(long.Parse(reference[0], CultureInfo.InvariantCulture), pixels.Sum(p => (long)p));
        Assert.Equal(long.Parse(reference[1], CultureInfo.InvariantCulture), pixels.Select((p, i) => (long)p * (i % 1000 + 1)).Sum());
        Assert.Equal(reference[2..22].Select(s => long.Parse(s, CultureInfo.InvariantCulture)), labels.ToInt64Array().Take(20));
        Assert.Equal(long.Parse(reference[22], CultureInfo.InvariantCulture), labels.ToInt64Array().Sum());

        var set = LabeledImageSet.FromArrays(images, labels, IdxReader.FashionMnistClassNames, "fmnist");
        Assert.Equal(2000, set.Count);
        Assert.Equal((28, 28, 1), (set.Images[0].Width, set.Images[0].Height, set.Images[0].Channels));
        var tensor = set.Take(3).ToTensor();
        Assert.Equal(new[] { 3, 1, 28, 28 }, tensor.Shape);
        Assert.Equal(pixels[28 * 28 + 400] / 255f, tensor.GetData<float>()[28 * 28 + 400]);
    }

    public static TheoryData<string> NumpyDtypes => new() { "<f4", "<f8", "<i8", "<i4", "|u1", "|b1", "|i1", "<i2", "<u2", ">f4", ">i8", ">f8" };

    [Theory]
    [MemberData(nameof(NumpyDtypes))]
    public void ReadsEveryDtypeNumpyWrites(string dtype)
    {
        using var temp = TestSupport.CreateTempDirectory();
        string path = temp.File("a.npy");
        // Values spanning negatives and fractions, cast by numpy to the dtype; numpy prints what it stored.
        string printed = Encoding.ASCII.GetString(TestSupport.Python(
            "import sys, numpy as np\nv = (np.arange(24) * 7.25 - 40).reshape(2, 3, 4)\n" +
            "a = (v > 0) if sys.argv[2] == '|b1' else v.astype(sys.argv[2])\n" +
            "np.save(sys.argv[1], a)\nprint(' '.join(repr(float(x)) for x in a.ravel()))", path, dtype));
        double[] expected = printed.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(s => double.Parse(s, CultureInfo.InvariantCulture)).ToArray();

        var array = Npy.Read(path);
        Assert.Equal(new[] { 2, 3, 4 }, array.Shape);
        Assert.Equal(expected, array.ToDoubleArray());
        Assert.Equal(expected.Select(v => (float)v), array.ToFloatArray());
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void ReadsEveryHeaderVersion(int major)
    {
        using var temp = TestSupport.CreateTempDirectory();
        string path = temp.File("v.npy");
        TestSupport.Python(
            "import sys, numpy as np\nfrom numpy.lib import format as f\na = np.arange(10, dtype='<i4').reshape(5, 2)\n" +
            "with open(sys.argv[1], 'wb') as fh: f.write_array(fh, a, version=(int(sys.argv[2]), 0))", path, major.ToString(CultureInfo.InvariantCulture));
        Assert.Equal(major, File.ReadAllBytes(path)[6]);
        var array = Npy.Read(path);
        Assert.Equal(new[] { 5, 2 }, array.Shape);
        Assert.Equal(Enumerable.Range(0, 10).ToArray(), array.GetData<int>());
    }

    [Fact]
    public void ScalarAndEmptyArrays()
    {
        using var temp = TestSupport.CreateTempDirectory();
        TestSupport.Python("import sys, numpy as np\nnp.save(sys.argv[1], np.float64(2.5))\nnp.save(sys.argv[2], np.zeros((0, 3), np.float32))",
            temp.File("s.npy"), temp.File("e.npy"));
        var scalar = Npy.Read(temp.File("s.npy"));
        Assert.Empty(scalar.Shape);
        Assert.Equal(new[] { 2.5 }, scalar.ToDoubleArray());
        var empty = Npy.Read(temp.File("e.npy"));
        Assert.Equal(new[] { 0, 3 }, empty.Shape);
        Assert.Equal(0, empty.Length);
    }

    [Fact]
    public void RejectsFortranOrderStructuredAndTruncatedFilesClearly()
    {
        using var temp = TestSupport.CreateTempDirectory();
        TestSupport.Python(
            "import sys, numpy as np\nnp.save(sys.argv[1], np.asfortranarray(np.arange(6.0).reshape(2, 3)))\n" +
            "np.save(sys.argv[2], np.zeros(3, dtype=[('x', '<f4'), ('y', '<i4')]))\nnp.save(sys.argv[3], np.arange(3, dtype=np.complex64))",
            temp.File("f.npy"), temp.File("s.npy"), temp.File("c.npy"));
        var error = Assert.Throws<DataFormatException>(() => Npy.Read(temp.File("f.npy")));
        Assert.Contains("Fortran", error.Message);
        Assert.Contains("ascontiguousarray", error.Message);
        Assert.Contains(temp.File("f.npy"), error.Message);
        Assert.Contains("structured", Assert.Throws<DataFormatException>(() => Npy.Read(temp.File("s.npy"))).Message);
        Assert.Contains("<c8", Assert.Throws<DataFormatException>(() => Npy.Read(temp.File("c.npy"))).Message);

        byte[] good = Npy.ToBytes(new NpyArray(new float[100], 10, 10));
        Assert.Contains("truncated", Assert.Throws<DataFormatException>(() => Npy.Parse(good[..^4])).Message);
        for (int cut = 0; cut < 128; cut += 7)
            Assert.Throws<DataFormatException>(() => Npy.Parse(good[..cut]));
    }

    [Fact]
    public void WrittenFilesLoadInNumpy()
    {
        using var temp = TestSupport.CreateTempDirectory();
        var floats = new NpyArray(Enumerable.Range(0, 24).Select(i => i * 0.5f - 3).ToArray(), 2, 3, 4);
        var longs = new NpyArray(new long[] { 388, -1, long.MaxValue }, 3);
        var bytes = new NpyArray(new byte[] { 0, 128, 255, 7 }, 2, 2);
        var flags = new NpyArray(new[] { true, false, true }, 3);
        var doubles = new NpyArray(new[] { Math.PI }); // 0-d scalar
        Npy.Write(temp.File("f.npy"), floats);
        Npy.Write(temp.File("l.npy"), longs);
        Npy.Write(temp.File("b.npy"), bytes);
        Npy.Write(temp.File("t.npy"), flags);
        Npy.Write(temp.File("d.npy"), doubles);
        Npz.Write(temp.File("z.npz"), [new("images", bytes), new("labels", longs)], compress: true);
        Npz.Write(temp.File("s.npz"), [new("x", floats)], compress: false);

        string report = Encoding.ASCII.GetString(TestSupport.Python(
            "import sys, numpy as np\nd = sys.argv[1]\nout = []\n" +
            "for n in 'flbtd':\n    a = np.load(d + '/' + n + '.npy')\n    out.append(f'{n}:{a.dtype.str}:{a.shape}:{a.ravel().tolist()}')\n" +
            "z = np.load(d + '/z.npz'); out.append(f\"z:{sorted(z.files)}:{z['images'].tolist()}:{z['labels'].tolist()}\")\n" +
            "s = np.load(d + '/s.npz'); out.append(f\"s:{s['x'].shape}:{float(s['x'].sum())}\")\n" +
            "print('\\n'.join(out))", temp.Path));
        string[] lines = report.Trim().Split('\n');
        Assert.Equal("f:<f4:(2, 3, 4):[" + string.Join(", ", Enumerable.Range(0, 24).Select(i => (i * 0.5 - 3).ToString("0.0", CultureInfo.InvariantCulture))) + "]", lines[0]);
        Assert.Equal($"l:<i8:(3,):[388, -1, {long.MaxValue}]", lines[1]);
        Assert.Equal("b:|u1:(2, 2):[0, 128, 255, 7]", lines[2]);
        Assert.Equal("t:|b1:(3,):[True, False, True]", lines[3]);
        Assert.Equal($"d:<f8:():[{Math.PI.ToString("R", CultureInfo.InvariantCulture)}]", lines[4]);
        Assert.Equal($"z:['images', 'labels']:[[0, 128], [255, 7]]:[388, -1, {long.MaxValue}]", lines[5]);
        Assert.Equal("s:(2, 3, 4):66.0", lines[6]);

        // And our reader round-trips our writer (header padded to 64 bytes like numpy's).
        byte[] raw = File.ReadAllBytes(temp.File("f.npy"));
        Assert.Equal(0, (10 + (raw[8] | raw[9] << 8)) % 64);
        Assert.Equal(floats.GetData<float>(), Npy.Read(temp.File("f.npy")).GetData<float>());
        var z = Npz.Read(temp.File("z.npz"));
        Assert.Equal(longs.GetData<long>(), z["labels"].GetData<long>());
    }

    [Fact]
    public void ReadsNumpyCompressedAndStoredNpz()
    {
        using var temp = TestSupport.CreateTempDirectory();
        TestSupport.Python(
            "import sys, numpy as np\nnp.savez(sys.argv[1], a=np.arange(6, dtype=np.float32).reshape(2, 3), b=np.array([1, 2], np.int64))\n" +
            "np.savez_compressed(sys.argv[2], a=np.arange(6, dtype=np.float32).reshape(2, 3), b=np.array([1, 2], np.int64))",
            temp.File("stored.npz"), temp.File("deflated.npz"));
        foreach (string name in new[] { "stored.npz", "deflated.npz" })
        {
            var arrays = Npz.Read(temp.File(name));
            Assert.Equal(new[] { "a", "b" }, arrays.Keys.Order());
            Assert.Equal(new float[] { 0, 1, 2, 3, 4, 5 }, arrays["a"].GetData<float>());
            Assert.Equal(new[] { 2, 3 }, arrays["a"].Shape);
            Assert.Equal(new[] { 1, 2 }, arrays["b"].ToInt32Array());
        }
        byte[] bytes = File.ReadAllBytes(temp.File("deflated.npz"));
        File.WriteAllBytes(temp.File("cut.npz"), bytes[..(bytes.Length / 2)]);
        var error = Assert.Throws<DataFormatException>(() => Npz.Read(temp.File("cut.npz")));
        Assert.Contains(temp.File("cut.npz"), error.Message);
    }

    [Fact]
    public void MutatedNpyAndNpzOnlyThrowDataFormatException()
    {
        using var temp = TestSupport.CreateTempDirectory();
        TestSupport.Python(
            "import sys, numpy as np\nnp.save(sys.argv[1], np.arange(60, dtype='>f8').reshape(3, 4, 5))\n" +
            "np.savez_compressed(sys.argv[2], x=np.arange(100, dtype=np.uint8), y=np.ones((3, 3)))",
            temp.File("a.npy"), temp.File("b.npz"));
        var random = new Random(17);
        foreach (string name in new[] { "a.npy", "b.npz" })
        {
            byte[] seed = File.ReadAllBytes(temp.File(name));
            int rejected = 0;
            for (int iteration = 0; iteration < 300; iteration++)
            {
                byte[] mutant = iteration % 3 == 0 ? seed[..random.Next(seed.Length)] : (byte[])seed.Clone();
                if (iteration % 3 != 0)
                    for (int k = random.Next(1, 5); k > 0; k--) mutant[random.Next(Math.Min(mutant.Length, 160))] = (byte)random.Next(256);
                try
                {
                    if (name.EndsWith(".npy")) Npy.Parse(mutant);
                    else Npz.Read(new MemoryStream(mutant));
                }
                catch (DataFormatException)
                {
                    rejected++;
                }
            }
            Assert.True(rejected > 0);
        }
    }

    [Fact]
    public void AccessorsConvertAndGuard()
    {
        var labels = new NpyArray(new[] { 3.0f, 7.0f }, 2);
        Assert.Equal(new long[] { 3, 7 }, labels.ToInt64Array());
        Assert.Throws<InvalidCastException>(() => new NpyArray(new[] { 0.5f }, 1).ToInt64Array());
        Assert.Throws<InvalidCastException>(() => new NpyArray(new[] { 300 }, 1).ToByteArray());
        Assert.Throws<InvalidCastException>(() => labels.GetData<double>());
        Assert.Throws<ArgumentException>(() => new NpyArray(new float[5], 2, 3));
    }
}
