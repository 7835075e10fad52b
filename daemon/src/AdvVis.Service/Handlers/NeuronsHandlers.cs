// neurons/rank, neurons/cluster, neurons/edit over AdvVis.Analysis (NeuronSpace, Clustering, Attribution.NeuronEditing).
using AdvVis.Analysis.Attribution;
using AdvVis.Analysis.Clustering;
using AdvVis.Analysis.ReceptiveFields;
using AdvVis.Service.Daemon;
using AdvVis.Service.Protocol;

namespace AdvVis.Service.Handlers;

internal static class NeuronsHandlers
{
    public static void Register(Registrar r)
    {
        r.Add<NeuronsRankParams, NeuronsRankResult>("neurons/rank", (p, _) =>
        {
            r.State.Models.Get(p.Model);
            throw Common.NotImplemented("neurons/rank", "it ranks units on adversarial images made with 'attack': " + Pending.Attacks);
        });

        r.Add<NeuronsClusterParams, NeuronsClusterResult>("neurons/cluster", (p, context) =>
        {
            var model = r.State.Models.Get(p.Model);
            Common.Require(p.Images.Length > 0, "neurons/cluster needs at least one image.");
            var sets = p.Images.Select(path => ReceptiveField.Compute(model.Model, UnitHandlers.ModelInput(model, path), p.Layer,
                new RfOptions { Threshold = p.Threshold }, context.CancellationToken)).ToList();
            int all = sets[0].UnitCount;
            var units = p.Units ?? Enumerable.Range(0, all).ToArray();
            Common.Require(units.Length >= 1 && units.All(u => u >= 0 && u < all), $"units must be between 0 and {all - 1}.");
            var metric = p.Metric switch
            {
                ClusterMetric.Iou => UnitDistance.ReceptiveFieldIoU,
                ClusterMetric.Activation => UnitDistance.ActivationMapL2,
                _ => UnitDistance.ReceptiveFieldL2,
            };
            var full = HierarchicalClustering.UnitDistances(sets, metric);
            var distances = new double[units.Length, units.Length];
            for (int i = 0; i < units.Length; i++)
                for (int j = 0; j < units.Length; j++) distances[i, j] = full[units[i], units[j]];
            var linkage = p.Linkage switch
            {
                ClusterLinkage.Single => Linkage.Single,
                ClusterLinkage.Complete => Linkage.Complete,
                ClusterLinkage.Ward => Linkage.Ward,
                _ => Linkage.Average,
            };
            var dendrogram = HierarchicalClustering.Cluster(distances, linkage, context.CancellationToken);
            return new NeuronsClusterResult(units, dendrogram.Merges.Select(m => new ClusterMerge(m.Left, m.Right, m.Height, m.Size)).ToArray(), dendrogram.LeafOrder());
        });

        r.Add<NeuronsEditParams, NeuronsEditResult>("neurons/edit", (p, context) =>
        {
            var model = r.State.Models.Get(p.Model);
            var deletions = p.Deletions.Select(d => new UnitSelection(d.Layer, d.Units)).ToList();
            EditMeasure? before = null, after = null;
            int count = 0;
            if (p.Attack is not null) throw Common.NotImplemented("neurons/edit with 'attack'", Pending.Attacks + " Leave 'attack' out to measure clean accuracy.");
            if (p.Items is { } itemsRef)
            {
                var batch = Items.Load(model, itemsRef, context.CancellationToken);
                Common.Require(batch.HasLabels, "neurons/edit measures accuracy, so its items need labels (a dataset, or items.labels).");
                context.BeginProgress("Measuring the edit", cancellable: true);
                var input = Items.ToModelInput(model, batch.Pixels);
                var result = NeuronEditing.Evaluate(model.Model, input, input, batch.Labels, deletions, null, 64, context.CancellationToken, new Progress(context));
                before = new EditMeasure(result.OriginalCleanAccuracy, null);
                after = new EditMeasure(result.CleanAccuracy, null);
                count = batch.Count;
            }
            else if (deletions.Count > 0)
            {
                // Validate the layers and units on a probe of zeros before storing the edit.
                var pre = Items.RequireImageModel(model);
                NeuronEditing.DeletionInterventions(model.Model, Engine.Tensor.Zeros(1, pre.Channels, pre.Height, pre.Width), deletions);
            }
            context.CancellationToken.ThrowIfCancellationRequested();
            model.Edits = p.Deletions; // applied whole, only after every check and measurement succeeded
            return new NeuronsEditResult(p.Deletions, count, before, after);
        });
    }
}
