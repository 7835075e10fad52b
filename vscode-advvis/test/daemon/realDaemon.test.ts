// The extension's daemon client and the webviews' converters against the REAL daemon (`advvis serve --stdio`, built by
// scripts/test-extension.sh): the MNIST model-zoo CNN and a shipped MNIST digit, in a temporary workspace. Asserts real
// results (12 nodes, the prediction of `advvis infer`, an attack that flips the class, a diverging point), sends the
// explanation panel's follow-up requests exactly as the host does, and checks that every part either converts into
// something drawable or fails with a message a user can act on (-32006 while an analysis has not landed).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CancellationTokenSource } from 'vscode-jsonrpc/node';
import { DaemonClient, DaemonError, type ProgressValue } from '../../src/daemon/client';
import { locateDaemon } from '../../src/daemon/bootstrap';
import { describeError, isMissingMethod } from '../../src/daemon/errors';
import { inlineFiles } from '../../src/daemon/inline';
import { explanationParts } from '../../src/commands/explainParts';
import type { AttackSpec, ExplainRunResult, ModelInfo, ParamsOf, MethodName } from '../../src/daemon/protocol';
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
/** While an analysis has not landed the daemon answers -32006; then the test checks the message a user sees and skips. */
async function orSkipIfNotLanded<T>(method: MethodName, skip: (note: string) => void, run: () => Promise<T>): Promise<T> {
    try {
        return await run();
    } catch (error) {
        if ((error as DaemonError).code !== ErrorCodes.NotImplemented) throw error;
        expect(describeError(method, error)).toContain(method);
        console.log(`real daemon: ${method} is not in this daemon build yet (-32006): ${(error as Error).message}`);
        skip(`${method} not in this daemon build`);
        throw error;
    }
}
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
        const configured = await client.request('workspace/configure', { workspaceRoot: workspace, cacheDir: join(workspace, '.advvis', 'cache'), exportDir: join(workspace, '.advvis', 'export') });
        expect(configured.cacheDir).toBe(join(workspace, '.advvis', 'cache'));
    });

    it('opens the MNIST model, and its graph converts to the Architecture View model with 12 nodes', async () => {
        model = await timed('model/open', () => client.request('model/open', { path: modelPath }));
        expect(model.handle).toMatch(/^[0-9a-f]{16}$/);
        expect(model.nodeCount).toBe(12);
        expect(model.preprocessing).toMatchObject({ width: 28, height: 28, channels: 1 });
        expect(model.classCount).toBe(10);
        const graph = await timed('model/graph', () => client.request('model/graph', { model: model.handle }));
        const view = toModelGraph(modelPath, graph, model);
        expect(view.modelName).toBe('mnist.onnx');
        expect(view.nodes).toHaveLength(12);
        expect(view.nodes.filter(node => node.opType === 'Conv').map(node => node.category)).toEqual(['weighted', 'weighted']);
        expect(view.parameterCount).toBe(5994);
        for (const edge of view.edges) {
            expect(edge.from).toBeGreaterThanOrEqual(-1);
            expect(edge.from).toBeLessThan(12);
            expect(edge.to).toBeLessThan(12);
        }
        expect(view.edges.some(edge => edge.from === -1)).toBe(true);
        expect(graph.layers).toContain('ReLU114_Output_0');
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

    it('attacks the digit with progress; the Dataset View converter reads the result', async ({ skip }) => {
        const progress: ProgressValue[] = [];
        const result = await orSkipIfNotLanded('attack/run', skip, () => timed('attack/run (PGD 40 steps, 1 image)', () => client.request('attack/run', { model: model.handle, items: { images: [digit], labels: [5] }, attack, returnImages: true }, { onProgress: value => progress.push(value) })));
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
        const images = toDatasetImages({ modelPath, model: model.handle, datasetPath: join(workspace, 'digits'), attack, classNames: [], attackResult: await inlineFiles(result) as typeof result, missing: [], pending: [] });
        expect(images).toHaveLength(1);
        expect(images[0]).toMatchObject({ trueLabel: 5, benignLabel: 5, success: item.success, adversarialLabel: item.adversarial.class });
        expect(dataUrlIsPng(images[0].adversarialThumb)).toBe(true);
    });

    it('explains the digit: predictions before and after, per-layer divergence and the diverging point', async ({ skip }) => {
        explain = await orSkipIfNotLanded('explain/run', skip, () => timed('explain/run', async () => await inlineFiles(await client.request('explain/run', { model: model.handle, image: digit, attack, topUnits: 10 }, { onProgress: () => undefined })) as ExplainRunResult));
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

    it("sends the panel's follow-up requests; each converts, or fails with a message a user can act on", async ({ skip }) => {
        if (!explain) skip('explain/run not in this daemon build');
        let bundle: ExplanationBundle = { imagePath: digit, modelPath, model: model.handle, attack, explain, missing: [], pending: [] };
        // As the panel sends it for an advvis.json "background": the MNIST test set, first 300 digits.
        const background = { dataset: { path: join(shared, 'data/mnist/t10k-images-idx3-ubyte.gz'), labels: join(shared, 'data/mnist/t10k-labels-idx1-ubyte.gz'), limit: 300 } };
        const parts = explanationParts(bundle, background);
        expect(parts.filter(part => part.skip)).toEqual([]);
        const outcome: string[] = [];
        for (const part of parts) {
            try {
                const result = await timed(part.method, async () => inlineFiles(await client.request(part.method, part.params as ParamsOf<typeof part.method>, { onProgress: () => undefined })));
                bundle = { ...bundle, [part.key]: result };
                outcome.push(`${part.method} → ${String(part.key)}: ok`);
            } catch (error) {
                // A method whose analysis has not landed must say so (-32006 naming it), never fail obscurely.
                expect(isMissingMethod(error), `${part.method} failed: ${(error as Error).message}`).toBe(true);
                const message = describeError(part.method, error);
                expect(message).toContain(part.method.split('/')[0]);
                bundle = { ...bundle, missing: [...bundle.missing, { method: part.method, message }] };
                outcome.push(`${part.method}: not available (${(error as Error).message.slice(0, 100)})`);
            }
        }
        console.log(`real daemon: explanation parts\n  ${outcome.join('\n  ')}`);
        const view = toExplanation(bundle)!;
        if (bundle.layer) {
            expect(view.layer!.values).toHaveLength(bundle.layer.unitCount);
            expect(view.layer!.isDifference).toBe(true);
        }
        if (bundle.maps) expect(view.layer?.maps?.every(map => map.image.startsWith('data:image/png')) ?? true).toBe(true);
        if (bundle.vulnerability) {
            expect(view.vulnerabilityMaps!.benign).toMatchObject({ width: 28, height: 28 });
            expect(view.vulnerabilityMaps!.benign.data).toHaveLength(28 * 28);
        }
        if (bundle.fieldsBenign) expect(view.neurons.some(neuron => dataUrlIsPng(neuron.benignField))).toBe(true);
        if (bundle.profiles) {
            expect(view.flow!.layers).toEqual(bundle.profiles.layers);
            expect(view.flow!.background).toHaveLength(300);
            expect(view.flow!.divergingLayer).not.toBeNull();
        }
        if (bundle.attribution) expect(view.attribution!.nodes.length).toBeGreaterThan(0);
        // The Layer View of the diverging point is what the panel shows first: it must work on the real daemon.
        expect(outcome.find(line => line.startsWith('layer/reduce'))).toContain('ok');
    });

    it('cancels a running explain/run with $/cancelRequest', async ({ skip }) => {
        if (!explain) skip('explain/run not in this daemon build');
        const source = new CancellationTokenSource();
        const pending = client.request('explain/run', { model: model.handle, image: digit, attack: { ...attack, steps: 5000, seed: Date.now() % 100_000 } }, { token: source.token, onProgress: () => undefined });
        setTimeout(() => source.cancel(), 300);
        const error = await pending.then(() => undefined, (e: unknown) => e) as DaemonError;
        expect(error).toBeInstanceOf(DaemonError);
        expect(error.code).toBe(ErrorCodes.RequestCancelled);
        expect((await client.request('daemon/ping', undefined)).version).toBeTruthy();
    });

    it('serves a repeated explain/run from the cache', async ({ skip }) => {
        if (!explain) skip('explain/run not in this daemon build');
        const again = await timed('explain/run (cached)', () => client.request('explain/run', { model: model.handle, image: digit, attack, topUnits: 10 }));
        expect(again.fromCache).toBe(true);
        expect(again.adversarial.class).toBe(explain.adversarial.class);
        expect(log.filter(line => line.startsWith('UNEXPECTED'))).toEqual([]);
    });

    it('answers a bad image with -32002 naming the file', async () => {
        const error = await client.request('model/predict', { model: model.handle, items: { images: [join(workspace, 'missing.png')] } }).catch((e: unknown) => e) as DaemonError;
        expect(error.code).toBe(ErrorCodes.BadInput);
        expect(describeError('model/predict', error)).toContain('missing.png');
    });
});
