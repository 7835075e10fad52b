// The daemon process and its JSON-RPC connection (vscode-jsonrpc over stdio, LSP framing). Owns process lifetime:
// starts on first use, restarts after an unexpected exit (re-opening the models and replaying workspace/configure so
// handles stay valid), gives up after repeated crashes, shuts down politely. No vscode import: UI goes through hooks.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import {
    createMessageConnection, ParameterStructures, ProgressType, ResponseError, StreamMessageReader, StreamMessageWriter,
    type CancellationToken, type MessageConnection,
} from 'vscode-jsonrpc/node';
import type { DaemonCommand } from './bootstrap';
import type { MethodName, ModelInfo, ParamsOf, ResultOf, WorkspaceConfigureParams } from './protocol';
import { progressMethods } from './protocol';

export interface ProgressValue {
    kind: 'begin' | 'report' | 'end';
    title?: string;
    message?: string;
    percentage?: number;
    cancellable?: boolean;
}

export interface DaemonHooks {
    log(line: string): void;
    /** The daemon died without being asked to; `willRestart` says whether the client restarts it. */
    onUnexpectedExit(description: string, willRestart: boolean): void;
}

export interface RequestOptions {
    token?: CancellationToken;
    onProgress?: (value: ProgressValue) => void;
}

/** A failed request: JSON-RPC error code (if the daemon answered) and message. */
export class DaemonError extends Error {
    constructor(readonly method: string, message: string, readonly code?: number, readonly data?: unknown) {
        super(message);
        this.name = 'DaemonError';
    }
}

const maxCrashes = 3;
const crashWindowMs = 60_000;

export class DaemonClient {
    private child: ChildProcessWithoutNullStreams | undefined;
    private connection: MessageConnection | undefined;
    private starting: Promise<MessageConnection> | undefined;
    private stopping = false;
    private disposed = false;
    private crashes: number[] = [];
    private nextToken = 1;
    private readonly openModels = new Map<string, string>(); // path → handle
    private configure: WorkspaceConfigureParams | undefined;
    stderrTail = '';

    constructor(private readonly locate: () => DaemonCommand | { error: string }, private readonly hooks: DaemonHooks) {}

    get running(): boolean {
        return !!this.connection;
    }

    async request<M extends MethodName>(method: M, params: ParamsOf<M>, options: RequestOptions = {}): Promise<ResultOf<M>> {
        const connection = await this.ensureStarted();
        if (options.token?.isCancellationRequested) throw new DaemonError(method, `${method} was cancelled.`, -32800);
        let progress: { dispose(): void } | undefined;
        let sent: unknown = params;
        if (options.onProgress && progressMethods.includes(method)) {
            const token = `advvis-${process.pid}-${this.nextToken++}`;
            progress = connection.onProgress(new ProgressType<ProgressValue>(), token, options.onProgress);
            sent = { ...(params as object), workDoneToken: token };
        }
        try {
            // Params always travel by name (the daemon rejects positional arrays); an absent token must not be passed,
            // or vscode-jsonrpc would send [params, null] as a positional array.
            const args: unknown[] = sent === undefined ? [] : [ParameterStructures.byName, sent];
            if (options.token) args.push(options.token);
            const result = await connection.sendRequest(method, ...args);
            if (method === 'model/open') this.openModels.set((params as { path: string }).path, (result as ModelInfo).handle);
            if (method === 'workspace/configure') this.configure = { ...this.configure, ...(params as WorkspaceConfigureParams) };
            return result as ResultOf<M>;
        } catch (error) {
            if (error instanceof ResponseError) throw new DaemonError(method, error.message, error.code, error.data);
            throw new DaemonError(method, `The daemon did not answer ${method}: ${(error as Error)?.message ?? error}`);
        } finally {
            progress?.dispose();
        }
    }

    /** Restarts on request (command "AdvVis: Restart Daemon"); the crash count starts over. */
    async restart(): Promise<void> {
        this.crashes = [];
        await this.stop();
        await this.ensureStarted();
    }

    private ensureStarted(): Promise<MessageConnection> {
        if (this.disposed) return Promise.reject(new DaemonError('start', 'AdvVis is shutting down.'));
        if (this.connection) return Promise.resolve(this.connection);
        this.starting ??= this.start().finally(() => { this.starting = undefined; });
        return this.starting;
    }

