// Daemon-shaped data for the browser tests: a MobileNetV2-sized graph (17 inverted-residual blocks, ~150 nodes, as
// model/graph returns it), Flow View profiles with 2,000 background images, and attack results for the Dataset View.
// Seeded, so every run draws the same thing.
import type * as P from '../../vscode-advvis/src/daemon/protocol';

export function random(seed: number): () => number {
    let state = seed >>> 0;
    return () => {
        state = (state * 1664525 + 1013904223) >>> 0;
        return state / 2 ** 32;
    };
}

const f32 = (values: ArrayLike<number>) => Buffer.from(new Float32Array(values).buffer).toString('base64');

export function mobileNetGraph(): P.ModelGraphResult {
    const nodes: P.GraphNode[] = [], edges: P.GraphEdge[] = [], blocks: P.GraphBlock[] = [];
    let last = -1;
    const add = (opType: string, category: P.LayerCategory, blockId: string | null, inputs: number[] = [last]) => {
        const index = nodes.length;
        nodes.push({ index, name: `${blockId ?? ''}/${opType}_${index}`, opType, inputs: inputs.map(i => (i < 0 ? 'input' : `v${i}`)), outputs: [`v${index}`], outputShapes: [[1, 32, 112, 112]],
            parameterCount: category === 'connectedWeighted' ? 864 : category === 'otherTrainable' ? 64 : 0, category, readsGraphInput: inputs.includes(-1), writesGraphOutput: false, blockId });
        for (const from of inputs) edges.push({ from, to: index, value: from < 0 ? 'input' : `v${from}`, shape: [1, 32, 112, 112], isBranch: inputs.length > 1 });
        last = index;
        return index;
    };
    add('Conv', 'connectedWeighted', null, [-1]); add('BatchNormalization', 'otherTrainable', null); add('Clip', 'noParameters', null);
    for (let b = 0; b < 17; b++) {
        const id = `block_${b}`;
        const start = nodes.length;
        const input = last;
        if (b > 0) { add('Conv', 'connectedWeighted', id); add('BatchNormalization', 'otherTrainable', id); add('Clip', 'noParameters', id); }
        add('Conv', 'connectedWeighted', id); add('BatchNormalization', 'otherTrainable', id); add('Clip', 'noParameters', id);
        add('Conv', 'connectedWeighted', id); add('BatchNormalization', 'otherTrainable', id);
        if (b > 0 && b % 3 !== 1) {
            const edge = edges.find(e => e.from === input && e.to === start);
            if (edge) edge.isBranch = true;
            add('Add', 'noParameters', id, [input, last]);
        }
        blocks.push({ id, label: id, parentId: null, depth: 0, nodes: Array.from({ length: nodes.length - start }, (_, i) => start + i), children: [], origin: 'nameScope', signature: '', repeatIndex: 1, repeatCount: 1 });
    }
    add('Conv', 'connectedWeighted', null); add('BatchNormalization', 'otherTrainable', null); add('Clip', 'noParameters', null);
    add('GlobalAveragePool', 'noParameters', null); add('Flatten', 'noParameters', null);
    const gemm = add('Gemm', 'connectedWeighted', null);
    nodes[gemm].writesGraphOutput = true;
    edges.push({ from: gemm, to: -1, value: `v${gemm}`, shape: [1, 1000], isBranch: false });
    return { nodes, edges, blocks, layers: nodes.map(n => n.outputs[0]) };
}

export function prediction(cls: number, probability: number): P.Prediction {
    return { class: cls, label: `class ${cls}`, probability, top5: [0, 1, 2, 3, 4].map(i => ({ class: (cls + i) % 10, label: `class ${(cls + i) % 10}`, probability: i === 0 ? probability : (1 - probability) / 4 })) };
}

