// The slice of the vscode API that extension modules touch at import time or in unit tests. `stub` is the test's
// handle: workspace trust, settings by layer (as VS Code's inspect() reports them), what was shown, run and registered.
export class EventEmitter<T> {
    private listeners: ((value: T) => void)[] = [];
    event = (listener: (value: T) => void) => { this.listeners.push(listener); return { dispose: () => { this.listeners = this.listeners.filter(l => l !== listener); } }; };
    fire(value: T): void { for (const listener of [...this.listeners]) listener(value); }
    dispose(): void { this.listeners = []; }
}
export class Disposable {
    constructor(private readonly onDispose: () => void = () => undefined) {}
    static from(...items: { dispose(): unknown }[]): Disposable { return new Disposable(() => { for (const item of items) item.dispose(); }); }
    dispose(): void { this.onDispose(); }
}
export class Range { constructor(readonly startLine: number, readonly startCharacter: number, readonly endLine: number, readonly endCharacter: number) {} }
export class CodeLens { command: unknown; constructor(readonly range: Range) {} }
export class CancellationTokenSource {
    private readonly emitter = new EventEmitter<void>();
    token = { isCancellationRequested: false, onCancellationRequested: this.emitter.event };
    cancel(): void { this.token.isCancellationRequested = true; this.emitter.fire(); }
    dispose(): void { this.emitter.dispose(); }
}
export interface StubUri { fsPath: string; scheme: string; path: string; toString(): string }
const fileUri = (fsPath: string): StubUri => ({ fsPath, scheme: 'file', path: fsPath, toString: () => `file://${fsPath}` });
export const Uri = {
    file: fileUri,
    joinPath: (base: StubUri, ...parts: string[]) => fileUri([base.fsPath.replace(/\/+$/, ''), ...parts].join('/')),
};
export enum ProgressLocation { SourceControl = 1, Window = 10, Notification = 15 }
export enum ViewColumn { Active = -1 }
export enum FileType { File = 1, Directory = 2 }

export interface StubPanel { viewType: string; title: string; posted: unknown[]; send(message: unknown): Promise<void>; dispose(): void }

function createWebviewPanel(viewType: string, title: string): unknown {
    const disposed = new EventEmitter<void>();
    const received = new EventEmitter<unknown>();
    const posted: unknown[] = [];
    const webview = {
        options: {}, html: '', cspSource: 'vscode-resource:', asWebviewUri: (uri: unknown) => uri,
        postMessage: async (message: unknown) => { posted.push(message); return true; },
        onDidReceiveMessage: (listener: (message: unknown) => void) => received.event(listener),
    };
    stub.panels.push({ viewType, title, posted, send: async message => { received.fire(message); await new Promise(resolve => setTimeout(resolve, 10)); }, dispose: () => disposed.fire() });
    return { webview, title, onDidDispose: (listener: () => void) => disposed.event(listener), reveal: () => undefined, dispose: () => disposed.fire() };
}

type Layer = 'defaultValue' | 'globalValue' | 'workspaceValue' | 'workspaceFolderValue';
interface Shown { level: 'info' | 'warning' | 'error'; message: string; items: string[] }

/** What a test sets and reads back; reset() before each test. */
export const stub = {
    trusted: true,
    /** Full setting id → value per layer. */
    settings: new Map<string, Partial<Record<Layer, unknown>>>(),
    workspaceFolders: undefined as { uri: StubUri; name: string; index: number }[] | undefined,
    shown: [] as Shown[],
    /** The button a shown message "clicks" (undefined: dismissed). */
    answer: undefined as string | undefined,
    executed: [] as { id: string; args: unknown[] }[],
    commands: new Map<string, (...args: unknown[]) => unknown>(),
    customEditors: new Map<string, unknown>(),
    logged: [] as string[],
    /** The file the save dialog returns; what workspace.fs.writeFile wrote. */
    saveAs: undefined as string | undefined,
    written: [] as { path: string; bytes: Buffer }[],
    /** Webview panels created (createWebviewPanel): what the host posted, and a way to post as the webview. */
    panels: [] as StubPanel[],
    trustGranted: new EventEmitter<void>(),
    configurationChanged: new EventEmitter<{ affectsConfiguration(section: string): boolean }>(),
    reset(): void {
        this.trusted = true;
        this.settings.clear();
        this.workspaceFolders = undefined;
        this.shown = [];
        this.answer = undefined;
        this.executed = [];
        this.commands.clear();
        this.customEditors.clear();
        this.logged = [];
        this.saveAs = undefined;
        this.written = [];
        this.panels = [];
        this.trustGranted = new EventEmitter<void>();
        this.configurationChanged = new EventEmitter();
    },
    /** Sets a layer of a setting and fires onDidChangeConfiguration for it, as VS Code does. */
    set(id: string, layer: Layer, value: unknown): void {
        this.settings.set(id, { ...this.settings.get(id), [layer]: value });
        this.configurationChanged.fire({ affectsConfiguration: section => id === section || id.startsWith(`${section}.`) });
    },
    /** Grants trust like VS Code: isTrusted turns true, then onDidGrantWorkspaceTrust fires. */
    grantTrust(): void {
        this.trusted = true;
        this.trustGranted.fire();
    },
};

