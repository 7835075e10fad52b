// Proves that the unsafe SIMD kernels never read or write outside the spans they are given. A read one float past the
// end of a managed array goes unnoticed in a test, but in the daemon it segfaults (killing the process) whenever the
// array happens to end at a page boundary. Here each buffer of a kernel call is placed in turn flush against an
// inaccessible page (GuardedMemory.cs), once ending at it and once starting right after it, so any such access crashes
// every time; and each guarded call's buffers and return value must match the same call on ordinary arrays bit for bit.
// The sizes are small and awkward (vector tails, partial tiles and micro-tiles, odd widths, strides) because that is
// where a bound is overrun.
// A crash kills the process it happens in, and xunit cannot catch it. So the scenarios run in a child `dotnet test`
// started by GuardPageTests, and log each guarded call before making it: a crashed child's last log line names the
// kernel, the geometry, the guarded buffer and the end of it that touched the guard page.
using System.Diagnostics;
using System.Runtime.Intrinsics;

namespace AdvVis.Kernels.Tests;

public class GuardPageTests
{
    /// <summary>Set in the child run: only there do the scenarios run.</summary>
    internal const string ChildVariable = "ADVVIS_GUARD_CHILD";

    /// <summary>The file the child logs each guarded call to.</summary>
    internal const string LogVariable = "ADVVIS_GUARD_LOG";

    // Set in FallbackTests' child runs. Those run this test too, and must not start grandchildren from it.
    private const string FallbackChildVariable = "ADVVIS_EXPECT_ISA";

    [Theory]
    [InlineData("native", "")]
    // The portable fallbacks read memory their own way (the implicit GEMM's padding reads, say): guarded too.
    [InlineData("scalar", "DOTNET_EnableHWIntrinsic")]
    public async Task KernelsStayInsideTheirSpans(string isa, string disabledSwitch)
    {
        if (!GuardedBuffer.IsAvailable) return; // not Linux, or no mmap: nothing to guard with
        if (Environment.GetEnvironmentVariable(ChildVariable) is not null) return;
        if (Environment.GetEnvironmentVariable(FallbackChildVariable) is not null) return;
        var log = Path.GetTempFileName();
        try
        {
            var psi = new ProcessStartInfo("dotnet")
            {
                RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
            };
            foreach (var arg in new[] { "test", typeof(GuardPageTests).Assembly.Location, "--nologo",
                         "--filter", $"FullyQualifiedName~{typeof(GuardPageScenarios).FullName}" })
                psi.ArgumentList.Add(arg);
            psi.Environment[ChildVariable] = "1";
            psi.Environment[LogVariable] = log;
            if (disabledSwitch.Length > 0) psi.Environment[disabledSwitch] = "0";
            using var child = Process.Start(psi)!;
            var stdout = child.StandardOutput.ReadToEndAsync();
            var stderr = child.StandardError.ReadToEndAsync();
            using (var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5)))
            {
                try { await child.WaitForExitAsync(timeout.Token); }
                catch (OperationCanceledException)
                {
                    child.Kill(entireProcessTree: true);
                    Assert.Fail("the guarded child test run did not finish in 5 minutes");
                }
            }
            string output = await stdout, errors = await stderr;
            var calls = File.ReadAllLines(log);
            // A crash ends the log with the call that made it; a failed assertion names its call itself.
            bool crashed = output.Contains("aborted", StringComparison.OrdinalIgnoreCase) || output.Contains("crashed", StringComparison.OrdinalIgnoreCase);
            Assert.True(child.ExitCode == 0,
                $"guarded kernel scenarios failed ({isa}), exit code {child.ExitCode}.\n" +
                (crashed && calls.Length > 0
                    ? $"The child crashed in: {calls[^1]}\n(that call read or wrote outside that buffer, past that end)\n"
                    : "") +
                $"{output}\n{errors}");
            Assert.Contains("Passed!", output);
            Assert.True(calls.Length > 0, $"the child made no guarded calls:\n{output}");
        }
        finally
        {
            File.Delete(log);
        }
    }
}

