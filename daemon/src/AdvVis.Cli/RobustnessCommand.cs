// `advvis robustness MODEL --data DATA --norm linf|l2|l1 --eps 8/255[,E2,...] [--version standard|plus|rand|custom
// --attacks a,b] [--seed N] [--limit N] [--json]`: the AutoAttack-style suite (Attacks.RobustnessSuite) on a dataset.
using System.Text.Json.Nodes;
using AdvVis.Attacks;

namespace AdvVis.Cli;

internal static class RobustnessCommand
{
    public static int Run(ParsedArgs args, CancellationToken cancellation)
    {
        var modelPath = args.RequirePositional(0, "MODEL (an .onnx file)");
        var dataPath = args.Require("--data", "DATA (image folder, .tar.gz, IDX, CIFAR .bin, .npz/.npy or an image)");
        var m = CliModel.Load(modelPath, args);
        var notes = new List<string>(m.Notes);
        var options = Options(args, m, notes);
        var epsilons = CliModel.Floats(args, "--eps") ?? [options.Epsilon];
        var (pixels, labels, set) = m.LoadData(dataPath, CliModel.Int(args, "--limit"), notes, cancellation);
        bool json = args.Has("--json");
        if (!json)
        {
            foreach (var n in notes) Console.WriteLine($"note: {n}");
            Console.WriteLine($"robustness: {options.Version.ToString().ToLowerInvariant()} suite ({string.Join(", ", options.Sequence().Select(SuiteOptions.NameOf))}), {NormName(options.Norm)}, ε = {string.Join(", ", epsilons.Select(e => e.ToString("G4")))} on {set.Count} images, seed {options.Seed}");
        }
        IReadOnlyList<SuiteReport> reports;
        try
        {
            using var bar = new ProgressBar("robustness");
            reports = RobustnessSuite.Run(m.Attack, pixels, labels, options, epsilons, bar, cancellation);
        }
        catch (ArgumentException e) { throw new CliException(e.Message); }
        string? saved = null;
        if (args.Get("--save") is { } dir)
        {
            var names = reports.Select((r, i) => reports.Count == 1 ? "adversarial.npy" : $"adversarial_eps{i}.npy").ToList();
            OutputFolder.Prepare(dir, names);
            for (int i = 0; i < reports.Count; i++)
                AdvVis.Data.Npy.Write(Path.Combine(dir, names[i]), new AdvVis.Data.NpyArray((float[])reports[i].Adversarial.Data.Clone(), reports[i].Adversarial.Shape));
            saved = Path.GetFullPath(dir);
        }
        else if (args.Has("--save")) throw new CliException("--save needs a folder.");
        if (json)
        {
            CliApp.WriteJson(new JsonObject
            {
                ["model"] = Path.GetFullPath(m.Path), ["data"] = Path.GetFullPath(dataPath), ["count"] = set.Count,
                ["norm"] = NormName(options.Norm), ["version"] = options.Version.ToString().ToLowerInvariant(), ["seed"] = options.Seed,
                ["attacks"] = new JsonArray(options.Sequence().Select(a => (JsonNode)SuiteOptions.NameOf(a)).ToArray()),
                ["space"] = "pixel space [0,1]; the model's normalisation is applied after the perturbation",
                ["results"] = new JsonArray(reports.Select(r => (JsonNode)ReportJson(r)).ToArray()),
                ["notes"] = new JsonArray(notes.Select(n => (JsonNode)n).ToArray()),
                ["saved"] = saved,
            });
            return 0;
        }
        foreach (var r in reports)
        {
            Console.WriteLine();
            Console.WriteLine($"ε = {r.Epsilon:G4} ({NormName(r.Norm)})");
            Console.WriteLine($"  clean accuracy           {r.CleanAccuracy,8:P2}  ({r.CleanCorrect}/{r.Count})");
            foreach (var s in r.Stages)
                Console.WriteLine($"  after {s.Attack,-9}          {s.RobustAccuracy,8:P2}  ({s.Fooled} of {s.Attacked} fooled, {s.Seconds:F1} s)");
            Console.WriteLine($"  robust accuracy          {r.RobustAccuracy,8:P2}  ({r.RobustCount}/{r.Count}); largest perturbation {r.MaxPerturbation:G4}; {r.Seconds:F1} s");
            foreach (var f in r.Flags) Console.WriteLine($"  warning ({f.Check}): {f.Message}");
        }
        if (saved is not null) Console.WriteLine($"saved: {saved} (adversarial examples as float32 .npy in pixel space [0,1]; inputs where none was found)");
        return 0;
    }

