// Shared setup for the attack commands: the model with its preprocessing (config, inferred, or overridden on the
// command line) seen from pixel space, the dataset as pixel tensors, attack options, progress bars and report folders.
using System.Globalization;
using AdvVis.Attacks;
using AdvVis.Data;
using AdvVis.Engine;

namespace AdvVis.Cli;

internal sealed class CliModel
{
    public required string Path { get; init; }
    public required Model Model { get; init; }
    public required Preprocessing Preprocessing { get; init; }
    public required AttackModel Attack { get; init; }
    public required ClassLabels? Labels { get; init; }
    public List<string> Notes { get; } = [];

    public string ClassName(int c) => c < 0 ? "?" : Labels is not null && c < Labels.Count ? Labels.ShortName(c) : c.ToString(CultureInfo.InvariantCulture);

    public static CliModel Load(string modelPath, ParsedArgs args)
    {
        if (!File.Exists(modelPath)) throw new CliException($"Model file '{modelPath}' does not exist.");
        var model = Model.Load(modelPath);
        if (model.UnsupportedNodes.Count > 0)
            throw new CliException($"'{modelPath}' uses operators AdvVis cannot run yet: {model.DescribeUnsupported()}; `advvis info` lists them.");
        var overrides = Overrides(args);
        string? inputName = overrides.InputName;
        var input = inputName is null
            ? model.Inputs.Count == 1 ? model.Inputs[0] : throw new CliException($"The model has {model.Inputs.Count} inputs ({string.Join(", ", model.Inputs.Select(i => i.Name))}); name the image input with --input-name or \"input\" in the config.")
            : model.Inputs.FirstOrDefault(i => i.Name == inputName) ?? throw new CliException($"The model has no input '{inputName}'.");
        var declared = input.DeclaredShape?.Select(d => d.Value is { } v ? (int?)(int)v : null).ToArray()
            ?? throw new CliException($"The model declares no shape for input '{input.Name}'; give \"size\" in {System.IO.Path.GetFileName(modelPath)}.advvis.json.");
        var pre = Preprocessing.Resolve(modelPath, declared, overrides);
        var attack = new AttackModel(model, pre.Channels, pre.Height, pre.Width,
            PixelNormalization.From255(pre.Scale, pre.Mean, pre.Std), pre.Layout == InputLayout.Nhwc, pre.RangeMin, pre.RangeMax,
            inputName: pre.InputName ?? input.Name);
        ClassLabels? labels = null;
        var labelsPath = args.Get("--labels") ?? pre.LabelsPath;
        if (labelsPath is not null)
        {
            if (!File.Exists(labelsPath)) throw new CliException($"Labels file '{labelsPath}' does not exist (named by {(args.Has("--labels") ? "--labels" : pre.Source)}). Fix the path or drop it.");
            labels = ClassLabels.Load(labelsPath);
        }
        var result = new CliModel { Path = modelPath, Model = model, Preprocessing = pre, Attack = attack, Labels = labels };
        result.Notes.AddRange(pre.Assumptions);
        result.Notes.Add("preprocessing: " + pre.Describe());
        return result;
    }

    private static PreprocessingOverrides Overrides(ParsedArgs a) => new()
    {
        Channels = a.Get("--channels"), Resize = Int(a, "--resize"), Crop = Int(a, "--crop"), Scale = Floats(a, "--scale")?[0],
        Mean = Floats(a, "--mean"), Std = Floats(a, "--std"), Layout = a.Get("--layout"), Range = Floats(a, "--range"),
        InputName = a.Get("--input-name"),
    };

    public static int? Int(ParsedArgs a, string name) => a.Get(name) is { } s
        ? int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v : throw new CliException($"{name} expects an integer, got '{s}'.")
        : a.Has(name) ? throw new CliException($"{name} needs a value.") : null;

    /// <summary>Numbers separated by commas; each may be a fraction like 8/255.</summary>
    public static float[]? Floats(ParsedArgs a, string name) => a.Get(name) is { } s ? s.Split(',').Select(p => Number(p.Trim(), name)).ToArray()
        : a.Has(name) ? throw new CliException($"{name} needs a value.") : null;

    public static float Number(string text, string name)
    {
        var parts = text.Split('/');
        if (parts.Length is 1 or 2 && parts.All(p => double.TryParse(p, NumberStyles.Float, CultureInfo.InvariantCulture, out _)))
        {
            double v = double.Parse(parts[0], CultureInfo.InvariantCulture);
            if (parts.Length == 2) v /= double.Parse(parts[1], CultureInfo.InvariantCulture);
            if (double.IsFinite(v)) return (float)v;
        }
        throw new CliException($"{name} expects a number (e.g. 0.03 or 8/255), got '{text}'.");
    }

