// `advvis attack MODEL --data DATA --attack pgd --eps E --alpha A --steps S [...]`: attacks a dataset and reports
// clean/adversarial accuracy, success rate, perturbation norms and probability changes; --save writes the images.
using System.Globalization;
using System.Text.Json.Nodes;
using AdvVis.Attacks;
using AdvVis.Data;
using AdvVis.Engine;

namespace AdvVis.Cli;

internal static class AttackCommand
{
    public static int Run(ParsedArgs args, CancellationToken cancellation)
    {
        var modelPath = args.RequirePositional(0, "MODEL (an .onnx file)");
        var dataPath = args.Require("--data", "DATA (image folder, .tar.gz, IDX, CIFAR .bin, .npz/.npy or an image)");
        var m = CliModel.Load(modelPath, args);
        var options = m.AttackOptions(args, new AttackOptions());
        var notes = new List<string>(m.Notes);
        var (pixels, labels, set) = m.LoadData(dataPath, CliModel.Int(args, "--limit"), notes, cancellation);
        if (!args.Has("--json"))
        {
            foreach (var n in notes) Console.WriteLine($"note: {n}");
            Console.WriteLine($"attack: {options.Describe()} on {set.Count} images");
        }
        var clock = System.Diagnostics.Stopwatch.StartNew();
        AttackRun run;
        using (var bar = new ProgressBar("attack"))
            run = Attack.Run(m.Attack, pixels, labels, options, progress: bar, cancellation: cancellation);
        double seconds = clock.Elapsed.TotalSeconds;

        string? saved = null;
        if (args.Get("--save") is { } saveDir) saved = Save(saveDir, m, run, set, pixels);
        else if (args.Has("--save")) throw new CliException("--save needs a folder.");

        var s = run.Summary;
        if (args.Has("--json"))
        {
            var json = SummaryJson(m, options, run, dataPath, notes, seconds);
            if (saved is not null) json["saved"] = Path.GetFullPath(saved);
            if (args.Has("--per-image")) json["images"] = PerImageJson(m, run, set);
            CliApp.WriteJson(json);
            return 0;
        }
        Console.WriteLine($"clean accuracy        {s.CleanAccuracy,8:P2}  ({s.CleanCorrect}/{s.Count})");
        Console.WriteLine($"adversarial accuracy  {s.AdversarialAccuracy,8:P2}");
        Console.WriteLine($"success rate          {s.SuccessRate,8:P2}  ({s.Succeeded} of {s.CleanCorrect} correctly classified{(s.Targeted ? ", reaching the target" : "")})");
        Console.WriteLine($"perturbation          mean L∞ {s.MeanLinf:G4}, mean L2 {s.MeanL2:G4} (pixel space [0,1]; max L∞ {s.MaxLinf:G4})");
        Console.WriteLine($"probabilities         benign class −{s.MeanBenignProbabilityDrop:P1} on average, adversarial class +{s.MeanAdversarialProbabilityGain:P1}");
        Console.WriteLine($"time                  {seconds:F1} s ({set.Count / Math.Max(seconds, 1e-9):F1} images/s)");
        if (args.Has("--per-image"))
            foreach (var i in run.Images)
                Console.WriteLine($"  {set.Sources[i.Index]}: {m.ClassName(i.Label)} → {m.ClassName(i.AdversarialPrediction)}{(i.Success && i.CleanCorrect ? " (fooled)" : "")}  L∞ {i.Linf:G3} L2 {i.L2:G3}  p(benign) {i.BenignProbabilityClean:P1}→{i.BenignProbabilityAdversarial:P1}");
        if (saved is not null) Console.WriteLine($"saved: {saved} (adversarial PNGs, adversarial.npy, manifest.json)");
        return 0;
    }

