// Every message between the extension host and a webview, as discriminated unions on `type` (at the end), and the
// view models the views draw. A webview posts `ready` first; the host answers with `init`. Data always travels as
// postMessage JSON, never interpolated into HTML. Webviews never talk to the daemon: the host forwards daemon results
// unchanged (protocol DTOs), and relays `rpc` requests for the methods a panel allows, answered by `rpcResult`.
// convert.ts turns DTOs into the view models below; the host computes nothing.
import type * as P from '../../vscode-advvis/src/daemon/protocol';

/** What users call each daemon method's part of a view: messages name these, never the method. */
const methodTitles: Partial<Record<P.MethodName, string>> = {
    'model/open': 'opening the model', 'model/graph': 'architecture graph', 'model/predict': 'prediction', 'attack/run': 'attack', 'robustness/evaluate': 'robustness report', 'explain/run': 'explanation',
    'profiles/compute': 'Flow View', 'layer/reduce': 'Layer View', 'layer/activationMaps': 'activation maps', 'unit/receptiveFields': 'receptive fields',
    'unit/connections': 'unit connections', 'unit/visualize': 'feature visualization', 'vulnerability/map': 'vulnerability map',
    'neurons/rank': 'vulnerable neurons', 'neurons/cluster': 'neuron clusters', 'attribution/graph': 'attribution graph', 'neurons/edit': 'neuron editing',
    'export/write': 'export',
};
export const methodTitle = (method: string): string => methodTitles[method as P.MethodName] ?? method;

/** A budget as users write it: a short decimal ("0.3", "0.02"), else a whole multiple of 1/255 as "8/255" (float32 from the daemon). */
export function formatEps(eps: number): string {
    const decimal = String(Number(eps.toPrecision(4)));
    const over255 = Math.round(eps * 255);
    const short = decimal.replace(/^0\.0*/, '').replace('.', '').length <= 3;
    return !short && over255 > 0 && Math.abs(eps * 255 - over255) < 1e-3 ? `${over255}/255` : decimal;
}

/** Paper colour code (Activation Profiles §4.2): grey, blue, red. */
export type LayerCategory = 'none' | 'weighted' | 'trainable';

export interface GraphNode {
    index: number;
    name: string;
    opType: string;
    outputs: string[];
    outputShapes: (number[] | null)[];
    parameterCount: number;
    category: LayerCategory;
    readsGraphInput: boolean;
    writesGraphOutput: boolean;
    blockId: string | null;
}

export interface GraphEdge {
    from: number; // -1: graph input
    to: number; // -1: graph output
    value: string;
    shape: number[] | null;
    isBranch: boolean;
}

export interface GraphBlock {
    id: string;
    label: string;
    parentId: string | null;
    depth: number;
    nodes: number[];
}

export interface ModelGraph {
    modelName: string;
    nodes: GraphNode[];
    edges: GraphEdge[];
    blocks: GraphBlock[];
    parameterCount: number;
    unsupportedOps: string[];
    /** The block depth whose blocks, collapsed, give a readable overview (the daemon's suggestion). */
    defaultCollapseDepth: number;
    /** Why output shapes are missing, when they are. */
    shapeError?: string;
}

export interface ClassScore {
    label: number;
    name: string;
    probability: number;
}

export interface Prediction {
    label: number;
    name: string;
    probability: number;
    top: ClassScore[];
}

/** Activation Profiles (profiles/compute): one aligned 1-D axis per layer, positions normalised to the background's [0, 1]. */
export interface FlowData {
    layers: string[];
    /** background[i][l]: position of background image i on axis l. */
    background: number[][];
    /** The labels that colour the background (the daemon's `colourLabels`: true or predicted class). */
    backgroundLabels: number[];
    /** The benign foreground image and its adversarial twin, per axis. */
    benign: number[];
    adversarial: number[];
    /** Index into layers into which the pair's distance rises most (the daemon's diverging point); null if none. */
    divergingLayer: number | null;
    /** Per layer: the pair's distance relative to the background's spread (`score`) and on the axis (`profileDistance`). */
    scores: { score: number; profileDistance: number | null }[];
    classNames: string[];
    /** Background lines grouped per axis pair, class, start and end bin (largest first). */
    bundles: { pair: number; label: number; count: number; from: number; to: number; fromSpread: number; toSpread: number }[];
    /** Per class: quartiles of its positions on each axis. */
    spines: { label: number; count: number; q1: number[]; median: number[]; q3: number[] }[];
    /** Spearman correlation of neighbouring axes. */
    alignment: number[];
    /** Trustworthiness per axis when computed (null otherwise). */
    trustworthiness: (number | null)[];
    benignClass: number | null;
    adversarialClass: number | null;
}

