// The daemon requests that fill the explanation panel after explain/run, as data: which method, which bundle key its
// result goes to, its params, or why it is skipped. No vscode import, so the real-daemon tests send exactly these.
import type { ExplanationBundle } from '../../../webviews/shared/messages';
import type { ItemsRef, MethodName, ParamsOf } from '../daemon/protocol';

export interface ExplanationPart<M extends MethodName = MethodName> {
    method: M;
    key: keyof ExplanationBundle;
    params: ParamsOf<M>;
    /** Why the part is not requested (shown in the panel instead). */
    skip?: string;
}

const part = <M extends MethodName>(method: M, key: keyof ExplanationBundle, params: ParamsOf<M>, skip?: string): ExplanationPart =>
    ({ method, key, params, skip }) as ExplanationPart;

/** The diverging layer (else the last compared layer) and its most changed units, from explain/run. */
export function divergingLayer(bundle: ExplanationBundle): { layer?: string; units: number[] } {
    const explain = bundle.explain;
    if (!explain) return { units: [] };
    const layer = explain.divergingPoint?.layer ?? explain.layers[explain.layers.length - 1]?.layer;
    return { layer, units: explain.layers.find(entry => entry.layer === layer)?.topChangedUnits.map(unit => unit.unit) ?? [] };
}

export function explanationParts(bundle: ExplanationBundle, background: ItemsRef | undefined): ExplanationPart[] {
    const explain = bundle.explain;
    if (!explain) return [];
    const model = bundle.model, image = bundle.imagePath;
    const adversarial = explain.attack.adversarialPath;
    const { layer, units } = divergingLayer(bundle);
    const noUnits = !layer || !units.length ? 'explain/run reported no changed units' : undefined;
    const noAdversarial = !adversarial ? 'the daemon kept no adversarial image (no cache folder)' : undefined;
    return [
        part('profiles/compute', 'profiles', { model, layers: explain.layers.map(entry => entry.layer), background: background!, foreground: adversarial ? [image, adversarial] : [image], labelBy: 'predicted', seed: 42 },
            !explain.layers.length ? 'explain/run gave no layers'
                : !background ? 'no background images: add a "background" data set for this model in advvis.json, or put at least 16 more images beside this one' : undefined),
        part('layer/reduce', 'layer', { model, layer: layer!, items: { images: [image, adversarial!] }, reduction: 'difference', i: 1, j: 0, topK: 8 },
            !layer ? 'no diverging layer' : noAdversarial),
        part('layer/activationMaps', 'maps', { model, layer: layer!, item: adversarial!, units: units.slice(0, 8), format: 'png' }, noUnits ?? noAdversarial),
        part('unit/receptiveFields', 'fieldsBenign', { model, layer: layer!, units, image, adversarial }, noUnits),
        part('unit/receptiveFields', 'fieldsAdversarial', { model, layer: layer!, units, image: adversarial! }, noUnits ?? noAdversarial),
        part('vulnerability/map', 'vulnerability', { model, image, adversarial: adversarial! }, noAdversarial),
        part('attribution/graph', 'attribution', { model, items: { images: [image] }, benignClass: explain.benign.class, targetClass: explain.adversarial.class, attack: bundle.attack },
            explain.benign.class === explain.adversarial.class ? 'the attack did not change the class' : undefined),
    ];
}