/// <summary>The kernel calls, each checked with every buffer guarded in turn. They do nothing outside the child run.</summary>
// They flip the global SIMD switches, like SimdPathTests.
[Collection("SIMD switches")]
public class GuardPageScenarios
{
    private static bool Active =>
        Environment.GetEnvironmentVariable(GuardPageTests.ChildVariable) is not null && GuardedBuffer.IsAvailable;

    private static readonly int[] SimdPaths = [int.MaxValue, 512, 256];

    // The work splits differ with the thread count (panels, filter rows, column chunks), and so do their edges.
    private static readonly int[] ThreadCounts = [1, 3, 8];

    private static ConvGeometry Conv(int c, int h, int w, int k, int stride, int pad, int dilation = 1)
    {
        int reach = (k - 1) * dilation + 1;
        return new ConvGeometry(c, h, w, k, k, stride, stride, pad, pad, dilation, dilation,
            (h + 2 * pad - reach) / stride + 1, (w + 2 * pad - reach) / stride + 1);
    }

    private static string Describe(in ConvGeometry g) =>
        $"c={g.Channels} {g.Height}x{g.Width} kernel {g.KernelH}x{g.KernelW} stride {g.StrideH}x{g.StrideW} " +
        $"pad {g.PadTop},{g.PadLeft} dilation {g.DilationH} out {g.OutHeight}x{g.OutWidth}";

    /// <summary>Bias-and-clamp writes, plain writes, and accumulation: the three ways the convolutions store.</summary>
    private enum Store { BiasClamp, Plain, Accumulate }

    [Fact]
    public void ConvolutionGemmAndIm2Col()
    {
        if (!Active) return;
        ConvGeometry[] geometries =
        [
            Conv(3, 5, 5, 3, 1, 1), Conv(3, 7, 7, 3, 1, 1), Conv(2, 32, 32, 3, 1, 1),
            Conv(3, 9, 9, 3, 2, 1), Conv(4, 11, 11, 3, 2, 1), Conv(2, 10, 10, 5, 2, 2),
            Conv(5, 7, 7, 1, 1, 0), Conv(6, 5, 5, 1, 1, 0), // 1x1 over whole planes: runs that cross output rows
            Conv(3, 9, 13, 3, 1, 2, dilation: 2),
        ];
        int seed = 0;
        foreach (var g in geometries)
        {
            int plane = g.OutHeight * g.OutWidth, k = g.ColumnRows, imageSize = g.Channels * g.Height * g.Width;
            Guarded.Check($"Im2Col {Describe(g)}", [("image", Values(imageSize, ++seed)), ("columns", Values(k * plane, ++seed))],
                b => { Kernels.Im2Col(b["image"], g, b["columns"]); return null; });
            Guarded.Check($"Col2ImAccumulate {Describe(g)}", [("columns", Values(k * plane, ++seed)), ("image", Values(imageSize, ++seed))],
                b => { Kernels.Col2ImAccumulate(b["columns"], g, b["image"]); return null; });
            foreach (int images in new[] { 1, 3 })
            foreach (int m in new[] { 5, 8, 21 })
            foreach (var store in Enum.GetValues<Store>())
            foreach (bool prepacked in new[] { false, true })
            {
                // Several images sit apart, as in a grouped layout; the last one ends where its buffer ends.
                int xStride = imageSize + (images > 1 ? 3 : 0), yStride = m * plane + (images > 1 ? 2 : 0);
                int ldw = m == 8 ? k + 3 : k;
                var buffers = new List<(string, float[])>
                {
                    ("x", Values((images - 1) * xStride + imageSize, ++seed)),
                    ("w", Values((m - 1) * ldw + k, ++seed)),
                    ("y", Values((images - 1) * yStride + m * plane, ++seed)),
                };
                if (store == Store.BiasClamp) buffers.Add(("bias", Values(m, ++seed)));
                bool accumulate = store == Store.Accumulate;
                var clamp = store == Store.BiasClamp ? new OutputClamp(-0.5f, 0.5f) : default;
                int threads = ThreadCounts[seed % ThreadCounts.Length];
                OnThreads(threads, () => Guarded.Check(
                    $"ConvolutionGemm({(prepacked ? "PackFilters" : "weights")}) {Describe(g)} images={images} m={m} ldw={ldw} {store} threads={threads}",
                    [.. buffers], b =>
                    {
                        var bias = store == Store.BiasClamp ? b["bias"] : default;
                        if (prepacked)
                            Kernels.ConvolutionGemm(b["x"], xStride, g, images, Kernels.PackFilters(b["w"], m, ldw, k), bias, b["y"], yStride, accumulate, clamp);
                        else
                            Kernels.ConvolutionGemm(b["x"], xStride, g, images, b["w"], m, ldw, bias, b["y"], yStride, accumulate, clamp);
                        return null;
                    }));
            }
        }
    }

