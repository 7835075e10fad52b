// JpegDecoder: baseline and progressive Huffman JPEG (ITU T.81), the formats cameras and the web use.
// This file parses markers and decodes the entropy-coded scans into DCT coefficients (including
// progressive spectral selection and successive approximation, and restart intervals); the
// libjpeg-compatible pixel pipeline (ISLOW IDCT, fancy upsampling, YCbCr→RGB) is in JpegPixelPipeline.cs.
// Arithmetic-coded, lossless, hierarchical and 12-bit JPEGs are rejected with a clear message.

using System.Buffers.Binary;

namespace AdvVis.Data;

internal sealed partial class JpegDecoder
{
    /// <summary>Zig-zag index → natural (row-major) index within an 8×8 block.</summary>
    internal static readonly byte[] ZigZagToNatural =
    [
        0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5,
        12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28,
        35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51,
        58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
    ];

    internal sealed class Component
    {
        public int Id, H, V, QuantTableIndex;
        public int[]? Quant;                          // latched at the component's first scan, as libjpeg does
        public int DownsampledWidth, DownsampledHeight;
        public int BlocksPerLine, BlocksPerColumn;    // blocks that hold image data
        public int BlocksPerLineAlloc, BlocksPerColumnAlloc; // padded to whole MCUs
        public short[] Coefficients = [];
        public int DcPredictor;
        public JpegHuffmanTable? DcTable, AcTable;
    }

    internal sealed class Frame
    {
        public int Width, Height, MaxH, MaxV, McusPerLine, McusPerColumn;
        public bool Progressive;
        public Component[] Components = [];
    }

    private readonly byte[] _data;
    private readonly ImageDecodeOptions _options;
    private int _pos;

    private readonly int[]?[] _quantTables = new int[]?[4];
    private readonly JpegHuffmanTable?[] _dcTables = new JpegHuffmanTable?[4];
    private readonly JpegHuffmanTable?[] _acTables = new JpegHuffmanTable?[4];
    private Frame? _frame;
    private int _restartInterval;
    private bool _sawJfif;
    private int _adobeTransform = -1;
    private int _exifOrientation = 1;
    private int _scansDecoded;

    // Entropy decoder state.
    private ulong _bitBuffer;   // MSB-aligned
    private int _bitCount;
    private int _fakeBits;      // zero bits appended past a marker/EOF; consuming them means the data is truncated
    private bool _reachedMarker;
    private int _eobRun;

    private JpegDecoder(byte[] data, ImageDecodeOptions options)
    {
        _data = data;
        _options = options;
    }

    public static Image Decode(ReadOnlySpan<byte> data, ImageDecodeOptions options) =>
        new JpegDecoder(data.ToArray(), options).Run();

