// A runnable model: the ONNX graph lowered to ops in topological order, with values numbered for fast lookup.
// Immutable after loading, so one Model serves any number of concurrent forward/backward passes.
using AdvVis.Engine.Import;
using AdvVis.Engine.Ops;
using AdvVis.Onnx;
using AdvVis.Safety;

namespace AdvVis.Engine;

/// <summary>One node of the lowered graph: value ids in and out, and the op that computes them.</summary>
public sealed record ModelNode(int Index, string Name, string OpType, int[] Inputs, int[] Outputs, Op Op);

/// <summary>A graph input the caller feeds, with its declared element type and shape (dimensions may be symbolic).</summary>
public sealed record ModelInput(string Name, int ValueId, OnnxElementType ElementType, IReadOnlyList<OnnxDim>? DeclaredShape);

public sealed class Model
{
    private readonly Dictionary<string, int> _valueIds;

    public OnnxModel Source { get; }
    public IReadOnlyList<string> ValueNames { get; }
    public IReadOnlyList<ModelNode> Nodes { get; }
    public IReadOnlyList<ModelInput> Inputs { get; }
    public IReadOnlyList<string> OutputNames { get; }
    /// <summary>Values known at load time: initializers and folded constant subgraphs, by value id.</summary>
    internal Tensor?[] Constants { get; }
    /// <summary>Float initializers: the trainable weights, which gradients can target by name.</summary>
    public IReadOnlySet<string> Parameters { get; }
    /// <summary>Nodes whose operator AdvVis cannot run (the model still loads so they can be reported).</summary>
    public IReadOnlyList<Unsupported> UnsupportedNodes { get; }
    /// <summary>Producing node index per value id (−1 for inputs and constants).</summary>
    internal int[] Producer { get; }
    /// <summary>How many node inputs read each value; forward passes free a value after its last reader.</summary>
    internal int[] ReaderCount { get; }

    /// <summary>Recycled activation and gradient arrays shared by this model's passes (thread-safe, bounded).</summary>
    internal BufferPool Buffers { get; } = new(DefaultBufferPoolBytes);

    /// <summary>The default bound of <see cref="BufferPoolBytes"/>: 256 MiB.</summary>
    public const long DefaultBufferPoolBytes = 256L << 20;

    /// <summary>
    /// How many bytes of freed activation and gradient arrays this model keeps for its next operations and passes to
    /// reuse (warm memory instead of fresh zeroed pages). 0 turns recycling off; results are the same bits either way.
    /// </summary>
    public long BufferPoolBytes
    {
        get => Buffers.CapacityBytes;
        set => Buffers.CapacityBytes = value;
    }

    /// <summary>
    /// Test hook: false makes backward rules see only zeroed, add-only gradient buffers (GradientForWrite answers
    /// accumulate = true), the behaviour before the write-first API, so tests can compare the two bit for bit.
    /// </summary>
    internal bool WriteFirstGradients { get; set; } = true;

    public int ValueCount => ValueNames.Count;
    public long Opset => Source.DefaultOpset;

    private Model(OnnxModel source, List<string> valueNames, Dictionary<string, int> ids, List<ModelNode> nodes,
        List<ModelInput> inputs, List<string> outputs, Tensor?[] constants, HashSet<string> parameters)
    {
        Source = source; ValueNames = valueNames; _valueIds = ids; Nodes = nodes; Inputs = inputs; OutputNames = outputs;
        Constants = constants; Parameters = parameters;
        UnsupportedNodes = nodes.Select(n => n.Op).OfType<Unsupported>().ToList();
        Producer = Enumerable.Repeat(-1, valueNames.Count).ToArray();
        ReaderCount = new int[valueNames.Count];
        foreach (var n in nodes)
        {
            foreach (var o in n.Outputs) if (o >= 0) Producer[o] = n.Index;
            foreach (var i in n.Inputs) if (i >= 0) ReaderCount[i]++;
        }
        FusedActivation = FindFusableActivations();
    }

    /// <summary>
    /// Per node: for a Conv whose output only a Relu (or a Clip with constant bounds) reads, that activation node's
    /// index, else −1. Forward passes may run the pair as one clamped convolution (RunOptions.FuseActivations).
    /// </summary>
    internal int[] FusedActivation { get; }

    private int[] FindFusableActivations()
    {
        var fused = Enumerable.Repeat(-1, Nodes.Count).ToArray();
        var outputs = OutputNames.Select(n => _valueIds.TryGetValue(n, out var id) ? id : -1).ToHashSet();
        var reader = Enumerable.Repeat(-1, ValueNames.Count).ToArray();
        foreach (var n in Nodes)
            foreach (var i in n.Inputs) if (i >= 0) reader[i] = n.Index;
        foreach (var n in Nodes)
        {
            if (n.Op is not Ops.Conv || n.Outputs.Length != 1 || n.Outputs[0] is var y && (y < 0 || ReaderCount[y] != 1 || outputs.Contains(y)))
                continue;
            var a = Nodes[reader[y]];
            bool activation = a.Op is Ops.Relu
                              || (a.Op is Ops.Clip && a.Inputs.Skip(1).All(i => i < 0 || Constants[i] is { IsInteger: false }));
            if (activation && a.Inputs.Length >= 1 && a.Inputs[0] == y && a.Outputs.Length == 1 && a.Outputs[0] >= 0 && a.Index > n.Index)
                fused[n.Index] = a.Index;
        }
        return fused;
    }

