// ClassLabels: class-name lists in the forms users bring: plain text (one name per line),
// synset_words.txt ("n01440764 tench, Tinca tinca": WordNet id + names) and Keras'
// imagenet_class_index.json ({"388": ["n02510455", "giant_panda"]}). Index i is the model's output i.

using System.Text.Json;
using AdvVis.Safety;

namespace AdvVis.Data;

/// <summary>Names (and optional WordNet ids) of a model's classes, in output-index order.</summary>
public sealed class ClassLabels
{
    public IReadOnlyList<string> Names { get; }

    /// <summary>WordNet ids (e.g. n02510455) when the file provides them, otherwise null.</summary>
    public IReadOnlyList<string>? Ids { get; }

    public int Count => Names.Count;

    public ClassLabels(IReadOnlyList<string> names, IReadOnlyList<string>? ids = null)
    {
        if (ids is not null && ids.Count != names.Count)
            throw new ArgumentException($"{names.Count} names but {ids.Count} ids.", nameof(ids));
        Names = names;
        Ids = ids;
    }

    /// <summary>The index of a WordNet id, or -1.</summary>
    public int IndexOfId(string id) => Ids is null ? -1 : Ids.ToList().IndexOf(id);

    /// <summary>The name up to its first comma ("tench, Tinca tinca" → "tench").</summary>
    public string ShortName(int index)
    {
        string name = Names[index];
        int comma = name.IndexOf(',');
        return comma < 0 ? name : name[..comma].Trim();
    }

    /// <summary>Loads a .json (Keras class index) or text label file, chosen by content.</summary>
    public static ClassLabels Load(string path)
    {
        string text = SafeFiles.ReadAllText(path, "Labels file");
        try
        {
            return text.TrimStart().StartsWith('{') ? ParseKerasJson(text) : ParseText(text);
        }
        catch (DataFormatException e)
        {
            throw e.WithFile(path);
        }
    }

    /// <summary>One class per line; "nXXXXXXXX name" lines (synset_words.txt) are split into id and name.</summary>
    public static ClassLabels ParseText(string text)
    {
        var lines = text.TrimStart('\uFEFF').Split('\n').Select(l => l.TrimEnd('\r').Trim()).ToList();
        while (lines.Count > 0 && lines[^1].Length == 0) lines.RemoveAt(lines.Count - 1);
        if (lines.Count == 0) throw new DataFormatException("Label file is empty; expected one class name per line.");
        int blank = lines.FindIndex(l => l.Length == 0);
        if (blank >= 0)
            throw new DataFormatException($"Label file line {blank + 1} is empty; every class index needs a name (a blank line would shift the labels after it).");

        bool synsets = lines.All(IsSynsetLine);
        if (!synsets) return new ClassLabels(lines.ToArray());
        return new ClassLabels(lines.Select(l => l[10..].Trim()).ToArray(), lines.Select(l => l[..9]).ToArray());
    }

    private static bool IsSynsetLine(string line) =>
        line.Length > 10 && line[0] == 'n' && line[1..9].All(char.IsAsciiDigit) && char.IsWhiteSpace(line[9]);

    /// <summary>Keras' {"index": [wnid, name], ...}; indices must be exactly 0..N-1.</summary>
    public static ClassLabels ParseKerasJson(string json)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json);
        }
        catch (JsonException e)
        {
            throw new DataFormatException($"Label JSON is malformed ({e.Message}).", null, e);
        }
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
                throw new DataFormatException("Label JSON must be an object like {\"0\": [\"n01440764\", \"tench\"], ...}.");
            var entries = new Dictionary<int, (string Id, string Name)>();
            foreach (var property in document.RootElement.EnumerateObject())
            {
                if (!int.TryParse(property.Name, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int index))
                    throw new DataFormatException($"Label JSON key \"{property.Name}\" is not a class index.");
                var value = property.Value;
                if (value.ValueKind != JsonValueKind.Array || value.GetArrayLength() != 2 ||
                    value[0].ValueKind != JsonValueKind.String || value[1].ValueKind != JsonValueKind.String)
                    throw new DataFormatException($"Label JSON entry \"{property.Name}\" must be [\"wnid\", \"name\"].");
                if (!entries.TryAdd(index, (value[0].GetString()!, value[1].GetString()!)))
                    throw new DataFormatException($"Label JSON lists class {index} twice.");
            }
            if (entries.Count == 0) throw new DataFormatException("Label JSON has no classes.");
            for (int i = 0; i < entries.Count; i++)
                if (!entries.ContainsKey(i))
                    throw new DataFormatException($"Label JSON has {entries.Count} classes but no entry for index {i}; indices must run 0..{entries.Count - 1}.");
            return new ClassLabels(
                Enumerable.Range(0, entries.Count).Select(i => entries[i].Name).ToArray(),
                Enumerable.Range(0, entries.Count).Select(i => entries[i].Id).ToArray());
        }
    }
}
