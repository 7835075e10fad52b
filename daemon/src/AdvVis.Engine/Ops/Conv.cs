// 2-D convolution (1-D runs as 2-D with height 1): grouped, depthwise, strided, padded, dilated.
// Forward is an implicit GEMM (Kernels.ConvolutionGemm: im2col gathered panel by panel, never materialised), the direct
// kernel for few filters, or Winograd F(2x2, 3x3) for wide 3x3 unit-stride layers.
// Backward: dX for unit strides is the convolution of dY by the transposed, flipped filters (the same kernels);
// for other strides dX = col2im(Wᵀ·dY); dW = dY·colᵀ, dB = Σ dY.
using System.Buffers;
using System.Runtime.CompilerServices;
using AdvVis.Kernels;

namespace AdvVis.Engine.Ops;

/// <summary>Window settings shared by Conv and the pooling ops, resolved against a concrete input size.</summary>
public sealed record WindowAttributes(
    int[]? KernelShape, int[] Strides, int[] Dilations, int[] Pads, string AutoPad, bool CeilMode)
{
    /// <summary>Resolves output size and leading padding for one spatial axis, following the ONNX formulas.</summary>
    public (int Out, int PadBegin) Resolve(int axis, int spatialRank, int input, int kernel, bool isPool)
    {
        int stride = Strides.Length > axis ? Strides[axis] : 1;
        int dilation = Dilations.Length > axis ? Dilations[axis] : 1;
        int effective = (kernel - 1) * dilation + 1;
        switch (AutoPad)
        {
            case "SAME_UPPER":
            case "SAME_LOWER":
            {
                int outSize = (input + stride - 1) / stride;
                int total = Math.Max(0, (outSize - 1) * stride + effective - input);
                int begin = AutoPad == "SAME_UPPER" ? total / 2 : total - total / 2;
                return (outSize, begin);
            }
            case "VALID":
                return ((input - effective) / stride + 1, 0);
            default:
            {
                int begin = Pads.Length > axis ? Pads[axis] : 0;
                int end = Pads.Length > axis + spatialRank ? Pads[axis + spatialRank] : 0;
                int span = input + begin + end - effective;
                if (span < 0) throw new EngineException($"Window of size {effective} does not fit input size {input} with padding {begin}+{end}.");
                int outSize = CeilMode ? (span + stride - 1) / stride + 1 : span / stride + 1;
                // PyTorch's rule: the last window must start inside the input or the leading padding.
                if (CeilMode && (outSize - 1) * stride >= input + begin) outSize--;
                return (outSize, begin);
            }
        }
    }

    public ConvGeometry Geometry(int channels, int h, int w, int kh, int kw, bool isPool)
    {
        var (oh, pt) = Resolve(0, 2, h, kh, isPool);
        var (ow, pl) = Resolve(1, 2, w, kw, isPool);
        return new ConvGeometry(channels, h, w, kh, kw,
            Strides.Length > 0 ? Strides[0] : 1, Strides.Length > 1 ? Strides[1] : 1,
            pt, pl, Dilations.Length > 0 ? Dilations[0] : 1, Dilations.Length > 1 ? Dilations[1] : 1, oh, ow);
    }

    /// <summary>1-D windows become 2-D ones with a unit height, so one implementation serves both.</summary>
    public WindowAttributes As2D(int spatialRank)
    {
        if (spatialRank == 2) return this;
        if (spatialRank != 1) throw new EngineException($"Only 1-D and 2-D windows are supported, got {spatialRank}-D.");
        return new WindowAttributes(
            KernelShape is null ? null : [1, KernelShape[0]],
            [1, Strides.Length > 0 ? Strides[0] : 1],
            [1, Dilations.Length > 0 ? Dilations[0] : 1],
            Pads.Length >= 2 ? [0, Pads[0], 0, Pads[1]] : [0, 0, 0, 0],
            AutoPad, CeilMode);
    }
}

/// <summary>Y = conv(X, W) + B, X [N,C,H,W], W [M, C/group, kh, kw], B [M].</summary>
public sealed class Conv(WindowAttributes window, int group) : Op
{
    private sealed record Plan(int N, int C, int H, int W, int M, int KH, int KW, int Cg, int Mg, ConvGeometry G, int[] OutShape, bool Pointwise, bool Depthwise);