    [Fact]
    public void DirectConvolution()
    {
        if (!Active) return;
        var geometries = new List<ConvGeometry>();
        for (int width = 12; width <= 40; width++)
        {
            geometries.Add(Conv(2, 5, width, 3, 1, 1));
            geometries.Add(Conv(2, 5, width, 3, 2, 1));
        }
        for (int width = 12; width <= 40; width += 7)
        {
            geometries.Add(Conv(2, 6, width, 5, 1, 2, dilation: 2));
            geometries.Add(Conv(3, 7, width, 3, 3, 1, dilation: 2));
        }
        int seed = 100;
        foreach (var g in geometries)
        foreach (int m in new[] { 3, 5 })
        foreach (var store in new[] { Store.BiasClamp, Store.Accumulate })
        {
            int images = m == 3 ? 2 : 1;
            int plane = g.OutHeight * g.OutWidth, imageSize = g.Channels * g.Height * g.Width;
            int xStride = imageSize + 1, yStride = m * plane + 1;
            var buffers = new List<(string, float[])>
            {
                ("x", Values((images - 1) * xStride + imageSize, ++seed)),
                ("w", Values(m * g.ColumnRows, ++seed)),
                ("y", Values((images - 1) * yStride + m * plane, ++seed)),
            };
            if (store == Store.BiasClamp) buffers.Add(("bias", Values(m, ++seed)));
            bool accumulate = store == Store.Accumulate;
            var clamp = accumulate ? default : OutputClamp.Relu;
            int threads = ThreadCounts[seed % ThreadCounts.Length];
            OnThreads(threads, () => Guarded.Check($"DirectConvolution {Describe(g)} images={images} m={m} {store} threads={threads}", [.. buffers], b =>
            {
                Kernels.DirectConvolution(b["x"], xStride, g, images, b["w"], m, accumulate ? default : b["bias"], b["y"], yStride, accumulate, clamp);
                return null;
            }));
        }
    }

