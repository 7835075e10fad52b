// Mirrors the daemon protocol: docs/protocol.md and daemon/src/AdvVis.Service/Protocol/*.cs (names, params, results,
// error codes) and nothing else. camelCase members, enums as camelCase strings, null members omitted from results.
// Type-only apart from the constants at the end, so the webviews may import it too.

// ---- Common.cs ----
export interface ArrayData { shape: number[]; dtype?: string; base64?: string; path?: string }
export interface ImageData { width: number; height: number; channels: number; pngBase64?: string; path?: string }
export interface DatasetRef { path: string; labels?: string; offset?: number; limit?: number }
export interface ItemsRef { images?: string[]; dataset?: DatasetRef; labels?: number[] }
export type AttackKind = 'fgsm' | 'pgd' | 'cw' | 'deepfool' | 'bim' | 'miFgsm' | 'tpgd' | 'eotPgd' | 'onePixel' | 'apgdCe' | 'apgdDlr' | 'apgdT' | 'fab' | 'fabT' | 'square';
export type AttackNorm = 'linf' | 'l2' | 'l1';
export interface AttackSpec {
    kind: AttackKind; eps: number; norm?: AttackNorm; alpha?: number; steps?: number; randomStart?: boolean; earlyStop?: boolean;
    targetClass?: number; kappa?: number; binarySearchSteps?: number; initialConst?: number; seed?: number;
}
export interface ClassScore { class: number; label?: string; probability: number }
export interface Prediction { class: number; label?: string; probability: number; top5: ClassScore[] }

// ---- Workspace.cs ----
export interface WorkspaceConfigureParams { workspaceRoot?: string; cacheDir?: string; exportDir?: string; cacheMaxBytes?: number; inlineLimitBytes?: number; memoryBudgetBytes?: number }
export interface WorkspaceConfigureResult { cacheDir?: string; exportDir?: string; cacheMaxBytes: number; inlineLimitBytes: number; memoryBudgetBytes: number }
export interface CacheStatsResult { cacheDir?: string; entries: number; bytes: number; maxBytes: number; hits: number; misses: number }
export interface CacheClearResult { removedEntries: number; removedBytes: number }

// ---- Model.cs ----
export interface ModelOpenParams { path: string; sha256?: string }
export interface TensorInfo { name: string; elementType: string; shape: string[] }
export interface UnsupportedOp { node: string; opType: string; reason: string }
export interface PreprocessingInfo {
    width: number; height: number; channels: number; channelOrder: string; scale: number; mean: number[]; std: number[];
    resizeShorterSide?: number; labelsPath?: string; assumptions: string[];
}
export interface ModelInfo {
    handle: string; path: string; sha256: string; fileBytes: number; opset: number; inputs: TensorInfo[]; outputs: TensorInfo[];
    nodeCount: number; parameterCount: number; unsupported: UnsupportedOp[]; preprocessing?: PreprocessingInfo; labels?: string[];
    classCount?: number; edits: NeuronDeletion[]; standardBudgets: StandardBudget[];
}
export interface StandardBudget { norm: AttackNorm; eps: number }
export interface ModelRefParams { model: string }
export interface ModelCloseResult { closed: boolean }
export interface ModelListResult { models: ModelInfo[] }
export type GraphBlockStrategy = 'auto' | 'nameScope' | 'repeatedStructure';
export interface ModelGraphParams { model: string; blocks?: GraphBlockStrategy; collapse?: string[]; selection?: string[]; collapseDepth?: number }
export type LayerCategory = 'noParameters' | 'connectedWeighted' | 'otherTrainable';
export interface GraphNode {
    index: number; name: string; opType: string; inputs: string[]; outputs: string[]; outputShapes: (number[] | null)[];
    parameterCount: number; category: LayerCategory | string; readsGraphInput: boolean; writesGraphOutput: boolean; blockId?: string | null;
}
export interface GraphEdge { from: number; to: number; value: string; shape?: number[] | null; isBranch: boolean }
export interface GraphBlock {
    id: string; label: string; parentId?: string | null; depth: number; nodes: number[]; children: string[]; origin: string;
    signature: string; repeatIndex: number; repeatCount: number;
}
export interface GraphItem { id: string; label: string; isBlock: boolean; nodes: number[]; category: string; parameterCount: number }
export interface GraphItemEdge { from: string; to: string; valueCount: number; isBranch: boolean }
export interface GraphSelection { isSequential: boolean; ordered: string[]; message: string; parallelFrom?: string; parallelTo?: string }
export interface ModelGraphResult {
    nodes: GraphNode[]; edges: GraphEdge[]; blocks: GraphBlock[]; collapsedItems?: GraphItem[]; collapsedEdges?: GraphItemEdge[];
    selection?: GraphSelection; layers: string[];
    /** The block depth that gives a readable overview (8–40 items). */
    defaultCollapseDepth: number;
    /** Why `outputShapes` are missing (e.g. an unsupported operator). */
    shapeError?: string;
}
export interface ModelPredictParams { model: string; items: ItemsRef; applyEdits?: boolean }
export interface ItemPrediction { source: string; trueClass?: number; prediction: Prediction }
export interface ModelPredictResult { items: ItemPrediction[]; accuracy?: number; edited: boolean }

