// Turns daemon failures into sentences for the user. A missing method (-32601) or a not-implemented analysis (-32006)
// is expected while handlers land one by one: it says which part is unavailable and never looks like a crash.
import { ErrorCodes } from './protocol';

export interface RpcFailure {
    code?: number;
    message: string;
}

export function isMissingMethod(error: unknown): boolean {
    const code = (error as RpcFailure)?.code;
    return code === ErrorCodes.MethodNotFound || code === ErrorCodes.NotImplemented;
}

export function isCancelled(error: unknown): boolean {
    return (error as RpcFailure)?.code === ErrorCodes.RequestCancelled || (error as Error)?.name === 'Canceled';
}

export function describeError(method: string, error: unknown): string {
    const failure = error as RpcFailure;
    switch (failure?.code) {
        case ErrorCodes.MethodNotFound:
            return `This daemon build does not offer "${method}" yet, so that part is not shown.`;
        case ErrorCodes.NotImplemented:
            // The daemon's message names the method and what is missing ("X is not available in this build: ...").
            return failure.message.includes(method) ? `Not shown: ${failure.message}` : `Not shown: this daemon build cannot compute "${method}": ${failure.message}`;
        case ErrorCodes.RequestCancelled:
            return `"${method}" was cancelled.`;
        case ErrorCodes.ModelNotOpen:
            return `The daemon forgot the model (it restarted?): ${failure.message}`;
        case ErrorCodes.BadInput:
        case ErrorCodes.Unsupported:
        case ErrorCodes.InvalidParams:
            return failure.message;
        default:
            return `${method} failed: ${failure?.message ?? String(error)}`;
    }
}
