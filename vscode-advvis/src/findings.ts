// Findings of the last explanation per model file (layer value name → one line), for layer CodeLens and the
// Architecture View's tooltips. Filled from explain/run results as they are; nothing is computed here.
import * as vscode from 'vscode';
import type { ExplainRunResult } from './daemon/protocol';

export class Findings implements vscode.Disposable {
    private readonly byModel = new Map<string, Map<string, string>>();
    private readonly changed = new vscode.EventEmitter<void>();
    readonly onDidChange = this.changed.event;

    record(modelPath: string, result: ExplainRunResult): void {
        this.byModel.set(modelPath, findingsOf(result));
        this.changed.fire();
    }

    forModel(modelPath: string): Map<string, string> | undefined {
        return this.byModel.get(modelPath);
    }

    dispose(): void {
        this.changed.dispose();
    }
}

export function findingsOf(result: ExplainRunResult): Map<string, string> {
    const map = new Map<string, string>();
    const benign = result.benign.label ?? String(result.benign.class), adversarial = result.adversarial.label ?? String(result.adversarial.class);
    for (const layer of result.layers) {
        const diverging = result.divergingPoint?.layer === layer.layer;
        const units = layer.topChangedUnits.slice(0, 3).map(unit => unit.unit).join(', ');
        map.set(layer.layer, `${diverging ? '⚠ diverging point · ' : ''}divergence ${layer.score.toFixed(2)}${units ? ` · most changed units ${units}` : ''} (${benign} → ${adversarial})`);
    }
    return map;
}
