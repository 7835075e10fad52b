// Layer View data (Activation Profiles §4.4): one layer's outputs over a set of items reduced to a single output
// (mean, max, difference(i, j), direct(i)), a value per unit for the heatmap grid (max over the unit's map, or the sum
// of absolute values), and the activation maps of the top-k units with their sign kept.
using AdvVis.Analysis.Profiles;

namespace AdvVis.Analysis.Layers;

public enum ReductionKind { Mean, Max, Difference, Direct }

/// <summary>How a unit's map becomes one heatmap value.</summary>
public enum UnitSummary
{
    /// <summary>The largest value of the unit's map (the paper's conv-unit heatmaps).</summary>
    SpatialMax,
    /// <summary>Σ |value| over the map (the paper's choice for layers with negative outputs, §5.3).</summary>
    SumAbsolute,
    /// <summary>The mean over the map, sign kept.</summary>
    SpatialMean,
}

/// <summary>A reduction over items of an <see cref="LayerActivations"/> set.</summary>
/// <param name="Items">For Mean/Max: the items reduced (null = all).</param>
public sealed record Reduction(ReductionKind Kind, IReadOnlyList<int>? Items = null, int I = 0, int J = 0)
{
    public static Reduction Mean(IReadOnlyList<int>? items = null) => new(ReductionKind.Mean, items);
    public static Reduction Max(IReadOnlyList<int>? items = null) => new(ReductionKind.Max, items);
    /// <summary>L(x_i) − L(x_j) unit-wise (e.g. benign − adversarial).</summary>
    public static Reduction Difference(int i, int j) => new(ReductionKind.Difference, null, i, j);
    public static Reduction Direct(int i) => new(ReductionKind.Direct, null, i);

    public override string ToString() => Kind switch
    {
        ReductionKind.Mean => Items is null ? "mean" : $"mean of {Items.Count} items",
        ReductionKind.Max => Items is null ? "max" : $"max of {Items.Count} items",
        ReductionKind.Difference => $"difference({I}, {J})",
        _ => $"direct({I})",
    };
}

/// <summary>
/// A reduced layer output. <see cref="Values"/> has the per-item shape <see cref="UnitShape"/> (units first);
/// <see cref="UnitValues"/>[u] summarises unit u's map of <see cref="MapHeight"/> × <see cref="MapWidth"/> values.
/// Draw units in a grid of <see cref="GridColumns"/> columns.
/// </summary>
public sealed record LayerData(string Layer, int[] UnitShape, int UnitCount, int MapHeight, int MapWidth, float[] Values,
    float[] UnitValues, UnitSummary Summary, string Reduction, int GridColumns)
{
    public int MapSize => MapHeight * MapWidth;
    public ReadOnlySpan<float> Map(int unit) => Values.AsSpan(unit * MapSize, MapSize);
}

/// <summary>One unit's activation map (sign kept), row-major <see cref="Height"/> × <see cref="Width"/>.</summary>
public sealed record UnitMap(int Unit, float UnitValue, int Height, int Width, float[] Map, float Min, float Max);

/// <summary>The maps of the top-k units; <see cref="ColorLimit"/> = max |value| over them, for a shared diverging scale.</summary>
public sealed record TopUnits(string Layer, string Reduction, IReadOnlyList<UnitMap> Units, float ColorLimit);

public static class LayerReductions
{
    /// <summary>Units and map size of a per-item shape: [C, H, W] → C units of H × W; [C, L] → C of 1 × L; [F] → F of 1 × 1.</summary>
    public static (int Units, int Height, int Width) Geometry(int[] unitShape) => unitShape.Length switch
    {
        0 => (1, 1, 1),
        1 => (unitShape[0], 1, 1),
        2 => (unitShape[0], 1, unitShape[1]),
        _ => (unitShape[0], unitShape[^2], unitShape[1..^1].Aggregate(1, (a, b) => a * b) / unitShape[^2] * unitShape[^1]),
    };

