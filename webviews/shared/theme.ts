// VS Code theme colours (CSS variables the workbench sets on the webview body) and the class palette.
// The palette is d3's Tableau 10, readable on light and dark themes.

export const classColors = ['#4e79a7', '#f28e2c', '#e15759', '#76b7b2', '#59a14f', '#edc949', '#af7aa1', '#ff9da7', '#9c755f', '#bab0ab'];

export function classColor(label: number): string {
    return classColors[((label % classColors.length) + classColors.length) % classColors.length];
}

/** The paper's Architecture View colours: grey (no parameters), blue (connected, weighted), red (other trainable). */
export const categoryColors = { none: 'var(--advvis-grey)', weighted: 'var(--advvis-blue)', trainable: 'var(--advvis-red)' } as const;

export const benignColor = 'var(--vscode-charts-blue, #3794ff)';
export const adversarialColor = 'var(--vscode-charts-orange, #d18616)';

/** Resolves a CSS colour (possibly a var()) to a concrete value, for canvas and for exported SVG. */
export function resolveColor(color: string, element: Element = document.body): string {
    const match = /^var\((--[\w-]+)(?:,\s*(.+))?\)$/.exec(color);
    if (!match) return color;
    const value = getComputedStyle(element).getPropertyValue(match[1]).trim();
    return value || (match[2] ?? '#888').trim();
}

/** Blue (low) → white → red (high) for heatmaps of values in [-1, 1], grey ramp for [0, 1]. */
export function divergingColor(value: number): string {
    const v = Math.max(-1, Math.min(1, value));
    const a = Math.round(255 * (1 - Math.abs(v)));
    return v >= 0 ? `rgb(255,${a},${a})` : `rgb(${a},${a},255)`;
}
