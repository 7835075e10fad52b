// Export buttons: the host writes the file (save dialog); the webview serialises what it shows.
// SVG: the view's <svg> with theme variables resolved to concrete colours. PNG: that SVG rasterised on a canvas.
// CSV/JSON/NPY: the data behind the view (NPY as a float32 little-endian array, base64).
import { post } from './host';
import type { ExportFormat } from './messages';
import { resolveColor } from './theme';

export function svgText(svg: SVGSVGElement): string {
    const copy = svg.cloneNode(true) as SVGSVGElement;
    copy.setAttribute('xmlns', 'http://www.w3.org/2000/svg');
    const original = svg.querySelectorAll('*');
    if (!svg.isConnected) return new XMLSerializer().serializeToString(copy);
    copy.querySelectorAll('*').forEach((element, i) => {
        for (const attribute of ['fill', 'stroke']) {
            const value = element.getAttribute(attribute) ?? (original[i] as SVGElement).style?.getPropertyValue(attribute);
            if (value && value.startsWith('var(')) element.setAttribute(attribute, resolveColor(value));
        }
        const style = getComputedStyle(original[i]);
        if (!element.getAttribute('fill') && style.fill) element.setAttribute('fill', style.fill);
        if (!element.getAttribute('stroke') && style.stroke && style.stroke !== 'none') element.setAttribute('stroke', style.stroke);
    });
    return new XMLSerializer().serializeToString(copy);
}

export async function svgToPngBase64(svg: SVGSVGElement): Promise<string> {
    const width = Number(svg.getAttribute('width')) || svg.getBoundingClientRect().width;
    const height = Number(svg.getAttribute('height')) || svg.getBoundingClientRect().height;
    const image = new Image();
    image.src = `data:image/svg+xml;base64,${btoa(unescape(encodeURIComponent(svgText(svg))))}`;
    await image.decode();
    const canvas = document.createElement('canvas');
    canvas.width = Math.max(1, Math.round(width * 2));
    canvas.height = Math.max(1, Math.round(height * 2));
    const context = canvas.getContext('2d')!;
    context.fillStyle = resolveColor('var(--vscode-editor-background, #ffffff)');
    context.fillRect(0, 0, canvas.width, canvas.height);
    context.drawImage(image, 0, 0, canvas.width, canvas.height);
    return canvas.toDataURL('image/png').split(',')[1];
}

export function toCsv(header: string[], rows: (string | number)[][]): string {
    const cell = (value: string | number) => (typeof value === 'string' && /[",\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : String(value));
    return [header, ...rows].map(row => row.map(cell).join(',')).join('\n') + '\n';
}

/** NPY v1.0, float32 little-endian, C order. */
export function toNpyBase64(values: number[], shape: number[]): string {
    let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
    const total = 10 + header.length + 1;
    header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
    const bytes = new Uint8Array(10 + header.length + 4 * values.length);
    bytes.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, header.length & 0xff, header.length >> 8]);
    for (let i = 0; i < header.length; i++) bytes[10 + i] = header.charCodeAt(i);
    const view = new DataView(bytes.buffer, 10 + header.length);
    values.forEach((value, i) => view.setFloat32(4 * i, value, true));
    let binary = '';
    for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    return btoa(binary);
}

export interface ExportSource {
    name: string;
    svg?: () => SVGSVGElement | null;
    csv?: () => string;
    json?: () => unknown;
    npy?: () => { values: number[]; shape: number[] };
}

/** A row of buttons, one per format the source offers. */
export function exportButtons(source: ExportSource): HTMLElement {
    const bar = document.createElement('span');
    bar.className = 'advvis-export';
    const add = (format: ExportFormat, run: () => Promise<{ content: string; encoding: 'utf8' | 'base64' }>) => {
        const button = document.createElement('button');
        button.textContent = format.toUpperCase();
        button.title = `Export ${source.name} as ${format.toUpperCase()}`;
        button.dataset.export = format;
        button.addEventListener('click', async () => {
            const { content, encoding } = await run();
            post({ type: 'export', format, name: source.name, content, encoding });
        });
        bar.append(button);
    };
    if (source.svg) {
        add('png', async () => ({ content: await svgToPngBase64(source.svg!()!), encoding: 'base64' }));
        add('svg', async () => ({ content: svgText(source.svg!()!), encoding: 'utf8' }));
    }
    if (source.csv) add('csv', async () => ({ content: source.csv!(), encoding: 'utf8' }));
    if (source.json) add('json', async () => ({ content: JSON.stringify(source.json!(), null, 1), encoding: 'utf8' }));
    if (source.npy) add('npy', async () => { const { values, shape } = source.npy!(); return { content: toNpyBase64(values, shape), encoding: 'base64' }; });
    return bar;
}
