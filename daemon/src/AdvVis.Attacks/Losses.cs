// Attack losses on log-space class scores z (logits, or log-probabilities when the model ends in Softmax).
namespace AdvVis.Attacks;

public enum LossKind
{
    /// <summary>Cross-entropy −log softmax(z)[y]: ascended away from the label, descended towards a target.</summary>
    CrossEntropy,
    /// <summary>Carlini–Wagner margin with confidence κ: max(z_y − max_{j≠y} z_j, −κ), or max(max_{j≠t} z_j − z_t, −κ) targeted.</summary>
    Margin,
}

public static class Losses
{
    public static float[] Softmax(ReadOnlySpan<float> z)
    {
        float max = float.NegativeInfinity;
        foreach (var v in z) max = Math.Max(max, v);
        var p = new float[z.Length];
        double sum = 0;
        for (int j = 0; j < z.Length; j++) sum += Math.Exp(z[j] - max);
        for (int j = 0; j < z.Length; j++) p[j] = (float)(Math.Exp(z[j] - max) / sum);
        return p;
    }

    public static double CrossEntropy(ReadOnlySpan<float> z, int label)
    {
        float max = float.NegativeInfinity;
        foreach (var v in z) max = Math.Max(max, v);
        double sum = 0;
        foreach (var v in z) sum += Math.Exp(v - max);
        return Math.Log(sum) + max - z[label];
    }

    /// <summary>dCE/dz = softmax(z) − onehot(label), times <paramref name="sign"/>.</summary>
    public static void CrossEntropyGradient(ReadOnlySpan<float> z, int label, Span<float> gradient, float sign = 1f)
    {
        var p = Softmax(z);
        for (int j = 0; j < z.Length; j++) gradient[j] = sign * (p[j] - (j == label ? 1f : 0f));
    }

    /// <summary>The best class other than <paramref name="exclude"/>.</summary>
    public static int BestOther(ReadOnlySpan<float> z, int exclude)
    {
        int best = -1;
        for (int j = 0; j < z.Length; j++)
            if (j != exclude && (best < 0 || z[j] > z[best])) best = j;
        return best;
    }

    /// <summary>
    /// The CW margin f (minimised by the attack): untargeted max(z_y − max_{j≠y} z_j, −κ); targeted
    /// max(max_{j≠t} z_j − z_t, −κ). Its gradient (times <paramref name="sign"/>) is written when the margin is active.
    /// </summary>
    public static double Margin(ReadOnlySpan<float> z, int label, bool targeted, float kappa, Span<float> gradient, float sign = 1f)
    {
        int other = BestOther(z, label);
        double f = targeted ? z[other] - z[label] : z[label] - z[other];
        if (f <= -kappa) return -kappa;
        gradient[label] += sign * (targeted ? -1f : 1f);
        gradient[other] += sign * (targeted ? 1f : -1f);
        return f;
    }

    /// <summary>
    /// The gradient an attack ascends for one row: untargeted it increases the loss of the label; targeted it
    /// decreases the loss of the target. <paramref name="classOfInterest"/> is the label or the target.
    /// </summary>
    public static void AscentGradient(LossKind kind, ReadOnlySpan<float> z, int classOfInterest, bool targeted, float kappa, Span<float> gradient)
    {
        switch (kind)
        {
            case LossKind.CrossEntropy:
                CrossEntropyGradient(z, classOfInterest, gradient, targeted ? -1f : 1f);
                break;
            case LossKind.Margin:
                // The margin is minimised, so ascend its negative.
                Margin(z, classOfInterest, targeted, kappa, gradient, -1f);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(kind));
        }
    }
}

/// <summary>
/// The losses of the AutoAttack family, each returning its value and writing its gradient (the direction to ascend)
/// into a zeroed span: cross-entropy, the Difference of Logits Ratio (DLR) and its targeted form (Croce &amp; Hein 2020).
/// DLR is invariant to shifting and scaling the logits, so a model cannot hide behind saturated softmax outputs.
/// </summary>
public static class RobustLosses
{
    /// <summary>CE(z, y) = −log softmax(z)_y; gradient softmax(z) − e_y.</summary>
    public static double CrossEntropy(ReadOnlySpan<float> z, int y, Span<float> gradient)
    {
        Losses.CrossEntropyGradient(z, y, gradient);
        return Losses.CrossEntropy(z, y);
    }

    /// <summary>The classes in decreasing score order.</summary>
    public static int[] Ranked(ReadOnlySpan<float> z)
    {
        var order = Enumerable.Range(0, z.Length).ToArray();
        var copy = z.ToArray();
        Array.Sort(order, (a, b) => copy[b].CompareTo(copy[a]) is var c && c != 0 ? c : a.CompareTo(b));
        return order;
    }

    /// <summary>DLR(z, y) = −(z_y − max_{i≠y} z_i) / (z_π1 − z_π3), π the classes sorted by score (needs 3 classes).</summary>
    public static double Dlr(ReadOnlySpan<float> z, int y, Span<float> gradient)
    {
        var pi = Ranked(z);
        int other = pi[0] == y ? pi[1] : pi[0];
        double num = (double)z[y] - z[other], den = (double)z[pi[0]] - z[pi[2]] + 1e-12;
        // L = −num/den: dL = −dnum/den + num/den² · dden.
        gradient[y] += (float)(-1 / den);
        gradient[other] += (float)(1 / den);
        gradient[pi[0]] += (float)(num / (den * den));
        gradient[pi[2]] -= (float)(num / (den * den));
        return -num / den;
    }

    /// <summary>Targeted DLR(z, y, t) = −(z_y − z_t) / (z_π1 − (z_π3 + z_π4)/2) (needs 4 classes).</summary>
    public static double TargetedDlr(ReadOnlySpan<float> z, int y, int t, Span<float> gradient)
    {
        var pi = Ranked(z);
        double num = (double)z[y] - z[t], den = (double)z[pi[0]] - 0.5 * ((double)z[pi[2]] + z[pi[3]]) + 1e-12;
        gradient[y] += (float)(-1 / den);
        gradient[t] += (float)(1 / den);
        double q = num / (den * den);
        gradient[pi[0]] += (float)q;
        gradient[pi[2]] -= (float)(0.5 * q);
        gradient[pi[3]] -= (float)(0.5 * q);
        return -num / den;
    }

    /// <summary>The margin z_y − max_{j≠y} z_j: negative exactly when the image is misclassified.</summary>
    public static double Margin(ReadOnlySpan<float> z, int y) => (double)z[y] - z[Losses.BestOther(z, y)];
}
