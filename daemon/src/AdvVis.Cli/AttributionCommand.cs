// `advvis attribution MODEL --data DATA --benign-class B --target-class T [--attack pgd] [--eps E] [--layers L1,L2]
// [--fractionation E1,E2,...] [--delete LAYER:U1,U2;LAYER2:U3] [--json]`: MASSIF's attribution graph for the images of
// class B and their attacked versions (towards T): top units per layer, edges by influence, and every unit classed
// suppressed / emphasized / shared; optionally the ε sweep (each unit's weakest changing ε) and neuron deletion.
using System.Globalization;
using System.Text.Json.Nodes;
using AdvVis.Analysis.Attribution;
using AdvVis.Analysis.NeuronSpace;
using AdvVis.Attacks;
using AdvVis.Engine;

namespace AdvVis.Cli;

internal static class AttributionCommand
{
    public static int Run(ParsedArgs args, CancellationToken cancellation)
    {
        var modelPath = args.RequirePositional(0, "MODEL (an .onnx file)");
        var dataPath = args.Require("--data", "DATA (image folder, .tar.gz, IDX, CIFAR .bin, .npz/.npy or an image)");
        var m = CliModel.Load(modelPath, args);
        int benignClass = ClassArg(m, args.Require("--benign-class", "B (the class whose images are attacked: index or name)"), "--benign-class");
        var targetText = args.Require("--target-class", "T (the class the attack aims for: index or name, or 'none' for an untargeted attack)");
        int? target = targetText.ToLowerInvariant() is "none" or "untargeted" or "-1" ? null : ClassArg(m, targetText, "--target-class");
        if (target == benignClass) throw new CliException($"--target-class equals --benign-class ({benignClass}); pick another target or 'none'.");
        if (args.Has("--targeted")) throw new CliException("Use --target-class, not --targeted, with `advvis attribution`.");
        var attackOptions = m.AttackOptions(args, ExplainCommand.Defaults with { TargetClass = target });
        var options = new AttributionOptions
        {
            Layers = args.Get("--layers")?.Split(',').Select(s => s.Trim()).Where(s => s.Length > 0).ToList(),
            TopUnitsPerLayer = CliModel.Int(args, "--top-units") ?? 10,
            TopEdgesPerUnit = CliModel.Int(args, "--top-edges") ?? 3,
            SuppressedThreshold = CliModel.Floats(args, "--suppressed")?[0] ?? 0.5,
            EmphasizedThreshold = CliModel.Floats(args, "--emphasized")?[0] ?? 0.5,
            ActivityFloor = CliModel.Floats(args, "--floor")?[0] ?? 0.05,
            BatchSize = CliModel.Int(args, "--analysis-batch") ?? 64,
        };
        if (options.TopUnitsPerLayer < 1 || options.TopEdgesPerUnit < 0) throw new CliException("--top-units must be ≥ 1 and --top-edges ≥ 0.");
        IReadOnlyList<UnitLayer> layers;
        try { layers = AttributionGraphs.ResolveLayers(m.Model, options.Layers); }
        catch (Exception e) when (e is ArgumentException or EngineException)
        {
            throw new CliException($"--layers: {e.Message} Without --layers every convolutional layer is used.");
        }
        var epsilons = CliModel.Floats(args, "--fractionation");
        var deletions = args.Get("--delete") is { } del ? ParseDeletions(del, m.Model) : null;
        if (args.Has("--delete") && deletions is null) throw new CliException("--delete needs LAYER:UNIT,UNIT[;LAYER:UNIT...].");

        var notes = new List<string>(m.Notes);
        var (pixels, labels, _) = m.LoadData(dataPath, CliModel.Int(args, "--limit"), notes, cancellation);
        var rows = Enumerable.Range(0, labels.Length).Where(i => labels[i] == benignClass).Take(CliModel.Int(args, "--images") ?? 100).ToArray();
        if (rows.Length == 0)
            throw new CliException($"'{dataPath}' has no images of class {m.ClassName(benignClass)} ({benignClass}); classes present: " +
                                   $"{string.Join(", ", labels.Distinct().Order().Take(20))}. Check --benign-class, or raise --limit.");
        var benignPixels = Gather(pixels, rows);
        var benignLabels = rows.Select(i => labels[i]).ToArray();
        if (!args.Has("--json"))
        {
            foreach (var n in notes) Console.WriteLine($"note: {n}");
            Console.WriteLine($"attack: {attackOptions.Describe()} on {rows.Length} images of {m.ClassName(benignClass)}");
        }

        var clock = System.Diagnostics.Stopwatch.StartNew();
        AttackRun run;
        using (var bar = new ProgressBar("attack"))
            run = Attack.Run(m.Attack, benignPixels, benignLabels, attackOptions, progress: bar, cancellation: cancellation);
        var benignIn = m.Attack.ToModelInput(benignPixels);
        var advIn = m.Attack.ToModelInput(run.Adversarial);
        AttributionGraph graph;
        using (var bar = new ProgressBar("attribution graph"))
            graph = AttributionGraphs.Build(m.Model, benignIn, advIn, benignClass, target ?? -1, options, cancellation, bar);

        var json = new JsonObject
        {
            ["model"] = Path.GetFullPath(m.Path),
            ["data"] = Path.GetFullPath(dataPath),
            ["benign_class"] = benignClass, ["benign_class_name"] = m.ClassName(benignClass),
            ["target_class"] = target, ["target_class_name"] = target is { } t ? m.ClassName(t) : null,
            ["images"] = rows.Length,
            ["attack"] = attackOptions.Describe(),
            ["clean_accuracy"] = run.Summary.CleanAccuracy,
            ["attack_success_rate"] = SuccessRate(run, target),
            ["success_definition"] = target is null ? "share of images predicted away from their label" : "share of images predicted as the target class",
            ["layers"] = new JsonArray([.. graph.Layers.Select(l => (JsonNode)l)]),
            ["thresholds"] = new JsonObject
            {
                ["suppressed"] = options.SuppressedThreshold, ["emphasized"] = options.EmphasizedThreshold, ["activity_floor"] = options.ActivityFloor,
                ["rule"] = "r = (adversarial − benign) / max(benign, adversarial) of the mean spatial-max activation; suppressed r ≤ −suppressed, emphasized r ≥ emphasized, inactive below floor × the layer's largest importance",
            },
            ["nodes"] = new JsonArray([.. graph.Nodes.Select(n => (JsonNode)new JsonObject
            {
                ["layer"] = n.Layer, ["layer_index"] = n.LayerIndex, ["unit"] = n.Unit, ["benign_importance"] = n.BenignImportance,
                ["adversarial_importance"] = n.AdversarialImportance, ["relative_change"] = n.RelativeChange, ["group"] = GroupName(n.Group),
            })]),
            ["edges"] = new JsonArray([.. graph.Edges.Select(e => (JsonNode)new JsonObject
            {
                ["from_layer"] = e.FromLayerIndex, ["from_unit"] = e.FromUnit, ["to_layer"] = e.ToLayerIndex, ["to_unit"] = e.ToUnit,
                ["benign_influence"] = e.BenignInfluence, ["adversarial_influence"] = e.AdversarialInfluence,
            })]),
            ["groups"] = Groups(graph, options),
        };

        FractionationResult? fr = null;
        if (epsilons is not null)
        {
            if (epsilons.Any(e => !(e > 0))) throw new CliException("--fractionation takes positive budgets, e.g. 1/255,2/255,4/255,8/255.");
            AttackFunction attack = (images, lbls, eps, ct) =>
            {
                var px = ReferenceEquals(images, benignIn) ? benignPixels : throw new InvalidOperationException("fractionation attacks the benign set only");
                var o = attackOptions with { Epsilon = eps, StepSize = args.Has("--alpha") ? attackOptions.StepSize : null };
                return m.Attack.ToModelInput(Attack.Run(m.Attack, px, lbls, o, cancellation: ct).Adversarial);
            };
            using (var bar = new ProgressBar("fractionation"))
                fr = Fractionation.Run(m.Model, benignIn, benignLabels, attack, epsilons, options, target, cancellation, bar);
            json["fractionation"] = new JsonObject
            {
                ["epsilons"] = new JsonArray([.. fr.Epsilons.Select(e => (JsonNode)e)]),
                ["attack_success_rate"] = new JsonArray([.. fr.AttackSuccessRate.Select(s => (JsonNode)s)]),
                ["vulnerable_units"] = new JsonArray([.. fr.Units.Where(u => u.Epsilon is not null).OrderBy(u => u.Epsilon).ThenBy(u => u.LayerIndex).ThenBy(u => u.Unit)
                    .Select(u => (JsonNode)new JsonObject { ["layer"] = u.Layer, ["layer_index"] = u.LayerIndex, ["unit"] = u.Unit, ["epsilon"] = u.Epsilon, ["group"] = GroupName(u.Group) })]),
                ["unchanged_units"] = fr.Units.Count(u => u.Epsilon is null),
                ["seconds"] = Math.Round(fr.Elapsed.TotalSeconds, 3),
            };
        }

        EditResult? edit = null;
        if (deletions is not null)
        {
            using (var bar = new ProgressBar("deletion"))
                edit = NeuronEditing.Evaluate(m.Model, benignIn, advIn, benignLabels, deletions, target, options.BatchSize, cancellation, bar);
            json["deletion"] = new JsonObject
            {
                ["deleted"] = new JsonArray([.. deletions.Select(d => (JsonNode)new JsonObject { ["layer"] = d.Layer, ["units"] = new JsonArray([.. d.Units.Select(u => (JsonNode)u)]) })]),
                ["clean_accuracy_before"] = edit.OriginalCleanAccuracy, ["clean_accuracy_after"] = edit.CleanAccuracy,
                ["attack_success_before"] = edit.OriginalAttackSuccessRate, ["attack_success_after"] = edit.AttackSuccessRate,
                ["note"] = "the same adversarial images (crafted on the unedited model) are re-measured on the edited model",
            };
        }
        json["seconds"] = Math.Round(clock.Elapsed.TotalSeconds, 3);
        json["notes"] = new JsonArray([.. notes.Select(n => (JsonNode)n)]);

        if (args.Has("--json")) { CliApp.WriteJson(json); return 0; }
        Console.WriteLine($"clean accuracy {run.Summary.CleanAccuracy:P1}; attack success {SuccessRate(run, target):P1} ({json["success_definition"]})");
        for (int l = 0; l < graph.Layers.Count; l++)
        {
            var g = json["groups"]![graph.Layers[l]]!;
            Console.WriteLine($"layer {l} {graph.Layers[l]}: {Count(g, "suppressed")} suppressed, {Count(g, "emphasized")} emphasized, {Count(g, "shared")} shared, {Count(g, "inactive")} inactive");
            foreach (var n in graph.Nodes.Where(n => n.LayerIndex == l))
            {
                var incoming = graph.Edges.Where(e => e.ToLayerIndex == l && e.ToUnit == n.Unit).Select(e => $"{e.FromUnit} ({e.BenignInfluence:G3} → {e.AdversarialInfluence:G3})");
                Console.WriteLine($"  unit {n.Unit,5} {GroupName(n.Group),-10} {n.BenignImportance,9:G4} → {n.AdversarialImportance,9:G4} ({n.RelativeChange:+0.00;-0.00})" +
                                  (l > 0 ? $"  from {string.Join(", ", incoming)}" : ""));
            }
        }
        if (fr is not null)
        {
            Console.WriteLine($"fractionation over ε = {string.Join(", ", fr.Epsilons.Select(e => e.ToString("G4", CultureInfo.InvariantCulture)))}: success {string.Join(", ", fr.AttackSuccessRate.Select(s => s.ToString("P0", CultureInfo.InvariantCulture)))}");
            foreach (var u in fr.Units.Where(u => u.Epsilon is not null).OrderBy(u => u.Epsilon).ThenBy(u => u.LayerIndex).Take(15))
                Console.WriteLine($"  {u.Layer} unit {u.Unit}: {GroupName(u.Group)} from ε = {u.Epsilon:G4}");
            Console.WriteLine($"  {fr.Units.Count(u => u.Epsilon is null)} of {fr.Units.Count} units never change group in the sweep");
        }
        if (edit is not null)
            Console.WriteLine($"deleting {string.Join("; ", deletions!.Select(d => $"{d.Layer}: {string.Join(",", d.Units)}"))}: clean accuracy {edit.OriginalCleanAccuracy:P1} → {edit.CleanAccuracy:P1}, attack success {edit.OriginalAttackSuccessRate:P1} → {edit.AttackSuccessRate:P1}");
        Console.WriteLine($"time {clock.Elapsed.TotalSeconds:F1} s");
        return 0;
    }

