// A Disposable base that disposes what it registered, and disposes late registrations at once once it is disposed.
import type * as vscode from 'vscode';

export abstract class Disposable {
    private disposed = false;
    protected disposables: vscode.Disposable[] = [];

    protected register<T extends vscode.Disposable>(value: T): T {
        if (this.disposed) value.dispose();
        else this.disposables.push(value);
        return value;
    }

    get isDisposed(): boolean {
        return this.disposed;
    }

    dispose(): void {
        if (this.disposed) return;
        this.disposed = true;
        while (this.disposables.length) this.disposables.pop()?.dispose();
    }
}
