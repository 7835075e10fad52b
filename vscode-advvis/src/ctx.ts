// Extension lifetime: the daemon client, the output channel, remembered choices, and findings for CodeLens.
// Nothing analytical: every number comes from the daemon. Every daemon request goes through request(), which refuses in
// an untrusted workspace, so the daemon is never even started there.
import * as vscode from 'vscode';
import { DaemonClient, DaemonError, type RequestOptions } from './daemon/client';
import { locateDaemon } from './daemon/bootstrap';
import { describeError, isCancelled, isMissingMethod } from './daemon/errors';
import { confinedRoots, inlineFiles, resultFolders } from './daemon/inline';
import type { MethodName, ParamsOf, ResultOf } from './daemon/protocol';
import { daemonPathSetting } from './config';
import { Findings } from './findings';
import { manageTrustCommand, manageTrustLabel, RestrictedModeError, requireTrust } from './trust';

export class Ctx implements vscode.Disposable {
    readonly output: vscode.LogOutputChannel;
    readonly client: DaemonClient;
    readonly findings = new Findings();
    private configured = false;
    /** The daemon path the running daemon came from; only a change of it (user settings) restarts the daemon. */
    private daemonPath = daemonPathSetting();
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
            if (!event.affectsConfiguration('advvis.daemonPath')) return;
            // A workspace value is ignored (daemonPathSetting), so changing one must not restart anything.
            const daemonPath = daemonPathSetting();
            if (daemonPath === this.daemonPath) return;
            this.daemonPath = daemonPath;
            if (this.client.running) void this.restart();
        }), vscode.workspace.onDidGrantWorkspaceTrust(() => this.output.info('workspace trusted: AdvVis views and commands are enabled')));
    }

    /** The first workspace folder: the daemon's workspace, cache and export folders are under it. */
    get workspaceRoot(): string | undefined {
        return vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    }

    private serveArgs(): string[] {
        const root = this.workspaceRoot;
        return root ? ['--workspace', root] : [];
    }

    async restart(): Promise<void> {
        try {
            requireTrust('Restarting the AdvVis daemon');
            await this.client.restart();
            this.configured = false;
            void vscode.window.showInformationMessage('AdvVis daemon restarted.');
        } catch (error) {
            this.showError('restart', error);
        }
    }

    /** A daemon request; the first one of a session also sets the cache and export folders. */
    async request<M extends MethodName>(method: M, params: ParamsOf<M>, options?: RequestOptions): Promise<ResultOf<M>> {
        requireTrust(`The daemon request ${method}`);
        if (!this.configured && method !== 'workspace/configure') {
            const root = this.workspaceRoot;
            if (root) {
                try {
                    await this.client.request('workspace/configure', { workspaceRoot: root, ...resultFolders(root), inlineLimitBytes: 16 << 20 });
                } catch (error) {
                    if (!isMissingMethod(error)) throw error;
                }
            }
            this.configured = true;
        }
        return this.client.request(method, params, options);
    }

    /** A daemon result with its cache/export files inlined as base64; files anywhere else are refused and logged. */
    async inline<T>(result: T): Promise<T> {
        const log = (line: string) => this.output.warn(line);
        return await inlineFiles(result, await confinedRoots(this.workspaceRoot, log), log) as T;
    }

    /** Shows a failure without crashing; missing methods and cancellations are information, not errors. */
    showError(method: string, error: unknown): void {
        this.output.warn(`${method}: ${(error as Error)?.message ?? error}`);
        if (error instanceof RestrictedModeError) {
            void vscode.window.showWarningMessage(`AdvVis: ${error.message}`, manageTrustLabel).then(choice => {
                if (choice === manageTrustLabel) void vscode.commands.executeCommand(manageTrustCommand);
            });
            return;
        }
        const text = describeError(method, error);
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
