// `advvis demo [--out DIR]`: the README's first command. Attacks the shipped MNIST digits with the Activation Profiles
// paper's PGD setting, explains one digit layer by layer, and writes an HTML report a newcomer can open.
using System.Text.Json.Nodes;
using AdvVis.Attacks;

namespace AdvVis.Cli;

internal static class DemoCommand
{
    public static int Run(ParsedArgs args, CancellationToken cancellation)
    {
        var demoDir = args.Get("--demo-dir") ?? FindDemo()
            ?? throw new CliException("The shipped demo folder (demo/ with mnist-zoo-opset7.onnx and mnist-test-500.npz) was not found; run from the repository root or pass --demo-dir.");
        var modelPath = Path.Combine(demoDir, "mnist-zoo-opset7.onnx");
        var dataPath = Path.Combine(demoDir, "mnist-test-500.npz");
        var outDir = args.Get("--out") ?? "advvis-demo";
        OutputFolder.Prepare(outDir, ["index.html", "summary.json", "explanation.json"]);

        var m = CliModel.Load(modelPath, args);
        // The Activation Profiles paper's setting: PGD ε = 0.3, α = 0.075, 100 iterations on MNIST.
        var options = m.AttackOptions(args, new AttackOptions { Kind = AttackKind.Pgd, Epsilon = 0.3f, StepSize = 0.075f, Steps = 100, BatchSize = 100 });
        var notes = new List<string>(m.Notes);
        var (pixels, labels, set) = m.LoadData(dataPath, CliModel.Int(args, "--limit"), notes, cancellation);
        Console.WriteLine($"AdvVis demo: {Path.GetFileName(modelPath)} on {set.Count} MNIST test digits");
        Console.WriteLine($"attack: {options.Describe()}");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        AttackRun run;
        using (var bar = new ProgressBar("attack"))
            run = Attack.Run(m.Attack, pixels, labels, options, progress: bar, cancellation: cancellation);
        double seconds = clock.Elapsed.TotalSeconds;
        var s = run.Summary;
        Console.WriteLine($"clean accuracy {s.CleanAccuracy:P2}, adversarial accuracy {s.AdversarialAccuracy:P2} (the paper reports 1.6% for its MNIST CNN), " +
                          $"success rate {s.SuccessRate:P2}, mean L∞ {s.MeanLinf:G3}, mean L2 {s.MeanL2:G3}  [{seconds:F1} s]");

        // Explain the first correctly classified "0" that the attack flips (the paper's x0 is a zero), else the first flipped digit.
        var flipped = run.Images.Where(i => i.CleanCorrect && i.Success).ToList();
        var pick = flipped.FirstOrDefault(i => i.Label == 0) ?? flipped.FirstOrDefault() ?? run.Images[0];
        int per = m.Attack.PixelsPerImage;
        var one = Attack.Slice(pixels, pick.Index, 1);
        var ex = ExplainCommand.Explain(m, one, pick.Label, set.Sources[pick.Index], options with { BatchSize = 1 }, pixels, labels, notes, cancellation);
        ExplainCommand.PrintSummary(ex with { Notes = [] });

        var examples = new List<(string, string)>();
        foreach (var i in flipped.Take(12))
        {
            examples.Add(($"#{i.Index} {m.ClassName(i.Label)}", HtmlReport.Png(m.Preprocessing.ToImage(pixels.Data.AsSpan(i.Index * per, per)))));
            examples.Add(($"→ {m.ClassName(i.AdversarialPrediction)}", HtmlReport.Png(m.Preprocessing.ToImage(run.Adversarial.Data.AsSpan(i.Index * per, per)))));
        }
        var section = new DatasetSection($"PGD over {set.Count} MNIST test digits", [
            ("model", $"{Path.GetFileName(modelPath)} (ONNX model zoo MNIST CNN)"),
            ("attack", options.Describe()),
            ("clean accuracy", $"{s.CleanAccuracy:P2} ({s.CleanCorrect}/{s.Count})"),
            ("adversarial accuracy", $"{s.AdversarialAccuracy:P2} (Activation Profiles paper, its own MNIST CNN, same setting: 1.6%)"),
            ("success rate on correctly classified digits", $"{s.SuccessRate:P2} ({s.Succeeded}/{s.CleanCorrect})"),
            ("mean perturbation", $"L∞ {s.MeanLinf:G3}, L2 {s.MeanL2:G3} (pixel space [0,1])"),
            ("mean probability change", $"benign class −{s.MeanBenignProbabilityDrop:P1}, adversarial class +{s.MeanAdversarialProbabilityGain:P1}"),
            ("time", $"{seconds:F1} s"),
        ], examples, "Examples below: each benign digit followed by its adversarial version and the new prediction.");
        string intro = "AdvVis attacks an image classifier and shows where inside the network the attack takes over. " +
                       "Below: an attack over a small dataset, then one digit followed layer by layer: the distance between its benign and adversarial activations " +
                       "(relative to how spread out the other digits are at that layer), the <b>diverging point</b> where that distance jumps, and the units that changed most there.";
        File.WriteAllText(Path.Combine(outDir, "index.html"), HtmlReport.Render("AdvVis demo: PGD on MNIST, explained", section, [ex], intro));
        var summary = AttackCommand.SummaryJson(m, options, run, dataPath, notes, seconds);
        summary["paper_adversarial_accuracy"] = 0.016;
        File.WriteAllText(Path.Combine(outDir, "summary.json"), summary.ToJsonString(CliApp.Json));
        File.WriteAllText(Path.Combine(outDir, "explanation.json"), ExplainCommand.ToJson(ex).ToJsonString(CliApp.Json));
        Console.WriteLine($"report: {Path.GetFullPath(Path.Combine(outDir, "index.html"))} (open it in a browser)");
        return 0;
    }

    private static string? FindDemo()
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
            for (var d = new DirectoryInfo(start); d is not null; d = d.Parent)
            {
                var candidate = Path.Combine(d.FullName, "demo");
                if (File.Exists(Path.Combine(candidate, "mnist-zoo-opset7.onnx"))) return candidate;
            }
        return null;
    }
}