    /// <summary>
    /// The computed values that every path from the graph inputs to <paramref name="output"/> (default: the first
    /// output) passes through, the output included: the trunk of the network (block outputs of ResNets and
    /// MobileNets, Concats of Inception or SqueezeNet fire modules), never a value inside a parallel branch. Any of
    /// these, taken in graph order, lie on one path, so they make a valid sequential layer selection.
    /// </summary>
    public IReadOnlySet<int> ValuesOnEveryPath(string? output = null)
    {
        // Dominators over values (the graph is a DAG and Nodes are topologically sorted): a value's immediate
        // dominator is the nearest common dominator of its producer's computed inputs; graph inputs hang off a
        // virtual root (−1), so with several inputs only values after their meeting point dominate.
        var idom = Enumerable.Repeat(-2, ValueNames.Count).ToArray(); // −2: not computed from an input
        var depth = new int[ValueNames.Count];
        foreach (var input in Inputs)
            if (input.ValueId >= 0) { idom[input.ValueId] = -1; depth[input.ValueId] = 1; }
        int Meet(int a, int b)
        {
            while (a != b)
            {
                if (a < 0 || b < 0) return -1;
                if (depth[a] >= depth[b]) a = idom[a]; else b = idom[b];
            }
            return a;
        }
        foreach (var node in Nodes)
        {
            int meet = -2;
            foreach (int i in node.Inputs)
                if (i >= 0 && idom[i] != -2) meet = meet == -2 ? i : Meet(meet, i);
            if (meet == -2) continue;
            foreach (int o in node.Outputs)
                if (o >= 0) { idom[o] = meet; depth[o] = meet < 0 ? 1 : depth[meet] + 1; }
        }
        var onEveryPath = new HashSet<int>();
        for (int v = ValueId(output ?? OutputNames[0]); v >= 0; v = idom[v])
            onEveryPath.Add(v);
        onEveryPath.ExceptWith(Inputs.Select(i => i.ValueId));
        return onEveryPath;
    }

    /// <summary>
    /// The operators AdvVis cannot run, for users: each op type once, with how many nodes use it ("Trilu (2 nodes),
    /// Einsum (1 node)"); null when every node runs.
    /// </summary>
    public string? DescribeUnsupported() => UnsupportedNodes.Count == 0 ? null
        : string.Join(", ", UnsupportedNodes.GroupBy(u => u.OpType, StringComparer.Ordinal)
            .Select(g => $"{g.Key} ({g.Count()} node{(g.Count() == 1 ? "" : "s")})"));

    public static Model Load(string path) => FromOnnx(OnnxReader.LoadModel(path));

    public bool TryGetValueId(string name, out int id) => _valueIds.TryGetValue(name, out id);

    public int ValueId(string name) => _valueIds.TryGetValue(name, out var id)
        ? id
        : throw new EngineException($"The model has no tensor named '{name}'; use one of its node outputs (the Architecture View shows them; on the command line, `advvis info MODEL`).");

    /// <summary>A constant (initializer or folded) by name, or null if the value is computed at run time.</summary>
    public Tensor? ConstantValue(string name) => _valueIds.TryGetValue(name, out var id) ? Constants[id] : null;

    public static Model FromOnnx(OnnxModel onnx)
    {
        var graph = onnx.Graph;
        var names = new List<string>();
        var ids = new Dictionary<string, int>();
        int Id(string name)
        {
            if (name.Length == 0) return -1; // an omitted optional input or output
            if (!ids.TryGetValue(name, out var id)) { id = names.Count; names.Add(name); ids[name] = id; }
            return id;
        }

        var constants = new Dictionary<int, Tensor>();
        var parameters = new HashSet<string>();
        foreach (var (name, t) in graph.Initializers)
        {
            constants[Id(name)] = TensorConversion.FromOnnx(t);
            if (t.IsFloating) parameters.Add(name);
        }

        var inputs = graph.Inputs.Where(i => !graph.Initializers.ContainsKey(i.Name))
            .Select(i => new ModelInput(i.Name, Id(i.Name), i.ElementType, i.Shape)).ToList();
        var outputs = graph.Outputs.Select(o => o.Name).ToList();

        var ordered = TopologicalOrder(graph, ids.Keys.ToHashSet());
        var nodes = new List<ModelNode>();
        foreach (var n in ordered)
        {
            var op = OperatorTable.Create(n, onnx.DefaultOpset);
            nodes.Add(new ModelNode(nodes.Count, n.DisplayName, n.OpType, n.Inputs.Select(Id).ToArray(), n.Outputs.Select(Id).ToArray(), op));
        }
        foreach (var o in outputs)
            if (!ids.ContainsKey(o)) throw new OnnxFormatException($"Graph output '{o}' is produced by no node; the model is malformed.");

        var constantArray = new Tensor?[names.Count];
        foreach (var (id, t) in constants) constantArray[id] = t;
        nodes = FoldConstants(nodes, constantArray, names, new StaticShapes(nodes, constantArray, inputs));
        foreach (var t in constantArray) if (t is not null) t.IsConstant = true;
        return new Model(onnx, names, ids, nodes, inputs, outputs, constantArray, parameters);
    }