    private Image Run()
    {
        if (_data.Length < 4 || _data[0] != 0xFF || _data[1] != 0xD8)
            throw new ImageFormatException("Not a JPEG file (missing SOI marker).");
        _pos = 2;
        while (true)
        {
            int marker = NextMarker();
            if (marker < 0 || marker == 0xD9) break; // EOF or EOI; a missing EOI is tolerated like libjpeg does
            switch (marker)
            {
                case 0xC0 or 0xC1 or 0xC2:
                    ReadFrame(ReadSegment(), progressive: marker == 0xC2);
                    break;
                case 0xC3 or 0xC5 or 0xC6 or 0xC7 or 0xCB or 0xCD or 0xCE or 0xCF:
                    throw new ImageFormatException("JPEG uses lossless or hierarchical coding, which AdvVis does not read. Re-save it as a normal (baseline) JPEG or PNG.");
                case 0xC9 or 0xCA:
                    throw new ImageFormatException("JPEG uses arithmetic coding, which AdvVis does not read. Re-save it as a normal (Huffman) JPEG or PNG.");
                case 0xC4:
                    ReadHuffmanTables(ReadSegment());
                    break;
                case 0xDB:
                    ReadQuantizationTables(ReadSegment());
                    break;
                case 0xDD:
                    ReadRestartInterval(ReadSegment());
                    break;
                case 0xDA:
                    ReadScanHeaderAndDecode(ReadSegment());
                    break;
                case 0xE0:
                    ReadJfif(ReadSegment());
                    break;
                case 0xE1:
                    ReadExif(ReadSegment());
                    break;
                case 0xEE:
                    ReadAdobe(ReadSegment());
                    break;
                case 0xDC:
                    throw new ImageFormatException("JPEG declares its height in a DNL marker, which AdvVis does not read. Re-save the image.");
                case >= 0xD0 and <= 0xD7:
                case 0x01:
                    break; // stray restart/TEM markers carry no segment
                default:
                    ReadSegment(); // APPn, COM and others are skipped
                    break;
            }
        }

        if (_frame is null)
            throw new ImageFormatException("JPEG has no frame header (SOF); the file is truncated or corrupt. Re-download or re-export it.");
        if (_scansDecoded == 0)
            throw new ImageFormatException("JPEG has no image data (SOS); the file is truncated. Re-download or re-export it.");
        foreach (var component in _frame.Components)
            if (component.Quant is null)
                throw new ImageFormatException($"JPEG ends before component {component.Id} received any data; the file is truncated. Re-download or re-export it.");

        Image image = RenderPixels(_frame);
        return _options.ApplyExifOrientation ? image.ApplyExifOrientation(_exifOrientation) : image;
    }

    // ------------------------------------------------------------------ markers and segments

    /// <summary>Returns the next marker code, skipping fill bytes and stray garbage; -1 at end of file.</summary>
    private int NextMarker()
    {
        while (_pos < _data.Length)
        {
            if (_data[_pos] != 0xFF) { _pos++; continue; } // garbage between segments: libjpeg skips it too
            while (_pos < _data.Length && _data[_pos] == 0xFF) _pos++;
            if (_pos >= _data.Length) return -1;
            int marker = _data[_pos++];
            if (marker != 0) return marker;
        }
        return -1;
    }

    private ReadOnlySpan<byte> ReadSegment()
    {
        if (_data.Length - _pos < 2)
            throw new ImageFormatException("JPEG file ends inside a marker segment; it is truncated. Re-download or re-export it.");
        int length = BinaryPrimitives.ReadUInt16BigEndian(_data.AsSpan(_pos));
        if (length < 2)
            throw new ImageFormatException($"JPEG marker segment at byte {_pos} has invalid length {length}; the file is corrupt.");
        if (_data.Length - _pos < length)
            throw new ImageFormatException($"JPEG marker segment at byte {_pos} runs past the end of the file; it is truncated. Re-download or re-export it.");
        var body = _data.AsSpan(_pos + 2, length - 2);
        _pos += length;
        return body;
    }

    private static ImageFormatException Corrupt(string what) =>
        new($"JPEG {what}; the file is corrupt. Re-download or re-export it.");