    private static int Count(JsonNode g, string key) => g[key]!.AsArray().Count;

    private static float SuccessRate(AttackRun run, int? target) =>
        run.Images.Count == 0 ? 0 : (float)run.Images.Count(i => target is { } t ? i.AdversarialPrediction == t : i.AdversarialPrediction != i.Label) / run.Images.Count;

    /// <summary>Every unit of every layer by group (not only the graph's top nodes).</summary>
    private static JsonObject Groups(AttributionGraph graph, AttributionOptions options)
    {
        var result = new JsonObject();
        for (int l = 0; l < graph.Layers.Count; l++)
        {
            var b = graph.BenignImportance[l]; var a = graph.AdversarialImportance[l];
            float max = Math.Max(b.Max(), a.Max());
            var byGroup = Enumerable.Range(0, b.Length).GroupBy(u => AttributionGraphs.Classify(b[u], a[u], max, options).Group).ToDictionary(g => g.Key, g => g.ToArray());
            var o = new JsonObject();
            foreach (var group in Enum.GetValues<UnitGroup>())
                o[GroupName(group)] = new JsonArray([.. (byGroup.TryGetValue(group, out var us) ? us : []).Select(u => (JsonNode)u)]);
            result[graph.Layers[l]] = o;
        }
        return result;
    }