    [Fact]
    public void WinogradConvolution()
    {
        if (!Active) return;
        int seed = 200;
        foreach (int size in new[] { 4, 7, 15, 17, 32 })
        foreach (var (padTop, padLeft, padBottom, padRight) in new[] { (0, 0, 0, 0), (1, 1, 1, 1), (2, 2, 2, 2), (1, 1, 0, 0) })
        foreach (int channels in new[] { 3, 70 })
        foreach (int m in new[] { 5, 70 })
        foreach (var store in new[] { Store.BiasClamp, Store.Accumulate })
        {
            // Without SIMD the micro-kernel takes seconds over 70 filters of 70 channels; 70 x 5 and 3 x 70 read the same way.
            if (!Vector128.IsHardwareAccelerated && channels == 70 && m == 70) continue;
            var g = new ConvGeometry(channels, size, size, 3, 3, 1, 1, padTop, padLeft, 1, 1,
                size + padTop + padBottom - 2, size + padLeft + padRight - 2);
            Assert.True(Kernels.SupportsWinograd(g));
            int images = channels == 3 ? 2 : 1;
            int plane = g.OutHeight * g.OutWidth, imageSize = channels * size * size;
            int xStride = imageSize + 3, yStride = m * plane + 5;
            var buffers = new List<(string, float[])>
            {
                ("x", Values((images - 1) * xStride + imageSize, ++seed)),
                ("w", Values(m * channels * 9, ++seed)),
                ("y", Values((images - 1) * yStride + m * plane, ++seed)),
            };
            if (store == Store.BiasClamp) buffers.Add(("bias", Values(m, ++seed)));
            bool accumulate = store == Store.Accumulate;
            var clamp = accumulate ? default : new OutputClamp(-1f, 1f);
            int threads = ThreadCounts[seed % ThreadCounts.Length];
            OnThreads(threads, () => Guarded.Check(
                $"WinogradConvolution(TransformFilters) {Describe(g)} pads {padTop},{padLeft},{padBottom},{padRight} images={images} m={m} {store} threads={threads}",
                [.. buffers], b =>
                {
                    var filters = Kernels.TransformFilters(b["w"], m, channels);
                    Kernels.WinogradConvolution(b["x"], xStride, g, images, filters, accumulate ? default : b["bias"], b["y"], yStride, accumulate, clamp);
                    return null;
                }));
        }
    }

    [Fact]
    public void DepthwiseConvolution()
    {
        if (!Active) return;
        // kernel, stride, pad, dilation, height, width: MobileNet's planes, a wide short one, dilated and unpadded ones,
        // stride 3, and 1x1 and 2x2 kernels.
        (int K, int S, int P, int D, int H, int W)[] shapes =
        [
            (3, 1, 1, 1, 7, 7), (3, 2, 1, 1, 14, 14), (3, 2, 1, 1, 57, 57), (3, 2, 1, 1, 112, 112), (3, 1, 1, 1, 5, 37),
            (5, 1, 2, 1, 7, 7), (5, 2, 2, 1, 14, 14), (5, 2, 2, 1, 57, 57), (5, 1, 2, 1, 5, 37),
            (3, 1, 2, 2, 7, 7), (3, 2, 2, 2, 14, 14), (3, 1, 2, 2, 5, 37), (3, 2, 0, 1, 57, 57), (3, 1, 0, 1, 5, 37),
            (3, 3, 1, 1, 10, 11), (1, 1, 0, 1, 3, 4), (2, 2, 0, 1, 6, 7),
        ];
        int seed = 300;
        foreach (var (kernel, stride, pad, dilation, height, width) in shapes)
        {
            var g = Conv(1, height, width, kernel, stride, pad, dilation);
            int taps = kernel * kernel, plane = g.OutHeight * g.OutWidth;
            var x = Values(height * width, ++seed); var k = Values(taps, ++seed);
            var y = Values(plane, ++seed); var dy = Values(plane, ++seed);
            var dx = Values(height * width, ++seed); var dk = Values(taps, ++seed);
            foreach (int path in SimdPaths)
            {
                OnPath(path, () =>
                {
                    string what = $"{Describe(g)} path={path}";
                    Guarded.Check($"DepthwiseConv {what}", [("x", x), ("k", k), ("y", y)],
                        b => { Kernels.DepthwiseConv(b["x"], b["k"], g, b["y"]); return null; });
                    Guarded.Check($"DepthwiseConvBackwardInput {what}", [("dy", dy), ("k", k), ("dx", dx)],
                        b => { Kernels.DepthwiseConvBackwardInput(b["dy"], b["k"], g, b["dx"]); return null; });
                    Guarded.Check($"DepthwiseConvBackwardKernel {what}", [("x", x), ("dy", dy), ("dk", dk)],
                        b => { Kernels.DepthwiseConvBackwardKernel(b["x"], b["dy"], g, b["dk"]); return null; });
                });
            }
        }
    }

