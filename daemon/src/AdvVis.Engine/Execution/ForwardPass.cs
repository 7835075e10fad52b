// One forward pass over a Model, holding every per-run tensor, and the reverse-mode backward pass over it.
using System.Numerics.Tensors;
using AdvVis.Engine.Ops;
using AdvVis.Safety;

namespace AdvVis.Engine;

public sealed class ForwardPass
{
    private readonly Model _model;
    private readonly Tensor?[] _values;
    // Per node, when recorded: the op's own outputs (before interventions) and what its backward needs.
    private readonly Tensor[]?[] _rawOutputs;
    private readonly object?[] _saved;
    private readonly Dictionary<int, Intervention> _interventions;
    private readonly bool _recorded;
    private readonly int _lastNodeRun;
    // Outputs and captures: never recycled. Values a caller read through the indexer join them.
    private readonly bool[] _keep;
    private readonly bool[] _handedOut;
    // The pass's own arrays (rented while it ran and backing one of its node outputs); null when pooling is off.
    private readonly BufferScope? _scope;
    // Convolution outputs folded into their activation: the value slot holds the activation's output, which its
    // backward rule reads in place of its input (y > 0 ⟺ x > 0 for Relu, lo < y < hi ⟺ lo < x < hi for Clip). Not served.
    private readonly bool[] _foldedAway;
    private readonly object _sync = new();
    private bool _released;

    public Model Model => _model;

    private ForwardPass(Model model, Tensor?[] values, Tensor[]?[] rawOutputs, object?[] saved,
        Dictionary<int, Intervention> interventions, bool recorded, int lastNodeRun, bool[] keep, BufferScope? scope, bool[] foldedAway)
    {
        _model = model; _values = values; _rawOutputs = rawOutputs; _saved = saved;
        _interventions = interventions; _recorded = recorded; _lastNodeRun = lastNodeRun;
        _keep = keep; _handedOut = new bool[values.Length]; _scope = scope; _foldedAway = foldedAway;
    }

    /// <summary>A graph output, or any captured (or, when recorded, any computed) tensor by name.</summary>
    public Tensor this[string name]
    {
        get
        {
            int id = _model.ValueId(name);
            if (_foldedAway[id])
                throw new EngineException($"Tensor '{name}' was folded into the activation that reads it; list it in RunOptions.Capture (or set FuseActivations = false) to keep it.");
            lock (_sync)
            {
                if (_values[id] is { } t)
                {
                    // The caller holds it now: Release must leave its storage alone.
                    _handedOut[id] = true;
                    return t;
                }
            }
            throw new EngineException(_released
                ? $"Tensor '{name}' was released with this pass; read it (or list it in RunOptions.Capture) before calling Release."
                : $"Tensor '{name}' was not kept by this pass; list it in RunOptions.Capture.");
        }
    }

    public Tensor Output => this[_model.OutputNames[0]];

