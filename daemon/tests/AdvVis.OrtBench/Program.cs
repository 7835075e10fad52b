// `ort-bench MODEL [--batch B] [--threads T] [--repeats R]`: ONNX Runtime's forward images per second on the same
// ONNX file and input as `advvis bench`, printed as one JSON object like `advvis bench --json`. ORT runs with all
// graph optimizations, T intra-op threads and 1 inter-op thread. Timing as `advvis bench` and scripts/bench_torch.py:
// warm-up of at least 2 runs and 1 s, then at least R runs and 2 s; the median is reported. Forward only: ORT has no
// gradients.
using System.Diagnostics;
using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

if (args.Length == 0 || args[0].StartsWith("--"))
{
    Console.Error.WriteLine("usage: ort-bench MODEL [--batch B] [--threads T] [--repeats R]");
    return 2;
}
string model = args[0];
int Option(string name, int fallback)
{
    int at = Array.IndexOf(args, name);
    if (at < 0) return fallback;
    if (at + 1 >= args.Length || !int.TryParse(args[at + 1], out int value) || value < 1)
        throw new ArgumentException($"{name} needs a positive whole number.");
    return value;
}
int batch = Option("--batch", 1), threads = Option("--threads", Environment.ProcessorCount), repeats = Option("--repeats", 10);

using var options = new SessionOptions
{
    GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
    IntraOpNumThreads = threads,
    InterOpNumThreads = 1,
    ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
};
using var session = new InferenceSession(model, options);
var (inputName, meta) = session.InputMetadata.First();
if (session.InputMetadata.Count != 1)
{
    Console.Error.WriteLine($"{Path.GetFileName(model)} has {session.InputMetadata.Count} inputs; ort-bench handles one.");
    return 2;
}
if (batch > 1 && meta.Dimensions[0] == 1)
{
    Console.Error.WriteLine($"{Path.GetFileName(model)} fixes its batch dimension at 1, so ONNX Runtime cannot run batch {batch}.");
    return 2;
}
int[] shape = meta.Dimensions.Select(d => d > 0 ? d : 1).ToArray();
shape[0] = batch;
var random = new Random(0);
var data = new float[shape.Aggregate(1, (a, b) => a * b)];
for (int i = 0; i < data.Length; i++) data[i] = (float)random.NextDouble();
var feeds = new[] { NamedOnnxValue.CreateFromTensor(inputName, new DenseTensor<float>(data, shape)) };
string[] outputs = [session.OutputNames[0]];

void Once()
{
    using var results = session.Run(feeds, outputs);
}

var warm = Stopwatch.StartNew();
for (int runs = 0; runs < 2 || warm.Elapsed.TotalSeconds < 1; runs++) Once();
var seconds = new List<double>();
var total = Stopwatch.StartNew();
while (seconds.Count < repeats || (total.Elapsed.TotalSeconds < 2 && seconds.Count < 1000))
{
    long start = Stopwatch.GetTimestamp();
    Once();
    seconds.Add(Stopwatch.GetElapsedTime(start).TotalSeconds);
}
seconds.Sort();
double median = seconds[seconds.Count / 2];
Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
{
    ["engine"] = "onnxruntime", ["version"] = OrtEnv.Instance().GetVersionString(), ["model"] = Path.GetFileName(model),
    ["batch"] = batch, ["threads"] = threads, ["backward"] = false, ["repeats"] = seconds.Count, ["medianSeconds"] = median,
    ["imagesPerSecond"] = batch / median,
}));
return 0;
