// `advvis bench MODEL --batch B [--backward] [--threads T] [--repeats R] [--json]`: images per second, the median of
// timed repeats after warm-up, and the process's peak memory. `advvis bench --sgemm N`: GEMM GFLOP/s.
// `advvis bench --conv N,C,S,M,K,STRIDE,PAD`: one convolution's GFLOP/s beside a plain GEMM of the same size.
using System.Diagnostics;
using System.Text.Json.Nodes;
using AdvVis.Engine;

namespace AdvVis.Cli;

internal static class BenchCommand
{
    public static int Run(ParsedArgs args)
    {
        if (args.Get("--sgemm") is { } size) return Sgemm(args, ParseInt(size, "--sgemm", 1, 8192));
        if (args.Get("--conv") is { } conv) return Convolution(args, conv);
        var modelPath = args.RequirePositional(0, "MODEL (an .onnx file)");
        int batch = ParseInt(args.Get("--batch") ?? "1", "--batch", 1, 4096);
        int threads = ParseInt(args.Get("--threads") ?? Environment.ProcessorCount.ToString(), "--threads", 1, 256);
        int repeats = ParseInt(args.Get("--repeats") ?? "10", "--repeats", 1, 10000);
        bool backward = args.Has("--backward");
        Kernels.Parallelism.MaxThreads = threads;

        var model = Model.Load(modelPath);
        if (model.Inputs.Count != 1) throw new CliException("bench handles single-input models.");
        var shape = model.Inputs[0].DeclaredShape?.Select(d => (int)(d.Value ?? 1)).ToArray() ?? throw new CliException("The model declares no input shape.");
        shape[0] = batch;
        var rng = new Random(0);
        var input = Tensor.Zeros(shape);
        for (int i = 0; i < input.Length; i++) input.Data[i] = (float)rng.NextDouble();

        void Once()
        {
            var pass = model.Forward(input, new RunOptions { RecordForBackward = backward });
            if (backward)
            {
                var seed = Tensor.Zeros(pass.Output.Shape);
                seed.Span.Fill(1f);
                pass.InputGradient(seed);
            }
            // As an attack loop does: the pass's intermediates go back to the model's pool for the next run.
            pass.Release();
        }

        var seconds = Measure(Once, repeats);
        double median = seconds[seconds.Count / 2];
        double imagesPerSecond = batch / median;
        long peak = Process.GetCurrentProcess().PeakWorkingSet64;

        if (args.Has("--json"))
        {
            CliApp.WriteJson(new JsonObject
            {
                ["model"] = Path.GetFileName(modelPath), ["batch"] = batch, ["threads"] = threads, ["backward"] = backward,
                ["repeats"] = seconds.Count, ["medianSeconds"] = median, ["imagesPerSecond"] = imagesPerSecond,
                ["peakWorkingSetBytes"] = peak,
            });
        }
        else
        {
            Console.WriteLine($"{Path.GetFileName(modelPath)}  batch {batch}  threads {threads}  {(backward ? "forward+backward" : "forward")}");
            Console.WriteLine($"  {imagesPerSecond:F1} images/s  (median {median * 1000:F2} ms over {seconds.Count} runs)  peak memory {peak / (1 << 20)} MiB");
        }
        return 0;
    }

    /// <summary>`advvis bench --sgemm N [--threads T]`: GFLOP/s of the engine's N x N x N single-precision GEMM.</summary>
    private static int Sgemm(ParsedArgs args, int n)
    {
        int threads = ParseInt(args.Get("--threads") ?? Environment.ProcessorCount.ToString(), "--threads", 1, 256);
        int repeats = ParseInt(args.Get("--repeats") ?? "10", "--repeats", 1, 10000);
        Kernels.Parallelism.MaxThreads = threads;
        var rng = new Random(0);
        var a = new float[n * n]; var b = new float[n * n]; var c = new float[n * n];
        for (int i = 0; i < a.Length; i++) { a[i] = (float)rng.NextDouble(); b[i] = (float)rng.NextDouble(); }
        void Once() => Kernels.Kernels.Gemm(false, false, n, n, n, 1f, a, n, b, n, 0f, c, n);
        var seconds = Measure(Once, repeats);
        double median = seconds[seconds.Count / 2], gflops = 2.0 * n * n * n / median / 1e9;
        if (args.Has("--json"))
            CliApp.WriteJson(new JsonObject { ["sgemm"] = n, ["threads"] = threads, ["medianSeconds"] = median, ["gflops"] = gflops });
        else
            Console.WriteLine($"sgemm {n}x{n}x{n}  threads {threads}  {gflops:F1} GFLOP/s  (median {median * 1000:F2} ms over {seconds.Count} runs)");
        return 0;
    }

