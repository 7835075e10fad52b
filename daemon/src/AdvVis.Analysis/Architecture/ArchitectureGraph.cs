// Architecture View data (Activation Profiles §4.2): the lowered model graph as nodes and edges with op type, output
// shapes, parameter counts and the paper's colour category; collapsible blocks (name scopes such as `/layer1/layer1.0/`
// or `block_15_*`, or repeated structure between single-tensor cut points when names say nothing); a collapsed view
// with the branching edges between blocks kept; and the check that a layer selection lies on one path.
using System.Text.RegularExpressions;
using AdvVis.Engine;

namespace AdvVis.Analysis.Architecture;

/// <summary>The paper's colour code: grey, blue, red.</summary>
public enum LayerCategory
{
    /// <summary>No trainable parameters (activations, pooling, reshapes, adds).</summary>
    NoParameters,
    /// <summary>Connected layers with trainable weights: Conv, ConvTranspose, Gemm, MatMul.</summary>
    ConnectedWeighted,
    /// <summary>Other trainable layers (BatchNormalization, PRelu, a bias Add, ...).</summary>
    OtherTrainable,
}

/// <summary>Where a block comes from.</summary>
public enum BlockOrigin
{
    /// <summary>A common prefix of node names (`/layer1/layer1.0/…`, `fire2/…`, `block_15_…`).</summary>
    NameScope,
    /// <summary>A stretch of the graph between single-tensor cut points, starting at a weighted layer.</summary>
    RepeatedStructure,
}

/// <summary>How <see cref="ArchitectureGraph.Build"/> forms blocks.</summary>
public enum BlockStrategy
{
    /// <summary>Name scopes when they cover at least half of the nodes, else repeated structure.</summary>
    Auto,
    NameScope,
    RepeatedStructure,
}

/// <summary>One operator of the lowered graph.</summary>
/// <param name="Index">Position in <see cref="ArchitectureGraph.Nodes"/> (topological order).</param>
/// <param name="Outputs">Output value names; a Flow/Layer View "layer" is one of these.</param>
/// <param name="OutputShapes">Per output, the shape for a batch of one (null when it could not be inferred).</param>
/// <param name="ParameterCount">Elements of the node's trainable initializers (scalars of non-weighted ops excluded).</param>
/// <param name="ReadsGraphInput">Drawn as a circle: reads a graph input.</param>
/// <param name="WritesGraphOutput">Drawn as a circle: produces a graph output.</param>
/// <param name="BlockId">Innermost block holding the node, or null.</param>
public sealed record ArchitectureNode(int Index, string Name, string OpType, IReadOnlyList<string> Inputs,
    IReadOnlyList<string> Outputs, IReadOnlyList<int[]?> OutputShapes, long ParameterCount, IReadOnlyList<string> ParameterNames,
    LayerCategory Category, bool ReadsGraphInput, bool WritesGraphOutput, string? BlockId)
{
    /// <summary>The node's <see cref="ModelNode.Index"/> in the lowered model (weight-only nodes are not layers).</summary>
    public int ModelNodeIndex { get; init; }
}

/// <summary>A value flowing from node <paramref name="From"/> to node <paramref name="To"/> (−1: graph input / output).</summary>
/// <param name="IsBranch">The value feeds several nodes, or the reader merges several computed values.</param>
public sealed record ArchitectureEdge(int From, int To, string Value, int[]? Shape, bool IsBranch);

/// <summary>A collapsible group of nodes; blocks nest (<paramref name="ParentId"/>).</summary>
/// <param name="Nodes">All nodes inside, descendants included, in topological order.</param>
/// <param name="Signature">The op types of the block's nodes in order, joined with '-'.</param>
/// <param name="RepeatIndex">1-based position among consecutive sibling blocks with the same signature.</param>
/// <param name="RepeatCount">Length of that run of identical siblings (1 when the block is not repeated).</param>
public sealed record ArchitectureBlock(string Id, string Label, string? ParentId, int Depth, IReadOnlyList<int> Nodes,
    IReadOnlyList<string> Children, BlockOrigin Origin, string Signature, int RepeatIndex, int RepeatCount);

/// <summary>A drawable item of a collapsed view: a collapsed block, or a single node (Id "node:INDEX").</summary>
public sealed record CollapsedItem(string Id, string Label, bool IsBlock, IReadOnlyList<int> Nodes, LayerCategory Category,
    long ParameterCount);