// ---- Attack.cs ----
export interface AttackRunParams { model: string; items: ItemsRef; attack: AttackSpec; perImage?: boolean; returnImages?: boolean }
export interface AttackItem {
    source: string; trueClass?: number; benign: Prediction; adversarial: Prediction; success: boolean; linf: number; l2: number;
    benignProbabilityDrop: number; adversarialProbabilityGain: number; adversarialPath?: string; adversarialImage?: ImageData; perturbation?: ImageData;
}
export interface AttackRunResult {
    count: number; cleanAccuracy: number; adversarialAccuracy: number; successRate: number; meanLinf: number; meanL2: number;
    budgetSpace: string; items?: AttackItem[]; fromCache: boolean;
    /** What a user must know about the items (class folders numbered in sorted order, files skipped). */
    warnings?: string[];
}

// ---- Robustness.cs ----
export type RobustnessVersion = 'standard' | 'plus' | 'rand' | 'custom';
export type SuiteAttackName = 'apgdCe' | 'apgdDlr' | 'apgdT' | 'fab' | 'fabT' | 'square';
export interface RobustnessEvaluateParams {
    model: string; items: ItemsRef; norm?: AttackNorm; eps?: number[]; version?: RobustnessVersion; attacks?: SuiteAttackName[];
    seed?: number; steps?: number; queries?: number;
}
export interface RobustnessStage { attack: string; attacked: number; fooled: number; robustAfter: number; robustAccuracy: number; seconds: number }
export interface RobustnessFlag { check: string; message: string }
export interface RobustnessAtEps {
    eps: number; count: number; cleanAccuracy: number; robustAccuracy: number; stages: RobustnessStage[]; flags: RobustnessFlag[];
    maxPerturbation: number; invalidExamples: number; seconds: number;
}
export interface RobustnessEvaluateResult {
    norm: AttackNorm; version: RobustnessVersion; attacks: string[]; results: RobustnessAtEps[]; defaultEps: boolean; budgetSpace: string; fromCache: boolean;
}

export interface ExplainRunParams { model: string; image: string; attack: AttackSpec; background?: DatasetRef; layers?: string[]; topUnits?: number; trueClass?: number }
export interface UnitScore { unit: number; value: number }
export interface LayerDivergence {
    layer: string; distance: number; backgroundSpread: number; score: number; topChangedUnits: UnitScore[];
    /** profiles/compute: abs difference of the pair's normalised positions on the axis. */
    profileDistance?: number;
}
export interface DivergingPoint { layer: string; layerIndex: number; score: number }
export interface ExplainRunResult { benign: Prediction; adversarial: Prediction; attack: AttackItem; layers: LayerDivergence[]; divergingPoint?: DivergingPoint; fromCache: boolean }

