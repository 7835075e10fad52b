// DataFormatException / ImageFormatException: the exception types every reader in AdvVis.Data throws for
// bad input (truncated, corrupt, unsupported or absurdly large files). Image decoders throw
// ImageFormatException; tensor and dataset readers (.npy/.npz, IDX, CIFAR, label files) throw its base
// DataFormatException, so a caller can catch one type for "this file can't be used".

namespace AdvVis.Data;

/// <summary>
/// A data file is truncated, corrupt, unsupported or exceeds the safety limits. The message names the
/// file (when known), the problem, and what the user can do about it.
/// </summary>
public class DataFormatException : Exception
{
    /// <summary>The file that failed to load, or null when reading from memory.</summary>
    public string? FilePath { get; }

    /// <summary>The problem alone, without the file name prefix.</summary>
    public string Problem { get; }

    public DataFormatException(string problem, string? filePath = null, Exception? innerException = null)
        : base(Compose(problem, filePath), innerException)
    {
        Problem = problem;
        FilePath = filePath;
    }

    /// <summary>Returns an equivalent exception that names <paramref name="filePath"/> (used when a parser only saw bytes).</summary>
    public virtual DataFormatException WithFile(string filePath) =>
        FilePath is null ? new DataFormatException(Problem, filePath, InnerException) : this;

    private static string Compose(string problem, string? filePath) =>
        filePath is null ? problem : $"{filePath}: {problem}";
}

/// <summary>An image file could not be decoded; see <see cref="DataFormatException"/>.</summary>
public sealed class ImageFormatException : DataFormatException
{
    public ImageFormatException(string problem, string? filePath = null, Exception? innerException = null)
        : base(problem, filePath, innerException)
    {
    }

    public override ImageFormatException WithFile(string filePath) =>
        FilePath is null ? new ImageFormatException(Problem, filePath, InnerException) : this;
}
