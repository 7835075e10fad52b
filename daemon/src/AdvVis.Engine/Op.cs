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
    /// Accumulates (+=) the gradient of every wanted input from the output gradients.
    /// The default says the op has no gradient; ops that do override it.
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

/// <summary>What an op's backward rule sees: its inputs, outputs, saved state and the incoming gradients.</summary>
public sealed class BackwardContext
{
    private readonly Func<int, Tensor> _gradientOf;
    private readonly bool[] _wants;

    public BackwardContext(Tensor?[] inputs, Tensor[] outputs, object? saved, Tensor?[] outputGradients,
        bool[] wants, Func<int, Tensor> gradientOf)
    {
        Inputs = inputs; Outputs = outputs; Saved = saved; OutputGradients = outputGradients;
        _wants = wants; _gradientOf = gradientOf;
    }

    public Tensor?[] Inputs { get; }
    public Tensor[] Outputs { get; }
    public object? Saved { get; }
    /// <summary>dL/d(output i); null when no gradient reached that output (treat as zero).</summary>
    public Tensor?[] OutputGradients { get; }

    public bool Wants(int input) => input < _wants.Length && _wants[input];

    /// <summary>The gradient buffer of input i, zero-initialised on first use. Always add into it, never assign.</summary>
    public Tensor GradientOf(int input) => _gradientOf(input);

    public Tensor OutputGradient(int output = 0) =>
        OutputGradients[output] ?? Tensor.Zeros(Outputs[output].Shape);
}