    private void ReadFrame(ReadOnlySpan<byte> body, bool progressive)
    {
        if (_frame is not null) throw Corrupt("contains more than one frame header (SOF)");
        if (body.Length < 6) throw Corrupt("frame header is too short");
        int precision = body[0];
        int height = BinaryPrimitives.ReadUInt16BigEndian(body[1..]);
        int width = BinaryPrimitives.ReadUInt16BigEndian(body[3..]);
        int count = body[5];
        if (precision != 8)
            throw new ImageFormatException($"JPEG uses {precision}-bit samples; only 8-bit JPEGs are supported. Convert it to an 8-bit JPEG or PNG.");
        if (height == 0)
            throw new ImageFormatException("JPEG leaves its height to a DNL marker, which AdvVis does not read. Re-save the image.");
        _options.CheckDimensions("JPEG", width, height);
        if (count is not (1 or 3 or 4))
            throw new ImageFormatException($"JPEG has {count} colour components; only 1 (gray), 3 (YCbCr/RGB) and 4 (CMYK) are supported.");
        if (body.Length < 6 + 3 * count) throw Corrupt("frame header is shorter than its component list");

        var frame = new Frame { Width = width, Height = height, Progressive = progressive, Components = new Component[count] };
        for (int i = 0; i < count; i++)
        {
            var spec = body.Slice(6 + 3 * i, 3);
            int h = spec[1] >> 4, v = spec[1] & 15;
            if (h is < 1 or > 4 || v is < 1 or > 4) throw Corrupt($"component {spec[0]} has invalid sampling factors {h}×{v}");
            if (spec[2] > 3) throw Corrupt($"component {spec[0]} refers to quantization table {spec[2]}");
            frame.Components[i] = new Component { Id = spec[0], H = h, V = v, QuantTableIndex = spec[2] };
        }
        frame.MaxH = frame.Components.Max(c => c.H);
        frame.MaxV = frame.Components.Max(c => c.V);
        frame.McusPerLine = DivCeil(width, 8 * frame.MaxH);
        frame.McusPerColumn = DivCeil(height, 8 * frame.MaxV);

        long fewestBlocks = long.MaxValue, totalCoefficients = 0;
        foreach (var c in frame.Components)
        {
            c.DownsampledWidth = DivCeil(width * c.H, frame.MaxH);
            c.DownsampledHeight = DivCeil(height * c.V, frame.MaxV);
            c.BlocksPerLine = DivCeil(c.DownsampledWidth, 8);
            c.BlocksPerColumn = DivCeil(c.DownsampledHeight, 8);
            c.BlocksPerLineAlloc = frame.McusPerLine * c.H;
            c.BlocksPerColumnAlloc = frame.McusPerColumn * c.V;
            fewestBlocks = Math.Min(fewestBlocks, (long)c.BlocksPerLine * c.BlocksPerColumn);
            totalCoefficients += (long)c.BlocksPerLineAlloc * c.BlocksPerColumnAlloc * 64;
        }
        // Every block of a scan costs at least one Huffman bit, so a header claiming more blocks than the
        // remaining bits could encode is lying; refuse before allocating the coefficient buffers.
        long remainingBits = 8L * (_data.Length - _pos);
        if (fewestBlocks > remainingBits)
            throw new ImageFormatException(
                $"JPEG header declares {width}×{height} pixels but only {_data.Length - _pos} bytes follow, too few to encode them; the file is truncated or corrupt. Re-download or re-export it.");
        if (totalCoefficients > Array.MaxLength)
            throw new ImageFormatException($"JPEG {width}×{height} is too large to decode in memory. Downscale it.");
        foreach (var c in frame.Components)
            c.Coefficients = new short[c.BlocksPerLineAlloc * c.BlocksPerColumnAlloc * 64];
        _frame = frame;
    }

    private static int DivCeil(int a, int b) => (a + b - 1) / b;

    private void ReadQuantizationTables(ReadOnlySpan<byte> body)
    {
        int p = 0;
        while (p < body.Length)
        {
            int precision = body[p] >> 4, index = body[p] & 15;
            p++;
            if (index > 3 || precision > 1) throw Corrupt($"quantization table header 0x{body[p - 1]:X2} is invalid");
            int size = precision == 0 ? 64 : 128;
            if (body.Length - p < size) throw Corrupt("quantization table is truncated");
            var table = new int[64];
            for (int k = 0; k < 64; k++)
                table[ZigZagToNatural[k]] = precision == 0 ? body[p + k] : BinaryPrimitives.ReadUInt16BigEndian(body[(p + 2 * k)..]);
            _quantTables[index] = table;
            p += size;
        }
    }

    private void ReadHuffmanTables(ReadOnlySpan<byte> body)
    {
        int p = 0;
        while (p < body.Length)
        {
            if (body.Length - p < 17) throw Corrupt("Huffman table is truncated");
            int tableClass = body[p] >> 4, index = body[p] & 15;
            if (tableClass > 1 || index > 3) throw Corrupt($"Huffman table header 0x{body[p]:X2} is invalid");
            var counts = body.Slice(p + 1, 16);
            int total = 0;
            foreach (byte n in counts) total += n;
            if (total > 256 || body.Length - p - 17 < total) throw Corrupt("Huffman table has an invalid symbol count");
            var table = new JpegHuffmanTable(counts, body.Slice(p + 17, total));
            (tableClass == 0 ? _dcTables : _acTables)[index] = table;
            p += 17 + total;
        }
    }

