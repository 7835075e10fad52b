// What an attack did, per image and over a set: accuracies, success rate on correctly classified inputs,
// perturbation norms in pixel space, and how the benign and adversarial classes' probabilities moved.
using AdvVis.Engine;

namespace AdvVis.Attacks;

/// <summary>
/// One image's outcome. AdversarialClass is the target (targeted), else the adversarial prediction when it differs
/// from the label, else the most probable other class at the adversarial point.
/// </summary>
public sealed record ImageOutcome(
    int Index, int Label, int? Target, int CleanPrediction, int AdversarialPrediction,
    bool CleanCorrect, bool AdversarialCorrect, bool Success,
    float Linf, float L2,
    float BenignProbabilityClean, float BenignProbabilityAdversarial,
    int AdversarialClass, float AdversarialClassProbabilityClean, float AdversarialClassProbabilityAdversarial)
{
    public float BenignProbabilityDrop => BenignProbabilityClean - BenignProbabilityAdversarial;
    public float AdversarialProbabilityGain => AdversarialClassProbabilityAdversarial - AdversarialClassProbabilityClean;
}

/// <summary>
/// Totals. SuccessRate is over the correctly classified inputs (untargeted: now misclassified; targeted: now the
/// target). Means of norms and probability changes are over all images.
/// </summary>
public sealed record AttackSummary(
    int Count, int CleanCorrect, double CleanAccuracy, double AdversarialAccuracy, double SuccessRate, int Succeeded,
    double MeanLinf, double MeanL2, double MaxLinf, double MaxL2, double MeanBenignProbabilityDrop, double MeanAdversarialProbabilityGain,
    bool Targeted)
{
    public static AttackSummary Of(IReadOnlyList<ImageOutcome> images, bool targeted)
    {
        int n = images.Count;
        int correct = images.Count(i => i.CleanCorrect);
        int succeeded = images.Count(i => i.CleanCorrect && i.Success);
        double Mean(Func<ImageOutcome, double> f) => n == 0 ? 0 : images.Average(f);
        return new AttackSummary(n, correct,
            n == 0 ? 0 : (double)correct / n,
            n == 0 ? 0 : (double)images.Count(i => i.AdversarialCorrect) / n,
            correct == 0 ? 0 : (double)succeeded / correct, succeeded,
            Mean(i => i.Linf), Mean(i => i.L2), n == 0 ? 0 : images.Max(i => i.Linf), n == 0 ? 0 : images.Max(i => i.L2),
            Mean(i => i.BenignProbabilityDrop), Mean(i => i.AdversarialProbabilityGain), targeted);
    }
}

public static class AttackMetrics
{
    public static IReadOnlyList<ImageOutcome> Measure(Tensor clean, Tensor adversarial, IReadOnlyList<int> labels, IReadOnlyList<int>? targets,
        Scores cleanScores, Scores adversarialScores)
    {
        int n = clean.Shape[0], per = n == 0 ? 0 : clean.Length / n;
        var result = new ImageOutcome[n];
        for (int b = 0; b < n; b++)
        {
            double linf = 0, l2 = 0;
            for (int i = b * per; i < (b + 1) * per; i++)
            {
                double d = adversarial.Data[i] - clean.Data[i];
                linf = Math.Max(linf, Math.Abs(d));
                l2 += d * d;
            }
            var pc = cleanScores.Probabilities(b);
            var pa = adversarialScores.Probabilities(b);
            int label = labels[b], cleanPred = cleanScores.Predicted(b), advPred = adversarialScores.Predicted(b);
            int? target = targets?[b];
            bool success = target is { } t ? advPred == t : advPred != label;
            int advClass = target ?? (advPred != label ? advPred : Losses.BestOther(pa, label));
            bool hasLabel = label >= 0 && label < pc.Length;
            result[b] = new ImageOutcome(b, label, target, cleanPred, advPred, cleanPred == label, advPred == label, success,
                (float)linf, (float)Math.Sqrt(l2),
                hasLabel ? pc[label] : float.NaN, hasLabel ? pa[label] : float.NaN,
                advClass, pc[advClass], pa[advClass]);
        }
        return result;
    }
}