    internal static ForwardPass Run(Model model, IReadOnlyDictionary<string, Tensor> feeds, RunOptions options)
    {
        var values = (Tensor?[])model.Constants.Clone();
        var keep = new bool[model.ValueCount];
        foreach (var name in model.OutputNames) keep[model.ValueId(name)] = true;
        foreach (var name in options.Capture) keep[model.ValueId(name)] = true;

        var interventions = new Dictionary<int, Intervention>();
        foreach (var iv in options.Interventions)
        {
            int id = model.ValueId(iv.ValueName);
            if (model.Constants[id] is not null) throw new EngineException($"'{iv.ValueName}' is a constant of the model; interventions apply to computed tensors.");
            interventions[id] = iv;
        }

        // Ops allocate their outputs through Tensor.Uninitialized/Zeros on this thread: while the pass runs those come
        // from the model's pool, and the scope remembers which arrays became this pass's own.
        var scope = model.Buffers.Enabled ? new BufferScope(model.Buffers) : null;
        using var ambient = BufferScope.Enter(scope);

        foreach (var input in model.Inputs)
        {
            if (!feeds.TryGetValue(input.Name, out var t))
                throw new EngineException($"Input '{input.Name}' was not given. The model expects: {string.Join(", ", model.Inputs.Select(i => $"{i.Name} {Describe(i)}"))}.");
            Validate(input, t, options.RejectNonFiniteInputs);
            values[input.ValueId] = interventions.TryGetValue(input.ValueId, out var iv) ? Apply(iv, t) : t;
        }
        scope?.Adopt(model.Inputs.Select(i => values[i.ValueId]));
        foreach (var name in feeds.Keys)
            if (model.Inputs.All(i => i.Name != name))
                throw new EngineException($"'{name}' is not an input of the model. Inputs: {string.Join(", ", model.Inputs.Select(i => i.Name))}.");

        int stopAt = model.Nodes.Count - 1;
        if (options.StopAfterCaptures && options.Capture.Count > 0)
            stopAt = options.Capture.Select(n => model.Producer[model.ValueId(n)]).Max();

        var readersLeft = (int[])model.ReaderCount.Clone();
        var rawOutputs = new Tensor[]?[model.Nodes.Count];
        var saved = new object?[model.Nodes.Count];
        var foldedAway = new bool[model.ValueCount];
        var ranWithConv = new bool[model.Nodes.Count];
        for (int ni = 0; ni <= stopAt; ni++)
        {
            options.Cancellation.ThrowIfCancellationRequested();
            var node = model.Nodes[ni];
            if (ranWithConv[ni])
            {
                // This activation ran inside the convolution before it; only the bookkeeping of its inputs is left.
                if (!options.RecordForBackward) DropFinished(node, values, readersLeft, keep, model, scope);
                continue;
            }
            if (options.FuseActivations && model.FusedActivation[ni] is var act and >= 0 && act <= stopAt
                && node.Outputs[0] is var convOut && !keep[convOut] && !interventions.ContainsKey(convOut)
                && node.Inputs.All(id => id < 0 || values[id] is not null))
            {
                RunFused(model, node, model.Nodes[act], values, rawOutputs, saved, interventions, options.RecordForBackward, scope);
                ranWithConv[act] = true;
                if (options.RecordForBackward) foldedAway[convOut] = true;
                else DropFinished(node, values, readersLeft, keep, model, scope);
                continue;
            }
            var inputs = new Tensor?[node.Inputs.Length];
            for (int k = 0; k < inputs.Length; k++)
            {
                int id = node.Inputs[k];
                if (id < 0) continue;
                inputs[k] = values[id] ?? throw new EngineException($"Node '{node.Name}' needs '{model.ValueNames[id]}', which has not been computed.");
            }
            Tensor[] outputs;
            long started = Profiler.Enabled ? System.Diagnostics.Stopwatch.GetTimestamp() : 0;
            try
            {
                outputs = node.Op.Forward(inputs, out saved[ni]);
            }
            catch (EngineException e) when (node.Op is not Unsupported)
            {
                throw NodeFailed(node, inputs, e);
            }
            catch (MemoryBudgetExceededException e)
            {
                throw e.Within(Model.NodeOutputText(node, model.ValueNames));
            }
            if (Profiler.Enabled) Profiler.Add(Profiler.Key(node, inputs) + " fwd", started);
            if (options.RecordForBackward) rawOutputs[ni] = outputs;
            else saved[ni] = null;
            for (int k = 0; k < node.Outputs.Length && k < outputs.Length; k++)
            {
                int id = node.Outputs[k];
                if (id < 0) continue;
                values[id] = interventions.TryGetValue(id, out var iv) ? Apply(iv, outputs[k]) : outputs[k];
            }
            if (scope is not null)
            {
                // What this node allocated and now holds as an output is the pass's own; raw outputs replaced by an
                // intervention count only when recorded (otherwise they are garbage and must not be kept alive).
                var produced = node.Outputs.Where(id => id >= 0).Select(id => values[id]);
                scope.Adopt(options.RecordForBackward ? produced.Concat(outputs) : produced);
            }
            if (!options.RecordForBackward) DropFinished(node, values, readersLeft, keep, model, scope);
        }
        return new ForwardPass(model, values, rawOutputs, saved, interventions, options.RecordForBackward, stopAt, keep, scope, foldedAway);
    }

