// Shared fixtures for the projection tests: a minimal .npz/.npy reader (the project's own npy
// reader lives in AdvVis.Data, which these tests must not depend on), the Fashion-MNIST sample,
// the SplitMix64 stream that reference/umap_reference.py uses for synthetic data and layer
// weights (re-implemented bit-for-bit), and access to the committed reference figures.
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using AdvVis.Analysis.Projection;

namespace AdvVis.Analysis.Tests.Projection;

/// <summary>Deterministic uniform doubles identical to umap_reference.py's splitmix_uniform.</summary>
internal static class SplitMixStream
{
    public static double[] Uniform(ulong seed, int count)
    {
        var result = new double[count];
        for (int i = 0; i < count; i++)
        {
            ulong z = unchecked(seed + (ulong)(i + 1) * 0x9E3779B97F4A7C15UL);
            z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
            z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBUL);
            z ^= z >> 31;
            result[i] = (z >> 11) * (1.0 / 9007199254740992.0);
        }
        return result;
    }

    /// <summary>A float matrix of uniform [0, 1) values (handy random test data).</summary>
    public static DenseMatrix Matrix(ulong seed, int rows, int columns) =>
        new(Array.ConvertAll(Uniform(seed, rows * columns), v => (float)v), rows, columns);
}

/// <summary>Reads the arrays of an .npz archive (little-endian u1 / i8 / f4 / f8, C order).</summary>
internal static class Npz
{
    public sealed record NpyArray(string Dtype, int[] Shape, byte[] Bytes);

    public static Dictionary<string, NpyArray> Read(string path)
    {
        var result = new Dictionary<string, NpyArray>();
        using ZipArchive zip = ZipFile.OpenRead(path);
        foreach (ZipArchiveEntry entry in zip.Entries)
        {
            using Stream stream = entry.Open();
            using var buffer = new MemoryStream();
            stream.CopyTo(buffer);
            result[Path.GetFileNameWithoutExtension(entry.FullName)] = ParseNpy(buffer.ToArray());
        }
        return result;
    }

    private static NpyArray ParseNpy(byte[] bytes)
    {
        if (bytes.Length < 10 || bytes[0] != 0x93 || Encoding.ASCII.GetString(bytes, 1, 5) != "NUMPY")
            throw new InvalidDataException("Not an .npy file.");
        int major = bytes[6];
        int headerLength = major == 1 ? BitConverter.ToUInt16(bytes, 8) : BitConverter.ToInt32(bytes, 8);
        int headerStart = major == 1 ? 10 : 12;
        string header = Encoding.ASCII.GetString(bytes, headerStart, headerLength);
        string dtype = Between(header, "'descr': '", "'");
        if (header.Contains("'fortran_order': True", StringComparison.Ordinal))
            throw new InvalidDataException("Fortran-ordered arrays are not supported.");
        string shapeText = Between(header, "'shape': (", ")");
        int[] shape = shapeText.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(int.Parse).ToArray();
        int dataStart = headerStart + headerLength;
        return new NpyArray(dtype, shape, bytes[dataStart..]);
    }

    private static string Between(string text, string start, string end)
    {
        int a = text.IndexOf(start, StringComparison.Ordinal);
        if (a < 0)
            throw new InvalidDataException($"npy header lacks {start}: {text}");
        a += start.Length;
        int b = text.IndexOf(end, a, StringComparison.Ordinal);
        return text[a..b];
    }
}

/// <summary>The 2,000-image Fashion-MNIST test sample and the synthetic layer sequence built from it.</summary>
internal static class FashionMnist
{
    private static readonly Lazy<(DenseMatrix Pixels, long[] Labels)> Data = new(Load);
    private static readonly Lazy<DenseMatrix[]> Layers = new(() => BuildSyntheticLayers(Pixels));

