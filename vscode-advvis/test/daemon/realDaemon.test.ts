// The extension's daemon client and the webviews' converters against the REAL daemon (`advvis serve --stdio`, built by
// scripts/test-extension.sh): the MNIST model-zoo CNN and a shipped MNIST digit, in a temporary workspace. Asserts real
// results (12 nodes, the prediction of `advvis infer`, an attack that flips the class, a diverging point), sends the
// explanation panel's follow-up requests exactly as the host does, and checks that every part answers and converts into
// something drawable: the Flow View's aligned profiles with bundles and the diverging point, the attribution graph,
// unit visualizations, neurons/rank; and model/graph's blocks collapsed at the daemon's suggested depth.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CancellationTokenSource } from 'vscode-jsonrpc/node';
import { DaemonClient, DaemonError, type ProgressValue } from '../../src/daemon/client';
import { locateDaemon } from '../../src/daemon/bootstrap';
import { describeError } from '../../src/daemon/errors';
import { confinedRoots, inlineFiles } from '../../src/daemon/inline';
import { applyPart, explanationParts, visualizedUnits } from '../../src/commands/explainParts';
import type { AttackSpec, ExplainRunResult, ModelInfo, ParamsOf, MethodName, ResultOf } from '../../src/daemon/protocol';
import { ErrorCodes } from '../../src/daemon/protocol';
import type { ExplanationBundle } from '../../../webviews/shared/messages';
import { toDatasetImages, toExplanation, toModelGraph } from '../../../webviews/shared/convert';

const root = resolve(__dirname, '../../..');
const dll = process.env.ADVVIS_DLL ?? resolve(root, 'daemon/src/AdvVis.Cli/bin/Debug/net10.0/advvis.dll');
const shared = resolve(root, '../shared');
const modelSource = resolve(shared, 'models/mnist-zoo-opset7.onnx');
const digitsSource = resolve(shared, 'data/mnist/foolbox_samples');
// PGD with the Activation Profiles setting (pixel space): strong enough to flip a zoo-CNN digit.
const attack: AttackSpec = { kind: 'pgd', eps: 0.3, alpha: 0.075, steps: 40, seed: 0 };

let workspace: string, modelPath: string, digit: string;
let client: DaemonClient;
const log: string[] = [];
let model: ModelInfo;
let explain: ExplainRunResult;

const timed = async <T>(label: string, run: () => Promise<T>): Promise<T> => {
    const started = Date.now();
    try { return await run(); } finally { console.log(`real daemon: ${label} ${Date.now() - started} ms`); }
};
// Results inlined as the extension does (only files inside the workspace's cache/export folders). The daemon is told to
// inline at most 256 bytes itself, so arrays and PNGs arrive as cache files; one refused would be a confinement bug.
const refused: string[] = [];
let fileReferences = 0;
const inline = async <T>(value: T): Promise<T> => {
    fileReferences += (JSON.stringify(value).match(/"path":"[^"]*\.advvis[^"]*"/g) ?? []).length;
    return await inlineFiles(value, await confinedRoots(workspace, line => refused.push(line)), line => refused.push(line)) as T;
};
const dataUrlIsPng = (url: string | undefined) => !!url && Buffer.from(url.replace(/^data:image\/png;base64,/, ''), 'base64').subarray(1, 4).toString() === 'PNG';

beforeAll(async () => {
    if (!existsSync(dll)) throw new Error(`No daemon at ${dll}: run \`dotnet build daemon/src/AdvVis.Cli\` (scripts/test-extension.sh does).`);
    if (!existsSync(modelSource)) throw new Error(`${modelSource} is missing: the shared models must lie beside the repository.`);
    workspace = mkdtempSync(join(tmpdir(), 'advvis-real-'));
    mkdirSync(join(workspace, 'digits'));
    modelPath = join(workspace, 'mnist.onnx');
    copyFileSync(modelSource, modelPath);
    for (const name of readdirSync(digitsSource).filter(n => n.endsWith('.png')).slice(0, 10)) copyFileSync(join(digitsSource, name), join(workspace, 'digits', name));
    digit = join(workspace, 'digits', 'mnist_08_5.png');
    const located = locateDaemon(dll, root, ['--workspace', workspace], {});
    client = new DaemonClient(() => located, { log: line => log.push(line), onUnexpectedExit: description => log.push(`UNEXPECTED EXIT ${description}`) });
    await timed('start + ping', () => client.request('daemon/ping', undefined));
});

