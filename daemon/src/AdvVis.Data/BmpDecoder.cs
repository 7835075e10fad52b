// BmpDecoder: Windows bitmaps with BITMAPCOREHEADER / BITMAPINFOHEADER and the V2–V5 extensions:
// 1/4/8-bit palettes, 16/24/32-bit direct colour (BI_RGB and BI_BITFIELDS), bottom-up and top-down.
// RLE-compressed and embedded JPEG/PNG bitmaps are rejected with a clear message.

using System.Buffers.Binary;
using System.Numerics;

namespace AdvVis.Data;

internal static class BmpDecoder
{
    private const int BiRgb = 0, BiBitfields = 3, BiAlphaBitfields = 6;

    public static Image Decode(ReadOnlySpan<byte> data, ImageDecodeOptions options)
    {
        if (data.Length < 26 || data[0] != 'B' || data[1] != 'M')
            throw new ImageFormatException("BMP file is truncated inside its header. Re-download or re-export it.");
        uint pixelOffset = BinaryPrimitives.ReadUInt32LittleEndian(data[10..]);
        uint headerSize = BinaryPrimitives.ReadUInt32LittleEndian(data[14..]);
        if (headerSize is not (12 or 40 or 52 or 56 or 64 or 108 or 124))
            throw new ImageFormatException($"BMP info header has unsupported size {headerSize}; the file is corrupt or an unusual variant. Re-export it as PNG.");
        if (data.Length < 14 + headerSize)
            throw new ImageFormatException("BMP file is truncated inside its info header. Re-download or re-export it.");
        ReadOnlySpan<byte> info = data.Slice(14, (int)headerSize);

        long width, height;
        int bitsPerPixel, compression = BiRgb, paletteEntrySize;
        uint colorsUsed = 0;
        if (headerSize == 12)
        {
            width = BinaryPrimitives.ReadUInt16LittleEndian(info[4..]);
            height = BinaryPrimitives.ReadInt16LittleEndian(info[6..]);
            bitsPerPixel = BinaryPrimitives.ReadUInt16LittleEndian(info[10..]);
            paletteEntrySize = 3;
        }
        else
        {
            width = BinaryPrimitives.ReadInt32LittleEndian(info[4..]);
            height = BinaryPrimitives.ReadInt32LittleEndian(info[8..]);
            bitsPerPixel = BinaryPrimitives.ReadUInt16LittleEndian(info[14..]);
            compression = (int)BinaryPrimitives.ReadUInt32LittleEndian(info[16..]);
            colorsUsed = BinaryPrimitives.ReadUInt32LittleEndian(info[32..]);
            paletteEntrySize = 4;
        }
        bool topDown = height < 0;
        height = Math.Abs(height);
        options.CheckDimensions("BMP", width, height);

        if (compression is 1 or 2)
            throw new ImageFormatException("BMP uses RLE compression, which AdvVis does not read. Re-export it uncompressed or as PNG.");
        if (compression is 4 or 5)
            throw new ImageFormatException("BMP wraps an embedded JPEG/PNG, which AdvVis does not read. Save the embedded image directly.");
        if (compression is not (BiRgb or BiBitfields or BiAlphaBitfields))
            throw new ImageFormatException($"BMP uses unknown compression {compression}; the file is corrupt.");
        if (bitsPerPixel is not (1 or 4 or 8 or 16 or 24 or 32))
            throw new ImageFormatException($"BMP has unsupported bit depth {bitsPerPixel}; the file is corrupt. Re-export it as PNG.");

        // Channel masks: defaults for BI_RGB, otherwise from the header or the 12/16 bytes after a 40-byte header.
        uint redMask = 0, greenMask = 0, blueMask = 0, alphaMask = 0;
        int afterHeader = 14 + (int)headerSize;
        if (compression is BiBitfields or BiAlphaBitfields)
        {
            if (bitsPerPixel is not (16 or 32))
                throw new ImageFormatException($"BMP bitfields need 16 or 32 bits per pixel, not {bitsPerPixel}; the file is corrupt.");
            ReadOnlySpan<byte> masks;
            if (headerSize >= 52) masks = info[40..];
            else
            {
                int maskBytes = compression == BiAlphaBitfields ? 16 : 12;
                if (data.Length < afterHeader + maskBytes)
                    throw new ImageFormatException("BMP file is truncated inside its colour masks.");
                masks = data.Slice(afterHeader, maskBytes);
                afterHeader += maskBytes;
            }
            redMask = BinaryPrimitives.ReadUInt32LittleEndian(masks);
            greenMask = BinaryPrimitives.ReadUInt32LittleEndian(masks[4..]);
            blueMask = BinaryPrimitives.ReadUInt32LittleEndian(masks[8..]);
            if (masks.Length >= 16 && (headerSize >= 56 || compression == BiAlphaBitfields))
                alphaMask = BinaryPrimitives.ReadUInt32LittleEndian(masks[12..]);
        }
        else if (bitsPerPixel == 16)
        {
            (redMask, greenMask, blueMask) = (0x7C00, 0x03E0, 0x001F); // X1R5G5B5
        }
        else if (bitsPerPixel is 24 or 32)
        {
            (redMask, greenMask, blueMask) = (0x00FF0000, 0x0000FF00, 0x000000FF); // 32-bit BI_RGB: top byte unused
        }

        byte[]? palette = null;
        if (bitsPerPixel <= 8)
        {
            int maxColors = 1 << bitsPerPixel;
            int count = colorsUsed == 0 || colorsUsed > maxColors ? maxColors : (int)colorsUsed;
            int available = (int)Math.Min((long)count, Math.Max(0, (Math.Min(pixelOffset, (uint)data.Length) - afterHeader) / paletteEntrySize));
            if (available <= 0)
                throw new ImageFormatException("BMP palette is missing or truncated; the file is corrupt.");
            palette = new byte[maxColors * 3]; // indices past the palette read as black
            for (int i = 0; i < available; i++)
            {
                int p = afterHeader + i * paletteEntrySize;
                palette[i * 3] = data[p + 2]; palette[i * 3 + 1] = data[p + 1]; palette[i * 3 + 2] = data[p];
            }
        }

        long stride = (width * bitsPerPixel + 31) / 32 * 4;
        long needed = pixelOffset + stride * (height - 1) + (width * bitsPerPixel + 7) / 8;
        if (pixelOffset < 14 + headerSize || needed > data.Length)
            throw new ImageFormatException(
                $"BMP declares {width}×{height} pixels at {bitsPerPixel} bits but the file holds only {data.Length} bytes; it is truncated. Re-download or re-export it.");

        int w = (int)width, h = (int)height;
        bool grayPalette = palette is not null && IsGray(palette);
        bool hasAlpha = alphaMask != 0;
        int channels = grayPalette ? 1 : hasAlpha ? 4 : 3;
        var image = new Image(w, h, channels);
        byte[] output = image.Pixels;
        var red = new MaskScaler(redMask);
        var green = new MaskScaler(greenMask);
        var blue = new MaskScaler(blueMask);
        var alpha = new MaskScaler(alphaMask);
        bool anyAlpha = false;

        for (int row = 0; row < h; row++)
        {
            int y = topDown ? row : h - 1 - row;
            ReadOnlySpan<byte> src = data.Slice((int)(pixelOffset + row * stride));
            int outIndex = y * w * channels;
            for (int x = 0; x < w; x++, outIndex += channels)
            {
                if (palette is not null)
                {
                    int bit = x * bitsPerPixel;
                    int index = (src[bit >> 3] >> (8 - bitsPerPixel - (bit & 7))) & ((1 << bitsPerPixel) - 1);
                    output[outIndex] = palette[index * 3];
                    if (!grayPalette) { output[outIndex + 1] = palette[index * 3 + 1]; output[outIndex + 2] = palette[index * 3 + 2]; }
                    continue;
                }
                if (bitsPerPixel == 24)
                {
                    output[outIndex] = src[x * 3 + 2]; output[outIndex + 1] = src[x * 3 + 1]; output[outIndex + 2] = src[x * 3];
                    continue;
                }
                uint value = bitsPerPixel == 16
                    ? BinaryPrimitives.ReadUInt16LittleEndian(src[(x * 2)..])
                    : BinaryPrimitives.ReadUInt32LittleEndian(src[(x * 4)..]);
                output[outIndex] = red.Extract(value);
                output[outIndex + 1] = green.Extract(value);
                output[outIndex + 2] = blue.Extract(value);
                if (hasAlpha)
                {
                    output[outIndex + 3] = alpha.Extract(value);
                    anyAlpha |= output[outIndex + 3] != 0;
                }
            }
        }
        // Many writers declare an alpha mask but leave it all zero; treat that as opaque, not invisible.
        if (hasAlpha && !anyAlpha) return image.ToRgb();
        return image;
    }

    private static bool IsGray(byte[] palette)
    {
        for (int i = 0; i < palette.Length; i += 3)
            if (palette[i] != palette[i + 1] || palette[i] != palette[i + 2]) return false;
        return true;
    }

    /// <summary>Pulls one channel out of a packed pixel and scales it to 0..255.</summary>
    private readonly struct MaskScaler
    {
        private readonly uint _mask;
        private readonly int _shift;
        private readonly uint _max;

        public MaskScaler(uint mask)
        {
            _mask = mask;
            _shift = mask == 0 ? 0 : BitOperations.TrailingZeroCount(mask);
            _max = mask == 0 ? 0 : mask >> _shift;
        }

        public byte Extract(uint value)
        {
            if (_max == 0) return 0;
            ulong v = (value & _mask) >> _shift;
            return (byte)((v * 255 + _max / 2) / _max);
        }
    }
}
