// Image: a decoded 8-bit raster (interleaved HWC bytes) plus the small set of geometric and tensor helpers
// the attack pipeline needs: channel conversion, float CHW tensors, bilinear (antialiased) resize,
// resize-shorter-side and centre crop with torchvision's conventions.

namespace AdvVis.Data;

/// <summary>
/// An 8-bit image stored row-major, channels interleaved (HWC). Channels: 1 = gray, 2 = gray+alpha,
/// 3 = RGB, 4 = RGBA. Decoders return 1 or 3 channels unless the file carries transparency.
/// </summary>
public sealed class Image
{
    public int Width { get; }
    public int Height { get; }
    public int Channels { get; }

    /// <summary>Pixel bytes, length Width*Height*Channels, index ((y*Width)+x)*Channels + c.</summary>
    public byte[] Pixels { get; }

    public Image(int width, int height, int channels, byte[]? pixels = null)
    {
        if (width <= 0 || height <= 0)
            throw new ArgumentOutOfRangeException(nameof(width), $"Image size must be positive, got {width}×{height}.");
        if (channels is < 1 or > 4)
            throw new ArgumentOutOfRangeException(nameof(channels), $"Channels must be 1–4, got {channels}.");
        long length = (long)width * height * channels;
        if (length > Array.MaxLength)
            throw new ArgumentOutOfRangeException(nameof(width), $"{width}×{height}×{channels} is too large for one array.");
        if (pixels is not null && pixels.Length != length)
            throw new ArgumentException($"Expected {length} pixel bytes for {width}×{height}×{channels}, got {pixels.Length}.", nameof(pixels));
        Width = width;
        Height = height;
        Channels = channels;
        Pixels = pixels ?? new byte[length];
    }

    public bool HasAlpha => Channels is 2 or 4;
    public bool IsGray => Channels is 1 or 2;

    public byte this[int x, int y, int channel]
    {
        get => Pixels[((y * Width) + x) * Channels + channel];
        set => Pixels[((y * Width) + x) * Channels + channel] = value;
    }

    public override string ToString() => $"Image {Width}×{Height}×{Channels}";

    // ---------------------------------------------------------------- channel conversion

    /// <summary>3-channel RGB view: gray is replicated, alpha dropped (not composited). Returns this when already RGB.</summary>
    public Image ToRgb()
    {
        if (Channels == 3) return this;
        var result = new Image(Width, Height, 3);
        byte[] src = Pixels, dst = result.Pixels;
        int pixelCount = Width * Height;
        for (int i = 0; i < pixelCount; i++)
        {
            int s = i * Channels, d = i * 3;
            if (Channels <= 2)
            {
                dst[d] = dst[d + 1] = dst[d + 2] = src[s];
            }
            else
            {
                dst[d] = src[s]; dst[d + 1] = src[s + 1]; dst[d + 2] = src[s + 2];
            }
        }
        return result;
    }

    /// <summary>1-channel luma (ITU-R 601, the same fixed-point weights as PIL's "L"). Returns this when already gray.</summary>
    public Image ToGray()
    {
        if (Channels == 1) return this;
        var result = new Image(Width, Height, 1);
        byte[] src = Pixels, dst = result.Pixels;
        int pixelCount = Width * Height;
        for (int i = 0; i < pixelCount; i++)
        {
            int s = i * Channels;
            dst[i] = Channels <= 2
                ? src[s]
                : (byte)((src[s] * 19595 + src[s + 1] * 38470 + src[s + 2] * 7471 + 0x8000) >> 16);
        }
        return result;
    }

    /// <summary>Converts to the requested channel count (1 = gray, 3 = RGB), as models expect.</summary>
    public Image ToChannels(int channels) => channels switch
    {
        1 => ToGray(),
        3 => ToRgb(),
        _ => throw new ArgumentOutOfRangeException(nameof(channels), "Only 1 (gray) or 3 (RGB) channels can be requested."),
    };

    public Image Clone() => new(Width, Height, Channels, (byte[])Pixels.Clone());

    // ---------------------------------------------------------------- tensors

    /// <summary>
    /// Planar float tensor [C,H,W]: value*scale, then optionally (v - mean[c]) / std[c].
    /// Typical use: ToFloatChw(1/255f, ImageNetMean, ImageNetStd) on an RGB image.
    /// </summary>
    public float[] ToFloatChw(float scale = 1f / 255f, float[]? mean = null, float[]? std = null)
    {
        CheckNormalization(mean, std);
        int plane = Width * Height;
        var result = new float[plane * Channels];
        for (int c = 0; c < Channels; c++)
        {
            float m = mean?[c] ?? 0f, s = std?[c] ?? 1f;
            for (int i = 0; i < plane; i++)
                result[c * plane + i] = (Pixels[i * Channels + c] * scale - m) / s;
        }
        return result;
    }

