// attack/run and explain/run: attacks on items and the one-image explanation pipeline.
namespace AdvVis.Service.Protocol;

public sealed record AttackRunParams(string Model, ItemsRef Items, AttackSpec Attack, bool PerImage = true, bool ReturnImages = false);

public sealed record AttackItem(
    string Source,
    int? TrueClass,
    Prediction Benign,
    Prediction Adversarial,
    bool Success,
    float Linf,
    float L2,
    float BenignProbabilityDrop,
    float AdversarialProbabilityGain,
    string? AdversarialPath,
    ImageData? AdversarialImage,
    ImageData? Perturbation);

public sealed record AttackRunResult(
    int Count,
    double CleanAccuracy,
    double AdversarialAccuracy,
    double SuccessRate,
    double MeanLinf,
    double MeanL2,
    string BudgetSpace,
    AttackItem[]? Items,
    bool FromCache,
    string[]? Warnings = null);

public sealed record ExplainRunParams(string Model, string Image, AttackSpec Attack, DatasetRef? Background = null, string[]? Layers = null,
    int TopUnits = 20, int? TrueClass = null);

public sealed record UnitScore(int Unit, float Value);

public sealed record LayerDivergence(string Layer, double Distance, double BackgroundSpread, double Score, UnitScore[] TopChangedUnits,
    double? ProfileDistance = null);

public sealed record DivergingPoint(string Layer, int LayerIndex, double Score);

public sealed record ExplainRunResult(
    Prediction Benign,
    Prediction Adversarial,
    AttackItem Attack,
    LayerDivergence[] Layers,
    DivergingPoint? DivergingPoint,
    bool FromCache);
