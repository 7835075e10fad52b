// ONNX Runtime (CPU, MLAS kernels) run the way the benchmarks run it: all graph optimizations, 2 intra-op threads.
// A file whose batch dimension is fixed at 1 (mnist-zoo, SqueezeNet) is fed to ORT one image at a time and the
// outputs stacked, so AdvVis's batching of such files is checked too.
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace AdvVis.OrtReference.Tests;

internal sealed class OrtOracle : IDisposable
{
    private readonly InferenceSession _session;
    private readonly string _input;
    private readonly bool _fixedBatchOne;

    public OrtOracle(string modelPath, int intraOpThreads = 2)
    {
        using var options = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            IntraOpNumThreads = intraOpThreads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
        };
        _session = new InferenceSession(modelPath, options);
        if (_session.InputMetadata.Count != 1)
            throw new InvalidOperationException($"{Path.GetFileName(modelPath)} has {_session.InputMetadata.Count} inputs; the oracle feeds one.");
        var (name, meta) = _session.InputMetadata.First();
        _input = name;
        _fixedBatchOne = meta.Dimensions.Length > 0 && meta.Dimensions[0] == 1;
    }

    /// <summary>The first graph output for a float batch of the given shape (row-major), as shape and data.</summary>
    public (int[] Shape, float[] Data) Run(int[] shape, float[] data)
    {
        if (!_fixedBatchOne || shape[0] == 1) return RunOnce(shape, data);
        int per = data.Length / shape[0];
        int[] single = [1, .. shape[1..]];
        var parts = Enumerable.Range(0, shape[0]).Select(i => RunOnce(single, data.AsSpan(i * per, per).ToArray())).ToList();
        int[] outShape = [shape[0], .. parts[0].Shape[1..]];
        return (outShape, parts.SelectMany(p => p.Data).ToArray());
    }

    private (int[] Shape, float[] Data) RunOnce(int[] shape, float[] data)
    {
        var input = new DenseTensor<float>(data, shape);
        using var results = _session.Run([NamedOnnxValue.CreateFromTensor(_input, input)], [_session.OutputNames[0]]);
        var output = results.First().AsTensor<float>();
        return (output.Dimensions.ToArray(), output.ToArray());
    }

    public void Dispose() => _session.Dispose();
}
