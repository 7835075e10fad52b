// PngEncoder: writes 8-bit PNGs (gray, gray+alpha, RGB, RGBA) so adversarial images can be saved
// losslessly. Each row gets the filter with the smallest sum of absolute values (libpng's heuristic),
// then zlib compression from System.IO.Compression.

using System.Buffers.Binary;
using System.IO.Compression;

namespace AdvVis.Data;

/// <summary>Encodes <see cref="Image"/> as PNG.</summary>
public static class PngEncoder
{
    private const int MaxIdatChunk = 1 << 20;

    public static byte[] Encode(Image image, CompressionLevel level = CompressionLevel.Optimal)
    {
        using var output = new MemoryStream();
        Write(image, output, level);
        return output.ToArray();
    }

    public static void Save(Image image, string path, CompressionLevel level = CompressionLevel.Optimal)
    {
        using var file = File.Create(path);
        Write(image, file, level);
    }

    public static void Write(Image image, Stream output, CompressionLevel level = CompressionLevel.Optimal)
    {
        ArgumentNullException.ThrowIfNull(image);
        output.Write(PngDecoder.Signature);

        Span<byte> ihdr = stackalloc byte[13];
        BinaryPrimitives.WriteUInt32BigEndian(ihdr, (uint)image.Width);
        BinaryPrimitives.WriteUInt32BigEndian(ihdr[4..], (uint)image.Height);
        ihdr[8] = 8; // bit depth
        ihdr[9] = image.Channels switch { 1 => 0, 2 => 4, 3 => 2, _ => 6 };
        ihdr[10] = 0; ihdr[11] = 0; ihdr[12] = 0; // deflate, adaptive filtering, no interlace
        WriteChunk(output, "IHDR"u8, ihdr);

        byte[] compressed = CompressRows(image, level);
        for (int offset = 0; offset < compressed.Length; offset += MaxIdatChunk)
            WriteChunk(output, "IDAT"u8, compressed.AsSpan(offset, Math.Min(MaxIdatChunk, compressed.Length - offset)));
        WriteChunk(output, "IEND"u8, ReadOnlySpan<byte>.Empty);
    }

    private static byte[] CompressRows(Image image, CompressionLevel level)
    {
        int bpp = image.Channels, rowBytes = image.Width * bpp;
        using var buffer = new MemoryStream();
        using (var zlib = new ZLibStream(buffer, level, leaveOpen: true))
        {
            var candidates = new byte[5][];
            for (int f = 0; f < 5; f++) candidates[f] = new byte[rowBytes + 1];
            ReadOnlySpan<byte> previous = ReadOnlySpan<byte>.Empty;
            for (int y = 0; y < image.Height; y++)
            {
                ReadOnlySpan<byte> row = image.Pixels.AsSpan(y * rowBytes, rowBytes);
                int best = 0;
                long bestScore = long.MaxValue;
                for (int filter = 0; filter < 5; filter++)
                {
                    long score = ApplyFilter(filter, row, previous, bpp, candidates[filter]);
                    if (score < bestScore) { bestScore = score; best = filter; }
                }
                zlib.Write(candidates[best]);
                previous = row;
            }
        }
        return buffer.ToArray();
    }

    /// <summary>Filters one row into dest (type byte first) and returns the sum of |signed residuals|.</summary>
    private static long ApplyFilter(int filter, ReadOnlySpan<byte> row, ReadOnlySpan<byte> previous, int bpp, byte[] dest)
    {
        dest[0] = (byte)filter;
        bool hasPrevious = !previous.IsEmpty;
        long score = 0;
        for (int i = 0; i < row.Length; i++)
        {
            int a = i >= bpp ? row[i - bpp] : 0;
            int b = hasPrevious ? previous[i] : 0;
            int c = hasPrevious && i >= bpp ? previous[i - bpp] : 0;
            int predictor = filter switch
            {
                0 => 0,
                1 => a,
                2 => b,
                3 => (a + b) >> 1,
                _ => Paeth(a, b, c),
            };
            byte residual = (byte)(row[i] - predictor);
            dest[i + 1] = residual;
            score += residual < 128 ? residual : 256 - residual;
        }
        return score;
    }

    private static int Paeth(int a, int b, int c)
    {
        int p = a + b - c, pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }

    private static void WriteChunk(Stream output, ReadOnlySpan<byte> type, ReadOnlySpan<byte> body)
    {
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(word, (uint)body.Length);
        output.Write(word);
        output.Write(type);
        output.Write(body);
        uint crc = Crc32.Update(Crc32.Update(0xFFFFFFFFu, type), body) ^ 0xFFFFFFFFu;
        BinaryPrimitives.WriteUInt32BigEndian(word, crc);
        output.Write(word);
    }
}