// ---- Layer.cs ----
export type LabelSource = 'true' | 'predicted';
export interface ProfilesComputeParams {
    model: string; layers: string[]; background: ItemsRef; foreground?: string[]; attack?: AttackSpec; components?: number; labelBy?: LabelSource;
    bins?: number; neighbors?: number; minDist?: number; seed?: number;
    /** Compute trustworthiness per axis (O(n²·features)). */
    quality?: boolean;
    /** Bins per axis for grouping background lines into bundles (default 8). */
    bundleBins?: number;
    /** UMAP epochs (default 200). */
    epochs?: number;
}
/** Positions are normalised to the background's [0, 1] range (foreground may fall slightly outside). */
export interface LayerProfile {
    layer: string; background: ArrayData; foreground?: ArrayData; foregroundAdversarial?: ArrayData; histograms: ArrayData;
    /** k = 10; only with `quality`. */
    trustworthiness?: number;
    features: number; min: number; max: number;
}
/** A benign foreground item and its adversarial twin (row `foreground` of `foregroundAdversarial`). */
export interface ProfilePair { foreground: number; layers: LayerDivergence[]; divergingPoint?: DivergingPoint; jump: number }
/** Background lines between axis `pair` and `pair + 1` grouped by class, start and end bin. */
export interface ProfileBundle { pair: number; label: number; count: number; from: number; to: number; fromSpread: number; toSpread: number }
/** Per class, quartiles of its positions on each axis. */
export interface ProfileSpine { label: number; count: number; q1: number[]; median: number[]; q3: number[] }
export interface ProfilesComputeResult {
    layers: string[]; backgroundCount: number; backgroundLabels: number[]; backgroundPredicted: number[]; classNames: string[];
    profiles: LayerProfile[]; alignment: number[]; fingerprints: ArrayData; divergence?: LayerDivergence[]; divergingPoint?: DivergingPoint; fromCache: boolean;
    /** The labels that colour the background (`labelBy`). */
    colourLabels: number[];
    foregroundPredicted?: number[]; foregroundAdversarialPredicted?: number[];
    pairs?: ProfilePair[]; bundles: ProfileBundle[]; spines: ProfileSpine[];
}
export type ReductionKind = 'mean' | 'max' | 'difference' | 'direct';
export type UnitValueKind = 'max' | 'sumAbs';
export interface LayerReduceParams { model: string; layer: string; items: ItemsRef; reduction?: ReductionKind; i?: number; j?: number; unitValue?: UnitValueKind; topK?: number }
export interface LayerReduceResult { layer: string; layerShape: number[]; unitCount: number; values: ArrayData; top: UnitScore[] }
export type MapFormat = 'png' | 'float32' | 'both';
export interface LayerActivationMapsParams { model: string; layer: string; item: string; units: number[]; format?: MapFormat }
export interface UnitMap { unit: number; height: number; width: number; min: number; max: number; values?: ArrayData; image?: ImageData }
export interface LayerActivationMapsResult { layer: string; maps: UnitMap[] }
export type ImageParameterization = 'fourier' | 'pixel';
export interface UnitVisualizeParams {
    model: string; layer: string; unit: number; steps?: number; learningRate?: number; jitter?: number; scaleJitter?: number;
    rotateDegrees?: number; decorrelate?: boolean; parameterization?: ImageParameterization; l2?: number; totalVariation?: number;
    blurEvery?: number; initialNoise?: number; seed?: number;
}
export interface UnitVisualizeResult { image: ImageData; activation: number; startActivation: number; trace: number[]; fromCache: boolean }
export interface UnitConnectionsParams { model: string; layer: string; unit: number; topK?: number; item?: string }
export interface Connection { layer: string; unit: number; weight: number; contribution?: number }
export interface UnitConnectionsResult {
    previousLayer?: string; previous: Connection[]; nextLayer?: string; next: Connection[]; previousWeighted?: string; nextWeighted?: string;
    previousByContribution?: Connection[]; nextByContribution?: Connection[];
    /** Why a list is empty. */
    note?: string;
}