    private Plan MakePlan(Tensor x, Tensor w)
    {
        if (x.Rank > 4) throw new UnsupportedFeatureException($"Conv on {x.Rank - 2}-D data is not supported (1-D and 2-D are).");
        if (x.Rank != 4 && x.Rank != 3)
            throw new EngineException($"Conv expects a 3-D or 4-D input [N,C,(H,)W], got {ShapeMath.Text(x.Shape)}.");
        bool oneD = x.Rank == 3;
        int n = x.Shape[0], c = x.Shape[1], h = oneD ? 1 : x.Shape[2], wd = x.Shape[^1];
        int m = w.Shape[0], kh = oneD ? 1 : w.Shape[2], kw = w.Shape[^1];
        if (c % group != 0 || m % group != 0 || w.Shape[1] * group != c)
            throw new EngineException($"Conv: input has {c} channels but weights {ShapeMath.Text(w.Shape)} with group {group} expect {w.Shape[1] * group}.");
        var g = window.As2D(oneD ? 1 : 2).Geometry(c / group, h, wd, kh, kw, isPool: false);
        if (g.OutHeight <= 0 || g.OutWidth <= 0) throw new EngineException($"Conv: input {ShapeMath.Text(x.Shape)} is too small for kernel {kh}x{kw}.");
        int[] outShape = oneD ? [n, m, g.OutWidth] : [n, m, g.OutHeight, g.OutWidth];
        bool pointwise = kh == 1 && kw == 1 && g.StrideH == 1 && g.StrideW == 1 && g.PadTop == 0 && g.PadLeft == 0
                         && g.OutHeight == h && g.OutWidth == wd;
        bool depthwise = group == c && m == c && group > 1;
        return new Plan(n, c, h, wd, m, kh, kw, c / group, m / group, g, outShape, pointwise, depthwise);
    }

    public override Tensor[] Forward(Tensor?[] inputs, out object? saved)
    {
        saved = null;
        return [Compute(inputs, default)];
    }

    /// <summary>
    /// The convolution with an activation folded into its output (Relu, Clip): the executor's fusion of a Conv whose
    /// only reader is that activation. Each output value is written once, already clamped, instead of being written,
    /// read back and written again; the values are the bits of Conv followed by the activation.
    /// </summary>
    public Tensor ForwardClamped(Tensor?[] inputs, OutputClamp clamp) => Compute(inputs, clamp);

    private Tensor Compute(Tensor?[] inputs, OutputClamp clamp)
    {
        var x = RequireFloat(inputs, 0, "Conv");
        var w = RequireFloat(inputs, 1, "Conv");
        var b = inputs.Length > 2 ? inputs[2] : null;
        var p = MakePlan(x, w);
        var y = Tensor.Uninitialized(p.OutShape);
        int inPlane = p.H * p.W, outPlane = p.G.OutHeight * p.G.OutWidth;
        long work = (long)p.N * p.M * outPlane * p.Cg * p.KH * p.KW;
        if (p.Depthwise)
        {
            Parallelism.For(p.N * p.C, work, job =>
            {
                int ch = job % p.C;
                var plane = y.Data.AsSpan(job * outPlane, outPlane);
                Kernels.Kernels.DepthwiseConv(x.Data.AsSpan(job * inPlane, inPlane), w.Data.AsSpan(ch * p.KH * p.KW, p.KH * p.KW), p.G, plane);
                // Bias, then the activation, while the plane is still in cache.
                if (b is not null) System.Numerics.Tensors.TensorPrimitives.Add(plane, b.Data[ch], plane);
                if (clamp.Active) Kernels.Kernels.Clip(plane, clamp.Low, clamp.High, plane);
            });
            return y;
        }
        // Implicit GEMM over the whole batch, group by group: Y[n, group] = W[group] · im2col(X[n, group]) + B
        // (or the direct kernel when there are few output channels).
        int k = p.Cg * p.KH * p.KW;
        if (UseWinograd(p.G, p.Mg, p.N))
        {
            var transformed = TransformedFilters(w, p, flipped: false);
            for (int gi = 0; gi < group; gi++)
                Kernels.Kernels.WinogradConvolution(x.Data.AsSpan(gi * p.Cg * inPlane), p.C * inPlane, p.G, p.N, transformed[gi],
                    b is null ? default : b.Data.AsSpan(gi * p.Mg, p.Mg), y.Data.AsSpan(gi * p.Mg * outPlane), p.M * outPlane, accumulate: false, clamp);
            return y;
        }
        bool direct = UseDirect(p.G, p.Mg);
        var filters = direct ? null : Filters(w, p, flipped: false);
        for (int gi = 0; gi < group; gi++)
            if (direct)
                Kernels.Kernels.DirectConvolution(x.Data.AsSpan(gi * p.Cg * inPlane), p.C * inPlane, p.G, p.N,
                    w.Data.AsSpan(gi * p.Mg * k, p.Mg * k), p.Mg, b is null ? default : b.Data.AsSpan(gi * p.Mg, p.Mg),
                    y.Data.AsSpan(gi * p.Mg * outPlane), p.M * outPlane, accumulate: false, clamp);
            else
                Kernels.Kernels.ConvolutionGemm(x.Data.AsSpan(gi * p.Cg * inPlane), p.C * inPlane, p.G, p.N,
                    filters![gi], b is null ? default : b.Data.AsSpan(gi * p.Mg, p.Mg),
                    y.Data.AsSpan(gi * p.Mg * outPlane), p.M * outPlane, accumulate: false, clamp);
        return y;
    }

