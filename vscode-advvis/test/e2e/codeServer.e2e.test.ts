// End-to-end in a real VS Code: code-server (VS Code 1.100 server + web workbench, npm package, installed by
// scripts/test-extension.sh into ~/.cache/advvis) with the packaged out/advvis.vsix installed and the real daemon,
// driven by playwright-core with Debian's chromium. A workspace holds a copy of the MNIST model and digits.
// Proves: opening the .onnx shows the Architecture View with the model's 11 nodes (the daemon folds the weight-only
// Reshape) and collapsible blocks; right-click a digit → "Explain Attack" → the explanation panel with predictions
// before/after, the Flow View of the real profiles (300 background lines, bundles, the pair, the diverging point), the
// Layer View, vulnerability maps, neurons with receptive fields, unit visualizations and band gaps, the attribution graph.
// Then neuron editing (delete a unit, success rate before → after), CodeLens above a PyTorch nn.Module (train.py) whose
// Architecture lens opens the Architecture View, and the Dataset View of 50 digits (DIR/<class>/*.pgm written from the
// MNIST test set): scatterplots, prediction matrix, image grid, coordinated selection, vulnerability curves.
// Last, a second code-server with Workspace Trust on opens the same folder untrusted (Restricted Mode): the Architecture
// View shows its notice, Explain Attack is not offered, no daemon starts; trusting the folder draws the graph.
// Asserts DOM and log files, never toasts; fails on errors in the webview consoles or the extension's log.
// Screenshots: out/test-artifacts/e2e-*.png; the extension's log: out/test-artifacts/e2e-AdvVis.log.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { chromium, type BrowserContext, type Frame, type Page } from 'playwright-core';

const root = resolve(__dirname, '../../..');
const artifacts = resolve(root, 'out/test-artifacts');
const vsix = resolve(root, 'out/advvis.vsix');
const dll = process.env.ADVVIS_DLL ?? resolve(root, 'daemon/src/AdvVis.Cli/bin/Debug/net10.0/advvis.dll');
const codeServer = process.env.ADVVIS_CODE_SERVER ?? join(homedir(), '.cache/advvis/code-server-4.100.3/node_modules/code-server/out/node/entry.js');
const shared = resolve(root, '../shared');
const timings: string[] = [];
const started = Date.now();
const mark = (label: string, since: number) => { timings.push(`${label} ${((Date.now() - since) / 1000).toFixed(1)} s`); console.log(`e2e: ${label} ${Date.now() - since} ms`); };

interface Workbench { server: ChildProcess; context: BrowserContext; page: Page; dataDir: string }
let temp: string, workspace: string, workbench: Workbench | undefined, page: Page;
const consoleErrors: string[] = [];
const workbenches: Workbench[] = [];

function freePort(): Promise<number> {
    return new Promise((done, fail) => {
        const probe = createServer().listen(0, '127.0.0.1', () => {
            const port = (probe.address() as { port: number }).port;
            probe.close(() => done(port));
        }).on('error', fail);
    });
}

/** The webview frame (nested iframes) in which `selector` matches; polls until it appears. */
async function frameWith(selector: string, timeoutMs: number, on: Page = page): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
        for (const frame of on.frames()) {
            if (await frame.locator(selector).count().catch(() => 0)) return frame;
        }
        await on.waitForTimeout(250);
    }
    throw new Error(`no frame shows ${selector} after ${timeoutMs} ms`);
}

function filesUnder(dir: string): string[] {
    if (!existsSync(dir)) return [];
    return readdirSync(dir).flatMap(name => {
        const path = join(dir, name);
        return statSync(path).isDirectory() ? filesUnder(path) : [path];
    });
}

/** The extension's LogOutputChannel file ("AdvVis") written by the extension host. */
function extensionLog(dataDir = workbench!.dataDir): string {
    const file = filesUnder(join(dataDir, 'logs')).find(path => /AdvVis\.log$/.test(path) || /[\\/]\d+-AdvVis\.log$/.test(path));
    return file ? readFileSync(file, 'utf8') : '';
}

/**
 * A code-server of its own (user data, extensions with the .vsix, chromium profile under temp/<name>) showing the
 * workspace in headless chromium, once the explorer and the extension host are up. `trusted`: Workspace Trust off, as
 * most users run; otherwise on, with no startup prompt, so the folder opens in Restricted Mode.
 */
