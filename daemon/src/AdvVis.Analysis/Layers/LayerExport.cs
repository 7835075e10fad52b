// Export of Layer View data for analysis elsewhere: CSV (one row per unit, or per item and unit), JSON (layer name,
// shapes, unit indices, values) and NumPy .npy (float32, C order) — written here without a serialiser dependency.
using System.Globalization;
using System.Text;
using AdvVis.Analysis.Profiles;

namespace AdvVis.Analysis.Layers;

public static class LayerExport
{
    private static string F(float v) => v.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>CSV: layer,reduction,summary,unit,unit_value,v0..v{map−1} — one row per unit, its map flattened.</summary>
    public static string ToCsv(LayerData data)
    {
        ArgumentNullException.ThrowIfNull(data);
        var sb = new StringBuilder();
        sb.Append("layer,reduction,summary,unit,unit_value");
        for (int p = 0; p < data.MapSize; p++)
            sb.Append(",v").Append(p);
        sb.Append('\n');
        for (int u = 0; u < data.UnitCount; u++)
        {
            sb.Append(Csv(data.Layer)).Append(',').Append(Csv(data.Reduction)).Append(',').Append(data.Summary).Append(',')
              .Append(u).Append(',').Append(F(data.UnitValues[u]));
            foreach (float v in data.Map(u))
                sb.Append(',').Append(F(v));
            sb.Append('\n');
        }
        return sb.ToString();
    }

    /// <summary>CSV of unit values per item: item,label,u0..u{units−1} (labels optional).</summary>
    public static string ActivationsToCsv(LayerActivations activations, UnitSummary summary, int[]? labels = null)
    {
        ArgumentNullException.ThrowIfNull(activations);
        var (units, _, _) = LayerReductions.Geometry(activations.UnitShape);
        var sb = new StringBuilder("item,label");
        for (int u = 0; u < units; u++)
            sb.Append(",u").Append(u);
        sb.Append('\n');
        for (int i = 0; i < activations.Count; i++)
        {
            sb.Append(i).Append(',').Append(labels is null ? "" : labels[i].ToString(CultureInfo.InvariantCulture));
            foreach (float v in LayerReductions.UnitValues(activations.Item(i), units, summary))
                sb.Append(',').Append(F(v));
            sb.Append('\n');
        }
        return sb.ToString();
    }

    /// <summary>JSON object: layer, reduction, summary, unitShape, gridColumns, units: [{unit, value, map}].</summary>
    public static string ToJson(LayerData data)
    {
        ArgumentNullException.ThrowIfNull(data);
        var sb = new StringBuilder("{");
        sb.Append("\"layer\":").Append(JsonString(data.Layer))
          .Append(",\"reduction\":").Append(JsonString(data.Reduction))
          .Append(",\"summary\":").Append(JsonString(data.Summary.ToString()))
          .Append(",\"unitShape\":[").Append(string.Join(',', data.UnitShape)).Append(']')
          .Append(",\"mapHeight\":").Append(data.MapHeight).Append(",\"mapWidth\":").Append(data.MapWidth)
          .Append(",\"gridColumns\":").Append(data.GridColumns)
          .Append(",\"units\":[");
        for (int u = 0; u < data.UnitCount; u++)
        {
            if (u > 0)
                sb.Append(',');
            sb.Append("{\"unit\":").Append(u).Append(",\"value\":").Append(JsonNumber(data.UnitValues[u])).Append(",\"map\":[");
            ReadOnlySpan<float> map = data.Map(u);
            for (int p = 0; p < map.Length; p++)
            {
                if (p > 0)
                    sb.Append(',');
                sb.Append(JsonNumber(map[p]));
            }
            sb.Append("]}");
        }
        sb.Append("]}");
        return sb.ToString();
    }

    /// <summary>The reduced output as a float32 .npy of shape UnitShape.</summary>
    public static byte[] ToNpy(LayerData data) => ToNpy(data.Values, data.UnitShape);

    /// <summary>All items' outputs as a float32 .npy of shape [N, ..UnitShape].</summary>
    public static byte[] ToNpy(LayerActivations activations) =>
        ToNpy(activations.Values.Data.AsSpan(0, activations.Count * activations.Values.Columns).ToArray(),
            [activations.Count, .. activations.UnitShape]);

    /// <summary>NumPy format 1.0, little-endian float32, C order.</summary>
    public static byte[] ToNpy(float[] values, int[] shape)
    {
        ArgumentNullException.ThrowIfNull(values);
        ArgumentNullException.ThrowIfNull(shape);
        long count = shape.Aggregate(1L, (a, b) => a * b);
        if (count != values.Length)
            throw new ArgumentException($"{values.Length} values do not fit shape ({string.Join(", ", shape)}).", nameof(values));
        string dims = shape.Length == 1 ? $"{shape[0]}," : string.Join(", ", shape);
        string header = $"{{'descr': '<f4', 'fortran_order': False, 'shape': ({dims}), }}";
        int total = 10 + header.Length + 1;
        header += new string(' ', (64 - total % 64) % 64) + "\n";
        byte[] head = Encoding.ASCII.GetBytes(header);
        var result = new byte[10 + head.Length + values.Length * 4];
        result[0] = 0x93;
        "NUMPY"u8.CopyTo(result.AsSpan(1));
        result[6] = 1;
        result[7] = 0;
        BitConverter.TryWriteBytes(result.AsSpan(8, 2), (ushort)head.Length);
        head.CopyTo(result, 10);
        for (int i = 0; i < values.Length; i++)
            BitConverter.TryWriteBytes(result.AsSpan(10 + head.Length + 4 * i, 4), values[i]); // little-endian hosts (.NET targets)
        return result;
    }

    private static string Csv(string s) => s.Contains(',') || s.Contains('"') ? "\"" + s.Replace("\"", "\"\"") + "\"" : s;

    private static string JsonNumber(float v) => float.IsFinite(v) ? F(v) : "null";

    private static string JsonString(string s)
    {
        var sb = new StringBuilder("\"");
        foreach (char c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                default:
                    if (c < 0x20)
                        sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    else
                        sb.Append(c);
                    break;
            }
        }
        return sb.Append('"').ToString();
    }
}