    // Packed (or Winograd-transformed) filters of constant weights, made once per weight tensor and direction (see Filters).
    private static readonly ConditionalWeakTable<Tensor, PackedFilters[]?[]> PackedCache = new();
    private static readonly ConditionalWeakTable<Tensor, WinogradFilters[]?[]> WinogradCache = new();

    /// <summary>
    /// W packed per group for the implicit GEMM: as is (forward), or transposed and flipped (the unit-stride input
    /// gradient: filter c's row m, tap t is W[m, c, taps − 1 − t]). A model's weights are constants, so their packing is
    /// kept with the weight tensor (freed with it) and reused by every later pass; computed weights are packed per call.
    /// </summary>
    private PackedFilters[] Filters(Tensor w, Plan p, bool flipped) => Cached(PackedCache, w, p, flipped, PackFilters);

    /// <summary>W transformed per group for Winograd: as is (forward) or transposed and flipped (unit-stride input gradient).</summary>
    private WinogradFilters[] TransformedFilters(Tensor w, Plan p, bool flipped) => Cached(WinogradCache, w, p, flipped, TransformFilters);

    /// <summary>
    /// What <paramref name="make"/> derives from constant weights, kept with the weight tensor (one slot per direction);
    /// computed weights are prepared per call.
    /// </summary>
    private T[] Cached<T>(ConditionalWeakTable<Tensor, T[]?[]> cache, Tensor w, Plan p, bool flipped, Func<Tensor, Plan, bool, T[]> make)
        where T : PreparedFilters
    {
        if (!w.IsConstant) return make(w, p, flipped);
        var slots = cache.GetValue(w, _ => new T[]?[2]);
        int slot = flipped ? 1 : 0;
        var prepared = Volatile.Read(ref slots[slot]);
        // The group count is part of the layout (a weight shared by convolutions with different groups repacks), and a
        // caller may still have written into the weights (finite differences do): the fingerprint catches that.
        if (prepared is null || prepared.Length != group || !SameWeights(w, p, prepared))
        {
            prepared = make(w, p, flipped);
            Volatile.Write(ref slots[slot], prepared);
        }
        return prepared;
    }

    private static bool SameWeights(Tensor w, Plan p, PreparedFilters[] prepared)
    {
        int k = p.Cg * p.KH * p.KW;
        for (int gi = 0; gi < prepared.Length; gi++)
            if (prepared[gi].Source is not { } source || !source.Equals(WeightFingerprint.Of(w.Data.AsSpan(gi * p.Mg * k, p.Mg * k))))
                return false;
        return true;
    }

    private WinogradFilters[] TransformFilters(Tensor w, Plan p, bool flipped)
    {
        int k = p.Cg * p.KH * p.KW;
        var result = new WinogradFilters[group];
        for (int gi = 0; gi < group; gi++)
        {
            var source = w.IsConstant ? WeightFingerprint.Of(w.Data.AsSpan(gi * p.Mg * k, p.Mg * k)) : null;
            result[gi] = flipped
                ? Kernels.Kernels.TransformFilters(FlippedFilters(w, p, gi), p.Cg, p.Mg, source)
                : Kernels.Kernels.TransformFilters(w.Data.AsSpan(gi * p.Mg * k, p.Mg * k), p.Mg, p.Cg, source);
        }
        return result;
    }

