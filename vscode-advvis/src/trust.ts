// Workspace Trust: in Restricted Mode AdvVis computes nothing on the workspace. The manifest hides the commands
// (`isWorkspaceTrusted` in their `when` clauses); this is the check in code, because a hidden command can still be
// called (CodeLens, keybindings, other extensions). Trust granted later enables everything without a reload.
import * as vscode from 'vscode';

export const manageTrustCommand = 'workbench.trust.manage';
export const manageTrustLabel = 'Manage Workspace Trust';

/** A refusal in Restricted Mode: what was refused and how to enable it. */
export class RestrictedModeError extends Error {
    constructor(readonly feature: string) {
        super(`${feature} is not available in Restricted Mode. AdvVis runs its daemon on the models and images of a workspace only once you trust it (${manageTrustLabel}).`);
        this.name = 'RestrictedModeError';
    }
}

export function isTrusted(): boolean {
    return vscode.workspace.isTrusted;
}

export function requireTrust(feature: string): void {
    if (!vscode.workspace.isTrusted) throw new RestrictedModeError(feature);
}
