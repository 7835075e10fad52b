// `advvis explain MODEL IMAGE [--attack ...] [--background DATA] [--out DIR]`: attacks one image and writes what the
// views need (predictions before/after, per-layer divergence, the diverging point, the most changed units) as JSON
// and a self-contained HTML report.
using System.Text.Json.Nodes;
using AdvVis.Attacks;
using AdvVis.Data;
using AdvVis.Engine;

namespace AdvVis.Cli;

internal sealed record Explanation(
    CliModel Model, string ImageSource, AttackOptions Options, AttackRun Run, Tensor Benign, Tensor Adversarial,
    float[] CleanProbabilities, float[] AdversarialProbabilities, DivergenceReport Divergence, List<string> Notes)
{
    public ImageOutcome Outcome => Run.Images[0];
}

internal static class ExplainCommand
{
    public static readonly AttackOptions Defaults = new() { Kind = AttackKind.Pgd, Epsilon = 8f / 255f, StepSize = 2f / 255f, Steps = 20 };

    public static int Run(ParsedArgs args, CancellationToken cancellation)
    {
        var modelPath = args.RequirePositional(0, "MODEL (an .onnx file)");
        var imagePath = args.RequirePositional(1, "IMAGE (the image to attack)");
        var m = CliModel.Load(modelPath, args);
        var options = m.AttackOptions(args, Defaults);
        var notes = new List<string>(m.Notes);
        var (pixels, labels, set) = m.LoadData(imagePath, 1, notes, cancellation);
        if (CliModel.Int(args, "--label") is { } label) labels[0] = label;
        Tensor? background = null; int[]? backgroundLabels = null;
        if (args.Get("--background") is { } bgPath)
        {
            var (bg, bgl, _) = m.LoadData(bgPath, CliModel.Int(args, "--background-limit") ?? 200, notes, cancellation);
            background = bg; backgroundLabels = bgl;
        }
        var ex = Explain(m, pixels, labels[0], set.Sources[0], options, background, backgroundLabels, notes, cancellation);
        var outDir = args.Get("--out") ?? "advvis-explain-" + Path.GetFileNameWithoutExtension(imagePath);
        OutputFolder.Prepare(outDir, ["explanation.json", "report.html"]);
        var json = ToJson(ex);
        File.WriteAllText(Path.Combine(outDir, "explanation.json"), json.ToJsonString(CliApp.Json));
        File.WriteAllText(Path.Combine(outDir, "report.html"), HtmlReport.Render($"AdvVis: {Path.GetFileName(imagePath)} under attack", null, [ex]));
        if (args.Has("--json")) { CliApp.WriteJson(json); return 0; }
        PrintSummary(ex);
        Console.WriteLine($"wrote {Path.Combine(outDir, "report.html")} and explanation.json");
        return 0;
    }

    public static Explanation Explain(CliModel m, Tensor pixels, int label, string source, AttackOptions options, Tensor? background,
        int[]? backgroundLabels, List<string> notes, CancellationToken cancellation)
    {
        AttackRun run;
        using (var bar = new ProgressBar("attack"))
            run = Attack.Run(m.Attack, pixels, [label], options with { BatchSize = 1 }, progress: bar, cancellation: cancellation);
        var o = run.Images[0];
        var adv = run.Adversarial;
        var clean = m.Attack.Evaluate(pixels, cancellation).Probabilities(0);
        var advP = m.Attack.Evaluate(adv, cancellation).Probabilities(0);
        DivergenceReport div;
        using (var bar = new ProgressBar("background"))
            div = Divergence.Compare(m.Attack, pixels, adv, o.Label, o.AdversarialClass, background, backgroundLabels,
                classNames: m.Labels?.Names.Select((_, i) => m.ClassName(i)).ToArray(), progress: bar, cancellation: cancellation);
        if (background is null) notes.Add("no --background: layer distances are relative to the benign activation's norm, not a background spread");
        return new Explanation(m, source, options, run, pixels, adv, clean, advP, div, notes);
    }

