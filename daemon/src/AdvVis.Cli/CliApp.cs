// Command dispatch and shared option parsing for the `advvis` command line.
using System.Text.Json;
using System.Text.Json.Nodes;
using AdvVis.Engine;
using AdvVis.Onnx;

namespace AdvVis.Cli;

public static class CliApp
{
    private const string Usage = """
        advvis — explain adversarial attacks on image classifiers (ONNX models)

        usage:
          advvis info MODEL [--json]                 inputs, outputs, nodes with shapes, unsupported operators
          advvis infer MODEL --input FILE [--json]   logits, probabilities and top-5 for a .npy/.npz tensor or an image
          advvis onnx-test CASE_DIR... [--json] [--skip-unsupported]
                                                     run ONNX test-case folders; exit 1 if any fails
          advvis bench MODEL [--batch B] [--backward] [--threads T] [--repeats R] [--json]
                                                     images/s (median after warm-up) and peak memory
          advvis attack MODEL --data DATA [--attack pgd|fgsm|fgm|bim|mifgsm|tpgd|eotpgd|cw|deepfool|onepixel|
                 apgd-ce|apgd-dlr|apgd-t|fab|fab-t|square] [--eps E] [--alpha A] [--steps S] [--decay MU] [--eot K]
                 [--pixels P] [--population N]
                 [--norm linf|l2|l1] [--random-start] [--early-stop] [--seed N] [--loss ce|margin] [--kappa K]
                 [--targeted CLASS] [--limit N] [--batch B] [--save DIR] [--json] [--per-image]
                                                     attack a dataset: clean/adversarial accuracy, success rate, norms
          advvis robustness MODEL --data DATA [--norm linf|l2|l1] [--eps E[,E2,...]] [--version standard|plus|rand|custom]
                 [--attacks apgd-ce,apgd-dlr,apgd-t,fab,fab-t,square] [--seed N] [--limit N] [--steps 100] [--queries 5000] [--json]
                                                     AutoAttack-style suite: clean and robust accuracy after each attack,
                                                     times, warnings about unreliable evaluations
          advvis explain MODEL IMAGE [attack options] [--background DATA] [--background-limit N] [--label C] [--out DIR] [--json]
                                                     attack one image; per-layer divergence, the diverging point,
                                                     the most changed units; JSON + a static HTML report
          advvis demo [--out DIR]                    the shipped MNIST default, explained in an HTML report
          advvis vulnerability MODEL IMAGE [attack options | --adversarial FILE] [--layer NAME] [--k 2] [--stride 1] [--top 0.2] [--out DIR] [--json] [--bench]
                                                     Li et al.: bMap/aMap by region substitution, unit RFs ranked by IoU
          advvis attribution MODEL --data DATA --benign-class B --target-class T|none [attack options] [--layers L1,L2]
                 [--fractionation E1,E2,...] [--delete LAYER:U1,U2] [--json]
                                                     MASSIF: attribution graph, suppressed/emphasized/shared units
          advvis profiles MODEL --data DATA [--layers L1,L2,...] [--limit 2000] [--seed N] [--json] [--bench]
                                                     Activation Profiles: aligned 1-D UMAP per layer, trustworthiness, alignment,
                                                     timings (--bench: umap-learn's figures next to ours)
          advvis --version

        every command, serve included, takes --memory-budget SIZE (e.g. 2G, 512M): the most one tensor, decoded image
        or array may take; default a quarter of the machine's memory. Larger ones are refused before they are allocated.

        preprocessing (attack/explain; override MODEL.onnx.advvis.json or a workspace advvis.json):
          --channels RGB|BGR|gray --resize N --crop N --scale S --mean a,b,c --std a,b,c --layout NCHW|NHWC
          --range lo,hi --labels FILE --input-name NAME
        budgets (--eps, --alpha) are in pixel space [0,1], e.g. --eps 8/255, even when the model normalises.
        """;

