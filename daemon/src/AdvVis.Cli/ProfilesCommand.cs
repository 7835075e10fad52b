// `advvis profiles MODEL --data DATA [--layers L1,L2,...] [--limit 2000] [--seed N] [--json] [--bench] [--reference FILE]`:
// the Flow View data of Activation Profiles (ActivationProfiles.Compute: aligned 1-D UMAP per layer on the dataset as
// background; layers default to Divergence.SelectLayers, one path through the graph, as the daemon's explain/run),
// with per-layer trustworthiness (k = 10), neighbouring-axis alignment (Spearman) and timings. --bench also
// prints umap-learn's figures (UMAP 1-D and AlignedUMAP, from the committed activation_reference.json) next to ours when
// the model, data, item count and layers are the ones the reference was made with.
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using AdvVis.Analysis.Architecture;
using AdvVis.Analysis.Profiles;

namespace AdvVis.Cli;

internal static class ProfilesCommand
{
    private const string ReferenceRelative = "daemon/tests/AdvVis.Analysis.Tests/reference/activation_reference.json";

    public static int Run(ParsedArgs args, CancellationToken cancellation)
    {
        var modelPath = args.RequirePositional(0, "MODEL (an .onnx file)");
        var dataPath = args.Require("--data", "DATA (the background dataset: .npz, IDX, CIFAR-10 or an image folder)");
        int limit = CliModel.Int(args, "--limit") ?? 2000;
        if (limit < 20) throw new CliException($"--limit must be at least 20 (UMAP needs neighbours), got {limit}.");
        ulong seed = (ulong)(CliModel.Int(args, "--seed") ?? 42);
        bool json = args.Has("--json"), bench = args.Has("--bench");
        var m = CliModel.Load(modelPath, args);
        var notes = new List<string>(m.Notes);
        Reference? reference = bench ? Reference.Find(args.Get("--reference"), notes) : null;

        string[] layers = args.Get("--layers") is { } list
            ? list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            : reference is not null && reference.ModelFile == Path.GetFileName(modelPath) ? reference.Layers
            : AdvVis.Attacks.Divergence.SelectLayers(m.Model).Select(l => l.Name).ToArray();
        foreach (var layer in layers)
            if (!m.Model.TryGetValueId(layer, out _))
                throw new CliException($"--layers: the model has no tensor '{layer}'. `advvis info {modelPath}` lists the tensor names.");
        var selection = ArchitectureGraph.Build(m.Model, inferShapes: false).ValidateSelection(layers);
        if (!selection.IsSequential) throw new CliException($"--layers: {selection.Message}");

        var (pixels, labels, _) = m.LoadData(dataPath, limit, notes, cancellation);
        if (pixels.Shape[0] < 20) throw new CliException($"'{dataPath}' gave {pixels.Shape[0]} images; the flow needs at least 20.");
        var input = m.Attack.ToModelInput(pixels);
        var self = Process.GetCurrentProcess();
        TimeSpan cpuBefore = self.TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        FlowResult result;
        using (var bar = new ProgressBar("activation profiles"))
            result = ActivationProfiles.Compute(m.Model, layers, input, labels, LabelSource.True, null, null,
                new FlowOptions { Seed = seed, ComputeQuality = true }, cancellation, bar);
        double total = clock.Elapsed.TotalSeconds;
        self.Refresh();
        double cpu = (self.TotalProcessorTime - cpuBefore).TotalSeconds;
        var t = result.Timings;
        double activations = total - t.ProjectionSeconds - t.ForegroundSeconds - t.SummariesSeconds - t.QualitySeconds;
        string load = LoadAverage();

        bool comparable = false;
        if (reference is not null)
        {
            comparable = reference.ModelFile == Path.GetFileName(modelPath) && reference.DataFile == Path.GetFileName(dataPath)
                         && reference.Items == pixels.Shape[0] && reference.Layers.SequenceEqual(layers);
            if (!comparable)
                notes.Add($"umap-learn's reference figures are for {reference.ModelFile} on {reference.DataFile} ({reference.Items} items, " +
                          $"layers {string.Join(", ", reference.Layers)}); this run differs, so they are not shown next to ours");
        }

        if (json)
        {
            var axes = new JsonArray();
            for (int l = 0; l < result.Axes.Count; l++)
            {
                var axis = new JsonObject
                {
                    ["layer"] = result.Axes[l].Layer, ["features"] = result.Axes[l].Features,
                    ["trustworthiness"] = result.Axes[l].Trustworthiness,
                };
                if (comparable)
                {
                    axis["umap_learn_aligned_trustworthiness"] = reference!.AlignedTrustworthiness[l];
                    axis["umap_learn_umap_1d_trustworthiness"] = reference.UmapTrustworthiness[l];
                }
                axes.Add(axis);
            }
            var root = new JsonObject
            {
                ["model"] = Path.GetFullPath(m.Path), ["data"] = Path.GetFullPath(dataPath), ["items"] = pixels.Shape[0], ["seed"] = seed,
                ["axes"] = axes, ["alignment"] = result.Alignment, ["label_count"] = result.LabelCount, ["bundles"] = result.Bundles.Count,
                ["timings"] = new JsonObject
                {
                    ["activations_s"] = Math.Round(activations, 3), ["projection_s"] = Math.Round(t.ProjectionSeconds, 3),
                    ["summaries_s"] = Math.Round(t.SummariesSeconds, 3), ["quality_s"] = Math.Round(t.QualitySeconds, 3),
                    ["total_s"] = Math.Round(total, 3), ["cpu_s"] = Math.Round(cpu, 3),
                    ["cores"] = Environment.ProcessorCount, ["load_average"] = load,
                },
                ["notes"] = new JsonArray(notes.Select(n => (JsonNode?)n).ToArray()),
            };
            if (comparable)
                root["umap_learn"] = new JsonObject
                {
                    ["versions"] = reference!.Versions, ["aligned_alignment"] = reference.AlignedSpearman,
                    ["aligned_wall_s"] = reference.AlignedWallSeconds,
                };
            CliApp.WriteJson(root);
            return 0;
        }

        Console.WriteLine($"Activation profiles of {Path.GetFileName(modelPath)} on {pixels.Shape[0]} items of {Path.GetFileName(dataPath)} (seed {seed})");
        Console.WriteLine(comparable
            ? $"  {"layer",-44} {"features",8} {"trust.",7} {"AlignedUMAP",11} {"UMAP 1-D",9}"
            : $"  {"layer",-44} {"features",8} {"trust.",7}");
        for (int l = 0; l < result.Axes.Count; l++)
        {
            var axis = result.Axes[l];
            string line = $"  {Shorten(axis.Layer, 44),-44} {axis.Features,8} {axis.Trustworthiness,7:F4}";
            if (comparable) line += $" {reference!.AlignedTrustworthiness[l],11:F4} {reference.UmapTrustworthiness[l],9:F4}";
            Console.WriteLine(line);
        }
        Console.WriteLine(comparable
            ? $"  alignment (mean neighbouring Spearman): {result.Alignment:F4} (AlignedUMAP {reference!.AlignedSpearman:F4})"
            : $"  alignment (mean neighbouring Spearman): {result.Alignment:F4}");
        Console.WriteLine($"  timings: activations {activations:F2} s, aligned UMAP {t.ProjectionSeconds:F2} s, summaries {t.SummariesSeconds:F2} s, " +
                          $"quality {t.QualitySeconds:F2} s; total {total:F2} s wall, {cpu:F2} s CPU ({Environment.ProcessorCount} cores, load {load})");
        if (comparable)
            Console.WriteLine($"  umap-learn {reference!.Versions}: AlignedUMAP took {reference.AlignedWallSeconds:F1} s on the reference machine");
        foreach (var n in notes) Console.WriteLine($"  note: {n}");
        return 0;
    }

