// MemoryBudget: the most memory one request may ask for in one piece (a tensor, a decoded image, an npz member, a
// protocol frame), checked from the sizes a file declares before anything is allocated, so a 159-byte model or a
// 1 MB PNG cannot make the daemon allocate gigabytes. The budget is ambient (per async flow), so every layer checks
// against the budget of the request it is serving without passing it through each signature.
using System.Globalization;

namespace AdvVis.Safety;

/// <summary>A memory limit in bytes; see <see cref="Current"/> for the one in force.</summary>
public sealed record MemoryBudget(long Bytes)
{
    private static readonly AsyncLocal<MemoryBudget?> Ambient = new();

    /// <summary>A quarter of the memory this process may use (physical RAM or its container's limit), at least 256 MiB.</summary>
    public static long DefaultBytes { get; } = Math.Max(256L << 20, GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 4);

    // After DefaultBytes: static initialisers run in declaration order.
    private static MemoryBudget _processDefault = new(DefaultBytes);

    /// <summary>The budget when no request has set its own (the command line's <c>--memory-budget</c> changes it).</summary>
    public static MemoryBudget ProcessDefault
    {
        get => _processDefault;
        set => _processDefault = value ?? throw new ArgumentNullException(nameof(value));
    }

    /// <summary>The budget of the request running on this async flow, else <see cref="ProcessDefault"/>.</summary>
    public static MemoryBudget Current => Ambient.Value ?? _processDefault;

    /// <summary>Makes <paramref name="budget"/> current on this flow (and the tasks it starts) until disposed.</summary>
    public static IDisposable Use(MemoryBudget budget)
    {
        ArgumentNullException.ThrowIfNull(budget);
        var previous = Ambient.Value;
        Ambient.Value = budget;
        return new Restore(previous);
    }

    /// <summary>Throws <see cref="MemoryBudgetExceededException"/> when <paramref name="bytes"/> exceed this budget.</summary>
    /// <param name="what">What would be allocated, e.g. "a float32 tensor of shape [46000,46000]" or "image 'a.png' (16384×16384 px)".</param>
    public void EnsureFits(long bytes, string what)
    {
        if (bytes > Bytes || bytes < 0) throw new MemoryBudgetExceededException(what, bytes, Bytes);
    }

    /// <summary><see cref="EnsureFits"/> against <see cref="Current"/>.</summary>
    public static void Check(long bytes, string what) => Current.EnsureFits(bytes, what);

    /// <summary>The product of <paramref name="counts"/> times <paramref name="bytesPerElement"/>, saturating at long.MaxValue.</summary>
    public static long SaturatingBytes(long bytesPerElement, params ReadOnlySpan<long> counts)
    {
        foreach (long c in counts) if (c == 0) return 0;
        long total = bytesPerElement;
        foreach (long c in counts)
        {
            if (c < 0) return long.MaxValue;
            if (c != 0 && total > long.MaxValue / c) return long.MaxValue;
            total *= c;
        }
        return total;
    }

    /// <summary>Parses "4G", "512M", "1.5GiB", "65536K" or a plain byte count.</summary>
    public static MemoryBudget Parse(string text)
    {
        string t = text.Trim();
        long unit = 1;
        string number = t;
        foreach (var (suffix, scale) in Units)
        {
            if (t.EndsWith(suffix, StringComparison.OrdinalIgnoreCase))
            {
                unit = scale;
                number = t[..^suffix.Length].Trim();
                break;
            }
        }
        if (!double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || value <= 0 || double.IsInfinity(value))
            throw new FormatException($"Memory budget '{text}' is not a positive size; write e.g. 4G, 512M or a byte count.");
        double bytes = value * unit;
        return new MemoryBudget(bytes >= long.MaxValue ? long.MaxValue : (long)bytes);
    }

    private static readonly (string Suffix, long Scale)[] Units =
        [("GiB", 1L << 30), ("MiB", 1L << 20), ("KiB", 1L << 10), ("GB", 1L << 30), ("MB", 1L << 20), ("KB", 1L << 10),
         ("G", 1L << 30), ("M", 1L << 20), ("K", 1L << 10), ("B", 1)];

    /// <summary>"7.88 GiB", "512 MiB", "900 bytes".</summary>
    public static string Format(long bytes) => bytes switch
    {
        long.MaxValue => "more than 8 EiB",
        >= 1L << 30 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 30):0.##} GiB"),
        >= 1L << 20 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 20):0.##} MiB"),
        >= 1L << 10 => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1024.0:0.##} KiB"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{bytes} bytes"),
    };

    public override string ToString() => Format(Bytes);

    private sealed class Restore(MemoryBudget? previous) : IDisposable
    {
        public void Dispose() => Ambient.Value = previous;
    }
}

/// <summary>An allocation a file or request asked for is larger than the memory budget; nothing was allocated.</summary>
public sealed class MemoryBudgetExceededException : Exception
{
    public MemoryBudgetExceededException(string what, long requestedBytes, long budgetBytes)
        : base($"{Capitalised(what)} would need {MemoryBudget.Format(requestedBytes)}, more than the memory budget of {MemoryBudget.Format(budgetBytes)} per request. "
               + "If the file is trusted and the memory is there, raise the budget (advvis --memory-budget, or memoryBudgetBytes in workspace/configure).")
    {
        What = what;
        RequestedBytes = requestedBytes;
        BudgetBytes = budgetBytes;
    }

    /// <summary>What would have been allocated (a tensor, file or frame), as in the message.</summary>
    public string What { get; }

    public long RequestedBytes { get; }

    public long BudgetBytes { get; }

    /// <summary>The same refusal with where it happened in front, e.g. "output 'y' of node 'bomb' (ConstantOfShape)".</summary>
    public MemoryBudgetExceededException Within(string where) => new($"{where}: {What}", RequestedBytes, BudgetBytes);

    private static string Capitalised(string s) => s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..];
}
