// The Robustness Report command, through the real activation against the vscode stub: it asks the norm and the ε list,
// sends robustness/evaluate with them (nothing for ε when the box is left empty, so the daemon picks the model's
// standard budget), shows the Dataset View at once with the report pending, and routes the daemon's result into it.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type * as vscode from 'vscode';
import { stub, Uri, window } from './vscodeStub';
import { activate } from '../../src/extension';
import { parseEpsList } from '../../src/commands/report';
import type { Ctx } from '../../src/ctx';
import type { HostMessage } from '../../../webviews/shared/messages';
import { attackResult, robustnessResult } from '../../../webviews/test/fixtures';
import { formatEps } from '../../../webviews/shared/messages';

const tick = () => new Promise(resolve => setTimeout(resolve, 10));
let ctx: Ctx;
let sent: { method: string; params: unknown; cancellable: boolean }[];
let finishSuite: (result: unknown) => void;

beforeEach(() => {
    stub.reset();
    stub.workspaceFolders = [{ uri: Uri.file('/ws'), name: 'ws', index: 0 }];
    const state = new Map<string, unknown>();
    const context = { subscriptions: [] as { dispose(): unknown }[], extensionPath: '/ext', extensionUri: Uri.file('/ext'),
        workspaceState: { get: (key: string) => state.get(key), update: async (key: string, value: unknown) => { state.set(key, value); } } };
    ctx = activate(context as unknown as vscode.ExtensionContext).ctx;
    sent = [];
    vi.spyOn(ctx.client, 'request').mockImplementation((async (method: string, params: unknown, options?: { token?: unknown }) => {
        sent.push({ method, params, cancellable: !!options?.token });
        if (method === 'model/open') return { handle: 'h1', path: '/ws/m.onnx', nodeCount: 1, labels: [], unsupported: [], preprocessing: { width: 28, height: 28, channels: 1 },
            standardBudgets: [{ norm: 'linf', eps: 0.3 }, { norm: 'l2', eps: 1.5 }] };
        if (method === 'attack/run') return attackResult(20);
        if (method === 'model/graph') return { nodes: [], edges: [], layers: ['logits'], blocks: [] };
        if (method === 'profiles/compute') throw new Error('not in this test');
        if (method === 'robustness/evaluate') return new Promise(resolve => { finishSuite = resolve; });
        return {};
    }) as never);
});
afterEach(() => { ctx.dispose(); vi.restoreAllMocks(); });

let offered: { label: string; description?: string }[] = [];
function answer(norm: string, eps: string | undefined): { prompts: { value?: string; validateInput?: (v: string) => string | undefined }[] } {
    const prompts: { value?: string; validateInput?: (v: string) => string | undefined }[] = [];
    offered = [];
    vi.spyOn(window, 'showOpenDialog').mockImplementation((async () => [Uri.file('/ws/fmnist')]) as never);
    vi.spyOn(window, 'showQuickPick').mockImplementation((async (items: { label: string }[]) => { offered = items; return items.find(item => item.label === norm); }) as never);
    vi.spyOn(window, 'showInputBox').mockImplementation((async (options: { value?: string; validateInput?: (v: string) => string | undefined }) => { prompts.push(options); return eps; }) as never);
    return { prompts };
}

