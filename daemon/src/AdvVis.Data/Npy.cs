// Npy: reads and writes NumPy's .npy format (versions 1.0, 2.0 and 3.0): the magic, a Python-literal
// header dict {'descr', 'fortran_order', 'shape'} and the raw C-order data. Little- and big-endian
// numeric dtypes are read; Fortran order, object and structured dtypes are rejected with a clear message.

using System.Text;
using AdvVis.Safety;

using AdvVis.Safety;

namespace AdvVis.Data;

/// <summary>NumPy .npy reader and writer.</summary>
public static class Npy
{
    private static ReadOnlySpan<byte> Magic => [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    public static NpyArray Read(string path)
    {
        byte[] bytes = SafeFiles.ReadAllBytes(path, "Array file");
        try
        {
            return Parse(bytes);
        }
        catch (DataFormatException e)
        {
            throw e.WithFile(path);
        }
        catch (MemoryBudgetExceededException e)
        {
            throw e.Within($"'{path}'");
        }
    }

    public static NpyArray Read(Stream stream)
    {
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        return Parse(buffer.GetBuffer().AsSpan(0, (int)buffer.Length));
    }

    /// <summary>Parses an in-memory .npy file.</summary>
    public static NpyArray Parse(ReadOnlySpan<byte> data)
    {
        if (data.Length < 10 || !data[..6].SequenceEqual(Magic))
            throw new DataFormatException("Not a NumPy .npy file (missing \\x93NUMPY magic). Save the array with numpy.save.");
        int major = data[6];
        int headerLength, headerStart;
        switch (major)
        {
            case 1:
                headerLength = data[8] | (data[9] << 8);
                headerStart = 10;
                break;
            case 2 or 3:
                if (data.Length < 12) throw new DataFormatException(".npy file is truncated inside its preamble.");
                uint length = (uint)(data[8] | (data[9] << 8) | (data[10] << 16) | (data[11] << 24));
                if (length > int.MaxValue) throw new DataFormatException($".npy header length {length} is absurd; the file is corrupt.");
                headerLength = (int)length;
                headerStart = 12;
                break;
            default:
                throw new DataFormatException($".npy format version {major}.{data[7]} is not supported (1.0–3.0 are). Re-save with a current numpy.");
        }
        if (data.Length - headerStart < headerLength)
            throw new DataFormatException(".npy file is truncated inside its header. Re-save or re-download it.");
        var encoding = major == 3 ? Encoding.UTF8 : Encoding.Latin1;
        string header = encoding.GetString(data.Slice(headerStart, headerLength));
        var (descr, fortranOrder, shape) = ParseHeader(header);
        if (fortranOrder)
            throw new DataFormatException(
                ".npy array is stored in Fortran (column-major) order, which AdvVis does not read. Re-save it with numpy.save(path, numpy.ascontiguousarray(a)).");
        var (type, bigEndian) = ParseDescr(descr);

        long count = 1;
        foreach (long dimension in shape)
        {
            count *= dimension;
            if (count > Array.MaxLength) throw new DataFormatException($".npy shape ({string.Join(", ", shape)}) is too large to load.");
        }
        int itemSize = NpyArray.ItemSize(type);
        int dataStart = headerStart + headerLength;
        long byteCount = count * itemSize;
        if (data.Length - dataStart < byteCount)
            throw new DataFormatException(
                $".npy data is truncated: shape ({string.Join(", ", shape)}) of {descr} needs {byteCount} bytes, the file has {data.Length - dataStart}. Re-save or re-download it.");

        // The array and a raw copy of its bytes exist together while it is parsed.
        MemoryBudget.Check(MemoryBudget.SaturatingBytes(2, byteCount), $"a .npy array of shape ({string.Join(", ", shape)}) {descr}");
        var array = NpyArray.Allocate(type, (int)count);
        byte[] raw = data.Slice(dataStart, (int)byteCount).ToArray();
        if (bigEndian != !BitConverter.IsLittleEndian && itemSize > 1) SwapBytes(raw, itemSize);
        if (array is bool[] flags)
            for (int i = 0; i < flags.Length; i++) flags[i] = raw[i] != 0;
        else
            Buffer.BlockCopy(raw, 0, array, 0, raw.Length);
        return new NpyArray(array, shape.Select(d => (int)d).ToArray());
    }

    public static void Write(string path, NpyArray array)
    {
        using var file = File.Create(path);
        Write(file, array);
    }

    public static byte[] ToBytes(NpyArray array)
    {
        using var buffer = new MemoryStream();
        Write(buffer, array);
        return buffer.ToArray();
    }

    /// <summary>Writes a version 1.0 file (2.0 if the header is huge), header padded to 64 bytes like numpy.</summary>
    public static void Write(Stream stream, NpyArray array)
    {
        ArgumentNullException.ThrowIfNull(array);
        string shape = array.Shape.Length switch
        {
            0 => "()",
            1 => $"({array.Shape[0]},)",
            _ => "(" + string.Join(", ", array.Shape) + ")",
        };
        string dict = $"{{'descr': '{Descr(array.DType)}', 'fortran_order': False, 'shape': {shape}, }}";
        bool version2 = dict.Length + 1 + 10 > 65535;
        int preamble = version2 ? 12 : 10;
        int padded = (preamble + dict.Length + 1 + 63) / 64 * 64;
        string header = dict.PadRight(padded - preamble - 1) + "\n";

        stream.Write(Magic);
        stream.WriteByte(version2 ? (byte)2 : (byte)1);
        stream.WriteByte(0);
        int length = header.Length;
        stream.WriteByte((byte)length);
        stream.WriteByte((byte)(length >> 8));
        if (version2)
        {
            stream.WriteByte((byte)(length >> 16));
            stream.WriteByte((byte)(length >> 24));
        }
        stream.Write(Encoding.Latin1.GetBytes(header));

        int itemSize = NpyArray.ItemSize(array.DType);
        var raw = new byte[(long)array.Length * itemSize];
        if (array.Data is bool[] flags)
            for (int i = 0; i < flags.Length; i++) raw[i] = flags[i] ? (byte)1 : (byte)0;
        else
            Buffer.BlockCopy(array.Data, 0, raw, 0, raw.Length);
        if (!BitConverter.IsLittleEndian && itemSize > 1) SwapBytes(raw, itemSize);
        stream.Write(raw);
    }

    internal static string Descr(NpyDType type) => type switch
    {
        NpyDType.Bool => "|b1",
        NpyDType.Int8 => "|i1",
        NpyDType.UInt8 => "|u1",
        NpyDType.Int16 => "<i2",
        NpyDType.UInt16 => "<u2",
        NpyDType.Int32 => "<i4",
        NpyDType.Int64 => "<i8",
        NpyDType.Float32 => "<f4",
        _ => "<f8",
    };

    private static (NpyDType Type, bool BigEndian) ParseDescr(string descr)
    {
        if (descr.Length < 3)
            throw new DataFormatException($".npy dtype '{descr}' is not understood.");
        char order = descr[0];
        bool bigEndian = order switch
        {
            '<' or '|' => false,
            '=' => !BitConverter.IsLittleEndian,
            '>' => true,
            _ => throw new DataFormatException($".npy dtype '{descr}' has no byte-order prefix; the file is corrupt."),
        };
        NpyDType? type = descr[1..] switch
        {
            "b1" => NpyDType.Bool,
            "i1" => NpyDType.Int8,
            "u1" => NpyDType.UInt8,
            "i2" => NpyDType.Int16,
            "u2" => NpyDType.UInt16,
            "i4" => NpyDType.Int32,
            "i8" => NpyDType.Int64,
            "f4" => NpyDType.Float32,
            "f8" => NpyDType.Float64,
            _ => null,
        };
        return type is null
            ? throw new DataFormatException(
                $".npy dtype '{descr}' is not supported (bool, int8/16/32/64, uint8/16, float32/64 are). Convert it, e.g. a.astype(numpy.float32).")
            : (type.Value, bigEndian);
    }

    private static void SwapBytes(byte[] raw, int itemSize)
    {
        for (int i = 0; i + itemSize <= raw.Length; i += itemSize)
            Array.Reverse(raw, i, itemSize);
    }

    /// <summary>Parses the Python dict literal of the header: string keys, string/bool/tuple values.</summary>
    private static (string Descr, bool FortranOrder, long[] Shape) ParseHeader(string header)
    {
        var parser = new LiteralParser(header);
        string? descr = null;
        bool? fortran = null;
        long[]? shape = null;
        parser.Expect('{');
        while (!parser.TryConsume('}'))
        {
            string key = parser.ReadString();
            parser.Expect(':');
            switch (key)
            {
                case "descr":
                    if (parser.Peek() == '[')
                        throw new DataFormatException(".npy array has a structured (record) dtype, which AdvVis does not read. Save each field as its own array.");
                    descr = parser.ReadString();
                    break;
                case "fortran_order":
                    fortran = parser.ReadBool();
                    break;
                case "shape":
                    shape = parser.ReadTuple();
                    break;
                default:
                    parser.SkipValue();
                    break;
            }
            if (!parser.TryConsume(',')) { parser.Expect('}'); break; }
        }
        if (descr is null || fortran is null || shape is null)
            throw new DataFormatException($".npy header lacks descr, fortran_order or shape: {header.Trim()}");
        return (descr, fortran.Value, shape);
    }

    private sealed class LiteralParser(string text)
    {
        private int _pos;

        private DataFormatException Error(string what) =>
            new($".npy header is malformed ({what} at character {_pos}): {text.Trim()}");

        private void SkipSpace()
        {
            while (_pos < text.Length && char.IsWhiteSpace(text[_pos])) _pos++;
        }

        public char Peek()
        {
            SkipSpace();
            return _pos < text.Length ? text[_pos] : '\0';
        }

        public bool TryConsume(char c)
        {
            if (Peek() != c) return false;
            _pos++;
            return true;
        }

        public void Expect(char c)
        {
            if (!TryConsume(c)) throw Error($"expected '{c}'");
        }

        public string ReadString()
        {
            char quote = Peek();
            if (quote is not ('\'' or '"')) throw Error("expected a string");
            int end = text.IndexOf(quote, _pos + 1);
            if (end < 0) throw Error("unterminated string");
            string value = text.Substring(_pos + 1, end - _pos - 1);
            _pos = end + 1;
            return value;
        }

        public bool ReadBool()
        {
            SkipSpace();
            if (string.CompareOrdinal(text, _pos, "True", 0, 4) == 0) { _pos += 4; return true; }
            if (string.CompareOrdinal(text, _pos, "False", 0, 5) == 0) { _pos += 5; return false; }
            throw Error("expected True or False");
        }

        public long[] ReadTuple()
        {
            Expect('(');
            var values = new List<long>();
            while (!TryConsume(')'))
            {
                SkipSpace();
                long value = 0;
                int start = _pos;
                while (_pos < text.Length && char.IsAsciiDigit(text[_pos]))
                {
                    value = value * 10 + (text[_pos++] - '0');
                    if (value > int.MaxValue) throw Error("dimension too large");
                }
                if (_pos < text.Length && text[_pos] == 'L') _pos++; // Python 2 long suffix
                if (_pos == start) throw Error("expected a dimension");
                values.Add(value);
                if (!TryConsume(',')) { Expect(')'); break; }
            }
            return values.ToArray();
        }

        public void SkipValue()
        {
            char c = Peek();
            if (c is '\'' or '"') { ReadString(); return; }
            int depth = 0;
            while (_pos < text.Length)
            {
                char ch = text[_pos];
                if (ch is '(' or '[' or '{') depth++;
                else if (ch is ')' or ']' or '}') { if (depth == 0) return; depth--; }
                else if (ch == ',' && depth == 0) return;
                _pos++;
            }
            throw Error("unterminated value");
        }
    }
}
