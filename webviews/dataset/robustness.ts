// The robustness report (robustness/evaluate, AutoAttack protocol): clean and robust accuracy after each attack stage
// per ε as a table, the accuracy–ε curve (one line per stage), each stage's time, and the suite's flags as warnings.
import * as d3 from 'd3';
import type { RobustnessEvaluateResult } from '../../vscode-advvis/src/daemon/protocol';
import { formatEps } from '../shared/messages';
import { classColor } from '../shared/theme';

const normNames: Record<string, string> = { linf: 'L∞', l2: 'L2', l1: 'L1' };
const percent = (value: number) => `${(100 * value).toFixed(1)} %`;

/** One line per stage of the suite: robust accuracy after it at each ε, with "clean" first. */
export function robustnessLines(result: RobustnessEvaluateResult): { name: string; points: [number, number][] }[] {
    const results = [...result.results].sort((a, b) => a.eps - b.eps);
    const lines = [{ name: 'clean', points: results.map(r => [r.eps, r.cleanAccuracy] as [number, number]) }];
    result.attacks.forEach((attack, i) => lines.push({ name: `after ${attack}`, points: results.filter(r => r.stages[i]).map(r => [r.eps, r.stages[i].robustAccuracy] as [number, number]) }));
    return lines;
}

export function drawRobustness(parent: HTMLElement, result: RobustnessEvaluateResult): void {
    const section = document.createElement('section');
    section.id = 'robustness';
    parent.append(section);
    const norm = normNames[result.norm] ?? result.norm;
    const title = document.createElement('h2');
    title.textContent = `Robustness (${result.version} suite: ${result.attacks.join(' → ')}; ${norm}${result.defaultEps ? ', the standard budget for this input' : ''})`;
    section.append(title);
    // A check that fires at several ε (softmax outputs, randomness) is one warning naming them all.
    const flags = new Map<string, { check: string; message: string; eps: number[] }>();
    for (const at of result.results) for (const flag of at.flags) {
        const key = `${flag.check}\n${flag.message}`;
        const seen = flags.get(key) ?? { ...flag, eps: [] };
        seen.eps.push(at.eps);
        flags.set(key, seen);
    }
    for (const flag of flags.values()) {
        const warning = document.createElement('div');
        warning.className = 'advvis-warning';
        warning.setAttribute('role', 'alert');
        warning.dataset.check = flag.check;
        const where = flag.eps.length === result.results.length && result.results.length > 1 ? 'every ε' : `ε = ${flag.eps.map(formatEps).join(', ')}`;
        warning.textContent = `Suspicious evaluation (${flag.check}, ${where}): ${flag.message}`;
        section.append(warning);
    }
    section.append(table(result, norm));
    const curve = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
    curve.id = 'robustness-curve';
    section.append(curve);
    drawCurve(curve, result, norm);
}

function table(result: RobustnessEvaluateResult, norm: string): HTMLTableElement {
    const element = document.createElement('table');
    element.className = 'neurons robustness';
    element.id = 'robustness-table';
    const head = element.createTHead().insertRow();
    for (const text of [`${norm} ε (pixels in [0, 1])`, 'images', 'clean accuracy', ...result.attacks.map(a => `robust after ${a}`), 'largest perturbation', 'total time']) {
        const th = document.createElement('th');
        th.textContent = text;
        head.append(th);
    }
    const body = element.createTBody();
    for (const at of [...result.results].sort((a, b) => a.eps - b.eps)) {
        const row = body.insertRow();
        row.dataset.eps = String(at.eps);
        const cell = (text: string, title?: string) => { const td = row.insertCell(); td.textContent = text; if (title) td.title = title; return td; };
        cell(formatEps(at.eps));
        cell(String(at.count));
        cell(percent(at.cleanAccuracy));
        result.attacks.forEach((attack, i) => {
            const stage = at.stages[i];
            const td = cell(stage ? `${percent(stage.robustAccuracy)} · ${stage.seconds.toFixed(1)} s` : '–',
                stage ? `${attack}: attacked ${stage.attacked}, fooled ${stage.fooled}, ${stage.robustAfter} still robust, ${stage.seconds.toFixed(2)} s` : undefined);
            td.dataset.stage = attack;
        });
        cell(at.maxPerturbation.toPrecision(3));
        cell(`${at.seconds.toFixed(1)} s`);
    }
    return element;
}

function drawCurve(svgElement: SVGSVGElement, result: RobustnessEvaluateResult, norm: string): void {
    const width = 720, height = 320, margin = { top: 28, right: 170, bottom: 42, left: 52 };
    const lines = robustnessLines(result);
    const eps = result.results.map(r => r.eps);
    const [lo, hi] = d3.extent(eps) as [number, number];
    const x = d3.scaleLinear().domain(lo === hi ? [0, hi * 1.25 || 1] : [0, hi]).nice().range([margin.left, width - margin.right]);
    const y = d3.scaleLinear().domain([0, 100]).range([height - margin.bottom, margin.top]);
    const svg = d3.select(svgElement).attr('width', width).attr('height', height).attr('data-lines', lines.length);
    svg.selectAll('*').remove();
    svg.append('text').attr('x', margin.left).attr('y', 16).attr('font-weight', 'bold').attr('fill', 'currentColor')
        .text(`Robust accuracy against ${norm} ε (${result.results[0]?.count ?? 0} images)`);
    svg.append('g').attr('transform', `translate(0,${height - margin.bottom})`).call(d3.axisBottom(x).ticks(6));
    svg.append('g').attr('transform', `translate(${margin.left},0)`).call(d3.axisLeft(y).ticks(5));
    svg.append('text').attr('x', (margin.left + width - margin.right) / 2).attr('y', height - 6).attr('text-anchor', 'middle').attr('fill', 'currentColor')
        .text(`${norm} budget ε (pixel values in [0, 1])`);
    svg.append('text').attr('transform', `translate(14,${(margin.top + height - margin.bottom) / 2}) rotate(-90)`).attr('text-anchor', 'middle').attr('fill', 'currentColor')
        .text('accuracy (%)');
    const line = d3.line<[number, number]>().x(p => x(p[0])).y(p => y(100 * p[1]));
    lines.forEach((entry, i) => {
        const color = i === 0 ? 'var(--vscode-foreground, #888)' : classColor(i - 1);
        const group = svg.append('g').attr('class', 'robustness-line').attr('data-line', entry.name);
        // Later stages often change little: earlier lines are drawn wider, so a line hidden under the next shows as its rim.
        const strokeWidth = i === 0 ? 1.5 : 1.5 + 2 * (lines.length - 1 - i);
        group.append('path').attr('d', line(entry.points)).attr('fill', 'none').attr('stroke', color).attr('stroke-width', strokeWidth).attr('stroke-dasharray', i === 0 ? '4 3' : null);
        group.selectAll('circle').data(entry.points).join('circle').attr('cx', p => x(p[0])).attr('cy', p => y(100 * p[1])).attr('r', 3.5).attr('fill', color)
            .append('title').text(p => `${entry.name}, ε = ${formatEps(p[0])}: ${percent(p[1])}`);
        const legend = svg.append('g').attr('class', 'legend-entry').attr('data-line', entry.name).attr('transform', `translate(${width - margin.right + 14},${margin.top + 8 + 18 * i})`);
        legend.append('line').attr('x2', 18).attr('stroke', color).attr('stroke-width', Math.min(strokeWidth, 5)).attr('stroke-dasharray', i === 0 ? '4 3' : null);
        legend.append('text').attr('x', 24).attr('dy', '0.32em').attr('fill', 'currentColor').text(entry.name);
    });
}
