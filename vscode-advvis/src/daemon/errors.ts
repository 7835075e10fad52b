// Turns daemon failures into sentences for the user. A missing method (-32601) or a not-implemented analysis (-32006)
// is expected while handlers land one by one: it says which part is unavailable and never looks like a crash.
import { ErrorCodes } from './protocol';
import { methodTitle } from '../../../webviews/shared/messages';

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

/** A daemon failure as a sentence that names the part in words (the Flow View, not profiles/compute) and the fix. */
export function describeError(method: string, error: unknown): string {
    const failure = error as RpcFailure;
    const part = methodTitle(method);
    switch (failure?.code) {
        case ErrorCodes.MethodNotFound:
            return `This daemon build does not offer the ${part} yet, so that part is not shown.`;
        case ErrorCodes.NotImplemented:
            return `Not shown: this daemon build cannot compute the ${part}: ${failure.message}`;
        case ErrorCodes.RequestCancelled:
            return `${capitalized(part)}: cancelled.`;
        case ErrorCodes.ModelNotOpen:
            return `The daemon forgot the model (it restarted?): ${failure.message}`;
        case ErrorCodes.BadInput:
        case ErrorCodes.Unsupported:
        case ErrorCodes.InvalidParams:
            return failure.message;
        default:
            return `${capitalized(part)} could not be computed: ${failure?.message ?? String(error)}`;
    }
}

const capitalized = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);