    [Fact]
    public void Gemm()
    {
        if (!Active) return;
        int seed = 400, combination = 0;
        foreach (int m in new[] { 1, 2, 3, 4, 5, 8, 9, 17 })
        foreach (int n in new[] { 1, 5, 8, 31, 33, 67 })
        foreach (int k in new[] { 1, 7, 33, 300 })
        foreach (bool transA in new[] { false, true })
        foreach (bool transB in new[] { false, true })
        {
            combination++;
            // Row strides beyond the rows' length now and then, and each of the three ways beta treats C.
            int extra = combination % 3;
            int aRows = transA ? k : m, aCols = transA ? m : k, bRows = transB ? n : k, bCols = transB ? k : n;
            int lda = aCols + extra, ldb = bCols + extra, ldc = n + extra;
            float beta = (combination / 3 % 3) switch { 0 => 0f, 1 => 1f, _ => 0.5f };
            float alpha = combination % 2 == 0 ? 1f : 0.75f;
            var a = Values((aRows - 1) * lda + aCols, ++seed);
            var bm = Values((bRows - 1) * ldb + bCols, ++seed);
            var c = Values((m - 1) * ldc + n, ++seed);
            // The micro-kernels read only packed copies, except AVX-512's, which reads 8-row blocks of A in place.
            foreach (var (force256, forceScalar) in new[] { (false, false), (true, false), (false, true) })
            {
                if ((force256 || forceScalar) && m < 8) continue; // below 8 rows every micro-kernel reads packed copies only
                Kernels.ForceVector256Gemm = force256; Kernels.ForceScalarGemm = forceScalar;
                int threads = ThreadCounts[combination % ThreadCounts.Length];
                try
                {
                    OnThreads(threads, () => Guarded.Check(
                        $"Gemm transA={transA} transB={transB} m={m} n={n} k={k} lda={lda} ldb={ldb} ldc={ldc} alpha={alpha} beta={beta} force256={force256} forceScalar={forceScalar} threads={threads}",
                        [("a", a), ("b", bm), ("c", c)],
                        b => { Kernels.Gemm(transA, transB, m, n, k, alpha, b["a"], lda, b["b"], ldb, beta, b["c"], ldc); return null; }));
                }
                finally { Kernels.ForceVector256Gemm = false; Kernels.ForceScalarGemm = false; }
            }
        }
    }

    [Fact]
    public void ElementwiseKernels()
    {
        if (!Active) return;
        var lengths = Enumerable.Range(1, 70).Concat(Enumerable.Range(1000, 31));
        foreach (int n in lengths)
        {
            // Zeros of both signs, ties with the clip bounds, infinities and NaN among the values.
            var x = SimdPathTests.Values(n, n); var y = SimdPathTests.Values(n, n + 1); var dy = SimdPathTests.Values(n, n + 2);
            Guarded.Check($"WeightFingerprint.Of n={n}", [("values", x)], b => WeightFingerprint.Of(b["values"]));
            foreach (int path in SimdPaths)
            {
                OnPath(path, () =>
                {
                    string what = $"n={n} path={path}";
                    Guarded.Check($"MulAdd {what}", [("x", x), ("y", y)], b => { Kernels.MulAdd(b["x"], 0.37f, b["y"]); return null; });
                    Guarded.Check($"Dot {what}", [("x", x), ("y", y)], b => Kernels.Dot(b["x"], b["y"]));
                    Guarded.Check($"Clip {what}", [("x", x), ("y", y)], b => { Kernels.Clip(b["x"], 0f, 6f, b["y"]); return null; });
                    Guarded.Check($"ClipBackward {what}", [("x", x), ("dy", dy), ("dx", y)],
                        b => { Kernels.ClipBackward(b["x"], 0f, 6f, b["dy"], b["dx"]); return null; });
                    Guarded.Check($"ClipBackwardAssign {what}", [("x", x), ("dy", dy), ("dx", y)],
                        b => { Kernels.ClipBackwardAssign(b["x"], 0f, 6f, b["dy"], b["dx"]); return null; });
                    Guarded.Check($"ReluBackward {what}", [("x", x), ("dy", dy), ("dx", y)],
                        b => { Kernels.ReluBackward(b["x"], b["dy"], b["dx"]); return null; });
                    Guarded.Check($"ReluBackwardAssign {what}", [("x", x), ("dy", dy), ("dx", y)],
                        b => { Kernels.ReluBackwardAssign(b["x"], b["dy"], b["dx"]); return null; });
                });
            }
        }
    }

