// attack/run: thin handler over AdvVis.Attacks (Attack.Run on pixel batches through the model's AttackModel).
using AdvVis.Attacks;
using AdvVis.Data;
using AdvVis.Engine;
using AdvVis.Service.Cache;
using AdvVis.Service.Daemon;
using AdvVis.Service.JsonRpc;
using AdvVis.Service.Protocol;
using AttackKind = AdvVis.Service.Protocol.AttackKind;

namespace AdvVis.Service.Handlers;

internal static class AttackHandlers
{
    public static void Register(Registrar r) =>
        r.Add<AttackRunParams, AttackRunResult>("attack/run", (p, context) =>
        {
            var model = r.State.Models.Get(p.Model);
            var batch = Items.Load(model, p.Items, context.CancellationToken, maxItems: 10_000);
            var options = Options(p.Attack);
            return Common.Cached(r, context, "attack/run", model.Sha256, p with { Items = new ItemsRef() }, batch.Fingerprint, blobs =>
            {
                context.BeginProgress($"Attack ({p.Attack.Kind})", $"0/{batch.Count} items", 0, cancellable: true);
                var (run, cleanScores, advScores, labels) = Run(model, batch, options, context);
                var items = p.PerImage ? run.Images.Select(o => Item(r, model, batch, run, o, cleanScores, advScores, blobs, p.ReturnImages, p.Attack.Eps)).ToArray() : null;
                var s = run.Summary;
                return new AttackRunResult(s.Count, s.CleanAccuracy, s.AdversarialAccuracy, s.SuccessRate, s.MeanLinf, s.MeanL2, "pixel [0,1]", items, false,
                    batch.Warnings is { Count: > 0 } warnings ? [.. warnings] : null);
            }, hit => hit with { FromCache = true });
        });

    public static AttackOptions Options(AttackSpec a)
    {
        var kind = a.Kind switch
        {
            AttackKind.Fgsm => a.Norm == AttackNorm.L2 ? Attacks.AttackKind.Fgm : Attacks.AttackKind.Fgsm,
            AttackKind.Pgd => Attacks.AttackKind.Pgd,
            AttackKind.Cw => Attacks.AttackKind.CarliniWagnerL2,
            AttackKind.Deepfool => Attacks.AttackKind.DeepFool,
            AttackKind.Bim => Attacks.AttackKind.Bim,
            AttackKind.MiFgsm => Attacks.AttackKind.MiFgsm,
            AttackKind.Tpgd => Attacks.AttackKind.Tpgd,
            AttackKind.EotPgd => Attacks.AttackKind.EotPgd,
            AttackKind.OnePixel => Attacks.AttackKind.OnePixel,
            AttackKind.ApgdCe => Attacks.AttackKind.ApgdCe,
            AttackKind.ApgdDlr => Attacks.AttackKind.ApgdDlr,
            AttackKind.ApgdT => Attacks.AttackKind.ApgdT,
            AttackKind.Fab => Attacks.AttackKind.Fab,
            AttackKind.FabT => Attacks.AttackKind.FabT,
            _ => Attacks.AttackKind.Square,
        };
        var defaults = new AttackOptions();
        // Iterations users know per attack: APGD and FAB 100, Square 5000 queries, FGSM one step.
        int steps = a.Steps ?? a.Kind switch
        {
            AttackKind.Fgsm => 1,
            AttackKind.ApgdCe or AttackKind.ApgdDlr or AttackKind.ApgdT or AttackKind.Fab or AttackKind.FabT => 100,
            AttackKind.Square => 5000,
            _ => defaults.Steps,
        };
        return new AttackOptions
        {
            Kind = kind, Norm = a.Norm switch { AttackNorm.L2 => Norm.L2, AttackNorm.L1 => Norm.L1, _ => Norm.LInf }, Epsilon = a.Eps,
            StepSize = a.Kind == AttackKind.Cw ? null : a.Alpha, Steps = steps,
            RandomStart = a.RandomStart, EarlyStop = a.EarlyStop, Seed = unchecked((int)a.Seed), Kappa = a.Kappa ?? 0f, TargetClass = a.TargetClass,
            BinarySearchSteps = a.BinarySearchSteps ?? defaults.BinarySearchSteps, InitialConst = a.InitialConst ?? defaults.InitialConst,
            LearningRate = a.Kind == AttackKind.Cw && a.Alpha is { } lr ? lr : defaults.LearningRate,
        };
    }