    private void ReadRestartInterval(ReadOnlySpan<byte> body)
    {
        if (body.Length < 2) throw Corrupt("restart interval (DRI) segment is too short");
        _restartInterval = BinaryPrimitives.ReadUInt16BigEndian(body);
    }

    private void ReadJfif(ReadOnlySpan<byte> body)
    {
        if (body.Length >= 5 && body[..5].SequenceEqual("JFIF\0"u8)) _sawJfif = true;
    }

    private void ReadAdobe(ReadOnlySpan<byte> body)
    {
        if (body.Length >= 12 && body[..5].SequenceEqual("Adobe"u8)) _adobeTransform = body[11];
    }

    /// <summary>Reads the orientation tag from IFD0 of an EXIF APP1; malformed EXIF is ignored (orientation 1).</summary>
    private void ReadExif(ReadOnlySpan<byte> body)
    {
        if (body.Length < 14 || !body[..6].SequenceEqual("Exif\0\0"u8)) return;
        byte[] tiff = body[6..].ToArray();
        bool little;
        if (tiff[0] == 'I' && tiff[1] == 'I') little = true;
        else if (tiff[0] == 'M' && tiff[1] == 'M') little = false;
        else return;
        int U16(int at) => little ? BinaryPrimitives.ReadUInt16LittleEndian(tiff.AsSpan(at)) : BinaryPrimitives.ReadUInt16BigEndian(tiff.AsSpan(at));
        long U32(int at) => little ? BinaryPrimitives.ReadUInt32LittleEndian(tiff.AsSpan(at)) : BinaryPrimitives.ReadUInt32BigEndian(tiff.AsSpan(at));
        if (U16(2) != 42) return;
        long ifd = U32(4);
        if (ifd < 8 || ifd + 2 > tiff.Length) return;
        int entries = U16((int)ifd);
        for (int i = 0; i < entries; i++)
        {
            int entry = (int)ifd + 2 + 12 * i;
            if (entry + 12 > tiff.Length) return;
            if (U16(entry) != 0x0112) continue;
            int type = U16(entry + 2);
            int value = type == 3 ? U16(entry + 8) : type == 4 ? (int)Math.Min(U32(entry + 8), 9) : 0;
            if (value is >= 1 and <= 8) _exifOrientation = value;
            return;
        }
    }

    // ------------------------------------------------------------------ scans

