// ProtocolDoc: renders the reference part of docs/protocol.md (method lines and one table per protocol type) from the
// code by reflection, and ProtocolDocTests compares it with the document. Hand-written meanings in the last table
// column are kept when the reference is rewritten (ADVVIS_WRITE_PROTOCOL_DOC=1 dotnet test --filter ProtocolDoc).
using System.Reflection;
using System.Text;
using System.Text.Json;
using AdvVis.Service.Protocol;

namespace AdvVis.Service.Tests;

internal static class ProtocolDoc
{
    public const string Begin = "<!-- reference:begin (generated from Protocol/*.cs; meanings are hand-written) -->";
    public const string End = "<!-- reference:end -->";

    public static string DocPath
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                string candidate = Path.Combine(dir.FullName, "docs", "protocol.md");
                if (File.Exists(candidate)) return candidate;
            }
            throw new FileNotFoundException("docs/protocol.md not found above " + AppContext.BaseDirectory);
        }
    }

    public static string MethodLine(ProtocolMethod m) =>
        $"- `{m.Name}` · params `{(m.Params is null ? "none" : m.Params.Name)}` · result `{m.Result.Name}` · " +
        $"{(m.Mutates ? "mutating (ordered)" : "read-only (parallel)")}{(m.Progress ? " · progress" : "")}{(m.Cached ? " · cached" : "")}";

    /// <summary>The reference section; <paramref name="meanings"/> maps "Type.field" to the kept last column.</summary>
    public static string Render(IReadOnlyDictionary<string, string> meanings)
    {
        var text = new StringBuilder();
        text.AppendLine(Begin).AppendLine().AppendLine("### Methods").AppendLine();
        foreach (var m in ProtocolCatalog.Methods) text.AppendLine(MethodLine(m));
        text.AppendLine().AppendLine("### Types").AppendLine();
        foreach (var type in ProtocolCatalog.Types().OrderBy(t => t.Name, StringComparer.Ordinal))
        {
            if (type.IsEnum)
            {
                var values = Enum.GetNames(type).Select(n => "`" + JsonNamingPolicy.CamelCase.ConvertName(n) + "`");
                text.AppendLine($"#### `{type.Name}` (enum)").AppendLine().AppendLine(string.Join(" · ", values)).AppendLine();
                continue;
            }
            text.AppendLine($"#### `{type.Name}`").AppendLine();
            text.AppendLine("| field | type | default | meaning |").AppendLine("|---|---|---|---|");
            foreach (var row in Rows(type))
            {
                meanings.TryGetValue(type.Name + "." + row.Field, out var meaning);
                text.AppendLine($"| `{row.Field}` | `{row.Type}` | {row.Default} | {meaning ?? ""} |");
            }
            text.AppendLine();
        }
        text.Append(End);
        return text.ToString();
    }

    public sealed record Row(string Field, string Type, string Default);

    public static IEnumerable<Row> Rows(Type type)
    {
        var constructor = type.GetConstructors().OrderByDescending(c => c.GetParameters().Length).First();
        var context = new NullabilityInfoContext();
        foreach (var parameter in constructor.GetParameters())
        {
            var property = type.GetProperty(parameter.Name!)!;
            var nullability = context.Create(property);
            string typeName = TypeName(property.PropertyType, nullability);
            string defaultText = !parameter.HasDefaultValue ? "required"
                : parameter.DefaultValue is null ? "null"
                : parameter.DefaultValue is bool b ? (b ? "true" : "false")
                : parameter.DefaultValue is string s ? $"`\"{s}\"`"
                : property.PropertyType.IsEnum ? "`" + JsonNamingPolicy.CamelCase.ConvertName(Enum.GetName(property.PropertyType, parameter.DefaultValue)!) + "`"
                : Convert.ToString(parameter.DefaultValue, System.Globalization.CultureInfo.InvariantCulture)!;
            yield return new Row(JsonNamingPolicy.CamelCase.ConvertName(parameter.Name!), typeName, defaultText);
        }
    }

    private static string TypeName(Type type, NullabilityInfo info)
    {
        string nullable = info.ReadState == NullabilityState.Nullable ? "?" : "";
        var underlying = Nullable.GetUnderlyingType(type);
        if (underlying is not null) return TypeName(underlying, info) + "?";
        if (type.IsArray) return TypeName(type.GetElementType()!, info.ElementType!) + "[]" + nullable;
        string name = type == typeof(string) ? "string" : type == typeof(int) ? "int" : type == typeof(long) ? "long"
            : type == typeof(ulong) ? "ulong" : type == typeof(float) ? "float" : type == typeof(double) ? "double"
            : type == typeof(bool) ? "bool" : type == typeof(JsonElement) ? "any" : type.Name;
        return name + (type.IsValueType ? "" : nullable);
    }

    /// <summary>Splits the document into (before, reference, after) around the markers.</summary>
    public static (string Before, string Reference, string After) Split(string doc)
    {
        int begin = doc.IndexOf(Begin, StringComparison.Ordinal), end = doc.IndexOf(End, StringComparison.Ordinal);
        if (begin < 0 || end < begin) throw new InvalidDataException($"docs/protocol.md lacks the markers {Begin} … {End}");
        return (doc[..begin], doc[begin..(end + End.Length)], doc[(end + End.Length)..]);
    }

    /// <summary>"Type.field" → meaning, read from the tables of an existing reference section.</summary>
    public static Dictionary<string, string> Meanings(string reference)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        string? current = null;
        foreach (var line in reference.Split('\n'))
        {
            if (line.StartsWith("#### `", StringComparison.Ordinal)) current = line.Split('`')[1];
            else if (current is not null && line.StartsWith("| `", StringComparison.Ordinal))
            {
                var cells = line.Split('|');
                if (cells.Length >= 6) result[current + "." + cells[1].Trim().Trim('`')] = string.Join("|", cells[4..^1]).Trim();
            }
        }
        return result;
    }

    /// <summary>The reference with the meaning column blanked, for comparison.</summary>
    public static string WithoutMeanings(string reference) =>
        string.Join("\n", reference.Replace("\r", "").Split('\n').Select(line =>
        {
            if (!line.StartsWith("| `", StringComparison.Ordinal)) return line.TrimEnd();
            var cells = line.Split('|');
            return cells.Length >= 6 ? string.Join("|", cells[..4]) + "|" : line;
        }));
}
