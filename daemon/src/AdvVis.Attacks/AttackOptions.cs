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
    /// <summary>Basic iterative method (Kurakin et al.): PGD without the random start.</summary>
    Bim,
    /// <summary>Momentum iterative FGSM (Dong et al. 2018): steps along sign(g), g ← μ·g + ∇/‖∇‖₁.</summary>
    MiFgsm,
    /// <summary>TRADES PGD (Zhang et al. 2019): ascends KL(softmax(f(x)) ‖ softmax(f(x'))), label-free.</summary>
    Tpgd,
    /// <summary>PGD with expectation over transformation (Athalye et al.): gradients averaged over passes.</summary>
    EotPgd,
    /// <summary>One-pixel attack (Su et al. 2019): differential evolution over a few pixels' positions and values.</summary>
    OnePixel,
    /// <summary>APGD with cross-entropy, DLR or targeted DLR (Croce &amp; Hein 2020); L∞, L2 or L1.</summary>
    ApgdCe,
    ApgdDlr,
    ApgdT,
    /// <summary>FAB and FAB-T: minimal-norm examples, kept when within ε.</summary>
    Fab,
    FabT,
    /// <summary>Square Attack: score-based, no gradients; Steps counts queries.</summary>
    Square,
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
    /// <summary>MI-FGSM: the momentum's decay μ (1.0 in the paper and torchattacks).</summary>
    public float Decay { get; init; } = 1f;
    /// <summary>EOT-PGD: gradient passes averaged per step (torchattacks: 2).</summary>
    public int EotIterations { get; init; } = 2;
    /// <summary>One-pixel: pixels changed, and the differential evolution's population per image.</summary>
    public int Pixels { get; init; } = 1;
    public int Population { get; init; } = 100;
    public int BatchSize { get; init; } = 64;

    public float Alpha => StepSize ?? Epsilon / 4f;

    /// <summary>One line naming the attack and its parameters as in the papers.</summary>
    public string Describe()
    {
        string norm = Norm switch { Norm.LInf => "L∞", Norm.L2 => "L2", _ => "L1" };
        string target = TargetClass is { } t ? $", targeted → class {t}" : ", untargeted";
        string loss = Loss == LossKind.Margin ? $", margin loss κ={Kappa:G4}" : ", cross-entropy";
        return Kind switch
        {
            AttackKind.Fgsm => $"FGSM (L∞) ε={Epsilon:G4}{loss}{target}",
            AttackKind.Fgm => $"FGM (L2) ε={Epsilon:G4}{loss}{target}",
            AttackKind.Pgd => $"PGD ({norm}) ε={Epsilon:G4}, α={Alpha:G4}, {Steps} iterations{(RandomStart ? $", random start (seed {Seed})" : "")}{(EarlyStop ? ", early stop" : "")}{loss}{target}",
            AttackKind.CarliniWagnerL2 => $"Carlini–Wagner L2 κ={Kappa:G4}, {BinarySearchSteps} binary-search steps over c from {InitialConst:G4}, {Steps} Adam steps (lr {LearningRate:G4}){target}",
            AttackKind.DeepFool => $"DeepFool ({norm}) overshoot {Overshoot:G4}, up to {Steps} iterations, {Candidates} candidate classes",
            AttackKind.Bim => $"BIM ({norm}) ε={Epsilon:G4}, α={Alpha:G4}, {Steps} iterations{loss}{target}",
            AttackKind.MiFgsm => $"MI-FGSM ({norm}) ε={Epsilon:G4}, α={Alpha:G4}, {Steps} iterations, decay μ={Decay:G4}{loss}{target}",
            AttackKind.Tpgd => $"TPGD (TRADES KL, {norm}) ε={Epsilon:G4}, α={Alpha:G4}, {Steps} iterations, untargeted",
            AttackKind.EotPgd => $"EOT-PGD ({norm}) ε={Epsilon:G4}, α={Alpha:G4}, {Steps} iterations × {EotIterations} gradient passes, random start (seed {Seed}){loss}{target}",
            AttackKind.OnePixel => $"One-pixel attack: {Pixels} pixel(s), differential evolution with {Population} candidates × {Steps} generations (seed {Seed}){target}",
            AttackKind.ApgdCe or AttackKind.ApgdDlr or AttackKind.ApgdT => $"{(Kind == AttackKind.ApgdCe ? "APGD-CE" : Kind == AttackKind.ApgdDlr ? "APGD-DLR" : "APGD-T (9 targets)")} ({norm}) ε={Epsilon:G4}, {Steps} iterations (seed {Seed})",
            AttackKind.Fab or AttackKind.FabT => $"{(Kind == AttackKind.Fab ? "FAB" : "FAB-T (9 targets)")} ({norm}) minimal norm, kept within ε={Epsilon:G4}, {Steps} iterations",
            AttackKind.Square => $"Square Attack ({norm}) ε={Epsilon:G4}, {Steps} queries, p_init 0.8 (seed {Seed})",
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
        bool robustFamily = Kind is AttackKind.ApgdCe or AttackKind.ApgdDlr or AttackKind.ApgdT or AttackKind.Fab or AttackKind.FabT;
        if (Norm == Norm.L1 && !robustFamily) throw new ArgumentException($"{Kind} runs in L∞ or L2; for L1 use APGD or FAB (advvis robustness --norm l1, or --attack apgd-ce --norm l1).");
        if (TargetClass is not null && (robustFamily || Kind is AttackKind.Square or AttackKind.Tpgd))
            throw new ArgumentException($"{Kind} chooses its own targets (APGD-T and FAB-T the most likely other classes) or none; drop the target class.");
        if (Kind is AttackKind.MiFgsm or AttackKind.Bim or AttackKind.Tpgd or AttackKind.EotPgd && Norm == Norm.L1) throw new ArgumentException($"{Kind} runs in L∞ or L2.");
        if (EotIterations < 1 || Pixels < 1 || Population < 4) throw new ArgumentException("EOT iterations and pixels must be ≥ 1, the one-pixel population ≥ 4.");
        if (Kind is AttackKind.ApgdDlr or AttackKind.ApgdT or AttackKind.FabT or AttackKind.Fab or AttackKind.ApgdCe or AttackKind.Square && Steps < 1) throw new ArgumentException($"{Kind} needs at least 1 iteration (query for Square).");
    }
}

/// <summary>Progress of a run: images finished, and the overall fraction of the work done.</summary>
public readonly record struct AttackProgress(int ImagesDone, int Images, double Fraction, string Stage);