/// <summary>Edges between items of a collapsed view (−1 ids are "input" / "output").</summary>
public sealed record CollapsedEdge(string From, string To, int ValueCount, bool IsBranch);

public sealed record CollapsedView(IReadOnlyList<CollapsedItem> Items, IReadOnlyList<CollapsedEdge> Edges);

/// <summary>
/// Outcome of <see cref="ArchitectureGraph.ValidateSelection"/>: <paramref name="Ordered"/> is the selection in flow
/// order; when not sequential, <paramref name="Message"/> names the first pair that lies on different paths.
/// </summary>
public sealed record SelectionCheck(bool IsSequential, IReadOnlyList<string> Ordered, string Message, string? ParallelFrom,
    string? ParallelTo);

public sealed record GraphTerminal(string Name, int[]? Shape);

/// <summary>The Architecture View's data for one model.</summary>
public sealed partial class ArchitectureGraph
{
    private static readonly HashSet<string> WeightedOps = ["Conv", "ConvTranspose", "Gemm", "MatMul"];
    private static readonly HashSet<string> LayoutOps = ["Reshape", "Flatten", "Squeeze", "Unsqueeze", "Transpose", "Identity"];
    private static readonly HashSet<string> TrainableOps = ["BatchNormalization", "InstanceNormalization", "LayerNormalization", "PRelu"];

    private readonly Dictionary<string, int> _producer = new(StringComparer.Ordinal);
    private readonly List<int>[] _successors;

    private ArchitectureGraph(IReadOnlyList<ArchitectureNode> nodes, IReadOnlyList<ArchitectureEdge> edges,
        IReadOnlyList<ArchitectureBlock> blocks, IReadOnlyList<GraphTerminal> inputs, IReadOnlyList<GraphTerminal> outputs,
        string? shapeError, BlockOrigin? origin)
    {
        Nodes = nodes;
        Edges = edges;
        Blocks = blocks;
        Inputs = inputs;
        Outputs = outputs;
        ShapeError = shapeError;
        BlockOrigin = origin;
        foreach (ArchitectureNode n in nodes)
            foreach (string o in n.Outputs)
                _producer[o] = n.Index;
        _successors = nodes.Select(_ => new List<int>()).ToArray();
        foreach (ArchitectureEdge e in edges)
            if (e.From >= 0 && e.To >= 0 && !_successors[e.From].Contains(e.To))
                _successors[e.From].Add(e.To);
        DefaultCollapseDepth = ChooseDefaultDepth();
    }

    public IReadOnlyList<ArchitectureNode> Nodes { get; }
    public IReadOnlyList<ArchitectureEdge> Edges { get; }
    public IReadOnlyList<ArchitectureBlock> Blocks { get; }
    public IReadOnlyList<GraphTerminal> Inputs { get; }
    public IReadOnlyList<GraphTerminal> Outputs { get; }
    /// <summary>Why output shapes are missing (e.g. an unsupported operator), or null.</summary>
    public string? ShapeError { get; }
    /// <summary>How blocks were formed (null when there are none).</summary>
    public BlockOrigin? BlockOrigin { get; }
    /// <summary>Trainable parameters of the model, each shared initializer counted once.</summary>
    public long TotalParameterCount { get; private init; }
    /// <summary>The block depth whose collapse gives a readable overview (roughly 8–40 items).</summary>
    public int DefaultCollapseDepth { get; }

