// A failed attack (ResNet-50: 713 → 713) is flagged, and the parts that compare the image with its adversarial
// version (Flow View pair, Layer View difference, receptive fields, vulnerability map, rank, attribution: the slow
// ones) are not started; each says why. A successful attack starts them all.
import { describe, expect, it } from 'vitest';
import { attackFailure, explanationParts } from '../../src/commands/explainParts';
import { partProgress, partTitle } from '../../src/commands/explain';
import type { ExplanationBundle } from '../../../webviews/shared/messages';
import { explainResult } from '../../../webviews/test/fixtures';

const layers = ['conv1', 'block1', 'block2', 'logits'];
const background = { dataset: { path: '/ws/imagenet', limit: 100 } };

function bundleWith(explain: ExplanationBundle['explain']): ExplanationBundle {
    return { imagePath: '/ws/panda.jpg', modelPath: '/ws/resnet50.onnx', model: 'h1', attack: { kind: 'pgd', eps: 0.002, steps: 10 }, explain, missing: [], pending: [] };
}

describe('a failed attack', () => {
    it('is flagged in words and starts none of the parts that need the adversarial image', () => {
        const ok = explainResult(layers, 2);
        const same = { ...ok.benign, class: 713, label: 'photocopier' };
        const failed = bundleWith({ ...ok, benign: same, adversarial: same, attack: { ...ok.attack, benign: same, adversarial: same, success: false } });
        const message = attackFailure(failed);
        expect(message).toContain('The attack did not change the prediction (photocopier (713) stays photocopier (713))');
        expect(message).toContain('try a larger ε or more steps');
        const parts = explanationParts(failed, background);
        expect(parts.length).toBeGreaterThan(5);
        for (const part of parts) expect(part.skip, part.method).toContain('the attack did not change the prediction');
    });

    it('a successful attack is not flagged and its parts start', () => {
        const ok = bundleWith(explainResult(layers, 2));
        expect(attackFailure(ok)).toBeUndefined();
        expect(explanationParts(ok, background).filter(part => part.skip)).toEqual([]);
    });
});

describe('the panel\'s progress bar', () => {
    it('moves within a part as the daemon reports progress, never backwards, and ends at the part\'s share', () => {
        const reports: { message?: string; increment?: number }[] = [];
        const share = partProgress(partTitle('vulnerability/map'), 25, value => reports.push(value));
        share.onProgress({ message: 'probing regions', percentage: 10 });
        share.onProgress({ message: 'probing regions', percentage: 60 });
        share.onProgress({ percentage: 40 }); // late and lower: ignored
        const during = reports.reduce((sum, r) => sum + (r.increment ?? 0), 0);
        expect(during).toBeCloseTo(15);
        expect(reports.map(r => r.message)).toContain('vulnerability map: probing regions');
        share.finish();
        expect(reports.reduce((sum, r) => sum + (r.increment ?? 0), 0)).toBeCloseTo(25);
        expect(reports.every(r => (r.increment ?? 0) >= 0)).toBe(true);
    });
});