// ---- Neurons.cs ----
export interface VulnerabilityMapParams { model: string; image: string; attack?: AttackSpec; adversarial?: string; halfSize?: number; stride?: number; topPercent?: number; layer?: string }
/** Exactly one of `adversarial` (an item path) or `attack`. */
export interface VulnerabilityMapResult {
    height: number; width: number; benignClass: number; adversarialClass: number; bMap: ArrayData; aMap: ArrayData; bMask: ImageData; aMask: ImageData; fromCache: boolean;
    /** With `attack` and a cache folder: the adversarial input made. */
    adversarialPath?: string;
}
export interface ReceptiveFieldsParams {
    model: string; layer: string; units: number[]; image: string; threshold?: number;
    /** The image's adversarial twin (an item path): then each field gets its IoU with the vulnerability map. */
    adversarial?: string; halfSize?: number; stride?: number; topPercent?: number;
}
export interface UnitReceptiveField { unit: number; mask: ImageData; coverage: number; iou?: number }
export interface ReceptiveFieldsResult { layer: string; fields: UnitReceptiveField[] }
export type RankBy = 'bandGap' | 'curveGap' | 'iou';
export interface NeuronsRankParams {
    model: string; items: ItemsRef; attack: AttackSpec; layer?: string; by?: RankBy; benignClass?: number; adversarialClass?: number; confidence?: number; topK?: number;
}
export interface RankedUnit { unit: number; bandGap: number; curveGap: number; iou?: number }
export interface NeuronsRankResult {
    layer: string; benignClass: number; adversarialClass: number; units: RankedUnit[]; benignMean: ArrayData; benignBand: ArrayData;
    adversarialMean: ArrayData; adversarialBand: ArrayData; fromCache: boolean;
    unitCount: number; benignCount: number; adversarialCount: number; successRate: number;
}
export type ClusterMetric = 'l2' | 'iou' | 'activation';
export type ClusterLinkage = 'single' | 'average' | 'complete' | 'ward';
/** `images`: one or more item paths (e.g. a benign image and its adversarial twin); `units` defaults to every unit of `layer`. */
export interface NeuronsClusterParams { model: string; layer: string; images: string[]; units?: number[]; metric?: ClusterMetric; linkage?: ClusterLinkage; threshold?: number }
export interface ClusterMerge { left: number; right: number; distance: number; size: number }
export interface NeuronsClusterResult { units: number[]; merges: ClusterMerge[]; leafOrder: number[] }
export type UnitGroup = 'suppressed' | 'emphasized' | 'shared' | 'inactive';
export interface AttributionGraphParams {
    model: string; items: ItemsRef; benignClass: number; targetClass: number; attack: AttackSpec; layers?: string[]; topUnits?: number; topEdges?: number;
    groupThreshold?: number; epsSweep?: number[];
}
export interface AttributionUnit {
    unit: number; benignImportance: number; adversarialImportance: number; group: UnitGroup; vulnerableAtEps?: number;
    /** (adversarial − benign) / max(benign, adversarial); 0 when inactive. */
    relativeChange: number;
}
export interface AttributionLayer { layer: string; units: AttributionUnit[] }
export interface AttributionEdge { fromLayer: string; fromUnit: number; toLayer: string; toUnit: number; influence: number; benignInfluence: number; adversarialInfluence: number }
export interface AttributionGraphResult {
    layers: AttributionLayer[]; edges: AttributionEdge[]; fromCache: boolean; imageCount: number; successRate: number; sweepEps?: number[]; sweepSuccessRate?: number[];
}
export interface NeuronDeletion { layer: string; units: number[] }
export interface NeuronsEditParams { model: string; deletions: NeuronDeletion[]; items?: ItemsRef; attack?: AttackSpec }
export interface EditMeasure { cleanAccuracy: number; successRate?: number }
/** `count`: images measured; `unitsDeleted`: distinct units removed; `labelsPredicted`: items had no labels, so accuracy is agreement with the original model. */
export interface NeuronsEditResult { edits: NeuronDeletion[]; count: number; before?: EditMeasure; after?: EditMeasure; unitsDeleted: number; labelsPredicted: boolean }