    /// <summary>Builds the graph of <paramref name="model"/>; shapes come from one batch-1 forward pass on zeros.</summary>
    public static ArchitectureGraph Build(Model model, BlockStrategy strategy = BlockStrategy.Auto, bool inferShapes = true)
    {
        ArgumentNullException.ThrowIfNull(model);
        string? shapeError = null;
        Dictionary<string, int[]> shapes = inferShapes ? InferShapes(model, out shapeError) : [];
        var inputNames = model.Inputs.Select(i => i.Name).ToHashSet(StringComparer.Ordinal);
        var outputNames = model.OutputNames.ToHashSet(StringComparer.Ordinal);

        // Layers are the nodes that depend on a graph input; nodes computing from weights alone (Identity copies of
        // shared initializers, a reshaped weight matrix) are folded into their readers' parameters.
        var dynamic = new bool[model.ValueCount];
        foreach (ModelInput input in model.Inputs)
            dynamic[input.ValueId] = true;
        var layerNodes = new List<ModelNode>();
        foreach (ModelNode node in model.Nodes)
        {
            if (!node.Inputs.Any(i => i >= 0 && dynamic[i]))
                continue;
            layerNodes.Add(node);
            foreach (int o in node.Outputs)
                if (o >= 0)
                    dynamic[o] = true;
        }
        int[] producerNode = Enumerable.Repeat(-1, model.ValueCount).ToArray();
        foreach (ModelNode node in model.Nodes)
            foreach (int o in node.Outputs)
                if (o >= 0)
                    producerNode[o] = node.Index;
        var sourceParams = new Dictionary<int, HashSet<string>>();
        HashSet<string> SourceParameters(int id)
        {
            if (sourceParams.TryGetValue(id, out var known))
                return known;
            var set = new HashSet<string>(StringComparer.Ordinal);
            sourceParams[id] = set;
            string name = model.ValueNames[id];
            if (model.Parameters.Contains(name) && model.ConstantValue(name) is { IsInteger: false })
                set.Add(name);
            else if (producerNode[id] >= 0)
                foreach (int i in model.Nodes[producerNode[id]].Inputs)
                    if (i >= 0)
                        set.UnionWith(SourceParameters(i));
            return set;
        }

        var readers = new Dictionary<string, List<int>>(StringComparer.Ordinal);
        for (int k = 0; k < layerNodes.Count; k++)
            foreach (int id in layerNodes[k].Inputs)
                if (id >= 0 && dynamic[id])
                {
                    string name = model.ValueNames[id];
                    if (!readers.TryGetValue(name, out var list))
                        readers[name] = list = [];
                    if (!list.Contains(k))
                        list.Add(k);
                }

        var scopes = new List<string[]>();
        var archNodes = new List<ArchitectureNode>();
        for (int k = 0; k < layerNodes.Count; k++)
        {
            ModelNode node = layerNodes[k];
            var paramNames = new List<string>();
            long count = 0;
            bool weightedOp = WeightedOps.Contains(node.OpType), trainableOp = TrainableOps.Contains(node.OpType);
            foreach (int id in node.Inputs)
            {
                if (id < 0 || dynamic[id])
                    continue;
                foreach (string name in SourceParameters(id).Order(StringComparer.Ordinal))
                {
                    Tensor t = model.ConstantValue(name)!;
                    if ((t.Length < 2 && !weightedOp && !trainableOp) || paramNames.Contains(name))
                        continue; // Clip bounds, scalar multipliers: constants, not layers' weights
                    paramNames.Add(name);
                    count += t.Length;
                }
            }
            LayerCategory category = paramNames.Count == 0 ? LayerCategory.NoParameters
                : weightedOp ? LayerCategory.ConnectedWeighted : LayerCategory.OtherTrainable;
            string[] outputs = node.Outputs.Where(o => o >= 0).Select(o => model.ValueNames[o]).ToArray();
            string display = node.Name.Length > 0 ? node.Name : outputs.FirstOrDefault() ?? node.OpType;
            archNodes.Add(new ArchitectureNode(k, display, node.OpType,
                node.Inputs.Where(i => i >= 0 && dynamic[i]).Select(i => model.ValueNames[i]).ToArray(),
                outputs, outputs.Select(o => shapes.GetValueOrDefault(o)).ToArray(), count, paramNames, category,
                node.Inputs.Any(i => i >= 0 && inputNames.Contains(model.ValueNames[i])),
                outputs.Any(outputNames.Contains), null) { ModelNodeIndex = node.Index });
            scopes.Add(ScopeOf(node.Name.Length > 0 ? node.Name : outputs.FirstOrDefault() ?? ""));
        }

        var edges = new List<ArchitectureEdge>();
        var producer = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (ArchitectureNode n in archNodes)
            foreach (string o in n.Outputs)
                producer[o] = n.Index;
        foreach (ArchitectureNode n in archNodes)
        {
            bool merge = n.Inputs.Distinct().Count() > 1;
            foreach (string v in n.Inputs.Distinct())
            {
                int from = producer.TryGetValue(v, out int p) ? p : -1;
                bool fanOut = readers.TryGetValue(v, out var r) && r.Count + (outputNames.Contains(v) ? 1 : 0) > 1;
                edges.Add(new ArchitectureEdge(from, n.Index, v, shapes.GetValueOrDefault(v), merge || fanOut));
            }
        }
        foreach (string o in model.OutputNames)
            if (producer.TryGetValue(o, out int p))
                edges.Add(new ArchitectureEdge(p, -1, o, shapes.GetValueOrDefault(o), readers.ContainsKey(o)));

        List<ArchitectureBlock> blocks = [];
        BlockOrigin? origin = null;
        if (strategy != BlockStrategy.RepeatedStructure)
        {
            blocks = ScopeBlocks(archNodes, scopes);
            int covered = blocks.Where(b => b.ParentId is null).Sum(b => b.Nodes.Count);
            if (strategy == BlockStrategy.NameScope || (covered * 2 >= archNodes.Count && blocks.Count > 1))
                origin = Architecture.BlockOrigin.NameScope;
            else
                blocks = [];
        }
        if (origin is null && strategy != BlockStrategy.NameScope)
        {
            blocks = StructuralBlocks(model, archNodes);
            origin = Architecture.BlockOrigin.RepeatedStructure;
        }
        if (blocks.Count == 0)
            origin = null;

        // Innermost block of every node.
        var innermost = new string?[archNodes.Count];
        foreach (ArchitectureBlock b in blocks.OrderBy(b => b.Depth))
            foreach (int i in b.Nodes)
                innermost[i] = b.Id;
        for (int i = 0; i < archNodes.Count; i++)
            archNodes[i] = archNodes[i] with { BlockId = innermost[i] };

        var inputs = model.Inputs.Select(i => new GraphTerminal(i.Name, shapes.GetValueOrDefault(i.Name))).ToArray();
        var terminals = model.OutputNames.Select(o => new GraphTerminal(o, shapes.GetValueOrDefault(o))).ToArray();
        long total = archNodes.SelectMany(n => n.ParameterNames).Distinct().Sum(p => (long)model.ConstantValue(p)!.Length);
        return new ArchitectureGraph(archNodes, edges, blocks, inputs, terminals, shapeError, origin) { TotalParameterCount = total };
    }

