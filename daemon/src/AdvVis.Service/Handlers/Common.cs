// Helpers shared by the handlers: cached execution with progress, predictions from scores, and parameter checks.
using System.Text.Json;
using AdvVis.Engine;
using AdvVis.Service.Cache;
using AdvVis.Service.Daemon;
using AdvVis.Service.JsonRpc;
using AdvVis.Service.Protocol;

namespace AdvVis.Service.Handlers;

internal static class Common
{
    /// <summary>
    /// Serves <paramref name="method"/> from the cache when an identical request (same model content, item contents and
    /// params) was answered before; otherwise computes, stores atomically, and returns. Cancellation before the store
    /// leaves nothing behind (companion files are only referenced once the entry is renamed into place).
    /// </summary>
    public static T Cached<T>(Registrar r, RequestContext context, string method, string modelSha, object parameters, string itemsFingerprint,
        Func<BlobWriter, T> compute, Func<T, T> markFromCache)
    {
        var options = CacheOptions(r.Endpoint.SerializerOptions);
        string key = ResultCache.Key(method, modelSha, itemsFingerprint, JsonSerializer.Serialize(parameters, parameters.GetType(), options),
            r.State.InlineLimitBytes.ToString(System.Globalization.CultureInfo.InvariantCulture));
        if (r.State.Cache.TryGet<T>(key, options, out var hit) && hit is not null)
        {
            r.State.Logger.Debug($"{method}: served from cache entry {key[..16]}");
            return markFromCache(hit);
        }
        var blobs = r.State.Cache.Blobs(key);
        T result = compute(blobs);
        context.CancellationToken.ThrowIfCancellationRequested();
        r.State.Cache.Put(key, result, blobs, options);
        return result;
    }

    private static JsonSerializerOptions? _cacheOptions;

    /// <summary>The wire settings, minus strict binding (stored results omit nulls, which strict binding would reject).</summary>
    private static JsonSerializerOptions CacheOptions(JsonSerializerOptions wire) =>
        _cacheOptions ??= new JsonSerializerOptions(wire) { RespectRequiredConstructorParameters = false, RespectNullableAnnotations = false };

    /// <summary>Blobs for a non-cached result (large arrays still leave by path when a cache folder exists).</summary>
    public static BlobWriter TransientBlobs(Registrar r) => r.State.Cache.Blobs(ResultCache.Key("transient", Guid.NewGuid().ToString("N")));

    public static bool LooksLikeProbabilities(ReadOnlySpan<float> row)
    {
        double sum = 0;
        foreach (var v in row) { if (v < 0) return false; sum += v; }
        return Math.Abs(sum - 1) < 1e-3;
    }

    public static float[] Softmax(ReadOnlySpan<float> logits)
    {
        float max = float.NegativeInfinity;
        foreach (var v in logits) max = Math.Max(max, v);
        var e = new double[logits.Length];
        double sum = 0;
        for (int i = 0; i < logits.Length; i++) sum += e[i] = Math.Exp(logits[i] - max);
        return e.Select(v => (float)(v / sum)).ToArray();
    }

    public static Prediction Predict(ReadOnlySpan<float> probabilities, IReadOnlyList<string>? labels)
    {
        var p = probabilities.ToArray();
        var top = Enumerable.Range(0, p.Length).OrderByDescending(i => p[i]).ThenBy(i => i).Take(5)
            .Select(i => new ClassScore(i, Label(labels, i), p[i])).ToArray();
        return new Prediction(top[0].Class, top[0].Label, top[0].Probability, top);
    }

    public static string? Label(IReadOnlyList<string>? labels, int index) => labels is not null && index >= 0 && index < labels.Count ? labels[index] : null;

    /// <summary>Probabilities per item from a model output [N, ...]: softmax unless the model already outputs a distribution.</summary>
    public static float[][] Probabilities(Tensor output)
    {
        int n = output.Shape[0], classes = output.Length / Math.Max(n, 1);
        var result = new float[n][];
        for (int b = 0; b < n; b++)
        {
            var row = output.Data.AsSpan(b * classes, classes);
            result[b] = LooksLikeProbabilities(row) ? row.ToArray() : Softmax(row);
        }
        return result;
    }

    public static void Require(bool condition, string message)
    {
        if (!condition) throw new JsonRpcException(JsonRpcErrorCodes.InvalidParams, message);
    }

    public static JsonRpcException NotImplemented(string method, string what) =>
        new(AdvVisErrorCodes.NotImplemented, $"{method} is not available in this build: {what}");
}
