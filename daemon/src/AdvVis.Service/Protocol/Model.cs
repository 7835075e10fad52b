// model/*: opening models (handles rebuildable from path + content hash), the architecture graph, predictions.
namespace AdvVis.Service.Protocol;

public sealed record ModelOpenParams(string Path, string? Sha256 = null);

public sealed record TensorInfo(string Name, string ElementType, string[] Shape);

public sealed record UnsupportedOp(string Node, string OpType, string Reason);

public sealed record PreprocessingInfo(int Width, int Height, int Channels, string ChannelOrder, float Scale, float[] Mean, float[] Std,
    int? ResizeShorterSide, string? LabelsPath, string[] Assumptions);

public sealed record ModelInfo(
    string Handle,
    string Path,
    string Sha256,
    long FileBytes,
    long Opset,
    TensorInfo[] Inputs,
    TensorInfo[] Outputs,
    int NodeCount,
    long ParameterCount,
    UnsupportedOp[] Unsupported,
    PreprocessingInfo? Preprocessing,
    string[]? Labels,
    int? ClassCount,
    NeuronDeletion[] Edits,
    StandardBudget[] StandardBudgets);

public sealed record StandardBudget(AttackNorm Norm, float Eps);

public sealed record ModelRefParams(string Model);

public sealed record ModelCloseResult(bool Closed);

public sealed record ModelListResult(ModelInfo[] Models);

public enum GraphBlockStrategy { Auto, NameScope, RepeatedStructure }

public sealed record ModelGraphParams(string Model, GraphBlockStrategy Blocks = GraphBlockStrategy.Auto, string[]? Collapse = null, string[]? Selection = null,
    int? CollapseDepth = null);

public sealed record GraphNode(int Index, string Name, string OpType, string[] Inputs, string[] Outputs, int[]?[] OutputShapes,
    long ParameterCount, string Category, bool ReadsGraphInput, bool WritesGraphOutput, string? BlockId);

public sealed record GraphEdge(int From, int To, string Value, int[]? Shape, bool IsBranch);

public sealed record GraphBlock(string Id, string Label, string? ParentId, int Depth, int[] Nodes, string[] Children, string Origin,
    string Signature, int RepeatIndex, int RepeatCount);

public sealed record GraphItem(string Id, string Label, bool IsBlock, int[] Nodes, string Category, long ParameterCount);

public sealed record GraphItemEdge(string From, string To, int ValueCount, bool IsBranch);

public sealed record GraphSelection(bool IsSequential, string[] Ordered, string Message, string? ParallelFrom, string? ParallelTo);

public sealed record ModelGraphResult(GraphNode[] Nodes, GraphEdge[] Edges, GraphBlock[] Blocks, GraphItem[]? CollapsedItems,
    GraphItemEdge[]? CollapsedEdges, GraphSelection? Selection, string[] Layers, int DefaultCollapseDepth, string? ShapeError);

public sealed record ModelPredictParams(string Model, ItemsRef Items, bool ApplyEdits = true);

public sealed record ItemPrediction(string Source, int? TrueClass, Prediction Prediction);

public sealed record ModelPredictResult(ItemPrediction[] Items, double? Accuracy, bool Edited);