describe('the Robustness Report command', () => {
    it('sends robustness/evaluate with the chosen norm and ε, shows the report as pending, then posts the result to the Dataset View', async () => {
        const { prompts } = answer('L2', '0.25, 0.5, 64/255');
        const done = stub.commands.get('advvis.robustnessReport')!(Uri.file('/ws/m.onnx'));
        await vi.waitFor(() => expect(sent.map(s => s.method)).toContain('robustness/evaluate'));
        expect(prompts[0].validateInput!('0.1, x')).toMatch(/'x' is not a budget/);
        // The prompts carry the standard budgets model/open lists for the model's input: L2 1.5 is filled in.
        expect(offered.map(item => item.description)).toEqual(['standard budget ε = 0.3', 'standard budget ε = 1.5', 'no standard budget for this input']);
        expect(prompts[0].value).toBe('1.5');
        const request = sent.find(s => s.method === 'robustness/evaluate')!;
        expect(request.params).toMatchObject({ model: 'h1', norm: 'l2', eps: [0.25, 0.5, 64 / 255], version: 'standard' });
        expect((request.params as { items: { dataset: { path: string } } }).items.dataset.path).toBe('/ws/fmnist');
        expect(request.cancellable).toBe(true);
        // The panel is open and says the report is computing.
        const panel = stub.panels.find(p => p.viewType === 'advvis.dataset')!;
        await panel.send({ type: 'ready' });
        const init = panel.posted.find(m => (m as HostMessage).type === 'init') as Extract<HostMessage, { view: 'dataset' }>;
        expect(init.body.pending).toContain('robustness/evaluate');
        expect(init.body.robustness).toBeUndefined();
        // The daemon answers: the view gets the report, and it is no longer pending.
        const result = robustnessResult();
        finishSuite(result);
        await done;
        await tick();
        const update = panel.posted.filter(m => (m as HostMessage).type === 'update').map(m => (m as { body: { robustness?: unknown; pending?: string[] } }).body).find(body => body.robustness);
        expect(update?.robustness).toEqual(result);
        expect(update?.pending).not.toContain('robustness/evaluate');
        expect(stub.shown.find(s => s.level === 'info')?.message).toContain('robust 37.0%');
    });

    it('an emptied ε box sends no ε, so the daemon uses the standard budget of the model\'s input', async () => {
        answer('L∞', '');
        const done = stub.commands.get('advvis.robustnessReport')!(Uri.file('/ws/m.onnx'));
        await vi.waitFor(() => expect(sent.map(s => s.method)).toContain('robustness/evaluate'));
        const params = sent.find(s => s.method === 'robustness/evaluate')!.params as Record<string, unknown>;
        expect(params.norm).toBe('linf');
        expect('eps' in params).toBe(false);
        finishSuite({ ...robustnessResult(), defaultEps: true });
        await done;
    });

    it('dismissing the norm or ε prompt runs nothing', async () => {
        answer('L∞', undefined);
        await stub.commands.get('advvis.robustnessReport')!(Uri.file('/ws/m.onnx'));
        expect(sent.map(s => s.method)).not.toContain('robustness/evaluate');
        expect(sent.map(s => s.method)).not.toContain('attack/run');
    });
});

describe('Open Dataset View', () => {
    it('shows the image space without asking for budgets or running the suite', async () => {
        const { prompts } = answer('L∞', '');
        vi.spyOn(window, 'showQuickPick').mockImplementation((async (items: { label: string; modelPath?: string }[]) => items.find(item => item.modelPath) ?? items[0]) as never);
        const { workspace } = await import('./vscodeStub');
        vi.spyOn(workspace, 'findFiles').mockImplementation((async (pattern: string) => (pattern.includes('onnx') ? [Uri.file('/ws/m.onnx')] : [])) as never);
        await stub.commands.get('advvis.openDataset')!(Uri.file('/ws/fmnist'));
        expect(prompts).toEqual([]);
        expect(sent.map(s => s.method)).toContain('attack/run');
        expect(sent.map(s => s.method)).not.toContain('robustness/evaluate');
        expect(stub.panels.map(p => p.viewType)).toEqual(['advvis.dataset']);
    });
});

describe('the ε list', () => {
    it('fills budgets in as users write them', () => {
        expect([0.3, 0.2, 1.5, 12, Math.fround(8 / 255), 4 / 255, 0.02].map(formatEps)).toEqual(['0.3', '0.2', '1.5', '12', '8/255', '4/255', '0.02']);
    });

    it('reads decimals and fractions, and refuses what is not a positive budget', () => {
        expect(parseEpsList('8/255, 0.03 ,4 / 255')).toEqual([8 / 255, 0.03, 4 / 255]);
        expect(parseEpsList('  ')).toBeUndefined();
        expect(() => parseEpsList('0.1, -2')).toThrow(/'-2' is not a budget/);
        expect(() => parseEpsList('1/0')).toThrow(/'1\/0' is not a budget/);
    });
});
