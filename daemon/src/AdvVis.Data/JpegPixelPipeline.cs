// JpegPixelPipeline: turns decoded DCT coefficients into pixels exactly the way libjpeg(-turbo)'s
// default djpeg path does: the accurate integer IDCT (jidctint.c "ISLOW") with its range-limit table,
// "fancy" triangle upsampling of chroma (jdsample.c: h2v1, h1v2, h2v2; plain replication otherwise),
// and the fixed-point YCbCr→RGB tables of jdcolor.c. Matching these bit for bit is what lets our
// output agree with `djpeg -ppm` instead of differing by a few levels per pixel.

namespace AdvVis.Data;

internal sealed partial class JpegDecoder
{
    private const int ConstBits = 13, Pass1Bits = 2;
    private const long Fix0_298631336 = 2446, Fix0_390180644 = 3196, Fix0_541196100 = 4433, Fix0_765366865 = 6270,
        Fix0_899976223 = 7373, Fix1_175875602 = 9633, Fix1_501321110 = 12299, Fix1_847759065 = 15137,
        Fix1_961570560 = 16069, Fix2_053119869 = 16819, Fix2_562915447 = 20995, Fix3_072711026 = 25172;

    /// <summary>
    /// libjpeg's IDCT output range limiter: index is (value & 1023) for a value before the +128 level shift.
    /// Values slightly out of range clamp; wildly out-of-range values (corrupt data) wrap exactly as libjpeg's table.
    /// </summary>
    private static readonly byte[] IdctRangeLimit = BuildIdctRangeLimit();

    private static byte[] BuildIdctRangeLimit()
    {
        var table = new byte[1024];
        for (int x = 0; x < 1024; x++)
            table[x] = x < 128 ? (byte)(x + 128) : x < 512 ? (byte)255 : x < 896 ? (byte)0 : (byte)(x - 896);
        return table;
    }

    // jdcolor.c build_ycc_rgb_table (SCALEBITS = 16).
    private static readonly int[] CrToR = new int[256], CbToB = new int[256];
    private static readonly long[] CrToG = new long[256], CbToG = new long[256];

    static JpegDecoder()
    {
        const int scaleBits = 16;
        const long oneHalf = 1L << (scaleBits - 1);
        static long Fix(double x) => (long)(x * (1L << scaleBits) + 0.5);
        for (int i = 0; i < 256; i++)
        {
            int x = i - 128;
            CrToR[i] = (int)((Fix(1.40200) * x + oneHalf) >> scaleBits);
            CbToB[i] = (int)((Fix(1.77200) * x + oneHalf) >> scaleBits);
            CrToG[i] = -Fix(0.71414) * x;
            CbToG[i] = -Fix(0.34414) * x + oneHalf;
        }
    }

    private Image RenderPixels(Frame frame)
    {
        int width = frame.Width, height = frame.Height;
        var planes = new byte[frame.Components.Length][];
        for (int i = 0; i < planes.Length; i++)
            planes[i] = Upsample(frame, frame.Components[i], InverseTransform(frame.Components[i]));

        int count = frame.Components.Length;
        if (count == 1) return new Image(width, height, 1, planes[0]);

        var image = new Image(width, height, 3);
        byte[] output = image.Pixels;
        int pixels = width * height;
        if (count == 3)
        {
            bool isRgb = IsStoredAsRgb(frame);
            byte[] p0 = planes[0], p1 = planes[1], p2 = planes[2];
            for (int i = 0, o = 0; i < pixels; i++, o += 3)
            {
                if (isRgb) { output[o] = p0[i]; output[o + 1] = p1[i]; output[o + 2] = p2[i]; }
                else YccToRgb(p0[i], p1[i], p2[i], output, o);
            }
            return image;
        }

        // Four components: Adobe CMYK (transform 0) or YCCK (transform 2); Adobe stores them inverted.
        bool ycck = _adobeTransform == 2;
        Span<byte> rgb = stackalloc byte[3];
        var rgbBuffer = new byte[3];
        for (int i = 0, o = 0; i < pixels; i++, o += 3)
        {
            int c = planes[0][i], m = planes[1][i], y = planes[2][i], k = planes[3][i];
            if (ycck)
            {
                YccToRgb((byte)c, (byte)m, (byte)y, rgbBuffer, 0);
                c = 255 - rgbBuffer[0]; m = 255 - rgbBuffer[1]; y = 255 - rgbBuffer[2];
            }
            output[o] = (byte)((c * k + 127) / 255);
            output[o + 1] = (byte)((m * k + 127) / 255);
            output[o + 2] = (byte)((y * k + 127) / 255);
        }
        return image;
    }