    /// <summary>The attack options from --attack, --eps, --alpha, --steps and friends.</summary>
    public AttackOptions AttackOptions(ParsedArgs a, AttackOptions defaults)
    {
        var kind = a.Get("--attack")?.ToLowerInvariant() switch
        {
            null => defaults.Kind,
            "fgsm" => AttackKind.Fgsm,
            "fgm" => AttackKind.Fgm,
            "pgd" => AttackKind.Pgd,
            "cw" or "cw-l2" or "carlini-wagner" => AttackKind.CarliniWagnerL2,
            "deepfool" => AttackKind.DeepFool,
            "bim" => AttackKind.Bim,
            "mifgsm" or "mi-fgsm" => AttackKind.MiFgsm,
            "tpgd" => AttackKind.Tpgd,
            "eotpgd" or "eot-pgd" => AttackKind.EotPgd,
            "onepixel" or "one-pixel" => AttackKind.OnePixel,
            "apgd" or "apgd-ce" => AttackKind.ApgdCe,
            "apgd-dlr" => AttackKind.ApgdDlr,
            "apgd-t" => AttackKind.ApgdT,
            "fab" => AttackKind.Fab,
            "fab-t" => AttackKind.FabT,
            "square" => AttackKind.Square,
            var other => throw new CliException($"--attack must be one of {AttackNames}, not '{other}'."),
        };
        var norm = a.Get("--norm")?.ToLowerInvariant() switch
        {
            null => kind == AttackKind.Fgm ? Norm.L2 : defaults.Norm,
            "linf" or "inf" or "l-inf" => Norm.LInf,
            "l2" => Norm.L2,
            "l1" => Norm.L1,
            var other => throw new CliException($"--norm must be linf, l2 or l1, not '{other}'."),
        };
        int? target = null;
        if (a.Get("--targeted") is { } t)
        {
            if (int.TryParse(t, NumberStyles.Integer, CultureInfo.InvariantCulture, out var ti)) target = ti;
            else if (Labels is not null)
            {
                var matches = Enumerable.Range(0, Labels.Count).Where(i => Labels.ShortName(i).Equals(t, StringComparison.OrdinalIgnoreCase)
                    || Labels.Names[i].Split(',').Any(n => n.Trim().Equals(t, StringComparison.OrdinalIgnoreCase))).ToArray();
                target = matches.Length > 0 ? matches[0] : throw new CliException($"--targeted '{t}' is neither a class index nor a class name of the labels file.");
            }
            else throw new CliException($"--targeted '{t}': give a class index (no labels file is known to map names).");
        }
        else if (a.Has("--targeted")) throw new CliException("--targeted needs a class (index or name).");
        float eps = Floats(a, "--eps")?[0] ?? defaults.Epsilon;
        var loss = a.Get("--loss")?.ToLowerInvariant() switch
        {
            null => defaults.Loss,
            "ce" or "cross-entropy" => LossKind.CrossEntropy,
            "margin" or "cw" => LossKind.Margin,
            var other => throw new CliException($"--loss must be ce or margin, not '{other}'."),
        };
        var o = defaults with
        {
            Kind = kind, Norm = norm, Epsilon = eps,
            StepSize = Floats(a, "--alpha")?[0] ?? (a.Has("--eps") ? null : defaults.StepSize),
            Steps = Int(a, "--steps") ?? DefaultSteps(kind, defaults.Steps),
            RandomStart = a.Has("--random-start") || defaults.RandomStart, EarlyStop = a.Has("--early-stop") || defaults.EarlyStop,
            Seed = Int(a, "--seed") ?? defaults.Seed, Loss = loss, Kappa = Floats(a, "--kappa")?[0] ?? defaults.Kappa,
            TargetClass = target ?? defaults.TargetClass, BinarySearchSteps = Int(a, "--binary-steps") ?? defaults.BinarySearchSteps,
            InitialConst = Floats(a, "--const")?[0] ?? defaults.InitialConst, LearningRate = Floats(a, "--lr")?[0] ?? defaults.LearningRate,
            Overshoot = Floats(a, "--overshoot")?[0] ?? defaults.Overshoot, Candidates = Int(a, "--candidates") ?? defaults.Candidates,
            BatchSize = Int(a, "--batch") ?? defaults.BatchSize,
            Decay = Floats(a, "--decay")?[0] ?? defaults.Decay, EotIterations = Int(a, "--eot") ?? defaults.EotIterations,
            Pixels = Int(a, "--pixels") ?? defaults.Pixels, Population = Int(a, "--population") ?? defaults.Population,
        };
        try { o.Validate(); }
        catch (ArgumentException e) { throw new CliException(e.Message); }
        return o;
    }

    public const string AttackNames = "fgsm, fgm, pgd, bim, mifgsm, tpgd, eotpgd, cw, deepfool, onepixel, apgd-ce, apgd-dlr, apgd-t, fab, fab-t or square";

