// Interop check: drives the AdvVis JSON-RPC test host (the test assembly run with --test-host) through the real
// npm vscode-jsonrpc client, exactly as the VS Code extension will: ping, Unicode echo, error codes, cancellation,
// work-done progress, concurrency, round-trip time, shutdown/exit. Prints "N passed, M failed"; exits 1 on failure.
//
// Then, given the daemon's advvis.dll, drives the REAL daemon (`advvis serve --stdio`) the same way: model/open and
// model/graph on the MNIST model, and attack/run with work-done progress and binary results.
//
// Usage: node interop.mjs [path/to/AdvVis.Service.Tests.dll] [path/to/advvis.dll]
//   default dll: ../bin/Debug/net10.0/AdvVis.Service.Tests.dll; DOTNET env var overrides the dotnet executable;
//   ADVVIS_SHARED (default: the shared/ folder beside the repository) holds models/ and data/ for the daemon checks.
import { spawn } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import rpcModule from 'vscode-jsonrpc/node';

const { createMessageConnection, StreamMessageReader, StreamMessageWriter, CancellationTokenSource, ProgressType, ResponseError } = rpcModule;

const here = dirname(fileURLToPath(import.meta.url));
const dll = resolve(process.argv[2] ?? resolve(here, '../bin/Debug/net10.0/AdvVis.Service.Tests.dll'));
if (!existsSync(dll)) {
    console.error(`Test host not found: ${dll} (build the test project first: dotnet build daemon/tests/AdvVis.Service.Tests)`);
    process.exit(2);
}

const child = spawn(process.env.DOTNET ?? 'dotnet', [dll, '--test-host'], { stdio: ['pipe', 'pipe', 'pipe'] });
let stderr = '';
child.stderr.on('data', chunk => { stderr += chunk; });
const childExit = new Promise(resolveExit => child.on('exit', code => resolveExit(code)));

const connection = createMessageConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
connection.listen();

const results = [];
async function check(name, body) {
    const started = Date.now();
    try {
        await body();
        results.push({ name, ok: true });
        console.log(`  ok    ${name} (${Date.now() - started} ms)`);
    } catch (error) {
        results.push({ name, ok: false });
        console.log(`  FAIL  ${name}: ${error?.stack ?? error}`);
    }
}

function assert(condition, message) {
    if (!condition) {
        throw new Error(message);
    }
}

async function expectError(promise, code, messagePart) {
    try {
        const value = await promise;
        throw new Error(`expected error ${code}, got result ${JSON.stringify(value)}`);
    } catch (error) {
        assert(error instanceof ResponseError, `expected ResponseError, got ${error}`);
        assert(error.code === code, `expected code ${code}, got ${error.code}: ${error.message}`);
        if (messagePart) {
            assert(error.message.includes(messagePart), `message "${error.message}" lacks "${messagePart}"`);
        }
        return error;
    }
}

const overall = setTimeout(() => {
    console.log('Interop run timed out after 200 s.');
    console.log(`stderr of the host:\n${stderr}`);
    process.exit(1);
}, 200_000);

console.log(`vscode-jsonrpc interop against ${dll}`);

await check('daemon/ping answers pong and a version', async () => {
    const result = await connection.sendRequest('daemon/ping');
    assert(result.pong === true, `pong was ${JSON.stringify(result)}`);
    assert(typeof result.version === 'string' && result.version.length > 0, 'missing version');
});

await check('Unicode echo keeps text and byte count', async () => {
    const text = 'héllo 🌍 日本語 ✓ "quoted" \\ \u0000 end';
    const result = await connection.sendRequest('test/echo', { text });
    assert(result.text === text, `echo was ${JSON.stringify(result.text)}`);
    assert(result.utf8Bytes === Buffer.byteLength(text, 'utf8'), `utf8Bytes ${result.utf8Bytes}`);
    assert(result.utf16Length === text.length, `utf16Length ${result.utf16Length}`);
});

await check('large payload (4 MiB) round trips', async () => {
    const text = 'x'.repeat(4 * 1024 * 1024 - 7) + '🌍';
    const result = await connection.sendRequest('test/echo', { text });
    assert(result.text === text, 'large text differs');
});