    /// <summary>libjpeg's rule (jdapimin.c default_decompress_parms) for whether 3 components are RGB or YCbCr.</summary>
    private bool IsStoredAsRgb(Frame frame)
    {
        if (_sawJfif) return false;
        if (_adobeTransform >= 0) return _adobeTransform == 0;
        var c = frame.Components;
        return c[0].Id == 'R' && c[1].Id == 'G' && c[2].Id == 'B';
    }

    private static void YccToRgb(byte y, byte cb, byte cr, byte[] output, int o)
    {
        output[o] = ClampSample(y + CrToR[cr]);
        output[o + 1] = ClampSample(y + (int)((CbToG[cb] + CrToG[cr]) >> 16));
        output[o + 2] = ClampSample(y + CbToB[cb]);
    }

    private static byte ClampSample(int value) => value < 0 ? (byte)0 : value > 255 ? (byte)255 : (byte)value;

    /// <summary>Runs the IDCT over the component's data blocks into a plane of BlocksPerLineAlloc*8 columns.</summary>
    private static byte[] InverseTransform(Component c)
    {
        int stride = c.BlocksPerLineAlloc * 8;
        var plane = new byte[stride * c.BlocksPerColumn * 8];
        var workspace = new int[64];
        int[] quant = c.Quant!;
        for (int row = 0; row < c.BlocksPerColumn; row++)
            for (int col = 0; col < c.BlocksPerLine; col++)
                IdctIslow(c.Coefficients, (row * c.BlocksPerLineAlloc + col) * 64, quant, plane, row * 8 * stride + col * 8, stride, workspace);
        return plane;
    }