    private void ReadScanHeaderAndDecode(ReadOnlySpan<byte> body)
    {
        var frame = _frame ?? throw Corrupt("has scan data (SOS) before the frame header (SOF)");
        if (body.Length < 1) throw Corrupt("scan header is empty");
        int count = body[0];
        if (count is < 1 or > 4 || body.Length != 4 + 2 * count) throw Corrupt("scan header has an invalid length");
        var components = new Component[count];
        int blocksPerMcu = 0;
        for (int i = 0; i < count; i++)
        {
            int id = body[1 + 2 * i], tables = body[2 + 2 * i];
            var component = frame.Components.FirstOrDefault(c => c.Id == id) ?? throw Corrupt($"scan refers to unknown component {id}");
            if (Array.IndexOf(components, component) >= 0) throw Corrupt($"scan lists component {id} twice");
            int dc = tables >> 4, ac = tables & 15;
            if (dc > 3 || ac > 3) throw Corrupt($"scan selects invalid Huffman tables 0x{tables:X2}");
            component.DcTable = _dcTables[dc];
            component.AcTable = _acTables[ac];
            components[i] = component;
            blocksPerMcu += component.H * component.V;
        }
        if (count > 1 && blocksPerMcu > 10) throw Corrupt("scan has more than 10 blocks per MCU");
        int spectralStart = body[1 + 2 * count], spectralEnd = body[2 + 2 * count];
        int approxHigh = body[3 + 2 * count] >> 4, approxLow = body[3 + 2 * count] & 15;

        if (frame.Progressive)
        {
            bool validSpectrum = spectralStart == 0 ? spectralEnd == 0 : spectralStart <= spectralEnd && spectralEnd <= 63 && count == 1;
            if (!validSpectrum || approxLow > 13 || (approxHigh != 0 && approxHigh != approxLow + 1))
                throw Corrupt($"progressive scan parameters are invalid (Ss={spectralStart}, Se={spectralEnd}, Ah={approxHigh}, Al={approxLow})");
        }
        else
        {
            spectralStart = 0; spectralEnd = 63; approxHigh = approxLow = 0; // libjpeg also ignores these for sequential scans
        }

        foreach (var component in components)
        {
            bool needsDc = spectralStart == 0 && approxHigh == 0;
            bool needsAc = spectralEnd > 0;
            if (needsDc && component.DcTable is null || needsAc && component.AcTable is null)
                throw Corrupt($"scan uses a Huffman table for component {component.Id} that was never defined");
            if (component.Quant is null)
            {
                var table = _quantTables[component.QuantTableIndex]
                    ?? throw Corrupt($"component {component.Id} uses quantization table {component.QuantTableIndex}, which was never defined");
                component.Quant = (int[])table.Clone();
            }
        }

        DecodeScan(frame, components, spectralStart, spectralEnd, approxHigh, approxLow);
        _scansDecoded++;
    }

    private delegate void BlockDecoder(Component component, int blockOffset);

    private void DecodeScan(Frame frame, Component[] components, int ss, int se, int ah, int al)
    {
        BlockDecoder decodeBlock;
        if (!frame.Progressive) decodeBlock = DecodeBaselineBlock;
        else if (ss == 0) decodeBlock = ah == 0 ? (c, o) => DecodeDcFirst(c, o, al) : (c, o) => DecodeDcRefine(c, o, al);
        else decodeBlock = ah == 0 ? (c, o) => DecodeAcFirst(c, o, ss, se, al) : (c, o) => DecodeAcRefine(c, o, ss, se, al);

        ResetEntropyState(components);
        bool single = components.Length == 1;
        var only = components[0];
        int units = single ? only.BlocksPerLine * only.BlocksPerColumn : frame.McusPerLine * frame.McusPerColumn;
        for (int unit = 0; unit < units; unit++)
        {
            if (_restartInterval > 0 && unit > 0 && unit % _restartInterval == 0)
            {
                ReadRestartMarker();
                ResetEntropyState(components);
            }
            if (single)
            {
                // Non-interleaved scans cover only the blocks that hold image data, in raster order.
                int row = unit / only.BlocksPerLine, col = unit % only.BlocksPerLine;
                decodeBlock(only, (row * only.BlocksPerLineAlloc + col) * 64);
            }
            else
            {
                int mcuRow = unit / frame.McusPerLine, mcuCol = unit % frame.McusPerLine;
                foreach (var c in components)
                    for (int v = 0; v < c.V; v++)
                        for (int h = 0; h < c.H; h++)
                            decodeBlock(c, ((mcuRow * c.V + v) * c.BlocksPerLineAlloc + mcuCol * c.H + h) * 64);
            }
            if (_fakeBits > _bitCount)
                throw new ImageFormatException(
                    $"JPEG image data ends after {unit} of {units} {(single ? "blocks" : "MCUs")} in scan {_scansDecoded + 1}; the file is truncated or corrupt. Re-download or re-export it.");
        }
        FinishScan();
    }

    private void ResetEntropyState(Component[] components)
    {
        _bitBuffer = 0;
        _bitCount = 0;
        _fakeBits = 0;
        _reachedMarker = false;
        _eobRun = 0;
        foreach (var c in components) c.DcPredictor = 0;
    }

