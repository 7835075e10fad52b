// Workspace trust and the daemon setting, through the real activation against the vscode stub: in Restricted Mode the
// commands that compute are refused with a way to trust, the Architecture View shows a notice and starts nothing, and
// trust granted later loads the graph in place; a workspace value of advvis.daemonPath neither chooses the executable
// nor restarts the daemon; webviews may load only the extension's media folder.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as vscode from 'vscode';
import { stub, Uri } from './vscodeStub';
import { activate } from '../../src/extension';
import { daemonPathSetting } from '../../src/config';
import type { Ctx } from '../../src/ctx';
import { attachWebview, webviewOptions } from '../../src/panels/webviewHost';
import { ModelCodeLensProvider } from '../../src/codelens/provider';
import { onnxViewType, type OnnxEditorProvider } from '../../src/editors/onnxEditor';
import { RestrictedModeError } from '../../src/trust';
import type { HostMessage, WebviewMessage } from '../../../webviews/shared/messages';

const tick = () => new Promise(resolve => setTimeout(resolve, 10));
let ctx: Ctx;
const activated: Ctx[] = [];
let daemonRequests: string[];

/** Activates the extension; the daemon client's requests are recorded (and answered like the daemon) instead of sent. */
function activateExtension(): Ctx {
    const state = new Map<string, unknown>();
    const context = { subscriptions: [] as { dispose(): unknown }[], extensionPath: '/ext', extensionUri: Uri.file('/ext'),
        workspaceState: { get: (key: string) => state.get(key), update: async (key: string, value: unknown) => { state.set(key, value); } } };
    ctx = activate(context as unknown as vscode.ExtensionContext).ctx;
    activated.push(ctx);
    daemonRequests = [];
    vi.spyOn(ctx.client, 'request').mockImplementation(async (method: string) => {
        daemonRequests.push(method);
        if (method === 'model/open') return { handle: 'h1', path: '/ws/m.onnx', nodeCount: 1 } as never;
        if (method === 'model/graph') return { nodes: [], edges: [], layers: [], blocks: [] } as never;
        return {} as never;
    });
    return ctx;
}

/** A webview panel that records what the host posts and lets the test post as the webview. */
function fakePanel() {
    const posted: HostMessage[] = [];
    let receive: (message: WebviewMessage) => unknown = () => undefined;
    const webview = {
        options: {} as vscode.WebviewOptions, html: '', cspSource: 'vscode-resource:',
        asWebviewUri: (uri: unknown) => uri,
        postMessage: async (message: HostMessage) => { posted.push(message); return true; },
        onDidReceiveMessage: (listener: (message: WebviewMessage) => unknown) => { receive = listener; return { dispose: () => undefined }; },
    };
    const panel = { webview, onDidDispose: () => ({ dispose: () => undefined }) };
    return { panel: panel as unknown as vscode.WebviewPanel, posted, send: async (message: WebviewMessage) => { await receive(message); await tick(); } };
}

beforeEach(() => {
    stub.reset();
    stub.workspaceFolders = [{ uri: Uri.file('/ws'), name: 'ws', index: 0 }];
});
afterEach(() => { for (const c of activated.splice(0)) c.dispose(); vi.restoreAllMocks(); });

describe('advvis.daemonPath', () => {
    it('ignores workspace and workspace-folder values, even when VS Code hands them on', () => {
        stub.settings.set('advvis.daemonPath', { defaultValue: '', workspaceValue: '/repo/evil.sh', workspaceFolderValue: '/repo/evil2.sh' });
        expect(daemonPathSetting()).toBe('');
        stub.settings.set('advvis.daemonPath', { defaultValue: '', globalValue: ' /home/me/advvis ', workspaceValue: '/repo/evil.sh' });
        expect(daemonPathSetting()).toBe('/home/me/advvis');
    });

    it('never starts the executable a workspace names, and a workspace change does not restart the daemon', async () => {
        activateExtension();
        const restart = vi.spyOn(ctx.client, 'restart').mockResolvedValue();
        vi.spyOn(ctx.client, 'running', 'get').mockReturnValue(true);
        stub.set('advvis.daemonPath', 'workspaceValue', process.execPath); // exists, and would run
        await tick();
        expect(restart).not.toHaveBeenCalled();
        const located = (ctx.client as unknown as { locate(): { source?: string; path?: string; error?: string } }).locate();
        expect(located.source).not.toBe('setting advvis.daemonPath');
        expect(located.path).not.toBe(process.execPath);
        // The user's own setting still works, and its change restarts the daemon.
        stub.set('advvis.daemonPath', 'globalValue', process.execPath);
        await tick();
        expect(restart).toHaveBeenCalledTimes(1);
        expect((ctx.client as unknown as { locate(): { source?: string } }).locate().source).toBe('setting advvis.daemonPath');
    });
});