    /// <summary>
    /// Frees what no later node reads, so a forward-only pass holds about one layer at a time. Its storage goes back to
    /// the pool only when this pass allocated it and no live value shares it (views such as Reshape/Flatten/Identity
    /// hand on their input's array).
    /// </summary>
    private static void DropFinished(ModelNode node, Tensor?[] values, int[] readersLeft, bool[] keep, Model model, BufferScope? scope)
    {
        foreach (var id in node.Inputs)
        {
            if (id < 0 || --readersLeft[id] != 0 || keep[id] || model.Constants[id] is not null) continue;
            var dropped = values[id];
            values[id] = null;
            if (scope is not null && dropped is { IsInteger: false } && scope.Owns(dropped.Data) && !SharesStorage(values, dropped.Data))
                scope.Recycle(dropped.Data);
        }
    }

    /// <summary>
    /// A Conv and the Relu/Clip that alone reads it, as one clamped convolution (Model.FusedActivation). When recorded,
    /// both nodes get the activation's output as their raw output, and the convolution's value slot holds it too, for the
    /// activation's backward rule (which reads its input only through comparisons that give the same answer on it).
    /// </summary>
    private static void RunFused(Model model, ModelNode conv, ModelNode activation, Tensor?[] values, Tensor[]?[] rawOutputs,
        object?[] saved, Dictionary<int, Intervention> interventions, bool recorded, BufferScope? scope)
    {
        var inputs = conv.Inputs.Select(id => id < 0 ? null : values[id]).ToArray();
        var clamp = Kernels.OutputClamp.Relu;
        if (activation.Op is Clip clip)
        {
            // Its bounds are constants (Model.FusedActivation checks); its first input is the convolution's output.
            var (lo, hi) = clip.Bounds(activation.Inputs.Select(id => id < 0 ? null : model.Constants[id]).ToArray());
            clamp = new Kernels.OutputClamp(lo, hi);
        }
        long started = Profiler.Enabled ? System.Diagnostics.Stopwatch.GetTimestamp() : 0;
        Tensor y;
        try
        {
            y = ((Conv)conv.Op).ForwardClamped(inputs, clamp);
        }
        catch (EngineException e)
        {
            throw NodeFailed(conv, inputs, e);
        }
        if (Profiler.Enabled) Profiler.Add(Profiler.Key(conv, inputs) + " +" + activation.OpType + " fwd", started);
        saved[conv.Index] = null;
        saved[activation.Index] = null;
        int output = activation.Outputs[0];
        values[output] = interventions.TryGetValue(output, out var iv) ? Apply(iv, y) : y;
        if (recorded)
        {
            rawOutputs[conv.Index] = [y];
            rawOutputs[activation.Index] = [y];
            values[conv.Outputs[0]] = y;
        }
        scope?.Adopt(recorded ? [values[output], y] : [values[output]]);
    }

    /// <summary>An op's error, with the node that raised it and the inputs it was given.</summary>
    private static EngineException NodeFailed(ModelNode node, Tensor?[] inputs, EngineException e) =>
        new($"Node '{node.Name}' ({node.OpType}) failed on inputs {string.Join(", ", inputs.Select(t => t?.ToString() ?? "none"))}: {e.Message}", e);

    private static bool SharesStorage(Tensor?[] values, float[] data)
    {
        foreach (var v in values)
            if (v is not null && ReferenceEquals(v.Data, data)) return true;
        return false;
    }