async function startWorkbench(name: string, trusted: boolean, settings: Record<string, unknown>): Promise<Workbench> {
    const dir = join(temp, name), dataDir = join(dir, 'data');
    mkdirSync(join(dataDir, 'User'), { recursive: true });
    writeFileSync(join(dataDir, 'User', 'settings.json'), JSON.stringify({
        ...settings,
        'workbench.startupEditor': 'none', 'workbench.tips.enabled': false, 'security.workspace.trust.enabled': !trusted,
        'security.workspace.trust.startupPrompt': 'never', 'extensions.ignoreRecommendations': true, 'telemetry.telemetryLevel': 'off', 'update.mode': 'none',
    }, null, 2));
    const port = await freePort();
    writeFileSync(join(dir, 'config.yaml'), `bind-addr: 127.0.0.1:${port}\nauth: none\ncert: false\n`);
    const env = { ...process.env, XDG_DATA_HOME: join(dir, 'xdg-data'), XDG_CONFIG_HOME: join(dir, 'xdg-config'), XDG_CACHE_HOME: join(dir, 'xdg-cache') };
    const base = [codeServer, '--config', join(dir, 'config.yaml'), '--user-data-dir', dataDir, '--extensions-dir', join(dir, 'extensions'),
        '--disable-telemetry', '--disable-update-check', ...(trusted ? ['--disable-workspace-trust'] : [])];

    let t = Date.now();
    execFileSync(process.execPath, [...base, '--install-extension', vsix], { env, stdio: 'pipe', timeout: 120_000 });
    mark(`${name}: install the .vsix`, t);

    t = Date.now();
    const server = spawn(process.execPath, [...base, workspace], { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let serverOutput = '';
    server.stdout!.on('data', chunk => { serverOutput += chunk; });
    server.stderr!.on('data', chunk => { serverOutput += chunk; });
    const url = `http://127.0.0.1:${port}`;
    for (let i = 0; ; i++) {
        if (await fetch(`${url}/healthz`).then(r => r.ok, () => false)) break;
        if (i > 240 || server.exitCode !== null) throw new Error(`code-server did not start:\n${serverOutput.slice(-3000)}`);
        await new Promise(r => setTimeout(r, 250));
    }
    mark(`${name}: code-server ready`, t);

    t = Date.now();
    const context = await chromium.launchPersistentContext(join(dir, 'chromium'), {
        executablePath: '/usr/bin/chromium', headless: true, viewport: { width: 1400, height: 900 },
        args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
    });
    const opened: Workbench = { server, context, page: context.pages()[0] ?? await context.newPage(), dataDir };
    workbenches.push(opened);
    const shown = opened.page;
    shown.on('console', message => {
        if (message.type() !== 'error') return;
        const frameUrl = (() => { try { return message.location().url ?? ''; } catch { return ''; } })();
        // Our webviews (vscode-webview frames running media/*.js) must log no error; the workbench's own noise is ignored.
        if (/vscode-webview|advvis/i.test(frameUrl) || /advvis/i.test(message.text())) consoleErrors.push(`${name} ${frameUrl}: ${message.text()}`);
    });
    shown.on('pageerror', error => { if (/advvis/i.test(String(error.stack))) consoleErrors.push(`${name} ${String(error)}`); });
    await shown.goto(`${url}/?folder=${encodeURIComponent(workspace)}`);
    await shown.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
    await shown.locator('.explorer-folders-view .monaco-list-row', { hasText: 'mnist.onnx' }).waitFor({ timeout: 60_000 });
    // Contributions (the custom editor, menus) are known once the extension host has scanned the extensions; a file
    // opened before that opens as text, as it would for a user clicking within the first seconds.
    for (const deadline = Date.now() + 60_000; !filesUnder(join(dataDir, 'logs')).some(path => path.endsWith('remoteexthost.log') && readFileSync(path, 'utf8').includes('Eager extensions activated'));) {
        if (Date.now() > deadline) throw new Error('the extension host did not start within 60 s');
        await shown.waitForTimeout(250);
    }
    mark(`${name}: workbench with the explorer and the extension host`, t);
    return opened;
}

/** Runs a workbench command through the palette (focus on the explorer first, so that F1 is not eaten by a webview). */
async function runCommand(title: string): Promise<void> {
    await page.locator('.explorer-folders-view').first().click({ position: { x: 5, y: 5 } }).catch(() => undefined);
    await page.keyboard.press('F1');
    const input = page.locator('.quick-input-widget input');
    await input.waitFor({ timeout: 10_000 });
    await input.fill(`>${title}`);
    const row = page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first();
    await row.waitFor({ timeout: 10_000 });
    await row.click();
}

async function screenshot(name: string): Promise<void> {
    await page.screenshot({ path: join(artifacts, `e2e-${name}.png`) });
}

beforeAll(async () => {
    for (const [what, path] of [['code-server', codeServer], ['the packaged extension (npm run package)', vsix], ['the daemon', dll], ['chromium', '/usr/bin/chromium']]) {
        if (!existsSync(path)) throw new Error(`${what} is missing at ${path}; scripts/test-extension.sh installs/builds it.`);
    }
    mkdirSync(artifacts, { recursive: true });
    temp = mkdtempSync(join(tmpdir(), 'advvis-e2e-'));
    workspace = join(temp, 'workspace');
    mkdirSync(join(workspace, 'digits'), { recursive: true });
    copyFileSync(join(shared, 'models/mnist-zoo-opset7.onnx'), join(workspace, 'mnist.onnx'));
    for (const name of ['mnist_08_5.png', ...readdirSync(join(shared, 'data/mnist/foolbox_samples')).filter(n => n.endsWith('.png')).slice(0, 7)]) {
        copyFileSync(join(shared, 'data/mnist/foolbox_samples', name), join(workspace, 'digits', name));
    }
    // advvis.json names the model's background data (MNIST test set, IDX): explain/run's spreads and the Flow View use it.
    mkdirSync(join(workspace, 'data'));
    for (const name of ['t10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz']) copyFileSync(join(shared, 'data/mnist', name), join(workspace, 'data', name));
    writeFileSync(join(workspace, 'advvis.json'), JSON.stringify({ models: [{ name: 'mnist', path: 'mnist.onnx',
        background: { path: 'data/t10k-images-idx3-ubyte.gz', labels: 'data/t10k-labels-idx1-ubyte.gz' } }] }, null, 2));
    // A small labelled data set for the Dataset View: the first 5 test digits of each class, as DIR/<class>/<n>.pgm.
    const images = gunzipSync(readFileSync(join(shared, 'data/mnist/t10k-images-idx3-ubyte.gz')));
    const labels = gunzipSync(readFileSync(join(shared, 'data/mnist/t10k-labels-idx1-ubyte.gz')));
    const perClass = new Array<number>(10).fill(0);
    for (let i = 0; perClass.some(n => n < 5); i++) {
        const label = labels[8 + i];
        if (perClass[label] >= 5) continue;
        mkdirSync(join(workspace, 'mnist50', String(label)), { recursive: true });
        writeFileSync(join(workspace, 'mnist50', String(label), `${i}.pgm`), Buffer.concat([Buffer.from('P5\n28 28\n255\n'), images.subarray(16 + 784 * i, 16 + 784 * (i + 1))]));
        perClass[label]++;
    }
    // A PyTorch training script whose export call writes mnist.onnx: CodeLens maps the class to the workspace's model.
    writeFileSync(join(workspace, 'train.py'), [
        'import torch', 'import torch.nn as nn', '', '',
        'class Net(nn.Module):', '    def __init__(self):', '        super().__init__()',
        '        self.conv1 = nn.Conv2d(1, 8, 5)', '        self.conv2 = nn.Conv2d(8, 16, 5)', '        self.fc = nn.Linear(256, 10)', '',
        '    def forward(self, x):', '        return self.fc(self.conv2(self.conv1(x)).flatten(1))', '', '',
        'model = Net()', 'x = torch.randn(1, 1, 28, 28)', 'torch.onnx.export(model, x, "mnist.onnx")', '',
    ].join('\n'));
    workbench = await startWorkbench('trusted', true, {
        'advvis.daemonPath': dll,
        // The Activation Profiles paper's PGD (pixel space), shortened: flips the zoo CNN's digits in well under a second.
        'advvis.backgroundSize': 300,
        'advvis.attack.method': 'pgd', 'advvis.attack.epsilon': 0.3, 'advvis.attack.stepSize': 0.075, 'advvis.attack.steps': 40,
    });
    page = workbench.page;
}, 300_000);

afterAll(async () => {
    try { if (page) await screenshot('last'); } catch { /* best effort */ }
    try { if (workbench) writeFileSync(join(artifacts, 'e2e-AdvVis.log'), extensionLog()); } catch { /* best effort */ }
    for (const { context, server } of workbenches.splice(0)) {
        await context.close().catch(() => undefined);
        if (!server.pid) continue;
        try { process.kill(-server.pid, 'SIGTERM'); } catch { /* gone */ }
        await new Promise(r => setTimeout(r, 1000));
        try { process.kill(-server.pid, 'SIGKILL'); } catch { /* gone */ }
    }
    if (temp && !process.env.ADVVIS_E2E_KEEP) rmSync(temp, { recursive: true, force: true });
    else if (temp) console.log(`e2e: kept ${temp}`);
    console.log(`e2e timings: ${timings.join(' · ')} · total ${((Date.now() - started) / 1000).toFixed(1)} s`);
}, 60_000);

describe('AdvVis in a real VS Code (code-server)', () => {
    it('opening the .onnx shows the Architecture View with the model\'s 11 nodes and collapsible blocks', async () => {
        const t = Date.now();
        await page.locator('.explorer-folders-view .monaco-list-row', { hasText: 'mnist.onnx' }).dblclick();
        const frame = await frameWith('svg[data-node-count]', 90_000);
        await expect.poll(() => frame.locator('svg[data-node-count]').getAttribute('data-node-count'), { timeout: 30_000 }).toBe('11');
        expect(await frame.locator('g.graph-node').count()).toBe(11);
        expect(await frame.locator('g.graph-node[data-category="weighted"]').count()).toBe(3);
        expect(await frame.locator('.toolbar strong').textContent()).toBe('mnist.onnx: 11 nodes, 5,994 parameters');
        expect(await page.locator('.tab.active', { hasText: 'mnist.onnx' }).count()).toBe(1);
        const blocks = await frame.locator('g.graph-block').count();
        expect(blocks).toBeGreaterThan(0);
        mark('Architecture View drawn', t);
        await screenshot('architecture');
        // The daemon's overview: its blocks collapse to one item each; a click on a block item expands it again.
        await frame.locator('.toolbar button', { hasText: 'Overview' }).click();
        await expect.poll(async () => Number(await frame.locator('svg[data-node-count]').getAttribute('data-node-count'))).toBeLessThan(11);
        const collapsedItem = frame.locator('g.graph-node[data-item^="block:"]').first();
        expect(await collapsedItem.count()).toBe(1);
        await screenshot('architecture-overview');
        await collapsedItem.click();
        await expect.poll(async () => Number(await frame.locator('svg[data-node-count]').getAttribute('data-node-count'))).toBeGreaterThan(blocks > 1 ? 2 : 1);
        await frame.locator('.toolbar button', { hasText: 'Expand all' }).click();
        await expect.poll(() => frame.locator('svg[data-node-count]').getAttribute('data-node-count')).toBe('11');
    }, 150_000);

    it('right-click a digit → Explain Attack shows predictions, the Flow View of the real profiles with the diverging point, and every part', async () => {
        const t = Date.now();
        const folder = page.locator('.explorer-folders-view .monaco-list-row', { hasText: 'digits' });
        await folder.click();
        const row = page.locator('.explorer-folders-view .monaco-list-row', { hasText: 'mnist_08_5.png' });
        await row.waitFor({ timeout: 20_000 });
        await row.click({ button: 'right' });
        const item = page.locator('.monaco-menu .action-item', { hasText: 'Explain Attack' });
        await item.first().waitFor({ timeout: 20_000 });
        await page.waitForTimeout(500);
        await screenshot('context-menu');
        await item.first().click();
        const frame = await frameWith('.prediction[data-role="adversarial"]', 120_000);
        mark('Explain Attack → panel', t);
        const benign = await frame.locator('.prediction[data-role="benign"] .label').textContent();
        const adversarial = await frame.locator('.prediction[data-role="adversarial"] .label').textContent();
        expect(benign).toMatch(/^Benign: 5 \(97\.8%\)$/);
        expect(adversarial).toMatch(/^Adversarial: \d \(\d+\.\d%\)$/);
        expect(adversarial).not.toContain('Adversarial: 5 ');
        expect(await frame.locator('.prediction[data-role="adversarial"] img').count()).toBe(1);
        // The explained image itself arrives as a data: URI (webviews may load no workspace file).
        expect(await frame.locator('.prediction[data-role="benign"] img').getAttribute('src')).toMatch(/^data:image\/png;base64,/);
        // The follow-up parts settle: nothing left "Computing…", and no part is missing.
        await expect.poll(() => frame.locator('.advvis-note', { hasText: 'Computing' }).count(), { timeout: 90_000 }).toBe(0);
        mark('explanation panel complete', t);
        const notes = await frame.locator('.advvis-note').allTextContents();
        expect(notes.filter(text => /not shown|not available|failed|does not offer|cancelled/i.test(text))).toEqual([]);
        // Flow View: profiles/compute over the 300 background digits of advvis.json, with bundles, the pair and the diverging point.
        expect(await frame.locator('#flow g.flow-background').getAttribute('data-lines')).toBe('300');
        expect(await frame.locator('#flow g.flow-background-label').count()).toBe(10);
        expect(await frame.locator('#flow path.flow-bundle').count()).toBeGreaterThan(2);
        expect(await frame.locator('#flow path.flow-foreground').count()).toBe(2);
        const diverging = await frame.locator('#flow g.flow-axis.diverging').getAttribute('data-layer');
        expect(diverging).toBeTruthy();
        expect(await frame.locator('#flow .diverging-label').textContent()).toBe('diverging point');
        // The other parts: Layer View, vulnerability maps, neurons with receptive fields, visualizations and band gaps, attribution graph.
        expect(await frame.locator('#layer svg.unit-grid').count()).toBe(1);
        expect(await frame.locator('#vulnerability canvas').count()).toBeGreaterThan(0);
        expect(await frame.locator('table.neurons tbody tr').count()).toBeGreaterThan(0);
        expect(await frame.locator('table.neurons img.visualization').count()).toBe(4);
        expect(await frame.locator('#ranked').count()).toBe(1);
        expect(Number(await frame.locator('#attribution svg').getAttribute('data-nodes'))).toBeGreaterThan(0);
        expect(Number(await frame.locator('#attribution svg').getAttribute('data-edges'))).toBeGreaterThan(0);
        await frame.locator('#flow').scrollIntoViewIfNeeded();
        await screenshot('explanation');
        await frame.locator('#neurons').scrollIntoViewIfNeeded();
        await screenshot('explanation-neurons');
        await frame.locator('#attribution').scrollIntoViewIfNeeded();
        await screenshot('explanation-attribution');
        // Clicking another axis of the Flow View gives that layer's Layer View.
        const other = (await frame.locator('#flow g.flow-axis').evaluateAll(axes => axes.map(a => a.getAttribute('data-layer')))).find(layer => layer !== diverging)!;
        await frame.locator('#flow').scrollIntoViewIfNeeded();
        await frame.locator(`#flow g.flow-axis[data-layer="${other}"] rect`).click();
        await expect.poll(() => frame.locator('#layer h2').textContent(), { timeout: 30_000 }).toContain(other);
        await expect.poll(() => frame.locator('#layer svg.unit-grid').count(), { timeout: 30_000 }).toBe(1);
    }, 240_000);

    it('neuron editing in the explanation panel: delete a unit, the attack is re-run, success rate before → after', async () => {
        const t = Date.now();
        const frame = await frameWith('table.neurons tbody tr input[type="checkbox"]', 30_000);
        await frame.locator('#neurons').scrollIntoViewIfNeeded();
        await frame.locator('table.neurons tbody tr input[type="checkbox"]').first().check();
        await expect.poll(() => frame.locator('#delete-units').textContent()).toContain('Delete 1 selected unit(s)');
        await frame.locator('#delete-units').click();
        // The units deleted (one), not the images measured; measured on the background images, not the one image.
        await expect.poll(() => frame.locator('#edit-result').getAttribute('data-units'), { timeout: 60_000 }).toBe('1');
        expect(await frame.locator('#edit-result').textContent()).toMatch(/^1 unit deleted\. Measured on \d+ images( \(their labels: the original model's predictions\))?: attack success rate \d+\.\d% → \d+\.\d%; (clean accuracy|agreement with the original predictions) \d+\.\d% → \d+\.\d%\.$/);
        expect(Number(await frame.locator('#edit-result').getAttribute('data-images'))).toBeGreaterThan(1);
        expect(await frame.locator('#edited-model').textContent()).toContain('Edited model: 1 unit deleted');
        mark('neurons/edit answered', t);
        await frame.locator('#edit-result').scrollIntoViewIfNeeded();
        await screenshot('neuron-edit');
    }, 120_000);

    it('CodeLens above a PyTorch nn.Module: Architecture · Explain attack · Robustness report; Architecture opens the Architecture View', async () => {
        const t = Date.now();
        await runCommand('View: Close All Editors');
        await page.locator('.explorer-folders-view .monaco-list-row', { hasText: 'train.py' }).click();
        const lenses = page.locator('.monaco-editor .codelens-decoration');
        await expect.poll(() => lenses.first().textContent().catch(() => ''), { timeout: 60_000 }).toContain('Architecture');
        const text = await lenses.first().textContent();
        expect(text?.replace(/\s+/g, ' ').trim()).toBe('Architecture | Explain attack | Robustness report');
        // Above the class line: the lens sits in the view zone right before line 5 (class Net).
        const lensTop = (await lenses.first().boundingBox())!.y;
        const classLine = page.locator('.monaco-editor .view-line', { hasText: 'class Net(nn.Module):' });
        const classTop = (await classLine.boundingBox())!.y;
        expect(classTop - lensTop).toBeGreaterThan(0);
        expect(classTop - lensTop).toBeLessThan(40);
        mark('CodeLens drawn', t);
        await screenshot('codelens');
        await lenses.first().locator('a', { hasText: 'Architecture' }).click();
        await page.locator('.tab.active', { hasText: 'mnist.onnx' }).waitFor({ timeout: 30_000 });
        const frame = await frameWith('svg[data-node-count]', 60_000);
        await expect.poll(() => frame.locator('svg[data-node-count]').getAttribute('data-node-count'), { timeout: 30_000 }).toBe('11');
        await screenshot('codelens-architecture');
    }, 150_000);

    it('right-click a folder → Open Dataset View: scatterplots, prediction matrix and image grid of 50 digits, coordinated', async () => {
        const t = Date.now();
        await runCommand('View: Close All Editors');
        const row = page.locator('.explorer-folders-view .monaco-list-row', { hasText: 'mnist50' });
        await row.click({ button: 'right' });
        const item = page.locator('.monaco-menu .action-item', { hasText: 'Open Dataset View' });
        await item.first().waitFor({ timeout: 20_000 });
        await page.waitForTimeout(500);
        await item.first().click();
        const frame = await frameWith('#matrix rect[data-cell]', 180_000);
        mark('attack/run → Dataset View', t);
        expect(await frame.locator('.advvis-note').first().textContent()).toMatch(/mnist50: 50 images · clean accuracy \d+\.\d% · adversarial \d+\.\d% · success rate \d+\.\d%/);
        await expect.poll(() => frame.locator('.advvis-note', { hasText: 'Computing' }).count(), { timeout: 90_000 }).toBe(0);
        mark('Dataset View profiles', t);
        const notes = await frame.locator('.advvis-note').allTextContents();
        expect(notes.filter(text => /failed|not available|does not offer|No 2-D profiles/i.test(text))).toEqual([]);
        expect(Number(await frame.locator('#scatter-benign').getAttribute('data-points'))).toBe(50);
        expect(Number(await frame.locator('#scatter-adversarial').getAttribute('data-points'))).toBe(50);
        expect(await frame.locator('#scatter-benign circle.point').count()).toBe(50);
        expect(await frame.locator('#matrix rect[data-cell]').count()).toBe(100);
        const counts = await frame.locator('#matrix rect[data-cell]').evaluateAll(cells => cells.map(c => [c.getAttribute('data-cell')!, Number(c.getAttribute('data-count'))] as const));
        expect(counts.reduce((sum, [, n]) => sum + n, 0)).toBe(50);
        expect(await frame.locator('#grid .pair').count()).toBe(50);
        expect(await frame.locator('#grid .pair img').count()).toBe(50);
        await screenshot('dataset');
        // Coordinated: a matrix cell selects its images in the grid and the scatterplots.
        const [cell, count] = counts.filter(([key, n]) => n > 0 && key.split(',')[0] !== key.split(',')[1]).sort((a, b) => b[1] - a[1])[0] ?? counts.filter(([, n]) => n > 0)[0];
        await frame.locator(`#matrix rect[data-cell="${cell}"]`).click();
        await expect.poll(() => frame.locator('#grid .pair').count()).toBe(count);
        expect(await frame.locator('#scatter-benign circle.point.selected').count()).toBe(count);
        expect(await frame.locator('#scatter-benign circle.point.dimmed').count()).toBe(50 - count);
        expect(await frame.locator(`#matrix rect.selected[data-cell="${cell}"]`).count()).toBe(1);
        // An image pair in the grid becomes the neuron space's subject: vulnerability curves of that class pair.
        await frame.locator('#grid .pair').first().click();
        await expect.poll(() => frame.locator('svg[data-units]').count(), { timeout: 60_000 }).toBe(1);
        expect(Number(await frame.locator('svg[data-units]').getAttribute('data-units'))).toBeGreaterThan(0);
        mark('Dataset View coordinated', t);
        await screenshot('dataset-selection');
    }, 300_000);

    it('logged no error from the extension host or the webviews', async () => {
        const log = extensionLog();
        expect(log).toContain('daemon ready');
        expect(log.split('\n').filter(line => /\[error\]/i.test(line))).toEqual([]);
        expect(consoleErrors).toEqual([]);
    });
});

describe('AdvVis in Restricted Mode (the same folder, untrusted, in a code-server with Workspace Trust on)', () => {
    let untrusted: Workbench;
    beforeAll(async () => { untrusted = await startWorkbench('untrusted', false, { 'advvis.daemonPath': dll }); }, 180_000);

    it('the Architecture View shows the notice, Explain Attack is not offered, no daemon starts; trusting the folder draws the graph', async () => {
        const t = Date.now();
        const shown = untrusted.page;
        await shown.locator('.statusbar-item', { hasText: 'Restricted Mode' }).first().waitFor({ timeout: 30_000 });
        await shown.locator('.explorer-folders-view .monaco-list-row', { hasText: 'mnist.onnx' }).dblclick();
        const frame = await frameWith('.advvis-restricted', 90_000, shown);
        expect(await frame.locator('.advvis-restricted strong').textContent()).toBe('Restricted Mode');
        expect(await frame.locator('svg[data-node-count]').count()).toBe(0);
        await shown.screenshot({ path: join(artifacts, 'e2e-restricted-architecture.png') });
        await shown.locator('.explorer-folders-view .monaco-list-row', { hasText: 'digits' }).click();
        const row = shown.locator('.explorer-folders-view .monaco-list-row', { hasText: 'mnist_08_5.png' });
        await row.waitFor({ timeout: 20_000 });
        await row.click({ button: 'right' });
        await shown.locator('.monaco-menu .action-item', { hasText: 'Rename' }).first().waitFor({ timeout: 20_000 });
        expect(await shown.locator('.monaco-menu .action-item', { hasText: 'Explain Attack' }).count()).toBe(0);
        await shown.keyboard.press('Escape');
        expect(extensionLog(untrusted.dataDir)).not.toContain('starting the daemon');
        mark('Restricted Mode checked', t);

        // The notice's button opens VS Code's trust editor; once trusted, the view draws the graph without a reload.
        await frame.locator('.advvis-restricted button', { hasText: 'Manage Workspace Trust' }).click();
        const trust = shown.locator('.workspace-trust-editor .monaco-button', { hasText: /^Trust$/ }).first();
        await trust.waitFor({ timeout: 30_000 });
        await trust.click();
        await shown.locator('.statusbar-item', { hasText: 'Restricted Mode' }).first().waitFor({ state: 'detached', timeout: 30_000 });
        await shown.locator('.tab', { hasText: 'mnist.onnx' }).first().click();
        const trusted = await frameWith('svg[data-node-count]', 90_000, shown);
        await expect.poll(() => trusted.locator('svg[data-node-count]').getAttribute('data-node-count'), { timeout: 30_000 }).toBe('11');
        expect(extensionLog(untrusted.dataDir)).toContain('starting the daemon');
        mark('trusted → Architecture View drawn', t);
        await shown.screenshot({ path: join(artifacts, 'e2e-restricted-trusted.png') });
        expect(consoleErrors).toEqual([]);
    }, 240_000);
});