    /// <summary>jidctint.c jpeg_idct_islow: separable 8×8 integer IDCT with dequantization folded in.</summary>
    private static void IdctIslow(short[] coef, int offset, int[] quant, byte[] output, int outOffset, int stride, int[] ws)
    {
        // Pass 1: columns from the coefficient block into the workspace, scaled up by 2^PASS1_BITS.
        for (int col = 0; col < 8; col++)
        {
            int i = offset + col;
            if (coef[i + 8] == 0 && coef[i + 16] == 0 && coef[i + 24] == 0 && coef[i + 32] == 0 &&
                coef[i + 40] == 0 && coef[i + 48] == 0 && coef[i + 56] == 0)
            {
                int dc = (coef[i] * quant[col]) << Pass1Bits;
                for (int r = 0; r < 8; r++) ws[r * 8 + col] = dc;
                continue;
            }

            long z2 = coef[i + 16] * quant[col + 16], z3 = coef[i + 48] * quant[col + 48];
            long z1 = (z2 + z3) * Fix0_541196100;
            long tmp2 = z1 + z3 * -Fix1_847759065;
            long tmp3 = z1 + z2 * Fix0_765366865;
            z2 = coef[i] * quant[col];
            z3 = coef[i + 32] * quant[col + 32];
            long tmp0 = (z2 + z3) << ConstBits;
            long tmp1 = (z2 - z3) << ConstBits;
            long tmp10 = tmp0 + tmp3, tmp13 = tmp0 - tmp3, tmp11 = tmp1 + tmp2, tmp12 = tmp1 - tmp2;

            tmp0 = coef[i + 56] * quant[col + 56];
            tmp1 = coef[i + 40] * quant[col + 40];
            tmp2 = coef[i + 24] * quant[col + 24];
            tmp3 = coef[i + 8] * quant[col + 8];
            OddPart(ref tmp0, ref tmp1, ref tmp2, ref tmp3);

            const int shift = ConstBits - Pass1Bits;
            ws[col] = (int)Descale(tmp10 + tmp3, shift);
            ws[56 + col] = (int)Descale(tmp10 - tmp3, shift);
            ws[8 + col] = (int)Descale(tmp11 + tmp2, shift);
            ws[48 + col] = (int)Descale(tmp11 - tmp2, shift);
            ws[16 + col] = (int)Descale(tmp12 + tmp1, shift);
            ws[40 + col] = (int)Descale(tmp12 - tmp1, shift);
            ws[24 + col] = (int)Descale(tmp13 + tmp0, shift);
            ws[32 + col] = (int)Descale(tmp13 - tmp0, shift);
        }

        // Pass 2: rows from the workspace to samples, removing the 8x and PASS1 scaling and level-shifting.
        byte[] limit = IdctRangeLimit;
        for (int row = 0; row < 8; row++)
        {
            int w = row * 8, o = outOffset + row * stride;
            if (ws[w + 1] == 0 && ws[w + 2] == 0 && ws[w + 3] == 0 && ws[w + 4] == 0 &&
                ws[w + 5] == 0 && ws[w + 6] == 0 && ws[w + 7] == 0)
            {
                byte dc = limit[(int)Descale(ws[w], Pass1Bits + 3) & 1023];
                output.AsSpan(o, 8).Fill(dc);
                continue;
            }

            long z2 = ws[w + 2], z3 = ws[w + 6];
            long z1 = (z2 + z3) * Fix0_541196100;
            long tmp2 = z1 + z3 * -Fix1_847759065;
            long tmp3 = z1 + z2 * Fix0_765366865;
            long tmp0 = ((long)ws[w] + ws[w + 4]) << ConstBits;
            long tmp1 = ((long)ws[w] - ws[w + 4]) << ConstBits;
            long tmp10 = tmp0 + tmp3, tmp13 = tmp0 - tmp3, tmp11 = tmp1 + tmp2, tmp12 = tmp1 - tmp2;

            tmp0 = ws[w + 7];
            tmp1 = ws[w + 5];
            tmp2 = ws[w + 3];
            tmp3 = ws[w + 1];
            OddPart(ref tmp0, ref tmp1, ref tmp2, ref tmp3);

            const int shift = ConstBits + Pass1Bits + 3;
            output[o] = limit[(int)Descale(tmp10 + tmp3, shift) & 1023];
            output[o + 7] = limit[(int)Descale(tmp10 - tmp3, shift) & 1023];
            output[o + 1] = limit[(int)Descale(tmp11 + tmp2, shift) & 1023];
            output[o + 6] = limit[(int)Descale(tmp11 - tmp2, shift) & 1023];
            output[o + 2] = limit[(int)Descale(tmp12 + tmp1, shift) & 1023];
            output[o + 5] = limit[(int)Descale(tmp12 - tmp1, shift) & 1023];
            output[o + 3] = limit[(int)Descale(tmp13 + tmp0, shift) & 1023];
            output[o + 4] = limit[(int)Descale(tmp13 - tmp0, shift) & 1023];
        }
    }

    /// <summary>The odd half of the ISLOW butterfly (inputs are y7, y5, y3, y1).</summary>
    private static void OddPart(ref long tmp0, ref long tmp1, ref long tmp2, ref long tmp3)
    {
        long z1 = tmp0 + tmp3, z2 = tmp1 + tmp2, z3 = tmp0 + tmp2, z4 = tmp1 + tmp3;
        long z5 = (z3 + z4) * Fix1_175875602;
        tmp0 *= Fix0_298631336;
        tmp1 *= Fix2_053119869;
        tmp2 *= Fix3_072711026;
        tmp3 *= Fix1_501321110;
        z1 *= -Fix0_899976223;
        z2 *= -Fix2_562915447;
        z3 = z3 * -Fix1_961570560 + z5;
        z4 = z4 * -Fix0_390180644 + z5;
        tmp0 += z1 + z3;
        tmp1 += z2 + z4;
        tmp2 += z2 + z3;
        tmp3 += z1 + z4;
    }

    private static long Descale(long x, int n) => (x + (1L << (n - 1))) >> n;

