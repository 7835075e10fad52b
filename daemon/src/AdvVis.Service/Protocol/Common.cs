// Shared protocol types: how arrays, images, datasets, attacks and predictions travel. Every record is serialized with
// the endpoint's settings (camelCase names, nulls omitted, enums as camelCase strings). docs/protocol.md documents
// every field; ProtocolDocTests fails when the two drift.
namespace AdvVis.Service.Protocol;

/// <summary>
/// A numeric array. Exactly one of <see cref="Base64"/> (little-endian float32, row-major) or <see cref="Path"/> (a raw
/// little-endian float32 file with no header, in the cache folder) is set. Small arrays travel inline.
/// </summary>
public sealed record ArrayData(int[] Shape, string Dtype = "float32", string? Base64 = null, string? Path = null);

/// <summary>An image as PNG bytes: base64 inline, or a .png file in the cache folder.</summary>
public sealed record ImageData(int Width, int Height, int Channels, string? PngBase64 = null, string? Path = null);

/// <summary>
/// A set of labelled images the client names: an image folder (one sub-folder per class), an IDX images file
/// (<see cref="Labels"/> = the IDX labels file), a CIFAR-10 binary batch, or an .npz with "images"/"x" and "labels"/"y".
/// </summary>
public sealed record DatasetRef(string Path, string? Labels = null, int Offset = 0, int? Limit = null);

/// <summary>The items to run on: explicit image/tensor files, or a dataset (exactly one).</summary>
public sealed record ItemsRef(string[]? Images = null, DatasetRef? Dataset = null, int[]? Labels = null);

public enum AttackKind { Fgsm, Pgd, Cw, Deepfool, Bim, MiFgsm, Tpgd, EotPgd, OnePixel, ApgdCe, ApgdDlr, ApgdT, Fab, FabT, Square }

public enum AttackNorm { Linf, L2, L1 }

/// <summary>An attack; budgets in pixel space [0, 1] whatever the model's normalisation.</summary>
public sealed record AttackSpec(
    AttackKind Kind,
    float Eps,
    AttackNorm Norm = AttackNorm.Linf,
    float? Alpha = null,
    int? Steps = null,
    bool RandomStart = false,
    bool EarlyStop = false,
    int? TargetClass = null,
    float? Kappa = null,
    int? BinarySearchSteps = null,
    float? InitialConst = null,
    ulong Seed = 0);

/// <summary>One class with its probability.</summary>
public sealed record ClassScore(int Class, string? Label, float Probability);

/// <summary>A classifier decision: the top class and the top five.</summary>
public sealed record Prediction(int Class, string? Label, float Probability, ClassScore[] Top5);
