// ModelStore: open models by handle. A handle is the first 16 hex digits of the file's SHA-256, so it is the same in
// every daemon for the same content: a client that restarts the daemon re-opens by path and keeps its handles.
using System.Collections.Concurrent;
using System.Security.Cryptography;
using AdvVis.Analysis.Architecture;
using AdvVis.Data;
using AdvVis.Engine;
using AdvVis.Onnx;
using AdvVis.Safety;
using AdvVis.Service.JsonRpc;
using AdvVis.Service.Protocol;

namespace AdvVis.Service.Daemon;

/// <summary>An open model: the engine's lowered graph plus what the protocol reports about it.</summary>
public sealed class OpenModel
{
    public required string Handle { get; init; }
    public required string Path { get; init; }
    public required string Sha256 { get; init; }
    public required long FileBytes { get; init; }
    public required Model Model { get; init; }
    public Preprocessing? Preprocessing { get; init; }
    public IReadOnlyList<string> PreprocessingNotes { get; init; } = [];
    public ClassLabels? Labels { get; init; }

    /// <summary>The active neurons/edit deletion set; replaced whole (never mutated), so readers need no lock.</summary>
    public volatile NeuronDeletion[] Edits = [];

    private readonly ConcurrentDictionary<BlockStrategy, Lazy<ArchitectureGraph>> _architecture = new();

    /// <summary>The Architecture View graph (shapes from one batch-1 pass), built once per block strategy on first use.</summary>
    public ArchitectureGraph Architecture(BlockStrategy strategy = BlockStrategy.Auto) =>
        _architecture.GetOrAdd(strategy, s => new Lazy<ArchitectureGraph>(() => ArchitectureGraph.Build(Model, s))).Value;
}

public sealed class ModelStore
{
    private readonly ConcurrentDictionary<string, OpenModel> _models = new(StringComparer.Ordinal);

    public IReadOnlyCollection<OpenModel> All => _models.Values.OrderBy(m => m.Path, StringComparer.Ordinal).ToList();

    public OpenModel Get(string handle) =>
        _models.TryGetValue(handle ?? "", out var model) ? model
        : throw new JsonRpcException(AdvVisErrorCodes.ModelNotOpen, $"No open model has the handle '{handle}'; call model/open with its path first (handles survive daemon restarts: re-opening the same file gives the same handle).");

    public bool Close(string handle) => _models.TryRemove(handle, out _);

    public OpenModel Open(string path, string? expectedSha256, CancellationToken cancellation)
    {
        string full = System.IO.Path.GetFullPath(path);
        string sha;
        long bytes;
        // Refuses FIFOs, devices and /proc entries (directly or through links) before opening, so model/open answers at once.
        using (var stream = SafeFiles.OpenRead(full, "Model file"))
        {
            bytes = stream.Length;
            sha = Convert.ToHexStringLower(SHA256.HashData(stream));
        }
        if (expectedSha256 is not null && !expectedSha256.Equals(sha, StringComparison.OrdinalIgnoreCase))
            throw new JsonRpcException(AdvVisErrorCodes.ModelChanged, $"Model file '{full}' has sha256 {sha}, not the expected {expectedSha256}: it changed on disk.");
        string handle = sha[..16];
        if (_models.TryGetValue(handle, out var existing)) return existing;
        cancellation.ThrowIfCancellationRequested();

        Model model;
        try { model = Model.Load(full); }
        catch (OnnxFormatException e) { throw new JsonRpcException(AdvVisErrorCodes.BadInput, e.Message); }

        Preprocessing? pre = null;
        var notes = new List<string>();
        ClassLabels? labels = null;
        if (model.Inputs.Count == 1 && model.Inputs[0].DeclaredShape is { Count: 4 } dims && dims[1].Value is 1 or 3 && dims[2].Value is { } h && dims[3].Value is { } w)
        {
            pre = Preprocessing.ForModel(full, (int)dims[1].Value!.Value, (int)h, (int)w);
            notes.AddRange(pre.Assumptions);
            if (pre.LabelsPath is { } labelsPath)
            {
                try { labels = ClassLabels.Load(labelsPath); }
                catch (Exception e) when (e is IOException or DataFormatException or InvalidDataException) { notes.Add($"labels file '{labelsPath}' could not be read: {e.Message}"); }
            }
        }
        else notes.Add("the input is not a single NCHW image with a fixed size: image items cannot be preprocessed, pass .npy tensors");

        var opened = new OpenModel
        {
            Handle = handle, Path = full, Sha256 = sha, FileBytes = bytes, Model = model,
            Preprocessing = pre, PreprocessingNotes = notes, Labels = labels,
        };
        return _models.GetOrAdd(handle, opened);
    }

    public static ModelInfo Describe(OpenModel m)
    {
        var model = m.Model;
        var onnx = model.Source.Graph;
        static string[] Dims(IReadOnlyList<OnnxDim>? shape) =>
            shape?.Select(d => d.Value?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? d.Symbol ?? "?").ToArray() ?? [];
        var inputs = model.Inputs.Select(i => new TensorInfo(i.Name, i.ElementType.ToString().ToLowerInvariant(), Dims(i.DeclaredShape))).ToArray();
        var outputs = model.OutputNames.Select(name =>
        {
            var info = onnx.Outputs.FirstOrDefault(o => o.Name == name);
            return new TensorInfo(name, (info?.ElementType ?? OnnxElementType.Float).ToString().ToLowerInvariant(), Dims(info?.Shape));
        }).ToArray();
        var unsupported = model.Nodes.Where(n => n.Op is AdvVis.Engine.Ops.Unsupported)
            .Select(n => new UnsupportedOp(n.Name, n.OpType, ((AdvVis.Engine.Ops.Unsupported)n.Op).Reason)).ToArray();
        var pre = m.Preprocessing;
        int classes = ClassCount(m);
        return new ModelInfo(m.Handle, m.Path, m.Sha256, m.FileBytes, model.Opset, inputs, outputs, model.Nodes.Count,
            model.Parameters.Sum(p => (long)(model.ConstantValue(p)?.Length ?? 0)), unsupported,
            pre is null ? null : new PreprocessingInfo(pre.Width, pre.Height, pre.Channels, pre.Order.ToString().ToLowerInvariant(), pre.Scale,
                pre.Mean, pre.Std, pre.ResizeShorterSide, pre.LabelsPath, m.PreprocessingNotes.ToArray()),
            m.Labels?.Names.ToArray(), classes > 0 ? classes : null, m.Edits,
            pre is null ? [] : Handlers.RobustnessHandlers.StandardBudgets(pre.Channels, pre.Height, pre.Width));
    }

    /// <summary>Classes from the first output's declared shape (product of the non-batch dims), or 0 if unknown.</summary>
    public static int ClassCount(OpenModel m)
    {
        var info = m.Model.Source.Graph.Outputs.FirstOrDefault(o => o.Name == m.Model.OutputNames[0]);
        if (info?.Shape is not { Count: >= 2 } shape || shape.Skip(1).Any(d => d.Value is null)) return m.Labels?.Count ?? 0;
        return (int)shape.Skip(1).Aggregate(1L, (a, d) => a * d.Value!.Value);
    }
}
