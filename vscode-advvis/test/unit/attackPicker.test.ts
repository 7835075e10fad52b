// The attack quick pick, through the real activation against the vscode stub: its gradient and AutoAttack presets use
// the standard L∞ budget of the remembered model's domain (model/open's standardBudgets), else the settings' ε.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type * as vscode from 'vscode';
import { stub, Uri, window } from './vscodeStub';
import { activate } from '../../src/extension';
import type { Ctx } from '../../src/ctx';
import type { AttackSpec } from '../../src/daemon/protocol';

let ctx: Ctx;
let state: Map<string, unknown>;
let offered: { label: string; attack: AttackSpec }[];

beforeEach(() => {
    stub.reset();
    stub.workspaceFolders = [{ uri: Uri.file('/ws'), name: 'ws', index: 0 }];
    state = new Map<string, unknown>();
    const context = { subscriptions: [] as { dispose(): unknown }[], extensionPath: '/ext', extensionUri: Uri.file('/ext'),
        workspaceState: { get: (key: string) => state.get(key), update: async (key: string, value: unknown) => { state.set(key, value); } } };
    ctx = activate(context as unknown as vscode.ExtensionContext).ctx;
    vi.spyOn(ctx.client, 'request').mockImplementation((async (method: string) => {
        if (method === 'model/open') return { handle: 'h1', path: '/ws/cifar.onnx', nodeCount: 1, labels: [], unsupported: [],
            preprocessing: { width: 32, height: 32, channels: 3 }, standardBudgets: [{ norm: 'linf', eps: 8 / 255 }, { norm: 'l2', eps: 0.5 }] };
        return {};
    }) as never);
    offered = [];
    vi.spyOn(window, 'showQuickPick').mockImplementation((async (items: { label: string; attack: AttackSpec }[]) => {
        offered = items; return items.find(item => item.label.startsWith('APGD-CE'));
    }) as never);
});
afterEach(() => { ctx.dispose(); vi.restoreAllMocks(); });

describe('the attack quick pick', () => {
    it("offers AutoAttack and torchattacks presets at the remembered model's standard L∞ budget", async () => {
        state.set('advvis.lastModel', '/ws/cifar.onnx');
        await stub.commands.get('advvis.selectAttack')!();
        const apgd = offered.find(item => item.label.startsWith('APGD-CE'))!;
        expect(apgd.attack).toMatchObject({ kind: 'apgdCe', eps: 8 / 255 });
        expect(apgd.label).toContain("ε=0.0314 (the model's standard L∞ budget)");
        for (const kind of ['pgd', 'bim', 'miFgsm', 'tpgd', 'eotPgd', 'apgdT', 'fabT', 'square'])
            expect(offered.find(item => item.attack.kind === kind && item.label.includes('standard L∞ budget'))?.attack.eps).toBe(8 / 255);
        expect(state.get('advvis.lastAttack')).toMatchObject({ kind: 'apgdCe', eps: 8 / 255 });
    });

    it("falls back to the settings' ε when no model is remembered", async () => {
        await stub.commands.get('advvis.selectAttack')!();
        const apgd = offered.find(item => item.label.startsWith('APGD-CE'))!;
        expect(apgd.attack.eps).toBe(0.1);
        expect(apgd.label).not.toContain('standard');
    });

    it("uses the settings' ε when the daemon cannot open the remembered model", async () => {
        state.set('advvis.lastModel', '/ws/cifar.onnx');
        vi.spyOn(ctx.client, 'request').mockImplementation((async () => { throw new Error('truncated'); }) as never);
        await stub.commands.get('advvis.selectAttack')!();
        expect(offered.find(item => item.label.startsWith('APGD-CE'))!.attack.eps).toBe(0.1);
    });
});
