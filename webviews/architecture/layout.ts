// Layered left-to-right layout of the visible items (nodes, or collapsed blocks) of the Architecture View.
// Longest-path ranks (Kahn order), then one barycentre pass to order each rank: enough for CNN graphs of a few
// hundred nodes, which are mostly chains with short branches. Pure: no DOM, so it is unit-testable.
import type { GraphBlock, GraphEdge, GraphNode, LayerCategory } from '../shared/messages';

export interface Item {
    id: string; // "node:INDEX" or "block:ID"
    label: string;
    isBlock: boolean;
    nodes: number[];
    category: LayerCategory;
    terminal: boolean; // reads a graph input or writes a graph output: drawn as a circle
    rank: number;
    order: number;
    x: number;
    y: number;
}

export interface ItemEdge {
    from: string;
    to: string;
    isBranch: boolean;
    values: string[];
}

export interface Layout {
    items: Item[];
    edges: ItemEdge[];
    width: number;
    height: number;
    /** Bounding boxes of expanded blocks that hold visible nodes, outermost first. */
    blockBoxes: { block: GraphBlock; x: number; y: number; width: number; height: number }[];
}

export const columnWidth = 46;
export const rowHeight = 34;
export const nodeSize = 18;

/** The item a node is drawn in: its outermost collapsed enclosing block, or itself. */
export function itemOf(node: GraphNode, blocks: Map<string, GraphBlock>, collapsed: Set<string>): string {
    let outer: string | null = null;
    for (let id = node.blockId; id; id = blocks.get(id)?.parentId ?? null) {
        if (collapsed.has(id)) outer = id;
    }
    return outer ? `block:${outer}` : `node:${node.index}`;
}

export function layout(nodes: GraphNode[], edges: GraphEdge[], blockList: GraphBlock[], collapsed: Set<string>): Layout {
    const blocks = new Map(blockList.map(block => [block.id, block]));
    const items = new Map<string, Item>();
    const itemByNode = new Map<number, string>();
    for (const node of nodes) {
        const id = itemOf(node, blocks, collapsed);
        itemByNode.set(node.index, id);
        let item = items.get(id);
        if (!item) {
            const block = id.startsWith('block:') ? blocks.get(id.slice(6))! : null;
            item = { id, label: block ? block.label : node.name || node.opType, isBlock: !!block, nodes: [], category: node.category, terminal: false, rank: 0, order: 0, x: 0, y: 0 };
            items.set(id, item);
        }
        item.nodes.push(node.index);
        if (!item.isBlock) item.terminal = node.readsGraphInput || node.writesGraphOutput;
        if (item.isBlock && rankOfCategory(node.category) > rankOfCategory(item.category)) item.category = node.category;
    }

    const edgeMap = new Map<string, ItemEdge>();
    for (const edge of edges) {
        if (edge.from < 0 || edge.to < 0) continue;
        const from = itemByNode.get(edge.from), to = itemByNode.get(edge.to);
        if (!from || !to || from === to) continue;
        const key = `${from}>${to}`;
        const existing = edgeMap.get(key);
        if (existing) {
            existing.isBranch ||= edge.isBranch;
            existing.values.push(edge.value);
        } else {
            edgeMap.set(key, { from, to, isBranch: edge.isBranch, values: [edge.value] });
        }
    }
    const itemEdges = [...edgeMap.values()];

    // Longest-path ranks in Kahn order (items start in order of their first node, which is topological).
    const outgoing = new Map<string, string[]>(), incoming = new Map<string, string[]>(), indegree = new Map<string, number>();
    for (const id of items.keys()) { outgoing.set(id, []); incoming.set(id, []); indegree.set(id, 0); }
    for (const edge of itemEdges) {
        outgoing.get(edge.from)!.push(edge.to);
        incoming.get(edge.to)!.push(edge.from);
        indegree.set(edge.to, indegree.get(edge.to)! + 1);
    }
    const ordered = [...items.values()].sort((a, b) => a.nodes[0] - b.nodes[0]);
    const queue = ordered.filter(item => indegree.get(item.id) === 0).map(item => item.id);
    const seen = new Set<string>();
    while (queue.length) {
        const id = queue.shift()!;
        seen.add(id);
        for (const next of outgoing.get(id)!) {
            const target = items.get(next)!;
            target.rank = Math.max(target.rank, items.get(id)!.rank + 1);
            indegree.set(next, indegree.get(next)! - 1);
            if (indegree.get(next) === 0) queue.push(next);
        }
    }
    // A cycle between collapsed blocks (a block that is not contiguous): place the rest after what was ranked.
    let maxRank = Math.max(0, ...[...items.values()].map(item => item.rank));
    for (const item of ordered) if (!seen.has(item.id)) item.rank = ++maxRank;

    // Order within ranks by the barycentre of predecessors, then centre every rank vertically.
    const ranks: Item[][] = [];
    for (const item of ordered) (ranks[item.rank] ??= []).push(item);
    let maxRows = 1;
    for (const rank of ranks) {
        if (!rank) continue;
        const key = (item: Item) => {
            const preds = incoming.get(item.id)!.map(id => items.get(id)!.order);
            return preds.length ? preds.reduce((a, b) => a + b, 0) / preds.length : item.nodes[0] / 1e6;
        };
        rank.sort((a, b) => key(a) - key(b) || a.nodes[0] - b.nodes[0]);
        rank.forEach((item, i) => { item.order = i - (rank.length - 1) / 2; });
        maxRows = Math.max(maxRows, rank.length);
    }
    const top = ((maxRows - 1) / 2) * rowHeight + rowHeight;
    for (const item of items.values()) {
        item.x = columnWidth / 2 + item.rank * columnWidth;
        item.y = top + item.order * rowHeight;
    }

    const blockBoxes: Layout['blockBoxes'] = [];
    for (const block of [...blockList].sort((a, b) => a.depth - b.depth)) {
        if (isHidden(block, blocks, collapsed) || collapsed.has(block.id)) continue;
        const members = block.nodes.map(index => items.get(itemByNode.get(index)!)).filter((item): item is Item => !!item);
        if (!members.length) continue;
        const pad = 12 - 3 * Math.min(block.depth, 3);
        const xs = members.map(item => item.x), ys = members.map(item => item.y);
        const x = Math.min(...xs) - nodeSize / 2 - pad, y = Math.min(...ys) - nodeSize / 2 - pad - 10;
        blockBoxes.push({ block, x, y, width: Math.max(...xs) - Math.min(...xs) + nodeSize + 2 * pad, height: Math.max(...ys) - Math.min(...ys) + nodeSize + 2 * pad + 10 });
    }

    return {
        items: ordered,
        edges: itemEdges,
        width: (maxRank + 1) * columnWidth,
        height: top * 2,
        blockBoxes,
    };
}

function isHidden(block: GraphBlock, blocks: Map<string, GraphBlock>, collapsed: Set<string>): boolean {
    for (let id = block.parentId; id; id = blocks.get(id)?.parentId ?? null) if (collapsed.has(id)) return true;
    return false;
}

function rankOfCategory(category: LayerCategory): number {
    return category === 'weighted' ? 2 : category === 'trainable' ? 1 : 0;
}