    /// <summary>
    /// Winograd F(2x2, 3x3) does 2.25x fewer multiply-adds; it wins where 64-256 channels meet 64+ filters over at least
    /// 64 tiles (`advvis bench --conv`, 2 threads, direct-sum GFLOP/s, Winograd vs implicit GEMM: ResNet-18's 64x32x32
    /// b64 531-567 vs 320-327, 128x16x16 b64 598 vs 351, 256x8x8 b64 581 vs 405; at 64 tiles 128x16x16 b1 478-485 vs
    /// 383-391, 256x8x8 b4 522-529 vs 436-443; below, 256x8x8 b2 (32 tiles) 376 vs 437. 512 channels win alone
    /// (512x4x4 b64 544-589 vs 436-450, its 16 MB of transformed filters hot in L3) but not inside ResNet-18 (b64
    /// fwd+bwd, per 12 passes: bwd 466-483 vs 473 ms, fwd 314-321 vs 308-322) while they cost 150 MB more memory.
    /// Earlier, 32 channels or fewer were at most 10% ahead and 56x56x32 behind).
    /// </summary>
    private static bool UseWinograd(in ConvGeometry g, int outputChannels, int images)
    {
        long tiles = (long)images * ((g.OutHeight + 1) / 2) * ((g.OutWidth + 1) / 2);
        return Kernels.Kernels.SupportsWinograd(g) && g.Channels is >= 64 and <= 256 && outputChannels >= 64 && tiles >= 64
               && System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated;
    }

    /// <summary>
    /// The direct kernel beats the implicit GEMM when few output channels share each gathered input value, or when thin
    /// filters (RGB inputs) meet up to 32 of them, as long as output rows fill most of a pair of 8-wide vectors
    /// (`advvis bench --conv`, 2 threads: 1->4@28 b256 56 vs 19 GFLOP/s, 64->3@32 b64 73 vs 26, MobileNetV2's strided
    /// 3->32 stem b8 96 vs 54; but ResNet's 3->64 stem b64 85 vs 122, so 64 thin filters stay with the GEMM).
    /// </summary>
    private static bool UseDirect(in ConvGeometry g, int outputChannels) =>
        (outputChannels <= 16 || (g.ColumnRows <= 32 && outputChannels <= 32)) && g.OutWidth >= 12 && Kernels.Kernels.SupportsDirectConvolution(g)
        && System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated;

    /// <summary>Group gi's filters transposed and flipped (filter c's row m, tap t is W[m, c, taps − 1 − t]), unpacked.</summary>
    private static float[] FlippedFilters(Tensor w, Plan p, int gi)
    {
        int taps = p.KH * p.KW, k = p.Cg * taps;
        var wg = w.Data.AsSpan(gi * p.Mg * k, p.Mg * k);
        var transposed = new float[p.Cg * p.Mg * taps];
        for (int ci = 0; ci < p.Cg; ci++)
        for (int mi = 0; mi < p.Mg; mi++)
        for (int t = 0; t < taps; t++)
            transposed[(ci * p.Mg + mi) * taps + t] = wg[(mi * p.Cg + ci) * taps + taps - 1 - t];
        return transposed;
    }

    private PackedFilters[] PackFilters(Tensor w, Plan p, bool flipped)
    {
        int taps = p.KH * p.KW, k = p.Cg * taps;
        var result = new PackedFilters[group];
        for (int gi = 0; gi < group; gi++)
        {
            var wg = w.Data.AsSpan(gi * p.Mg * k, p.Mg * k);
            var source = w.IsConstant ? WeightFingerprint.Of(wg) : null;
            if (!flipped)
            {
                result[gi] = Kernels.Kernels.PackFilters(wg, p.Mg, k, k, source);
                continue;
            }
            result[gi] = Kernels.Kernels.PackFilters(FlippedFilters(w, p, gi), p.Cg, p.Mg * taps, p.Mg * taps, source);
        }
        return result;
    }

