// Runs a test case folder in the ONNX backend-test format (model.onnx + test_data_set_*/input_*.pb, output_*.pb)
// and compares with the expected outputs using the ONNX backend tests' tolerances.
using AdvVis.Engine.Import;
using AdvVis.Onnx;

namespace AdvVis.Engine.Conformance;

public enum CaseStatus { Passed, Failed, Unsupported }

public sealed record CaseResult(string Name, CaseStatus Status, double MaxAbsError, double MaxRelError, string? Detail, IReadOnlyList<string> Operators);

public static class OnnxTestCase
{
    /// <summary>ONNX's backend test defaults (onnx/backend/test/runner): rtol 1e-3, atol 1e-7.</summary>
    public const double RelativeTolerance = 1e-3, AbsoluteTolerance = 1e-7;

    public static CaseResult Run(string caseDirectory)
    {
        var name = Path.GetFileName(Path.TrimEndingDirectorySeparator(caseDirectory));
        var modelPath = Path.Combine(caseDirectory, "model.onnx");
        OnnxModel onnx;
        try { onnx = OnnxReader.LoadModel(modelPath); }
        catch (OnnxFormatException e) { return new CaseResult(name, CaseStatus.Failed, double.NaN, double.NaN, e.Message, []); }
        var operators = onnx.Graph.Nodes.Select(n => n.OpType).Distinct().ToList();
        var unsupported = onnx.Graph.Nodes.Where(n => !OperatorTable.IsSupported(n.OpType, n.Domain)).Select(n => n.OpType).Distinct().ToList();
        if (unsupported.Count > 0)
            return new CaseResult(name, CaseStatus.Unsupported, 0, 0, "operators not supported: " + string.Join(", ", unsupported), operators);
        var unsupportedTypes = UnsupportedElementTypes(onnx);
        if (unsupportedTypes is not null)
            return new CaseResult(name, CaseStatus.Unsupported, 0, 0, unsupportedTypes, operators);

        double maxAbs = 0, maxRel = 0;
        try
        {
            var model = Model.FromOnnx(onnx);
            if (model.UnsupportedNodes.Count > 0)
                return new CaseResult(name, CaseStatus.Unsupported, 0, 0, model.UnsupportedNodes[0].Reason, operators);
            var dataSets = Directory.GetDirectories(caseDirectory, "test_data_set_*").OrderBy(d => d, StringComparer.Ordinal).ToList();
            if (dataSets.Count == 0) return new CaseResult(name, CaseStatus.Failed, 0, 0, "no test_data_set_* folder", operators);
            foreach (var set in dataSets)
            {
                var feeds = new Dictionary<string, Tensor>();
                var inputFiles = NumberedFiles(set, "input_");
                // Inputs are positional over the graph's declared inputs (initializers excluded, as onnx's runner does).
                var declared = onnx.Graph.Inputs.Where(i => !onnx.Graph.Initializers.ContainsKey(i.Name)).ToList();
                for (int i = 0; i < inputFiles.Count && i < declared.Count; i++)
                {
                    var tensor = OnnxReader.LoadTensor(inputFiles[i]);
                    feeds[declared[i].Name] = TensorConversion.FromOnnx(tensor);
                }
                var pass = model.Forward(feeds, new RunOptions { RejectNonFiniteInputs = false });
                var outputFiles = NumberedFiles(set, "output_");
                for (int i = 0; i < outputFiles.Count; i++)
                {
                    var expected = TensorConversion.FromOnnx(OnnxReader.LoadTensor(outputFiles[i]));
                    var actual = pass[onnx.Graph.Outputs[i].Name];
                    if (!actual.Shape.SequenceEqual(expected.Shape))
                        return new CaseResult(name, CaseStatus.Failed, double.NaN, double.NaN,
                            $"output {i} shape {ShapeMath.Text(actual.Shape)} != expected {ShapeMath.Text(expected.Shape)}", operators);
                    var (ok, abs, rel, where) = Compare(actual, expected);
                    maxAbs = Math.Max(maxAbs, abs); maxRel = Math.Max(maxRel, rel);
                    if (!ok)
                        return new CaseResult(name, CaseStatus.Failed, maxAbs, maxRel, $"output {i} differs at flat index {where}", operators);
                }
            }
        }
        catch (Exception e) when (e.InnerException is UnsupportedFeatureException || e is UnsupportedFeatureException)
        {
            return new CaseResult(name, CaseStatus.Unsupported, 0, 0, (e.InnerException ?? e).Message, operators);
        }
        catch (Exception e) when (e is EngineException or OnnxFormatException)
        {
            return new CaseResult(name, CaseStatus.Failed, double.NaN, double.NaN, e.Message, operators);
        }
        return new CaseResult(name, CaseStatus.Passed, maxAbs, maxRel, null, operators);
    }

    private static List<string> NumberedFiles(string folder, string prefix) =>
        Directory.GetFiles(folder, prefix + "*.pb")
            .OrderBy(f => int.TryParse(Path.GetFileNameWithoutExtension(f)[prefix.Length..], out var n) ? n : int.MaxValue)
            .ToList();

    /// <summary>
    /// The engine computes in float32 and int64. Double tensors are read as float32 (as double initializers are) and
    /// compared at the suite's tolerance; cases built on strings, complex numbers, bfloat16 or sequences are out of scope.
    /// </summary>
    private static string? UnsupportedElementTypes(OnnxModel onnx)
    {
        foreach (var v in onnx.Graph.Inputs.Concat(onnx.Graph.Outputs))
        {
            if (v.ElementType is OnnxElementType.String or OnnxElementType.Complex64 or OnnxElementType.Complex128 or OnnxElementType.BFloat16)
                return $"element type {v.ElementType} of '{v.Name}' (the engine computes in float32/int64)";
            if (v.ElementType == OnnxElementType.Undefined)
                return $"'{v.Name}' is not a tensor (sequence and optional types are not supported)";
        }
        return null;
    }

    private static (bool Ok, double Abs, double Rel, int Where) Compare(Tensor actual, Tensor expected)
    {
        var a = actual.IsInteger ? actual.AsLongs().Select(v => (double)v).ToArray() : actual.Data.Take(actual.Length).Select(v => (double)v).ToArray();
        var e = expected.IsInteger ? expected.AsLongs().Select(v => (double)v).ToArray() : expected.Data.Take(expected.Length).Select(v => (double)v).ToArray();
        double maxAbs = 0, maxRel = 0;
        for (int i = 0; i < a.Length; i++)
        {
            if (double.IsNaN(e[i]) && double.IsNaN(a[i])) continue;
            if (double.IsInfinity(e[i]) && a[i] == e[i]) continue;
            double diff = Math.Abs(a[i] - e[i]);
            maxAbs = Math.Max(maxAbs, diff);
            if (e[i] != 0) maxRel = Math.Max(maxRel, diff / Math.Abs(e[i]));
            if (!(diff <= AbsoluteTolerance + RelativeTolerance * Math.Abs(e[i]))) return (false, maxAbs, maxRel, i);
        }
        return (true, maxAbs, maxRel, -1);
    }
}