    /// <summary>
    /// Gives the storage of this pass's intermediate tensors back to the model's pool, for later passes to reuse. Kept
    /// are graph outputs, captures, every tensor a caller has read through the indexer (or <see cref="Output"/>), the
    /// inputs and the constants, and anything sharing storage with them; gradients returned by <see cref="Backward"/>
    /// are the caller's and never pooled. Afterwards the pass cannot run Backward and serves only the kept tensors.
    /// Call it when done with a pass (e.g. after each attack step); not calling it is always safe, just slower.
    /// </summary>
    public void Release()
    {
        lock (_sync)
        {
            if (_released) return;
            _released = true;
            var stays = new bool[_values.Length];
            var retained = new HashSet<float[]>(ReferenceEqualityComparer.Instance);
            for (int id = 0; id < _values.Length; id++)
            {
                stays[id] = _keep[id] || _handedOut[id] || _model.Constants[id] is not null || _model.Producer[id] < 0;
                if (stays[id] && _values[id] is { IsInteger: false } t) retained.Add(t.Data);
            }
            if (_scope is not null)
            {
                for (int id = 0; id < _values.Length; id++)
                    if (!stays[id] && _values[id] is { IsInteger: false } t && !retained.Contains(t.Data)) _scope.Recycle(t.Data);
                foreach (var outputs in _rawOutputs)
                    if (outputs is not null)
                        foreach (var t in outputs)
                            if (t is { IsInteger: false } && !retained.Contains(t.Data)) _scope.Recycle(t.Data);
            }
            for (int id = 0; id < _values.Length; id++)
                if (!stays[id]) _values[id] = null;
            Array.Clear(_rawOutputs);
            Array.Clear(_saved);
        }
    }

    private static string Describe(ModelInput input) =>
        input.DeclaredShape is null ? "[?]" : "[" + string.Join(",", input.DeclaredShape) + "]";

    /// <summary>
    /// Checks a fed tensor against the declared shape. The first (batch) dimension may differ from a fixed
    /// declared size: models exported with batch 1 still run batches.
    /// </summary>
    private static void Validate(ModelInput input, Tensor t, bool rejectNonFinite)
    {
        var declared = input.DeclaredShape;
        if (declared is not null)
        {
            if (declared.Count != t.Rank)
                throw new EngineException($"Input '{input.Name}' expects rank {declared.Count} {Describe(input)}, got {ShapeMath.Text(t.Shape)}.");
            for (int d = 1; d < declared.Count; d++)
                if (declared[d].Value is { } size && size != t.Shape[d])
                    throw new EngineException($"Input '{input.Name}' expects {Describe(input)}, got {ShapeMath.Text(t.Shape)} (dimension {d} differs).");
        }
        bool wantsFloat = input.ElementType is Onnx.OnnxElementType.Float or Onnx.OnnxElementType.Double or Onnx.OnnxElementType.Float16 or Onnx.OnnxElementType.Undefined;
        if (wantsFloat && t.IsInteger) throw new EngineException($"Input '{input.Name}' expects float values, got int64.");
        if (rejectNonFinite && !t.IsInteger)
        {
            var span = t.Span;
            for (int i = 0; i < span.Length; i++)
                if (!float.IsFinite(span[i]))
                    throw new EngineException($"Input '{input.Name}' holds {span[i]} at flat index {i}; inputs must be finite numbers. Check the preprocessing.");
        }
    }

    private static Tensor Apply(Intervention iv, Tensor y)
    {
        if (y.IsInteger) throw new EngineException($"'{iv.ValueName}' is an integer tensor; interventions apply to float activations.");
        var shape = ShapeMath.Broadcast(y.Shape, iv.Keep.Shape, "Intervention");
        if (!ShapeMath.SameShape(shape, y.Shape))
            throw new EngineException($"Intervention mask {ShapeMath.Text(iv.Keep.Shape)} does not fit '{iv.ValueName}' of shape {ShapeMath.Text(y.Shape)}.");
        var kept = Broadcasting.Apply(y, iv.Keep, BinaryKind.Mul, "Intervention");
        if (iv.Replacement is null) return kept;
        var inverse = Broadcasting.Apply(Tensor.Scalar(1f), iv.Keep, BinaryKind.Sub, "Intervention");
        var replaced = Broadcasting.Apply(iv.Replacement, inverse, BinaryKind.Mul, "Intervention");
        var result = Broadcasting.Apply(kept, replaced, BinaryKind.Add, "Intervention");
        if (!ShapeMath.SameShape(result.Shape, y.Shape))
            throw new EngineException($"Replacement {ShapeMath.Text(iv.Replacement.Shape)} does not fit '{iv.ValueName}' of shape {ShapeMath.Text(y.Shape)}.");
        return result;
    }

