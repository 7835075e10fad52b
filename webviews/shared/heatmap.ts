// Draws a Heatmap (row-major floats in [0, 1]) onto a canvas, optionally over an image and thresholded (RF masks).
import type { Heatmap } from './messages';

export function heatmapCanvas(map: Heatmap, size: number, options: { threshold?: number; tint?: [number, number, number] } = {}): HTMLCanvasElement {
    const canvas = document.createElement('canvas');
    canvas.width = map.width;
    canvas.height = map.height;
    canvas.style.width = `${size}px`;
    canvas.style.height = `${Math.round((size * map.height) / Math.max(1, map.width))}px`;
    canvas.style.imageRendering = 'pixelated';
    const context = canvas.getContext('2d')!;
    const image = context.createImageData(map.width, map.height);
    const [r, g, b] = options.tint ?? [255, 255, 255];
    for (let i = 0; i < map.data.length; i++) {
        const raw = Math.max(0, Math.min(1, map.data[i]));
        const value = options.threshold === undefined ? raw : raw >= options.threshold ? 1 : 0;
        image.data[4 * i] = Math.round(r * value);
        image.data[4 * i + 1] = Math.round(g * value);
        image.data[4 * i + 2] = Math.round(b * value);
        image.data[4 * i + 3] = options.threshold === undefined ? 255 : value ? 170 : 0;
    }
    context.putImageData(image, 0, 0);
    return canvas;
}

/** Intersection or union of thresholded maps of the same size (Neuron Cluster View). */
export function combineMasks(maps: Heatmap[], threshold: number, mode: 'union' | 'intersection'): Heatmap {
    const first = maps[0];
    const data = new Array<number>(first.data.length).fill(mode === 'union' ? 0 : 1);
    for (const map of maps) {
        for (let i = 0; i < data.length; i++) {
            const on = map.data[i] >= threshold ? 1 : 0;
            data[i] = mode === 'union' ? Math.max(data[i], on) : Math.min(data[i], on);
        }
    }
    return { width: first.width, height: first.height, data };
}
