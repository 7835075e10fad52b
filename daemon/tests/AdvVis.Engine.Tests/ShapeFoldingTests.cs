// Shape subgraphs fold at load when the declared input fixes the sizes they read, and run with each input when it
// does not. Swin's shift masks (Shape → Gather → Mod → Range → ScatterND → Equal → Where …) are the case in point.
using AdvVis.Data;

namespace AdvVis.Engine.Tests;

public class ShapeFoldingTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private static readonly string[] ShapeArithmetic = ["Shape", "Range", "Mod", "ScatterND", "ConstantOfShape", "Equal", "Not"];

    private static Tensor Load(string path)
    {
        var a = Npy.Read(path);
        return new Tensor(a.Shape, a.ToFloatArray());
    }

    private static int CountOps(Model model, params string[] ops) => model.Nodes.Count(n => ops.Contains(n.OpType));

    [Fact]
    public void SwinShiftMasksFoldWhenHeightAndWidthAreDeclared()
    {
        // tiny-swin declares [batch, 3, 40, 40]: every mask and window size follows from 40x40, only the batch is open.
        var model = Model.Load(TestPaths.GeneratedClassifier("tiny-swin.onnx"));
        var inFile = model.Source.Graph.Nodes.Count(n => ShapeArithmetic.Contains(n.OpType));
        output.WriteLine($"tiny-swin: {model.Source.Graph.Nodes.Count} nodes in the file, {model.Nodes.Count} at run time; shape-arithmetic nodes {inFile} -> {CountOps(model, ShapeArithmetic)}");
        Assert.True(inFile > 50);
        Assert.Equal(0, CountOps(model, "Range", "Mod", "ScatterND", "ConstantOfShape", "Equal", "Not"));
    }

    [Fact]
    public void FoldedShapesStillFollowTheBatch()
    {
        // The batch stays open: a batch of 3 (the reference pair plus a third image) gives the pair's reference logits.
        var model = Model.Load(TestPaths.GeneratedClassifier("tiny-swin.onnx"));
        var dir = TestPaths.GeneratedClassifier("tiny-swin");
        var pair = Load(Path.Combine(dir, "input.npy"));
        var three = new Tensor([3, .. pair.Shape[1..]], pair.Data.Concat(pair.Data.Take(pair.Length / 2)).ToArray());
        var logits = model.Forward(three).Output;
        var expected = Load(Path.Combine(dir, "logits.npy"));
        Assert.Equal([3, 10], logits.Shape);
        var firstTwo = new Tensor([2, 10], logits.Data.Take(20).ToArray());
        Assert.True(ReferenceComparison.RelativeError(firstTwo, expected) < 1e-4);
        Assert.Equal(logits.Data.Take(10), logits.Data.Skip(20).Take(10));
    }

    [Fact]
    public void SwinShiftMasksRunWhenHeightAndWidthAreSymbolic()
    {
        // The same weights exported with symbolic height and width: the masks are computed per input size, at 40x40
        // they give the static export's logits, and another size (48x48: windows padded differently) runs too.
        var dynamicModel = Model.Load(TestPaths.GeneratedClassifier("tiny-swin-dynamic.onnx"));
        var staticModel = Model.Load(TestPaths.GeneratedClassifier("tiny-swin.onnx"));
        Assert.True(CountOps(dynamicModel, "Range", "ScatterND") > 0, "the symbolic model's masks should run at run time");
        var input = Load(Path.Combine(TestPaths.GeneratedClassifier("tiny-swin"), "input.npy"));
        var a = dynamicModel.Forward(input).Output;
        var b = staticModel.Forward(input).Output;
        Assert.True(ReferenceComparison.RelativeError(a, b) < 1e-6);
        var larger = new Tensor([1, 3, 48, 48], Enumerable.Range(0, 3 * 48 * 48).Select(i => (float)Math.Sin(i * 0.37)).ToArray());
        Assert.Equal([1, 10], dynamicModel.Forward(larger).Output.Shape);
        output.WriteLine($"tiny-swin-dynamic: {dynamicModel.Nodes.Count} nodes at run time (static export: {staticModel.Nodes.Count})");
    }
}
