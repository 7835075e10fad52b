// `advvis info MODEL`: what the model takes and gives, its nodes with output shapes, and what AdvVis cannot run.
using System.Text.Json.Nodes;
using AdvVis.Engine;
using AdvVis.Engine.Import;

namespace AdvVis.Cli;

internal static class InfoCommand
{
    public static int Run(ParsedArgs args)
    {
        var path = args.RequirePositional(0, "MODEL (an .onnx file)");
        var model = Model.Load(path);
        var shapes = ShapeProbe.InferShapes(model, out var probeError);

        if (args.Has("--json"))
        {
            var json = new JsonObject
            {
                ["path"] = Path.GetFullPath(path),
                ["irVersion"] = model.Source.IrVersion,
                ["producer"] = model.Source.Producer,
                ["opset"] = model.Opset,
                ["inputs"] = new JsonArray(model.Inputs.Select(i => (JsonNode)new JsonObject
                {
                    ["name"] = i.Name, ["type"] = i.ElementType.ToString().ToLowerInvariant(),
                    ["shape"] = new JsonArray(i.DeclaredShape?.Select(d => d.Value is { } v ? (JsonNode)v : d.Symbol ?? "?").ToArray() ?? []),
                }).ToArray()),
                ["outputs"] = new JsonArray(model.OutputNames.Select(o => (JsonNode)new JsonObject
                {
                    ["name"] = o, ["shape"] = ShapeJson(shapes, o),
                }).ToArray()),
                ["parameterCount"] = model.Parameters.Sum(p => (long)model.ConstantValue(p)!.Length),
                ["nodes"] = new JsonArray(model.Nodes.Select(n => (JsonNode)new JsonObject
                {
                    ["name"] = n.Name, ["op"] = n.OpType,
                    ["inputs"] = new JsonArray(n.Inputs.Where(i => i >= 0).Select(i => (JsonNode)model.ValueNames[i]).ToArray()),
                    ["outputs"] = new JsonArray(n.Outputs.Where(o => o >= 0).Select(o => (JsonNode)new JsonObject
                    {
                        ["name"] = model.ValueNames[o], ["shape"] = ShapeJson(shapes, model.ValueNames[o]),
                    }).ToArray()),
                }).ToArray()),
                ["unsupported"] = new JsonArray(model.UnsupportedNodes.Select(u => (JsonNode)new JsonObject
                {
                    ["op"] = u.OpType, ["reason"] = u.Reason,
                }).ToArray()),
                ["shapeInferenceError"] = probeError,
            };
            CliApp.WriteJson(json);
            return 0;
        }

        Console.WriteLine($"model:    {Path.GetFullPath(path)}");
        Console.WriteLine($"producer: {model.Source.Producer}  (IR {model.Source.IrVersion}, opset {model.Opset})");
        foreach (var i in model.Inputs)
            Console.WriteLine($"input:    {i.Name} {i.ElementType.ToString().ToLowerInvariant()} [{string.Join(",", i.DeclaredShape ?? [])}]");
        foreach (var o in model.OutputNames)
            Console.WriteLine($"output:   {o} {ShapeText(shapes, o)}");
        Console.WriteLine($"params:   {model.Parameters.Sum(p => (long)model.ConstantValue(p)!.Length):N0}");
        Console.WriteLine($"nodes:    {model.Nodes.Count}");
        foreach (var n in model.Nodes)
        {
            var outs = string.Join(", ", n.Outputs.Where(o => o >= 0).Select(o => $"{model.ValueNames[o]} {ShapeText(shapes, model.ValueNames[o])}"));
            Console.WriteLine($"  {n.Index,4}  {n.OpType,-20} {n.Name,-32} → {outs}");
        }
        if (probeError is not null) Console.WriteLine($"shapes:   not inferred ({probeError})");
        if (model.UnsupportedNodes.Count == 0) Console.WriteLine("unsupported operators: none");
        else
        {
            Console.WriteLine("unsupported operators:");
            foreach (var u in model.UnsupportedNodes) Console.WriteLine($"  {u.OpType}: {u.Reason}");
        }
        return 0;
    }

    private static JsonNode ShapeJson(IReadOnlyDictionary<string, int[]> shapes, string name) =>
        shapes.TryGetValue(name, out var s) ? new JsonArray(s.Select(d => (JsonNode)d).ToArray()) : new JsonArray();

    private static string ShapeText(IReadOnlyDictionary<string, int[]> shapes, string name) =>
        shapes.TryGetValue(name, out var s) ? ShapeMath.Text(s) : "[?]";
}
