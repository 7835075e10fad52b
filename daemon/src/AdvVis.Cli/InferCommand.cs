// `advvis infer MODEL --input FILE`: logits, probabilities and top-5 for one preprocessed tensor file.
namespace AdvVis.Cli;

internal static class InferCommand
{
    public static int Run(ParsedArgs args) => throw new CliException("infer: not wired yet.");
}