    /// <summary>Batch-1 shapes of every computed value from one forward pass on zeros of the declared input shape.</summary>
    public static Dictionary<string, int[]> InferShapes(Model model, out string? error)
    {
        var shapes = new Dictionary<string, int[]>(StringComparer.Ordinal);
        error = null;
        if (model.UnsupportedNodes.Count > 0)
        {
            error = $"the model uses operators AdvVis cannot run yet: {model.DescribeUnsupported()}";
            return shapes;
        }
        var feeds = new Dictionary<string, Tensor>();
        try
        {
            foreach (ModelInput input in model.Inputs)
            {
                int[]? dims = input.DeclaredShape?.Select(d => (int)(d.Value ?? 1)).ToArray();
                if (dims is null)
                {
                    error = $"input '{input.Name}' declares no shape";
                    return shapes;
                }
                feeds[input.Name] = input.ElementType == Onnx.OnnxElementType.Float
                    ? Tensor.Zeros(dims) : new Tensor(dims, new long[ShapeMath.Count(dims)]);
            }
            var capture = model.ValueNames.Where(n => model.ConstantValue(n) is null).ToList();
            ForwardPass pass = model.Forward(feeds, new RunOptions { Capture = capture, RejectNonFiniteInputs = false });
            foreach (string name in capture)
            {
                try
                {
                    shapes[name] = pass[name].Shape;
                }
                catch (EngineException)
                {
                }
            }
        }
        catch (Exception e) when (e is EngineException or Safety.MemoryBudgetExceededException)
        {
            // Over budget (a hostile Expand, say) leaves the graph drawable, without shapes, saying why.
            error = e.Message;
        }
        return shapes;
    }

    [GeneratedRegex(@"^([A-Za-z][A-Za-z]*_\d+)_")]
    private static partial Regex KerasScope();