afterAll(async () => {
    await client?.dispose();
    if (workspace) rmSync(workspace, { recursive: true, force: true });
});

describe('the real daemon', () => {
    it('answers ping and registers every method protocol.ts names', async () => {
        const ping = await client.request('daemon/ping', undefined);
        expect(ping.pong).toBe(true);
        expect(ping.version).toMatch(/^\d+\.\d+/);
        const registered = (await client.request('daemon/methods', undefined)).methods.map(m => m.name);
        const mirrored: MethodName[] = ['workspace/configure', 'cache/stats', 'cache/clear', 'model/open', 'model/close', 'model/list', 'model/graph', 'model/predict',
            'attack/run', 'explain/run', 'profiles/compute', 'layer/reduce', 'layer/activationMaps', 'unit/visualize', 'unit/connections', 'unit/receptiveFields',
            'vulnerability/map', 'neurons/rank', 'neurons/cluster', 'attribution/graph', 'neurons/edit', 'export/write'];
        expect(mirrored.filter(name => !registered.includes(name))).toEqual([]);
        const configured = await client.request('workspace/configure', { workspaceRoot: workspace, cacheDir: join(workspace, '.advvis', 'cache'), exportDir: join(workspace, '.advvis', 'export'), inlineLimitBytes: 256 });
        expect(configured.cacheDir).toBe(join(workspace, '.advvis', 'cache'));
    });

    it('opens the MNIST model; its graph (weight-only nodes folded) converts to the Architecture View model with 11 nodes and collapses at the suggested depth', async () => {
        model = await timed('model/open', () => client.request('model/open', { path: modelPath }));
        expect(model.handle).toMatch(/^[0-9a-f]{16}$/);
        expect(model.nodeCount).toBe(12);
        expect(model.preprocessing).toMatchObject({ width: 28, height: 28, channels: 1 });
        expect(model.classCount).toBe(10);
        const graph = await timed('model/graph', () => client.request('model/graph', { model: model.handle }));
        const view = toModelGraph(modelPath, graph, model);
        expect(view.modelName).toBe('mnist.onnx');
        // The ONNX file has 12 nodes; model/graph folds the weight-only Reshape into its reader.
        expect(graph.nodes).toHaveLength(11);
        expect(view.nodes).toHaveLength(11);
        expect(view.nodes.filter(node => node.opType === 'Conv').map(node => node.category)).toEqual(['weighted', 'weighted']);
        expect(view.parameterCount).toBe(5994);
        for (const edge of view.edges) {
            expect(edge.from).toBeGreaterThanOrEqual(-1);
            expect(edge.from).toBeLessThan(11);
            expect(edge.to).toBeLessThan(11);
        }
        expect(view.edges.some(edge => edge.from === -1)).toBe(true);
        expect(graph.layers).toContain('ReLU114_Output_0');
        // Blocks: every node index they name is a node of this graph; collapsing at the suggested depth gives fewer items.
        expect(graph.blocks.length).toBeGreaterThan(0);
        for (const block of graph.blocks) for (const index of block.nodes) expect(index).toBeLessThan(11);
        expect(view.defaultCollapseDepth).toBe(graph.defaultCollapseDepth);
        const collapsed = await client.request('model/graph', { model: model.handle, collapseDepth: graph.defaultCollapseDepth });
        expect(collapsed.collapsedItems!.length).toBeGreaterThan(0);
        expect(collapsed.collapsedItems!.length).toBeLessThan(11);
        expect(collapsed.collapsedItems!.some(item => item.isBlock)).toBe(true);
    });

    it('predicts the digit as `advvis infer` does', async () => {
        const infer = JSON.parse(execFileSync('dotnet', [dll, 'infer', modelPath, '--input', digit, '--json'], { encoding: 'utf8' })) as { results: { top5: { class: number; probability: number }[] }[] };
        const predicted = await timed('model/predict', () => client.request('model/predict', { model: model.handle, items: { images: [digit] } }));
        const prediction = predicted.items[0].prediction;
        expect(prediction.class).toBe(infer.results[0].top5[0].class);
        expect(prediction.class).toBe(5);
        expect(prediction.probability).toBeCloseTo(infer.results[0].top5[0].probability, 5);
        expect(prediction.top5.map(score => score.class)).toEqual(infer.results[0].top5.map(score => score.class));
    });

    it('attacks the digit with progress; the Dataset View converter reads the result', async () => {
        const progress: ProgressValue[] = [];
        const result = await (timed('attack/run (PGD 40 steps, 1 image)', () => client.request('attack/run', { model: model.handle, items: { images: [digit], labels: [5] }, attack, returnImages: true }, { onProgress: value => progress.push(value) })));
        expect(result.count).toBe(1);
        expect(result.budgetSpace).toBe('pixel [0,1]');
        if (!result.fromCache) {
            expect(progress[0]?.kind).toBe('begin');
            expect(progress[progress.length - 1]?.kind).toBe('end');
        }
        const item = result.items![0];
        expect(item.benign.class).toBe(5);
        expect(item.linf).toBeLessThanOrEqual(attack.eps + 1e-5);
        expect(existsSync(item.adversarialPath!)).toBe(true);
        const images = toDatasetImages({ modelPath, model: model.handle, datasetPath: join(workspace, 'digits'), attack, classNames: [], attackResult: await inline(result), missing: [], pending: [] });
        expect(images).toHaveLength(1);
        expect(images[0]).toMatchObject({ trueLabel: 5, benignLabel: 5, success: item.success, adversarialLabel: item.adversarial.class });
        expect(dataUrlIsPng(images[0].adversarialThumb)).toBe(true);
    });

    it('explains the digit: predictions before and after, per-layer divergence and the diverging point', async () => {
        explain = await (timed('explain/run', async () => await inline(await client.request('explain/run', { model: model.handle, image: digit, attack, topUnits: 10 }, { onProgress: () => undefined }))));
        expect(explain.benign.class).toBe(5);
        expect(explain.adversarial.class).not.toBe(5);
        expect(explain.attack.success).toBe(true);
        expect(explain.layers.length).toBeGreaterThanOrEqual(2);
        const layerNames = explain.layers.map(layer => layer.layer);
        expect(layerNames).toContain(explain.divergingPoint!.layer);
        const bundle: ExplanationBundle = { imagePath: digit, modelPath, model: model.handle, attack, explain, missing: [], pending: [] };
        const view = toExplanation(bundle)!;
        expect(view.benign).toMatchObject({ label: 5, name: '5' });
        expect(view.adversarial.label).toBe(explain.adversarial.class);
        expect(view.divergingLayer).toBe(explain.divergingPoint!.layer);
        expect(view.divergence.map(d => d.layer)).toEqual(layerNames);
        expect(view.divergence.every(d => Number.isFinite(d.score))).toBe(true);
        expect(dataUrlIsPng(view.adversarialImage)).toBe(true);
        expect(dataUrlIsPng(view.perturbationImage)).toBe(true);
        expect(view.neurons.length).toBeGreaterThan(0);
        expect(view.neurons[0].layer).toBe(explain.divergingPoint!.layer);
    });

    it("sends the panel's follow-up requests; each answers and converts into what the views draw", async () => {
        let bundle: ExplanationBundle = { imagePath: digit, modelPath, model: model.handle, attack, explain, missing: [], pending: [] };
        // As the panel sends it for an advvis.json "background": the MNIST test set, first 300 digits.
        const background = { dataset: { path: join(shared, 'data/mnist/t10k-images-idx3-ubyte.gz'), labels: join(shared, 'data/mnist/t10k-labels-idx1-ubyte.gz'), limit: 300 } };
        const parts = explanationParts(bundle, background);
        expect(parts.filter(part => part.skip)).toEqual([]);
        expect(parts.filter(part => part.method === 'unit/visualize')).toHaveLength(visualizedUnits);
        const failures: string[] = [];
        for (const part of parts) {
            try {
                const result = await timed(part.method, async () => inline(await client.request(part.method, part.params as ParamsOf<typeof part.method>, { onProgress: () => undefined })));
                bundle = applyPart(bundle, part, result);
            } catch (error) {
                failures.push(`${part.method}: ${describeError(part.method, error)}`);
            }
        }
        // Every method the panel uses is implemented now: none may fail.
        expect(failures).toEqual([]);
        const view = toExplanation(bundle)!;
        expect(view.layer!.values).toHaveLength(bundle.layer!.unitCount);
        expect(view.layer!.isDifference).toBe(true);
        expect(view.layer?.maps?.every(map => map.image.startsWith('data:image/png')) ?? true).toBe(true);
        expect(view.vulnerabilityMaps!.benign).toMatchObject({ width: 28, height: 28 });
        expect(view.vulnerabilityMaps!.benign.data).toHaveLength(28 * 28);
        expect(view.neurons.some(neuron => dataUrlIsPng(neuron.benignField))).toBe(true);

        // Flow View: the real profiles: aligned axes in [0, 1], the benign digit and its adversarial twin, bundles, the diverging point.
        const profiles = bundle.profiles!;
        const flow = view.flow!;
        expect(flow.layers).toEqual(explain.layers.map(layer => layer.layer));
        expect(flow.background).toHaveLength(300);
        for (const row of flow.background) for (const v of row) { expect(v).toBeGreaterThanOrEqual(-1e-6); expect(v).toBeLessThanOrEqual(1 + 1e-6); }
        expect(flow.backgroundLabels.slice(0, 5)).toEqual([7, 2, 1, 0, 4]); // the MNIST test set's first labels (labelBy true)
        expect(flow.benign.every(Number.isFinite)).toBe(true);
        expect(flow.adversarial.every(Number.isFinite)).toBe(true);
        expect(flow.benignClass).toBe(5);
        expect(flow.adversarialClass).not.toBe(5);
        expect(profiles.pairs).toHaveLength(1);
        expect(flow.divergingLayer).not.toBeNull();
        expect(flow.layers[flow.divergingLayer!]).toBe(profiles.pairs![0].divergingPoint!.layer);
        expect(flow.scores.every(s => Number.isFinite(s.score) && s.profileDistance !== null)).toBe(true);
        expect(flow.bundles.length).toBeGreaterThan(flow.layers.length - 1);
        expect(flow.bundles.reduce((sum, b) => sum + (b.pair === 0 ? b.count : 0), 0)).toBe(300);
        expect(flow.alignment).toHaveLength(flow.layers.length - 1);
        expect(flow.spines.length).toBeGreaterThan(0);

        // Unit visualizations of the diverging layer's top units, and neurons/rank's band gaps for them.
        expect(bundle.visualizations).toHaveLength(visualizedUnits);
        expect(view.neurons.filter(neuron => neuron.visualization && dataUrlIsPng(neuron.visualization.image))).toHaveLength(visualizedUnits);
        expect(bundle.rank!.layer).toBe(explain.divergingPoint!.layer);
        expect(bundle.rank!.benignCount).toBeGreaterThan(0);
        expect(view.ranked!.units.length).toBeGreaterThan(0);
        expect(view.neurons.some(neuron => neuron.bandGap !== undefined)).toBe(true);

        // Attribution graph: units per layer in the four groups, influence edges between consecutive layers.
        const attribution = view.attribution!;
        expect(attribution.imageCount).toBe(1);
        expect(attribution.layers.length).toBeGreaterThanOrEqual(2);
        expect(attribution.nodes.length).toBeGreaterThan(0);
        expect(attribution.edges.length).toBeGreaterThan(0);
        const ids = new Set(attribution.nodes.map(node => node.id));
        expect(attribution.edges.every(edge => ids.has(edge.from) && ids.has(edge.to))).toBe(true);
        expect(attribution.nodes.every(node => ['benign', 'adversarial', 'both', 'inactive'].includes(node.side))).toBe(true);
    });

    it('answers the parameter rules: profiles/compute with 2 components, vulnerability/map with both or neither of adversarial and attack (-32602)', async () => {
        const background = { dataset: { path: join(shared, 'data/mnist/t10k-images-idx3-ubyte.gz'), labels: join(shared, 'data/mnist/t10k-labels-idx1-ubyte.gz'), limit: 50 } };
        const twoD = await client.request('profiles/compute', { model: model.handle, layers: ['ReLU114_Output_0'], background, components: 2 }).catch((e: unknown) => e) as DaemonError;
        expect(twoD.code).toBe(ErrorCodes.InvalidParams);
        const neither = await client.request('vulnerability/map', { model: model.handle, image: digit }).catch((e: unknown) => e) as DaemonError;
        expect(neither.code).toBe(ErrorCodes.InvalidParams);
        // With `attack`, the daemon attacks the image itself and returns the adversarial input it made.
        const attacked = await timed('vulnerability/map (attack)', () => client.request('vulnerability/map', { model: model.handle, image: digit, attack }));
        expect(attacked.benignClass).toBe(5);
        expect(existsSync(attacked.adversarialPath!)).toBe(true);
    });

    it("runs the robustness report's suite (APGD-CE only, 20 Fashion-MNIST images, two ε and the default budget) with progress", async () => {
        const fmnist = await client.request('model/open', { path: join(shared, 'models/fmnist-cnn-paper.onnx') });
        const items = { dataset: { path: join(shared, 'data/fashion-mnist/fmnist-test-2000.npz'), limit: 20 } };
        const progress: ProgressValue[] = [];
        const params = { model: fmnist.handle, items, norm: 'linf', eps: [0.1, 0.02], version: 'custom', attacks: ['apgdCe'], steps: 20, seed: 0 } as const;
        const result = await timed('robustness/evaluate (APGD-CE 20 steps, 20 images, 2 ε)', () => client.request('robustness/evaluate', { ...params, eps: [...params.eps], attacks: [...params.attacks] }, { onProgress: value => progress.push(value) }));
        expect(result).toMatchObject({ norm: 'linf', version: 'custom', attacks: ['apgd-ce'], defaultEps: false, budgetSpace: 'pixel [0,1]' });
        if (!result.fromCache) expect(progress.some(value => value.kind === 'report' || value.kind === 'begin')).toBe(true);
        expect(result.results.map(at => at.eps).sort()).toEqual([0.02, 0.1]);
        for (const at of result.results) {
            expect(at.count).toBe(20);
            expect(at.stages).toHaveLength(1);
            const [stage] = at.stages;
            expect(stage.attack).toBe('apgd-ce');
            // Only the correctly classified points are attacked; robust accuracy is what is left after the stage.
            expect(stage.attacked).toBe(Math.round(at.cleanAccuracy * at.count));
            expect(stage.robustAfter).toBe(stage.attacked - stage.fooled);
            expect(stage.robustAccuracy).toBeCloseTo(stage.robustAfter / at.count, 6);
            expect(at.robustAccuracy).toBeCloseTo(stage.robustAccuracy, 6);
            expect(at.maxPerturbation).toBeLessThanOrEqual(at.eps + 1e-5);
            expect(at.invalidExamples).toBe(0);
            expect(Array.isArray(at.flags)).toBe(true);
        }
        const [small, large] = [...result.results].sort((a, b) => a.eps - b.eps);
        console.log(`real daemon: robustness clean ${small.cleanAccuracy}, APGD-CE ε 0.02 ${small.robustAccuracy}, ε 0.1 ${large.robustAccuracy}, fromCache ${result.fromCache}`);
        expect(large.robustAccuracy).toBeLessThanOrEqual(small.robustAccuracy);
        expect(large.robustAccuracy).toBeLessThan(large.cleanAccuracy); // L∞ 0.1 fools this undefended CNN on some of 20 images
        // No ε: the daemon's standard budget for 28×28 grey inputs (L∞ 0.3, as model/open lists it), and it says so.
        expect(fmnist.standardBudgets).toEqual([{ norm: 'linf', eps: expect.closeTo(0.3, 6) }, { norm: 'l2', eps: expect.closeTo(1.5, 6) }]);
        const standard = await client.request('robustness/evaluate', { model: fmnist.handle, items, norm: 'linf', version: 'custom', attacks: ['apgdCe'], steps: 5, seed: 0 });
        expect(standard.defaultEps).toBe(true);
        expect(standard.results.map(at => at.eps)).toEqual([expect.closeTo(0.3, 6)]);
    });

    it('gives the Dataset View 1-D profiles of two layers on one path, which convert to scatterplot positions', async () => {
        const dataset = { path: join(shared, 'data/mnist/t10k-images-idx3-ubyte.gz'), labels: join(shared, 'data/mnist/t10k-labels-idx1-ubyte.gz'), limit: 60 };
        const attacked = await inline(await client.request('attack/run', { model: model.handle, items: { dataset }, attack: { kind: 'fgsm', eps: 0.2 } }));
        const adversarial = attacked.items!.map(item => item.adversarialPath!);
        const profiles = await timed('profiles/compute (dataset view)', async () => await inline(await client.request('profiles/compute', { model: model.handle, layers: ['Pooling160_Output_0_reshape0', 'Plus214_Output_0'], background: { dataset }, foreground: adversarial, labelBy: 'true', seed: 42 })));
        const images = toDatasetImages({ modelPath, model: model.handle, datasetPath: dataset.path, attack, classNames: [], attackResult: attacked, profiles, missing: [], pending: [] });
        expect(images).toHaveLength(60);
        expect(images.every(image => image.benignXY && image.adversarialXY)).toBe(true);
    });

    it('cancels a running explain/run with $/cancelRequest', async () => {
        const source = new CancellationTokenSource();
        const pending = client.request('explain/run', { model: model.handle, image: digit, attack: { ...attack, steps: 5000, seed: Date.now() % 100_000 } }, { token: source.token, onProgress: () => undefined });
        setTimeout(() => source.cancel(), 300);
        const error = await pending.then(() => undefined, (e: unknown) => e) as DaemonError;
        expect(error).toBeInstanceOf(DaemonError);
        expect(error.code).toBe(ErrorCodes.RequestCancelled);
        expect((await client.request('daemon/ping', undefined)).version).toBeTruthy();
    });

    it('serves a repeated explain/run from the cache', async () => {
        const again = await timed('explain/run (cached)', () => client.request('explain/run', { model: model.handle, image: digit, attack, topUnits: 10 }));
        expect(again.fromCache).toBe(true);
        expect(again.adversarial.class).toBe(explain.adversarial.class);
        expect(log.filter(line => line.startsWith('UNEXPECTED'))).toEqual([]);
    });

    it('named only result files that the extension\'s confinement accepts (inside the workspace\'s cache or export folder)', () => {
        console.log(`real daemon: ${fileReferences} result files inlined`);
        expect(fileReferences).toBeGreaterThan(0);
        expect(refused).toEqual([]);
    });

    it('answers a bad image with -32002 naming the file', async () => {
        const error = await client.request('model/predict', { model: model.handle, items: { images: [join(workspace, 'missing.png')] } }).catch((e: unknown) => e) as DaemonError;
        expect(error.code).toBe(ErrorCodes.BadInput);
        expect(describeError('model/predict', error)).toContain('missing.png');
    });
});
