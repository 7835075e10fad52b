import { describe, expect, it, afterEach } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CancellationTokenSource } from 'vscode-jsonrpc/node';
import { DaemonClient, DaemonError, type ProgressValue } from '../../src/daemon/client';
import { locateDaemon, runtimeId } from '../../src/daemon/bootstrap';
import { describeError, isMissingMethod } from '../../src/daemon/errors';
import { inlineFiles } from '../../src/daemon/inline';

const fake = resolve(__dirname, 'fakeDaemon.mjs');
const clients: DaemonClient[] = [];
function client(exits: { description: string; willRestart: boolean }[] = []): DaemonClient {
    const c = new DaemonClient(() => ({ command: process.execPath, args: [fake], source: 'bundled', path: fake }), { log: () => undefined, onUnexpectedExit: (description, willRestart) => exits.push({ description, willRestart }) });
    clients.push(c);
    return c;
}
afterEach(async () => { await Promise.all(clients.splice(0).map(c => c.dispose())); });

describe('locateDaemon', () => {
    const exists = (p: string) => p.startsWith('/exists');
    it('prefers the debug env var, then the setting, then the bundled build', () => {
        expect(locateDaemon('/exists/set/advvis', '/ext', [], { ADVVIS_DAEMON_DEBUG: '/exists/dbg/advvis.dll' }, exists)).toMatchObject({ source: 'env ADVVIS_DAEMON_DEBUG', args: ['/exists/dbg/advvis.dll', 'serve', '--stdio'] });
        expect(locateDaemon('/exists/set/advvis', '/ext', ['--workspace', '/w'], {}, exists)).toMatchObject({ source: 'setting advvis.daemonPath', command: '/exists/set/advvis', args: ['serve', '--stdio', '--workspace', '/w'] });
        expect(locateDaemon('', '/exists/ext', [], {}, exists)).toMatchObject({ source: 'bundled', path: join('/exists/ext', 'daemon', runtimeId(), 'advvis') });
    });
    it('says what to set when nothing is found', () => {
        expect(locateDaemon('/nowhere/advvis', '/ext', [], {}, exists)).toEqual({ error: expect.stringContaining('advvis.daemonPath points to /nowhere/advvis') });
        expect(locateDaemon('', '/ext', [], {}, exists)).toEqual({ error: expect.stringContaining('set "advvis.daemonPath"') });
    });
    it('runs a .dll with dotnet', () => {
        expect(locateDaemon('/exists/advvis.dll', '/ext', [], {}, exists)).toMatchObject({ command: 'dotnet', args: ['/exists/advvis.dll', 'serve', '--stdio'] });
    });
});

describe('describeError', () => {
    it('turns a missing method into a calm sentence', () => {
        expect(isMissingMethod({ code: -32601 })).toBe(true);
        expect(isMissingMethod({ code: -32006 })).toBe(true);
        expect(describeError('attribution/graph', { code: -32601, message: 'Method not found' })).toBe('This daemon build does not offer "attribution/graph" yet, so that part is not shown.');
        expect(describeError('model/open', { code: -32002, message: 'model.onnx: not an ONNX file' })).toBe('model.onnx: not an ONNX file');
    });
});

describe('DaemonClient against a stand-in daemon', () => {
    it('answers, reports missing methods with -32601 and relays progress', async () => {
        const c = client();
        expect(await c.request('model/open', { path: '/m.onnx' })).toMatchObject({ handle: 'h-7' });
        const error = await c.request('neurons/cluster', { model: 'h', layer: 'x', units: [1], images: ['i'] }).catch(e => e);
        expect(error).toBeInstanceOf(DaemonError);
        expect(error.code).toBe(-32601);
        const progress: ProgressValue[] = [];
        await c.request('attack/run', { model: 'h', items: { images: ['a.png'] }, attack: { kind: 'fgsm', eps: 0.1 } }, { onProgress: value => progress.push(value) });
        expect(progress.map(p => p.kind)).toEqual(['begin', 'report', 'end']);
        expect(progress[1].percentage).toBe(50);
    });
    it('cancels with $/cancelRequest', async () => {
        const c = client();
        const source = new CancellationTokenSource();
        const pending = c.request('explain/run', { model: 'h', image: 'x.png', attack: { kind: 'fgsm', eps: 0.1 } }, { token: source.token });
        setTimeout(() => source.cancel(), 200);
        const error = await pending.catch(e => e);
        expect(error.code).toBe(-32800);
    });
    it('restarts after a crash, tells the user, and re-opens the models', async () => {
        const exits: { description: string; willRestart: boolean }[] = [];
        const c = client(exits);
        await c.request('model/open', { path: '/models/a.onnx' });
        const firstPid = c.process!.pid;
        await c.request('test/crash' as never, undefined as never).catch(() => undefined);
        await new Promise(r => setTimeout(r, 300));
        expect(exits).toHaveLength(1);
        expect(exits[0]).toMatchObject({ willRestart: true, description: expect.stringContaining('exit code 3') });
        const state = await c.request('test/opened' as never, undefined as never) as unknown as { opened: string[]; pid: number };
        expect(state.pid).not.toBe(firstPid);
        expect(state.opened).toEqual(['/models/a.onnx']);
    });
    it('fails with a clear message when the daemon cannot start', async () => {
        const c = new DaemonClient(() => ({ error: 'no daemon here' }), { log: () => undefined, onUnexpectedExit: () => undefined });
        await expect(c.request('daemon/ping', undefined)).rejects.toThrow('no daemon here');
    });
});

describe('inlineFiles', () => {
    it('inlines cache-file arrays and PNGs as base64 and leaves the rest', async () => {
        const dir = mkdtempSync(join(tmpdir(), 'advvis-'));
        writeFileSync(join(dir, 'a.f32'), Buffer.from(new Float32Array([1, 2]).buffer));
        writeFileSync(join(dir, 'm.png'), Buffer.from([137, 80, 78, 71]));
        const value = await inlineFiles({ values: { shape: [2], path: join(dir, 'a.f32') }, mask: { width: 1, height: 1, channels: 1, path: join(dir, 'm.png') }, source: { path: 'x.png' } }) as Record<string, Record<string, unknown>>;
        expect(value.values.base64).toBe(Buffer.from(new Float32Array([1, 2]).buffer).toString('base64'));
        expect(value.mask.pngBase64).toBe('iVBORw==');
        expect(value.source.base64).toBeUndefined();
    });
});