// ---- Export.cs ----
export type ExportFormat = 'csv' | 'json' | 'npy' | 'png';
export interface ExportWriteParams { fileName: string; format: ExportFormat; array?: ArrayData; columnNames?: string[]; rowNames?: string[]; json?: unknown; pngBase64?: string }
export interface ExportWriteResult { path: string; bytes: number }

// ---- built-ins ----
export interface PingResult { pong: boolean; version: string }
// docs/protocol.md documents `{name, mutates, notification}`; the daemon sends `{name, mutates, kind, builtIn}`: both are optional here.
export interface MethodsResult { methods: { name: string; mutates: boolean; notification?: boolean; kind?: 'request' | 'notification'; builtIn?: boolean }[] }

/** Every method: [params, result] (ProtocolCatalog.cs). */
export interface Methods {
    'daemon/ping': [undefined, PingResult];
    'daemon/methods': [undefined, MethodsResult];
    'shutdown': [undefined, null];
    'workspace/configure': [WorkspaceConfigureParams, WorkspaceConfigureResult];
    'cache/stats': [undefined, CacheStatsResult];
    'cache/clear': [undefined, CacheClearResult];
    'model/open': [ModelOpenParams, ModelInfo];
    'model/close': [ModelRefParams, ModelCloseResult];
    'model/list': [undefined, ModelListResult];
    'model/graph': [ModelGraphParams, ModelGraphResult];
    'model/predict': [ModelPredictParams, ModelPredictResult];
    'attack/run': [AttackRunParams, AttackRunResult];
    'robustness/evaluate': [RobustnessEvaluateParams, RobustnessEvaluateResult];
    'explain/run': [ExplainRunParams, ExplainRunResult];
    'profiles/compute': [ProfilesComputeParams, ProfilesComputeResult];
    'layer/reduce': [LayerReduceParams, LayerReduceResult];
    'layer/activationMaps': [LayerActivationMapsParams, LayerActivationMapsResult];
    'unit/visualize': [UnitVisualizeParams, UnitVisualizeResult];
    'unit/connections': [UnitConnectionsParams, UnitConnectionsResult];
    'unit/receptiveFields': [ReceptiveFieldsParams, ReceptiveFieldsResult];
    'vulnerability/map': [VulnerabilityMapParams, VulnerabilityMapResult];
    'neurons/rank': [NeuronsRankParams, NeuronsRankResult];
    'neurons/cluster': [NeuronsClusterParams, NeuronsClusterResult];
    'attribution/graph': [AttributionGraphParams, AttributionGraphResult];
    'neurons/edit': [NeuronsEditParams, NeuronsEditResult];
    'export/write': [ExportWriteParams, ExportWriteResult];
}
export type MethodName = keyof Methods;
export type ParamsOf<M extends MethodName> = Methods[M][0];
export type ResultOf<M extends MethodName> = Methods[M][1];

/** Methods that accept a workDoneToken and report $/progress. */
export const progressMethods: readonly MethodName[] = ['model/predict', 'attack/run', 'robustness/evaluate', 'explain/run', 'profiles/compute', 'layer/reduce', 'unit/visualize',
    'vulnerability/map', 'neurons/rank', 'attribution/graph', 'neurons/edit'];

export const ErrorCodes = {
    ParseError: -32700, InvalidRequest: -32600, MethodNotFound: -32601, InvalidParams: -32602, InternalError: -32603, RequestCancelled: -32800,
    ModelNotOpen: -32001, BadInput: -32002, PathNotAllowed: -32003, NotConfigured: -32004, ModelChanged: -32005, NotImplemented: -32006, Unsupported: -32007, OverBudget: -32008,
} as const;
