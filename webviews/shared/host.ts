// The webview side of the host channel: acquireVsCodeApi once, typed post, state across hide/show, and `rpc` calls
// that the extension relays to the daemon (answered by `rpcResult` with the same requestId).
import type { HostMessage, ViewState, WebviewMessage } from './messages';
import type { MethodName, ParamsOf, ResultOf } from '../../vscode-advvis/src/daemon/protocol';

interface VsCodeApi {
    postMessage(message: unknown): void;
    getState(): unknown;
    setState(state: unknown): void;
}

declare function acquireVsCodeApi(): VsCodeApi;

const api: VsCodeApi = acquireVsCodeApi();
let nextRequestId = 1;
const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error & { code?: number }) => void }>();

export function post(message: WebviewMessage): void {
    api.postMessage(message);
}

export function getState(): ViewState {
    return (api.getState() as ViewState | undefined) ?? {};
}

export function updateState(patch: Partial<ViewState>): void {
    api.setState({ ...getState(), ...patch });
}

/** Asks the host to relay a daemon method; rejects with the JSON-RPC error (code -32601: the daemon lacks it). */
export function rpc<M extends MethodName>(method: M, params: ParamsOf<M>): Promise<ResultOf<M>> {
    const requestId = nextRequestId++;
    post({ type: 'rpc', requestId, method, params });
    return new Promise<ResultOf<M>>((resolve, reject) => pending.set(requestId, { resolve: resolve as (value: unknown) => void, reject }));
}

/** Installs the message listener, then announces `ready`; onMessage sees every message except rpc results. */
export function connect(onMessage: (message: HostMessage) => void): void {
    window.addEventListener('message', event => {
        const message = event.data as HostMessage;
        if (message?.type === 'rpcResult') {
            const call = pending.get(message.requestId);
            if (!call) return;
            pending.delete(message.requestId);
            if (message.error) call.reject(Object.assign(new Error(message.error.message), { code: message.error.code }));
            else call.resolve(message.result);
            return;
        }
        try {
            onMessage(message);
        } catch (error) {
            showError(document.body, `Could not draw this view: ${(error as Error).message}`);
            post({ type: 'error', message: String((error as Error)?.stack ?? error) });
        }
    });
    post({ type: 'ready' });
}

export function showError(parent: HTMLElement, text: string): void {
    const box = document.createElement('div');
    box.className = 'advvis-error';
    box.textContent = text;
    parent.prepend(box);
}
