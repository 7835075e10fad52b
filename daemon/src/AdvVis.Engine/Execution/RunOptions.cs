// What a caller asks of one forward pass: tensors to keep, interventions on units, and whether to record for backward.
namespace AdvVis.Engine;

public sealed class RunOptions
{
    /// <summary>Intermediate tensors to keep by name (node output names); outputs are always kept.</summary>
    public IReadOnlyCollection<string> Capture { get; init; } = [];
    /// <summary>Edits applied to intermediate tensors as they are produced, and to their gradients on the way back.</summary>
    public IReadOnlyList<Intervention> Interventions { get; init; } = [];
    /// <summary>Keep every tensor so that <see cref="ForwardPass.Backward"/> can run afterwards.</summary>
    public bool RecordForBackward { get; init; }
    /// <summary>Stop after the last captured tensor when no output is needed (e.g. reading one layer).</summary>
    public bool StopAfterCaptures { get; init; }
    /// <summary>
    /// Fold a Relu or Clip into the convolution before it when nothing else reads the convolution's output (not
    /// captured, not edited, not a graph output): the same bits, one pass over memory fewer. On by default; the
    /// convolution's raw output is then not kept by the pass (capture it to keep it).
    /// </summary>
    public bool FuseActivations { get; init; } = true;
    /// <summary>Reject NaN and ±Inf in the fed inputs with a clear error (on by default).</summary>
    public bool RejectNonFiniteInputs { get; init; } = true;
    public CancellationToken Cancellation { get; init; }
}

/// <summary>
/// y' = keep ⊙ y + (1 − keep) ⊙ replacement on the tensor named <see cref="ValueName"/>, with keep and replacement
/// broadcast to y's shape. Backward: dy = keep ⊙ dy'. Deleting units is keep = 0 with replacement 0;
/// substituting a region from another image is keep = 0 there with that image's activations as the replacement.
/// </summary>
public sealed record Intervention(string ValueName, Tensor Keep, Tensor? Replacement = null)
{
    /// <summary>Zeroes the given channels (axis 1) of a [N,C,...] tensor: the "neuron deletion" of the papers.</summary>
    public static Intervention DeleteChannels(string valueName, int channelCount, int rank, IEnumerable<int> channels)
    {
        var shape = new int[rank];
        Array.Fill(shape, 1);
        shape[1] = channelCount;
        var keep = new float[channelCount];
        Array.Fill(keep, 1f);
        foreach (var c in channels)
        {
            if ((uint)c >= (uint)channelCount) throw new EngineException($"Channel {c} does not exist in '{valueName}' ({channelCount} channels).");
            keep[c] = 0f;
        }
        return new Intervention(valueName, new Tensor(shape, keep));
    }

    /// <summary>Replaces the given channels of a tensor with the matching channels of <paramref name="source"/>.</summary>
    public static Intervention SubstituteChannels(string valueName, Tensor source, IEnumerable<int> channels)
    {
        var del = DeleteChannels(valueName, source.Shape[1], source.Rank, channels);
        return del with { Replacement = source };
    }
}
