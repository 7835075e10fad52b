// Output shapes for `info`: one forward pass on zeros of the declared input shape (symbolic batch → 1).
// Running the real ops is exact where static shape rules would have to duplicate every op's logic.
using AdvVis.Engine;

namespace AdvVis.Cli;

internal static class ShapeProbe
{
    public static IReadOnlyDictionary<string, int[]> InferShapes(Model model, out string? error)
    {
        var shapes = new Dictionary<string, int[]>();
        error = null;
        if (model.UnsupportedNodes.Count > 0) { error = "the model has unsupported operators"; return shapes; }
        var feeds = new Dictionary<string, Tensor>();
        foreach (var input in model.Inputs)
        {
            var dims = input.DeclaredShape?.Select(d => (int)(d.Value ?? 1)).ToArray();
            if (dims is null) { error = $"input '{input.Name}' declares no shape"; return shapes; }
            feeds[input.Name] = Tensor.Zeros(dims);
        }
        try
        {
            var pass = model.Forward(feeds, new RunOptions { Capture = model.ValueNames.Where(n => model.ConstantValue(n) is null).ToList() });
            foreach (var name in model.ValueNames)
            {
                if (model.ConstantValue(name) is { } c) { shapes[name] = c.Shape; continue; }
                try { shapes[name] = pass[name].Shape; } catch (EngineException) { }
            }
        }
        catch (EngineException e) { error = e.Message; }
        return shapes;
    }
}