    /// <summary>
    /// How many images share one GEMM: enough that the GEMM sees at least ~512 columns, capped so the
    /// im2col buffer stays under 16 MiB. 1 means a GEMM per image.
    /// </summary>
    private static int ImagesPerGemm(Plan p)
    {
        int outPlane = p.G.OutHeight * p.G.OutWidth;
        if (outPlane >= 512 || p.N == 1) return 1;
        long k = (long)p.Cg * p.KH * p.KW;
        int per = Math.Min(p.N, (512 + outPlane - 1) / outPlane);
        while (per > 1 && k * per * outPlane > (4 << 20)) per--;
        return per;
    }

    public override void Backward(BackwardContext c)
    {
        var x = c.Inputs[0]!; var w = c.Inputs[1]!;
        var p = MakePlan(x, w);
        var dy = c.OutputGradient();
        int inPlane = p.H * p.W, outPlane = p.G.OutHeight * p.G.OutWidth, k = p.Cg * p.KH * p.KW;
        long work = (long)p.N * p.M * outPlane * k;

        if (c.Wants(2) && c.Inputs.Length > 2 && c.Inputs[2] is not null)
        {
            var db = c.GradientOf(2).Data;
            for (int n = 0; n < p.N; n++)
            for (int m = 0; m < p.M; m++)
                db[m] += System.Numerics.Tensors.TensorPrimitives.Sum(dy.Data.AsSpan((n * p.M + m) * outPlane, outPlane));
        }

        if (p.Depthwise)
        {
            if (c.Wants(0))
            {
                // First contributor: each plane is cleared right before the kernel adds into it (while in cache),
                // instead of the whole buffer zeroed beforehand (bit-identical: both add into zeros).
                var dx = c.GradientForWrite(0, out bool accumulate).Data;
                Parallelism.For(p.N * p.C, work, job =>
                {
                    int ch = job % p.C;
                    if (!accumulate) dx.AsSpan(job * inPlane, inPlane).Clear();
                    Kernels.Kernels.DepthwiseConvBackwardInput(dy.Data.AsSpan(job * outPlane, outPlane), w.Data.AsSpan(ch * p.KH * p.KW, p.KH * p.KW), p.G,
                        dx.AsSpan(job * inPlane, inPlane));
                });
            }
            if (c.Wants(1))
            {
                var dw = c.GradientOf(1).Data;
                // Channels are independent, images are summed in order: deterministic for any thread count.
                Parallelism.For(p.C, work, ch =>
                {
                    for (int n = 0; n < p.N; n++)
                        Kernels.Kernels.DepthwiseConvBackwardKernel(x.Data.AsSpan((n * p.C + ch) * inPlane, inPlane), dy.Data.AsSpan((n * p.C + ch) * outPlane, outPlane),
                            p.G, dw.AsSpan(ch * p.KH * p.KW, p.KH * p.KW));
                });
            }
            return;
        }

        if (c.Wants(0) && p.G.StrideH == 1 && p.G.StrideW == 1)
        {
            // Unit stride: dX is itself a convolution, of dY by the filters with input and output channels swapped and
            // the window flipped, so it runs through the same implicit GEMM with no column matrix and no col2im:
            // dX[c, i, j] = Σ_m,kh,kw W[m, c, kh, kw] · dY[m, i + padTop − kh·d, j + padLeft − kw·d].
            // First contributor: the kernels assign 0 + value to every element (the bits of adding into zeros).
            var dx = c.GradientForWrite(0, out bool accumulate).Data;
            int taps = p.KH * p.KW;
            var transposed = new ConvGeometry(p.Mg, p.G.OutHeight, p.G.OutWidth, p.KH, p.KW, 1, 1,
                p.G.DilationH * (p.KH - 1) - p.G.PadTop, p.G.DilationW * (p.KW - 1) - p.G.PadLeft,
                p.G.DilationH, p.G.DilationW, p.H, p.W);
            bool winograd = UseWinograd(transposed, p.Cg, p.N);
            var transformed = winograd ? TransformedFilters(w, p, flipped: true) : null;
            bool direct = !winograd && UseDirect(transposed, p.Cg);
            var filters = winograd || direct ? null : Filters(w, p, flipped: true);
            for (int gi = 0; gi < group; gi++)
                if (winograd)
                    Kernels.Kernels.WinogradConvolution(dy.Data.AsSpan(gi * p.Mg * outPlane), p.M * outPlane, transposed, p.N,
                        transformed![gi], default, dx.AsSpan(gi * p.Cg * inPlane), p.C * inPlane, accumulate);
                else if (direct)
                    Kernels.Kernels.DirectConvolution(dy.Data.AsSpan(gi * p.Mg * outPlane), p.M * outPlane, transposed, p.N,
                        FlippedFilters(w, p, gi), p.Cg, default, dx.AsSpan(gi * p.Cg * inPlane), p.C * inPlane, accumulate);
                else
                    Kernels.Kernels.ConvolutionGemm(dy.Data.AsSpan(gi * p.Mg * outPlane), p.M * outPlane, transposed, p.N,
                        filters![gi], default, dx.AsSpan(gi * p.Cg * inPlane), p.C * inPlane, accumulate);
        }
        else if (c.Wants(0) && ImagesPerGemm(p) > 1)
        {
            // Small planes: dcols[K, images·plane] = Wᵀ · dY for several images at once, then col2im per image.
            var dx = c.GradientOf(0).Data;
            int per = ImagesPerGemm(p);
            var columns = ArrayPool<float>.Shared.Rent(k * per * outPlane);
            var gathered = ArrayPool<float>.Shared.Rent(p.Mg * per * outPlane);
            try
            {
                for (int n0 = 0; n0 < p.N; n0 += per)
                {
                    int count = Math.Min(per, p.N - n0), width = count * outPlane;
                    for (int gi = 0; gi < group; gi++)
                    {
                        for (int i = 0; i < count; i++)
                        for (int m = 0; m < p.Mg; m++)
                            dy.Data.AsSpan(((n0 + i) * p.M + gi * p.Mg + m) * outPlane, outPlane)
                                .CopyTo(gathered.AsSpan(m * width + i * outPlane, outPlane));
                        Kernels.Kernels.Gemm(true, false, k, width, p.Mg, 1f, w.Data.AsSpan(gi * p.Mg * k, p.Mg * k), k,
                            gathered.AsSpan(0, p.Mg * width), width, 0f, columns.AsSpan(0, k * width), width);
                        int g0 = gi;
                        Parallelism.For(count, (long)count * k * outPlane, i =>
                        {
                            var dxg = dx.AsSpan(((n0 + i) * p.C + g0 * p.Cg) * inPlane, p.Cg * inPlane);
                            Kernels.Kernels.Col2ImAccumulate(columns.AsSpan(i * outPlane), p.G, dxg, width);
                        });
                    }
                }
            }
            finally
            {
                ArrayPool<float>.Shared.Return(columns);
                ArrayPool<float>.Shared.Return(gathered);
            }
        }
        else if (c.Wants(0))
        {
            var dx = c.GradientOf(0).Data;
            Parallelism.For(p.N, work, n =>
            {
                float[]? columns = p.Pointwise ? null : ArrayPool<float>.Shared.Rent(p.G.ColumnRows * p.G.ColumnCols);
                try
                {
                    for (int gi = 0; gi < group; gi++)
                    {
                        var wg = w.Data.AsSpan(gi * p.Mg * k, p.Mg * k);
                        var dyg = dy.Data.AsSpan((n * p.M + gi * p.Mg) * outPlane, p.Mg * outPlane);
                        var dxg = dx.AsSpan((n * p.C + gi * p.Cg) * inPlane, p.Cg * inPlane);
                        if (columns is null)
                        {
                            Kernels.Kernels.Gemm(true, false, k, outPlane, p.Mg, 1f, wg, k, dyg, outPlane, 1f, dxg, outPlane);
                        }
                        else
                        {
                            var cols = columns.AsSpan(0, k * outPlane);
                            Kernels.Kernels.Gemm(true, false, k, outPlane, p.Mg, 1f, wg, k, dyg, outPlane, 0f, cols, outPlane);
                            Kernels.Kernels.Col2ImAccumulate(cols, p.G, dxg);
                        }
                    }
                }
                finally { if (columns is not null) ArrayPool<float>.Shared.Return(columns); }
            });
        }

        if (c.Wants(1))
        {
            var dw = c.GradientOf(1).Data;
            var columns = p.Pointwise ? null : ArrayPool<float>.Shared.Rent(k * outPlane);
            try
            {
                for (int n = 0; n < p.N; n++)
                for (int gi = 0; gi < group; gi++)
                {
                    var xg = x.Data.AsSpan((n * p.C + gi * p.Cg) * inPlane, p.Cg * inPlane);
                    ReadOnlySpan<float> cols = xg;
                    if (columns is not null)
                    {
                        Kernels.Kernels.Im2Col(xg, p.G, columns);
                        cols = columns.AsSpan(0, k * outPlane);
                    }
                    Kernels.Kernels.Gemm(false, true, p.Mg, k, outPlane, 1f,
                        dy.Data.AsSpan((n * p.M + gi * p.Mg) * outPlane, p.Mg * outPlane), outPlane, cols, outPlane, 1f,
                        dw.AsSpan(gi * p.Mg * k, p.Mg * k), k);
                }
            }
            finally { if (columns is not null) ArrayPool<float>.Shared.Return(columns); }
        }
    }
}

