// model/open, model/close, model/list, model/graph, model/predict.
using AdvVis.Engine;
using AdvVis.Service.Daemon;
using AdvVis.Service.Protocol;

namespace AdvVis.Service.Handlers;

internal static class ModelHandlers
{
    private static readonly HashSet<string> Weighted = new(StringComparer.Ordinal) { "Conv", "ConvTranspose", "Gemm", "MatMul" };

    public static void Register(Registrar r)
    {
        var models = r.State.Models;
        r.Add<ModelOpenParams, ModelInfo>("model/open", (p, context) => ModelStore.Describe(models.Open(p.Path, p.Sha256, context.CancellationToken)));
        r.Add<ModelRefParams, ModelCloseResult>("model/close", (p, _) => new ModelCloseResult(models.Close(p.Model)));
        r.Add("model/list", _ => new ModelListResult(models.All.Select(ModelStore.Describe).ToArray()));
        r.Add<ModelGraphParams, ModelGraphResult>("model/graph", (p, _) => Graph(models.Get(p.Model), p));
        r.Add<ModelPredictParams, ModelPredictResult>("model/predict", (p, context) =>
        {
            var model = models.Get(p.Model);
            var batch = Items.Load(model, p.Items, context.CancellationToken);
            var edits = p.ApplyEdits ? model.Edits : [];
            context.BeginProgress("Predicting", $"{batch.Count} items", 0, cancellable: true);
            var interventions = edits.Length == 0 ? null
                : Analysis.Attribution.NeuronEditing.DeletionInterventions(model.Model, Items.ToModelInput(model, batch.Pixels),
                    edits.Select(e => new Analysis.Attribution.UnitSelection(e.Layer, e.Units)).ToList());
            var output = Analysis.NeuronSpace.ModelProbe.RunBatched(model.Model, Items.ToModelInput(model, batch.Pixels), [], 64, interventions,
                context.CancellationToken).Output;
            var probabilities = Common.Probabilities(output);
            var labels = model.Labels?.Names ?? (batch.ClassNames.Count > 0 ? batch.ClassNames : null);
            var items = probabilities.Select((row, i) => new ItemPrediction(batch.Sources[i], batch.HasLabels ? batch.Labels[i] : null,
                Common.Predict(row, labels))).ToArray();
            double? accuracy = batch.HasLabels ? items.Count(i => i.Prediction.Class == i.TrueClass) / (double)items.Length : null;
            return new ModelPredictResult(items, accuracy, edits.Length > 0);
        });
    }

    /// <summary>The lowered graph with output shapes (one forward pass on zeros), parameter counts and colour categories.</summary>
    private static ModelGraphResult Graph(OpenModel open, ModelGraphParams p)
    {
        var model = open.Model;
        var shapes = Shapes(open);
        var producer = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var node in model.Nodes) foreach (var o in node.Outputs) producer[model.ValueNames[o]] = node.Index;
        var readers = new Dictionary<string, List<int>>(StringComparer.Ordinal);
        foreach (var node in model.Nodes)
            foreach (var i in node.Inputs.Where(i => i >= 0))
            {
                var name = model.ValueNames[i];
                if (!readers.TryGetValue(name, out var list)) readers[name] = list = [];
                list.Add(node.Index);
            }
        var inputNames = model.Inputs.Select(i => i.Name).ToHashSet(StringComparer.Ordinal);
        var outputNames = model.OutputNames.ToHashSet(StringComparer.Ordinal);
        var nodes = model.Nodes.Select(n =>
        {
            var ins = n.Inputs.Where(i => i >= 0).Select(i => model.ValueNames[i]).ToArray();
            var outs = n.Outputs.Select(o => model.ValueNames[o]).ToArray();
            var parameters = ins.Where(model.Parameters.Contains).ToList();
            long count = parameters.Sum(x => (long)(model.ConstantValue(x)?.Length ?? 0));
            string category = Weighted.Contains(n.OpType) && count > 0 ? "connectedWeighted" : count > 0 ? "otherTrainable" : "noParameters";
            return new GraphNode(n.Index, n.Name, n.OpType, ins, outs, outs.Select(o => shapes.GetValueOrDefault(o)).ToArray(), count, category,
                ins.Any(inputNames.Contains), outs.Any(outputNames.Contains), null);
        }).ToArray();
        var edges = new List<GraphEdge>();
        foreach (var node in nodes)
            foreach (var input in node.Inputs.Where(i => !model.Parameters.Contains(i) && model.ConstantValue(i) is null))
            {
                int from = producer.TryGetValue(input, out var f) ? f : -1;
                bool branch = readers.TryGetValue(input, out var rs) && rs.Count > 1;
                edges.Add(new GraphEdge(from, node.Index, input, shapes.GetValueOrDefault(input), branch));
            }
        foreach (var output in model.OutputNames)
            if (producer.TryGetValue(output, out var f)) edges.Add(new GraphEdge(f, -1, output, shapes.GetValueOrDefault(output), false));
        GraphSelection? selection = null;
        if (p.Selection is { Length: > 0 } selected) selection = CheckSelection(model, selected, producer, readers);
        return new ModelGraphResult(nodes, edges.ToArray(), [], null, null, selection, nodes.SelectMany(n => n.Outputs).ToArray());
    }

    /// <summary>Whether the selected values lie on one path: each must be reachable from the one before it.</summary>
    private static GraphSelection CheckSelection(Model model, string[] selected, Dictionary<string, int> producer, Dictionary<string, List<int>> readers)
    {
        foreach (var name in selected)
            if (!producer.ContainsKey(name)) throw new Engine.EngineException($"'{name}' is not a layer output of this model; see model/graph's 'layers'.");
        var ordered = selected.Distinct().OrderBy(n => producer[n]).ToArray();
        bool Reaches(string from, string to)
        {
            var seen = new HashSet<string>(StringComparer.Ordinal);
            var stack = new Stack<string>([from]);
            while (stack.Count > 0)
            {
                var v = stack.Pop();
                if (v == to) return true;
                if (!seen.Add(v) || !readers.TryGetValue(v, out var rs)) continue;
                foreach (var node in rs) foreach (var o in model.Nodes[node].Outputs) stack.Push(model.ValueNames[o]);
            }
            return false;
        }
        for (int i = 0; i + 1 < ordered.Length; i++)
            if (!Reaches(ordered[i], ordered[i + 1]))
                return new GraphSelection(false, ordered, $"'{ordered[i]}' and '{ordered[i + 1]}' lie on parallel paths; choose layers along one path.", ordered[i], ordered[i + 1]);
        return new GraphSelection(true, ordered, "The selected layers lie on one path.", null, null);
    }

    private static Dictionary<string, int[]?> Shapes(OpenModel open)
    {
        var model = open.Model;
        var result = new Dictionary<string, int[]?>(StringComparer.Ordinal);
        if (model.UnsupportedNodes.Count > 0) return result;
        var feeds = new Dictionary<string, Tensor>();
        foreach (var input in model.Inputs)
        {
            if (input.DeclaredShape is not { } dims) return result;
            feeds[input.Name] = Tensor.Zeros(dims.Select(d => (int)(d.Value ?? 1)).ToArray());
        }
        try
        {
            var pass = model.Forward(feeds, new RunOptions { Capture = model.ValueNames.Where(n => model.ConstantValue(n) is null).ToList() });
            foreach (var name in model.ValueNames)
            {
                if (model.ConstantValue(name) is { } c) { result[name] = c.Shape; continue; }
                try { result[name] = pass[name].Shape; } catch (EngineException) { }
            }
        }
        catch (EngineException) { }
        return result;
    }
}