    internal static JsonObject SummaryJson(CliModel m, AttackOptions o, AttackRun run, string dataPath, IEnumerable<string> notes, double seconds)
    {
        var s = run.Summary;
        return new JsonObject
        {
            ["model"] = Path.GetFullPath(m.Path),
            ["data"] = Path.GetFullPath(dataPath),
            ["attack"] = o.Describe(),
            ["parameters"] = new JsonObject
            {
                ["attack"] = o.Kind.ToString(), ["norm"] = RobustnessCommand.NormName(o.Norm), ["eps"] = o.Epsilon, ["alpha"] = o.Alpha,
                ["steps"] = o.Steps, ["random_start"] = o.RandomStart, ["early_stop"] = o.EarlyStop, ["seed"] = o.Seed,
                ["loss"] = o.Loss == LossKind.Margin ? "margin" : "cross_entropy", ["kappa"] = o.Kappa, ["targeted"] = o.TargetClass,
                ["space"] = "pixel space [0,1]; the model's normalisation is applied after the perturbation",
            },
            ["count"] = s.Count,
            ["clean_accuracy"] = s.CleanAccuracy,
            ["adversarial_accuracy"] = s.AdversarialAccuracy,
            ["success_rate"] = s.SuccessRate,
            ["attacked_correct"] = s.CleanCorrect,
            ["succeeded"] = s.Succeeded,
            ["mean_linf"] = s.MeanLinf,
            ["mean_l2"] = s.MeanL2,
            ["max_linf"] = s.MaxLinf,
            ["mean_benign_probability_drop"] = s.MeanBenignProbabilityDrop,
            ["mean_adversarial_probability_gain"] = s.MeanAdversarialProbabilityGain,
            ["output_kind"] = m.Attack.OutputKind?.ToString().ToLowerInvariant(),
            ["seconds"] = Math.Round(seconds, 3),
            ["notes"] = new JsonArray(notes.Select(n => (JsonNode)n).ToArray()),
        };
    }

    internal static JsonArray PerImageJson(CliModel m, AttackRun run, LabeledImageSet set) =>
        new(run.Images.Select(i => (JsonNode)new JsonObject
        {
            ["index"] = i.Index, ["source"] = set.Sources[i.Index], ["label"] = i.Label, ["label_name"] = m.ClassName(i.Label),
            ["target"] = i.Target, ["clean_prediction"] = i.CleanPrediction, ["adversarial_prediction"] = i.AdversarialPrediction,
            ["adversarial_prediction_name"] = m.ClassName(i.AdversarialPrediction),
            ["clean_correct"] = i.CleanCorrect, ["adversarial_correct"] = i.AdversarialCorrect, ["success"] = i.Success,
            ["linf"] = i.Linf, ["l2"] = i.L2,
            ["benign_probability_clean"] = Finite(i.BenignProbabilityClean), ["benign_probability_adversarial"] = Finite(i.BenignProbabilityAdversarial),
            ["benign_probability_drop"] = Finite(i.BenignProbabilityDrop),
            ["adversarial_class"] = i.AdversarialClass, ["adversarial_class_probability_clean"] = i.AdversarialClassProbabilityClean,
            ["adversarial_class_probability_adversarial"] = i.AdversarialClassProbabilityAdversarial,
            ["adversarial_probability_gain"] = i.AdversarialProbabilityGain,
        }).ToArray());

    private static JsonNode? Finite(float v) => float.IsFinite(v) ? v : null;

    private static string Save(string dir, CliModel m, AttackRun run, LabeledImageSet set, Tensor pixels)
    {
        int n = run.Images.Count, per = m.Attack.PixelsPerImage;
        var names = Enumerable.Range(0, n).Select(i => $"adv_{i:D5}.png").ToList();
        OutputFolder.Prepare(dir, [.. names, "adversarial.npy", "manifest.json"]);
        var manifest = new JsonArray();
        for (int i = 0; i < n; i++)
        {
            var o = run.Images[i];
            PngEncoder.Save(m.Preprocessing.ToImage(run.Adversarial.Data.AsSpan(i * per, per)), Path.Combine(dir, names[i]));
            manifest.Add(new JsonObject
            {
                ["file"] = names[i], ["index"] = i, ["source"] = set.Sources[i], ["label"] = o.Label, ["adversarial_prediction"] = o.AdversarialPrediction,
                ["success"] = o.Success, ["linf"] = o.Linf, ["l2"] = o.L2,
            });
        }
        Npy.Write(Path.Combine(dir, "adversarial.npy"), new NpyArray((float[])run.Adversarial.Data.Clone(), run.Adversarial.Shape));
        File.WriteAllText(Path.Combine(dir, "manifest.json"), new JsonObject
        {
            ["model"] = Path.GetFullPath(m.Path),
            ["attack"] = run.Options.Describe(),
            ["npy"] = $"adversarial.npy: float32 {string.Join("x", run.Adversarial.Shape)}, pixel values in [0,1], channels in the model's order ({m.Preprocessing.Order}), before normalisation",
            ["png_note"] = "PNGs are rounded to 8 bits; use the .npy for the exact adversarial values",
            ["images"] = manifest,
        }.ToJsonString(CliApp.Json));
        return dir;
    }
}