await check('error codes: -32601, -32602, -32603, custom', async () => {
    await expectError(connection.sendRequest('test/nope', {}), -32601, 'test/nope');
    await expectError(connection.sendRequest('test/add', { a: 'two', b: 1 }), -32602, '$.a');
    await expectError(connection.sendRequest('test/fail'), -32603, 'boom');
    const custom = await expectError(connection.sendRequest('test/rpcError'), -32801, 'content modified');
    assert(custom.data?.reason === 'test', `data was ${JSON.stringify(custom.data)}`);
});

await check('cancellation answers -32800 and the host keeps serving', async () => {
    const source = new CancellationTokenSource();
    const pending = connection.sendRequest('test/wait', {}, source.token);
    setTimeout(() => source.cancel(), 100);
    await expectError(pending, -32800);
    const result = await connection.sendRequest('test/add', { a: 40, b: 2 });
    assert(result === 42, `add gave ${result}`);
});

await check('work-done progress: token, begin/report/end, all before the response', async () => {
    const token = 'node-progress-1';
    const values = [];
    const subscription = connection.onProgress(new ProgressType(), token, value => values.push(value));
    const result = await connection.sendRequest('test/progress', { steps: 5, delayMilliseconds: 60, workDoneToken: token });
    subscription.dispose();
    assert(result === 5, `result ${result}`);
    const kinds = values.map(v => v.kind);
    assert(kinds[0] === 'begin' && values[0].title === 'Testing progress', `first was ${JSON.stringify(values[0])}`);
    assert(kinds.at(-1) === 'end', `last kind was ${kinds.at(-1)} (progress must precede the response)`);
    assert(kinds.filter(k => k === 'report').length === 5, `kinds ${kinds.join(',')}`);
    assert(values.at(-2).percentage === 100, `last report ${JSON.stringify(values.at(-2))}`);
});

await check('read-only requests run concurrently', async () => {
    const started = Date.now();
    await Promise.all([
        connection.sendRequest('test/wait', { milliseconds: 300 }),
        connection.sendRequest('test/wait', { milliseconds: 300 }),
        connection.sendRequest('test/wait', { milliseconds: 300 }),
    ]);
    const elapsed = Date.now() - started;
    assert(elapsed < 800, `three 300 ms waits took ${elapsed} ms`);
});

await check('daemon/methods lists test methods with mutates flags', async () => {
    const { methods } = await connection.sendRequest('daemon/methods');
    const echo = methods.find(m => m.name === 'test/echo');
    assert(echo && echo.mutates === false && echo.kind === 'request', `echo entry ${JSON.stringify(echo)}`);
    assert(methods.some(m => m.name === 'shutdown' && m.mutates === true), 'shutdown missing');
});

await check('round-trip time of daemon/ping (median of 1000)', async () => {
    const samples = [];
    for (let i = 0; i < 1000; i++) {
        const start = process.hrtime.bigint();
        await connection.sendRequest('daemon/ping');
        samples.push(Number(process.hrtime.bigint() - start) / 1e6);
    }
    samples.sort((a, b) => a - b);
    console.log(`        median ${samples[500].toFixed(3)} ms, p95 ${samples[950].toFixed(3)} ms, max ${samples[999].toFixed(3)} ms`);
});

await check('shutdown answers null, rejects later requests, exit ends the host with 0', async () => {
    const result = await connection.sendRequest('shutdown');
    assert(result === null, `shutdown result ${JSON.stringify(result)}`);
    await expectError(connection.sendRequest('daemon/ping'), -32600, 'shutting down');
    await connection.sendNotification('exit');
    const code = await Promise.race([childExit, new Promise(r => setTimeout(() => r('timeout'), 10_000))]);
    assert(code === 0, `host exit code ${code}`);
});

connection.dispose();

