import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { CancellationTokenSource } from 'vscode-jsonrpc/node';
import { DaemonClient, DaemonError, type ProgressValue } from '../../src/daemon/client';
import { locateDaemon, runtimeId } from '../../src/daemon/bootstrap';
import { describeError, isMissingMethod } from '../../src/daemon/errors';
import { confinedRoots, inlineFiles } from '../../src/daemon/inline';

const fake = resolve(__dirname, 'fakeDaemon.mjs');
const clients: DaemonClient[] = [];
function client(exits: { description: string; willRestart: boolean }[] = []): DaemonClient {
    const c = new DaemonClient(() => ({ command: process.execPath, args: [fake], source: 'bundled', path: fake, cwd: dirname(fake) }), { log: () => undefined, onUnexpectedExit: (description, willRestart) => exits.push({ description, willRestart }) });
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
    it('starts the daemon in its own folder, never the workspace (Windows finds `dotnet` in the working folder first)', () => {
        expect(locateDaemon('/exists/set/advvis.dll', '/ext', ['--workspace', '/w'], {}, exists)).toMatchObject({ cwd: '/exists/set' });
        expect(locateDaemon('', '/exists/ext', [], {}, exists)).toMatchObject({ cwd: join('/exists/ext', 'daemon', runtimeId()) });
    });
});

describe('describeError', () => {
    it('turns a missing method into a calm sentence', () => {
        expect(isMissingMethod({ code: -32601 })).toBe(true);
        expect(isMissingMethod({ code: -32006 })).toBe(true);
        expect(describeError('attribution/graph', { code: -32601, message: 'Method not found' })).toBe('This daemon build does not offer the attribution graph yet, so that part is not shown.');
        // Method names never reach the user: the part is named in words.
        expect(describeError('profiles/compute', { code: -32602, message: "'a' and 'b' are on parallel branches" })).not.toContain('profiles/compute');
        expect(describeError('vulnerability/map', { code: -32603, message: 'out of memory' })).toBe('Vulnerability map could not be computed: out of memory');
        expect(describeError('neurons/rank', { code: -32800, message: '' })).toBe('Vulnerable neurons: cancelled.');
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
        const state = await c.request('test/opened' as never, undefined as never) as unknown as { opened: string[]; pid: number; cwd: string };
        expect(state.pid).not.toBe(firstPid);
        expect(state.opened).toEqual(['/models/a.onnx']);
        expect(state.cwd).toBe(dirname(fake));
    });
    it('fails with a clear message when the daemon cannot start', async () => {
        const c = new DaemonClient(() => ({ error: 'no daemon here' }), { log: () => undefined, onUnexpectedExit: () => undefined });
        await expect(c.request('daemon/ping', undefined)).rejects.toThrow('no daemon here');
    });
});

describe('inlineFiles', () => {
    const f32 = (values: number[]) => Buffer.from(new Float32Array(values).buffer);
    const temporary: string[] = [];
    afterAll(() => { for (const dir of temporary.splice(0)) rmSync(dir, { recursive: true, force: true }); });
    /** A workspace whose cache holds a result array and PNG, plus links: one to a file outside, one to a file inside. */
    function workspaceWithCache(): { workspace: string; cache: string; outside: string } {
        const base = realpathSync(mkdtempSync(join(tmpdir(), 'advvis-inline-')));
        temporary.push(base);
        const workspace = join(base, 'ws'), cache = join(workspace, '.advvis', 'cache', 'blobs');
        mkdirSync(cache, { recursive: true });
        writeFileSync(join(cache, 'a.f32'), f32([1, 2]));
        writeFileSync(join(cache, 'm.png'), Buffer.from([137, 80, 78, 71]));
        const outside = join(base, 'secret.txt');
        writeFileSync(outside, 'not a result');
        symlinkSync(outside, join(cache, 'leak.f32'));
        symlinkSync(join(cache, 'a.f32'), join(cache, 'alias.f32'));
        return { workspace, cache, outside };
    }

    it('inlines cache-file arrays and PNGs as base64 and leaves the rest', async () => {
        const { workspace, cache } = workspaceWithCache();
        const roots = await confinedRoots(workspace);
        expect(roots).toEqual([join(workspace, '.advvis', 'cache')]);
        const value = await inlineFiles({ values: { shape: [2], path: join(cache, 'a.f32') }, alias: { shape: [2], path: join(cache, 'alias.f32') }, mask: { width: 1, height: 1, channels: 1, path: join(cache, 'm.png') }, source: { path: 'x.png' } }, roots) as Record<string, Record<string, unknown>>;
        expect(value.values.base64).toBe(f32([1, 2]).toString('base64'));
        expect(value.alias.base64).toBe(f32([1, 2]).toString('base64'));
        expect(value.mask.pngBase64).toBe('iVBORw==');
        expect(value.source.base64).toBeUndefined();
    });
    it('refuses, logs and never reads a path outside the cache and export folders, or a link in the cache that leads outside', async () => {
        const { workspace, cache, outside } = workspaceWithCache();
        const log: string[] = [];
        const value = await inlineFiles({
            outside: { shape: [3], path: outside },
            traversal: { shape: [3], path: join(cache, '..', '..', '..', '..', 'secret.txt') },
            leak: { shape: [3], path: join(cache, 'leak.f32') },
            image: { width: 1, height: 1, channels: 1, path: join(cache, 'leak.png') },
            relative: { shape: [3], path: 'ws/.advvis/cache/blobs/a.f32' },
        }, await confinedRoots(workspace), line => log.push(line)) as Record<string, Record<string, unknown>>;
        for (const key of ['outside', 'traversal', 'leak', 'relative']) expect(value[key].base64, key).toBeUndefined();
        expect(value.image.pngBase64).toBeUndefined();
        expect(log).toHaveLength(5);
        expect(log[0]).toBe(`refused to inline ${outside}: not a file inside the cache or export folder (symbolic links resolved).`);
    });
    it('trusts nothing in a cache folder that a repository ships as a symbolic link', async () => {
        const { workspace: elsewhere, cache: realCache } = workspaceWithCache();
        const workspace = join(dirname(elsewhere), 'cloned');
        mkdirSync(workspace);
        symlinkSync(join(elsewhere, '.advvis'), join(workspace, '.advvis'));
        const log: string[] = [];
        const roots = await confinedRoots(workspace, line => log.push(line));
        expect(roots).toEqual([]);
        expect(log).toEqual([`AdvVis reads no results from ${join(workspace, '.advvis', 'cache')}: it resolves to ${join(elsewhere, '.advvis', 'cache')} through a symbolic link.`]);
        const value = await inlineFiles({ values: { shape: [2], path: join(workspace, '.advvis', 'cache', 'blobs', 'a.f32') } }, roots) as Record<string, Record<string, unknown>>;
        expect(value.values.base64).toBeUndefined();
        expect(existsSync(join(realCache, 'a.f32'))).toBe(true);
    });
    it.skipIf(process.platform === 'win32')('refuses a FIFO in the cache instead of blocking on it', async () => {
        const { workspace, cache } = workspaceWithCache();
        execFileSync('mkfifo', [join(cache, 'pipe.f32')]);
        const value = await inlineFiles({ values: { shape: [2], path: join(cache, 'pipe.f32') } }, await confinedRoots(workspace)) as Record<string, Record<string, unknown>>;
        expect(value.values.base64).toBeUndefined();
    });
});
