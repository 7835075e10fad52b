// Payloads: large results leave as base64 little-endian float32 or base64 PNG, or, above the inline limit, as files in
// the cache folder referenced by path; never as JSON number arrays.
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using AdvVis.Data;
using AdvVis.Safety;
using AdvVis.Service.Protocol;

namespace AdvVis.Service.Cache;

public static class Payloads
{
    public static ArrayData Array(ReadOnlySpan<float> values, int[] shape, BlobWriter blobs, int inlineLimitBytes)
    {
        byte[] bytes = ToLittleEndian(values);
        if (bytes.Length > inlineLimitBytes && blobs.CanWrite) return new ArrayData(shape, Path: blobs.Write(".f32", bytes));
        return new ArrayData(shape, Base64: Convert.ToBase64String(bytes));
    }

    public static ImageData Png(Image image, BlobWriter blobs, int inlineLimitBytes)
    {
        byte[] png = PngEncoder.Encode(image, System.IO.Compression.CompressionLevel.Fastest);
        if (png.Length > inlineLimitBytes && blobs.CanWrite) return new ImageData(image.Width, image.Height, image.Channels, Path: blobs.Write(".png", png));
        return new ImageData(image.Width, image.Height, image.Channels, PngBase64: Convert.ToBase64String(png));
    }

    public static byte[] ToLittleEndian(ReadOnlySpan<float> values)
    {
        var bytes = new byte[values.Length * 4];
        if (BitConverter.IsLittleEndian) MemoryMarshal.AsBytes(values).CopyTo(bytes);
        else for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), values[i]);
        return bytes;
    }

    /// <summary>
    /// Reads an ArrayData the client sent into floats, checking the shape: base64, or by path a file in the cache folder
    /// (an array a daemon result referenced). Any other path is refused without reading it, so no file outside the cache
    /// can be copied out or measured through this.
    /// </summary>
    public static float[] Read(ArrayData array, ConfinedFolder? cache)
    {
        if (array.Dtype != "float32") throw new JsonRpc.JsonRpcException(JsonRpc.JsonRpcErrorCodes.InvalidParams, $"array dtype '{array.Dtype}' is not supported; use float32.");
        byte[] bytes = array.Base64 is not null ? Convert.FromBase64String(array.Base64)
            : array.Path is not null ? SafeFiles.ReadAllBytes(CacheFile(array.Path, cache), "array.path")
            : throw new JsonRpc.JsonRpcException(JsonRpc.JsonRpcErrorCodes.InvalidParams, "array needs base64 or path.");
        long count = array.Shape.Aggregate(1L, (a, d) => d < 0 ? -1 : a * d);
        if (count < 0 || count * 4 != bytes.Length)
            throw new JsonRpc.JsonRpcException(JsonRpc.JsonRpcErrorCodes.InvalidParams, $"array of shape [{string.Join(",", array.Shape)}] needs {count * 4} bytes, got {bytes.Length}.");
        var values = new float[count];
        for (int i = 0; i < values.Length; i++) values[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(i * 4));
        return values;
    }

    private static string CacheFile(string path, ConfinedFolder? cache)
    {
        if (cache is null)
            throw new JsonRpc.JsonRpcException(AdvVisErrorCodes.PathNotAllowed, $"array.path '{path}' cannot be read: only files in the cache folder may be named by path, and no cache folder is configured. Send the array as base64.");
        try { return cache.RequireFile(path, "array.path"); }
        catch (UnsafeFileException e) { throw new JsonRpc.JsonRpcException(AdvVisErrorCodes.PathNotAllowed, e.Message + " Send the array as base64."); }
    }
}
