// The portable fallbacks, tested for real: the kernel tests run again in child processes whose .NET runtime has
// AVX-512, AVX2 or all hardware intrinsics switched off (DOTNET_Enable* = 0), and must pass there too.
using System.Diagnostics;
using System.Runtime.Intrinsics;

namespace AdvVis.Kernels.Tests;

public class FallbackTests
{
    private const string ExpectVariable = "ADVVIS_EXPECT_ISA";

    /// <summary>In a child run, checks that the runtime switches really took the SIMD paths away.</summary>
    [Fact]
    public void RuntimeHasTheInstructionSetsTheParentExpects()
    {
        switch (Environment.GetEnvironmentVariable(ExpectVariable))
        {
            case "no-avx512": Assert.False(Vector512.IsHardwareAccelerated); break;
            case "no-avx2": Assert.False(Vector512.IsHardwareAccelerated); Assert.False(Vector256.IsHardwareAccelerated); break;
            case "scalar": Assert.False(Vector256.IsHardwareAccelerated); Assert.False(Vector128.IsHardwareAccelerated); break;
        }
    }

    [Theory]
    // .NET 10 reads DOTNET_EnableAVX512; earlier runtimes read DOTNET_EnableAVX512F. Both are set.
    [InlineData("no-avx512", "DOTNET_EnableAVX512F,DOTNET_EnableAVX512")]
    [InlineData("no-avx2", "DOTNET_EnableAVX2")]
    [InlineData("scalar", "DOTNET_EnableHWIntrinsic")]
    public void KernelTestsPassWithHardwareIntrinsicsDisabled(string expect, string variable)
    {
        if (Environment.GetEnvironmentVariable(ExpectVariable) is not null) return; // no grandchildren
        var assembly = typeof(FallbackTests).Assembly.Location;
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        foreach (var arg in new[] { "test", assembly, "--nologo", "--filter", "FullyQualifiedName!~KernelTestsPassWithHardwareIntrinsicsDisabled" })
            psi.ArgumentList.Add(arg);
        foreach (var name in variable.Split(',')) psi.Environment[name] = "0";
        psi.Environment[ExpectVariable] = expect;
        using var child = Process.Start(psi)!;
        var stdout = child.StandardOutput.ReadToEndAsync();
        var stderr = child.StandardError.ReadToEndAsync();
        Assert.True(child.WaitForExit(TimeSpan.FromMinutes(5)), "the child test run did not finish in 5 minutes");
        Assert.True(child.ExitCode == 0, $"kernel tests failed with {variable}=0:\n{stdout.Result}\n{stderr.Result}");
        Assert.Contains("Passed!", stdout.Result);
    }
}