/// <summary>
/// ConvTranspose, the adjoint of Conv: X [N, C, (H,) W], W [C, M/group, kh, kw], B [M]. Each group's output is
/// col2im(Wᵀ · X), the conv kernels' input-gradient path. Output size s·(in − 1) + output_padding + (k − 1)·d + 1 − pads,
/// or output_shape (pads then follow the spec's SAME_UPPER/other split). Backward: dX = W · im2col(dY),
/// dW = X · im2col(dY)ᵀ, dB = Σ dY.
/// </summary>
public sealed class ConvTranspose(WindowAttributes window, int group, int[] outputPadding, int[]? outputShape) : Op
{
    private sealed record Plan(int N, int C, int H, int W, int M, int Cg, int Mg, ConvGeometry G, int[] OutShape);

    private Plan MakePlan(Tensor x, Tensor w)
    {
        if (x.Rank is not (3 or 4)) throw new UnsupportedFeatureException($"ConvTranspose on {x.Rank - 2}-D data is not supported (1-D and 2-D are).");
        bool oneD = x.Rank == 3;
        int n = x.Shape[0], c = x.Shape[1], h = oneD ? 1 : x.Shape[2], wd = x.Shape[^1];
        if (w.Shape[0] != c || c % group != 0)
            throw new EngineException($"ConvTranspose: input has {c} channels but weights {ShapeMath.Text(w.Shape)} with group {group} do not match.");
        int mg = w.Shape[1], m = mg * group, kh = oneD ? 1 : w.Shape[2], kw = w.Shape[^1];
        var win = window.As2D(oneD ? 1 : 2);
        int[] pad2 = oneD ? [0, outputPadding.ElementAtOrDefault(0)] : [outputPadding.ElementAtOrDefault(0), outputPadding.ElementAtOrDefault(1)];
        int[]? shape2 = outputShape is null ? null : oneD ? [1, outputShape[^1]] : [outputShape[^2], outputShape[^1]];
        var sizes = new int[2]; var begins = new int[2];
        int[] ins = [h, wd], ks = [kh, kw];
        for (int a = 0; a < 2; a++)
        {
            int s = win.Strides.Length > a ? win.Strides[a] : 1, d = win.Dilations.Length > a ? win.Dilations[a] : 1;
            int full = s * (ins[a] - 1) + pad2[a] + (ks[a] - 1) * d + 1;
            int? target = shape2?[a] ?? (win.AutoPad is "SAME_UPPER" or "SAME_LOWER" ? ins[a] * s : null);
            if (target is { } t)
            {
                // Floor division, as the ONNX reference: a negative total (output_shape beyond the full size) pads the end.
                int total = full - t, half = (int)Math.Floor(total / 2.0);
                begins[a] = win.AutoPad == "SAME_UPPER" ? half : total - half;
                if (begins[a] < 0) throw new UnsupportedFeatureException($"ConvTranspose: output_shape {t} on axis {a} needs negative leading padding.");
                sizes[a] = t;
            }
            else
            {
                int begin = win.AutoPad == "VALID" ? 0 : win.Pads.Length > a ? win.Pads[a] : 0;
                int end = win.AutoPad == "VALID" ? 0 : win.Pads.Length > a + 2 ? win.Pads[a + 2] : 0;
                begins[a] = begin;
                sizes[a] = full - begin - end;
            }
            if (sizes[a] <= 0) throw new EngineException($"ConvTranspose: output size {sizes[a]} on axis {a} is not positive.");
        }
        var g = new ConvGeometry(mg, sizes[0], sizes[1], kh, kw,
            win.Strides.Length > 0 ? win.Strides[0] : 1, win.Strides.Length > 1 ? win.Strides[1] : 1, begins[0], begins[1],
            win.Dilations.Length > 0 ? win.Dilations[0] : 1, win.Dilations.Length > 1 ? win.Dilations[1] : 1, h, wd);
        int[] outShape = oneD ? [n, m, sizes[1]] : [n, m, sizes[0], sizes[1]];
        return new Plan(n, c, h, wd, m, c / group, mg, g, outShape);
    }

