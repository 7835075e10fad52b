// ImageDecodeOptions: knobs shared by all decoders. The defaults are safe for untrusted files: a corrupt
// header cannot make a decoder allocate more than MaxPixels worth of memory.

using AdvVis.Safety;

namespace AdvVis.Data;

/// <summary>Options for <see cref="ImageDecoder"/>.</summary>
public sealed record ImageDecodeOptions
{
    /// <summary>Default options: EXIF orientation applied, 2^27 pixels at most, 65535 per side.</summary>
    public static ImageDecodeOptions Default { get; } = new();

    /// <summary>
    /// Largest accepted width × height: 2^27 (134 million, e.g. 16384×8192), above any camera's photos, while a
    /// 1 MB PNG claiming 16384² (2^28) is refused before it costs gigabytes. Images are downscaled to 4096 px anyway.
    /// </summary>
    public long MaxPixels { get; init; } = 1L << 27;

    /// <summary>What decoding costs at peak per pixel: the decoder's working rows or planes, the image, its RGB copy.</summary>
    public const int PeakBytesPerPixel = 12;

    /// <summary>Largest accepted width or height (JPEG's own limit is 65535).</summary>
    public int MaxSide { get; init; } = 65535;

    /// <summary>Rotate/flip JPEGs according to their EXIF orientation tag, as photo viewers do.</summary>
    public bool ApplyExifOrientation { get; init; } = true;

    /// <summary>Throws a clear error when a header declares dimensions beyond the limits.</summary>
    internal void CheckDimensions(string format, long width, long height)
    {
        if (width <= 0 || height <= 0)
            throw new ImageFormatException(
                $"{format} header declares an empty image ({width}×{height}); the file is corrupt. Re-export it.");
        if (width > MaxSide || height > MaxSide || width * height > MaxPixels)
            throw new ImageFormatException(
                $"{format} header declares {width}×{height} pixels, above the limit of {MaxSide} per side and " +
                $"{MaxPixels} pixels in total; the file is corrupt or too large. Downscale it before loading.");
        MemoryBudget.Check(width * height * PeakBytesPerPixel,
            $"decoding a {format} image of {width}×{height} pixels (about {PeakBytesPerPixel} bytes per pixel)");
    }
}
