// PnmDecoder: Netpbm images: PBM (P1/P4), PGM (P2/P5) and PPM (P3/P6), ASCII and binary, maxval up to
// 65535 (16-bit samples are big-endian and rounded to 8-bit). Only the first image of a multi-image
// file is read.

namespace AdvVis.Data;

internal static class PnmDecoder
{
    internal static bool IsWhitespace(byte b) => b is (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\r' or 0x0B or 0x0C;

    public static Image Decode(ReadOnlySpan<byte> data, ImageDecodeOptions options)
    {
        if (data.Length < 3 || data[0] != 'P' || data[1] < '1' || data[1] > '6')
            throw new ImageFormatException("Not a PNM file (expected P1–P6 magic).");
        int kind = data[1] - '0';
        bool isBitmap = kind is 1 or 4, isAscii = kind <= 3;
        int channels = kind is 3 or 6 ? 3 : 1;
        int pos = 2;
        long width = ReadHeaderNumber(data, ref pos, "width");
        long height = ReadHeaderNumber(data, ref pos, "height");
        options.CheckDimensions("PNM", width, height);
        long maxValue = isBitmap ? 1 : ReadHeaderNumber(data, ref pos, "maxval");
        if (maxValue is < 1 or > 65535)
            throw new ImageFormatException($"PNM maxval {maxValue} is outside 1..65535; the file is corrupt.");

        int w = (int)width, h = (int)height;
        long sampleCount = width * height * channels;
        var image = new Image(w, h, channels);
        byte[] output = image.Pixels;

        if (isAscii)
        {
            // Each ASCII sample takes at least one byte (P1 digits may touch); reject lying headers before decoding.
            if (sampleCount > data.Length - pos)
                throw new ImageFormatException($"PNM header declares {width}×{height} but the file is far too short; it is truncated.");
            for (long i = 0; i < sampleCount; i++)
            {
                long value = isBitmap ? ReadBitmapDigit(data, ref pos) : ReadNumber(data, ref pos, "sample");
                if (value > maxValue)
                    throw new ImageFormatException($"PNM sample {value} exceeds maxval {maxValue}; the file is corrupt.");
                output[i] = isBitmap ? (value == 1 ? (byte)0 : (byte)255) : Scale(value, maxValue);
            }
            return image;
        }

        // Binary: exactly one whitespace byte separates the header from the raster.
        if (pos >= data.Length || !IsWhitespace(data[pos]))
            throw new ImageFormatException("PNM header is not followed by the required whitespace byte; the file is corrupt or truncated.");
        pos++;
        if (isBitmap)
        {
            int rowBytes = (w + 7) / 8;
            if ((long)rowBytes * h > data.Length - pos)
                throw new ImageFormatException($"PBM raster is truncated (needs {(long)rowBytes * h} bytes, has {data.Length - pos}). Re-export the file.");
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                    output[y * w + x] = ((data[pos + y * rowBytes + (x >> 3)] >> (7 - (x & 7))) & 1) == 1 ? (byte)0 : (byte)255; // 1 = black
            return image;
        }
        int bytesPerSample = maxValue < 256 ? 1 : 2;
        if (sampleCount * bytesPerSample > data.Length - pos)
            throw new ImageFormatException(
                $"PNM raster is truncated (needs {sampleCount * bytesPerSample} bytes, has {data.Length - pos}). Re-download or re-export the file.");
        for (int i = 0; i < sampleCount; i++)
        {
            int value = bytesPerSample == 1 ? data[pos + i] : (data[pos + 2 * i] << 8) | data[pos + 2 * i + 1];
            output[i] = value > maxValue ? (byte)255 : Scale(value, maxValue); // netpbm tolerates this on read too
        }
        return image;
    }

    private static byte Scale(long value, long maxValue) =>
        maxValue == 255 ? (byte)value : (byte)((value * 255 + maxValue / 2) / maxValue);

    private static void SkipWhitespaceAndComments(ReadOnlySpan<byte> data, ref int pos)
    {
        while (pos < data.Length)
        {
            if (IsWhitespace(data[pos])) pos++;
            else if (data[pos] == '#') { while (pos < data.Length && data[pos] != '\n' && data[pos] != '\r') pos++; }
            else break;
        }
    }

    private static long ReadHeaderNumber(ReadOnlySpan<byte> data, ref int pos, string what) => ReadNumber(data, ref pos, what);

    private static long ReadNumber(ReadOnlySpan<byte> data, ref int pos, string what)
    {
        SkipWhitespaceAndComments(data, ref pos);
        if (pos >= data.Length)
            throw new ImageFormatException($"PNM file ends while reading the {what}; it is truncated. Re-download or re-export it.");
        long value = 0;
        int start = pos;
        while (pos < data.Length && data[pos] >= '0' && data[pos] <= '9')
        {
            value = value * 10 + (data[pos] - '0');
            if (value > int.MaxValue) throw new ImageFormatException($"PNM {what} is absurdly large; the file is corrupt.");
            pos++;
        }
        if (pos == start)
            throw new ImageFormatException($"PNM {what} is not a number (byte 0x{data[pos]:X2} at offset {pos}); the file is corrupt.");
        return value;
    }

    private static long ReadBitmapDigit(ReadOnlySpan<byte> data, ref int pos)
    {
        SkipWhitespaceAndComments(data, ref pos);
        if (pos >= data.Length)
            throw new ImageFormatException("PBM file ends before all pixels were read; it is truncated.");
        byte b = data[pos++];
        if (b is not ((byte)'0' or (byte)'1'))
            throw new ImageFormatException($"PBM pixel must be 0 or 1, found byte 0x{b:X2} at offset {pos - 1}; the file is corrupt.");
        return b - '0';
    }
}