    private static string Shorten(string s, int n) => s.Length <= n ? s : "…" + s[^(n - 1)..];

    private static string LoadAverage()
    {
        try { return File.ReadAllText("/proc/loadavg").Split(' ')[0]; }
        catch (IOException) { return "n/a"; }
        catch (UnauthorizedAccessException) { return "n/a"; }
    }

    /// <summary>The figures of reference/activation_reference.py (umap-learn on fmnist-cnn-paper and the Fashion-MNIST 2,000).</summary>
    private sealed record Reference(string ModelFile, string DataFile, int Items, string[] Layers, double[] AlignedTrustworthiness,
        double[] UmapTrustworthiness, double AlignedSpearman, double AlignedWallSeconds, string Versions)
    {
        public static Reference? Find(string? explicitPath, List<string> notes)
        {
            string? path = explicitPath;
            if (path is null)
            {
                foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
                {
                    for (var dir = new DirectoryInfo(start); dir is not null && path is null; dir = dir.Parent)
                        if (File.Exists(Path.Combine(dir.FullName, ReferenceRelative))) path = Path.Combine(dir.FullName, ReferenceRelative);
                    if (path is not null) break;
                }
            }
            if (path is null || !File.Exists(path))
            {
                notes.Add(explicitPath is null
                    ? $"--bench: umap-learn's figures ({ReferenceRelative}) were not found above the current folder; pass --reference FILE"
                    : $"--bench: '{explicitPath}' does not exist");
                return null;
            }
            using var doc = JsonDocument.Parse(File.ReadAllText(path));
            var root = doc.RootElement;
            double[] Numbers(JsonElement e) => e.EnumerateArray().Select(v => v.GetDouble()).ToArray();
            var aligned = root.GetProperty("aligned_umap_1d");
            var versions = root.GetProperty("versions");
            return new Reference(Path.GetFileName(root.GetProperty("model").GetString()!), Path.GetFileName(root.GetProperty("data").GetString()!),
                root.GetProperty("predicted").GetArrayLength(), root.GetProperty("flow_layers").EnumerateArray().Select(e => e.GetString()!).ToArray(),
                Numbers(aligned.GetProperty("trustworthiness_k10")), Numbers(root.GetProperty("umap").GetProperty("1d").GetProperty("trustworthiness_k10")),
                aligned.GetProperty("mean_abs_spearman").GetDouble(), aligned.GetProperty("wall_s").GetDouble(),
                string.Create(CultureInfo.InvariantCulture, $"umap {versions.GetProperty("umap").GetString()}, sklearn {versions.GetProperty("sklearn").GetString()}"));
        }
    }
}
