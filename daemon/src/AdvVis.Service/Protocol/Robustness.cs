// robustness/evaluate: the AutoAttack-style robustness report (Attacks.RobustnessSuite) on items, at one or more ε.
namespace AdvVis.Service.Protocol;

public enum RobustnessVersion { Standard, Plus, Rand, Custom }

/// <summary>The suite's attacks, by AutoAttack's names (camelCase on the wire: apgdCe, apgdT, fabT, ...).</summary>
public enum SuiteAttackName { ApgdCe, ApgdDlr, ApgdT, Fab, FabT, Square }

public sealed record RobustnessEvaluateParams(
    string Model,
    ItemsRef Items,
    AttackNorm Norm = AttackNorm.Linf,
    float[]? Eps = null,
    RobustnessVersion Version = RobustnessVersion.Standard,
    SuiteAttackName[]? Attacks = null,
    ulong Seed = 0,
    int? Steps = null,
    int? Queries = null);

public sealed record RobustnessStage(string Attack, int Attacked, int Fooled, int RobustAfter, double RobustAccuracy, double Seconds);

public sealed record RobustnessFlag(string Check, string Message);

public sealed record RobustnessAtEps(
    float Eps,
    int Count,
    double CleanAccuracy,
    double RobustAccuracy,
    RobustnessStage[] Stages,
    RobustnessFlag[] Flags,
    double MaxPerturbation,
    int InvalidExamples,
    double Seconds);

public sealed record RobustnessEvaluateResult(
    AttackNorm Norm,
    RobustnessVersion Version,
    string[] Attacks,
    RobustnessAtEps[] Results,
    bool DefaultEps,
    string BudgetSpace,
    bool FromCache);