    /// <summary>
    /// `advvis bench --conv N,C,S,M,K,STRIDE,PAD [--threads T]`: GFLOP/s of the engine's convolution of N images of C
    /// channels S x S by M filters K x K (implicit GEMM; the direct kernel for few output channels; Winograd for 3x3 unit
    /// strides, counted in the direct sum's flops), and of a plain
    /// GEMM of the same M x (N·P) x (C·K·K) size for comparison.
    /// </summary>
    private static int Convolution(ParsedArgs args, string spec)
    {
        var parts = spec.Split(',');
        if (parts.Length != 7) throw new CliException($"--conv takes N,C,S,M,K,STRIDE,PAD (7 whole numbers), not '{spec}'.");
        int n = ParseInt(parts[0], "--conv N", 1, 4096), c = ParseInt(parts[1], "--conv C", 1, 8192), size = ParseInt(parts[2], "--conv S", 1, 4096);
        int m = ParseInt(parts[3], "--conv M", 1, 8192), k = ParseInt(parts[4], "--conv K", 1, 15);
        int stride = ParseInt(parts[5], "--conv STRIDE", 1, 8), pad = ParseInt(parts[6], "--conv PAD", 0, 15);
        int threads = ParseInt(args.Get("--threads") ?? Environment.ProcessorCount.ToString(), "--threads", 1, 256);
        int repeats = ParseInt(args.Get("--repeats") ?? "10", "--repeats", 1, 10000);
        Kernels.Parallelism.MaxThreads = threads;
        int outSize = (size + 2 * pad - k) / stride + 1;
        if (outSize < 1) throw new CliException($"--conv: a {k}x{k} kernel does not fit a {size}x{size} image with padding {pad}.");
        var g = new Kernels.ConvGeometry(c, size, size, k, k, stride, stride, pad, pad, 1, 1, outSize, outSize);
        int plane = outSize * outSize, depth = c * k * k;
        var rng = new Random(0);
        float[] Random(long count) { var v = new float[count]; for (long i = 0; i < count; i++) v[i] = (float)rng.NextDouble(); return v; }
        var x = Random((long)n * c * size * size); var w = Random((long)m * depth); var y = new float[(long)n * m * plane];
        var cols = Random((long)depth * n * plane); var product = new float[(long)m * n * plane];
        double flop = 2.0 * m * depth * n * plane;
        // Filters prepared once, as the engine keeps them per model.
        var packed = Kernels.Kernels.PackFilters(w, m, depth, depth);
        var conv = Measure(() => Kernels.Kernels.ConvolutionGemm(x, c * size * size, g, n, packed, default, y, m * plane, false), repeats);
        var gemm = Measure(() => Kernels.Kernels.Gemm(false, false, m, n * plane, depth, 1f, w, depth, cols, n * plane, 0f, product, n * plane), repeats);
        double convGflops = flop / conv[conv.Count / 2] / 1e9, gemmGflops = flop / gemm[gemm.Count / 2] / 1e9;
        double? directGflops = null;
        if (Kernels.Kernels.SupportsDirectConvolution(g))
        {
            var direct = Measure(() => Kernels.Kernels.DirectConvolution(x, c * size * size, g, n, w, m, default, y, m * plane, false), repeats);
            directGflops = flop / direct[direct.Count / 2] / 1e9;
        }
        // Winograd does fewer multiplications; its figure is the direct sum's flops over its time, so the three compare.
        double? winogradGflops = null;
        if (Kernels.Kernels.SupportsWinograd(g))
        {
            var transformed = Kernels.Kernels.TransformFilters(w, m, c);
            var winograd = Measure(() => Kernels.Kernels.WinogradConvolution(x, c * size * size, g, n, transformed, default, y, m * plane, false), repeats);
            winogradGflops = flop / winograd[winograd.Count / 2] / 1e9;
        }
        string Text(double? value) => value is { } v ? v.ToString("F1") : "n/a";
        if (args.Has("--json"))
            CliApp.WriteJson(new JsonObject { ["conv"] = spec, ["threads"] = threads, ["convGflops"] = convGflops, ["directGflops"] = directGflops,
                ["winogradGflops"] = winogradGflops, ["gemmGflops"] = gemmGflops });
        else
            Console.WriteLine($"conv {n}x{c}x{size}x{size} * {m}x{c}x{k}x{k} stride {stride} pad {pad}  threads {threads}  " +
                              $"{convGflops:F1} GFLOP/s  (direct: {Text(directGflops)}; Winograd: {Text(winogradGflops)}; GEMM {m}x{n * plane}x{depth}: {gemmGflops:F1})");
        return 0;
    }

    /// <summary>
    /// Warm-up of at least 2 runs and 1 s (so the tiered JIT has promoted the hot methods and the timings are of
    /// steady-state code), then at least <paramref name="repeats"/> timed runs and 2 s (at most 1000 runs); sorted.
    /// </summary>
    private static List<double> Measure(Action once, int repeats)
    {
        var warm = Stopwatch.StartNew();
        for (int i = 0; i < 2 || (warm.Elapsed.TotalSeconds < 1 && i < 100000); i++) once();
        var seconds = new List<double>();
        var total = Stopwatch.StartNew();
        for (int i = 0; i < repeats || (total.Elapsed.TotalSeconds < 2 && i < 1000); i++)
        {
            var sw = Stopwatch.StartNew();
            once();
            seconds.Add(sw.Elapsed.TotalSeconds);
        }
        seconds.Sort();
        return seconds;
    }

    private static int ParseInt(string text, string name, int min, int max) =>
        int.TryParse(text, out var v) && v >= min && v <= max ? v : throw new CliException($"{name} must be a whole number from {min} to {max}, not '{text}'.");
}
