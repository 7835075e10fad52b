// `advvis infer MODEL --input FILE`: logits, probabilities and top-5 for a preprocessed tensor (.npy/.npz) or an image
// (preprocessed by the model's sidecar config, or by what the input shape implies, which is then reported).
using System.Text.Json.Nodes;
using AdvVis.Data;
using AdvVis.Engine;

namespace AdvVis.Cli;

internal static class InferCommand
{
    public static int Run(ParsedArgs args)
    {
        var modelPath = args.RequirePositional(0, "MODEL (an .onnx file)");
        var inputPath = args.Require("--input", "FILE (.npy/.npz tensor or an image)");
        var model = Model.Load(modelPath);
        if (model.Inputs.Count != 1) throw new CliException($"infer handles single-input models; this one has {model.Inputs.Count}.");
        var declared = model.Inputs[0].DeclaredShape ?? throw new CliException("The model declares no input shape.");
        var notes = new List<string>();
        var tensor = LoadInput(modelPath, inputPath, declared.Select(d => (int?)(int?)d.Value).ToArray(), notes, out var labelsPath);
        labelsPath = args.Get("--labels") ?? labelsPath;
        var labels = labelsPath is null ? null : ClassLabels.Load(labelsPath);

        var output = model.Forward(tensor).Output;
        int batch = output.Shape[0], classes = output.Length / Math.Max(batch, 1);
        var results = new JsonArray();
        for (int b = 0; b < batch; b++)
        {
            var logits = output.Data.AsSpan(b * classes, classes).ToArray();
            // A model that already ends in Softmax gives probabilities; don't apply it twice.
            bool isDistribution = logits.All(v => v >= 0) && Math.Abs(logits.Sum() - 1f) < 1e-3f;
            var probabilities = isDistribution ? logits : SoftmaxOf(logits);
            var top = Enumerable.Range(0, classes).OrderByDescending(i => probabilities[i]).Take(5).ToArray();
            results.Add(new JsonObject
            {
                ["logits"] = new JsonArray(logits.Select(v => (JsonNode)v).ToArray()),
                ["probabilities"] = new JsonArray(probabilities.Select(v => (JsonNode)v).ToArray()),
                ["outputIsProbability"] = isDistribution,
                ["top5"] = new JsonArray(top.Select(i => (JsonNode)new JsonObject
                {
                    ["class"] = i, ["label"] = labels is not null && i < labels.Count ? labels.Names[i] : null, ["probability"] = probabilities[i],
                }).ToArray()),
            });
        }

        if (args.Has("--json"))
        {
            CliApp.WriteJson(new JsonObject
            {
                ["model"] = Path.GetFullPath(modelPath), ["input"] = Path.GetFullPath(inputPath),
                ["inputShape"] = new JsonArray(tensor.Shape.Select(d => (JsonNode)d).ToArray()),
                ["notes"] = new JsonArray(notes.Select(n => (JsonNode)n).ToArray()),
                ["results"] = results,
            });
            return 0;
        }
        foreach (var n in notes) Console.WriteLine($"note: {n}");
        for (int b = 0; b < batch; b++)
        {
            var r = results[b]!.AsObject();
            if (batch > 1) Console.WriteLine($"item {b}:");
            Console.WriteLine("  logits: " + string.Join(" ", r["logits"]!.AsArray().Take(20).Select(v => v!.GetValue<float>().ToString("F4"))) + (classes > 20 ? " …" : ""));
            Console.WriteLine("  top-5:");
            foreach (var t in r["top5"]!.AsArray())
                Console.WriteLine($"    {t!["class"],5}  {t["probability"]!.GetValue<float>(),8:P2}  {t["label"]?.GetValue<string>() ?? ""}");
        }
        return 0;
    }

    private static float[] SoftmaxOf(float[] logits)
    {
        float max = logits.Max();
        var e = logits.Select(v => Math.Exp(v - max)).ToArray();
        double sum = e.Sum();
        return e.Select(v => (float)(v / sum)).ToArray();
    }

    internal static Tensor LoadInput(string modelPath, string inputPath, int?[] declared, List<string> notes, out string? labelsPath)
    {
        labelsPath = null;
        if (!File.Exists(inputPath)) throw new CliException($"Input file '{inputPath}' does not exist.");
        var extension = Path.GetExtension(inputPath).ToLowerInvariant();
        if (extension is ".npy" or ".npz")
        {
            var array = extension == ".npy" ? Npy.Read(inputPath) : Npz.Read(inputPath).Values.FirstOrDefault()
                ?? throw new CliException($"'{inputPath}' holds no arrays.");
            var shape = array.Shape;
            // A single item without the batch axis gets one.
            if (shape.Length == declared.Length - 1) { shape = [1, .. shape]; notes.Add("added a batch axis of 1"); }
            return new Tensor(shape, array.ToFloatArray());
        }
        if (declared.Length != 4 || declared[1] is not (1 or 3) || declared[2] is null || declared[3] is null)
            throw new CliException($"The model's input [{string.Join(",", declared.Select(d => d?.ToString() ?? "?"))}] is not an NCHW image with a fixed size; pass a preprocessed .npy tensor instead.");
        var pre = Preprocessing.ForModel(modelPath, declared[1]!.Value, declared[2]!.Value, declared[3]!.Value);
        notes.AddRange(pre.Assumptions);
        labelsPath = pre.LabelsPath;
        var image = ImageDecoder.Decode(inputPath);
        return new Tensor([1, pre.Channels, pre.Height, pre.Width], pre.ToInput(image));
    }
}
