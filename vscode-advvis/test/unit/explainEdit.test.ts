// Which images a neuron edit is measured on: one image gives "100% → 100%", which says nothing, so the background data
// set or the images beside the explained one are re-attacked (at most editMeasureLimit), and the lone image only when
// there is nothing else.
import { describe, expect, it } from 'vitest';
import { editMeasureItems, editMeasureLimit } from '../../src/commands/explain';

describe('neuron edit measurement', () => {
    it('uses the background data set, capped, with its own labels', () => {
        expect(editMeasureItems('/ws/panda.jpg', 388, { dataset: { path: '/ws/imagenet', limit: 500 } }))
            .toEqual({ dataset: { path: '/ws/imagenet', limit: editMeasureLimit } });
        expect(editMeasureItems('/ws/panda.jpg', 388, { dataset: { path: '/ws/imagenet', limit: 20 } })).toEqual({ dataset: { path: '/ws/imagenet', limit: 20 } });
    });

    it('uses the explained image and the images beside it, unlabelled (the daemon measures against the original predictions)', () => {
        const siblings = Array.from({ length: 100 }, (_, i) => `/ws/img/${i}.png`);
        const items = editMeasureItems('/ws/img/x.png', 3, { images: siblings });
        expect(items.images?.[0]).toBe('/ws/img/x.png');
        expect(items.images).toHaveLength(editMeasureLimit);
        expect(items.labels).toBeUndefined();
    });

    it('falls back to the one image, labelled with its benign prediction', () => {
        expect(editMeasureItems('/ws/panda.jpg', 388, undefined)).toEqual({ images: ['/ws/panda.jpg'], labels: [388] });
        expect(editMeasureItems('/ws/panda.jpg', undefined, undefined)).toEqual({ images: ['/ws/panda.jpg'] });
    });
});
