// Custom read-only editor for *.onnx: the Architecture View. Opens the model in the daemon, asks for model/graph,
// and forwards both unchanged; the webview lays them out. Selecting layers there is remembered for the Flow View.
// In Restricted Mode it shows a notice with a button to manage trust instead, and never opens the model: even reading
// a graph runs the daemon on a file of the workspace (shape inference, constant folding). When trust is granted, the
// graph loads in place.
import * as vscode from 'vscode';
import type { Ctx } from '../ctx';
import { attachWebview } from '../panels/webviewHost';
import { describeError } from '../daemon/errors';

export const onnxViewType = 'advvis.onnxModel';

export class OnnxEditorProvider implements vscode.CustomReadonlyEditorProvider {
    static register(ctx: Ctx): vscode.Disposable {
        return vscode.window.registerCustomEditorProvider(onnxViewType, new OnnxEditorProvider(ctx), { supportsMultipleEditorsPerDocument: true });
    }

    constructor(private readonly ctx: Ctx) {}

    openCustomDocument(uri: vscode.Uri): vscode.CustomDocument {
        return { uri, dispose: () => undefined };
    }

    async resolveCustomEditor(document: vscode.CustomDocument, panel: vscode.WebviewPanel): Promise<void> {
        const modelPath = document.uri.fsPath;
        const channel = attachWebview(this.ctx, panel.webview, 'architecture', `Architecture: ${modelPath}`, ['model/graph'], message => {
            if (message.type === 'selectLayers') void this.ctx.extension.workspaceState.update(`advvis.layers:${modelPath}`, message.layers);
        });
        const load = async () => {
            if (!vscode.workspace.isTrusted) {
                await channel.post({ type: 'init', view: 'architecture', body: { modelPath, restricted: true } });
                return;
            }
            try {
                const model = await this.ctx.request('model/open', { path: modelPath });
                const graph = await this.ctx.request('model/graph', { model: model.handle });
                const findings = this.ctx.findings.forModel(modelPath);
                await channel.post({ type: 'init', view: 'architecture', body: { modelPath, model, graph, findings: findings ? Object.fromEntries(findings) : undefined } });
            } catch (error) {
                this.ctx.output.warn(`architecture view: ${(error as Error).message}`);
                await channel.post({ type: 'init', view: 'architecture', body: { modelPath, error: describeError('model/graph', error) } });
            }
        };
        const trusted = vscode.workspace.onDidGrantWorkspaceTrust(() => void load());
        panel.onDidDispose(() => { channel.dispose(); trusted.dispose(); });
        channel.onReady(() => void load());
    }
}