    /// <summary>Consumes the RSTn marker that must follow each restart interval (skipping stray bytes like libjpeg).</summary>
    private void ReadRestartMarker()
    {
        while (_pos + 1 < _data.Length)
        {
            if (_data[_pos] == 0xFF && _data[_pos + 1] is >= 0xD0 and <= 0xD7) { _pos += 2; return; }
            if (_data[_pos] == 0xFF && _data[_pos + 1] is not (0x00 or 0xFF))
                throw Corrupt($"expected a restart marker at byte {_pos} but found marker 0x{_data[_pos + 1]:X2}");
            _pos++;
        }
        throw new ImageFormatException("JPEG image data ends where a restart marker was expected; the file is truncated. Re-download or re-export it.");
    }

    /// <summary>Leaves _pos at the marker after the scan's entropy-coded data.</summary>
    private void FinishScan()
    {
        _bitBuffer = 0;
        _bitCount = 0;
        while (_pos < _data.Length)
        {
            if (_data[_pos] == 0xFF && _pos + 1 < _data.Length && _data[_pos + 1] is not (0x00 or 0xFF) and not (>= 0xD0 and <= 0xD7))
                return;
            _pos++;
        }
    }

    // ------------------------------------------------------------------ bit reader

    private void FillBits()
    {
        while (_bitCount <= 56)
        {
            int b = 0;
            if (!_reachedMarker && _pos < _data.Length)
            {
                b = _data[_pos];
                if (b == 0xFF)
                {
                    int next = _pos + 1 < _data.Length ? _data[_pos + 1] : -1;
                    if (next == 0x00) _pos += 2; // stuffed 0xFF data byte
                    else { _reachedMarker = true; b = 0; _fakeBits += 8; } // leave the marker for the parser
                }
                else
                {
                    _pos++;
                }
            }
            else
            {
                _fakeBits += 8;
            }
            _bitBuffer |= (ulong)b << (56 - _bitCount);
            _bitCount += 8;
        }
    }

    private int GetBits(int count)
    {
        if (count == 0) return 0;
        if (_bitCount < count) FillBits();
        int value = (int)(_bitBuffer >> (64 - count));
        _bitBuffer <<= count;
        _bitCount -= count;
        return value;
    }

    private int GetBit() => GetBits(1);

    private int DecodeHuffman(JpegHuffmanTable table)
    {
        if (_bitCount < 16) FillBits();
        int look = (int)(_bitBuffer >> (64 - JpegHuffmanTable.LookaheadBits));
        int length = table.LookaheadLength[look];
        if (length > 0)
        {
            _bitBuffer <<= length;
            _bitCount -= length;
            return table.LookaheadSymbol[look];
        }
        for (length = JpegHuffmanTable.LookaheadBits + 1; length <= 16; length++)
        {
            int code = (int)(_bitBuffer >> (64 - length));
            if (code <= table.MaxCode[length])
            {
                _bitBuffer <<= length;
                _bitCount -= length;
                int index = table.ValueOffset[length] + code - table.MinCode[length];
                if ((uint)index >= (uint)table.Symbols.Length) break;
                return table.Symbols[index];
            }
        }
        throw Corrupt("image data contains an invalid Huffman code");
    }

    /// <summary>Reads <paramref name="size"/> bits and sign-extends them (T.81 F.2.2.1 EXTEND).</summary>
    private int ReceiveExtend(int size)
    {
        if (size == 0) return 0;
        if (size > 16) throw Corrupt($"image data has an impossible coefficient size {size}");
        int value = GetBits(size);
        return value < 1 << (size - 1) ? value - (1 << size) + 1 : value;
    }

    // ------------------------------------------------------------------ block decoders