    private static float[] Values(int n, int seed) => TestSupport.RandomValues(n, seed);

    private static void OnThreads(int threads, Action body) => TestSupport.WithThreads(threads, () => { body(); return 0; });

    private static void OnPath(int path, Action body)
    {
        Kernels.DisableSimdAbove = path;
        try { body(); }
        finally { Kernels.DisableSimdAbove = int.MaxValue; }
    }
}

/// <summary>The buffers of one kernel call by name: ordinary arrays, except at most one guarded buffer.</summary>
internal sealed class CallBuffers(string[] names, float[][] arrays, int guardedIndex = -1, GuardedBuffer? guarded = null)
{
    public Span<float> this[string name]
    {
        get
        {
            int i = Array.IndexOf(names, name);
            if (i < 0) throw new ArgumentException($"No buffer named {name}.", nameof(name));
            return i == guardedIndex ? guarded!.Span : arrays[i];
        }
    }
}

internal static class Guarded
{
    private static readonly GuardedEnd[] Ends = [GuardedEnd.End, GuardedEnd.Start];
    private static StreamWriter? _log;

    /// <summary>
    /// Runs <paramref name="kernel"/> on ordinary copies of the buffers, then once per buffer and end with that buffer
    /// guarded at that end (the others ordinary copies again): every buffer and the return value must come out with
    /// the same bits, and nothing may be written next to the guarded buffer. An access outside it past the guarded
    /// end crashes the process.
    /// </summary>
    public static void Check(string call, (string Name, float[] Values)[] buffers, Func<CallBuffers, object?> kernel)
    {
        var names = buffers.Select(b => b.Name).ToArray();
        float[][] Copies() => buffers.Select(b => (float[])b.Values.Clone()).ToArray();
        var plain = new CallBuffers(names, Copies());
        var expected = kernel(plain);
        for (int i = 0; i < buffers.Length; i++)
        foreach (var end in Ends)
        {
            using var guarded = GuardedBuffer.TryCreate(buffers[i].Values, end)
                ?? throw new InvalidOperationException($"Could not map a guarded buffer of {buffers[i].Values.Length} floats.");
            var run = new CallBuffers(names, Copies(), i, guarded);
            string where = $"{call}: {names[i]}[{guarded.Length}] flush against the guard page at its {(end == GuardedEnd.End ? "end" : "start")}";
            Log(where);
            var result = kernel(run);
            Assert.True(Equals(expected, result), $"{where}: returned {result}, on ordinary arrays {expected}");
            foreach (var name in names) SameBits(plain[name], run[name], $"{where}: buffer {name}");
            Assert.True(guarded.SurroundingsIntact(), $"{where}: something was written next to {names[i]}, outside its span");
        }
    }

    private static void SameBits(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, string what)
    {
        for (int i = 0; i < expected.Length; i++)
        {
            if (BitConverter.SingleToInt32Bits(expected[i]) == BitConverter.SingleToInt32Bits(actual[i])) continue;
            if (float.IsNaN(expected[i]) && float.IsNaN(actual[i])) continue;
            Assert.Fail($"{what}: element {i} of {expected.Length} is {actual[i]}, on ordinary arrays {expected[i]}");
        }
    }

    /// <summary>One line per guarded call, flushed before the call, so that a crash leaves the call's name behind.</summary>
    private static void Log(string line)
    {
        if (_log is null)
        {
            var path = Environment.GetEnvironmentVariable(GuardPageTests.LogVariable);
            if (path is null) return;
            _log = new StreamWriter(path, append: true) { AutoFlush = true };
        }
        _log.WriteLine(line);
    }
}