    internal static string NormName(Norm n) => n switch { Norm.LInf => "linf", Norm.L2 => "l2", _ => "l1" };

    internal static SuiteOptions Options(ParsedArgs a, CliModel m, List<string> notes)
    {
        var norm = a.Get("--norm")?.ToLowerInvariant() switch
        {
            null or "linf" or "inf" or "l-inf" => Norm.LInf,
            "l2" => Norm.L2,
            "l1" => Norm.L1,
            var other => throw new CliException($"--norm must be linf, l2 or l1, not '{other}'."),
        };
        var version = a.Get("--version")?.ToLowerInvariant() switch
        {
            null or "standard" => SuiteVersion.Standard,
            "plus" => SuiteVersion.Plus,
            "rand" => SuiteVersion.Rand,
            "custom" => SuiteVersion.Custom,
            var other => throw new CliException($"--version must be standard, plus, rand or custom, not '{other}'."),
        };
        IReadOnlyList<SuiteAttack> attacks = [];
        if (a.Get("--attacks") is { } list)
        {
            if (version != SuiteVersion.Custom) throw new CliException("--attacks chooses the attacks of --version custom; add --version custom or drop --attacks.");
            try { attacks = list.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(SuiteOptions.Parse).ToArray(); }
            catch (ArgumentException e) { throw new CliException("--attacks: " + e.Message); }
        }
        float eps;
        if (CliModel.Floats(a, "--eps") is { } given) eps = given[0];
        else if (SuiteOptions.DefaultEpsilon(norm, m.Attack.Channels, m.Attack.Height, m.Attack.Width) is { } d)
        {
            eps = d;
            notes.Add($"--eps not given: the usual budget for {m.Attack.Channels}×{m.Attack.Height}×{m.Attack.Width} inputs, ε = {d:G4} ({NormName(norm)})");
        }
        else throw new CliException($"--eps is needed: no standard {NormName(norm)} budget is known for {m.Attack.Channels}×{m.Attack.Height}×{m.Attack.Width} inputs.");
        var o = new SuiteOptions
        {
            Norm = norm, Epsilon = eps, Version = version, Attacks = attacks, Seed = CliModel.Int(a, "--seed") ?? 0,
            BatchSize = CliModel.Int(a, "--batch"), Iterations = CliModel.Int(a, "--steps") ?? 100, SquareQueries = CliModel.Int(a, "--queries") ?? 5000,
        };
        try { o.Validate(); }
        catch (ArgumentException e) { throw new CliException(e.Message); }
        return o;
    }

    internal static JsonObject ReportJson(SuiteReport r) => new()
    {
        ["eps"] = r.Epsilon, ["count"] = r.Count, ["clean_correct"] = r.CleanCorrect, ["clean_accuracy"] = r.CleanAccuracy,
        ["robust_count"] = r.RobustCount, ["robust_accuracy"] = r.RobustAccuracy, ["max_perturbation"] = r.MaxPerturbation,
        ["invalid_examples"] = r.InvalidExamples, ["seconds"] = Math.Round(r.Seconds, 3),
        ["stages"] = new JsonArray(r.Stages.Select(s => (JsonNode)new JsonObject
        {
            ["attack"] = s.Attack, ["attacked"] = s.Attacked, ["fooled"] = s.Fooled, ["robust_after"] = s.RobustAfter,
            ["robust_accuracy"] = s.RobustAccuracy, ["seconds"] = Math.Round(s.Seconds, 3),
        }).ToArray()),
        ["flags"] = new JsonArray(r.Flags.Select(f => (JsonNode)new JsonObject { ["check"] = f.Check, ["message"] = f.Message }).ToArray()),
    };
}