    public static AttackModel AttackModelFor(OpenModel model)
    {
        var pre = Items.RequireImageModel(model);
        return new AttackModel(model.Model, pre.Channels, pre.Height, pre.Width, PixelNormalization.From255(pre.Scale, pre.Mean, pre.Std));
    }

    /// <summary>Runs the attack; items without labels are attacked away from their clean prediction.</summary>
    /// <param name="from">Progress percentage at the start of the attack (callers with later stages pass a share of 0–1).</param>
    public static (AttackRun Run, Scores Clean, Scores Adversarial, int[] Labels) Run(OpenModel model, ItemBatch batch, AttackOptions options, RequestContext context,
        double from = 0, double to = 1)
    {
        var attackModel = AttackModelFor(model);
        var clean = attackModel.Evaluate(batch.Pixels, context.CancellationToken);
        int[] labels = batch.HasLabels ? batch.Labels : Enumerable.Range(0, batch.Count).Select(clean.Predicted).ToArray();
        var run = Attack.Run(attackModel, batch.Pixels, labels, options, null, new SyncProgress(context, from, to), context.CancellationToken);
        var adversarial = attackModel.Evaluate(run.Adversarial, context.CancellationToken);
        return (run, clean, adversarial, labels);
    }

    public static AttackItem Item(Registrar r, OpenModel model, ItemBatch batch, AttackRun run, ImageOutcome o, Scores clean, Scores adversarial,
        BlobWriter blobs, bool images, float eps)
    {
        var pre = Items.RequireImageModel(model);
        var names = model.Labels?.Names ?? (batch.ClassNames.Count > 0 ? batch.ClassNames : null);
        int per = pre.Channels * pre.Height * pre.Width;
        var advPixels = run.Adversarial.Data.AsSpan(o.Index * per, per);
        string? path = null;
        if (blobs.CanWrite)
            path = blobs.Write(".npy", Npy.ToBytes(new NpyArray(Items.PixelsToInput(pre, advPixels), 1, pre.Channels, pre.Height, pre.Width)));
        ImageData? adversarialImage = null, perturbation = null;
        if (images)
        {
            adversarialImage = Payloads.Png(Items.ToImage(pre, advPixels), blobs, r.State.InlineLimitBytes);
            var clean0 = batch.Pixels.Data.AsSpan(o.Index * per, per);
            float maxAbs = 1e-12f;
            for (int i = 0; i < per; i++) maxAbs = Math.Max(maxAbs, Math.Abs(advPixels[i] - clean0[i]));
            var delta = new float[per];
            for (int i = 0; i < per; i++) delta[i] = 0.5f + 0.5f * (advPixels[i] - clean0[i]) / maxAbs;
            perturbation = Payloads.Png(Items.ToImage(pre, delta), blobs, r.State.InlineLimitBytes);
        }
        return new AttackItem(batch.Sources[o.Index], batch.HasLabels ? o.Label : null,
            Common.Predict(clean.Probabilities(o.Index), names), Common.Predict(adversarial.Probabilities(o.Index), names),
            o.Success, o.Linf, o.L2, o.BenignProbabilityDrop, o.AdversarialProbabilityGain, path, adversarialImage, perturbation);
    }

    /// <summary>Reports attack progress on the caller's thread (Progress&lt;T&gt; would post and reorder).</summary>
    private sealed class SyncProgress(RequestContext context, double from, double to) : IProgress<AttackProgress>
    {
        public void Report(AttackProgress value) =>
            context.ReportProgress($"{value.ImagesDone}/{value.Images} items · {value.Stage}", (int)Math.Round((from + (to - from) * Math.Clamp(value.Fraction, 0, 1)) * 100));
    }
}