    public override Tensor[] Forward(Tensor?[] inputs, out object? saved)
    {
        var x = RequireFloat(inputs, 0, "ConvTranspose");
        var w = RequireFloat(inputs, 1, "ConvTranspose");
        var bias = inputs.Length > 2 ? inputs[2] : null;
        var p = MakePlan(x, w);
        var y = Tensor.Zeros(p.OutShape);
        int inPlane = p.H * p.W, outPlane = p.G.Height * p.G.Width, k = p.G.ColumnRows;
        Parallelism.For(p.N, (long)p.N * p.C * inPlane * k, n =>
        {
            var columns = ArrayPool<float>.Shared.Rent(k * inPlane);
            try
            {
                for (int gi = 0; gi < group; gi++)
                {
                    Kernels.Kernels.Gemm(true, false, k, inPlane, p.Cg, 1f, w.Data.AsSpan(gi * p.Cg * k, p.Cg * k), k,
                        x.Data.AsSpan((n * p.C + gi * p.Cg) * inPlane, p.Cg * inPlane), inPlane, 0f, columns.AsSpan(0, k * inPlane), inPlane);
                    Kernels.Kernels.Col2ImAccumulate(columns.AsSpan(0, k * inPlane), p.G, y.Data.AsSpan((n * p.M + gi * p.Mg) * outPlane, p.Mg * outPlane));
                }
            }
            finally { ArrayPool<float>.Shared.Return(columns); }
            if (bias is not null)
                for (int m = 0; m < p.M; m++)
                {
                    var plane = y.Data.AsSpan((n * p.M + m) * outPlane, outPlane);
                    System.Numerics.Tensors.TensorPrimitives.Add(plane, bias.Data[m], plane);
                }
        });
        saved = null;
        return [y];
    }

