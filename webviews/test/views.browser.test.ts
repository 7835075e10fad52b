// The webview bundles in real headless Chromium (Debian's /usr/bin/chromium through playwright-core): the real HTML
// shell with its CSP, acquireVsCodeApi stubbed, daemon-shaped data posted in; asserts what is drawn, the messages posted
// back, and that nothing violates the CSP or logs an error. Prints draw times; screenshots go to out/test-artifacts/.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { webviewHtml } from '../../vscode-advvis/src/panels/webviewHtml';
import type { ExplanationBundle, HostMessage } from '../shared/messages';
import { attackResult, attributionResult, explainResult, layerReduce, mobileNetGraph, profiles, robustnessResult, scatterProfiles, tinyPng } from './fixtures';

const root = resolve(__dirname, '../..');
const media = resolve(root, 'vscode-advvis/media');
const artifacts = resolve(root, 'out/test-artifacts');
const origin = 'http://advvis.test';
const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const drawBudgetMs = 200;
let browser: Browser;

beforeAll(async () => {
    if (!existsSync(resolve(media, 'explain.js'))) throw new Error('Webview bundles missing: run `npm run build` first.');
    mkdirSync(artifacts, { recursive: true });
    browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
});
afterAll(async () => { await browser?.close(); });

interface Opened { page: Page; errors: string[]; posted: () => Promise<{ type: string; [key: string]: unknown }[]>; send: (message: HostMessage) => Promise<number> }

