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
    ulong Seed = 42,
    bool Quality = false,
    int BundleBins = 8,
    int? Epochs = null);

public sealed record LayerProfile(string Layer, ArrayData Background, ArrayData? Foreground, ArrayData? ForegroundAdversarial,
    ArrayData Histograms, double? Trustworthiness, int Features, float Min, float Max);

public sealed record ProfilePair(int Foreground, LayerDivergence[] Layers, DivergingPoint? DivergingPoint, double Jump);

public sealed record ProfileBundle(int Pair, int Label, int Count, float From, float To, float FromSpread, float ToSpread);

public sealed record ProfileSpine(int Label, int Count, float[] Q1, float[] Median, float[] Q3);

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
    bool FromCache,
    int[] ColourLabels,
    int[]? ForegroundPredicted,
    int[]? ForegroundAdversarialPredicted,
    ProfilePair[]? Pairs,
    ProfileBundle[] Bundles,
    ProfileSpine[] Spines);

public enum ReductionKind { Mean, Max, Difference, Direct }

public enum UnitValueKind { Max, SumAbs }

public sealed record LayerReduceParams(string Model, string Layer, ItemsRef Items, ReductionKind Reduction = ReductionKind.Mean,
    int? I = null, int? J = null, UnitValueKind UnitValue = UnitValueKind.Max, int TopK = 20);

public sealed record LayerReduceResult(string Layer, int[] LayerShape, int UnitCount, ArrayData Values, UnitScore[] Top);

public enum MapFormat { Png, Float32, Both }

public sealed record LayerActivationMapsParams(string Model, string Layer, string Item, int[] Units, MapFormat Format = MapFormat.Both);

public sealed record UnitMap(int Unit, int Height, int Width, float Min, float Max, ArrayData? Values, ImageData? Image);

public sealed record LayerActivationMapsResult(string Layer, UnitMap[] Maps);

public enum ImageParameterization { Fourier, Pixel }

/// <summary>Defaults are Lucid's readable recipe (Fourier, colour decorrelation, jitter ±8, scale ±10%, rotation ±10°, 256 steps).</summary>
public sealed record UnitVisualizeParams(string Model, string Layer, int Unit, int Steps = 256, double LearningRate = 0.05, int Jitter = 8,
    double ScaleJitter = 0.1, double RotateDegrees = 10, bool Decorrelate = true, ImageParameterization Parameterization = ImageParameterization.Fourier,
    double L2 = 0, double TotalVariation = 0, int BlurEvery = 0, double InitialNoise = 0.1, ulong Seed = 0);

public sealed record UnitVisualizeResult(ImageData Image, float Activation, float StartActivation, float[] Trace, bool FromCache);

public sealed record UnitConnectionsParams(string Model, string Layer, int Unit, int TopK = 10, string? Item = null);

public sealed record Connection(string Layer, int Unit, float Weight, float? Contribution);

public sealed record UnitConnectionsResult(string? PreviousLayer, Connection[] Previous, string? NextLayer, Connection[] Next,
    string? PreviousWeighted, string? NextWeighted, Connection[]? PreviousByContribution, Connection[]? NextByContribution, string? Note);
