// What to run: the attack, its budget in pixel space [0, 1], its loss, and its batch size and seed.
namespace AdvVis.Attacks;

public enum AttackKind
{
    /// <summary>Fast gradient sign method (Goodfellow et al.): one L∞ step of size ε.</summary>
    Fgsm,
    /// <summary>Fast gradient method: one L2 step of length ε along the normalised gradient.</summary>
    Fgm,
    /// <summary>Projected gradient descent (Madry et al.), L∞ or L2.</summary>
    Pgd,
    /// <summary>Carlini–Wagner L2 (tanh box, Adam, binary search over the constant c).</summary>
    CarliniWagnerL2,
    /// <summary>DeepFool (Moosavi-Dezfooli et al.), L2 or L∞, untargeted.</summary>
    DeepFool,
}

/// <summary>The perturbation's norm. L1 serves the AutoAttack family (APGD, FAB); the classic attacks take L∞ and L2.</summary>
public enum Norm { LInf, L2, L1 }

public sealed record AttackOptions
{
    public AttackKind Kind { get; init; } = AttackKind.Pgd;
    public Norm Norm { get; init; } = Norm.LInf;
    /// <summary>ε: the perturbation budget in pixel space [0, 1] (L∞: per pixel; L2: over the image).</summary>
    public float Epsilon { get; init; } = 8f / 255f;
    /// <summary>α: the PGD step size in pixel space; default ε/4.</summary>
    public float? StepSize { get; init; }
    /// <summary>PGD iterations; CW optimisation steps per constant; DeepFool's maximum iterations.</summary>
    public int Steps { get; init; } = 10;
    /// <summary>PGD: start from a uniform point in the ε-ball (seeded per image).</summary>
    public bool RandomStart { get; init; }
    /// <summary>PGD: stop moving an image once it is adversarial.</summary>
    public bool EarlyStop { get; init; }
    public int Seed { get; init; }
    public LossKind Loss { get; init; } = LossKind.CrossEntropy;
    /// <summary>κ: confidence of the margin loss (CW and --loss margin), in log-space score units.</summary>
    public float Kappa { get; init; }
    /// <summary>Targeted attack towards this class for every image (per-image targets can be passed to Run).</summary>
    public int? TargetClass { get; init; }
    /// <summary>CW: binary-search rounds over c, the initial c, and Adam's learning rate.</summary>
    public int BinarySearchSteps { get; init; } = 5;
    public float InitialConst { get; init; } = 1f;
    public float LearningRate { get; init; } = 0.01f;
    /// <summary>DeepFool: overshoot and how many of the top classes are candidates.</summary>
    public float Overshoot { get; init; } = 0.02f;
    public int Candidates { get; init; } = 10;
    public int BatchSize { get; init; } = 64;

    public float Alpha => StepSize ?? Epsilon / 4f;

    /// <summary>One line naming the attack and its parameters as in the papers.</summary>
    public string Describe()
    {
        string norm = Norm == Norm.LInf ? "L∞" : "L2";
        string target = TargetClass is { } t ? $", targeted → class {t}" : ", untargeted";
        string loss = Loss == LossKind.Margin ? $", margin loss κ={Kappa:G4}" : ", cross-entropy";
        return Kind switch
        {
            AttackKind.Fgsm => $"FGSM (L∞) ε={Epsilon:G4}{loss}{target}",
            AttackKind.Fgm => $"FGM (L2) ε={Epsilon:G4}{loss}{target}",
            AttackKind.Pgd => $"PGD ({norm}) ε={Epsilon:G4}, α={Alpha:G4}, {Steps} iterations{(RandomStart ? $", random start (seed {Seed})" : "")}{(EarlyStop ? ", early stop" : "")}{loss}{target}",
            AttackKind.CarliniWagnerL2 => $"Carlini–Wagner L2 κ={Kappa:G4}, {BinarySearchSteps} binary-search steps over c from {InitialConst:G4}, {Steps} Adam steps (lr {LearningRate:G4}){target}",
            AttackKind.DeepFool => $"DeepFool ({norm}) overshoot {Overshoot:G4}, up to {Steps} iterations, {Candidates} candidate classes",
            _ => Kind.ToString(),
        } + "; budgets in pixel space [0,1]";
    }

    public void Validate()
    {
        if (!(Epsilon >= 0) || float.IsInfinity(Epsilon)) throw new ArgumentException($"ε must be a finite number ≥ 0 (pixel space [0,1]), got {Epsilon}.");
        if (Kind != AttackKind.Pgd && Kind is not (AttackKind.CarliniWagnerL2 or AttackKind.DeepFool) && Steps < 0) throw new ArgumentException("steps must be ≥ 0.");
        if (Steps < 0) throw new ArgumentException($"steps must be ≥ 0, got {Steps}.");
        if (StepSize is { } a && !(a >= 0)) throw new ArgumentException($"α must be ≥ 0, got {a}.");
        if (BatchSize < 1) throw new ArgumentException("batch size must be ≥ 1.");
        if (Kind == AttackKind.DeepFool && TargetClass is not null) throw new ArgumentException("DeepFool is untargeted; use PGD or CW for a targeted attack.");
        if (Kind == AttackKind.Fgsm && Norm == Norm.L2) throw new ArgumentException("FGSM is the L∞ method; use fgm for L2.");
        if (Kappa < 0) throw new ArgumentException("κ must be ≥ 0.");
        if (Norm == Norm.L1) throw new ArgumentException($"{Kind} runs in L∞ or L2; for L1 use APGD or FAB (advvis robustness --norm l1, or --attack apgd-ce --norm l1).");
    }
}

/// <summary>Progress of a run: images finished, and the overall fraction of the work done.</summary>
public readonly record struct AttackProgress(int ImagesDone, int Images, double Fraction, string Stage);
