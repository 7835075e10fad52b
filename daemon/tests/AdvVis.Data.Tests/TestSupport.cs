// TestSupport: shared helpers for the AdvVis.Data tests: locating the real data in shared/data, temporary
// folders, running the independent reference tools (djpeg/cjpeg, netpbm, Debian's python3 with
// numpy/PIL) as subprocesses, and a deliberately separate minimal PNM parser for their output, so the
// references never go through the code under test.

using System.Diagnostics;
using System.Text;

namespace AdvVis.Data.Tests;

internal static class TestSupport
{
    /// <summary>Debian's interpreter, which has numpy and PIL (the pyenv python3 on PATH has neither).</summary>
    public const string SystemPython = "/usr/bin/python3";

    /// <summary>../shared/data beside the repository (AdvVis.TestSupport.RepoPaths).</summary>
    public static string DataRoot => AdvVis.TestSupport.RepoPaths.SharedData;

    public static string DataPath(params string[] parts) => Path.Combine([DataRoot, .. parts]);

    public static TempDirectory CreateTempDirectory() => new();

    public sealed class TempDirectory : IDisposable
    {
        public string Path { get; } = Directory.CreateTempSubdirectory("advvis-data-tests-").FullName;
        public string File(string name) => System.IO.Path.Combine(Path, name);
        public void Dispose()
        {
            try { Directory.Delete(Path, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    /// <summary>Runs an external reference tool and returns its stdout; fails the test with install advice if missing.</summary>
    public static byte[] RunTool(string tool, IEnumerable<string> arguments, string installHint, byte[]? stdin = null)
    {
        var info = new ProcessStartInfo(tool)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = stdin is not null,
            UseShellExecute = false,
        };
        foreach (string argument in arguments) info.ArgumentList.Add(argument);
        Process process;
        try
        {
            process = Process.Start(info) ?? throw new InvalidOperationException($"Could not start {tool}.");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new Xunit.Sdk.XunitException($"Reference tool '{tool}' is not available ({e.Message}). {installHint}");
        }
        using (process)
        {
            var stderrTask = process.StandardError.ReadToEndAsync();
            using var stdout = new MemoryStream();
            var stdoutTask = process.StandardOutput.BaseStream.CopyToAsync(stdout);
            if (stdin is not null)
            {
                process.StandardInput.BaseStream.Write(stdin);
                process.StandardInput.Close();
            }
            stdoutTask.Wait();
            process.WaitForExit();
            if (process.ExitCode != 0)
                throw new Xunit.Sdk.XunitException(
                    $"{tool} {string.Join(' ', info.ArgumentList)} failed with exit code {process.ExitCode}: {stderrTask.Result}");
            return stdout.ToArray();
        }
    }

    public const string JpegToolsHint = "Install it with: apt-get update && apt-get install -y libjpeg-turbo-progs";
    public const string NetpbmHint = "Install it with: apt-get update && apt-get install -y netpbm";
    public const string PythonHint = "The tests need Debian's /usr/bin/python3 with numpy and PIL: apt-get install -y python3-numpy python3-pil";

    public static byte[] Djpeg(string jpegPath) => RunTool("djpeg", ["-ppm", jpegPath], JpegToolsHint);

    /// <summary>Runs a Python snippet with Debian's python3 (numpy, PIL) and returns stdout.</summary>
    public static byte[] Python(string script, params string[] arguments) =>
        RunTool(SystemPython, ["-c", script, .. arguments], PythonHint);

    // ------------------------------------------------------------------ independent PNM parsing

    /// <summary>A decoded reference raster: samples as ints (maxval may exceed 255), interleaved.</summary>
    public sealed record Raster(int Width, int Height, int Channels, int MaxValue, int[] Samples)
    {
        /// <summary>Samples rounded to 8 bits the way libpng/PIL do for 16-bit data.</summary>
        public byte[] To8Bit() => Samples.Select(v => MaxValue == 255 ? (byte)v : (byte)((v * 255L + MaxValue / 2) / MaxValue)).ToArray();
    }

    /// <summary>Parses binary P5/P6 (what djpeg and pngtopnm write).</summary>
    public static Raster ParseBinaryPnm(byte[] data)
    {
        if (data.Length < 2 || data[0] != 'P' || (data[1] != '5' && data[1] != '6'))
            throw new InvalidOperationException("Reference tool did not produce binary PGM/PPM.");
        int channels = data[1] == '6' ? 3 : 1;
        int pos = 2;
        int NextInt()
        {
            while (true)
            {
                while (char.IsWhiteSpace((char)data[pos])) pos++;
                if (data[pos] != '#') break;
                while (data[pos] != '\n') pos++;
            }
            int value = 0;
            while (data[pos] >= '0' && data[pos] <= '9') value = value * 10 + (data[pos++] - '0');
            return value;
        }
        int width = NextInt(), height = NextInt(), maxValue = NextInt();
        pos++; // single whitespace
        int count = width * height * channels;
        var samples = new int[count];
        for (int i = 0; i < count; i++)
            samples[i] = maxValue < 256 ? data[pos + i] : (data[pos + 2 * i] << 8) | data[pos + 2 * i + 1];
        return new Raster(width, height, channels, maxValue, samples);
    }

    /// <summary>Writes an 8-bit binary PPM/PGM, the input format cjpeg and pnmtopng take.</summary>
    public static byte[] WritePnm(int width, int height, int channels, byte[] pixels, int maxValue = 255)
    {
        var header = Encoding.ASCII.GetBytes($"{(channels == 3 ? "P6" : "P5")}\n{width} {height}\n{maxValue}\n");
        return [.. header, .. pixels];
    }

    /// <summary>A deterministic natural-looking test picture: smooth gradients plus edges and noise.</summary>
    public static byte[] SyntheticRgb(int width, int height, int seed = 1)
    {
        var random = new Random(seed);
        var pixels = new byte[width * height * 3];
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                int i = (y * width + x) * 3;
                bool inSquare = x > width / 4 && x < width * 3 / 4 && y > height / 3 && y < height * 2 / 3;
                pixels[i] = (byte)Math.Clamp(x * 255 / width + random.Next(-10, 11), 0, 255);
                pixels[i + 1] = (byte)Math.Clamp(y * 255 / height + random.Next(-10, 11), 0, 255);
                pixels[i + 2] = inSquare ? (byte)230 : (byte)Math.Clamp(128 + (int)(60 * Math.Sin(x * 0.2 + y * 0.1)), 0, 255);
            }
        return pixels;
    }

    /// <summary>Mean and max absolute difference between two equally sized byte arrays.</summary>
    public static (double Mean, int Max) Difference(byte[] actual, byte[] expected)
    {
        if (actual.Length != expected.Length)
            throw new Xunit.Sdk.XunitException($"Sizes differ: {actual.Length} vs {expected.Length} bytes.");
        long total = 0;
        int max = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            int d = Math.Abs(actual[i] - expected[i]);
            total += d;
            if (d > max) max = d;
        }
        return (actual.Length == 0 ? 0 : (double)total / actual.Length, max);
    }
}
