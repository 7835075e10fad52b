// IdxReader: the IDX format of MNIST and Fashion-MNIST (big-endian magic 00 00 <type> <rank>, big-endian
// dimensions, then data), plain or gzip-compressed (detected from the gzip magic, not the file name).

using System.Buffers.Binary;
using System.IO.Compression;
using AdvVis.Safety;

namespace AdvVis.Data;

/// <summary>Reads IDX files and MNIST-style image/label pairs.</summary>
public static class IdxReader
{
    public static readonly IReadOnlyList<string> MnistClassNames = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];

    public static readonly IReadOnlyList<string> FashionMnistClassNames =
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    /// <summary>Reads one IDX file (gzip or not) as an array with the file's shape and element type.</summary>
    public static NpyArray Read(string path)
    {
        byte[] bytes = SafeFiles.ReadAllBytes(path, "IDX file");
        try
        {
            return Parse(bytes);
        }
        catch (DataFormatException e)
        {
            throw e.WithFile(path);
        }
        catch (MemoryBudgetExceededException e)
        {
            throw e.Within($"'{path}'");
        }
    }

    public static NpyArray Parse(ReadOnlySpan<byte> data)
    {
        if (data.Length >= 2 && data[0] == 0x1F && data[1] == 0x8B)
            return ParseRaw(Gunzip(data));
        return ParseRaw(data);
    }

    /// <summary>
    /// Loads an image file ([N,H,W] uint8) and a label file ([N]) as a set, e.g. t10k-images-idx3-ubyte.gz
    /// with t10k-labels-idx1-ubyte.gz. Class names default to the digits.
    /// </summary>
    public static LabeledImageSet LoadImagesAndLabels(string imagesPath, string labelsPath, IReadOnlyList<string>? classNames = null)
    {
        var images = Read(imagesPath);
        var labels = Read(labelsPath);
        if (images.Rank != 3 || images.DType != NpyDType.UInt8)
            throw new DataFormatException($"Expected uint8 images of shape [N,H,W], found {images.DType} ({string.Join(", ", images.Shape)}). Is this the labels file?", imagesPath);
        if (labels.Rank != 1)
            throw new DataFormatException($"Expected labels of shape [N], found ({string.Join(", ", labels.Shape)}). Is this the images file?", labelsPath);
        if (labels.Shape[0] != images.Shape[0])
            throw new DataFormatException($"{labels.Shape[0]} labels do not match {images.Shape[0]} images in {Path.GetFileName(imagesPath)}; the files belong to different sets.", labelsPath);
        var set = LabeledImageSet.FromArrays(images, labels, classNames ?? MnistClassNames, Path.GetFileName(imagesPath));
        return set;
    }

    private static byte[] Gunzip(ReadOnlySpan<byte> data)
    {
        try
        {
            using var input = new MemoryStream(data.ToArray());
            using var gzip = new GZipStream(input, CompressionMode.Decompress);
            using var output = new MemoryStream();
            // Deflate can expand at most ~1032:1; stop a corrupt or hostile stream from growing without bound.
            long limit = (long)data.Length * 1032 + 4096;
            var buffer = new byte[81920];
            var budget = MemoryBudget.Current;
            int read;
            while ((read = gzip.Read(buffer, 0, buffer.Length)) > 0)
            {
                if (output.Length + read > limit || output.Length + read > Array.MaxLength)
                    throw new DataFormatException("gzip data expands beyond any plausible size; the file is corrupt.");
                // The inflated bytes are held twice (the stream and its copy), then parsed: a 10 MB .gz may claim 10 GB.
                budget.EnsureFits(2 * (output.Length + read), "inflating the gzip-compressed IDX data");
                output.Write(buffer, 0, read);
            }
            return output.ToArray();
        }
        catch (Exception e) when (e is InvalidDataException or IOException) // zlib also throws ZLibException (an IOException)
        {
            throw new DataFormatException($"gzip data is corrupt or truncated ({e.Message}). Re-download the file.", null, e);
        }
    }

    private static NpyArray ParseRaw(ReadOnlySpan<byte> data)
    {
        if (data.Length < 4 || data[0] != 0 || data[1] != 0)
            throw new DataFormatException("Not an IDX file (the first two bytes must be zero). Expected MNIST-style *-ubyte or *-ubyte.gz.");
        int typeCode = data[2], rank = data[3];
        (NpyDType type, int size) = typeCode switch
        {
            0x08 => (NpyDType.UInt8, 1),
            0x09 => (NpyDType.Int8, 1),
            0x0B => (NpyDType.Int16, 2),
            0x0C => (NpyDType.Int32, 4),
            0x0D => (NpyDType.Float32, 4),
            0x0E => (NpyDType.Float64, 8),
            _ => throw new DataFormatException($"IDX element type 0x{typeCode:X2} is not defined; the file is corrupt."),
        };
        if (rank == 0 || data.Length < 4 + 4 * rank)
            throw new DataFormatException("IDX header is truncated or declares no dimensions.");
        var shape = new int[rank];
        long count = 1;
        for (int i = 0; i < rank; i++)
        {
            uint dimension = BinaryPrimitives.ReadUInt32BigEndian(data[(4 + 4 * i)..]);
            if (dimension > int.MaxValue) throw new DataFormatException($"IDX dimension {i} is {dimension}; the file is corrupt.");
            shape[i] = (int)dimension;
            count *= dimension;
            if (count > Array.MaxLength) throw new DataFormatException("IDX dimensions are absurdly large; the file is corrupt.");
        }
        int start = 4 + 4 * rank;
        if (data.Length - start < count * size)
            throw new DataFormatException(
                $"IDX data is truncated: shape ({string.Join(", ", shape)}) needs {count * size} bytes, the file has {data.Length - start}. Re-download it.");
        var array = NpyArray.Allocate(type, (int)count);
        byte[] raw = data.Slice(start, (int)(count * size)).ToArray();
        if (size > 1 && BitConverter.IsLittleEndian)
            for (int i = 0; i < raw.Length; i += size) Array.Reverse(raw, i, size); // IDX is big-endian
        Buffer.BlockCopy(raw, 0, array, 0, raw.Length);
        return new NpyArray(array, shape);
    }
}
