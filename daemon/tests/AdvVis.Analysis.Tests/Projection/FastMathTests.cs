// The SGD's approximate pow must stay within a few ppm of Math.Pow over the range it sees.
using AdvVis.Analysis.Projection;

namespace AdvVis.Analysis.Tests.Projection;

public sealed class FastMathTests
{
    [Fact]
    public void PowIsAccurateOverTheSgdRange()
    {
        double worst = 0;
        double[] exponents = [0.79, 0.8950608781227859, 1.0, 1.334, 0.5];
        for (double x = 1e-8; x < 1e6; x *= 1.013)
        {
            foreach (double y in exponents)
            {
                double exact = Math.Pow((float)x, (float)y);
                double approx = FastMath.Pow((float)x, (float)y);
                worst = Math.Max(worst, Math.Abs(approx - exact) / exact);
            }
        }
        Assert.True(worst < 1e-5, $"worst relative error {worst:E2}");
        Assert.Equal(1f, FastMath.Pow(1f, 0.9f));
    }

    [Fact]
    public void VectorPowIsBitIdenticalToTheScalarPow()
    {
        // The SGD's SIMD negative samples must give the scalar loop's bytes: every lane must match FastMath.Pow exactly.
        var values = new List<float> { 0f, 1e-38f, 1e-37f, 1f, 2f, float.Epsilon, 3.4e38f };
        for (double x = 1e-9; x < 1e7; x *= 1.0007)
            values.Add((float)x);
        int checkedLanes = 0;
        foreach (float y in new[] { 0.79f, 0.8950609f, 1f, 1.334f, 0.5f })
        {
            for (int start = 0; start + 8 <= values.Count; start += 8)
            {
                var lanes = System.Runtime.Intrinsics.Vector256.Create(values.GetRange(start, 8).ToArray());
                var result = FastMath.Pow(lanes, y);
                for (int q = 0; q < 8; q++, checkedLanes++)
                    Assert.Equal(BitConverter.SingleToInt32Bits(FastMath.Pow(values[start + q], y)), BitConverter.SingleToInt32Bits(result[q]));
            }
        }
        Assert.True(checkedLanes > 100_000);
    }
}
