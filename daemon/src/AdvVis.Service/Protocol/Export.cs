// export/write: the client's data (arrays, tables, JSON, PNG) written under the export folder it configured.
using System.Text.Json;

namespace AdvVis.Service.Protocol;

public enum ExportFormat { Csv, Json, Npy, Png }

public sealed record ExportWriteParams(string FileName, ExportFormat Format, ArrayData? Array = null, string[]? ColumnNames = null,
    string[]? RowNames = null, JsonElement? Json = null, string? PngBase64 = null);

public sealed record ExportWriteResult(string Path, long Bytes);
