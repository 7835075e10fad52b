// ServiceState: the daemon's mutable state (folders it may write, the result cache, open models), shared by the
// handlers. Folder settings change only in mutating requests, which the endpoint runs alone, so readers see a stable
// snapshot without locks. Both folders are ConfinedFolders: a folder that is (or goes through) a link below the workspace
// root, or belongs to another user, is refused before anything is written or deleted in it.
using AdvVis.Safety;
using AdvVis.Service.Cache;
using AdvVis.Service.JsonRpc;
using AdvVis.Service.Protocol;

namespace AdvVis.Service.Daemon;

public sealed class ServiceState
{
    public const long DefaultCacheMaxBytes = 512L << 20;
    public const int DefaultInlineLimitBytes = 1 << 20;

    public ServiceState(RpcLogger logger)
    {
        Logger = logger;
        Models = new ModelStore();
        Cache = new ResultCache(logger);
    }

    public RpcLogger Logger { get; }

    public ModelStore Models { get; }

    public ResultCache Cache { get; }

    /// <summary>The export folder; null until workspace/configure names one.</summary>
    public ConfinedFolder? Export { get; private set; }

    public string? ExportDir => Export?.Path;

    /// <summary>The workspace root last configured; the cache and export folders' components below it must be real folders.</summary>
    public string? WorkspaceRoot { get; private set; }

    public int InlineLimitBytes { get; private set; } = DefaultInlineLimitBytes;

    /// <summary>What each request may allocate in one piece (AdvVis.Safety.MemoryBudget); `--memory-budget` or workspace/configure.</summary>
    public MemoryBudget MemoryBudget { get; private set; } = MemoryBudget.ProcessDefault;

    /// <summary>Checks every setting first and applies them together: a refused folder changes nothing.</summary>
    public void Configure(WorkspaceConfigureParams p)
    {
        string? root = p.WorkspaceRoot is null ? WorkspaceRoot : Path.GetFullPath(p.WorkspaceRoot);
        string? cache = p.CacheDir is not null ? Path.GetFullPath(p.CacheDir) : p.WorkspaceRoot is not null ? Path.Combine(root!, ".advvis", "cache") : null;
        string? export = p.ExportDir is not null ? Path.GetFullPath(p.ExportDir) : p.WorkspaceRoot is not null ? Path.Combine(root!, ".advvis", "export") : null;
        if (p.CacheMaxBytes is { } max && max < 0) throw new JsonRpcException(JsonRpcErrorCodes.InvalidParams, "cacheMaxBytes must not be negative.");
        if (p.InlineLimitBytes is { } inline && inline < 0) throw new JsonRpcException(JsonRpcErrorCodes.InvalidParams, "inlineLimitBytes must not be negative.");
        if (p.MemoryBudgetBytes is { } budget && budget <= 0) throw new JsonRpcException(JsonRpcErrorCodes.InvalidParams, "memoryBudgetBytes must be positive.");
        var cacheFolder = cache is null ? Cache.Folder : ConfinedFolder.Open(cache, "cache folder", root);
        var exportFolder = export is null ? Export : ConfinedFolder.Open(export, "export folder", root);
        WorkspaceRoot = root;
        Cache.Configure(cacheFolder, p.CacheMaxBytes ?? Cache.MaxBytes);
        Export = exportFolder;
        InlineLimitBytes = p.InlineLimitBytes ?? InlineLimitBytes;
        if (p.MemoryBudgetBytes is { } bytes) MemoryBudget = new MemoryBudget(bytes);
    }

    public WorkspaceConfigureResult Describe() => new(Cache.Directory, ExportDir, Cache.MaxBytes, InlineLimitBytes, MemoryBudget.Bytes);

    /// <summary>Resolves a client file name inside <paramref name="folder"/>; anything escaping it is refused.</summary>
    public static string InsideFolder(string folder, string relative, string what)
    {
        if (string.IsNullOrWhiteSpace(relative)) throw new JsonRpcException(JsonRpcErrorCodes.InvalidParams, $"{what} must not be empty.");
        if (Path.IsPathRooted(relative)) throw new JsonRpcException(AdvVisErrorCodes.PathNotAllowed, $"{what} '{relative}' must be relative to {folder}.");
        string root = Path.GetFullPath(folder);
        string full = Path.GetFullPath(Path.Combine(root, relative));
        string prefix = root.EndsWith(Path.DirectorySeparatorChar) ? root : root + Path.DirectorySeparatorChar;
        if (!full.StartsWith(prefix, SafeFiles.PathComparison))
            throw new JsonRpcException(AdvVisErrorCodes.PathNotAllowed, $"{what} '{relative}' leaves the folder {root}; only files inside it may be written.");
        return full;
    }
}
