// The ONNX project's own operator tests (Debian package libonnx-testdata): every case built only from operators
// AdvVis claims must pass. Cases needing features outside the engine's scope (3-D windows, training mode, integer
// arithmetic in float ops, bfloat16/string/sequence types) report Unsupported with the reason, never Failed. Double
// cases run in float32, as double initializers do.
using AdvVis.Engine.Conformance;
using AdvVis.Engine.Import;
using AdvVis.Onnx;

namespace AdvVis.Engine.Tests;

public class ConformanceTests
{
    public static TheoryData<string> ClaimedCases()
    {
        var data = new TheoryData<string>();
        if (!Directory.Exists(TestPaths.OnnxTestData))
        {
            data.Add("MISSING: install the Debian package libonnx-testdata");
            return data;
        }
        foreach (var suite in new[] { "node", "pytorch-converted", "pytorch-operator" })
        foreach (var dir in Directory.GetDirectories(Path.Combine(TestPaths.OnnxTestData, suite)).OrderBy(d => d, StringComparer.Ordinal))
        {
            try
            {
                var model = OnnxReader.LoadModel(Path.Combine(dir, "model.onnx"));
                if (model.Graph.Nodes.All(n => OperatorTable.IsSupported(n.OpType, n.Domain)))
                    data.Add(suite + "/" + Path.GetFileName(dir));
            }
            catch (OnnxFormatException) { data.Add(suite + "/" + Path.GetFileName(dir)); }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(ClaimedCases))]
    public void CasePasses(string testCase)
    {
        Assert.False(testCase.StartsWith("MISSING"), testCase);
        var result = OnnxTestCase.Run(Path.Combine(TestPaths.OnnxTestData, testCase));
        Assert.True(result.Status != CaseStatus.Failed, $"{testCase}: {result.Detail} (max abs {result.MaxAbsError:G3}, rel {result.MaxRelError:G3})");
    }

    [Fact]
    public void TheClaimedOperatorListCoversTheIssueList()
    {
        string[] required =
        [
            "Conv", "Gemm", "MatMul", "Add", "Sub", "Mul", "Div", "Relu", "LeakyRelu", "Clip", "Sigmoid", "Tanh", "Softmax",
            "LogSoftmax", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "BatchNormalization", "LRN", "Dropout",
            "Flatten", "Reshape", "Transpose", "Concat", "Split", "Squeeze", "Unsqueeze", "Pad", "Identity", "Constant", "Shape",
            "Gather", "Cast", "ReduceMean", "Sum",
            // Issue 14: transformers, MobileNetV3, ConvNeXt and the ops torchvision/timm/tf2onnx classifiers use.
            "HardSwish", "HardSigmoid", "Erf", "Gelu", "LayerNormalization", "Equal", "Less", "Greater", "LessOrEqual",
            "GreaterOrEqual", "Not", "And", "Or", "Where", "Mod", "Range", "ScatterND", "Expand", "Einsum", "ReduceSum",
            "ReduceMax", "ReduceMin", "ReduceL2", "Pow", "Sqrt", "Reciprocal", "Neg", "Abs", "Exp", "Log", "Softplus",
            "Mish", "PRelu", "Elu", "Selu", "Celu", "InstanceNormalization", "Resize", "Upsample", "ConvTranspose", "Tile",
            "CumSum", "Trilu",
        ];
        Assert.Empty(required.Except(OperatorTable.SupportedOperators));
    }
}
