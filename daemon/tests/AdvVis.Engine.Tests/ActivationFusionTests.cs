// A Conv folded with the Relu/Clip that alone reads it must give the bits of the two ops run apart: outputs, input
// gradients and intermediate gradients, forward-only and recorded; and it must never hide a tensor someone asked for.
namespace AdvVis.Engine.Tests;

public class ActivationFusionTests
{
    private static int[] Bits(Tensor t) => t.Data.Take(t.Length).Select(BitConverter.SingleToInt32Bits).ToArray();

    private static Model Load(string file) => Model.Load(file.StartsWith("shared:")
        ? TestPaths.SharedModel(file["shared:".Length..]) : TestPaths.GeneratedModel(file));

    private static Tensor Input(Model model, int batch, int seed)
    {
        var shape = model.Inputs[0].DeclaredShape!.Select(d => (int)(d.Value ?? 1)).ToArray();
        shape[0] = batch;
        var rng = new Random(seed);
        var t = Tensor.Zeros(shape);
        for (int i = 0; i < t.Length; i++) t.Data[i] = (float)(rng.NextDouble() * 2 - 1);
        return t;
    }

    public static TheoryData<string, int> Models => new()
    {
        { "shared:fmnist-cnn-paper.onnx", 5 },  // Relu after direct and implicit-GEMM convolutions
        { "resnet18-cifar.onnx", 2 },           // Relu
        { "mobilenetv2.onnx", 1 },              // Clip(0, 6) after pointwise and depthwise convolutions
    };

    [Theory]
    [MemberData(nameof(Models))]
    public void FusedPassesGiveTheBitsOfSeparateOps(string file, int batch)
    {
        var model = Load(file);
        Assert.Contains(model.FusedActivation, a => a >= 0); // the model really has pairs to fuse
        var x = Input(model, batch, 3);

        var plain = model.Forward(x, new RunOptions { FuseActivations = false }).Output;
        var fused = model.Forward(x, new RunOptions()).Output;
        Assert.Equal(Bits(plain), Bits(fused));

        // Recorded: the activations' backward rules read their folded inputs' stand-ins.
        var cotangent = Tensor.Zeros(plain.Shape);
        for (int i = 0; i < cotangent.Length; i++) cotangent.Data[i] = (i % 7) - 3;
        var plainPass = model.Forward(x, new RunOptions { RecordForBackward = true, FuseActivations = false });
        var fusedPass = model.Forward(x, new RunOptions { RecordForBackward = true });
        Assert.Equal(Bits(plainPass.Output), Bits(fusedPass.Output));
        Assert.Equal(Bits(plainPass.InputGradient(cotangent)), Bits(fusedPass.InputGradient(cotangent)));
    }

    [Fact]
    public void AFoldedConvolutionOutputIsRefusedClearlyAndKeptWhenCaptured()
    {
        var model = Load("shared:fmnist-cnn-paper.onnx");
        int convNode = Array.FindIndex(model.FusedActivation, a => a >= 0);
        string convOut = model.ValueNames[model.Nodes[convNode].Outputs[0]];
        var x = Input(model, 2, 4);

        var pass = model.Forward(x, new RunOptions { RecordForBackward = true });
        var error = Assert.Throws<EngineException>(() => pass[convOut]);
        Assert.Contains("Capture", error.Message);

        // Captured: not fused, the raw (pre-activation) values, negatives included, and the same bits as unfused.
        var captured = model.Forward(x, new RunOptions { Capture = [convOut] })[convOut];
        var reference = model.Forward(x, new RunOptions { Capture = [convOut], FuseActivations = false })[convOut];
        Assert.Equal(Bits(reference), Bits(captured));
        Assert.Contains(captured.Data.Take(captured.Length), v => v < 0);

        // An intervention on the convolution's output also keeps the pair apart, so the edit is seen by the activation.
        var deleted = Intervention.DeleteChannels(convOut, captured.Shape[1], captured.Rank, [0]);
        var edited = model.Forward(x, new RunOptions { Interventions = [deleted] }).Output;
        var editedApart = model.Forward(x, new RunOptions { Interventions = [deleted], FuseActivations = false }).Output;
        Assert.Equal(Bits(editedApart), Bits(edited));
    }
}