    public override void Backward(BackwardContext c)
    {
        var x = c.Inputs[0]!; var w = c.Inputs[1]!;
        var p = MakePlan(x, w);
        var dy = c.OutputGradient();
        int inPlane = p.H * p.W, outPlane = p.G.Height * p.G.Width, k = p.G.ColumnRows;
        if (c.Wants(2) && c.Inputs.Length > 2 && c.Inputs[2] is not null)
        {
            var db = c.GradientOf(2).Data;
            for (int n = 0; n < p.N; n++)
            for (int m = 0; m < p.M; m++)
                db[m] += System.Numerics.Tensors.TensorPrimitives.Sum(dy.Data.AsSpan((n * p.M + m) * outPlane, outPlane));
        }
        if (!c.Wants(0) && !c.Wants(1)) return;
        var dx = c.Wants(0) ? c.GradientOf(0).Data : null;
        var dw = c.Wants(1) ? c.GradientOf(1).Data : null;
        var columns = ArrayPool<float>.Shared.Rent(k * inPlane);
        try
        {
            // Images in order, so the weight gradient sums deterministically.
            for (int n = 0; n < p.N; n++)
            for (int gi = 0; gi < group; gi++)
            {
                var cols = columns.AsSpan(0, k * inPlane);
                Kernels.Kernels.Im2Col(dy.Data.AsSpan((n * p.M + gi * p.Mg) * outPlane, p.Mg * outPlane), p.G, cols);
                var wg = w.Data.AsSpan(gi * p.Cg * k, p.Cg * k);
                if (dx is not null)
                    Kernels.Kernels.Gemm(false, false, p.Cg, inPlane, k, 1f, wg, k, cols, inPlane, 1f,
                        dx.AsSpan((n * p.C + gi * p.Cg) * inPlane, p.Cg * inPlane), inPlane);
                if (dw is not null)
                    Kernels.Kernels.Gemm(false, true, p.Cg, k, inPlane, 1f, x.Data.AsSpan((n * p.C + gi * p.Cg) * inPlane, p.Cg * inPlane), inPlane,
                        cols, inPlane, 1f, dw.AsSpan(gi * p.Cg * k, p.Cg * k), k);
            }
        }
        finally { ArrayPool<float>.Shared.Return(columns); }
    }
}
