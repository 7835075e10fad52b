// `advvis onnx-test CASE_DIR...`: runs ONNX backend-format test cases and reports pass/fail with errors.
using System.Text.Json.Nodes;
using AdvVis.Engine.Conformance;

namespace AdvVis.Cli;

internal static class OnnxTestCommand
{
    public static int Run(ParsedArgs args)
    {
        if (args.Positional.Count == 0) throw new CliException("Give one or more ONNX test-case folders (each with model.onnx and test_data_set_*/).");
        var results = new List<CaseResult>();
        foreach (var dir in args.Positional)
        {
            if (!Directory.Exists(dir)) throw new CliException($"'{dir}' is not a folder.");
            var result = OnnxTestCase.Run(dir);
            results.Add(result);
            if (!args.Has("--json"))
            {
                var status = result.Status switch { CaseStatus.Passed => "PASS", CaseStatus.Failed => "FAIL", _ => "SKIP" };
                var errors = result.Status == CaseStatus.Unsupported ? "" : $"  max abs {result.MaxAbsError:G3}  max rel {result.MaxRelError:G3}";
                Console.WriteLine($"{status}  {result.Name}{errors}{(result.Detail is null ? "" : "  — " + result.Detail)}");
            }
        }
        int passed = results.Count(r => r.Status == CaseStatus.Passed);
        int failed = results.Count(r => r.Status == CaseStatus.Failed);
        int skipped = results.Count(r => r.Status == CaseStatus.Unsupported);
        bool skipOk = args.Has("--skip-unsupported");
        if (args.Has("--json"))
        {
            CliApp.WriteJson(new JsonObject
            {
                ["passed"] = passed, ["failed"] = failed, ["unsupported"] = skipped,
                ["cases"] = new JsonArray(results.Select(r => (JsonNode)new JsonObject
                {
                    ["name"] = r.Name, ["status"] = r.Status.ToString().ToLowerInvariant(),
                    ["maxAbsError"] = double.IsFinite(r.MaxAbsError) ? r.MaxAbsError : null,
                    ["maxRelError"] = double.IsFinite(r.MaxRelError) ? r.MaxRelError : null,
                    ["detail"] = r.Detail,
                }).ToArray()),
            });
        }
        else
        {
            Console.WriteLine(skipped > 0 ? $"{passed} passed, {failed} failed, {skipped} skipped" : $"{passed} passed, {failed} failed");
        }
        return failed > 0 || (skipped > 0 && !skipOk) ? 1 : 0;
    }
}