    /// <summary>
    /// ONNX requires nodes in topological order, but some exporters do not comply; sort (stably) and
    /// reject graphs that read a tensor nothing produces.
    /// </summary>
    private static List<OnnxNode> TopologicalOrder(OnnxGraph graph, HashSet<string> available)
    {
        var remaining = graph.Nodes.ToList();
        var result = new List<OnnxNode>(remaining.Count);
        var known = new HashSet<string>(available) { "" };
        while (remaining.Count > 0)
        {
            int before = remaining.Count;
            for (int i = 0; i < remaining.Count;)
            {
                var n = remaining[i];
                if (n.Inputs.All(known.Contains))
                {
                    result.Add(n);
                    foreach (var o in n.Outputs) known.Add(o);
                    remaining.RemoveAt(i);
                }
                else i++;
            }
            if (remaining.Count == before)
            {
                var n = remaining[0];
                var missing = n.Inputs.First(x => !known.Contains(x));
                throw new OnnxFormatException($"Node '{n.DisplayName}' ({n.OpType}) reads '{missing}', which no node, input or initializer provides (or the graph has a cycle).");
            }
        }
        return result;
    }

    /// <summary>
    /// Evaluates at load time every node whose inputs are all constants and none of them a weight, e.g. the
    /// Constant/Shape/Gather/Unsqueeze/Concat chains that feed Reshape, and (through <see cref="StaticShapes"/>) every
    /// Shape node whose sizes the declared input fixes, with what is computed from it. Weights are never folded into
    /// other values, so gradients with respect to them stay meaningful.
    /// </summary>
    /// <remarks>
    /// Folded values stay in memory with the model, so together they must fit the memory budget (each one's size is
    /// checked before it is allocated, by ShapeMath.Count); a model that needs more fails to load, naming the node.
    /// </remarks>
    private static List<ModelNode> FoldConstants(List<ModelNode> nodes, Tensor?[] constants, List<string> valueNames, StaticShapes shapes)
    {
        var weightIds = new HashSet<int>(Enumerable.Range(0, constants.Length).Where(i => constants[i] is { IsInteger: false }));
        var kept = new List<ModelNode>();
        var budget = MemoryBudget.Current;
        long foldedBytes = 0;
        foreach (var n in nodes)
        {
            bool foldable = n.Op is not Unsupported
                            && n.Inputs.All(i => i < 0 || constants[i] is not null)
                            && n.Inputs.All(i => i < 0 || !weightIds.Contains(i));
            if (foldable)
            {
                string where = $"{NodeOutputText(n, valueNames)} at load (constant folding)";
                try
                {
                    var outputs = n.Op.Forward(n.Inputs.Select(i => i < 0 ? null : constants[i]).ToArray(), out _);
                    for (int k = 0; k < n.Outputs.Length && k < outputs.Length; k++)
                    {
                        if (n.Outputs[k] < 0) continue;
                        constants[n.Outputs[k]] = outputs[k];
                        foldedBytes += (long)outputs[k].Length * (outputs[k].IsInteger ? sizeof(long) : sizeof(float));
                    }
                    budget.EnsureFits(foldedBytes, "the constants folded so far (this one included)");
                    continue;
                }
                catch (MemoryBudgetExceededException e)
                {
                    throw e.Within(where);
                }
                catch (EngineException)
                {
                    // Leave it to run time, where the same error surfaces with the user's input in context.
                }
            }
            else if (n.Op is not Unsupported && shapes.TryFold(n, constants)) continue;
            kept.Add(n);
        }
        return kept.Select((n, i) => n with { Index = i }).ToList();
    }

    /// <summary>"output 'y' of node 'bomb' (ConstantOfShape)", for errors that must name the tensor.</summary>
    internal static string NodeOutputText(ModelNode n, IReadOnlyList<string> valueNames)
    {
        string output = n.Outputs.FirstOrDefault(o => o >= 0, -1) is var o && o >= 0 ? $"output '{valueNames[o]}' of " : "";
        return $"{output}node '{n.Name}' ({n.OpType})";
    }

    /// <summary>Runs the model forward. See <see cref="RunOptions"/> for capture, interventions and gradients.</summary>
    public ForwardPass Forward(IReadOnlyDictionary<string, Tensor> feeds, RunOptions? options = null) =>
        ForwardPass.Run(this, feeds, options ?? new RunOptions());

    /// <summary>Convenience for single-input models.</summary>
    public ForwardPass Forward(Tensor input, RunOptions? options = null)
    {
        if (Inputs.Count != 1)
            throw new EngineException($"The model has {Inputs.Count} inputs ({string.Join(", ", Inputs.Select(i => i.Name))}); name them.");
        return Forward(new Dictionary<string, Tensor> { [Inputs[0].Name] = input }, options);
    }
}