    /// <summary>Scope path of a node name: '/'-separated prefixes without the last part, or a Keras `block_15_` prefix.</summary>
    internal static string[] ScopeOf(string name)
    {
        string[] parts = name.Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length > 1)
            return parts[..^1];
        Match m = KerasScope().Match(name);
        return m.Success ? [m.Groups[1].Value] : [];
    }

    private static List<ArchitectureBlock> ScopeBlocks(List<ArchitectureNode> nodes, List<string[]> scopes)
    {
        // Every scope prefix → nodes under it.
        var members = new Dictionary<string, List<int>>(StringComparer.Ordinal);
        var parentOf = new Dictionary<string, string?>(StringComparer.Ordinal);
        var order = new List<string>();
        for (int i = 0; i < nodes.Count; i++)
        {
            string? parent = null;
            for (int d = 1; d <= scopes[i].Length; d++)
            {
                string id = string.Join('/', scopes[i][..d]);
                if (!members.TryGetValue(id, out var list))
                {
                    members[id] = list = [];
                    parentOf[id] = parent;
                    order.Add(id);
                }
                list.Add(i);
                parent = id;
            }
        }
        // Keep blocks with ≥ 2 nodes whose node set differs from their nearest kept ancestor's.
        var kept = new Dictionary<string, string?>(StringComparer.Ordinal); // id → kept parent
        foreach (string id in order)
        {
            string? p = parentOf[id];
            while (p is not null && !kept.ContainsKey(p))
                p = parentOf[p];
            if (members[id].Count < 2 || (p is not null && members[p].Count == members[id].Count))
                continue;
            kept[id] = p;
        }
        var children = kept.Keys.ToDictionary(k => k, _ => new List<string>(), StringComparer.Ordinal);
        foreach (var (id, p) in kept)
            if (p is not null)
                children[p].Add(id);
        int DepthOf(string id) => kept[id] is { } p ? DepthOf(p) + 1 : 1;
        var result = new List<ArchitectureBlock>();
        foreach (string id in kept.Keys)
        {
            string label = id[(id.LastIndexOf('/') + 1)..];
            result.Add(new ArchitectureBlock(id, label, kept[id], DepthOf(id), members[id], children[id],
                Architecture.BlockOrigin.NameScope, Signature(nodes, members[id]), 1, 1));
        }
        return MarkRepeats(result);
    }

    private static string Signature(List<ArchitectureNode> nodes, IEnumerable<int> members) =>
        string.Join('-', members.Select(i => nodes[i].OpType));

    /// <summary>Numbers runs of consecutive sibling blocks with the same signature.</summary>
    private static List<ArchitectureBlock> MarkRepeats(List<ArchitectureBlock> blocks)
    {
        var result = blocks.ToList();
        foreach (var siblings in blocks.Select((b, i) => (b, i)).GroupBy(t => t.b.ParentId ?? ""))
        {
            var list = siblings.OrderBy(t => t.b.Nodes[0]).ToList();
            int start = 0;
            for (int k = 1; k <= list.Count; k++)
            {
                if (k < list.Count && list[k].b.Signature == list[start].b.Signature)
                    continue;
                int run = k - start;
                for (int m = start; m < k; m++)
                    result[list[m].i] = list[m].b with { RepeatIndex = m - start + 1, RepeatCount = run };
                start = k;
            }
        }
        return result;
    }

    /// <summary>
    /// Blocks from structure: cut the topological order where exactly one computed value is live (every path passes
    /// through it), then start a block at each segment holding a weighted layer and append the segments that follow.
    /// </summary>
    private static List<ArchitectureBlock> StructuralBlocks(Model model, List<ArchitectureNode> nodes)
    {
        int n = nodes.Count;
        var lastRead = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (ArchitectureNode node in nodes)
            foreach (string v in node.Inputs)
                lastRead[v] = node.Index;
        var outputs = model.OutputNames.ToHashSet(StringComparer.Ordinal);
        // Values computed from weights alone (a reshaped weight matrix) are constants for this purpose.
        var dynamic = nodes.SelectMany(n => n.Outputs).Concat(model.Inputs.Select(i => i.Name)).ToHashSet(StringComparer.Ordinal);
        // live[i] = values produced at or before node i (or graph inputs) still read after node i.
        var cutAfter = new bool[n];
        var live = new HashSet<string>(model.Inputs.Select(i => i.Name).Where(lastRead.ContainsKey), StringComparer.Ordinal);
        for (int i = 0; i < n; i++)
        {
            foreach (string v in nodes[i].Outputs)
                if (dynamic.Contains(v) && (lastRead.ContainsKey(v) || outputs.Contains(v)))
                    live.Add(v);
            live.RemoveWhere(v => !outputs.Contains(v) && lastRead.GetValueOrDefault(v, -1) <= i);
            cutAfter[i] = live.Count <= 1;
        }
        var segments = new List<List<int>>();
        var current = new List<int>();
        for (int i = 0; i < n; i++)
        {
            current.Add(i);
            if (cutAfter[i] || i == n - 1)
            {
                segments.Add(current);
                current = [];
            }
        }
        // Layout-only segments (Flatten before a classifier) wait to join the weighted layer that follows them.
        var groups = new List<List<int>>();
        var pending = new List<int>();
        foreach (List<int> seg in segments)
        {
            bool weighted = seg.Any(i => nodes[i].Category == LayerCategory.ConnectedWeighted);
            if (seg.All(i => LayoutOps.Contains(nodes[i].OpType)))
            {
                pending.AddRange(seg);
                continue;
            }
            if (weighted || groups.Count == 0)
                groups.Add([.. pending, .. seg]);
            else
                groups[^1].AddRange([.. pending, .. seg]);
            pending.Clear();
        }
        if (pending.Count > 0)
        {
            if (groups.Count == 0)
                groups.Add([]);
            groups[^1].AddRange(pending);
        }
        var blocks = new List<ArchitectureBlock>();
        for (int g = 0; g < groups.Count; g++)
        {
            if (groups[g].Count < 2)
                continue;
            string sig = Signature(nodes, groups[g]);
            blocks.Add(new ArchitectureBlock($"block{g}", $"{nodes[groups[g][0]].OpType} block {g}", null, 1, groups[g], [],
                Architecture.BlockOrigin.RepeatedStructure, sig, 1, 1));
        }
        blocks = MarkRepeats(blocks);
        // Label repeated blocks "Conv-Relu-MaxPool 2/4".
        return blocks.Select(b => b.RepeatCount > 1
            ? b with { Label = $"{CompactSignature(b.Signature)} {b.RepeatIndex}/{b.RepeatCount}" }
            : b with { Label = CompactSignature(b.Signature) }).ToList();
    }

    private static string CompactSignature(string signature)
    {
        string[] ops = signature.Split('-');
        return ops.Length <= 4 ? signature : string.Join('-', ops[..3]) + $"-…({ops.Length} ops)";
    }

    /// <summary>
    /// The view at nesting level <paramref name="depth"/>: blocks of that depth collapsed, shallower blocks opened
    /// (shallower blocks without children stay collapsed).
    /// </summary>
    public CollapsedView CollapseToDepth(int depth) =>
        Collapse(Blocks.Where(b => b.Depth == depth || (b.Depth < depth && b.Children.Count == 0)).Select(b => b.Id));

    /// <summary>
    /// The drawable view with the given blocks collapsed: one item per collapsed block (outermost wins) or loose node,
    /// in flow order, and the edges between items (parallel values merged; branch flags kept).
    /// </summary>
    public CollapsedView Collapse(IEnumerable<string> collapsedBlockIds)
    {
        var collapsed = collapsedBlockIds.ToHashSet(StringComparer.Ordinal);
        var byId = Blocks.ToDictionary(b => b.Id, StringComparer.Ordinal);
        foreach (string id in collapsed)
            if (!byId.ContainsKey(id))
                throw new ArgumentException($"No block '{id}'.", nameof(collapsedBlockIds));
        var itemOf = new string[Nodes.Count];
        for (int i = 0; i < Nodes.Count; i++)
        {
            itemOf[i] = $"node:{i}";
            string? id = Nodes[i].BlockId;
            while (id is not null)
            {
                if (collapsed.Contains(id))
                    itemOf[i] = id; // keep climbing: the outermost collapsed ancestor wins
                id = byId[id].ParentId;
            }
        }
        var items = new List<CollapsedItem>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < Nodes.Count; i++)
        {
            if (!seen.Add(itemOf[i]))
                continue;
            if (itemOf[i].StartsWith("node:", StringComparison.Ordinal))
            {
                items.Add(new CollapsedItem(itemOf[i], Nodes[i].Name, false, [i], Nodes[i].Category, Nodes[i].ParameterCount));
                continue;
            }
            ArchitectureBlock b = byId[itemOf[i]];
            LayerCategory cat = b.Nodes.Any(k => Nodes[k].Category == LayerCategory.ConnectedWeighted) ? LayerCategory.ConnectedWeighted
                : b.Nodes.Any(k => Nodes[k].Category == LayerCategory.OtherTrainable) ? LayerCategory.OtherTrainable : LayerCategory.NoParameters;
            items.Add(new CollapsedItem(b.Id, b.Label, true, b.Nodes, cat, b.Nodes.Sum(k => Nodes[k].ParameterCount)));
        }
        var edges = new Dictionary<(string, string), (int Count, bool Branch)>();
        foreach (ArchitectureEdge e in Edges)
        {
            string from = e.From < 0 ? "input" : itemOf[e.From], to = e.To < 0 ? "output" : itemOf[e.To];
            if (from == to)
                continue;
            var key = (from, to);
            var (count, branch) = edges.GetValueOrDefault(key);
            edges[key] = (count + 1, branch || e.IsBranch);
        }
        return new CollapsedView(items, edges.Select(kv => new CollapsedEdge(kv.Key.Item1, kv.Key.Item2, kv.Value.Count, kv.Value.Branch)).ToArray());
    }

    private int ChooseDefaultDepth()
    {
        if (Blocks.Count == 0)
            return 0;
        int maxDepth = Blocks.Max(b => b.Depth);
        int deepest = CollapseToDepth(maxDepth).Items.Count;
        for (int d = 1; d <= maxDepth; d++)
            if (CollapseToDepth(d).Items.Count >= Math.Min(8, deepest))
                return d;
        return maxDepth;
    }

    /// <summary>The node producing <paramref name="value"/>, or −1 for a graph input.</summary>
    public int ProducerOf(string value)
    {
        if (_producer.TryGetValue(value, out int p))
            return p;
        if (Inputs.Any(i => i.Name == value))
            return -1;
        throw new ArgumentException($"The model has no computed tensor named '{value}'.", nameof(value));
    }

    /// <summary>Whether a path leads from value <paramref name="from"/> to value <paramref name="to"/> (or they are equal).</summary>
    public bool Reaches(string from, string to)
    {
        if (from == to)
            return true;
        int target = ProducerOf(to);
        if (target < 0)
            return false;
        var queue = new Queue<int>();
        var visited = new bool[Nodes.Count];
        foreach (ArchitectureNode n in Nodes)
            if (n.Inputs.Contains(from) && !visited[n.Index])
            {
                visited[n.Index] = true;
                queue.Enqueue(n.Index);
            }
        while (queue.Count > 0)
        {
            int i = queue.Dequeue();
            if (i == target)
                return true;
            foreach (int s in _successors[i])
                if (!visited[s])
                {
                    visited[s] = true;
                    queue.Enqueue(s);
                }
        }
        return false;
    }

    /// <summary>
    /// Checks that the selected layers (value names) lie on one path through the graph, as the Flow View needs: every
    /// layer must feed, directly or not, the next one in flow order.
    /// </summary>
    public SelectionCheck ValidateSelection(IReadOnlyList<string> layers)
    {
        ArgumentNullException.ThrowIfNull(layers);
        if (layers.Count == 0)
            return new SelectionCheck(false, [], "Select at least one layer.", null, null);
        var distinct = layers.Distinct(StringComparer.Ordinal).ToList();
        if (distinct.Count != layers.Count)
            return new SelectionCheck(false, distinct, "A layer is selected twice.", null, null);
        List<string> ordered = distinct.OrderBy(ProducerOf).ToList();
        for (int i = 0; i + 1 < ordered.Count; i++)
        {
            if (Reaches(ordered[i], ordered[i + 1]))
                continue;
            return new SelectionCheck(false, ordered,
                $"'{ordered[i]}' and '{ordered[i + 1]}' are on parallel branches: no path leads from one to the other. " +
                "Select layers along one path (e.g. the outputs of consecutive blocks).", ordered[i], ordered[i + 1]);
        }
        return new SelectionCheck(true, ordered, ordered.Count == 1 ? "One layer selected." : $"{ordered.Count} layers on one path.", null, null);
    }
}
