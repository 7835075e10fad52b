import { describe, expect, it } from 'vitest';
import { webviewHtml } from '../../src/panels/webviewHtml';
import { findingsOf } from '../../src/findings';
import { layout } from '../../../webviews/architecture/layout';
import { decodeArray, toAttribution, toDendrogram, toFlow } from '../../../webviews/shared/convert';
import type { ProfilesComputeResult } from '../../src/daemon/protocol';
import type { GraphNode } from '../../../webviews/shared/messages';

const f32 = (values: number[]) => Buffer.from(new Float32Array(values).buffer).toString('base64');

describe('webview HTML', () => {
    it('has a strict CSP with a nonce script and no remote resources', () => {
        const html = webviewHtml({ cspSource: 'https://x.vscode-cdn.net', scriptUri: 'https://x.vscode-cdn.net/media/explain.js', styleUri: 'https://x.vscode-cdn.net/media/advvis.css', title: '<b>t</b>' }, 'abc123');
        expect(html).toContain("default-src 'none'");
        expect(html).toContain("script-src 'nonce-abc123'");
        expect(html).toContain('<script nonce="abc123" src="https://x.vscode-cdn.net/media/explain.js">');
        expect(html).not.toMatch(/unsafe-inline|unsafe-eval|https?:\/\/(?!x\.vscode-cdn\.net)/);
        expect(html).not.toContain('<b>t</b>');
    });
});

describe('findings', () => {
    it('says which layer is the diverging point', () => {
        const findings = findingsOf({ benign: { class: 7, probability: 1, top5: [] }, adversarial: { class: 3, label: 'three', probability: 0.9, top5: [] }, attack: {} as never, fromCache: false,
            layers: [{ layer: '/conv1/Conv_output_0', distance: 1, backgroundSpread: 1, score: 0.5, topChangedUnits: [{ unit: 4, value: 2 }] }, { layer: '/conv2/Conv_output_0', distance: 3, backgroundSpread: 1, score: 3.25, topChangedUnits: [] }],
            divergingPoint: { layer: '/conv2/Conv_output_0', layerIndex: 1, score: 3.25 } });
        expect(findings.get('/conv1/Conv_output_0')).toBe('divergence 0.50 · most changed units 4 (7 → three)');
        expect(findings.get('/conv2/Conv_output_0')).toBe('⚠ diverging point · divergence 3.25 (7 → three)');
    });
});

