// export/write: writes the client's data under the export folder, atomically, refusing paths that leave it (by name
// or through a link), and reading arrays by path only from the cache folder.
using System.Globalization;
using System.Text;
using System.Text.Json;
using AdvVis.Data;
using AdvVis.Safety;
using AdvVis.Service.Cache;
using AdvVis.Service.Daemon;
using AdvVis.Service.JsonRpc;
using AdvVis.Service.Protocol;

namespace AdvVis.Service.Handlers;

internal static class ExportHandlers
{
    public static void Register(Registrar r) =>
        r.Add<ExportWriteParams, ExportWriteResult>("export/write", (p, context) =>
        {
            var folder = r.State.Export ?? throw new JsonRpcException(AdvVisErrorCodes.NotConfigured,
                "No export folder: call workspace/configure with workspaceRoot or exportDir first.");
            string path = ServiceState.InsideFolder(folder.Path, p.FileName, "fileName");
            byte[] bytes = p.Format switch
            {
                ExportFormat.Npy => Npy.ToBytes(NpyArray(p, r.State.Cache.Folder)),
                ExportFormat.Csv => Csv(p, r.State.Cache.Folder),
                ExportFormat.Json => p.Json is { } json ? JsonSerializer.SerializeToUtf8Bytes(json, new JsonSerializerOptions { WriteIndented = true })
                    : throw new JsonRpcException(JsonRpcErrorCodes.InvalidParams, "format json needs 'json'."),
                ExportFormat.Png => p.PngBase64 is { } png ? CheckedPng(png)
                    : throw new JsonRpcException(JsonRpcErrorCodes.InvalidParams, "format png needs 'pngBase64'."),
                _ => throw new JsonRpcException(JsonRpcErrorCodes.InvalidParams, $"Unknown format {p.Format}."),
            };
            context.CancellationToken.ThrowIfCancellationRequested();
            // Written through the confined folder: a link on the way (or the folder replaced by one) is refused.
            return new ExportWriteResult(folder.WriteAtomically(path, bytes), bytes.Length);
        });

    private static AdvVis.Data.NpyArray NpyArray(ExportWriteParams p, ConfinedFolder? cache)
    {
        var array = p.Array ?? throw new JsonRpcException(JsonRpcErrorCodes.InvalidParams, "format npy needs 'array'.");
        return new AdvVis.Data.NpyArray(Payloads.Read(array, cache), array.Shape);
    }

    private static byte[] Csv(ExportWriteParams p, ConfinedFolder? cache)
    {
        var array = p.Array ?? throw new JsonRpcException(JsonRpcErrorCodes.InvalidParams, "format csv needs 'array'.");
        var values = Payloads.Read(array, cache);
        int rows = array.Shape.Length == 0 ? 1 : array.Shape[0];
        int columns = rows == 0 ? 0 : values.Length / rows;
        var text = new StringBuilder();
        if (p.ColumnNames is { } names)
        {
            if (names.Length != columns) throw new JsonRpcException(JsonRpcErrorCodes.InvalidParams, $"columnNames has {names.Length} names for {columns} columns.");
            if (p.RowNames is not null) text.Append("name,");
            text.AppendLine(string.Join(",", names.Select(Quote)));
        }
        if (p.RowNames is { } rowNames && rowNames.Length != rows)
            throw new JsonRpcException(JsonRpcErrorCodes.InvalidParams, $"rowNames has {rowNames.Length} names for {rows} rows.");
        for (int row = 0; row < rows; row++)
        {
            if (p.RowNames is not null) text.Append(Quote(p.RowNames[row])).Append(',');
            text.AppendLine(string.Join(",", values.Skip(row * columns).Take(columns).Select(v => v.ToString("R", CultureInfo.InvariantCulture))));
        }
        return Encoding.UTF8.GetBytes(text.ToString());
    }

    private static string Quote(string s) => s.Contains(',') || s.Contains('"') || s.Contains('\n') ? "\"" + s.Replace("\"", "\"\"") + "\"" : s;

    private static byte[] CheckedPng(string base64)
    {
        var bytes = Convert.FromBase64String(base64);
        if (ImageDecoder.DetectFormat(bytes) != ImageFileFormat.Png) throw new JsonRpcException(AdvVisErrorCodes.BadInput, "pngBase64 is not a PNG.");
        return bytes;
    }
}