async function openView(view: 'architecture' | 'explain' | 'dataset', initialState?: unknown): Promise<Opened> {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const errors: string[] = [];
    page.on('console', message => { if (message.type() === 'error') errors.push(message.text()); });
    page.on('pageerror', error => errors.push(String(error)));
    await page.route(`${origin}/**`, route => {
        const url = new URL(route.request().url());
        if (url.pathname === '/index.html') {
            return route.fulfill({ contentType: 'text/html', body: webviewHtml({ cspSource: origin, scriptUri: `${origin}/media/${view}.js`, styleUri: `${origin}/media/advvis.css`, title: view }) });
        }
        const file = resolve(media, url.pathname.replace(/^\/media\//, ''));
        return existsSync(file) ? route.fulfill({ body: readFileSync(file), contentType: file.endsWith('.css') ? 'text/css' : 'text/javascript' }) : route.fulfill({ status: 404 });
    });
    await page.addInitScript(state => {
        const w = window as unknown as Record<string, unknown>;
        w.__posted = [];
        w.__state = state;
        w.__violations = [];
        document.addEventListener('securitypolicyviolation', event => (w.__violations as string[]).push(`${event.violatedDirective} ${event.blockedURI}`));
        w.acquireVsCodeApi = () => ({ postMessage: (m: unknown) => (w.__posted as unknown[]).push(JSON.parse(JSON.stringify(m))), getState: () => w.__state, setState: (s: unknown) => { w.__state = s; } });
    }, initialState);
    await page.goto(`${origin}/index.html`);
    const posted = () => page.evaluate(() => (window as unknown as { __posted: { type: string }[] }).__posted) as Promise<{ type: string; [key: string]: unknown }[]>;
    await expect.poll(async () => (await posted()).some(m => m.type === 'ready')).toBe(true);
    // Time from posting to the next painted frame: script, style, layout and paint of what the message drew.
    const send = (message: HostMessage) => page.evaluate(m => new Promise<number>(done => {
        const t0 = performance.now();
        window.postMessage(m, '*');
        setTimeout(() => requestAnimationFrame(() => requestAnimationFrame(() => done(performance.now() - t0))), 0);
    }), message);
    return { page, errors, posted, send };
}

async function finish(opened: Opened, name: string): Promise<void> {
    await opened.page.screenshot({ path: resolve(artifacts, `${name}.png`), fullPage: true });
    const violations = await opened.page.evaluate(() => (window as unknown as { __violations: string[] }).__violations);
    expect(violations).toEqual([]);
    expect(opened.errors).toEqual([]);
    await opened.page.close();
}

const graph = mobileNetGraph();
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

describe('Architecture View', () => {
    it(`draws a MobileNetV2-sized graph (${graph.nodes.length} nodes) in under ${drawBudgetMs} ms, collapses blocks and selects layers`, async () => {
        const view = await openView('architecture');
        const init: HostMessage = { type: 'init', view: 'architecture', body: { modelPath: '/ws/mobilenetv2.onnx', graph } };
        const collapsedMs = await view.send(init);
        const svg = view.page.locator('svg[data-node-count]');
        const outside = graph.nodes.filter(node => !node.blockId).length;
        await expect.poll(() => svg.getAttribute('data-node-count')).toBe(String(outside + graph.blocks.length));
        await view.page.getByText('Expand all').click();
        await expect.poll(() => svg.getAttribute('data-node-count')).toBe(String(graph.nodes.length));
        // Full redraw of every node, timed from the message to the painted frame.
        await view.page.evaluate(() => { (window as unknown as { __state: unknown }).__state = { collapsed: [] }; });
        const expanded: { frame: number; script: number }[] = [];
        for (let i = 0; i < 3; i++) expanded.push({ frame: await view.send(init), script: Number(await view.page.evaluate(() => document.body.dataset.drawMs)) });
        const expandedMs = median(expanded.map(r => r.frame)), scriptMs = median(expanded.map(r => r.script));
        console.log(`[draw] Architecture View, ${graph.nodes.length} nodes expanded: ${expandedMs.toFixed(1)} ms to frame (${scriptMs.toFixed(1)} ms script, median of 3); collapsed, first draw: ${collapsedMs.toFixed(1)} ms`);
        expect(expandedMs).toBeLessThan(drawBudgetMs);
        expect(await view.page.locator('g.graph-node[data-category="weighted"]').count()).toBe(graph.nodes.filter(n => n.category === 'connectedWeighted').length);
        expect(await view.page.locator('g.graph-node circle').count()).toBe(2); // graph input and output
        expect(await view.page.locator('path.graph-edge.branch').count()).toBeGreaterThan(0);
        expect(await view.page.locator('g.graph-block').count()).toBe(graph.blocks.length);

        await view.page.locator('g.graph-node[data-item="node:0"]').click();
        expect((await view.posted()).filter(m => m.type === 'selectLayers').at(-1)).toEqual({ type: 'selectLayers', layers: ['v0'] });
        await view.page.locator('g.graph-block[data-block="block_0"] > rect').click({ position: { x: 3, y: 3 } });
        await expect.poll(() => svg.getAttribute('data-node-count')).toBe(String(graph.nodes.length - graph.blocks[0].nodes.length + 1));
        const state = await view.page.evaluate(() => (window as unknown as { __state: { collapsed: string[]; selectedLayers: string[] } }).__state);
        expect(state).toMatchObject({ collapsed: ['block_0'], selectedLayers: ['v0'] });
        await finish(view, 'architecture-mobilenetv2');

        // Hidden and shown again: the webview is rebuilt with its saved state and draws the same.
        const again = await openView('architecture', state);
        await again.send(init);
        await expect.poll(() => again.page.locator('svg[data-node-count]').getAttribute('data-node-count')).toBe(String(graph.nodes.length - graph.blocks[0].nodes.length + 1));
        expect(await again.page.locator('g.graph-node.selected').count()).toBe(1);
        await finish(again, 'architecture-restored');
    });

    it('shows the daemon error instead of a graph', async () => {
        const view = await openView('architecture');
        await view.send({ type: 'init', view: 'architecture', body: { modelPath: '/ws/bad.onnx', error: 'bad.onnx: not an ONNX file' } });
        await expect.poll(() => view.page.locator('.advvis-error').textContent()).toContain('not an ONNX file');
        await finish(view, 'architecture-error');
    });

    it('in Restricted Mode shows a notice and a trust button (posting manageTrust), and draws the graph sent after trust', async () => {
        const view = await openView('architecture');
        await view.send({ type: 'init', view: 'architecture', body: { modelPath: '/ws/mobilenetv2.onnx', restricted: true } });
        const notice = view.page.locator('.advvis-restricted');
        await expect.poll(() => notice.textContent()).toContain('Restricted Mode');
        expect(await view.page.locator('svg').count()).toBe(0);
        await notice.locator('button', { hasText: 'Manage Workspace Trust' }).click();
        await expect.poll(async () => (await view.posted()).map(m => m.type)).toContain('manageTrust');
        await finish(view, 'architecture-restricted');
        const trusted = await openView('architecture');
        await trusted.send({ type: 'init', view: 'architecture', body: { modelPath: '/ws/mobilenetv2.onnx', restricted: true } });
        await trusted.send({ type: 'init', view: 'architecture', body: { modelPath: '/ws/mobilenetv2.onnx', graph } });
        await expect.poll(() => trusted.page.locator('svg[data-node-count]').count()).toBe(1);
        expect(await trusted.page.locator('.advvis-restricted').count()).toBe(0);
        await finish(trusted, 'architecture-trusted');
    });
});

const layers = Array.from({ length: 11 }, (_, i) => `/block_${i}/Add_output_0`);
function bundle(): ExplanationBundle {
    return {
        imagePath: '/ws/digits/7.png', modelPath: '/ws/mnist.onnx', model: 'abc', attack: { kind: 'pgd', eps: 0.1, alpha: 0.01, steps: 20 },
        explain: explainResult(layers, 6), profiles: profiles(layers, 2000, 6), pending: [],
        attribution: attributionResult([layers[5], layers[6]]),
        visualizations: [5, 9].map(unit => ({ layer: layers[6], unit, image: { width: 1, height: 1, channels: 1, pngBase64: tinyPng }, activation: 2, startActivation: 0.1, trace: [0.1, 2], fromCache: false })),
        missing: [{ method: 'neurons/rank', message: 'This daemon build does not offer the vulnerable neurons yet, so that part is not shown.' }],
    };
}

describe('Explanation panel', () => {
    it(`draws the Flow View with 2,000 background lines in under ${drawBudgetMs} ms and marks the diverging point`, async () => {
        const view = await openView('explain');
        const init: HostMessage = { type: 'init', view: 'explain', body: bundle() };
        const cold = await view.send(init);
        const runs: { frame: number; flow: number }[] = [];
        for (let i = 0; i < 3; i++) runs.push({ frame: await view.send(init), flow: Number(await view.page.locator('#flow svg').getAttribute('data-draw-ms')) });
        const frame = median(runs.map(r => r.frame)), flow = median(runs.map(r => r.flow));
        console.log(`[draw] Flow View, 2,000 background lines × ${layers.length} layers: ${flow.toFixed(1)} ms script (median of 3); whole panel ${frame.toFixed(1)} ms to frame (first, cold: ${cold.toFixed(1)} ms)`);
        expect(frame).toBeLessThan(drawBudgetMs);
        expect(await view.page.locator('g.flow-background').getAttribute('data-lines')).toBe('2000');
        expect(await view.page.locator('g.flow-background g.flow-background-label').count()).toBe(10);
        expect(await view.page.locator('path.flow-foreground').count()).toBe(2);
        expect(await view.page.locator('rect.diverging-band').getAttribute('data-diverging')).toBe(layers[6]);
        expect(await view.page.locator('g.flow-axis.diverging').getAttribute('data-layer')).toBe(layers[6]);
        expect(await view.page.locator('.prediction[data-role="benign"] .label').textContent()).toBe('Benign: class 7 (99.0%)');
        expect(await view.page.locator('.prediction[data-role="adversarial"] .label').textContent()).toBe('Adversarial: class 3 (87.0%)');
        expect(await view.page.locator('#flow svg').getAttribute('data-bundles')).toBe('100');
        expect(await view.page.locator('g.flow-bundles path.flow-bundle').count()).toBe(100);
        expect(await view.page.locator('g.flow-alignment text').count()).toBe(layers.length - 1);
        expect(await view.page.locator('#attribution svg').getAttribute('data-nodes')).toBe('8');
        expect(await view.page.locator('#attribution g.attr-node[data-group="inactive"]').count()).toBe(2);
        expect(await view.page.locator('#attribution path.attr-edge').count()).toBe(3);
        expect(await view.page.locator('table.neurons img.visualization').count()).toBe(2);
        expect(await view.page.locator('#neurons').textContent()).toContain('does not offer the vulnerable neurons');
        expect(await view.page.locator('table.neurons tbody tr').count()).toBe(4);
        await finish(view, 'explain-flow-2000');
    });

    it('asks for the Layer View on an axis click, draws it, and posts unit and edit selections', async () => {
        const view = await openView('explain');
        await view.send({ type: 'init', view: 'explain', body: bundle() });
        await view.page.locator(`g.flow-axis[data-layer="${layers[3]}"] rect`).click();
        const rpcOf = async (method: string) => { let found: Record<string, unknown> | undefined; await expect.poll(async () => (found = (await view.posted()).find(m => m.type === 'rpc' && m.method === method))).toBeTruthy(); return found!; };
        const reduce = await rpcOf('layer/reduce');
        expect(reduce.params).toMatchObject({ model: 'abc', layer: layers[3], reduction: 'difference', items: { images: ['/ws/digits/7.png', '/ws/.advvis/cache/adv-7.npy'] } });
        await view.send({ type: 'rpcResult', requestId: reduce.requestId as number, result: layerReduce(layers[3], 64) });
        const maps = await rpcOf('layer/activationMaps');
        await view.send({ type: 'rpcResult', requestId: maps.requestId as number, error: { code: -32601, message: 'Method not found' } });
        await expect.poll(() => view.page.locator('svg.unit-grid').getAttribute('data-units')).toBe('64');
        expect(await view.page.locator('svg.unit-grid rect').count()).toBe(64);
        await view.page.locator('svg.unit-grid rect[data-unit="10"]').click();
        expect((await view.posted()).filter(m => m.type === 'selectUnit').at(-1)).toEqual({ type: 'selectUnit', layer: layers[3], unit: 10 });

        // Three units ticked: the result names three units deleted (not the images measured), and how many images.
        const boxes = view.page.locator('table.neurons tbody tr input[type=checkbox]');
        for (let i = 0; i < 3; i++) await boxes.nth(i).check();
        await view.page.locator('#delete-units').click();
        const asked = (await view.posted()).filter(m => m.type === 'editNeurons').at(-1) as { deletions: { layer: string; units: number[] }[] };
        expect(asked.deletions.flatMap(d => d.units).length).toBe(3);
        await view.send({ type: 'editResult', body: { edits: asked.deletions, count: 41, unitsDeleted: 3, labelsPredicted: true, before: { cleanAccuracy: 1, successRate: 1 }, after: { cleanAccuracy: 0.9, successRate: 0.6 } } });
        const result = view.page.locator('#edit-result');
        expect(await result.textContent()).toContain('3 units deleted. Measured on 41 images');
        expect(await result.textContent()).toContain('success rate 100.0% → 60.0%');
        const banner = view.page.locator('#edited-model');
        expect(await banner.isVisible()).toBe(true);
        expect(await banner.textContent()).toContain('Edited model: 3 units deleted');
        // A part arriving afterwards re-renders the panel; the edit result and the banner stay.
        await view.send({ type: 'update', body: { pending: [] } });
        expect(await result.textContent()).toContain('success rate 100.0% → 60.0%');
        expect(await result.getAttribute('data-units')).toBe('3');
        expect(await banner.count()).toBe(1);
        await view.page.screenshot({ path: resolve(artifacts, 'explain-edited-model.png'), fullPage: true });
        // Restoring clears the text and the banner, and asks the daemon for the original model.
        await view.page.locator('#neurons button', { hasText: 'Restore the original model' }).click();
        expect((await view.posted()).filter(m => m.type === 'editNeurons').at(-1)).toEqual({ type: 'editNeurons', deletions: [] });
        expect(await view.page.locator('#edit-result').textContent()).toBe('');
        expect(await view.page.locator('#edited-model').count()).toBe(0);
        await view.send({ type: 'editResult', body: { edits: [], count: 0, unitsDeleted: 0, labelsPredicted: false } });
        expect(await view.page.locator('#edit-result').textContent()).toBe('');
        expect(await view.page.locator('#edited-model').count()).toBe(0);

        await view.page.locator('#flow button[data-export="svg"]').click();
        await expect.poll(async () => (await view.posted()).find(m => m.type === 'export')).toMatchObject({ format: 'svg', name: 'flow-view', encoding: 'utf8' });
        const exported = (await view.posted()).find(m => m.type === 'export')!;
        expect(String(exported.content)).toMatch(/^<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
        await view.page.locator('#flow button[data-export="npy"]').click();
        await expect.poll(async () => (await view.posted()).filter(m => m.type === 'export').length).toBe(2);
        const npy = Buffer.from(String((await view.posted()).filter(m => m.type === 'export')[1].content), 'base64');
        expect(npy.subarray(1, 6).toString()).toBe('NUMPY');
        expect(npy.toString('latin1')).toContain("'shape': (2000, 11)");
        await finish(view, 'explain-layer-view');
    });

    it('without background profiles, shows the divergence scores with the diverging layer and says why', async () => {
        const view = await openView('explain');
        const body = { ...bundle(), profiles: undefined, missing: [{ method: 'profiles/compute', message: 'no background images' }] };
        await view.send({ type: 'init', view: 'explain', body });
        expect(await view.page.locator('#flow rect[data-diverging]').getAttribute('data-layer')).toBe(layers[6]);
        expect(await view.page.locator('#flow').textContent()).toContain('Flow View: no background images');
        await finish(view, 'explain-no-background');
    });
});

describe('Explanation panel, failed attack', () => {
    it('shows the host\'s failed-attack warning as a banner above the predictions, and each skipped part says why', async () => {
        const view = await openView('explain');
        const explain = explainResult(layers, 6);
        const same = explain.benign;
        const warning = 'The attack did not change the prediction (class 7 (7) stays class 7 (7)); try a larger ε or more steps. The views that compare the image with its adversarial version are not computed.';
        const skipped = ['profiles/compute', 'layer/reduce', 'vulnerability/map'].map(method => ({ method, message: 'the attack did not change the prediction (try a larger ε or more steps)' }));
        await view.send({ type: 'init', view: 'explain', body: { imagePath: '/ws/digits/7.png', modelPath: '/ws/mnist.onnx', model: 'abc', attack: { kind: 'fgsm', eps: 0.001 },
            explain: { ...explain, adversarial: same, attack: { ...explain.attack, adversarial: same, success: false } }, missing: skipped, pending: [], warnings: [warning] } });
        const banner = view.page.locator('.advvis-warning');
        await expect.poll(() => banner.count()).toBe(1);
        expect(await banner.textContent()).toBe(warning);
        expect(await banner.isVisible()).toBe(true);
        // Above the predictions: the first thing after the header line.
        expect(await view.page.evaluate(() => document.querySelector('.advvis-warning')!.nextElementSibling?.id)).toBe('predictions');
        expect(await view.page.locator('#vulnerability').textContent()).toContain('the attack did not change the prediction');
        await finish(view, 'explain-failed-attack');
    });
});

describe('Dataset View', () => {
    it('coordinates the scatterplots, prediction matrix, image grid and neuron space', async () => {
        const view = await openView('dataset');
        const attack = attackResult(300);
        const ms = await view.send({ type: 'init', view: 'dataset', body: { modelPath: '/ws/m.onnx', model: 'abc', datasetPath: '/ws/data', attack: { kind: 'fgsm', eps: 0.1 }, classNames: [], attackResult: attack, profiles: scatterProfiles(300), missing: [], pending: [] } });
        console.log(`[draw] Dataset View, 300 image pairs: ${ms.toFixed(1)} ms to frame`);
        expect(await view.page.locator('#scatter-benign circle').count()).toBe(300);
        expect(await view.page.locator('#scatter-adversarial circle').count()).toBe(300);
        expect(await view.page.locator('#matrix rect').count()).toBe(100);
        const cell = attack.items!.filter(i => i.trueClass === 2 && i.adversarial.class === 5).length;
        expect(await view.page.locator('#matrix rect[data-cell="2,5"]').getAttribute('data-count')).toBe(String(cell));
        await view.page.locator('#matrix rect[data-cell="2,5"]').click();
        await expect.poll(() => view.page.locator('#grid .pair').count()).toBe(cell);
        expect(await view.page.locator('#scatter-benign circle.selected').count()).toBe(cell);
        await view.page.locator('#grid .pair').first().click();
        await expect.poll(async () => (await view.posted()).find(m => m.type === 'rpc' && m.method === 'neurons/rank')).toMatchObject({ params: { benignClass: 2, adversarialClass: 5 } });
        await finish(view, 'dataset-view');
    });

    it('shows the daemon\'s warning when class folders could not be matched to the model\'s classes', async () => {
        const view = await openView('dataset');
        const warning = "Class folders are numbered in sorted order ('cat' = 0, 'dog' = 1) because the model has no labels file and the folder names are not all class numbers; these numbers may not be the model's classes. Name each folder by its class number (0, 1, …) or by the class names in the model's labels file.";
        await view.send({ type: 'init', view: 'dataset', body: { modelPath: '/ws/m.onnx', model: 'abc', datasetPath: '/ws/data', attack: { kind: 'fgsm', eps: 0.1 }, classNames: [], attackResult: { ...attackResult(40), warnings: [warning] }, profiles: scatterProfiles(40), missing: [], pending: [] } });
        const shown = view.page.locator('.advvis-warning');
        await expect.poll(() => shown.count()).toBe(1);
        expect(await shown.textContent()).toBe(warning);
        expect(await shown.isVisible()).toBe(true);
        await finish(view, 'dataset-view-class-warning');
    });

    it('draws the robustness report: accuracy per attack and ε as a table, the accuracy–ε curve with a legend, and the suite\'s flags', async () => {
        const view = await openView('dataset');
        const robustness = robustnessResult();
        const body = { modelPath: '/ws/m.onnx', model: 'abc', datasetPath: '/ws/fmnist', attack: { kind: 'fgsm' as const, eps: 0.1 }, classNames: [], attackResult: attackResult(40), profiles: scatterProfiles(40), missing: [], pending: ['robustness/evaluate'] };
        await view.send({ type: 'init', view: 'dataset', body });
        // Pending: the view says what is computing, and draws no table yet.
        expect(await view.page.locator('.advvis-note', { hasText: 'Robustness report: running the attack suite' }).count()).toBe(1);
        expect(await view.page.locator('#robustness-table').count()).toBe(0);
        const ms = await view.send({ type: 'update', body: { robustness, pending: [] } });
        console.log(`[draw] Dataset View, robustness report (4 ε × 4 attacks): ${ms.toFixed(1)} ms to frame`);
        expect(await view.page.locator('.advvis-note', { hasText: 'Robustness report: running' }).count()).toBe(0);
        const table = view.page.locator('#robustness-table');
        expect(await table.locator('th').allTextContents()).toEqual(['L∞ ε (pixels in [0, 1])', 'images', 'clean accuracy', 'robust after apgd-ce', 'robust after apgd-t', 'robust after fab-t', 'robust after square', 'largest perturbation', 'total time']);
        expect(await table.locator('tbody tr').count()).toBe(4);
        const row = table.locator('tbody tr[data-eps="0.02"]');
        expect(await row.locator('td').first().textContent()).toBe('0.02');
        expect(await row.locator('td').nth(2).textContent()).toBe('91.2 %');
        const ce = robustness.results.find(r => r.eps === 0.02)!.stages[0];
        expect(await row.locator('td[data-stage="apgd-ce"]').textContent()).toBe(`37.8 % · ${ce.seconds.toFixed(1)} s`);
        expect(await row.locator('td[data-stage="square"]').textContent()).toContain('37.0 %');
        // The curve: one line per stage plus clean, each with a point per ε, a legend entry each, titled axes.
        const curve = view.page.locator('#robustness-curve');
        expect(await curve.locator('g.robustness-line').count()).toBe(5);
        expect(await curve.locator('g.robustness-line[data-line="after apgd-ce"] circle').count()).toBe(4);
        expect(await curve.locator('g.legend-entry text').allTextContents()).toEqual(['clean', 'after apgd-ce', 'after apgd-t', 'after fab-t', 'after square']);
        const texts = await curve.locator(':scope > text').allTextContents();
        expect(texts).toContain('Robust accuracy against L∞ ε (500 images)');
        expect(texts).toContain('L∞ budget ε (pixel values in [0, 1])');
        expect(texts).toContain('accuracy (%)');
        // The APGD-CE line falls with ε: its points' heights (SVG y grows downwards) increase from ε 0.01 to 0.1.
        const ys = await curve.locator('g.robustness-line[data-line="after apgd-ce"] circle').evaluateAll(circles => circles.map(c => Number(c.getAttribute('cy'))));
        expect([...ys].sort((a, b) => a - b)).toEqual(ys);
        // The softmax flag fires at every ε and is shown once, as a warning.
        const warnings = view.page.locator('#robustness .advvis-warning');
        expect(await warnings.count()).toBe(1);
        expect(await warnings.textContent()).toMatch(/^Suspicious evaluation \(softmax-output, every ε\): the model's outputs are a probability distribution/);
        await finish(view, 'dataset-view-robustness');
    });
});
