// Settings (contributes.configuration) read in one place.
import * as vscode from 'vscode';
import type { AttackSpec } from './daemon/protocol';

/**
 * The daemon to run, from user (or remote) settings only. The setting is machine-scoped, so VS Code should never apply
 * a workspace's value; reading past get() makes sure a `.vscode/settings.json` cannot choose an executable even if a
 * value reached us anyway (an older VS Code, a workspace file, a bug).
 */
export function daemonPathSetting(): string {
    const inspected = vscode.workspace.getConfiguration('advvis').inspect<string>('daemonPath');
    const value = inspected?.globalValue ?? inspected?.defaultValue ?? '';
    return typeof value === 'string' ? value.trim() : '';
}

export function defaultAttack(): AttackSpec {
    const config = vscode.workspace.getConfiguration('advvis.attack');
    const kind = config.get<'fgsm' | 'pgd'>('method', 'pgd');
    const eps = config.get<number>('epsilon', 0.1);
    return kind === 'pgd'
        ? { kind, eps, alpha: config.get<number>('stepSize', 0.01), steps: config.get<number>('steps', 20), seed: 0 }
        : { kind, eps, seed: 0 };
}

export function backgroundSize(): number {
    return vscode.workspace.getConfiguration('advvis').get<number>('backgroundSize', 500);
}

export function codeLensEnabled(): boolean {
    return vscode.workspace.getConfiguration('advvis').get<boolean>('codeLens.enabled', true);
}

export function describeAttack(attack: AttackSpec): string {
    return `${attack.kind.toUpperCase()} ε=${attack.eps}${attack.steps ? `, ${attack.steps} steps of ${attack.alpha}` : ''}`;
}