describe('view-model conversion', () => {
    it('decodes ArrayData and builds the Flow View from profiles (the first pair, bundles, colour labels)', () => {
        expect(Array.from(decodeArray({ shape: [2], base64: f32([1.5, -2]) }))).toEqual([1.5, -2]);
        const divergence = (layer: string, score: number) => ({ layer, distance: score, backgroundSpread: 1, score, topChangedUnits: [], profileDistance: score / 10 });
        const profiles: ProfilesComputeResult = {
            layers: ['a', 'b'], backgroundCount: 3, backgroundLabels: [0, 1, 1], backgroundPredicted: [0, 1, 0], colourLabels: [0, 1, 0], classNames: ['x', 'y'], alignment: [1], fingerprints: { shape: [0] }, fromCache: false,
            divergence: [divergence('a', 0.5), divergence('b', 2)], divergingPoint: { layer: 'b', layerIndex: 1, score: 2 },
            foregroundPredicted: [0], foregroundAdversarialPredicted: [1],
            pairs: [{ foreground: 0, layers: [divergence('a', 0.5), divergence('b', 2)], divergingPoint: { layer: 'b', layerIndex: 1, score: 2 }, jump: 1.5 }],
            bundles: [{ pair: 0, label: 1, count: 2, from: 0.5, to: 0.75, fromSpread: 0.1, toSpread: 0.1 }],
            spines: [{ label: 0, count: 1, q1: [0, 0], median: [0, 0], q3: [0, 0] }],
            profiles: [
                { layer: 'a', background: { shape: [3, 1], base64: f32([0, 0.5, 1]) }, foreground: { shape: [1, 1], base64: f32([0.25]) }, foregroundAdversarial: { shape: [1, 1], base64: f32([0.5]) }, histograms: { shape: [0] }, features: 4, min: -1, max: 1 },
                { layer: 'b', background: { shape: [3, 1], base64: f32([1, 0.5, 0]) }, foreground: { shape: [1, 1], base64: f32([0.75]) }, foregroundAdversarial: { shape: [1, 1], base64: f32([0.25]) }, histograms: { shape: [0] }, trustworthiness: 0.9, features: 2, min: -2, max: 2 },
            ],
        };
        const flow = toFlow(profiles);
        expect(flow.background).toEqual([[0, 1], [0.5, 0.5], [1, 0]]);
        expect(flow.backgroundLabels).toEqual([0, 1, 0]);
        expect(flow.benign).toEqual([0.25, 0.75]);
        expect(flow.adversarial).toEqual([0.5, 0.25]);
        expect(flow.divergingLayer).toBe(1);
        expect(flow.scores).toEqual([{ score: 0.5, profileDistance: 0.05 }, { score: 2, profileDistance: 0.2 }]);
        expect(flow.bundles).toHaveLength(1);
        expect(flow.trustworthiness).toEqual([null, 0.9]);
        expect([flow.benignClass, flow.adversarialClass]).toEqual([0, 1]);
    });
    it('reads SciPy linkage and attribution groups', () => {
        const links = toDendrogram({ units: [10, 11, 12], merges: [{ left: 0, right: 2, distance: 0.1, size: 2 }, { left: 1, right: 3, distance: 0.4, size: 3 }], leafOrder: [1, 0, 2] });
        expect(links.map(l => l.leaves)).toEqual([[10, 12], [11, 10, 12]]);
        const graph = toAttribution({ fromCache: false, imageCount: 3, successRate: 1, layers: [{ layer: 'c', units: [
            { unit: 2, benignImportance: 1, adversarialImportance: 3, group: 'emphasized', relativeChange: 2 / 3 },
            { unit: 4, benignImportance: 0, adversarialImportance: 0, group: 'inactive', relativeChange: 0 }] }],
        edges: [{ fromLayer: 'c', fromUnit: 2, toLayer: 'd', toUnit: 0, influence: 0.5, benignInfluence: 0.2, adversarialInfluence: 0.5 }] });
        expect(graph.nodes[0]).toMatchObject({ id: 'c#2', delta: 2 / 3, side: 'adversarial' });
        expect(graph.nodes[1]).toMatchObject({ id: 'c#4', side: 'inactive' });
        expect(graph.edges[0]).toEqual({ from: 'c#2', to: 'd#0', weight: 0.5, benignWeight: 0.2, adversarialWeight: 0.5 });
        expect(graph).toMatchObject({ imageCount: 3, successRate: 1 });
    });
});

describe('architecture layout', () => {
    const node = (index: number, blockId: string | null): GraphNode => ({ index, name: `n${index}`, opType: 'Conv', outputs: [`v${index}`], outputShapes: [null], parameterCount: 1, category: 'weighted', readsGraphInput: index === 0, writesGraphOutput: index === 4, blockId });
    const nodes = [node(0, null), node(1, 'b'), node(2, 'b'), node(3, 'b'), node(4, null)];
    const edges = [{ from: 0, to: 1 }, { from: 1, to: 2 }, { from: 1, to: 3 }, { from: 2, to: 4 }, { from: 3, to: 4 }].map(e => ({ ...e, value: 'v', shape: null, isBranch: false }));
    const blocks = [{ id: 'b', label: 'block', parentId: null, depth: 0, nodes: [1, 2, 3] }];
    it('ranks left to right and puts parallel branches in one column', () => {
        const result = layout(nodes, edges, blocks, new Set());
        expect(result.items.map(i => i.rank)).toEqual([0, 1, 2, 2, 3]);
        const [a, b] = result.items.filter(i => i.rank === 2);
        expect(a.x).toBe(b.x);
        expect(a.y).not.toBe(b.y);
        expect(result.blockBoxes).toHaveLength(1);
    });
    it('collapses a block into one item with edges kept', () => {
        const result = layout(nodes, edges, blocks, new Set(['b']));
        expect(result.items.map(i => i.id)).toEqual(['node:0', 'block:b', 'node:4']);
        expect(result.edges.map(e => `${e.from}>${e.to}`)).toEqual(['node:0>block:b', 'block:b>node:4']);
    });
});