describe('an untrusted workspace (Restricted Mode)', () => {
    beforeEach(() => { stub.trusted = false; });

    it.each([
        ['advvis.explainAttack', [Uri.file('/ws/digit.png')]],
        ['advvis.robustnessReport', [Uri.file('/ws/m.onnx')]],
        ['advvis.openDataset', [Uri.file('/ws/digits')]],
        ['advvis.restartDaemon', []],
    ])('refuses %s with a message that offers "Manage Workspace Trust", and starts no daemon', async (id, args) => {
        activateExtension();
        stub.answer = 'Manage Workspace Trust';
        await stub.commands.get(id)!(...args);
        await tick();
        expect(stub.shown).toEqual([{ level: 'warning', message: expect.stringMatching(/not available in Restricted Mode/), items: ['Manage Workspace Trust'] }]);
        expect(stub.executed.map(call => call.id)).toEqual(['workbench.trust.manage']);
        expect(daemonRequests).toEqual([]);
        expect(ctx.client.running).toBe(false);
    });

    it('refuses every daemon request in code, whoever asks', async () => {
        activateExtension();
        await expect(ctx.request('model/open', { path: '/ws/m.onnx' })).rejects.toBeInstanceOf(RestrictedModeError);
        expect(daemonRequests).toEqual([]);
    });

    it('the Architecture View shows the Restricted Mode notice without opening the model, and loads the graph once trust is granted', async () => {
        activateExtension();
        const editor = stub.customEditors.get(onnxViewType) as OnnxEditorProvider;
        const { panel, posted, send } = fakePanel();
        await editor.resolveCustomEditor({ uri: Uri.file('/ws/m.onnx') as unknown as vscode.Uri, dispose: () => undefined }, panel);
        await send({ type: 'ready' });
        expect(posted).toEqual([{ type: 'init', view: 'architecture', body: { modelPath: '/ws/m.onnx', restricted: true } }]);
        // Its button asks VS Code to manage trust; the webview's own rpc requests are refused too.
        await send({ type: 'manageTrust' });
        expect(stub.executed.map(call => call.id)).toEqual(['workbench.trust.manage']);
        await send({ type: 'rpc', requestId: 1, method: 'model/graph', params: { model: 'h1' } });
        expect(posted[1]).toMatchObject({ type: 'rpcResult', requestId: 1, error: { message: expect.stringMatching(/Restricted Mode/) } });
        expect(daemonRequests).toEqual([]);

        stub.grantTrust();
        await tick();
        expect(daemonRequests).toEqual(['workspace/configure', 'model/open', 'model/graph']);
        expect(posted[2]).toMatchObject({ type: 'init', view: 'architecture', body: { modelPath: '/ws/m.onnx', model: { handle: 'h1' }, graph: { nodes: [] } } });
    });

    it('CodeLens offers only the Architecture lens until trust is granted', async () => {
        const dir = mkdtempSync(join(tmpdir(), 'advvis-lens-'));
        try {
            writeFileSync(join(dir, 'm.onnx'), '');
            const document = { uri: Uri.file(join(dir, 'advvis.json')), getText: () => JSON.stringify({ models: [{ path: 'm.onnx' }] }) };
            const provider = new ModelCodeLensProvider({} as Ctx);
            const titles = async () => (await provider.provideCodeLenses(document as unknown as vscode.TextDocument, {} as vscode.CancellationToken))
                .map(lens => (provider.resolveCodeLens(lens).command as { title: string }).title);
            expect(await titles()).toEqual(['Architecture']);
            stub.grantTrust();
            expect(await titles()).toEqual(['Architecture', 'Explain attack', 'Robustness report']);
        } finally {
            rmSync(dir, { recursive: true, force: true });
        }
    });
});

describe('webview confinement', () => {
    it('lets webviews load local files only from the extension\'s media folder, never the workspace', () => {
        const options = webviewOptions({ extension: { extensionUri: Uri.file('/ext') } } as unknown as Ctx);
        expect(options.localResourceRoots?.map(uri => uri.fsPath)).toEqual(['/ext/media']);
    });

    it.skipIf(process.platform === 'win32')('writes an export to the file the user picks, but never through a symbolic link a repository planted', async () => {
        const dir = mkdtempSync(join(tmpdir(), 'advvis-export-'));
        try {
            const precious = join(dir, 'precious.txt');
            writeFileSync(precious, 'the user\'s own file');
            symlinkSync(precious, join(dir, 'mnist-architecture.svg'));
            activateExtension();
            const { panel, send } = fakePanel();
            attachWebview(ctx, panel.webview, 'architecture', 't', []);
            const exported = { type: 'export', format: 'svg', name: 'mnist-architecture', content: '<svg/>', encoding: 'utf8' } as const;
            stub.saveAs = join(dir, 'mnist-architecture.svg');
            await send(exported);
            expect(stub.written).toEqual([]);
            expect(stub.shown).toEqual([{ level: 'error', message: expect.stringContaining('is a symbolic link; exports are never written through links'), items: [] }]);
            stub.saveAs = join(dir, 'plain.svg');
            await send(exported);
            expect(stub.written.map(w => [w.path, w.bytes.toString()])).toEqual([[join(dir, 'plain.svg'), '<svg/>']]);
        } finally {
            rmSync(dir, { recursive: true, force: true });
        }
    });
});
