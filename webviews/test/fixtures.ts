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
    return { nodes, edges, blocks, layers: nodes.map(n => n.outputs[0]), defaultCollapseDepth: 0 };
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

/** profiles/compute as the daemon answers it with `attack`: positions normalised to [0, 1], the pair, bundles, spines. */
export function profiles(layers: string[], count: number, diverging: number): P.ProfilesComputeResult {
    const rand = random(42);
    const labels = Array.from({ length: count }, (_, i) => i % 10);
    const position = (label: number, l: number) => Math.min(1, Math.max(0, (label + 0.5) / 10 + (rand() - 0.5) * (0.05 + 0.1 * l / layers.length)));
    const background = layers.map((_, l) => labels.map(label => position(label, l)));
    const benign = layers.map(() => 0.75), adversarial = layers.map((_, l) => (l < diverging ? 0.73 : 0.35));
    const divergence = layers.map((layer, l) => ({ layer, distance: l, backgroundSpread: 1, score: l < diverging ? 0.2 + 0.02 * l : 1 + 0.1 * l, topChangedUnits: [], profileDistance: Math.abs(benign[l] - adversarial[l]) }));
    const bundles: P.ProfileBundle[] = [];
    for (let pair = 0; pair + 1 < layers.length; pair++) {
        for (let label = 0; label < 10; label++) bundles.push({ pair, label, count: count / 10, from: (label + 0.5) / 10, to: (label + 0.5) / 10, fromSpread: 0.02, toSpread: 0.02 });
    }
    return {
        layers, backgroundCount: count, backgroundLabels: labels, backgroundPredicted: labels, colourLabels: labels, classNames: Array.from({ length: 10 }, (_, i) => `class ${i}`),
        alignment: layers.slice(1).map(() => 0.9), fingerprints: { shape: [10, layers.length, 20], base64: f32(new Float32Array(10 * layers.length * 20)) }, fromCache: false,
        divergence, divergingPoint: { layer: layers[diverging], layerIndex: diverging, score: divergence[diverging].score },
        foregroundPredicted: [7], foregroundAdversarialPredicted: [3],
        pairs: [{ foreground: 0, layers: divergence, divergingPoint: { layer: layers[diverging], layerIndex: diverging, score: divergence[diverging].score }, jump: 0.8 }],
        bundles, spines: Array.from({ length: 10 }, (_, label) => ({ label, count: count / 10, q1: layers.map(() => label / 10), median: layers.map(() => (label + 0.5) / 10), q3: layers.map(() => (label + 1) / 10) })),
        profiles: layers.map((layer, l) => ({
            layer, histograms: { shape: [10, 20], base64: f32(new Float32Array(200)) }, features: 1000, min: -10, max: 10,
            background: { shape: [count, 1], base64: f32(background[l]) },
            foreground: { shape: [1, 1], base64: f32([benign[l]]) },
            foregroundAdversarial: { shape: [1, 1], base64: f32([adversarial[l]]) },
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

/** The Dataset View's profiles: two 1-D axes (penultimate layer, output) whose positions are x and y. */
export function scatterProfiles(count: number): P.ProfilesComputeResult {
    const rand = random(5);
    const axis = (n: number) => f32(Array.from({ length: n }, () => rand()));
    const profile = (layer: string): P.LayerProfile => ({ layer, background: { shape: [count, 1], base64: axis(count) }, foreground: { shape: [count, 1], base64: axis(count) }, histograms: { shape: [0] }, features: 10, min: 0, max: 1 });
    return {
        layers: ['pool', 'logits'], backgroundCount: count, backgroundLabels: Array.from({ length: count }, (_, i) => i % 10), backgroundPredicted: [], colourLabels: [], classNames: [], alignment: [0.5], fromCache: false,
        fingerprints: { shape: [0] }, profiles: [profile('pool'), profile('logits')], bundles: [], spines: [],
    };
}

/** attribution/graph over two layers: units in all four groups, influence edges between them. */
export function attributionResult(layers: string[]): P.AttributionGraphResult {
    const groups: P.UnitGroup[] = ['emphasized', 'suppressed', 'shared', 'inactive'];
    return {
        fromCache: false, imageCount: 1, successRate: 1,
        layers: layers.map(layer => ({ layer, units: groups.map((group, unit) => ({ unit, group, benignImportance: group === 'inactive' ? 0 : 1, adversarialImportance: group === 'emphasized' ? 2 : group === 'suppressed' ? 0.3 : group === 'inactive' ? 0 : 1.1,
            relativeChange: group === 'emphasized' ? 0.5 : group === 'suppressed' ? -0.7 : group === 'inactive' ? 0 : 0.1 })) })),
        edges: layers.slice(1).flatMap((layer, l) => [0, 1, 2].map(unit => ({ fromLayer: layers[l], fromUnit: unit, toLayer: layer, toUnit: (unit + 1) % 4, influence: 1 + unit, benignInfluence: unit, adversarialInfluence: 1 + unit }))),
    };
}

/** A 1×1 grey PNG as unit/visualize returns images. */
export const tinyPng = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGNgAAAAAgABSK+kcQAAAABJRU5ErkJggg==';

/** robustness/evaluate on fmnist-cnn-paper-like numbers: the standard L∞ suite at four ε, 500 images, with a flag. */
export function robustnessResult(): P.RobustnessEvaluateResult {
    const attacks = ['apgd-ce', 'apgd-t', 'fab-t', 'square'];
    const after: Record<number, number[]> = { 0.01: [0.716, 0.71, 0.71, 0.708], 0.02: [0.378, 0.372, 0.372, 0.37], 0.05: [0.032, 0.028, 0.028, 0.028], 0.1: [0, 0, 0, 0] };
    const results = Object.entries(after).map(([eps, robust]) => {
        const n = 500;
        let left = Math.round(0.912 * n);
        const stages = robust.map((accuracy, i) => {
            const robustAfter = Math.round(accuracy * n);
            const stage = { attack: attacks[i], attacked: left, fooled: left - robustAfter, robustAfter, robustAccuracy: accuracy, seconds: [14.2, 21.7, 9.3, 30.5][i] * (1 - Number(eps)) };
            left = robustAfter;
            return stage;
        });
        return { eps: Number(eps), count: n, cleanAccuracy: 0.912, robustAccuracy: robust[robust.length - 1], stages, maxPerturbation: Number(eps), invalidExamples: 0,
            seconds: stages.reduce((sum, stage) => sum + stage.seconds, 0),
            flags: [{ check: 'softmax-output', message: "the model's outputs are a probability distribution (it ends in a softmax); the attacks use their logarithm as logits, but an evaluation on the pre-softmax logits is more reliable." }] };
    });
    return { norm: 'linf', version: 'standard', attacks, results, defaultEps: false, budgetSpace: 'pixel [0,1]', fromCache: false };
}
