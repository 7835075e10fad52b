// Daemon results (protocol DTOs, forwarded unchanged by the host) → the view models the views draw.
// Decoding and reshaping only: every number shown was computed by the daemon.
import type * as P from '../../vscode-advvis/src/daemon/protocol';
import type {
    AttributionGraph, DatasetBundle, DatasetImage, Explanation, ExplanationBundle, FlowData, Heatmap, LayerCategory, LayerData,
    ModelGraph, NeuronCurves, Prediction, VulnerableNeuron,
} from './messages';

export function decodeArray(array: P.ArrayData | undefined | null): Float32Array {
    if (!array?.base64) return new Float32Array(0);
    const binary = atob(array.base64);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return new Float32Array(bytes.buffer, 0, bytes.length >> 2);
}

export function imageUrl(image: P.ImageData | undefined | null): string | undefined {
    return image?.pngBase64 ? `data:image/png;base64,${image.pngBase64}` : undefined;
}

const categories: Record<string, LayerCategory> = { noParameters: 'none', connectedWeighted: 'weighted', otherTrainable: 'trainable' };

export function toModelGraph(modelPath: string, graph: P.ModelGraphResult, info?: P.ModelInfo): ModelGraph {
    return {
        modelName: modelPath.split(/[\\/]/).pop() ?? modelPath,
        nodes: graph.nodes.map(node => ({
            index: node.index, name: node.name, opType: node.opType, outputs: node.outputs, outputShapes: node.outputShapes,
            parameterCount: node.parameterCount, category: categories[node.category] ?? 'none', readsGraphInput: node.readsGraphInput,
            writesGraphOutput: node.writesGraphOutput, blockId: node.blockId ?? null,
        })),
        edges: graph.edges.map(edge => ({ from: edge.from, to: edge.to, value: edge.value, shape: edge.shape ?? null, isBranch: edge.isBranch })),
        blocks: graph.blocks.map(block => ({ id: block.id, label: block.label, parentId: block.parentId ?? null, depth: block.depth, nodes: block.nodes })),
        parameterCount: info?.parameterCount ?? graph.nodes.reduce((sum, node) => sum + node.parameterCount, 0),
        unsupportedOps: [...new Set((info?.unsupported ?? []).map(op => op.opType))],
    };
}

export function toPrediction(prediction: P.Prediction, classNames?: string[]): Prediction {
    const name = (c: number, label?: string) => label ?? classNames?.[c] ?? String(c);
    return {
        label: prediction.class, name: name(prediction.class, prediction.label), probability: prediction.probability,
        top: prediction.top5.map(score => ({ label: score.class, name: name(score.class, score.label), probability: score.probability })),
    };
}

/** Column 0 of every layer's profile; rows are background items, then the foreground pair (benign, adversarial). */
export function toFlow(profiles: P.ProfilesComputeResult, explain?: P.ExplainRunResult): FlowData {
    const layers = profiles.layers;
    const count = profiles.backgroundCount;
    const background: number[][] = Array.from({ length: count }, () => new Array<number>(layers.length));
    const benign = new Array<number>(layers.length).fill(0), adversarial = new Array<number>(layers.length).fill(0);
    profiles.profiles.forEach((profile, l) => {
        const components = profile.background.shape[1] ?? 1;
        const values = decodeArray(profile.background);
        for (let i = 0; i < count; i++) background[i][l] = values[i * components];
        const foreground = decodeArray(profile.foreground);
        const fgComponents = profile.foreground?.shape[1] ?? 1;
        if (foreground.length) benign[l] = foreground[0];
        const twin = decodeArray(profile.foregroundAdversarial);
        if (twin.length) adversarial[l] = twin[0];
        else if (foreground.length >= 2 * fgComponents) adversarial[l] = foreground[fgComponents];
    });
    const diverging = profiles.divergingPoint ?? explain?.divergingPoint;
    const divergingLayer = diverging ? layers.indexOf(diverging.layer) : -1;
    return {
        layers, background, backgroundLabels: profiles.backgroundLabels, benign, adversarial,
        divergingLayer: divergingLayer >= 0 ? divergingLayer : null, classNames: profiles.classNames,
    };
}

export function toHeatmap(array: P.ArrayData, height: number, width: number): Heatmap {
    const values = decodeArray(array);
    let max = 0;
    for (const v of values) max = Math.max(max, Math.abs(v));
    return { width, height, data: Array.from(values, v => (max > 0 ? Math.max(0, v) / max : 0)) };
}

export function toLayer(reduce: P.LayerReduceResult, reduction: string, maps?: P.LayerActivationMapsResult): LayerData {
    return {
        layer: reduce.layer, reduction, values: Array.from(decodeArray(reduce.values)), isDifference: reduction === 'difference',
        maps: maps?.maps.filter(map => map.image?.pngBase64).map(map => ({ unit: map.unit, image: imageUrl(map.image)! })),
    };
}

/** The top changed units of the diverging layer (explain/run), with their receptive fields when the daemon gave them. */
export function toNeurons(bundle: ExplanationBundle): VulnerableNeuron[] {
    const explain = bundle.explain;
    if (!explain) return [];
    const layerName = explain.divergingPoint?.layer ?? explain.layers[explain.layers.length - 1]?.layer;
    const layer = explain.layers.find(entry => entry.layer === layerName);
    if (!layer) return [];
    const field = (result: P.ReceptiveFieldsResult | undefined, unit: number) => imageUrl(result?.fields.find(f => f.unit === unit)?.mask);
    return layer.topChangedUnits.map(score => ({
        layer: layer.layer, unit: score.unit, score: score.value, benignActivation: NaN, adversarialActivation: NaN,
        benignField: field(bundle.fieldsBenign, score.unit), adversarialField: field(bundle.fieldsAdversarial, score.unit),
    }));
}