    public static void PrintSummary(Explanation ex)
    {
        var m = ex.Model; var o = ex.Outcome; var d = ex.Divergence;
        foreach (var n in ex.Notes) Console.WriteLine($"note: {n}");
        Console.WriteLine($"attack: {ex.Options.Describe()}");
        Console.WriteLine($"before: {m.ClassName(o.CleanPrediction)} ({ex.CleanProbabilities[o.CleanPrediction]:P1}); label {m.ClassName(o.Label)}");
        Console.WriteLine($"after:  {m.ClassName(o.AdversarialPrediction)} ({ex.AdversarialProbabilities[o.AdversarialPrediction]:P1}); " +
                          $"{(o.Success ? "the attack succeeded" : "the attack failed")}; L∞ {o.Linf:G3}, L2 {o.L2:G3}");
        Console.WriteLine($"layers (distance relative to {(d.BackgroundCount > 0 ? $"the spread of {d.BackgroundCount} background images" : "the benign activation's norm")}):");
        Console.WriteLine($"  {"input",-40} {d.InputRelative,8:F3}");
        foreach (var l in d.Layers)
            Console.WriteLine($"  {Trim(l.Name, 40),-40} {l.Relative,8:F3}  {(l.Jump >= 0 ? "+" : "")}{l.Jump:F3}{(d.Diverging?.Layer == l.Name ? "   <- diverging point" : "")}" +
                              (l.AdversarialNearest is not null ? $"  adv nearer '{l.AdversarialNearest}'" : ""));
        if (d.Diverging is { } dp)
        {
            Console.WriteLine($"diverging point: {dp.Layer} (score {dp.Score:F3}: relative distance jump from {dp.PreviousLayer})");
            if (d.LeavesClassAt is { } leaves) Console.WriteLine($"the adversarial example stays nearer the '{m.ClassName(o.AdversarialClass)}' class centroid from {leaves} on");
            Console.WriteLine("most changed units there (max activation, benign → adversarial):");
            foreach (var u in d.TopUnits.Take(5))
                Console.WriteLine($"  unit {u.Unit,4}: {u.Benign,9:F3} → {u.Adversarial,9:F3}  (Δ {u.Difference:+0.000;-0.000}, {u.Score:+0.0;-0.0} background σ)");
        }
    }

    private static string Trim(string s, int n) => s.Length <= n ? s : "…" + s[^(n - 1)..];

    public static JsonObject ToJson(Explanation ex)
    {
        var m = ex.Model; var o = ex.Outcome; var d = ex.Divergence;
        JsonArray Top(float[] p) => new(Enumerable.Range(0, p.Length).OrderByDescending(i => p[i]).Take(5)
            .Select(i => (JsonNode)new JsonObject { ["class"] = i, ["label"] = m.ClassName(i), ["probability"] = p[i] }).ToArray());
        return new JsonObject
        {
            ["model"] = Path.GetFullPath(m.Path),
            ["image"] = ex.ImageSource,
            ["attack"] = ex.Options.Describe(),
            ["label"] = o.Label, ["label_name"] = m.ClassName(o.Label), ["target"] = o.Target,
            ["before"] = new JsonObject { ["prediction"] = o.CleanPrediction, ["label"] = m.ClassName(o.CleanPrediction), ["top5"] = Top(ex.CleanProbabilities) },
            ["after"] = new JsonObject { ["prediction"] = o.AdversarialPrediction, ["label"] = m.ClassName(o.AdversarialPrediction), ["top5"] = Top(ex.AdversarialProbabilities) },
            ["success"] = o.Success, ["linf"] = o.Linf, ["l2"] = o.L2,
            ["benign_probability_drop"] = float.IsFinite(o.BenignProbabilityDrop) ? o.BenignProbabilityDrop : null,
            ["adversarial_class"] = o.AdversarialClass, ["adversarial_probability_gain"] = o.AdversarialProbabilityGain,
            ["background_count"] = d.BackgroundCount,
            ["spread"] = d.SpreadDefinition,
            ["input_relative_distance"] = d.InputRelative,
            ["layers"] = new JsonArray(d.Layers.Select(l => (JsonNode)new JsonObject
            {
                ["name"] = l.Name, ["op"] = l.OpType, ["shape"] = new JsonArray(l.Shape.Select(s => (JsonNode)s).ToArray()),
                ["distance"] = l.Distance, ["spread"] = l.Spread, ["relative_distance"] = l.Relative, ["jump"] = l.Jump, ["cosine"] = l.Cosine,
                ["benign_nearer"] = l.BenignNearest, ["adversarial_nearer"] = l.AdversarialNearest,
            }).ToArray()),
            ["diverging_point"] = d.Diverging is { } dp ? new JsonObject
            {
                ["layer"] = dp.Layer, ["index"] = dp.LayerIndex, ["score"] = dp.Score, ["previous"] = dp.PreviousLayer, ["rule"] = dp.Rule,
            } : null,
            ["leaves_class_at"] = d.LeavesClassAt,
            ["top_units"] = new JsonArray(d.TopUnits.Select(u => (JsonNode)new JsonObject
            {
                ["unit"] = u.Unit, ["benign_max"] = u.Benign, ["adversarial_max"] = u.Adversarial, ["difference"] = u.Difference,
                ["background_std"] = u.BackgroundStd, ["score"] = u.Score,
            }).ToArray()),
            ["notes"] = new JsonArray(ex.Notes.Select(n => (JsonNode)n).ToArray()),
        };
    }
}