// VS Code's precedence for a plain get(): workspace folder, workspace, user, default.
function configuration(section?: string) {
    const full = (key: string) => (section ? `${section}.${key}` : key);
    return {
        get: <T>(key: string, fallback?: T): T => {
            const layers = stub.settings.get(full(key)) ?? {};
            return (layers.workspaceFolderValue ?? layers.workspaceValue ?? layers.globalValue ?? layers.defaultValue ?? fallback) as T;
        },
        inspect: <T>(key: string) => ({ key: full(key), ...(stub.settings.get(full(key)) ?? {}) }) as { key: string; defaultValue?: T; globalValue?: T; workspaceValue?: T; workspaceFolderValue?: T },
    };
}

function show(level: Shown['level']) {
    return (message: string, ...items: unknown[]) => {
        const labels = items.filter((item): item is string => typeof item === 'string');
        stub.shown.push({ level, message, items: labels });
        return Promise.resolve(stub.answer !== undefined && labels.includes(stub.answer) ? stub.answer : undefined);
    };
}

export const workspace = {
    getConfiguration: configuration,
    get isTrusted() { return stub.trusted; },
    get workspaceFolders() { return stub.workspaceFolders; },
    onDidGrantWorkspaceTrust: (listener: () => void) => stub.trustGranted.event(listener),
    onDidChangeConfiguration: (listener: (event: { affectsConfiguration(section: string): boolean }) => void) => stub.configurationChanged.event(listener),
    findFiles: async () => [],
    fs: { writeFile: async (uri: StubUri, bytes: Uint8Array) => { stub.written.push({ path: uri.fsPath, bytes: Buffer.from(bytes) }); } },
    asRelativePath: (target: StubUri | string) => (typeof target === 'string' ? target : target.fsPath),
};

export const window = {
    createOutputChannel: (_name: string) => {
        const line = (level: string) => (text: string) => { stub.logged.push(`${level}: ${text}`); };
        return { info: line('info'), warn: line('warn'), error: line('error'), debug: line('debug'), trace: line('trace'), appendLine: line('info'), show: () => undefined, dispose: () => undefined };
    },
    showInformationMessage: show('info'),
    showWarningMessage: show('warning'),
    showErrorMessage: show('error'),
    showOpenDialog: async () => undefined,
    showSaveDialog: async () => (stub.saveAs ? fileUri(stub.saveAs) : undefined),
    showQuickPick: async () => undefined,
    showInputBox: async () => undefined,
    createWebviewPanel,
    withProgress: async <T>(_options: unknown, task: (progress: { report(value: unknown): void }, token: CancellationTokenSource['token']) => Promise<T>) =>
        task({ report: () => undefined }, new CancellationTokenSource().token),
    registerCustomEditorProvider: (viewType: string, provider: unknown) => { stub.customEditors.set(viewType, provider); return new Disposable(); },
};

export const commands = {
    registerCommand: (id: string, run: (...args: unknown[]) => unknown) => { stub.commands.set(id, run); return new Disposable(() => stub.commands.delete(id)); },
    executeCommand: async (id: string, ...args: unknown[]) => { stub.executed.push({ id, args }); return stub.commands.get(id)?.(...args); },
};

export const languages = {
    registerCodeLensProvider: () => new Disposable(),
};
