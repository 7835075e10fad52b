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
          advvis --version
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
        var options = ParsedArgs.Parse(args.Skip(1));
        try
        {
            return args[0] switch
            {
                "info" => InfoCommand.Run(options),
                "infer" => InferCommand.Run(options),
                "onnx-test" => OnnxTestCommand.Run(options),
                "bench" => BenchCommand.Run(options),
                _ => Fail($"Unknown command '{args[0]}'.\n\n{Usage}"),
            };
        }
        catch (Exception e) when (e is EngineException or OnnxFormatException or CliException or IOException or InvalidDataException
                                       or AdvVis.Data.ImageFormatException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"advvis: {e.Message}");
            return 1;
        }
        finally { await Console.Out.FlushAsync(); }
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

    private static readonly HashSet<string> Flags = ["--json", "--skip-unsupported", "--claimed-only", "--backward", "--per-image", "--random-start"];

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
