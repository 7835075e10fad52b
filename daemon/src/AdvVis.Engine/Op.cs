// The operator contract: a forward rule and, beside it, a backward (vector-Jacobian) rule.
namespace AdvVis.Engine;

/// <summary>
/// One lowered ONNX node's computation. Ops hold only attributes, never per-run state, so one model serves
/// concurrent runs; what backward needs travels in the <c>saved</c> object returned by Forward.
/// </summary>
public abstract class Op
{
    /// <summary>Computes the outputs. Optional inputs that are absent arrive as null.</summary>
    public abstract Tensor[] Forward(Tensor?[] inputs, out object? saved);

    /// <summary>
    /// Accumulates (+=) the gradient of every wanted input from the output gradients, through
    /// <see cref="BackwardContext.GradientOf"/> (zeroed, add only) or <see cref="BackwardContext.GradientForWrite"/>
    /// (assign when first, add otherwise). A rule must not keep or hand on the output-gradient tensors it reads: the
    /// pass recycles them once the rule returns. The default says the op has no gradient; ops that do override it.
    /// </summary>
    public virtual void Backward(BackwardContext context) =>
        throw new EngineException($"{GetType().Name} has no gradient rule, and a gradient was requested through it.");

    /// <summary>Whether a gradient can flow through this op at all (shape-only ops say no).</summary>
    public virtual bool IsDifferentiable => true;

    protected static Tensor Required(Tensor?[] inputs, int index, string op) =>
        index < inputs.Length && inputs[index] is { } t ? t : throw new EngineException($"{op}: required input {index} is missing.");

    protected static Tensor RequireFloat(Tensor?[] inputs, int index, string op)
    {
        var t = Required(inputs, index, op);
        return t.IsInteger ? throw new UnsupportedFeatureException($"{op}: input {index} is an integer tensor; AdvVis runs {op} on float tensors only.") : t;
    }
}

/// <summary>
/// Supplies input <paramref name="input"/>'s gradient buffer for writing: a fresh buffer with unspecified contents and
/// <paramref name="accumulate"/> false when nothing has contributed yet, or the existing buffer with accumulate true.
/// </summary>
public delegate Tensor GradientForWriteProvider(int input, out bool accumulate);

/// <summary>What an op's backward rule sees: its inputs, outputs, saved state and the incoming gradients.</summary>
public sealed class BackwardContext
{
    private readonly Func<int, Tensor> _gradientOf;
    private readonly GradientForWriteProvider? _gradientForWrite;
    private readonly bool[] _wants;

    /// <param name="gradientOf">Input i's gradient buffer, zero-initialised on first use.</param>
    /// <param name="gradientForWrite">The write-first variant; when null, <see cref="GradientForWrite"/> falls back to
    /// <paramref name="gradientOf"/> and always answers accumulate = true (adding into zeros is the same result).</param>
    public BackwardContext(Tensor?[] inputs, Tensor[] outputs, object? saved, Tensor?[] outputGradients,
        bool[] wants, Func<int, Tensor> gradientOf, GradientForWriteProvider? gradientForWrite = null)
    {
        Inputs = inputs; Outputs = outputs; Saved = saved; OutputGradients = outputGradients;
        _wants = wants; _gradientOf = gradientOf; _gradientForWrite = gradientForWrite;
    }

    public Tensor?[] Inputs { get; }
    public Tensor[] Outputs { get; }
    public object? Saved { get; }
    /// <summary>dL/d(output i); null when no gradient reached that output (treat as zero).</summary>
    public Tensor?[] OutputGradients { get; }

    public bool Wants(int input) => input < _wants.Length && _wants[input];

    /// <summary>The gradient buffer of input i, zero-initialised on first use. Always add into it, never assign.</summary>
    public Tensor GradientOf(int input) => _gradientOf(input);

    /// <summary>
    /// Write-first access to input i's gradient buffer, for rules that produce every element of it at once.
    /// When <paramref name="accumulate"/> comes back false this op is the first contributor: the buffer holds garbage
    /// (it may be recycled memory), and the rule must set every element without reading the old contents, either
    /// assigning <c>0f + v</c> rather than <c>v</c> (so a −0 turns into +0 exactly as adding into a zeroed buffer would)
    /// or clearing a slice just before adding into it; results stay bit-identical to <see cref="GradientOf"/>.
    /// When it comes back true, add (+=) as with GradientOf.
    /// Finish writing one input's buffer before asking for another's: two inputs may be the same tensor.
    /// </summary>
    public Tensor GradientForWrite(int input, out bool accumulate)
    {
        if (_gradientForWrite is null)
        {
            accumulate = true;
            return _gradientOf(input);
        }
        return _gradientForWrite(input, out accumulate);
    }

    public Tensor OutputGradient(int output = 0) =>
        OutputGradients[output] ?? Tensor.Zeros(Outputs[output].Shape);
}