const daemonDll = process.argv[3] ? resolve(process.argv[3]) : null;
if (daemonDll && existsSync(daemonDll)) {
    const shared = resolve(process.env.ADVVIS_SHARED ?? resolve(here, '../../../../../shared'));
    const workspace = mkdtempSync(resolve(tmpdir(), 'advvis-interop-'));
    const daemon = spawn(process.env.DOTNET ?? 'dotnet', [daemonDll, 'serve', '--stdio', '--workspace', workspace], { stdio: ['pipe', 'pipe', 'pipe'] });
    let daemonStderr = '';
    daemon.stderr.on('data', chunk => { daemonStderr += chunk; });
    const daemonExit = new Promise(resolveExit => daemon.on('exit', code => resolveExit(code)));
    const rpc = createMessageConnection(new StreamMessageReader(daemon.stdout), new StreamMessageWriter(daemon.stdin));
    rpc.listen();
    console.log(`vscode-jsonrpc interop against the daemon ${daemonDll}`);
    const model = resolve(shared, 'models', 'mnist-zoo-opset7.onnx');
    const samples = resolve(shared, 'data', 'mnist', 'foolbox_samples');
    let handle;

    await check('daemon: model/open answers the handle and description', async () => {
        const info = await rpc.sendRequest('model/open', { path: model });
        assert(/^[0-9a-f]{16}$/.test(info.handle) && info.sha256.startsWith(info.handle), `handle ${info.handle}`);
        assert(info.inputs[0].shape.join(',') === '1,1,28,28', `input shape ${info.inputs[0].shape}`);
        assert(info.classCount === 10, `classCount ${info.classCount}`);
        handle = info.handle;
    });

    await check('daemon: model/graph gives nodes, edges, layers and the selection check', async () => {
        const graph = await rpc.sendRequest('model/graph', { model: handle, selection: ['Plus30_Output_0', 'Plus112_Output_0'] });
        assert(graph.nodes.some(n => n.opType === 'Conv' && n.category === 'connectedWeighted'), 'no weighted Conv node');
        assert(graph.edges.length >= graph.nodes.length, `${graph.edges.length} edges`);
        assert(graph.layers.includes('ReLU32_Output_0'), 'layers lack ReLU32_Output_0');
        assert(graph.selection.isSequential === true, JSON.stringify(graph.selection));
        await expectError(rpc.sendRequest('model/graph', { model: 'nope' }), -32001, 'model/open');
    });

    await check('daemon: attack/run reports progress, returns PNGs and is then served from the cache', async () => {
        const names = readdirSync(samples).filter(f => f.endsWith('.png')).sort().slice(0, 4);
        const images = names.map(f => resolve(samples, f));
        const labels = names.map(f => Number(f.replace('.png', '').split('_')[2]));
        const token = 'node-attack';
        const values = [];
        const subscription = rpc.onProgress(new ProgressType(), token, value => values.push(value));
        const params = { model: handle, items: { images, labels }, attack: { kind: 'pgd', eps: 0.3, alpha: 0.075, steps: 10 }, returnImages: true, workDoneToken: token };
        const result = await rpc.sendRequest('attack/run', params);
        subscription.dispose();
        assert(result.count === 4 && result.cleanAccuracy === 1 && result.successRate === 1, JSON.stringify({ ...result, items: undefined }));
        assert(values[0]?.kind === 'begin' && values.at(-1)?.kind === 'end', `progress kinds ${values.map(v => v.kind).join(',')}`);
        const png = Buffer.from(result.items[0].adversarialImage.pngBase64, 'base64');
        assert(png.subarray(1, 4).toString('ascii') === 'PNG', 'adversarial image is not a PNG');
        assert(existsSync(result.items[0].adversarialPath), `no file ${result.items[0].adversarialPath}`);
        assert(result.items[0].adversarial.class !== labels[0], 'the adversarial class equals the label');
        const again = await rpc.sendRequest('attack/run', { ...params, workDoneToken: undefined });
        assert(again.fromCache === true && again.meanL2 === result.meanL2, 'second request not served from the cache');
    });

    await check('daemon: shutdown then exit ends the daemon with 0', async () => {
        assert(await rpc.sendRequest('shutdown') === null, 'shutdown result');
        await rpc.sendNotification('exit');
        const code = await Promise.race([daemonExit, new Promise(r => setTimeout(() => r('timeout'), 10_000))]);
        assert(code === 0, `daemon exit code ${code}\n${daemonStderr}`);
    });
    rpc.dispose();
    daemon.kill();
    rmSync(workspace, { recursive: true, force: true });
} else {
    console.log('daemon checks skipped: pass the path of advvis.dll as the second argument');
}

clearTimeout(overall);
const failed = results.filter(r => !r.ok).length;
console.log(`${results.length - failed} passed, ${failed} failed`);
if (failed > 0) {
    console.log(`stderr of the host:\n${stderr}`);
}
child.kill();
process.exit(failed > 0 ? 1 : 0);