    /// <summary>
    /// Reverse-mode differentiation. <paramref name="seeds"/> gives dL/d(tensor) for some tensors (usually an output);
    /// the result holds dL/d(tensor) for every name in <paramref name="wrt"/>: graph inputs, intermediate tensors or
    /// weights (initializer names). Only the part of the graph between the two is visited.
    /// </summary>
    public IReadOnlyDictionary<string, Tensor> Backward(IReadOnlyDictionary<string, Tensor> seeds, IEnumerable<string> wrt,
        CancellationToken cancellation = default)
    {
        if (!_recorded) throw new EngineException("This forward pass was not recorded; run it with RunOptions.RecordForBackward = true.");
        if (_released) throw new EngineException("This forward pass was released; run Backward before calling Release.");
        var model = _model;
        var pool = model.Buffers;
        // Gradient buffers come from the model's pool and go back to it once consumed: every one of them is this call's
        // own (seeds are copied), and no backward rule keeps or hands on an output gradient.
        Tensor NewGradient(int id, bool clear) => new(_values[id]!.Shape, pool.Rent(ShapeMath.Count(_values[id]!.Shape), clear));
        void Recycle(Tensor g) { if (!g.IsInteger) pool.Return(g.Data); }
        var wrtIds = wrt.Select(model.ValueId).Distinct().ToArray();
        var wrtSet = wrtIds.ToHashSet();

        // Values that depend on a wrt value: only these need gradients.
        var needs = new bool[model.ValueCount];
        foreach (var id in wrtIds) needs[id] = true;
        for (int ni = 0; ni <= _lastNodeRun; ni++)
        {
            var node = model.Nodes[ni];
            if (node.Op.IsDifferentiable && node.Inputs.Any(i => i >= 0 && needs[i]))
                foreach (var o in node.Outputs) if (o >= 0) needs[o] = true;
        }

        var grads = new Tensor?[model.ValueCount];
        foreach (var (name, g) in seeds)
        {
            int id = model.ValueId(name);
            var value = _values[id] ?? throw new EngineException($"Cannot seed a gradient at '{name}': it was not computed.");
            if (!ShapeMath.SameShape(value.Shape, g.Shape))
                throw new EngineException($"Gradient seed for '{name}' has shape {ShapeMath.Text(g.Shape)}, but the tensor is {ShapeMath.Text(value.Shape)}.");
            if (g.IsInteger) { grads[id] = g.Clone(); continue; }
            var copy = NewGradient(id, clear: false);
            g.Span.CopyTo(copy.Span);
            grads[id] = copy;
        }

        for (int ni = _lastNodeRun; ni >= 0; ni--)
        {
            cancellation.ThrowIfCancellationRequested();
            var node = model.Nodes[ni];
            if (!node.Op.IsDifferentiable || !node.Inputs.Any(i => i >= 0 && needs[i])) continue;
            if (node.Outputs.All(o => o < 0 || grads[o] is null)) continue;

            var outputGrads = new Tensor?[node.Outputs.Length];
            for (int k = 0; k < node.Outputs.Length; k++)
            {
                int o = node.Outputs[k];
                if (o < 0 || grads[o] is not { } g) continue;
                // The op produced y; consumers saw y' = keep·y + …; so dy = keep · dy'.
                outputGrads[k] = _interventions.TryGetValue(o, out var iv) ? Broadcasting.Apply(g, iv.Keep, BinaryKind.Mul, "Intervention") : g;
            }
            var inputs = node.Inputs.Select(i => i < 0 ? null : _values[i]).ToArray();
            var wants = node.Inputs.Select(i => i >= 0 && needs[i] && _values[i] is { IsInteger: false }).ToArray();
            var context = new BackwardContext(inputs, _rawOutputs[ni]!, _saved[ni], outputGrads, wants,
                k =>
                {
                    int id = node.Inputs[k];
                    return grads[id] ??= NewGradient(id, clear: true);
                },
                !model.WriteFirstGradients ? null : (int k, out bool accumulate) =>
                {
                    int id = node.Inputs[k];
                    accumulate = grads[id] is not null;
                    return grads[id] ??= NewGradient(id, clear: false);
                });
            long started = Profiler.Enabled ? System.Diagnostics.Stopwatch.GetTimestamp() : 0;
            node.Op.Backward(context);
            if (Profiler.Enabled) Profiler.Add(Profiler.Key(node, inputs) + " bwd", started);
            // Every reader of these outputs comes later in the graph and has been visited: their gradients are final
            // and consumed. Dropping them keeps backward's memory near one layer's worth instead of the whole graph's.
            foreach (var o in node.Outputs)
                if (o >= 0 && !wrtSet.Contains(o) && grads[o] is { } consumed)
                {
                    grads[o] = null;
                    Recycle(consumed);
                }
        }

        var result = new Dictionary<string, Tensor>();
        foreach (var id in wrtIds)
        {
            var g = grads[id] ?? Tensor.Zeros(_values[id]!.Shape);
            // An edited tensor reports the gradient of the unedited one (dy = keep · dy'), consistent with what flows on.
            if (_interventions.TryGetValue(id, out var iv)) g = Broadcasting.Apply(g, iv.Keep, BinaryKind.Mul, "Intervention");
            result[model.ValueNames[id]] = g;
        }
        // What is left (seeds no node consumed, buffers an intervention replaced) goes back, except what the caller gets.
        var handed = new HashSet<float[]>(result.Values.Select(t => t.Data), ReferenceEqualityComparer.Instance);
        foreach (var g in grads)
            if (g is not null && !handed.Contains(g.Data)) Recycle(g);
        return result;
    }

