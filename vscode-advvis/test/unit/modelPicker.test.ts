// The model picker asks the daemon which models run: a truncated file (parse failure) and a model with operators
// AdvVis lacks are listed last, marked with why, and never pre-selected (the first entry is what Enter takes) or
// chosen without asking; a remembered model is named when it is reused, and dropped when it can no longer run.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { stub, Uri, window, workspace } from './vscodeStub';
import { pickModel } from '../../src/commands/pickers';
import { DaemonError } from '../../src/daemon/client';
import type { Ctx } from '../../src/ctx';

const models = ['/ws/swin_t.onnx', '/ws/truncated.onnx', '/ws/squeezenet.onnx'];
const info = (path: string, unsupported: { node: string; opType: string; reason: string }[] = []) =>
    ({ handle: path, path, unsupported, preprocessing: { width: 224, height: 224, channels: 3 } });

function fakeCtx(remembered?: string): { ctx: Ctx; state: Map<string, unknown> } {
    const state = new Map<string, unknown>(remembered ? [['advvis.lastModel', remembered]] : []);
    const request = async (method: string, params: { path: string }) => {
        expect(method).toBe('model/open');
        if (params.path.includes('truncated')) throw new DaemonError('model/open', "'/ws/truncated.onnx' ends inside a tensor: the file is truncated; download it again.", -32002);
        if (params.path.includes('swin')) return info(params.path, [{ node: 'einsum_1', opType: 'Einsum', reason: 'no implementation' }]);
        return info(params.path);
    };
    const ctx = { extension: { workspaceState: { get: (key: string) => state.get(key), update: async (key: string, value: unknown) => { state.set(key, value); } } }, request } as unknown as Ctx;
    return { ctx, state };
}

let offered: { label: string; detail?: string; modelPath: string }[] = [];
beforeEach(() => {
    stub.reset();
    offered = [];
    vi.spyOn(workspace, 'findFiles').mockImplementation((async (pattern: string) => (pattern.includes('onnx') ? models.map(Uri.file) : [])) as never);
    vi.spyOn(window, 'showQuickPick').mockImplementation((async (items: typeof offered) => { offered = items; return items[0]; }) as never);
});
afterEach(() => vi.restoreAllMocks());

describe('the model picker', () => {
    it('lists unusable models last with why, and pre-selects one that runs', async () => {
        const { ctx, state } = fakeCtx();
        expect(await pickModel(ctx)).toBe('/ws/squeezenet.onnx');
        expect(offered.map(item => item.modelPath)).toEqual(['/ws/squeezenet.onnx', '/ws/swin_t.onnx', '/ws/truncated.onnx']);
        expect(offered[0].detail).toBeUndefined();
        expect(offered[1].label).toContain('$(warning)');
        expect(offered[1].detail).toBe('Cannot be used: it uses operators AdvVis cannot run yet (Einsum).');
        expect(offered[2].detail).toContain('the file is truncated');
        expect(state.get('advvis.lastModel')).toBe('/ws/squeezenet.onnx');
    });

    it('refuses an unusable model picked anyway, saying why', async () => {
        const { ctx, state } = fakeCtx();
        vi.spyOn(window, 'showQuickPick').mockImplementation((async (items: typeof offered) => items.find(item => item.modelPath.includes('swin'))) as never);
        expect(await pickModel(ctx)).toBeUndefined();
        expect(stub.shown.at(-1)).toMatchObject({ level: 'error', message: 'AdvVis: swin_t.onnx cannot be used: it uses operators AdvVis cannot run yet (Einsum).' });
        expect(state.get('advvis.lastModel')).toBeUndefined();
    });

    it('names a remembered model when reusing it, and asks again when it no longer runs', async () => {
        expect(await pickModel(fakeCtx('/ws/squeezenet.onnx').ctx)).toBe('/ws/squeezenet.onnx');
        expect(stub.shown.at(-1)?.message).toContain('using the model squeezenet.onnx (remembered for this workspace');
        expect(offered).toEqual([]);
        expect(await pickModel(fakeCtx('/ws/swin_t.onnx').ctx)).toBe('/ws/squeezenet.onnx');
        expect(offered.length).toBe(3);
    });
});
