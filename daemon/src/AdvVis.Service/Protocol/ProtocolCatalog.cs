// The method table of the AdvVis protocol: names, params and result types, ordering and progress. The daemon
// registers exactly these (AdvVisService checks it at startup) and ProtocolDocTests compares them with
// docs/protocol.md, so the document, the DTOs and the handlers cannot drift apart silently.
namespace AdvVis.Service.Protocol;

/// <summary>One method: <paramref name="Params"/> null means it takes none; <paramref name="Progress"/>: reports $/progress when given a workDoneToken.</summary>
public sealed record ProtocolMethod(string Name, Type? Params, Type Result, bool Mutates, bool Progress, bool Cached);

public static class ProtocolCatalog
{
    public static IReadOnlyList<ProtocolMethod> Methods { get; } =
    [
        new("workspace/configure", typeof(WorkspaceConfigureParams), typeof(WorkspaceConfigureResult), Mutates: true, Progress: false, Cached: false),
        new("cache/stats", null, typeof(CacheStatsResult), Mutates: false, Progress: false, Cached: false),
        new("cache/clear", null, typeof(CacheClearResult), Mutates: true, Progress: false, Cached: false),
        new("model/open", typeof(ModelOpenParams), typeof(ModelInfo), Mutates: true, Progress: false, Cached: false),
        new("model/close", typeof(ModelRefParams), typeof(ModelCloseResult), Mutates: true, Progress: false, Cached: false),
        new("model/list", null, typeof(ModelListResult), Mutates: false, Progress: false, Cached: false),
        new("model/graph", typeof(ModelGraphParams), typeof(ModelGraphResult), Mutates: false, Progress: false, Cached: false),
        new("model/predict", typeof(ModelPredictParams), typeof(ModelPredictResult), Mutates: false, Progress: true, Cached: false),
        new("attack/run", typeof(AttackRunParams), typeof(AttackRunResult), Mutates: false, Progress: true, Cached: true),
        new("robustness/evaluate", typeof(RobustnessEvaluateParams), typeof(RobustnessEvaluateResult), Mutates: false, Progress: true, Cached: true),
        new("explain/run", typeof(ExplainRunParams), typeof(ExplainRunResult), Mutates: false, Progress: true, Cached: true),
        new("profiles/compute", typeof(ProfilesComputeParams), typeof(ProfilesComputeResult), Mutates: false, Progress: true, Cached: true),
        new("layer/reduce", typeof(LayerReduceParams), typeof(LayerReduceResult), Mutates: false, Progress: true, Cached: false),
        new("layer/activationMaps", typeof(LayerActivationMapsParams), typeof(LayerActivationMapsResult), Mutates: false, Progress: false, Cached: false),
        new("unit/visualize", typeof(UnitVisualizeParams), typeof(UnitVisualizeResult), Mutates: false, Progress: true, Cached: true),
        new("unit/connections", typeof(UnitConnectionsParams), typeof(UnitConnectionsResult), Mutates: false, Progress: false, Cached: false),
        new("unit/receptiveFields", typeof(ReceptiveFieldsParams), typeof(ReceptiveFieldsResult), Mutates: false, Progress: false, Cached: false),
        new("vulnerability/map", typeof(VulnerabilityMapParams), typeof(VulnerabilityMapResult), Mutates: false, Progress: true, Cached: true),
        new("neurons/rank", typeof(NeuronsRankParams), typeof(NeuronsRankResult), Mutates: false, Progress: true, Cached: true),
        new("neurons/cluster", typeof(NeuronsClusterParams), typeof(NeuronsClusterResult), Mutates: false, Progress: false, Cached: false),
        new("attribution/graph", typeof(AttributionGraphParams), typeof(AttributionGraphResult), Mutates: false, Progress: true, Cached: true),
        new("neurons/edit", typeof(NeuronsEditParams), typeof(NeuronsEditResult), Mutates: true, Progress: true, Cached: false),
        new("export/write", typeof(ExportWriteParams), typeof(ExportWriteResult), Mutates: true, Progress: false, Cached: false),
    ];

    /// <summary>Every protocol record and enum reachable from the methods' params and results.</summary>
    public static IReadOnlyList<Type> Types()
    {
        var seen = new List<Type>();
        void Visit(Type? type)
        {
            if (type is null) return;
            type = Nullable.GetUnderlyingType(type) ?? type;
            if (type.IsArray) { Visit(type.GetElementType()); return; }
            if (type.Namespace != typeof(ProtocolCatalog).Namespace || seen.Contains(type)) return;
            seen.Add(type);
            if (type.IsEnum) return;
            foreach (var property in type.GetProperties()) Visit(property.PropertyType);
        }
        foreach (var method in Methods) { Visit(method.Params); Visit(method.Result); }
        return seen;
    }
}

/// <summary>Error codes of the AdvVis methods (besides the JSON-RPC and LSP ones in JsonRpcErrorCodes).</summary>
public static class AdvVisErrorCodes
{
    /// <summary>The model handle is unknown (never opened, closed, or the daemon restarted): call model/open again.</summary>
    public const int ModelNotOpen = -32001;

    /// <summary>A file the client named is missing, unreadable, or not a valid image/tensor/model/dataset.</summary>
    public const int BadInput = -32002;

    /// <summary>A path lies outside the folders the daemon may write (cache, export).</summary>
    public const int PathNotAllowed = -32003;

    /// <summary>The method needs a folder workspace/configure has not set (cache or export).</summary>
    public const int NotConfigured = -32004;

    /// <summary>model/open was given a sha256 that the file no longer has.</summary>
    public const int ModelChanged = -32005;

    /// <summary>The analysis behind the method is not available in this build.</summary>
    public const int NotImplemented = -32006;

    /// <summary>The model cannot run the request (unsupported operator, wrong input kind, unknown layer or unit).</summary>
    public const int Unsupported = -32007;

    /// <summary>A tensor, image, array or frame the request needs is larger than the memory budget (message names it).</summary>
    public const int OverBudget = -32008;
}