    /// <summary>dL/d(input) for L = Σ output ⊙ cotangent: the common "gradient of a loss on the logits" case.</summary>
    public Tensor InputGradient(Tensor outputCotangent)
    {
        var input = _model.Inputs[0].Name;
        return Backward(new Dictionary<string, Tensor> { [_model.OutputNames[0]] = outputCotangent }, [input])[input];
    }
}

/// <summary>Opt-in per-operator timing (environment variable ADVVIS_PROFILE=1): totals print to stderr at exit.</summary>
internal static class Profiler
{
    public static readonly bool Enabled = Environment.GetEnvironmentVariable("ADVVIS_PROFILE") == "1";
    private static readonly Dictionary<string, (double Seconds, int Calls)> Totals = new();

    static Profiler()
    {
        if (Enabled) AppDomain.CurrentDomain.ProcessExit += (_, _) => Report();
    }

    /// <summary>The op type, with convolutions split by kernel size and depthwise-ness.</summary>
    public static string Key(ModelNode node, Tensor?[] inputs) =>
        node.OpType == "Conv" && inputs.Length > 1 && inputs[1] is { Rank: 4 } w
            ? $"Conv {w.Shape[2]}x{w.Shape[3]}{(w.Shape[1] == 1 && inputs[0]!.Shape[1] > 1 ? " depthwise" : "")} {inputs[0]!.Shape[1]}->{w.Shape[0]} @{inputs[0]!.Shape[^1]}"
            : node.OpType;

    public static void Add(string key, long started)
    {
        double s = System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds;
        lock (Totals) Totals[key] = Totals.TryGetValue(key, out var t) ? (t.Seconds + s, t.Calls + 1) : (s, 1);
    }

    private static void Report()
    {
        lock (Totals)
            foreach (var (key, t) in Totals.OrderByDescending(kv => kv.Value.Seconds))
                Console.Error.WriteLine($"{key,-28} {t.Seconds * 1000,10:F1} ms {t.Calls,7} calls");
    }
}