    /// <summary>Iterations users know per attack (torchattacks/AutoAttack): CW 100, DeepFool 50, APGD/FAB 100, Square 5000 queries.</summary>
    private static int DefaultSteps(AttackKind kind, int fallback) => kind switch
    {
        AttackKind.CarliniWagnerL2 or AttackKind.ApgdCe or AttackKind.ApgdDlr or AttackKind.ApgdT or AttackKind.Fab or AttackKind.FabT => 100,
        AttackKind.DeepFool => 50,
        AttackKind.Square => 5000,
        _ => fallback,
    };

    /// <summary>Loads a dataset (or one image) and preprocesses it to pixel tensors in the model's geometry.</summary>
    public (Tensor Pixels, int[] Labels, LabeledImageSet Set) LoadData(string path, int? limit, List<string> notes, CancellationToken cancellation)
    {
        var set = DatasetLoader.Load(path, new DatasetOptions { Limit = limit, ModelClasses = Labels });
        foreach (var w in set.Warnings) Console.Error.WriteLine($"warning: {w}");
        notes.AddRange(set.Warnings);
        int per = Attack.PixelsPerImage;
        var data = new float[set.Count * per];
        using (var bar = new ProgressBar("preprocessing"))
            for (int i = 0; i < set.Count; i++)
            {
                cancellation.ThrowIfCancellationRequested();
                Preprocessing.ToPixels(set.Images[i]).CopyTo(data, i * per);
                if ((i & 63) == 0) bar.Report((double)i / set.Count);
            }
        var pixels = new Tensor([set.Count, Attack.Channels, Attack.Height, Attack.Width], data);
        var labels = set.Labels.ToArray();
        if (labels.Any(l => l < 0))
        {
            var scores = Predict(pixels, cancellation);
            for (int i = 0; i < labels.Length; i++) if (labels[i] < 0) labels[i] = scores[i];
            notes.Add("labels unknown for some images: the model's clean predictions are used as their labels");
        }
        return (pixels, labels, set);
    }

    public int[] Predict(Tensor pixels, CancellationToken cancellation)
    {
        var result = new int[pixels.Shape[0]];
        for (int s = 0; s < result.Length; s += 64)
        {
            int n = Math.Min(64, result.Length - s);
            var sc = Attack.Evaluate(AdvVis.Attacks.Attack.Slice(pixels, s, n), cancellation);
            for (int i = 0; i < n; i++) result[s + i] = sc.Predicted(i);
        }
        return result;
    }
}

/// <summary>A one-line progress bar on stderr, shown only once the work has taken longer than a second.</summary>
internal sealed class ProgressBar(string label) : IProgress<AttackProgress>, IProgress<double>, IDisposable
{
    private readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();
    private long _lastDraw = -1000;
    private bool _shown;
    private readonly object _gate = new();

    public void Report(AttackProgress value) => Draw(value.Fraction, $"{value.ImagesDone}/{value.Images} images");
    public void Report(double fraction) => Draw(fraction, "");

    private void Draw(double fraction, string detail)
    {
        lock (_gate)
        {
            long ms = _clock.ElapsedMilliseconds;
            if (ms < 1000 || ms - _lastDraw < (Console.IsErrorRedirected ? 5000 : 100)) return;
            _lastDraw = ms;
            _shown = true;
            fraction = Math.Clamp(fraction, 0, 1);
            int filled = (int)(fraction * 30);
            double eta = fraction > 0.01 ? ms / 1000.0 * (1 - fraction) / fraction : double.NaN;
            string line = $"{label} [{new string('#', filled)}{new string('.', 30 - filled)}] {fraction,6:P1} {detail} {ms / 1000.0:F0}s" + (double.IsNaN(eta) ? "" : $" (~{eta:F0}s left)");
            Console.Error.Write(Console.IsErrorRedirected ? line + "\n" : "\r" + line.PadRight(100));
        }
    }

    public void Dispose()
    {
        lock (_gate)
            if (_shown && !Console.IsErrorRedirected) Console.Error.WriteLine();
    }
}

/// <summary>An output folder AdvVis writes reports into: created if missing; never overwrites files it did not write.</summary>
internal static class OutputFolder
{
    private const string Marker = ".advvis-output";

    public static string Prepare(string dir, IEnumerable<string> files)
    {
        Directory.CreateDirectory(dir);
        bool ours = File.Exists(System.IO.Path.Combine(dir, Marker));
        if (!ours)
            foreach (var f in files)
                if (File.Exists(System.IO.Path.Combine(dir, f)))
                    throw new CliException($"'{System.IO.Path.Combine(dir, f)}' already exists and AdvVis did not write it; choose another output folder (--out/--save) or move the file.");
        File.WriteAllText(System.IO.Path.Combine(dir, Marker), "Written by advvis; files listed in the manifest may be replaced by the next run.\n");
        return dir;
    }
}