    /// <summary>Interleaved float tensor [H,W,C] with the same scaling/normalisation as <see cref="ToFloatChw"/>.</summary>
    public float[] ToFloatHwc(float scale = 1f / 255f, float[]? mean = null, float[]? std = null)
    {
        CheckNormalization(mean, std);
        var result = new float[Pixels.Length];
        for (int i = 0; i < Pixels.Length; i++)
        {
            int c = i % Channels;
            result[i] = (Pixels[i] * scale - (mean?[c] ?? 0f)) / (std?[c] ?? 1f);
        }
        return result;
    }

    /// <summary>Inverse of ToFloatChw without normalisation: bytes = round(value*scale) clamped to 0..255.</summary>
    public static Image FromFloatChw(ReadOnlySpan<float> chw, int channels, int height, int width, float scale = 255f)
    {
        var image = new Image(width, height, channels);
        int plane = width * height;
        if (chw.Length != plane * channels)
            throw new ArgumentException($"Expected {plane * channels} floats for [{channels},{height},{width}], got {chw.Length}.", nameof(chw));
        for (int c = 0; c < channels; c++)
            for (int i = 0; i < plane; i++)
                image.Pixels[i * channels + c] = ClampToByte(chw[c * plane + i] * scale);
        return image;
    }

    private void CheckNormalization(float[]? mean, float[]? std)
    {
        if (mean is not null && mean.Length != Channels)
            throw new ArgumentException($"mean has {mean.Length} entries but the image has {Channels} channels.", nameof(mean));
        if (std is not null && std.Length != Channels)
            throw new ArgumentException($"std has {std.Length} entries but the image has {Channels} channels.", nameof(std));
    }

    internal static byte ClampToByte(float value)
    {
        if (float.IsNaN(value)) return 0;
        float rounded = MathF.Round(value, MidpointRounding.AwayFromZero);
        return rounded <= 0 ? (byte)0 : rounded >= 255 ? (byte)255 : (byte)rounded;
    }

    // ---------------------------------------------------------------- geometry

    /// <summary>Copies the rectangle [x, x+width) × [y, y+height), which must lie inside the image.</summary>
    public Image Crop(int x, int y, int width, int height)
    {
        if (x < 0 || y < 0 || width <= 0 || height <= 0 || x + width > Width || y + height > Height)
            throw new ArgumentOutOfRangeException(nameof(x), $"Crop {width}×{height} at ({x},{y}) does not fit in {Width}×{Height}.");
        var result = new Image(width, height, Channels);
        int rowBytes = width * Channels;
        for (int row = 0; row < height; row++)
            Array.Copy(Pixels, ((y + row) * Width + x) * Channels, result.Pixels, row * rowBytes, rowBytes);
        return result;
    }

    /// <summary>Centre crop with torchvision's offsets: round((size - crop)/2), ties to even.</summary>
    public Image CenterCrop(int width, int height)
    {
        if (width > Width || height > Height)
            throw new ArgumentOutOfRangeException(nameof(width), $"Centre crop {width}×{height} is larger than the image {Width}×{Height}; resize first.");
        int left = (int)Math.Round((Width - width) / 2.0, MidpointRounding.ToEven);
        int top = (int)Math.Round((Height - height) / 2.0, MidpointRounding.ToEven);
        return Crop(left, top, width, height);
    }

    /// <summary>
    /// Resizes so the shorter side equals <paramref name="size"/>, keeping the aspect ratio; the longer side
    /// is truncated like torchvision's Resize(int) (the usual "resize 256, crop 224" preprocessing).
    /// </summary>
    public Image ResizeShorterSide(int size, bool antialias = true)
    {
        if (size <= 0) throw new ArgumentOutOfRangeException(nameof(size), "Target size must be positive.");
        if (Width <= Height)
            return Resize(size, Math.Max(1, (int)((long)size * Height / Width)), antialias);
        return Resize(Math.Max(1, (int)((long)size * Width / Height)), size, antialias);
    }

