// cache/stats and cache/clear over the on-disk result cache.
using AdvVis.Service.Daemon;
using AdvVis.Service.Protocol;

namespace AdvVis.Service.Handlers;

internal static class CacheHandlers
{
    public static void Register(Registrar r)
    {
        var cache = r.State.Cache;
        r.Add("cache/stats", _ =>
        {
            var (entries, bytes) = cache.Stats();
            return new CacheStatsResult(cache.Directory, entries, bytes, cache.MaxBytes, cache.Hits, cache.Misses);
        });
        r.Add("cache/clear", _ =>
        {
            var (entries, bytes) = cache.Clear();
            return new CacheClearResult(entries, bytes);
        });
    }
}