    private void DecodeBaselineBlock(Component c, int offset)
    {
        short[] coefficients = c.Coefficients;
        int dcSize = DecodeHuffman(c.DcTable!);
        c.DcPredictor += ReceiveExtend(dcSize);
        coefficients[offset] = (short)c.DcPredictor;
        var ac = c.AcTable!;
        for (int k = 1; k < 64;)
        {
            int rs = DecodeHuffman(ac);
            int size = rs & 15, run = rs >> 4;
            if (size == 0)
            {
                if (run != 15) break; // EOB
                k += 16;              // ZRL: sixteen zeros
                continue;
            }
            k += run;
            if (k > 63) throw Corrupt("image data has a coefficient run past the end of a block");
            coefficients[offset + ZigZagToNatural[k]] = (short)ReceiveExtend(size);
            k++;
        }
    }

    private void DecodeDcFirst(Component c, int offset, int al)
    {
        int size = DecodeHuffman(c.DcTable!);
        c.DcPredictor += ReceiveExtend(size);
        c.Coefficients[offset] = (short)(c.DcPredictor << al);
    }

    private void DecodeDcRefine(Component c, int offset, int al)
    {
        if (GetBit() != 0) c.Coefficients[offset] |= (short)(1 << al);
    }

    private void DecodeAcFirst(Component c, int offset, int ss, int se, int al)
    {
        if (_eobRun > 0) { _eobRun--; return; }
        short[] coefficients = c.Coefficients;
        var ac = c.AcTable!;
        for (int k = ss; k <= se;)
        {
            int rs = DecodeHuffman(ac);
            int size = rs & 15, run = rs >> 4;
            if (size == 0)
            {
                if (run < 15)
                {
                    _eobRun = (1 << run) - 1 + GetBits(run); // this block ends the run's first band
                    break;
                }
                k += 16;
                continue;
            }
            k += run;
            if (k > se) throw Corrupt("image data has a coefficient run past the end of the spectral band");
            coefficients[offset + ZigZagToNatural[k]] = (short)(ReceiveExtend(size) * (1 << al));
            k++;
        }
    }

    /// <summary>AC successive-approximation refinement (T.81 G.1.2.3), following libjpeg's decode_mcu_AC_refine.</summary>
    private void DecodeAcRefine(Component c, int offset, int ss, int se, int al)
    {
        short[] coefficients = c.Coefficients;
        int plusOne = 1 << al, minusOne = -1 << al;
        int k = ss;
        if (_eobRun == 0)
        {
            var ac = c.AcTable!;
            for (; k <= se; k++)
            {
                int rs = DecodeHuffman(ac);
                int run = rs >> 4, size = rs & 15, newValue = 0;
                if (size != 0)
                {
                    if (size != 1) throw Corrupt("refinement scan has a coefficient larger than one bit");
                    newValue = GetBit() != 0 ? plusOne : minusOne;
                }
                else if (run != 15)
                {
                    _eobRun = (1 << run) + GetBits(run);
                    break;
                }
                // Skip `run` zero coefficients, refining the nonzero ones passed on the way.
                while (k <= se)
                {
                    int index = offset + ZigZagToNatural[k];
                    if (coefficients[index] != 0)
                    {
                        RefineCoefficient(coefficients, index, plusOne, minusOne);
                    }
                    else
                    {
                        if (run == 0) break;
                        run--;
                    }
                    k++;
                }
                if (newValue != 0)
                {
                    if (k > se) throw Corrupt("refinement scan places a coefficient past the end of the spectral band");
                    coefficients[offset + ZigZagToNatural[k]] = (short)newValue;
                }
            }
        }
        if (_eobRun > 0)
        {
            // Inside an EOB run: only the already-nonzero coefficients get correction bits.
            for (; k <= se; k++)
            {
                int index = offset + ZigZagToNatural[k];
                if (coefficients[index] != 0) RefineCoefficient(coefficients, index, plusOne, minusOne);
            }
            _eobRun--;
        }
    }

    private void RefineCoefficient(short[] coefficients, int index, int plusOne, int minusOne)
    {
        if (GetBit() == 0) return;
        int value = coefficients[index];
        if ((value & plusOne) != 0) return; // bit already set
        coefficients[index] = (short)(value >= 0 ? value + plusOne : value + minusOne);
    }
}
