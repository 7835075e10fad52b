// The daemon requests that fill the explanation panel after explain/run, as data: which method, which bundle key its
// result goes to, its params, or why it is skipped. No vscode import, so the real-daemon tests send exactly these.
import type { ExplanationBundle } from '../../../webviews/shared/messages';
import type { ItemsRef, MethodName, ParamsOf, Prediction, ResultOf } from '../daemon/protocol';

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

/** How many of the diverging layer's most changed units get an activation-maximisation image. */
export const visualizedUnits = 4;

/** The bundle with a part's result in it (unit/visualize results accumulate, one per unit). */
export function applyPart(bundle: ExplanationBundle, part: ExplanationPart, result: unknown): ExplanationBundle {
    if (part.key === 'visualizations') {
        const params = part.params as ParamsOf<'unit/visualize'>;
        const entry = { ...(result as ResultOf<'unit/visualize'>), layer: params.layer, unit: params.unit };
        return { ...bundle, visualizations: [...(bundle.visualizations ?? []).filter(v => v.layer !== entry.layer || v.unit !== entry.unit), entry] };
    }
    return { ...bundle, [part.key]: result };
}

/**
 * Why the attack counts as failed, or undefined: it left the prediction where it was (or, targeted, missed the target).
 * The parts that compare the image with its adversarial version are then not started; the panel says so.
 */
export function attackFailure(bundle: ExplanationBundle): string | undefined {
    const explain = bundle.explain;
    if (!explain || explain.attack.success) return undefined;
    const { benign, adversarial } = explain;
    const name = (p: Prediction) => (p.label ? `${p.label} (${p.class})` : `class ${p.class}`);
    const what = benign.class === adversarial.class
        ? `The attack did not change the prediction (${name(benign)} stays ${name(adversarial)})`
        : `The attack did not reach the target class (${name(benign)} → ${name(adversarial)})`;
    return `${what}; try a larger ε or more steps. The views that compare the image with its adversarial version are not computed.`;
}

export function explanationParts(bundle: ExplanationBundle, background: ItemsRef | undefined): ExplanationPart[] {
    const explain = bundle.explain;
    if (!explain) return [];
    // Every part below compares the benign and adversarial images (or needs the adversarial class): skip them all.
    const failed = attackFailure(bundle) ? 'the attack did not change the prediction (try a larger ε or more steps)' : undefined;
    const model = bundle.model, image = bundle.imagePath;
    const adversarial = explain.attack.adversarialPath;
    const { layer, units } = divergingLayer(bundle);
    const noUnits = !layer || !units.length ? 'explain/run reported no changed units' : undefined;
    const noAdversarial = !adversarial ? 'the daemon kept no adversarial image (no cache folder)' : undefined;
    // Labels colour the Flow View: a data set's true labels, else (loose images) the model's predictions.
    const labelBy = background?.dataset?.labels ? 'true' : 'predicted';
    const rankItems: ItemsRef | undefined = background?.dataset ? { dataset: { ...background.dataset, limit: Math.min(background.dataset.limit ?? 100, 100) } }
        : background?.images ? { images: background.images.slice(0, 100) } : undefined;
    const parts = [
        // With `attack`, the daemon attacks the image itself and gives the pair, its per-layer scores and diverging point.
        part('profiles/compute', 'profiles', { model, layers: explain.layers.map(entry => entry.layer), background: background!, foreground: [image], attack: bundle.attack, labelBy, seed: 42 },
            !explain.layers.length ? 'explain/run gave no layers'
                : !background ? 'no background images: add a "background" data set for this model in advvis.json, or put at least 16 more images beside this one' : undefined),
        part('layer/reduce', 'layer', { model, layer: layer!, items: { images: [image, adversarial!] }, reduction: 'difference', i: 1, j: 0, topK: 8 },
            !layer ? 'no diverging layer' : noAdversarial),
        part('layer/activationMaps', 'maps', { model, layer: layer!, item: adversarial!, units: units.slice(0, 8), format: 'png' }, noUnits ?? noAdversarial),
        part('unit/receptiveFields', 'fieldsBenign', { model, layer: layer!, units, image, adversarial }, noUnits),
        part('unit/receptiveFields', 'fieldsAdversarial', { model, layer: layer!, units, image: adversarial! }, noUnits ?? noAdversarial),
        part('vulnerability/map', 'vulnerability', { model, image, adversarial: adversarial! }, noAdversarial),
        ...units.slice(0, visualizedUnits).map(unit => part('unit/visualize', 'visualizations', { model, layer: layer!, unit, seed: 0 }, noUnits)),
        part('neurons/rank', 'rank', { model, items: rankItems!, attack: bundle.attack, layer, benignClass: explain.benign.class, adversarialClass: explain.adversarial.class, topK: 20 },
            noUnits ?? (!rankItems ? 'no background images to rank units over' : explain.benign.class === explain.adversarial.class ? 'the attack did not change the class' : undefined)),
        part('attribution/graph', 'attribution', { model, items: { images: [image] }, benignClass: explain.benign.class, targetClass: explain.adversarial.class, attack: bundle.attack },
            explain.benign.class === explain.adversarial.class ? 'the attack did not change the class' : undefined),
    ];
    return failed ? parts.map(entry => ({ ...entry, skip: failed })) : parts;
}
