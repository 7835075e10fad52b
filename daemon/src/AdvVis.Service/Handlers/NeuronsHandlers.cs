// neurons/rank, neurons/cluster, neurons/edit over AdvVis.Analysis (NeuronSpace, Clustering, Attribution.NeuronEditing).
using AdvVis.Analysis.Attribution;
using AdvVis.Analysis.Clustering;
using AdvVis.Analysis.NeuronSpace;
using AdvVis.Analysis.ReceptiveFields;
using AdvVis.Service.Cache;
using AdvVis.Service.JsonRpc;
using AdvVis.Service.Daemon;
using AdvVis.Service.Protocol;

namespace AdvVis.Service.Handlers;

internal static class NeuronsHandlers
{
    public static void Register(Registrar r)
    {
        r.Add<NeuronsRankParams, NeuronsRankResult>("neurons/rank", (p, context) => Rank(r, p, context));

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
            bool labelsPredicted = false;
            Common.Require(p.Attack is null || p.Items is not null, "Measuring the edit against an attack needs images to attack ('items').");
            if (p.Items is { } itemsRef)
            {
                var batch = Items.Load(model, itemsRef, context.CancellationToken);
                context.BeginProgress("Measuring the edit", p.Attack is null ? null : "attacking the original model", 0, cancellable: true);
                var input = Items.ToModelInput(model, batch.Pixels);
                var adversarial = input;
                double from = 0;
                // Items without labels are measured against the original model's predictions (the result says so).
                labelsPredicted = !batch.HasLabels;
                int[] labels = batch.Labels;
                if (p.Attack is { } attack)
                {
                    // Adversarial examples crafted on the unedited model: does deleting the units blunt this attack?
                    var (run, _, _, attacked) = AttackHandlers.Run(model, batch, AttackHandlers.Options(attack), context, 0, 0.8);
                    adversarial = Items.ToModelInput(model, run.Adversarial);
                    labels = attacked;
                    from = 0.8;
                }
                else if (labelsPredicted)
                {
                    var clean = AttackHandlers.AttackModelFor(model).Evaluate(batch.Pixels, context.CancellationToken);
                    labels = Enumerable.Range(0, batch.Count).Select(clean.Predicted).ToArray();
                }
                var result = NeuronEditing.Evaluate(model.Model, input, adversarial, labels, deletions, p.Attack?.TargetClass, 64,
                    context.CancellationToken, new Progress(context, "measuring", from, 1));
                before = new EditMeasure(result.OriginalCleanAccuracy, p.Attack is null ? null : result.OriginalAttackSuccessRate);
                after = new EditMeasure(result.CleanAccuracy, p.Attack is null ? null : result.AttackSuccessRate);
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
            return new NeuronsEditResult(p.Deletions, count, before, after, UnitsDeleted(p.Deletions), labelsPredicted);
        });
    }

    /// <summary>How many distinct units a deletion set removes (a unit named twice, or in two entries, counts once).</summary>
    internal static int UnitsDeleted(IEnumerable<NeuronDeletion> deletions) =>
        deletions.SelectMany(d => d.Units.Select(u => (d.Layer, u))).Distinct().Count();

    /// <summary>
    /// Li et al.'s neuron-perturbation ranking: attack the items, take every unit's activation × effective weight
    /// (AdvVis.Analysis.NeuronSpace.NeuronVulnerability) towards the benign and the adversarial class, and rank the
    /// units by the band gap of the two classes' confidence bands, by the gap of their mean curves, or by the IoU of
    /// their receptive fields with one pair's vulnerability map.
    /// </summary>
    private static NeuronsRankResult Rank(Registrar r, NeuronsRankParams p, RequestContext context)
    {
        var model = r.State.Models.Get(p.Model);
        Common.Require(p.Confidence > 0 && p.Confidence < 1, "confidence must be between 0 and 1 (e.g. 0.95).");
        Common.Require(p.TopK >= 1, "topK must be at least 1.");
        if (p.Layer is { } named) UnitHandlers.RequireLayer(model, named);
        var batch = Items.Load(model, p.Items, context.CancellationToken, maxItems: 5_000);
        return Common.Cached(r, context, "neurons/rank", model.Sha256, p with { Items = new ItemsRef() }, batch.Fingerprint, blobs =>
        {
            context.BeginProgress("Neuron vulnerability", "attacking", 0, cancellable: true);
            var (run, _, _, labels) = AttackHandlers.Run(model, batch, AttackHandlers.Options(p.Attack), context, 0, 0.5);
            var benign = Items.ToModelInput(model, batch.Pixels);
            var adversarial = Items.ToModelInput(model, run.Adversarial);
            var c = NeuronVulnerability.Contributions(model.Model, benign, adversarial, labels,
                new NeuronSpaceOptions { Layer = p.Layer, BandZ = NormalQuantile(0.5 + p.Confidence / 2) }, context.CancellationToken,
                new Progress(context, "activation × weight", 0.5, p.By == RankBy.Iou ? 0.8 : 1));
            int b = p.BenignClass ?? Mode(c.TrueLabels)
                ?? throw new JsonRpcException(JsonRpcErrorCodes.InvalidParams, "No item has a label; pass benignClass.");
            int a = p.AdversarialClass ?? Mode(Enumerable.Range(0, labels.Length).Where(i => c.TrueLabels[i] == b && c.AdversarialLabels[i] != b)
                    .Select(i => c.AdversarialLabels[i]).ToArray())
                ?? throw new JsonRpcException(JsonRpcErrorCodes.InvalidParams, $"The attack moved no item of class {b} to another class; pass adversarialClass or a stronger attack.");
            var benignRows = Enumerable.Range(0, labels.Length).Where(i => c.TrueLabels[i] == b).ToArray();
            var adversarialRows = Enumerable.Range(0, labels.Length).Where(i => c.AdversarialLabels[i] == a).ToArray();
            Common.Require(benignRows.Length > 0, $"No item has the benign class {b}.");
            Common.Require(adversarialRows.Length > 0, $"No adversarial item is classified as {a}.");
            int units = c.UnitCount;
            var bandB = c.BenignBand(b);
            var bandA = c.AdversarialBand(a);
            var meanB = Mean(benignRows.Select(i => c.BenignContribution[i]).ToList(), units);
            var meanA = Mean(adversarialRows.Select(i => c.AdversarialContribution[i]).ToList(), units);
            var bandGap = new float[units];
            var curveGap = new float[units];
            for (int u = 0; u < units; u++)
            {
                bandGap[u] = NeuronVulnerability.BandGap(bandA[u], bandB[u]);
                curveGap[u] = meanA[u] - meanB[u];
            }
            double[]? iou = null;
            if (p.By == RankBy.Iou)
            {
                // One pair: the first item of the benign class that the attack moved to the adversarial class.
                int pair = benignRows.FirstOrDefault(i => c.AdversarialLabels[i] == a, -1);
                Common.Require(pair >= 0, $"No item of class {b} was moved to class {a}, so no vulnerability map can be made for by=iou.");
                var one = ModelProbe.Slice(benign, pair, 1);
                var rfs = ReceptiveField.Compute(model.Model, one, c.Layer, new RfOptions(), context.CancellationToken);
                var maps = VulnerabilityMap.Compute(model.Model, one, ModelProbe.Slice(adversarial, pair, 1), null, null, new VulnerabilityMapOptions(),
                    context.CancellationToken, new Progress(context, "vulnerability map", 0.8, 1));
                var vulnerable = ReceptiveField.ResizeMask(maps.BinarizedBMap(0.2), maps.Height, maps.Width, rfs.Height, rfs.Width);
                iou = Enumerable.Range(0, units).Select(u => ReceptiveField.IoU(rfs.Masks[u], vulnerable)).ToArray();
            }
            int[] order = p.By switch
            {
                RankBy.CurveGap => NeuronVulnerability.RankDescending(curveGap),
                RankBy.Iou => Enumerable.Range(0, units).OrderByDescending(u => iou![u]).ThenBy(u => u).ToArray(),
                _ => NeuronVulnerability.RankByBandGap(bandGap, curveGap),
            };
            int limit = r.State.InlineLimitBytes;
            float[] Flat(Band[] bands) => bands.SelectMany(x => new[] { x.Lower, x.Upper }).ToArray();
            return new NeuronsRankResult(c.Layer, b, a,
                order.Take(p.TopK).Select(u => new RankedUnit(u, bandGap[u], curveGap[u], iou?[u])).ToArray(),
                Payloads.Array(meanB, [units], blobs, limit), Payloads.Array(Flat(bandB), [units, 2], blobs, limit),
                Payloads.Array(meanA, [units], blobs, limit), Payloads.Array(Flat(bandA), [units, 2], blobs, limit), false,
                units, benignRows.Length, adversarialRows.Length, run.Summary.SuccessRate);
        }, hit => hit with { FromCache = true });
    }

    /// <summary>The most frequent non-negative value (smallest on ties), or null when there is none.</summary>
    private static int? Mode(int[] values) =>
        values.Where(v => v >= 0).GroupBy(v => v).OrderByDescending(g => g.Count()).ThenBy(g => g.Key).Select(g => (int?)g.Key).FirstOrDefault();

    private static float[] Mean(IReadOnlyList<float[]> rows, int units)
    {
        var mean = new float[units];
        for (int u = 0; u < units; u++)
        {
            double sum = 0;
            foreach (var row in rows) sum += row[u];
            mean[u] = (float)(sum / rows.Count);
        }
        return mean;
    }

    /// <summary>The standard normal quantile (Acklam's rational approximation, relative error below 1.2e-9).</summary>
    internal static double NormalQuantile(double p)
    {
        double[] a = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00];
        double[] b = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01, -1.328068155288572e+01];
        double[] c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00];
        double[] d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00];
        const double low = 0.02425;
        if (p < low)
        {
            double q = Math.Sqrt(-2 * Math.Log(p));
            return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
        }
        if (p > 1 - low)
        {
            double q = Math.Sqrt(-2 * Math.Log(1 - p));
            return -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
        }
        double t = p - 0.5, r2 = t * t;
        return (((((a[0] * r2 + a[1]) * r2 + a[2]) * r2 + a[3]) * r2 + a[4]) * r2 + a[5]) * t / (((((b[0] * r2 + b[1]) * r2 + b[2]) * r2 + b[3]) * r2 + b[4]) * r2 + 1);
    }
}