export function explainResult(layers: string[], diverging: number): P.ExplainRunResult {
    const attack: P.AttackItem = { source: '/ws/digits/7.png', trueClass: 7, benign: prediction(7, 0.99), adversarial: prediction(3, 0.87), success: true, linf: 0.1, l2: 2.1,
        benignProbabilityDrop: 0.9, adversarialProbabilityGain: 0.86, adversarialPath: '/ws/.advvis/cache/adv-7.npy' };
    return {
        benign: attack.benign, adversarial: attack.adversarial, attack, fromCache: false,
        layers: layers.map((layer, i) => ({ layer, distance: i, backgroundSpread: 1, score: i < diverging ? 0.3 + 0.1 * i : 2 + i, topChangedUnits: [5, 9, 2, 14].map((unit, k) => ({ unit, value: 3 - k })) })),
        divergingPoint: { layer: layers[diverging], layerIndex: diverging, score: 2 + diverging },
    };
}

export function profiles(layers: string[], count: number, diverging: number): P.ProfilesComputeResult {
    const rand = random(42);
    const labels = Array.from({ length: count }, (_, i) => i % 10);
    return {
        layers, backgroundCount: count, backgroundLabels: labels, backgroundPredicted: labels, classNames: Array.from({ length: 10 }, (_, i) => `class ${i}`),
        alignment: layers.slice(1).map(() => 0.9), fingerprints: { shape: [10, layers.length, 20], base64: f32(new Float32Array(10 * layers.length * 20)) }, fromCache: false,
        divergingPoint: { layer: layers[diverging], layerIndex: diverging, score: 3 },
        profiles: layers.map((layer, l) => ({
            layer, trustworthiness: 0.9, histograms: { shape: [10, 20], base64: f32(new Float32Array(200)) },
            background: { shape: [count, 1], base64: f32(labels.map(label => label * (0.2 + l / layers.length) + rand())) },
            foreground: { shape: [2, 1], base64: f32([7 * (0.2 + l / layers.length), l < diverging ? 7 * (0.2 + l / layers.length) + 0.1 : 3 * (0.2 + l / layers.length)]) },
        })),
    };
}

export function layerReduce(layer: string, units: number): P.LayerReduceResult {
    const rand = random(7);
    const values = Array.from({ length: units }, () => rand() * 2 - 1);
    return { layer, layerShape: [units, 7, 7], unitCount: units, values: { shape: [units], base64: f32(values) }, top: [{ unit: 3, value: 0.9 }] };
}

export function attackResult(count: number): P.AttackRunResult {
    const rand = random(3);
    const items: P.AttackItem[] = Array.from({ length: count }, (_, i) => {
        const t = i % 10, a = rand() < 0.8 ? (t + 1 + Math.floor(rand() * 9)) % 10 : t;
        return { source: `/ws/data/${t}/${i}.png`, trueClass: t, benign: prediction(t, 0.9), adversarial: prediction(a, 0.6 + 0.3 * rand()), success: a !== t, linf: 0.1, l2: 1 + rand(),
            benignProbabilityDrop: rand(), adversarialProbabilityGain: rand(), adversarialPath: `/ws/.advvis/cache/${i}.npy` };
    });
    return { count, cleanAccuracy: 0.98, adversarialAccuracy: 0.2, successRate: 0.8, meanLinf: 0.1, meanL2: 1.5, budgetSpace: 'pixel', items, fromCache: false };
}

export function scatterProfiles(count: number): P.ProfilesComputeResult {
    const rand = random(5);
    const xy = (n: number) => f32(Array.from({ length: 2 * n }, () => rand() * 10));
    return {
        layers: ['pool'], backgroundCount: count, backgroundLabels: Array.from({ length: count }, (_, i) => i % 10), backgroundPredicted: [], classNames: [], alignment: [], fromCache: false,
        fingerprints: { shape: [0] }, profiles: [{ layer: 'pool', background: { shape: [count, 2], base64: xy(count) }, foreground: { shape: [count, 2], base64: xy(count) }, histograms: { shape: [0] }, trustworthiness: 0.9 }],
    };
}