export function toAttribution(result: P.AttributionGraphResult): AttributionGraph {
    const sides: Record<P.UnitGroup, 'benign' | 'adversarial' | 'both'> = { suppressed: 'benign', emphasized: 'adversarial', shared: 'both' };
    return {
        layers: result.layers.map(layer => layer.layer),
        nodes: result.layers.flatMap(layer => layer.units.map(unit => ({
            id: `${layer.layer}#${unit.unit}`, layer: layer.layer, unit: unit.unit, delta: unit.adversarialImportance - unit.benignImportance, side: sides[unit.group],
        }))),
        edges: result.edges.map(edge => ({ from: `${edge.fromLayer}#${edge.fromUnit}`, to: `${edge.toLayer}#${edge.toUnit}`, weight: edge.influence })),
    };
}

export function toExplanation(bundle: ExplanationBundle): Explanation | null {
    const explain = bundle.explain;
    if (!explain) return null;
    const classNames = bundle.profiles?.classNames;
    const vulnerability = bundle.vulnerability;
    return {
        imagePath: bundle.imagePath, modelPath: bundle.modelPath, attack: bundle.attack,
        benign: toPrediction(explain.benign, classNames), adversarial: toPrediction(explain.adversarial, classNames),
        benignImage: bundle.imageUri, adversarialImage: imageUrl(explain.attack.adversarialImage), perturbationImage: imageUrl(explain.attack.perturbation),
        linf: explain.attack.linf, l2: explain.attack.l2,
        divergence: explain.layers.map(layer => ({ layer: layer.layer, score: layer.score })),
        divergingLayer: explain.divergingPoint?.layer ?? null,
        flow: bundle.profiles ? toFlow(bundle.profiles, explain) : null,
        layer: bundle.layer ? toLayer(bundle.layer, 'difference', bundle.maps) : null,
        vulnerabilityMaps: vulnerability ? {
            benign: toHeatmap(vulnerability.bMap, vulnerability.height, vulnerability.width),
            adversarial: toHeatmap(vulnerability.aMap, vulnerability.height, vulnerability.width),
        } : null,
        neurons: toNeurons(bundle),
        attribution: bundle.attribution ? toAttribution(bundle.attribution) : null,
        missing: bundle.missing, pending: bundle.pending,
    };
}

/** Image space of the Dataset View: one entry per attacked item, with 2-D positions when profiles/compute ran. */
export function toDatasetImages(bundle: DatasetBundle): DatasetImage[] {
    const items = bundle.attackResult?.items ?? [];
    const profile = bundle.profiles?.profiles[0];
    const benignXY = profile ? decodeArray(profile.background) : null;
    const adversarialXY = profile ? decodeArray(profile.foreground) : null;
    return items.map((item, index) => ({
        index, source: item.source, trueLabel: item.trueClass ?? item.benign.class, benignLabel: item.benign.class, adversarialLabel: item.adversarial.class,
        benignProbability: item.benign.probability, adversarialProbability: item.adversarial.probability,
        benignProbabilityDrop: item.benignProbabilityDrop, adversarialProbabilityGain: item.adversarialProbabilityGain, success: item.success,
        perturbationL2: item.l2, adversarialPath: item.adversarialPath,
        benignXY: benignXY && benignXY.length >= 2 * (index + 1) ? [benignXY[2 * index], benignXY[2 * index + 1]] : null,
        adversarialXY: adversarialXY && adversarialXY.length >= 2 * (index + 1) ? [adversarialXY[2 * index], adversarialXY[2 * index + 1]] : null,
        adversarialThumb: imageUrl(item.adversarialImage),
    }));
}

export function toCurves(rank: P.NeuronsRankResult): NeuronCurves {
    const benignMean = decodeArray(rank.benignMean), adversarialMean = decodeArray(rank.adversarialMean);
    const benignBand = decodeArray(rank.benignBand), adversarialBand = decodeArray(rank.adversarialBand);
    // Ranked units first (the daemon's order), then the rest by unit index.
    const ranked = rank.units.map(unit => unit.unit);
    const rest = Array.from({ length: benignMean.length }, (_, i) => i).filter(unit => !ranked.includes(unit));
    const order = ranked.length >= benignMean.length ? ranked : [...ranked, ...rest];
    return {
        layer: rank.layer, benignClass: rank.benignClass, adversarialClass: rank.adversarialClass, units: order,
        benign: order.map(u => benignMean[u]), adversarial: order.map(u => adversarialMean[u]),
        benignBand: order.map(u => [benignBand[2 * u], benignBand[2 * u + 1]]), adversarialBand: order.map(u => [adversarialBand[2 * u], adversarialBand[2 * u + 1]]),
    };
}

export interface DendrogramLink { id: number; left: number; right: number; height: number; leaves: number[] }

/** SciPy linkage: ids below units.length are leaves (index into units), id units.length + k is merge k. */
export function toDendrogram(result: P.NeuronsClusterResult): DendrogramLink[] {
    const n = result.units.length;
    const leavesOf = (id: number, links: DendrogramLink[]): number[] => (id < n ? [result.units[id]] : links[id - n].leaves);
    const links: DendrogramLink[] = [];
    result.merges.forEach((merge, k) => links.push({ id: n + k, left: merge.left, right: merge.right, height: merge.distance, leaves: [...leavesOf(merge.left, links), ...leavesOf(merge.right, links)] }));
    return links;
}
