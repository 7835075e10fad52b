// The slice of the vscode API that extension modules touch at import time or in unit tests.
export class EventEmitter<T> {
    private listeners: ((value: T) => void)[] = [];
    event = (listener: (value: T) => void) => { this.listeners.push(listener); return { dispose: () => { this.listeners = this.listeners.filter(l => l !== listener); } }; };
    fire(value: T): void { for (const listener of this.listeners) listener(value); }
    dispose(): void { this.listeners = []; }
}
export class Range { constructor(readonly startLine: number, readonly startCharacter: number, readonly endLine: number, readonly endCharacter: number) {} }
export class CodeLens { command: unknown; constructor(readonly range: Range) {} }
export const Uri = { file: (fsPath: string) => ({ fsPath, scheme: 'file', toString: () => `file://${fsPath}` }) };
export const workspace = { getConfiguration: () => ({ get: <T>(_key: string, fallback: T) => fallback }) };
export const window = {};
export const commands = {};
