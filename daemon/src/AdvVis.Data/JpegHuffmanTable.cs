// JpegHuffmanTable: one DHT table prepared for fast decoding: a 9-bit lookahead table resolves most
// codes in one step, longer codes fall back to libjpeg's maxcode/valptr walk (ITU T.81 Annex F.2.2.3).

namespace AdvVis.Data;

internal sealed class JpegHuffmanTable
{
    public const int LookaheadBits = 9;

    /// <summary>Code length for each 9-bit prefix, 0 when the code is longer.</summary>
    public readonly byte[] LookaheadLength = new byte[1 << LookaheadBits];
    public readonly byte[] LookaheadSymbol = new byte[1 << LookaheadBits];

    /// <summary>Largest code of each length (index 1..16), -1 when there is none.</summary>
    public readonly int[] MaxCode = new int[18];
    public readonly int[] MinCode = new int[17];
    public readonly int[] ValueOffset = new int[17];
    public readonly byte[] Symbols;

    /// <param name="counts">number of codes of each length 1..16 (index 0 unused)</param>
    public JpegHuffmanTable(ReadOnlySpan<byte> counts16, ReadOnlySpan<byte> symbols)
    {
        Symbols = symbols.ToArray();
        int code = 0, k = 0;
        for (int length = 1; length <= 16; length++)
        {
            int count = counts16[length - 1];
            ValueOffset[length] = k;
            MinCode[length] = code;
            code += count;
            k += count;
            if (code > 1 << length)
                throw new ImageFormatException("JPEG Huffman table is invalid (more codes than fit in their lengths); the file is corrupt.");
            MaxCode[length] = count > 0 ? code - 1 : -1;
            code <<= 1;
        }
        MaxCode[17] = int.MaxValue; // sentinel

        // Fill the lookahead table with every code short enough to be resolved from 9 bits.
        code = 0;
        k = 0;
        for (int length = 1; length <= LookaheadBits; length++, code <<= 1)
        {
            for (int i = 0; i < counts16[length - 1]; i++, code++, k++)
            {
                int shift = LookaheadBits - length;
                for (int fill = code << shift, end = (code + 1) << shift; fill < end; fill++)
                {
                    LookaheadLength[fill] = (byte)length;
                    LookaheadSymbol[fill] = Symbols[k];
                }
            }
        }
    }
}