    public static LayerData Reduce(LayerActivations activations, Reduction reduction, UnitSummary summary = UnitSummary.SpatialMax)
    {
        ArgumentNullException.ThrowIfNull(activations);
        ArgumentNullException.ThrowIfNull(reduction);
        int n = activations.Count, width = activations.Values.Columns;
        void Check(int i)
        {
            if ((uint)i >= (uint)n)
                throw new ArgumentOutOfRangeException(nameof(reduction), $"Item {i} is outside the {n} items of '{activations.Layer}'.");
        }
        var values = new float[width];
        switch (reduction.Kind)
        {
            case ReductionKind.Mean:
            case ReductionKind.Max:
            {
                IReadOnlyList<int> items = reduction.Items ?? Enumerable.Range(0, n).ToArray();
                if (items.Count == 0)
                    throw new ArgumentException("The reduction needs at least one item.", nameof(reduction));
                foreach (int i in items)
                    Check(i);
                if (reduction.Kind == ReductionKind.Mean)
                {
                    var sum = new double[width];
                    foreach (int i in items)
                    {
                        ReadOnlySpan<float> row = activations.Item(i);
                        for (int f = 0; f < width; f++)
                            sum[f] += row[f];
                    }
                    for (int f = 0; f < width; f++)
                        values[f] = (float)(sum[f] / items.Count);
                }
                else
                {
                    activations.Item(items[0]).CopyTo(values);
                    foreach (int i in items)
                    {
                        ReadOnlySpan<float> row = activations.Item(i);
                        for (int f = 0; f < width; f++)
                            values[f] = Math.Max(values[f], row[f]);
                    }
                }
                break;
            }
            case ReductionKind.Difference:
            {
                Check(reduction.I);
                Check(reduction.J);
                ReadOnlySpan<float> a = activations.Item(reduction.I), b = activations.Item(reduction.J);
                for (int f = 0; f < width; f++)
                    values[f] = a[f] - b[f];
                break;
            }
            default:
                Check(reduction.I);
                activations.Item(reduction.I).CopyTo(values);
                break;
        }
        return FromValues(activations.Layer, activations.UnitShape, values, summary, reduction.ToString());
    }

    /// <summary>Wraps one output (already reduced) as layer data.</summary>
    public static LayerData FromValues(string layer, int[] unitShape, float[] values, UnitSummary summary, string description)
    {
        var (units, h, w) = Geometry(unitShape);
        if (units * h * w != values.Length)
            throw new ArgumentException($"{values.Length} values do not fit the shape [{string.Join(",", unitShape)}].", nameof(values));
        return new LayerData(layer, (int[])unitShape.Clone(), units, h, w, values, UnitValues(values, units, summary), summary,
            description, (int)Math.Ceiling(Math.Sqrt(units)));
    }

    public static float[] UnitValues(ReadOnlySpan<float> values, int units, UnitSummary summary)
    {
        int map = values.Length / units;
        var result = new float[units];
        for (int u = 0; u < units; u++)
        {
            ReadOnlySpan<float> m = values.Slice(u * map, map);
            switch (summary)
            {
                case UnitSummary.SpatialMax:
                    float best = float.NegativeInfinity;
                    foreach (float v in m)
                        best = Math.Max(best, v);
                    result[u] = best;
                    break;
                case UnitSummary.SumAbsolute:
                    double abs = 0;
                    foreach (float v in m)
                        abs += Math.Abs(v);
                    result[u] = (float)abs;
                    break;
                default:
                    double sum = 0;
                    foreach (float v in m)
                        sum += v;
                    result[u] = (float)(sum / map);
                    break;
            }
        }
        return result;
    }

    /// <summary>
    /// The <paramref name="k"/> units with the largest |unit value| (or largest value when <paramref name="byMagnitude"/>
    /// is false), ties by unit index, with their signed maps.
    /// </summary>
    public static TopUnits Top(LayerData data, int k, bool byMagnitude = true)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        int[] order = Enumerable.Range(0, data.UnitCount)
            .OrderByDescending(u => byMagnitude ? Math.Abs(data.UnitValues[u]) : data.UnitValues[u]).ThenBy(u => u)
            .Take(k).ToArray();
        var maps = new List<UnitMap>();
        float limit = 0;
        foreach (int u in order)
        {
            float[] map = data.Map(u).ToArray();
            float min = map.Min(), max = map.Max();
            limit = Math.Max(limit, Math.Max(Math.Abs(min), Math.Abs(max)));
            maps.Add(new UnitMap(u, data.UnitValues[u], data.MapHeight, data.MapWidth, map, min, max));
        }
        return new TopUnits(data.Layer, data.Reduction, maps, limit);
    }
}
