// workspace/configure and cache/*: where the daemon may write, and the result cache's bounds.
namespace AdvVis.Service.Protocol;

public sealed record WorkspaceConfigureParams(
    string? WorkspaceRoot = null,
    string? CacheDir = null,
    string? ExportDir = null,
    long? CacheMaxBytes = null,
    int? InlineLimitBytes = null,
    long? MemoryBudgetBytes = null);

public sealed record WorkspaceConfigureResult(string? CacheDir, string? ExportDir, long CacheMaxBytes, int InlineLimitBytes, long MemoryBudgetBytes);

public sealed record CacheStatsResult(string? CacheDir, int Entries, long Bytes, long MaxBytes, long Hits, long Misses);

public sealed record CacheClearResult(int RemovedEntries, long RemovedBytes);
