// vulnerability/map, unit/receptiveFields, neurons/*, attribution/graph: Li et al.'s neuron space and MASSIF/Bluff.
namespace AdvVis.Service.Protocol;

public sealed record VulnerabilityMapParams(string Model, string Image, AttackSpec? Attack = null, string? Adversarial = null,
    int HalfSize = 2, int Stride = 1, double TopPercent = 20, string? Layer = null);

public sealed record VulnerabilityMapResult(int Height, int Width, int BenignClass, int AdversarialClass, ArrayData BMap, ArrayData AMap,
    ImageData BMask, ImageData AMask, bool FromCache, string? AdversarialPath = null);

public sealed record ReceptiveFieldsParams(string Model, string Layer, int[] Units, string Image, double Threshold = 0.5, string? Adversarial = null,
    int HalfSize = 2, int Stride = 1, double TopPercent = 20);

public sealed record UnitReceptiveField(int Unit, ImageData Mask, double Coverage, double? Iou);

public sealed record ReceptiveFieldsResult(string Layer, UnitReceptiveField[] Fields);

public enum RankBy { BandGap, CurveGap, Iou }

public sealed record NeuronsRankParams(string Model, ItemsRef Items, AttackSpec Attack, string? Layer = null, RankBy By = RankBy.BandGap,
    int? BenignClass = null, int? AdversarialClass = null, double Confidence = 0.95, int TopK = 20);

public sealed record RankedUnit(int Unit, double BandGap, double CurveGap, double? Iou);

public sealed record NeuronsRankResult(string Layer, int BenignClass, int AdversarialClass, RankedUnit[] Units, ArrayData BenignMean,
    ArrayData BenignBand, ArrayData AdversarialMean, ArrayData AdversarialBand, bool FromCache, int UnitCount, int BenignCount, int AdversarialCount,
    double SuccessRate);

public enum ClusterMetric { L2, Iou, Activation }

public enum ClusterLinkage { Single, Average, Complete, Ward }

public sealed record NeuronsClusterParams(string Model, string Layer, string[] Images, int[]? Units = null, ClusterMetric Metric = ClusterMetric.L2,
    ClusterLinkage Linkage = ClusterLinkage.Average, double Threshold = 0.5);

public sealed record ClusterMerge(int Left, int Right, double Distance, int Size);

public sealed record NeuronsClusterResult(int[] Units, ClusterMerge[] Merges, int[] LeafOrder);

public enum UnitGroup { Suppressed, Emphasized, Shared, Inactive }

public sealed record AttributionGraphParams(string Model, ItemsRef Items, int BenignClass, int TargetClass, AttackSpec Attack,
    string[]? Layers = null, int TopUnits = 10, int TopEdges = 3, double GroupThreshold = 0.5, float[]? EpsSweep = null);

public sealed record AttributionUnit(int Unit, double BenignImportance, double AdversarialImportance, UnitGroup Group, float? VulnerableAtEps,
    double RelativeChange);

public sealed record AttributionLayer(string Layer, AttributionUnit[] Units);

public sealed record AttributionEdge(string FromLayer, int FromUnit, string ToLayer, int ToUnit, double Influence, double BenignInfluence,
    double AdversarialInfluence);

public sealed record AttributionGraphResult(AttributionLayer[] Layers, AttributionEdge[] Edges, bool FromCache, int ImageCount, double SuccessRate,
    float[]? SweepEps, double[]? SweepSuccessRate);

public sealed record NeuronDeletion(string Layer, int[] Units);

public sealed record NeuronsEditParams(string Model, NeuronDeletion[] Deletions, ItemsRef? Items = null, AttackSpec? Attack = null);

public sealed record EditMeasure(double CleanAccuracy, double? SuccessRate);

/// <param name="Count">How many images the edit was measured on (0 without items).</param>
/// <param name="UnitsDeleted">How many distinct units the deletion set removes.</param>
/// <param name="LabelsPredicted">The items had no labels, so accuracy is agreement with the original model's predictions.</param>
public sealed record NeuronsEditResult(NeuronDeletion[] Edits, int Count, EditMeasure? Before, EditMeasure? After, int UnitsDeleted, bool LabelsPredicted);
