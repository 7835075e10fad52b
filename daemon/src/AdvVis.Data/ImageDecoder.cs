// ImageDecoder: the single entry point for reading an image file. It picks the decoder from the file's
// magic bytes (never the extension, which users get wrong), applies the safety limits, and guarantees
// that malformed input surfaces as ImageFormatException naming the file.

using AdvVis.Safety;

namespace AdvVis.Data;

/// <summary>The container formats <see cref="ImageDecoder"/> recognises.</summary>
public enum ImageFileFormat
{
    Unknown,
    Png,
    Jpeg,
    Bmp,
    Pnm,
}

/// <summary>Decodes PNG, JPEG (baseline/progressive), BMP and PPM/PGM/PBM into <see cref="Image"/>.</summary>
public static class ImageDecoder
{
    /// <summary>Reads and decodes a file. I/O errors (missing file, permissions) propagate unchanged.</summary>
    public static Image Decode(string path, ImageDecodeOptions? options = null)
    {
        byte[] bytes = SafeFiles.ReadAllBytes(path, "Image file");
        try
        {
            return Decode(bytes, options);
        }
        catch (ImageFormatException e)
        {
            throw e.WithFile(path);
        }
        catch (Safety.MemoryBudgetExceededException e)
        {
            throw e.Within($"Image '{path}'");
        }
    }

    /// <summary>Decodes an in-memory file.</summary>
    public static Image Decode(ReadOnlySpan<byte> data, ImageDecodeOptions? options = null)
    {
        options ??= ImageDecodeOptions.Default;
        ImageFileFormat format = DetectFormat(data);
        try
        {
            return format switch
            {
                ImageFileFormat.Png => PngDecoder.Decode(data, options),
                ImageFileFormat.Jpeg => JpegDecoder.Decode(data, options),
                ImageFileFormat.Bmp => BmpDecoder.Decode(data, options),
                ImageFileFormat.Pnm => PnmDecoder.Decode(data, options),
                _ => throw new ImageFormatException(DescribeUnknown(data)),
            };
        }
        catch (ImageFormatException)
        {
            throw;
        }
        catch (Exception e) when (e is IndexOutOfRangeException or ArgumentException or InvalidDataException
                                      or OverflowException or IOException or NullReferenceException
                                      or InvalidOperationException)
        {
            // Safety net: a decoder bug on hostile input must still read as "bad file", with the cause attached.
            throw new ImageFormatException(
                $"{format} data is malformed and could not be decoded ({e.GetType().Name}: {e.Message}). " +
                "Re-export the image with a standard tool.", null, e);
        }
    }

    /// <summary>Identifies the format from the first bytes.</summary>
    public static ImageFileFormat DetectFormat(ReadOnlySpan<byte> data)
    {
        if (data.Length >= 8 && data[..8].SequenceEqual(PngDecoder.Signature)) return ImageFileFormat.Png;
        if (data.Length >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF) return ImageFileFormat.Jpeg;
        if (data.Length >= 2 && data[0] == 'B' && data[1] == 'M') return ImageFileFormat.Bmp;
        if (data.Length >= 3 && data[0] == 'P' && data[1] >= '1' && data[1] <= '6' && PnmDecoder.IsWhitespace(data[2]))
            return ImageFileFormat.Pnm;
        return ImageFileFormat.Unknown;
    }

    private static string DescribeUnknown(ReadOnlySpan<byte> data)
    {
        if (data.Length == 0) return "The file is empty. Check that it was copied completely.";
        string hint =
            data.StartsWith("GIF8"u8) ? "GIF" :
            data.Length >= 12 && data.StartsWith("RIFF"u8) && data[8..12].SequenceEqual("WEBP"u8) ? "WebP" :
            data.StartsWith("II*\0"u8) || data.StartsWith("MM\0*"u8) ? "TIFF" :
            data.Length >= 12 && data[4..12].SequenceEqual("ftypavif"u8) ? "AVIF" :
            data.Length >= 12 && data[4..8].SequenceEqual("ftyp"u8) ? "HEIF/HEIC" :
            (data.Length >= 6 && data[0] == 0x93 && data[1..6].SequenceEqual("NUMPY"u8)) ? "NumPy .npy" :
            data.StartsWith("PK"u8) ? "a ZIP archive (.npz?)" : "";
        string first = Convert.ToHexString(data[..Math.Min(8, data.Length)]);
        return hint.Length > 0
            ? $"This looks like {hint}, which is not an image format AdvVis reads. Convert it to PNG or JPEG."
            : $"Unrecognised image format (first bytes {first}). Supported: PNG, JPEG, BMP, PPM/PGM/PBM; convert the file to PNG.";
    }
}
