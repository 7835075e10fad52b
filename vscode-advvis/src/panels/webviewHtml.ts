// The HTML shell of every AdvVis webview: strict CSP (default-src 'none', one nonce script, styles and images from the
// extension only, plus data: images the daemon sends), the view's bundle from media/, and an empty #app.
// No data is ever interpolated here: it arrives by postMessage after the webview says `ready`.
import { randomBytes } from 'node:crypto';

export interface HtmlInputs {
    cspSource: string;
    scriptUri: string;
    styleUri: string;
    title: string;
}

export function nonce(): string {
    return randomBytes(16).toString('base64').replace(/[+/=]/g, '');
}

export function webviewHtml({ cspSource, scriptUri, styleUri, title }: HtmlInputs, scriptNonce: string = nonce()): string {
    const csp = [`default-src 'none'`, `img-src ${cspSource} data: blob:`, `style-src ${cspSource}`, `font-src ${cspSource}`, `script-src 'nonce-${scriptNonce}'`].join('; ');
    return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link href="${styleUri}" rel="stylesheet">
<title>${escapeHtml(title)}</title>
</head>
<body>
<div id="app"><div class="advvis-note">Loading…</div></div>
<script nonce="${scriptNonce}" src="${scriptUri}"></script>
</body>
</html>`;
}

function escapeHtml(text: string): string {
    return text.replace(/[&<>"']/g, c => `&#${c.charCodeAt(0)};`);
}