    public static string NpzPath => AdvVis.TestSupport.RepoPaths.SharedFile(Path.Combine("data", "fashion-mnist", "fmnist-test-2000.npz"));

    /// <summary>Pixels / 255 as float32, 2000 × 784 (as the Python script computes them).</summary>
    public static DenseMatrix Pixels => Data.Value.Pixels;

    public static long[] Labels => Data.Value.Labels;

    /// <summary>Pixel layer + 4 random dense layers, identical to umap_reference.py's synthetic_layers.</summary>
    public static IReadOnlyList<DenseMatrix> SyntheticLayers => Layers.Value;

    private static (DenseMatrix, long[]) Load()
    {
        Dictionary<string, Npz.NpyArray> arrays = Npz.Read(NpzPath);
        Npz.NpyArray images = arrays["images"], labels = arrays["labels"];
        if (images.Dtype != "|u1" || labels.Dtype != "<i8")
            throw new InvalidDataException($"Unexpected dtypes {images.Dtype}, {labels.Dtype}.");
        int n = images.Shape[0], features = images.Shape[1] * images.Shape[2];
        var pixels = new DenseMatrix(n, features);
        for (int i = 0; i < pixels.Data.Length; i++)
            pixels.Data[i] = (float)(images.Bytes[i] / 255.0);
        var labelValues = new long[labels.Shape[0]];
        Buffer.BlockCopy(labels.Bytes, 0, labelValues, 0, labelValues.Length * sizeof(long));
        return (pixels, labelValues);
    }

    private static DenseMatrix[] BuildSyntheticLayers(DenseMatrix pixels)
    {
        JsonElement reference = ReferenceFigures.Root;
        int[] widths = reference.GetProperty("layer_widths").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        ulong seed = reference.GetProperty("layer_seed").GetUInt64();
        var layers = new List<DenseMatrix> { pixels };
        int n = pixels.Rows;
        double[] current = Array.ConvertAll(pixels.Data, v => (double)v);
        int fanIn = pixels.Columns;
        for (int li = 0; li < widths.Length; li++)
        {
            int width = widths[li];
            double[] u = SplitMixStream.Uniform(seed + (ulong)li, fanIn * width);
            double scale = Math.Sqrt(6.0 / fanIn);
            var w = new double[fanIn * width];
            for (int t = 0; t < w.Length; t++)
                w[t] = (2.0 * u[t] - 1.0) * scale;
            var next = new double[n * width];
            bool relu = li < widths.Length - 1;
            int inWidth = fanIn;
            double[] input = current;
            Parallel.For(0, n, i =>
            {
                Span<double> row = next.AsSpan(i * width, width);
                for (int c = 0; c < inWidth; c++)
                {
                    double xv = input[i * inWidth + c];
                    if (xv == 0)
                        continue;
                    ReadOnlySpan<double> wr = w.AsSpan(c * width, width);
                    for (int o = 0; o < width; o++)
                        row[o] += xv * wr[o];
                }
                if (relu)
                    for (int o = 0; o < width; o++)
                        row[o] = Math.Max(row[o], 0.0);
            });
            layers.Add(new DenseMatrix(Array.ConvertAll(next, v => (float)v), n, width));
            current = next;
            fanIn = width;
        }
        return layers.ToArray();
    }
}

/// <summary>The committed figures from reference/umap_reference.json.</summary>
internal static class ReferenceFigures
{
    private static readonly Lazy<JsonDocument> Document = new(() =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "reference", "umap_reference.json"))));

    public static JsonElement Root => Document.Value.RootElement;

    public static double Number(params string[] path)
    {
        JsonElement e = Root;
        foreach (string p in path)
            e = e.GetProperty(p);
        return e.GetDouble();
    }

    public static double[] Numbers(params string[] path)
    {
        JsonElement e = Root;
        foreach (string p in path)
            e = e.GetProperty(p);
        return e.EnumerateArray().Select(v => v.GetDouble()).ToArray();
    }
}
