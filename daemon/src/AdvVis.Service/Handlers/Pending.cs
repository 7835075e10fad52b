// Methods whose library code has not landed in this build answer -32006 with what is missing, never a made-up result.
namespace AdvVis.Service.Handlers;

internal static class Pending
{
    public const string Attacks = "the attacks library (AdvVis.Attacks: FGSM/PGD/CW/DeepFool, issue 4) is not in this build yet.";
    public const string Profiles = "the Activation Profiles flow analysis (AdvVis.Analysis Profiles/, issue 5) is not in this build yet.";
    public const string Visualize = "activation maximization (AdvVis.Analysis Layers/, issue 5) is not in this build yet.";
    public const string Connections = "unit connections (AdvVis.Analysis Layers/, issue 5) are not in this build yet.";
}