    private async start(): Promise<MessageConnection> {
        const located = this.locate();
        if ('error' in located) throw new DaemonError('start', located.error);
        this.hooks.log(`starting the daemon (${located.source}): ${located.command} ${located.args.join(' ')}`);
        const child = spawn(located.command, located.args, { cwd: located.cwd, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, DOTNET_NOLOGO: '1' } });
        this.child = child;
        this.stderrTail = '';
        child.stderr.setEncoding('utf8');
        child.stderr.on('data', (chunk: string) => {
            this.stderrTail = (this.stderrTail + chunk).slice(-4000);
            for (const line of chunk.split(/\r?\n/)) if (line) this.hooks.log(`[daemon] ${line}`);
        });
        const spawned = new Promise<void>((resolve, reject) => {
            child.once('spawn', () => resolve());
            child.once('error', error => reject(new DaemonError('start', `Could not start the daemon (${located.command}): ${error.message}`)));
        });
        await spawned;
        const connection = createMessageConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
        connection.onError(([error]) => this.hooks.log(`connection error: ${error.message}`));
        connection.listen();
        child.once('exit', (code, signal) => this.onExit(child, connection, code, signal));
        try {
            const ping = await connection.sendRequest('daemon/ping') as { version?: string };
            this.hooks.log(`daemon ready, version ${ping?.version ?? '?'}`);
            if (this.configure) await connection.sendRequest('workspace/configure', ParameterStructures.byName, this.configure);
            for (const path of this.openModels.keys()) {
                try { await connection.sendRequest('model/open', ParameterStructures.byName, { path }); } catch (error) { this.hooks.log(`could not re-open ${path}: ${(error as Error).message}`); this.openModels.delete(path); }
            }
        } catch (error) {
            const tail = this.stderrTail.trim();
            child.kill();
            throw new DaemonError('start', `The daemon started but did not answer: ${(error as Error).message}${tail ? `\n${tail}` : ''}`);
        }
        // Published only now, so no request overtakes the re-opening of models after a restart.
        if (this.child === child) this.connection = connection;
        return connection;
    }

    private onExit(child: ChildProcessWithoutNullStreams, connection: MessageConnection, code: number | null, signal: NodeJS.Signals | null): void {
        connection.dispose();
        if (this.child !== child) return;
        this.connection = undefined;
        this.child = undefined;
        if (this.stopping || this.disposed) return;
        const now = Date.now();
        this.crashes = [...this.crashes.filter(at => now - at < crashWindowMs), now];
        const willRestart = this.crashes.length < maxCrashes;
        const description = `The AdvVis daemon stopped unexpectedly (${signal ? `signal ${signal}` : `exit code ${code}`}).`;
        this.hooks.log(`${description}${this.stderrTail ? ` Last output:\n${this.stderrTail}` : ''}`);
        this.hooks.onUnexpectedExit(description, willRestart);
        if (willRestart) this.ensureStarted().catch(error => this.hooks.log(`restart failed: ${(error as Error).message}`));
    }

    /** shutdown + exit, then kill if it lingers. */
    async stop(): Promise<void> {
        const child = this.child, connection = this.connection;
        if (!child || !connection) return;
        this.stopping = true;
        try {
            const exited = new Promise<void>(resolve => child.once('exit', () => resolve()));
            await Promise.race([connection.sendRequest('shutdown').then(() => connection.sendNotification('exit')), delay(2000)]).catch(() => undefined);
            await Promise.race([exited, delay(2000)]);
            if (child.exitCode === null && child.signalCode === null) child.kill();
        } finally {
            connection.dispose();
            if (this.child === child) { this.child = undefined; this.connection = undefined; }
            this.stopping = false;
        }
    }

    async dispose(): Promise<void> {
        await this.stop();
        this.disposed = true;
    }

    /** For tests: the process, to kill it. */
    get process(): ChildProcessWithoutNullStreams | undefined {
        return this.child;
    }
}

function delay(ms: number): Promise<void> {
    return new Promise(resolve => setTimeout(resolve, ms));
}
