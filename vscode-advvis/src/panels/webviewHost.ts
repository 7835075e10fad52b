// The host side of a webview: HTML with CSP, the `ready` handshake, and the relay. Webviews never reach the daemon:
// `rpc` messages are forwarded only for the methods the panel allows, results are inlined (cache files → base64) and
// posted back; `export` writes the file the user picks (not through a symlink); webview errors go to the log (and fail
// the e2e test).
// Webviews may load local files only from the extension's media/ folder (their bundles and CSS): everything from the
// daemon arrives inlined after the confinement check, and VS Code's resource loader follows symlinks under a root, so
// listing the workspace, the cache or the export folder would let a symlink there show any file.
import { lstat } from 'node:fs/promises';
import * as vscode from 'vscode';
import type { Ctx } from '../ctx';
import { DaemonError } from '../daemon/client';
import type { MethodName } from '../daemon/protocol';
import type { HostMessage, WebviewMessage } from '../../../webviews/shared/messages';
import { resultFolders } from '../daemon/inline';
import { manageTrustCommand } from '../trust';
import { webviewHtml } from './webviewHtml';

export type ViewName = 'architecture' | 'explain' | 'dataset';

export interface WebviewChannel extends vscode.Disposable {
    post(message: HostMessage): Thenable<boolean>;
    /** Resolves on the webview's first `ready` (and re-fires the callback on every later one, e.g. after a reload). */
    onReady(callback: () => void): void;
}

export function webviewOptions(ctx: Ctx): vscode.WebviewOptions {
    return { enableScripts: true, localResourceRoots: [vscode.Uri.joinPath(ctx.extension.extensionUri, 'media')] };
}

export function attachWebview(ctx: Ctx, webview: vscode.Webview, view: ViewName, title: string, allowed: readonly MethodName[],
    onMessage: (message: WebviewMessage) => void = () => undefined): WebviewChannel {
    webview.options = webviewOptions(ctx);
    const media = (file: string) => webview.asWebviewUri(vscode.Uri.joinPath(ctx.extension.extensionUri, 'media', file)).toString();
    webview.html = webviewHtml({ cspSource: webview.cspSource, scriptUri: media(`${view}.js`), styleUri: media('advvis.css'), title });
    const readyCallbacks: (() => void)[] = [];
    const subscription = webview.onDidReceiveMessage(async (message: WebviewMessage) => {
        switch (message.type) {
            case 'ready':
                for (const callback of readyCallbacks) callback();
                break;
            case 'rpc': {
                if (!allowed.includes(message.method)) {
                    void webview.postMessage({ type: 'rpcResult', requestId: message.requestId, error: { code: -32601, message: `The ${view} view may not call ${message.method}.` } } satisfies HostMessage);
                    break;
                }
                try {
                    const result = await ctx.inline(await ctx.request(message.method, message.params as never));
                    void webview.postMessage({ type: 'rpcResult', requestId: message.requestId, result } satisfies HostMessage);
                } catch (error) {
                    const failure = error instanceof DaemonError ? { code: error.code ?? -32603, message: error.message } : { code: -32603, message: String(error) };
                    ctx.output.warn(`${view} view: ${message.method} failed: ${failure.message}`);
                    void webview.postMessage({ type: 'rpcResult', requestId: message.requestId, error: failure } satisfies HostMessage);
                }
                break;
            }
            case 'export':
                await saveExport(ctx, message);
                break;
            case 'manageTrust':
                void vscode.commands.executeCommand(manageTrustCommand);
                break;
            case 'error':
                ctx.output.error(`${view} webview: ${message.message}`);
                break;
            default:
                onMessage(message);
        }
    });
    return {
        post: message => webview.postMessage(message),
        onReady: callback => readyCallbacks.push(callback),
        dispose: () => subscription.dispose(),
    };
}

async function saveExport(ctx: Ctx, message: Extract<WebviewMessage, { type: 'export' }>): Promise<void> {
    const root = ctx.workspaceRoot;
    const fileName = `${message.name.replace(/[^\w.-]+/g, '_')}.${message.format}`;
    const target = await vscode.window.showSaveDialog({
        defaultUri: root ? vscode.Uri.joinPath(vscode.Uri.file(resultFolders(root).exportDir), fileName) : undefined,
        filters: { [message.format.toUpperCase()]: [message.format] },
    });
    if (!target) return;
    // A repository may ship `.advvis/export/<name>` as a link to a file of the user's: never write through one.
    if (target.scheme === 'file' && await lstat(target.fsPath).then(info => info.isSymbolicLink(), () => false)) {
        void vscode.window.showErrorMessage(`AdvVis: ${target.fsPath} is a symbolic link; exports are never written through links. Choose another file name.`);
        return;
    }
    const bytes = message.encoding === 'base64' ? Buffer.from(message.content, 'base64') : Buffer.from(message.content, 'utf8');
    await vscode.workspace.fs.writeFile(target, bytes);
    void vscode.window.showInformationMessage(`AdvVis: exported ${vscode.workspace.asRelativePath(target)}`);
}