/** Layer View: one reduced value per unit (max over space for conv units), plus activation maps of top units. */
export interface LayerData {
    layer: string;
    reduction: string;
    values: number[];
    /** values are adversarial − benign (signed, diverging colours). */
    isDifference: boolean;
    maps?: { unit: number; image: ImageDataUrl }[];
}

/** A grey-scale map (activation map, receptive field mask, vulnerability map) as row-major floats in [0, 1]. */
export interface Heatmap {
    width: number;
    height: number;
    data: number[];
}

export interface VulnerableNeuron {
    layer: string;
    unit: number;
    score: number;
    benignActivation: number;
    adversarialActivation: number;
    /** Receptive-field masks (PNG data URLs) on the benign and adversarial image. */
    benignField?: ImageDataUrl;
    adversarialField?: ImageDataUrl;
    /** Activation-maximisation image of the unit (unit/visualize). */
    visualization?: UnitVisualization;
    /** Li et al.'s band gap of the unit over the background items of the two classes (neurons/rank), when ranked. */
    bandGap?: number;
}

export interface AttributionNode {
    id: string;
    layer: string;
    unit: number;
    /** Relative change of importance, (adversarial − benign) / max(benign, adversarial); positive: emphasized by the attack. */
    delta: number;
    benignImportance: number;
    adversarialImportance: number;
    /** suppressed: benign side; emphasized: adversarial side; shared: both; inactive: neither. */
    side: 'benign' | 'adversarial' | 'both' | 'inactive';
    vulnerableAtEps: number | null;
}

export interface AttributionEdge {
    from: string;
    to: string;
    weight: number;
    benignWeight: number;
    adversarialWeight: number;
}

export interface AttributionGraph {
    layers: string[];
    nodes: AttributionNode[];
    edges: AttributionEdge[];
    imageCount: number;
    successRate: number;
}

/** A unit's activation-maximisation image (unit/visualize). */
export interface UnitVisualization {
    layer: string;
    unit: number;
    image: ImageDataUrl;
    startActivation: number;
    activation: number;
}

/** An RGB or grey image as a PNG data URL produced by the daemon (data: URLs are allowed by the CSP's img-src). */
export type ImageDataUrl = string;

export interface Explanation {
    imagePath: string;
    modelPath: string;
    attack: P.AttackSpec;
    benign: Prediction;
    adversarial: Prediction;
    benignImage?: ImageDataUrl;
    adversarialImage?: ImageDataUrl;
    perturbationImage?: ImageDataUrl;
    linf?: number;
    l2?: number;
    /** Per-layer divergence scores from explain/run (drawn under the Flow View when there is no background). */
    divergence: { layer: string; score: number }[];
    divergingLayer: string | null;
    flow: FlowData | null;
    layer: LayerData | null;
    vulnerabilityMaps: { benign: Heatmap; adversarial: Heatmap } | null;
    neurons: VulnerableNeuron[];
    /** neurons/rank over background items of the benign and adversarial classes, ranked by band gap. */
    ranked: { layer: string; benignClass: number; adversarialClass: number; benignCount: number; adversarialCount: number; units: { unit: number; bandGap: number; curveGap: number }[] } | null;
    attribution: AttributionGraph | null;
    missing: { method: string; message: string }[];
    pending: string[];
}

export interface DatasetImage {
    index: number;
    source: string;
    trueLabel: number;
    benignLabel: number;
    adversarialLabel: number;
    benignProbability: number;
    adversarialProbability: number;
    benignProbabilityDrop: number;
    adversarialProbabilityGain: number;
    success: boolean;
    perturbationL2: number;
    adversarialPath?: string;
    benignXY: [number, number] | null;
    adversarialXY: [number, number] | null;
    adversarialThumb?: ImageDataUrl;
}