    /// <summary>Brings one component plane to full image resolution (W×H bytes) like jdsample.c.</summary>
    private static byte[] Upsample(Frame frame, Component c, byte[] plane)
    {
        int width = frame.Width, height = frame.Height, stride = c.BlocksPerLineAlloc * 8;
        if (frame.MaxH % c.H != 0 || frame.MaxV % c.V != 0)
            throw new ImageFormatException($"JPEG uses fractional chroma sampling ({c.H}×{c.V} against {frame.MaxH}×{frame.MaxV}), which libjpeg does not support either. Re-save the image.");
        int hf = frame.MaxH / c.H, vf = frame.MaxV / c.V;
        int dsW = c.DownsampledWidth, dsH = c.DownsampledHeight;
        var output = new byte[width * height];

        if (hf == 1 && vf == 1)
        {
            for (int y = 0; y < height; y++) Array.Copy(plane, y * stride, output, y * width, width);
        }
        else if (hf == 2 && vf == 1 && dsW > 2)
        {
            var row = new byte[2 * dsW];
            for (int y = 0; y < height; y++)
            {
                FancyRowH2(plane, y * stride, dsW, row);
                Array.Copy(row, 0, output, y * width, width);
            }
        }
        else if (hf == 1 && vf == 2)
        {
            // Vertical triangle filter: 3/4 nearer row + 1/4 further row; rounding bias 1 above, 2 below.
            for (int y = 0; y < height; y++)
            {
                int nearer = y >> 1;
                bool upper = (y & 1) == 0;
                int further = upper ? Math.Max(nearer - 1, 0) : Math.Min(nearer + 1, dsH - 1);
                int bias = upper ? 1 : 2;
                int a = nearer * stride, b = further * stride, o = y * width;
                for (int x = 0; x < width; x++)
                    output[o + x] = (byte)((plane[a + x] * 3 + plane[b + x] + bias) >> 2);
            }
        }
        else if (hf == 2 && vf == 2 && dsW > 2)
        {
            var columnSums = new int[dsW];
            var row = new byte[2 * dsW];
            for (int y = 0; y < height; y++)
            {
                int nearer = y >> 1;
                int further = (y & 1) == 0 ? Math.Max(nearer - 1, 0) : Math.Min(nearer + 1, dsH - 1);
                int a = nearer * stride, b = further * stride;
                for (int x = 0; x < dsW; x++) columnSums[x] = plane[a + x] * 3 + plane[b + x];
                FancyRowH2V2(columnSums, dsW, row);
                Array.Copy(row, 0, output, y * width, width);
            }
        }
        else
        {
            // Plain replication (int_upsample / h2v1_upsample / h2v2_upsample).
            for (int y = 0; y < height; y++)
            {
                int source = Math.Min(y / vf, dsH - 1) * stride, o = y * width;
                for (int x = 0; x < width; x++) output[o + x] = plane[source + Math.Min(x / hf, dsW - 1)];
            }
        }
        return output;
    }

    /// <summary>jdsample.c h2v1_fancy_upsample for one row.</summary>
    private static void FancyRowH2(byte[] plane, int start, int dsW, byte[] row)
    {
        int first = plane[start];
        row[0] = (byte)first;
        row[1] = (byte)((first * 3 + plane[start + 1] + 2) >> 2);
        for (int x = 1; x < dsW - 1; x++)
        {
            int value = plane[start + x] * 3;
            row[2 * x] = (byte)((value + plane[start + x - 1] + 1) >> 2);
            row[2 * x + 1] = (byte)((value + plane[start + x + 1] + 2) >> 2);
        }
        int last = plane[start + dsW - 1];
        row[2 * dsW - 2] = (byte)((last * 3 + plane[start + dsW - 2] + 1) >> 2);
        row[2 * dsW - 1] = (byte)last;
    }

    /// <summary>jdsample.c h2v2_fancy_upsample's horizontal step over vertical column sums (3*near + far).</summary>
    private static void FancyRowH2V2(int[] sums, int dsW, byte[] row)
    {
        row[0] = (byte)((sums[0] * 4 + 8) >> 4);
        row[1] = (byte)((sums[0] * 3 + sums[1] + 7) >> 4);
        for (int x = 1; x < dsW - 1; x++)
        {
            row[2 * x] = (byte)((sums[x] * 3 + sums[x - 1] + 8) >> 4);
            row[2 * x + 1] = (byte)((sums[x] * 3 + sums[x + 1] + 7) >> 4);
        }
        row[2 * dsW - 2] = (byte)((sums[dsW - 1] * 3 + sums[dsW - 2] + 8) >> 4);
        row[2 * dsW - 1] = (byte)((sums[dsW - 1] * 4 + 7) >> 4);
    }
}
