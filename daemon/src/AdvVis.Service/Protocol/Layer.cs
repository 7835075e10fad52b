// profiles/compute, layer/*, unit/*: the Activation Profiles views (Flow View, Layer View).
namespace AdvVis.Service.Protocol;

public enum LabelSource { True, Predicted }

public sealed record ProfilesComputeParams(
    string Model,
    string[] Layers,
    ItemsRef Background,
    string[]? Foreground = null,
    AttackSpec? Attack = null,
    int Components = 1,
    LabelSource LabelBy = LabelSource.True,
    int Bins = 20,
    int Neighbors = 15,
    double MinDist = 0.1,
    ulong Seed = 42);

public sealed record LayerProfile(string Layer, ArrayData Background, ArrayData? Foreground, ArrayData? ForegroundAdversarial,
    ArrayData Histograms, double Trustworthiness);

public sealed record ProfilesComputeResult(
    string[] Layers,
    int BackgroundCount,
    int[] BackgroundLabels,
    int[] BackgroundPredicted,
    string[] ClassNames,
    LayerProfile[] Profiles,
    double[] Alignment,
    ArrayData Fingerprints,
    LayerDivergence[]? Divergence,
    DivergingPoint? DivergingPoint,
    bool FromCache);

public enum ReductionKind { Mean, Max, Difference, Direct }

public enum UnitValueKind { Max, SumAbs }

public sealed record LayerReduceParams(string Model, string Layer, ItemsRef Items, ReductionKind Reduction = ReductionKind.Mean,
    int? I = null, int? J = null, UnitValueKind UnitValue = UnitValueKind.Max, int TopK = 20);

public sealed record LayerReduceResult(string Layer, int[] LayerShape, int UnitCount, ArrayData Values, UnitScore[] Top);

public enum MapFormat { Png, Float32, Both }

public sealed record LayerActivationMapsParams(string Model, string Layer, string Item, int[] Units, MapFormat Format = MapFormat.Both);

public sealed record UnitMap(int Unit, int Height, int Width, float Min, float Max, ArrayData? Values, ImageData? Image);

public sealed record LayerActivationMapsResult(string Layer, UnitMap[] Maps);

public sealed record UnitVisualizeParams(string Model, string Layer, int Unit, int Steps = 256, float LearningRate = 0.05f, int? Size = null,
    int Jitter = 8, float ScaleJitter = 0.1f, float RotateDegrees = 10f, bool Decorrelate = true, ulong Seed = 0);

public sealed record UnitVisualizeResult(ImageData Image, float Activation, float[] Trace, bool FromCache);

public sealed record UnitConnectionsParams(string Model, string Layer, int Unit, int TopK = 10, string? Item = null);

public sealed record Connection(string Layer, int Unit, float Weight, float? Contribution);

public sealed record UnitConnectionsResult(string? PreviousLayer, Connection[] Previous, string? NextLayer, Connection[] Next);