export interface NeuronCurves {
    layer: string;
    benignClass: number;
    adversarialClass: number;
    /** Units in ranked order. */
    units: number[];
    benign: number[];
    adversarial: number[];
    benignBand: [number, number][];
    adversarialBand: [number, number][];
}

/** Everything a view keeps across hide/show (vscode.setState). */
export interface ViewState {
    collapsed?: string[];
    selectedLayers?: string[];
    selectedImages?: number[];
    selectedCell?: [number, number] | null;
    colorBy?: 'true' | 'predicted';
    selectedUnits?: number[];
    sortOrder?: ImageSortOrder;
    threshold?: number;
    tab?: string;
    scroll?: number;
}

export type ImageSortOrder = 'perturbationAsc' | 'perturbationDesc' | 'benignProbabilityDesc' | 'adversarialProbabilityAsc';

export type ExportFormat = 'png' | 'svg' | 'csv' | 'json' | 'npy';

/** What the host has gathered for one explanation, as daemon results; parts arrive as they finish (`update`). */
export interface ExplanationBundle {
    imagePath: string;
    /** data: URI of the benign image (PNG/JPEG/BMP), when the webview can show it. */
    imageUri?: string;
    modelPath: string;
    model: string; // daemon handle
    attack: P.AttackSpec;
    explain?: P.ExplainRunResult;
    profiles?: P.ProfilesComputeResult;
    layer?: P.LayerReduceResult;
    maps?: P.LayerActivationMapsResult;
    vulnerability?: P.VulnerabilityMapResult;
    fieldsBenign?: P.ReceptiveFieldsResult;
    fieldsAdversarial?: P.ReceptiveFieldsResult;
    attribution?: P.AttributionGraphResult;
    /** unit/visualize of the diverging layer's most changed units (in their order). */
    visualizations?: (P.UnitVisualizeResult & { layer: string; unit: number })[];
    rank?: P.NeuronsRankResult;
    /** Parts the daemon could not give: the method and why (-32601 missing, -32006 not implemented, or the error). */
    missing: { method: string; message: string }[];
    /** Parts still being computed. */
    pending: string[];
    /** What the user could be misled by without being told (a failed attack): shown as banners at the top. */
    warnings?: string[];
}

export interface DatasetBundle {
    modelPath: string;
    model: string;
    datasetPath: string;
    attack: P.AttackSpec;
    classNames: string[];
    attackResult?: P.AttackRunResult;
    /** The robustness report (robustness/evaluate): accuracy after each attack of the suite at each ε. */
    robustness?: P.RobustnessEvaluateResult;
    profiles?: P.ProfilesComputeResult;
    missing: { method: string; message: string }[];
    pending: string[];
}

// ---- host → webview ----
export type HostMessage =
    /** `restricted`: the workspace is untrusted, so the host opened nothing; the view shows a notice and a trust button. */
    | { type: 'init'; view: 'architecture'; body: { modelPath: string; model?: P.ModelInfo; graph?: P.ModelGraphResult; error?: string; findings?: Record<string, string>; restricted?: boolean } }
    | { type: 'init'; view: 'explain'; body: ExplanationBundle }
    | { type: 'init'; view: 'dataset'; body: DatasetBundle }
    | { type: 'update'; body: Partial<ExplanationBundle> | Partial<DatasetBundle> }
    | { type: 'rpcResult'; requestId: number; result?: unknown; error?: { code: number; message: string } }
    | { type: 'editResult'; body: P.NeuronsEditResult }
    | { type: 'error'; message: string };

// ---- webview → host ----
export type WebviewMessage =
    | { type: 'ready' }
    | { type: 'rpc'; requestId: number; method: P.MethodName; params: unknown }
    | { type: 'selectLayers'; layers: string[] }
    | { type: 'selectUnit'; layer: string; unit: number }
    | { type: 'editNeurons'; deletions: P.NeuronDeletion[] }
    | { type: 'export'; format: ExportFormat; name: string; content: string; encoding: 'utf8' | 'base64' }
    | { type: 'explainImage'; imagePath: string }
    | { type: 'manageTrust' }
    | { type: 'error'; message: string };
