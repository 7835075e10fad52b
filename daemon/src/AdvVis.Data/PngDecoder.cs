// PngDecoder: a complete PNG reader (ISO/IEC 15948): every colour type, bit depths 1–16, Adam7
// interlacing, all five row filters, PLTE/tRNS, CRC verification of every chunk. Output is 8-bit
// (16-bit samples are rounded, low bit depths are scaled to 0..255); tRNS becomes an alpha channel.

using System.Buffers.Binary;
using System.IO.Compression;

namespace AdvVis.Data;

internal static class PngDecoder
{
    internal static ReadOnlySpan<byte> Signature => [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    private const int ColorGray = 0, ColorRgb = 2, ColorPalette = 3, ColorGrayAlpha = 4, ColorRgba = 6;

    // Adam7 passes: x start, y start, x step, y step.
    private static readonly (int X0, int Y0, int DX, int DY)[] Adam7Passes =
    [
        (0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2),
    ];

    /// <summary>Everything the pixel conversion needs to know about the stream.</summary>
    private sealed class Header
    {
        public int Width, Height, BitDepth, ColorType;
        public bool Interlaced;
        public byte[]? Palette;          // RGB triples
        public byte[]? PaletteAlpha;     // per-entry alpha from tRNS (missing entries are opaque)
        public int[]? TransparentColor;  // gray (1 value) or RGB (3 values) at the file's bit depth

        public int SamplesPerPixel => ColorType switch { ColorGray => 1, ColorRgb => 3, ColorPalette => 1, ColorGrayAlpha => 2, _ => 4 };
        public int BitsPerPixel => SamplesPerPixel * BitDepth;

        public int OutputChannels => ColorType switch
        {
            ColorGray => TransparentColor is null ? 1 : 2,
            ColorRgb => TransparentColor is null ? 3 : 4,
            ColorPalette => PaletteAlpha is null ? 3 : 4,
            ColorGrayAlpha => 2,
            _ => 4,
        };
    }

    public static Image Decode(ReadOnlySpan<byte> data, ImageDecodeOptions options)
    {
        if (data.Length < 8 || !data[..8].SequenceEqual(Signature))
            throw new ImageFormatException("Not a PNG file (missing PNG signature).");

        Header? header = null;
        var compressed = new MemoryStream();
        bool sawIdat = false, idatFinished = false;
        int pos = 8;
        while (true)
        {
            if (pos == data.Length)
            {
                if (sawIdat) break; // tolerate a missing IEND when the image data itself is complete
                throw new ImageFormatException("PNG file ends before any image data (IDAT); it is truncated. Re-download or re-export it.");
            }
            if (data.Length - pos < 12)
                throw new ImageFormatException($"PNG file is truncated inside a chunk header at byte {pos}. Re-download or re-export it.");
            uint length = BinaryPrimitives.ReadUInt32BigEndian(data[pos..]);
            ReadOnlySpan<byte> type = data.Slice(pos + 4, 4);
            string name = ChunkName(type);
            if (length > int.MaxValue || length > data.Length - pos - 12)
                throw new ImageFormatException($"PNG chunk '{name}' at byte {pos} declares {length} bytes but the file ends first; it is truncated. Re-download or re-export it.");
            ReadOnlySpan<byte> body = data.Slice(pos + 8, (int)length);
            uint storedCrc = BinaryPrimitives.ReadUInt32BigEndian(data[(pos + 8 + (int)length)..]);
            uint actualCrc = Crc32.Compute(data.Slice(pos + 4, (int)length + 4));
            if (storedCrc != actualCrc)
                throw new ImageFormatException($"PNG chunk '{name}' at byte {pos} fails its CRC check (stored {storedCrc:X8}, computed {actualCrc:X8}); the file is corrupt. Re-download or re-export it.");
            pos += 12 + (int)length;

            if (header is null && name != "IHDR")
                throw new ImageFormatException($"PNG file starts with chunk '{name}' instead of IHDR; the file is corrupt.");

            switch (name)
            {
                case "IHDR":
                    if (header is not null) throw new ImageFormatException("PNG file has two IHDR chunks; the file is corrupt.");
                    header = ParseHeader(body, options);
                    break;
                case "PLTE":
                    if (body.Length == 0 || body.Length % 3 != 0 || body.Length > 768)
                        throw new ImageFormatException($"PNG palette has invalid length {body.Length}; the file is corrupt.");
                    header!.Palette = body.ToArray();
                    break;
                case "tRNS":
                    ParseTransparency(header!, body);
                    break;
                case "IDAT":
                    if (idatFinished) throw new ImageFormatException("PNG image data (IDAT) chunks are not consecutive; the file is corrupt.");
                    sawIdat = true;
                    compressed.Write(body);
                    break;
                case "IEND":
                    goto chunksDone;
                default:
                    if (sawIdat) idatFinished = true;
                    // Critical chunks (upper-case first letter) change how pixels decode; unknown ones can't be skipped.
                    if ((type[0] & 0x20) == 0)
                        throw new ImageFormatException($"PNG file uses unknown critical chunk '{name}'; it cannot be decoded safely. Re-export it as a standard PNG.");
                    break;
            }
            if (name != "IDAT" && sawIdat) idatFinished = true;
        }
    chunksDone:
        if (header is null) throw new ImageFormatException("PNG file has no IHDR header; the file is corrupt.");
        if (!sawIdat) throw new ImageFormatException("PNG file has no image data (IDAT); the file is truncated or corrupt.");
        if (header.ColorType == ColorPalette && header.Palette is null)
            throw new ImageFormatException("Palette PNG has no PLTE chunk; the file is corrupt.");

        byte[] raw = Inflate(header, compressed);
        return Reconstruct(header, raw);
    }

    private static string ChunkName(ReadOnlySpan<byte> type)
    {
        Span<char> chars = stackalloc char[4];
        for (int i = 0; i < 4; i++)
            chars[i] = type[i] is >= (byte)'A' and <= (byte)'Z' or >= (byte)'a' and <= (byte)'z' ? (char)type[i] : '?';
        return new string(chars);
    }

    private static Header ParseHeader(ReadOnlySpan<byte> body, ImageDecodeOptions options)
    {
        if (body.Length != 13) throw new ImageFormatException($"PNG IHDR has length {body.Length}, expected 13; the file is corrupt.");
        uint width = BinaryPrimitives.ReadUInt32BigEndian(body);
        uint height = BinaryPrimitives.ReadUInt32BigEndian(body[4..]);
        options.CheckDimensions("PNG", width, height);
        int bitDepth = body[8], colorType = body[9];
        bool validDepth = colorType switch
        {
            ColorGray => bitDepth is 1 or 2 or 4 or 8 or 16,
            ColorPalette => bitDepth is 1 or 2 or 4 or 8,
            ColorRgb or ColorGrayAlpha or ColorRgba => bitDepth is 8 or 16,
            _ => false,
        };
        if (!validDepth)
            throw new ImageFormatException($"PNG IHDR has invalid colour type {colorType} with bit depth {bitDepth}; the file is corrupt.");
        if (body[10] != 0 || body[11] != 0)
            throw new ImageFormatException($"PNG uses unknown compression ({body[10]}) or filter method ({body[11]}); the file is corrupt.");
        if (body[12] > 1)
            throw new ImageFormatException($"PNG uses unknown interlace method {body[12]}; the file is corrupt.");
        return new Header
        {
            Width = (int)width, Height = (int)height, BitDepth = bitDepth, ColorType = colorType, Interlaced = body[12] == 1,
        };
    }

    private static void ParseTransparency(Header header, ReadOnlySpan<byte> body)
    {
        switch (header.ColorType)
        {
            case ColorPalette:
                if (body.Length > 256) throw new ImageFormatException("PNG tRNS chunk has more than 256 entries; the file is corrupt.");
                var alpha = new byte[256];
                alpha.AsSpan().Fill(255);
                body.CopyTo(alpha);
                header.PaletteAlpha = alpha;
                break;
            case ColorGray:
                if (body.Length != 2) throw new ImageFormatException("PNG tRNS chunk for a gray image must be 2 bytes; the file is corrupt.");
                header.TransparentColor = [BinaryPrimitives.ReadUInt16BigEndian(body)];
                break;
            case ColorRgb:
                if (body.Length != 6) throw new ImageFormatException("PNG tRNS chunk for an RGB image must be 6 bytes; the file is corrupt.");
                header.TransparentColor =
                [
                    BinaryPrimitives.ReadUInt16BigEndian(body), BinaryPrimitives.ReadUInt16BigEndian(body[2..]),
                    BinaryPrimitives.ReadUInt16BigEndian(body[4..]),
                ];
                break;
            // tRNS is not allowed with an alpha channel; ignore it as libpng does.
        }
    }

    private static IEnumerable<(int X0, int Y0, int DX, int DY, int Width, int Height)> Passes(Header header)
    {
        if (!header.Interlaced)
        {
            yield return (0, 0, 1, 1, header.Width, header.Height);
            yield break;
        }
        foreach (var (x0, y0, dx, dy) in Adam7Passes)
        {
            int w = (header.Width - x0 + dx - 1) / dx, h = (header.Height - y0 + dy - 1) / dy;
            if (w > 0 && h > 0) yield return (x0, y0, dx, dy, w, h); // empty passes have no bytes at all
        }
    }

    private static long RowBytes(Header header, int width) => ((long)width * header.BitsPerPixel + 7) / 8;

    private static byte[] Inflate(Header header, MemoryStream compressed)
    {
        long expected = 0;
        foreach (var pass in Passes(header))
            expected += pass.Height * (1 + RowBytes(header, pass.Width));
        // Deflate expands at most ~1032:1, so this rejects lying headers before the big allocation.
        if (expected > compressed.Length * 1032 + 1024)
            throw new ImageFormatException(
                $"PNG header declares {header.Width}×{header.Height} pixels but only {compressed.Length} bytes of compressed data follow; the file is truncated. Re-download or re-export it.");
        if (expected > Array.MaxLength)
            throw new ImageFormatException($"PNG image needs {expected} bytes of pixel data, more than one array can hold. Downscale it.");

        var raw = new byte[expected];
        compressed.Position = 0;
        int read;
        try
        {
            using var zlib = new ZLibStream(compressed, CompressionMode.Decompress);
            read = zlib.ReadAtLeast(raw, raw.Length, throwOnEndOfStream: false);
        }
        catch (Exception e) when (e is InvalidDataException or IOException) // zlib reports some corruption as ZLibException (an IOException)
        {
            throw new ImageFormatException($"PNG compressed image data is corrupt ({e.Message}). Re-download or re-export the file.", null, e);
        }
        if (read < raw.Length)
            throw new ImageFormatException(
                $"PNG image data ends early ({read} of {raw.Length} bytes after decompression); the file is truncated. Re-download or re-export it.");
        return raw;
    }

    private static Image Reconstruct(Header header, byte[] raw)
    {
        int channels = header.OutputChannels;
        var image = new Image(header.Width, header.Height, channels);
        int bytesPerPixelForFilter = Math.Max(1, header.BitsPerPixel / 8);
        int offset = 0;
        foreach (var (x0, y0, dx, dy, passWidth, passHeight) in Passes(header))
        {
            int rowBytes = (int)RowBytes(header, passWidth);
            int previousRow = -1;
            for (int row = 0; row < passHeight; row++)
            {
                int filter = raw[offset];
                int rowStart = offset + 1;
                Unfilter(filter, raw.AsSpan(rowStart, rowBytes),
                    previousRow < 0 ? ReadOnlySpan<byte>.Empty : raw.AsSpan(previousRow, rowBytes), bytesPerPixelForFilter);
                ConvertRow(header, raw.AsSpan(rowStart, rowBytes), passWidth, image, y0 + row * dy, x0, dx);
                previousRow = rowStart;
                offset = rowStart + rowBytes;
            }
        }
        return image;
    }

    /// <summary>Undoes one row's filter in place. <paramref name="previous"/> is empty for a pass's first row.</summary>
    private static void Unfilter(int filter, Span<byte> row, ReadOnlySpan<byte> previous, int bpp)
    {
        bool hasPrevious = !previous.IsEmpty;
        switch (filter)
        {
            case 0:
                break;
            case 1: // Sub
                for (int i = bpp; i < row.Length; i++) row[i] += row[i - bpp];
                break;
            case 2: // Up
                if (hasPrevious) for (int i = 0; i < row.Length; i++) row[i] += previous[i];
                break;
            case 3: // Average
                for (int i = 0; i < row.Length; i++)
                {
                    int left = i >= bpp ? row[i - bpp] : 0, up = hasPrevious ? previous[i] : 0;
                    row[i] += (byte)((left + up) >> 1);
                }
                break;
            case 4: // Paeth
                for (int i = 0; i < row.Length; i++)
                {
                    int a = i >= bpp ? row[i - bpp] : 0;
                    int b = hasPrevious ? previous[i] : 0;
                    int c = hasPrevious && i >= bpp ? previous[i - bpp] : 0;
                    int p = a + b - c, pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
                    row[i] += (byte)(pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
                }
                break;
            default:
                throw new ImageFormatException($"PNG row uses unknown filter type {filter}; the file is corrupt. Re-download or re-export it.");
        }
    }

    /// <summary>Converts one unfiltered row to 8-bit output pixels at x = x0, x0+dx, ... of output row y.</summary>
    private static void ConvertRow(Header header, ReadOnlySpan<byte> row, int count, Image image, int y, int x0, int dx)
    {
        int channels = image.Channels;
        byte[] output = image.Pixels;
        int outIndex = (y * image.Width + x0) * channels, outStep = dx * channels;

        // Fast path: 8-bit samples that map one-to-one to output channels.
        if (header.BitDepth == 8 && header.ColorType != ColorPalette && header.TransparentColor is null)
        {
            if (dx == 1) { row[..(count * channels)].CopyTo(output.AsSpan(outIndex)); return; }
            for (int i = 0; i < count; i++, outIndex += outStep)
                row.Slice(i * channels, channels).CopyTo(output.AsSpan(outIndex));
            return;
        }

        int depth = header.BitDepth, spp = header.SamplesPerPixel;
        int maxValue = (1 << depth) - 1;
        for (int i = 0; i < count; i++, outIndex += outStep)
        {
            if (header.ColorType == ColorPalette)
            {
                int index = ReadSample(row, i, depth);
                byte[] palette = header.Palette!;
                // Out-of-range indices are a common encoder bug; show them as black rather than failing.
                bool inRange = index * 3 + 2 < palette.Length;
                output[outIndex] = inRange ? palette[index * 3] : (byte)0;
                output[outIndex + 1] = inRange ? palette[index * 3 + 1] : (byte)0;
                output[outIndex + 2] = inRange ? palette[index * 3 + 2] : (byte)0;
                if (channels == 4) output[outIndex + 3] = header.PaletteAlpha![index];
                continue;
            }

            bool transparent = header.TransparentColor is not null;
            for (int s = 0; s < spp; s++)
            {
                int sample = ReadSample(row, i * spp + s, depth);
                if (transparent && sample != header.TransparentColor![s]) transparent = false;
                output[outIndex + s] = depth switch
                {
                    16 => (byte)((sample * 255 + 32895) >> 16), // round(sample / 257)
                    8 => (byte)sample,
                    _ => (byte)(sample * 255 / maxValue),       // 1/2/4-bit gray scales exactly
                };
            }
            if (header.TransparentColor is not null) output[outIndex + spp] = transparent ? (byte)0 : (byte)255;
        }
    }

    private static int ReadSample(ReadOnlySpan<byte> row, int sampleIndex, int depth)
    {
        switch (depth)
        {
            case 8: return row[sampleIndex];
            case 16: return (row[sampleIndex * 2] << 8) | row[sampleIndex * 2 + 1];
            default:
                int bit = sampleIndex * depth;
                int shift = 8 - depth - (bit & 7);
                return (row[bit >> 3] >> shift) & ((1 << depth) - 1);
        }
    }
}