    private static string GroupName(UnitGroup g) => g.ToString().ToLowerInvariant();

    private static int ClassArg(CliModel m, string text, string option)
    {
        if (int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var c))
            return c >= 0 ? c : throw new CliException($"{option} must be a class index ≥ 0 or a class name, got '{text}'.");
        if (m.Labels is { } labels)
        {
            var match = Enumerable.Range(0, labels.Count).FirstOrDefault(i => labels.ShortName(i).Equals(text, StringComparison.OrdinalIgnoreCase)
                || labels.Names[i].Split(',').Any(n => n.Trim().Equals(text, StringComparison.OrdinalIgnoreCase)), -1);
            if (match >= 0) return match;
            throw new CliException($"{option} '{text}' is neither a class index nor a class name of the labels file.");
        }
        throw new CliException($"{option} '{text}': give a class index (no labels file is known to map names; see --labels).");
    }

    /// <summary>"LAYER:U1,U2;LAYER2:U3" → unit selections; layer names may contain ':' (the last one separates).</summary>
    private static List<UnitSelection> ParseDeletions(string text, Model model)
    {
        var result = new List<UnitSelection>();
        foreach (var part in text.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int colon = part.LastIndexOf(':');
            if (colon <= 0) throw new CliException($"--delete '{part}': expected LAYER:UNIT,UNIT (e.g. {ModelProbe.ConvolutionLayers(model).LastOrDefault()?.ValueName ?? "layer"}:3,7).");
            var layer = part[..colon];
            if (!model.TryGetValueId(layer, out _)) throw new CliException($"--delete: the model has no tensor '{layer}'; `advvis info` lists the names.");
            var units = part[(colon + 1)..].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(u =>
                int.TryParse(u, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) && v >= 0 ? v
                    : throw new CliException($"--delete: '{u}' is not a unit index (in '{part}').")).ToList();
            if (units.Count == 0) throw new CliException($"--delete '{part}' names no units.");
            result.Add(new UnitSelection(layer, units));
        }
        return result.Count > 0 ? result : throw new CliException("--delete names no units.");
    }

    private static Tensor Gather(Tensor batch, int[] rows)
    {
        int per = batch.Length / batch.Shape[0];
        var data = new float[rows.Length * per];
        for (int i = 0; i < rows.Length; i++) batch.Data.AsSpan(rows[i] * per, per).CopyTo(data.AsSpan(i * per));
        return new Tensor([rows.Length, .. batch.Shape[1..]], data);
    }
}
