// Daemon results (protocol DTOs, forwarded unchanged by the host) → the view models the views draw.
// Decoding and reshaping only: every number shown was computed by the daemon.
import type * as P from '../../vscode-advvis/src/daemon/protocol';
import type {
    AttributionGraph, AttributionNode, DatasetBundle, DatasetImage, Explanation, ExplanationBundle, FlowData, Heatmap, LayerCategory, LayerData,
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
        defaultCollapseDepth: graph.defaultCollapseDepth ?? 0, shapeError: graph.shapeError,
    };
}

export function toPrediction(prediction: P.Prediction, classNames?: string[]): Prediction {
    const name = (c: number, label?: string) => label ?? classNames?.[c] ?? String(c);
    return {
        label: prediction.class, name: name(prediction.class, prediction.label), probability: prediction.probability,
        top: prediction.top5.map(score => ({ label: score.class, name: name(score.class, score.label), probability: score.probability })),
    };
}

/** The Flow View from profiles/compute: background positions per axis (row i of every layer's profile), the first
 * benign/adversarial foreground pair, the daemon's bundles, spines, alignment and diverging point. */
export function toFlow(profiles: P.ProfilesComputeResult, explain?: P.ExplainRunResult): FlowData {
    const layers = profiles.layers;
    const count = profiles.backgroundCount;
    const background: number[][] = Array.from({ length: count }, () => new Array<number>(layers.length));
    const benign = new Array<number>(layers.length).fill(NaN), adversarial = new Array<number>(layers.length).fill(NaN);
    const pair = profiles.pairs?.[0];
    const row = pair?.foreground ?? 0;
    profiles.profiles.forEach((profile, l) => {
        const components = profile.background.shape[1] ?? 1;
        const values = decodeArray(profile.background);
        for (let i = 0; i < count; i++) background[i][l] = values[i * components];
        const foreground = decodeArray(profile.foreground);
        const fgComponents = profile.foreground?.shape[1] ?? 1;
        if (foreground.length > row * fgComponents) benign[l] = foreground[row * fgComponents];
        const twin = decodeArray(profile.foregroundAdversarial);
        if (twin.length > row * fgComponents) adversarial[l] = twin[row * fgComponents];
        // Without `attack`, a second foreground item is taken as the adversarial image.
        else if (foreground.length >= 2 * fgComponents) adversarial[l] = foreground[fgComponents];
    });
    const diverging = pair?.divergingPoint ?? profiles.divergingPoint ?? (profiles.pairs || profiles.divergence ? undefined : explain?.divergingPoint);
    const divergingLayer = diverging ? layers.indexOf(diverging.layer) : -1;
    const perLayer = pair?.layers ?? profiles.divergence ?? [];
    return {
        layers, background, backgroundLabels: profiles.colourLabels ?? profiles.backgroundLabels, benign, adversarial,
        divergingLayer: divergingLayer >= 0 ? divergingLayer : null, classNames: profiles.classNames,
        scores: layers.map(layer => {
            const entry = perLayer.find(d => d.layer === layer);
            return { score: entry?.score ?? NaN, profileDistance: entry?.profileDistance ?? null };
        }),
        bundles: (profiles.bundles ?? []).map(b => ({ pair: b.pair, label: b.label, count: b.count, from: b.from, to: b.to, fromSpread: b.fromSpread, toSpread: b.toSpread })),
        spines: (profiles.spines ?? []).map(s => ({ label: s.label, count: s.count, q1: s.q1, median: s.median, q3: s.q3 })),
        alignment: profiles.alignment,
        trustworthiness: profiles.profiles.map(profile => profile.trustworthiness ?? null),
        benignClass: profiles.foregroundPredicted?.[row] ?? explain?.benign.class ?? null,
        adversarialClass: profiles.foregroundAdversarialPredicted?.[row] ?? explain?.adversarial.class ?? null,
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

/** The top changed units of the diverging layer (explain/run), with their receptive fields, activation-maximisation
 * images and band gaps when the daemon gave them. */
export function toNeurons(bundle: ExplanationBundle): VulnerableNeuron[] {
    const explain = bundle.explain;
    if (!explain) return [];
    const layerName = explain.divergingPoint?.layer ?? explain.layers[explain.layers.length - 1]?.layer;
    const layer = explain.layers.find(entry => entry.layer === layerName);
    if (!layer) return [];
    const field = (result: P.ReceptiveFieldsResult | undefined, unit: number) => imageUrl(result?.fields.find(f => f.unit === unit)?.mask);
    const rank = bundle.rank?.layer === layer.layer ? bundle.rank : undefined;
    return layer.topChangedUnits.map(score => {
        const visual = bundle.visualizations?.find(v => v.layer === layer.layer && v.unit === score.unit);
        return {
            layer: layer.layer, unit: score.unit, score: score.value, benignActivation: NaN, adversarialActivation: NaN,
            benignField: field(bundle.fieldsBenign, score.unit), adversarialField: field(bundle.fieldsAdversarial, score.unit),
            visualization: visual && imageUrl(visual.image) ? { layer: visual.layer, unit: visual.unit, image: imageUrl(visual.image)!, startActivation: visual.startActivation, activation: visual.activation } : undefined,
            bandGap: rank?.units.find(u => u.unit === score.unit)?.bandGap,
        };
    });
}

export function toAttribution(result: P.AttributionGraphResult): AttributionGraph {
    const sides: Record<P.UnitGroup, AttributionNode['side']> = { suppressed: 'benign', emphasized: 'adversarial', shared: 'both', inactive: 'inactive' };
    return {
        layers: result.layers.map(layer => layer.layer),
        nodes: result.layers.flatMap(layer => layer.units.map(unit => ({
            id: `${layer.layer}#${unit.unit}`, layer: layer.layer, unit: unit.unit, delta: unit.relativeChange,
            benignImportance: unit.benignImportance, adversarialImportance: unit.adversarialImportance, side: sides[unit.group] ?? 'both',
            vulnerableAtEps: unit.vulnerableAtEps ?? null,
        }))),
        edges: result.edges.map(edge => ({
            from: `${edge.fromLayer}#${edge.fromUnit}`, to: `${edge.toLayer}#${edge.toUnit}`, weight: edge.influence,
            benignWeight: edge.benignInfluence, adversarialWeight: edge.adversarialInfluence,
        })),
        imageCount: result.imageCount, successRate: result.successRate,
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
        ranked: bundle.rank ? {
            layer: bundle.rank.layer, benignClass: bundle.rank.benignClass, adversarialClass: bundle.rank.adversarialClass,
            benignCount: bundle.rank.benignCount, adversarialCount: bundle.rank.adversarialCount,
            units: bundle.rank.units.map(u => ({ unit: u.unit, bandGap: u.bandGap, curveGap: u.curveGap })),
        } : null,
        attribution: bundle.attribution ? toAttribution(bundle.attribution) : null,
        missing: bundle.missing, pending: bundle.pending,
    };
}

/** Image space of the Dataset View: one entry per attacked item, with 2-D positions when profiles/compute ran: either one
 * 2-component profile, or (the daemon's profiles are 1-D) the first two layers' aligned axes as x and y. */
export function toDatasetImages(bundle: DatasetBundle): DatasetImage[] {
    const items = bundle.attackResult?.items ?? [];
    const profiles = bundle.profiles?.profiles ?? [];
    const xy = (pick: (profile: P.LayerProfile) => P.ArrayData | undefined): ((index: number) => [number, number] | null) => {
        if (profiles.length >= 2 && (profiles[0].background.shape[1] ?? 1) === 1) {
            const x = decodeArray(pick(profiles[0])), y = decodeArray(pick(profiles[1]));
            return index => (index < x.length && index < y.length ? [x[index], y[index]] : null);
        }
        const values = profiles[0] ? decodeArray(pick(profiles[0])) : new Float32Array(0);
        return index => (values.length >= 2 * (index + 1) ? [values[2 * index], values[2 * index + 1]] : null);
    };
    const benignXY = xy(profile => profile.background), adversarialXY = xy(profile => profile.foreground);
    return items.map((item, index) => ({
        index, source: item.source, trueLabel: item.trueClass ?? item.benign.class, benignLabel: item.benign.class, adversarialLabel: item.adversarial.class,
        benignProbability: item.benign.probability, adversarialProbability: item.adversarial.probability,
        benignProbabilityDrop: item.benignProbabilityDrop, adversarialProbabilityGain: item.adversarialProbabilityGain, success: item.success,
        perturbationL2: item.l2, adversarialPath: item.adversarialPath,
        benignXY: benignXY(index), adversarialXY: adversarialXY(index),
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
