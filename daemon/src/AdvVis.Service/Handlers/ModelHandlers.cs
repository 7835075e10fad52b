// model/open, model/close, model/list, model/graph, model/predict.
using AdvVis.Analysis.Architecture;
using AdvVis.Engine;
using AdvVis.Service.Daemon;
using AdvVis.Service.Protocol;

namespace AdvVis.Service.Handlers;

internal static class ModelHandlers
{
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

    /// <summary>The Architecture View over AdvVis.Analysis.Architecture: nodes, edges, blocks, a collapsed view, the selection check.</summary>
    private static ModelGraphResult Graph(OpenModel open, ModelGraphParams p)
    {
        var graph = open.Architecture(p.Blocks switch
        {
            GraphBlockStrategy.NameScope => BlockStrategy.NameScope,
            GraphBlockStrategy.RepeatedStructure => BlockStrategy.RepeatedStructure,
            _ => BlockStrategy.Auto,
        });
        var nodes = graph.Nodes.Select(n => new GraphNode(n.Index, n.Name, n.OpType, n.Inputs.ToArray(), n.Outputs.ToArray(), n.OutputShapes.ToArray(),
            n.ParameterCount, Camel(n.Category.ToString()), n.ReadsGraphInput, n.WritesGraphOutput, n.BlockId)).ToArray();
        var edges = graph.Edges.Select(e => new GraphEdge(e.From, e.To, e.Value, e.Shape, e.IsBranch)).ToArray();
        var blocks = graph.Blocks.Select(b => new GraphBlock(b.Id, b.Label, b.ParentId, b.Depth, b.Nodes.ToArray(), b.Children.ToArray(),
            Camel(b.Origin.ToString()), b.Signature, b.RepeatIndex, b.RepeatCount)).ToArray();
        CollapsedView? view = null;
        if (p.Collapse is { } ids)
        {
            var unknown = ids.Where(id => graph.Blocks.All(b => b.Id != id)).ToList();
            Common.Require(unknown.Count == 0, $"collapse names blocks this graph does not have: {string.Join(", ", unknown)} (see 'blocks').");
            view = graph.Collapse(ids);
        }
        else if (p.CollapseDepth is { } depth) view = graph.CollapseToDepth(depth);
        GraphSelection? selection = null;
        if (p.Selection is { Length: > 0 } selected)
        {
            var layerNames = graph.Nodes.SelectMany(n => n.Outputs).ToHashSet(StringComparer.Ordinal);
            foreach (var name in selected)
                if (!layerNames.Contains(name)) throw new EngineException($"'{name}' is not a layer output of this model; pick a layer the Architecture View lists (select it there).");
            var check = graph.ValidateSelection(selected);
            selection = new GraphSelection(check.IsSequential, check.Ordered.ToArray(), check.Message, check.ParallelFrom, check.ParallelTo);
        }
        return new ModelGraphResult(nodes, edges, blocks,
            view?.Items.Select(i => new GraphItem(i.Id, i.Label, i.IsBlock, i.Nodes.ToArray(), Camel(i.Category.ToString()), i.ParameterCount)).ToArray(),
            view?.Edges.Select(e => new GraphItemEdge(e.From, e.To, e.ValueCount, e.IsBranch)).ToArray(),
            selection, nodes.SelectMany(n => n.Outputs).ToArray(), graph.DefaultCollapseDepth, graph.ShapeError);
    }

    private static string Camel(string name) => char.ToLowerInvariant(name[0]) + name[1..];
}
