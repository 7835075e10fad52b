// Extension lifetime: the daemon client, the output channel, remembered choices, and findings for CodeLens.
// Nothing analytical: every number comes from the daemon.
import * as path from 'node:path';
import * as vscode from 'vscode';
import { DaemonClient, DaemonError, type RequestOptions } from './daemon/client';
import { locateDaemon } from './daemon/bootstrap';
import { describeError, isCancelled, isMissingMethod } from './daemon/errors';
import type { MethodName, ParamsOf, ResultOf } from './daemon/protocol';
import { daemonPathSetting } from './config';
import { Findings } from './findings';

export class Ctx implements vscode.Disposable {
    readonly output: vscode.LogOutputChannel;
    readonly client: DaemonClient;
    readonly findings = new Findings();
    private configured = false;
    private readonly subscriptions: vscode.Disposable[] = [];

    constructor(readonly extension: vscode.ExtensionContext) {
        this.output = vscode.window.createOutputChannel('AdvVis', { log: true });
        this.client = new DaemonClient(() => locateDaemon(daemonPathSetting(), extension.extensionPath, this.serveArgs()), {
            log: line => this.output.info(line),
            onUnexpectedExit: (description, willRestart) => {
                const text = willRestart ? `${description} It was restarted; open views keep working.` : `${description} It crashed repeatedly and was not restarted.`;
                void vscode.window.showWarningMessage(text, 'Show Log', 'Restart').then(choice => {
                    if (choice === 'Show Log') this.output.show();
                    if (choice === 'Restart') void this.restart();
                });
            },
        });
        this.subscriptions.push(this.output, this.findings, vscode.workspace.onDidChangeConfiguration(event => {
            if (event.affectsConfiguration('advvis.daemonPath')) void this.restart();
        }));
    }

    private serveArgs(): string[] {
        const root = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
        return root ? ['--workspace', root] : [];
    }

    async restart(): Promise<void> {
        try {
            await this.client.restart();
            this.configured = false;
            void vscode.window.showInformationMessage('AdvVis daemon restarted.');
        } catch (error) {
            this.showError('restart', error);
        }
    }

    /** A daemon request; the first one of a session also sets the cache and export folders. */
    async request<M extends MethodName>(method: M, params: ParamsOf<M>, options?: RequestOptions): Promise<ResultOf<M>> {
        if (!this.configured && method !== 'workspace/configure') {
            const root = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
            if (root) {
                try {
                    await this.client.request('workspace/configure', { workspaceRoot: root, cacheDir: path.join(root, '.advvis', 'cache'), exportDir: path.join(root, '.advvis', 'export'), inlineLimitBytes: 16 << 20 });
                } catch (error) {
                    if (!isMissingMethod(error)) throw error;
                }
            }
            this.configured = true;
        }
        return this.client.request(method, params, options);
    }

    /** Shows a failure without crashing; missing methods and cancellations are information, not errors. */
    showError(method: string, error: unknown): void {
        const text = describeError(method, error);
        this.output.warn(`${method}: ${(error as Error)?.message ?? error}`);
        if (isCancelled(error)) return;
        if (isMissingMethod(error)) void vscode.window.showInformationMessage(`AdvVis: ${text}`);
        else if (error instanceof DaemonError && error.method === 'start') {
            void vscode.window.showErrorMessage(`AdvVis: ${error.message}`, 'Open Settings', 'Show Log').then(choice => {
                if (choice === 'Open Settings') void vscode.commands.executeCommand('workbench.action.openSettings', 'advvis.daemonPath');
                if (choice === 'Show Log') this.output.show();
            });
        } else void vscode.window.showErrorMessage(`AdvVis: ${text}`, 'Show Log').then(choice => { if (choice === 'Show Log') this.output.show(); });
    }

    dispose(): void {
        void this.client.dispose();
        for (const subscription of this.subscriptions) subscription.dispose();
    }
}