    /// <summary>
    /// Bilinear resize with pixel centres at +0.5 (align_corners = false). With <paramref name="antialias"/>
    /// the triangle filter is widened when downscaling, so small outputs don't alias. The arithmetic follows
    /// PIL's Image.resize(BILINEAR) (22-bit fixed-point weights, horizontal pass first, 8-bit intermediate),
    /// so torchvision-on-PIL preprocessing is reproduced exactly.
    /// </summary>
    public Image Resize(int width, int height, bool antialias = true)
    {
        if (width <= 0 || height <= 0)
            throw new ArgumentOutOfRangeException(nameof(width), $"Resize target must be positive, got {width}×{height}.");
        if (width == Width && height == Height) return Clone();

        int channels = Channels;
        Image horizontalPass = this;
        if (width != Width)
        {
            var weights = ResampleWeights.Compute(Width, width, antialias);
            horizontalPass = new Image(width, Height, channels);
            byte[] src = Pixels, dst = horizontalPass.Pixels;
            for (int y = 0; y < Height; y++)
            {
                int srcRow = y * Width * channels, dstRow = y * width * channels;
                for (int x = 0; x < width; x++)
                {
                    int start = weights.Start[x], count = weights.Count[x], wOffset = x * weights.MaxTaps;
                    for (int c = 0; c < channels; c++)
                    {
                        int sum = ResampleWeights.Half;
                        for (int t = 0; t < count; t++)
                            sum += weights.Weights[wOffset + t] * src[srcRow + (start + t) * channels + c];
                        dst[dstRow + x * channels + c] = ResampleWeights.ToByte(sum);
                    }
                }
            }
        }
        if (height == Height) return horizontalPass;

        var vertical = ResampleWeights.Compute(Height, height, antialias);
        var result = new Image(width, height, channels);
        byte[] source = horizontalPass.Pixels;
        int rowLength = width * channels;
        for (int y = 0; y < height; y++)
        {
            int start = vertical.Start[y], count = vertical.Count[y], wOffset = y * vertical.MaxTaps;
            int dstRow = y * rowLength;
            for (int i = 0; i < rowLength; i++)
            {
                int sum = ResampleWeights.Half;
                for (int t = 0; t < count; t++)
                    sum += vertical.Weights[wOffset + t] * source[(start + t) * rowLength + i];
                result.Pixels[dstRow + i] = ResampleWeights.ToByte(sum);
            }
        }
        return result;
    }

    /// <summary>Applies an EXIF orientation (1–8) so the result displays upright.</summary>
    public Image ApplyExifOrientation(int orientation)
    {
        if (orientation is < 2 or > 8) return this;
        bool swap = orientation >= 5;
        int outW = swap ? Height : Width, outH = swap ? Width : Height;
        var result = new Image(outW, outH, Channels);
        int w = Width, h = Height;
        for (int y = 0; y < outH; y++)
        {
            for (int x = 0; x < outW; x++)
            {
                (int sx, int sy) = orientation switch
                {
                    2 => (w - 1 - x, y),          // mirrored horizontally
                    3 => (w - 1 - x, h - 1 - y),  // rotated 180°
                    4 => (x, h - 1 - y),          // mirrored vertically
                    5 => (y, x),                  // transposed
                    6 => (y, h - 1 - x),          // needs 90° clockwise
                    7 => (w - 1 - y, h - 1 - x),  // transversed
                    _ => (w - 1 - y, x),          // 8: needs 90° counter-clockwise
                };
                Array.Copy(Pixels, (sy * w + sx) * Channels, result.Pixels, (y * outW + x) * Channels, Channels);
            }
        }
        return result;
    }

    /// <summary>Per-output-sample filter taps for one axis of a separable resize, in 22-bit fixed point (as PIL).</summary>
    private sealed class ResampleWeights
    {
        private const int PrecisionBits = 22;
        public const int Half = 1 << (PrecisionBits - 1);

        public required int[] Start { get; init; }
        public required int[] Count { get; init; }
        public required int[] Weights { get; init; }
        public required int MaxTaps { get; init; }

        public static byte ToByte(int fixedPoint)
        {
            int value = fixedPoint >> PrecisionBits;
            return value < 0 ? (byte)0 : value > 255 ? (byte)255 : (byte)value;
        }

        public static ResampleWeights Compute(int inSize, int outSize, bool antialias)
        {
            double scale = (double)inSize / outSize;
            double filterScale = antialias ? Math.Max(scale, 1.0) : 1.0;
            double support = filterScale; // triangle filter has radius 1, widened by filterScale
            int maxTaps = (int)Math.Ceiling(support) * 2 + 1;
            var start = new int[outSize];
            var count = new int[outSize];
            var weights = new int[outSize * maxTaps];
            var raw = new double[maxTaps];
            for (int i = 0; i < outSize; i++)
            {
                double center = (i + 0.5) * scale;
                int lo = Math.Max(0, (int)(center - support + 0.5));
                int hi = Math.Min(inSize, (int)(center + support + 0.5));
                int n = Math.Min(hi - lo, maxTaps);
                double total = 0;
                for (int t = 0; t < n; t++)
                {
                    double distance = Math.Abs((lo + t + 0.5 - center) / filterScale);
                    raw[t] = distance < 1 ? 1 - distance : 0;
                    total += raw[t];
                }
                if (total <= 0)
                {   // can only happen at extreme ratios: fall back to the nearest sample
                    lo = Math.Clamp((int)center, 0, inSize - 1); n = 1; raw[0] = total = 1;
                }
                start[i] = lo;
                count[i] = n;
                for (int t = 0; t < n; t++)
                    weights[i * maxTaps + t] = (int)(raw[t] / total * (1 << PrecisionBits) + 0.5);
            }
            return new ResampleWeights { Start = start, Count = count, Weights = weights, MaxTaps = maxTaps };
        }
    }
}
