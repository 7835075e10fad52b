// How the reference tests compare with PyTorch: tensors read from .npy, errors relative to the reference's scale.
using AdvVis.Data;

namespace AdvVis.Engine.Tests;

internal static class ReferenceComparison
{
    public static Tensor LoadNpy(string path)
    {
        var a = Npy.Read(path);
        return new Tensor(a.Shape, a.ToFloatArray());
    }

    /// <summary>max |actual − expected| / max |expected|: relative to the tensor's scale, so tiny tensors are judged fairly.</summary>
    public static double RelativeError(Tensor actual, Tensor expected)
    {
        Assert.Equal(expected.Shape, actual.Shape);
        double maxDiff = 0, maxRef = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            maxDiff = Math.Max(maxDiff, Math.Abs((double)actual.Data[i] - expected.Data[i]));
            maxRef = Math.Max(maxRef, Math.Abs((double)expected.Data[i]));
        }
        Assert.True(maxRef > 0, "reference tensor is all zeros; the comparison would be meaningless");
        return maxDiff / maxRef;
    }
}