    public static async Task<int> RunAsync(string[] args)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
        {
            Console.WriteLine(Usage);
            return args.Length == 0 ? 2 : 0;
        }
        if (args[0] == "--version")
        {
            Console.WriteLine(typeof(CliApp).Assembly.GetName().Version?.ToString(3) ?? "0.0.0");
            return 0;
        }
        if (TakeMemoryBudget(ref args) is { } budgetError) return Fail(budgetError);
        if (args[0] == "serve") return await AdvVis.Service.Daemon.AdvVisService.RunAsync(args[1..]); // JSON-RPC daemon (docs/protocol.md)
        var options = ParsedArgs.Parse(args.Skip(1));
        using var cancel = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            // The first Ctrl-C stops the work cleanly; a second one kills the process.
            if (cancel.IsCancellationRequested) return;
            e.Cancel = true;
            cancel.Cancel();
        };
        Console.CancelKeyPress += onCancel;
        try
        {
            return args[0] switch
            {
                "attack" => AttackCommand.Run(options, cancel.Token),
                "robustness" => RobustnessCommand.Run(options, cancel.Token),
                "explain" => ExplainCommand.Run(options, cancel.Token),
                "vulnerability" => VulnerabilityCommand.Run(options, cancel.Token),
                "attribution" => AttributionCommand.Run(options, cancel.Token),
                "profiles" => ProfilesCommand.Run(options, cancel.Token),
                "demo" => DemoCommand.Run(options, cancel.Token),
                "info" => InfoCommand.Run(options),
                "infer" => InferCommand.Run(options),
                "onnx-test" => OnnxTestCommand.Run(options),
                "bench" => BenchCommand.Run(options),
                _ => Fail($"Unknown command '{args[0]}'.\n\n{Usage}"),
            };
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine("\nadvvis: cancelled; nothing more was written.");
            return 130;
        }
        catch (Exception e) when (e is EngineException or OnnxFormatException or CliException or IOException or InvalidDataException
                                       or AdvVis.Safety.MemoryBudgetExceededException
                                       or AdvVis.Data.DataFormatException or UnauthorizedAccessException or ArgumentException)
        {
            Console.Error.WriteLine($"advvis: {e.Message}");
            return 1;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
            await Console.Out.FlushAsync();
        }
    }

    /// <summary>Removes `--memory-budget SIZE` (anywhere) and makes it the process's budget; returns an error message if bad.</summary>
    private static string? TakeMemoryBudget(ref string[] args)
    {
        int at = Array.FindIndex(args, a => a == "--memory-budget" || a.StartsWith("--memory-budget=", StringComparison.Ordinal));
        if (at < 0) return null;
        bool inline = args[at].Contains('=');
        if (!inline && at + 1 >= args.Length) return "--memory-budget needs a size, e.g. --memory-budget 2G.";
        string value = inline ? args[at][(args[at].IndexOf('=') + 1)..] : args[at + 1];
        try
        {
            AdvVis.Safety.MemoryBudget.ProcessDefault = AdvVis.Safety.MemoryBudget.Parse(value);
        }
        catch (FormatException e)
        {
            return e.Message;
        }
        args = [.. args[..at], .. args[(at + (inline ? 1 : 2))..]];
        return args.Length == 0 ? "--memory-budget needs a command after it." : null;
    }

    internal static int Fail(string message)
    {
        Console.Error.WriteLine(message);
        return 2;
    }

    internal static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    internal static void WriteJson(JsonNode node) => Console.WriteLine(node.ToJsonString(Json));
}

/// <summary>A usage error or unusable input named for the user.</summary>
public sealed class CliException(string message) : Exception(message);

/// <summary>Positional arguments and --options (flags or --name value).</summary>
public sealed class ParsedArgs
{
    public List<string> Positional { get; } = [];
    public Dictionary<string, string?> Options { get; } = new(StringComparer.Ordinal);

    private static readonly HashSet<string> Flags = ["--json", "--skip-unsupported", "--claimed-only", "--backward", "--per-image", "--random-start", "--early-stop", "--bench"];

    public static ParsedArgs Parse(IEnumerable<string> args)
    {
        var result = new ParsedArgs();
        var list = args.ToList();
        for (int i = 0; i < list.Count; i++)
        {
            var a = list[i];
            if (a.StartsWith("--", StringComparison.Ordinal))
            {
                var eq = a.IndexOf('=');
                if (eq > 0) result.Options[a[..eq]] = a[(eq + 1)..];
                else if (Flags.Contains(a) || i + 1 >= list.Count || list[i + 1].StartsWith("--", StringComparison.Ordinal)) result.Options[a] = null;
                else result.Options[a] = list[++i];
            }
            else result.Positional.Add(a);
        }
        return result;
    }

    public bool Has(string name) => Options.ContainsKey(name);
    public string? Get(string name) => Options.TryGetValue(name, out var v) ? v : null;

    public string Require(string name, string what) =>
        Get(name) ?? throw new CliException($"Missing {name} {what}.");

    public string RequirePositional(int index, string what) =>
        index < Positional.Count ? Positional[index] : throw new CliException($"Missing {what}.");
}
