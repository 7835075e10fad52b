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
}
