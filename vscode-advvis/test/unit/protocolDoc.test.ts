// protocol.ts against the reference section of docs/protocol.md (which the daemon's ProtocolDocTests keep equal to the
// C# DTOs): every documented type has an interface with exactly the documented members, optional exactly where the
// daemon may omit them (nullable, or a param with a default), every enum has the same strings, and every documented
// method is in `Methods` with the documented params and result types. Fails when either side drifts.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import ts from 'typescript';

const root = resolve(__dirname, '../../..');
const doc = readFileSync(resolve(root, 'docs/protocol.md'), 'utf8');
const reference = doc.slice(doc.indexOf('<!-- reference:begin'), doc.indexOf('<!-- reference:end'));

interface DocField { name: string; optional: boolean }
const docTypes = new Map<string, DocField[]>();
const docEnums = new Map<string, string[]>();
const docMethods = new Map<string, { params: string; result: string }>();
for (const match of reference.matchAll(/^- `([^`]+)` · params `([^`]+)` · result `([^`]+)`/gm)) docMethods.set(match[1], { params: match[2], result: match[3] });
for (const section of reference.split(/^#### /m).slice(1)) {
    const name = /^`([^`]+)`/.exec(section)![1];
    if (/^`[^`]+` \(enum\)/.test(section)) {
        docEnums.set(name, [...section.split('\n').find(line => line.includes('`') && !line.startsWith('`' + name))!.matchAll(/`([^`]+)`/g)].map(m => m[1]));
        continue;
    }
    const fields: DocField[] = [];
    for (const row of section.matchAll(/^\| `([^`]+)` \| `([^`]+)` \| ([^|]+) \|/gm)) {
        // Omitted by the daemon when null (results), or may be left out (params with a default).
        fields.push({ name: row[1], optional: row[2].endsWith('?') || row[3].trim() !== 'required' });
    }
    docTypes.set(name, fields);
}

const source = ts.createSourceFile('protocol.ts', readFileSync(resolve(root, 'vscode-advvis/src/daemon/protocol.ts'), 'utf8'), ts.ScriptTarget.ES2022, true);
const tsInterfaces = new Map<string, DocField[]>();
const tsAliases = new Map<string, ts.TypeNode>();
let methodsNode: ts.InterfaceDeclaration | undefined;
source.forEachChild(node => {
    if (ts.isInterfaceDeclaration(node)) {
        if (node.name.text === 'Methods') methodsNode = node;
        tsInterfaces.set(node.name.text, node.members.filter(ts.isPropertySignature).map(member => ({ name: member.name.getText(source).replace(/'/g, ''), optional: !!member.questionToken })));
    }
    if (ts.isTypeAliasDeclaration(node)) tsAliases.set(node.name.text, node.type);
});

describe('protocol.ts mirrors docs/protocol.md', () => {
    it('parses the reference section', () => {
        expect(docTypes.size).toBeGreaterThan(60);
        expect(docEnums.size).toBeGreaterThan(8);
        expect(docMethods.size).toBeGreaterThan(20);
    });

    it('has every documented type with the same members, optional where the daemon may omit them', () => {
        const problems: string[] = [];
        for (const [name, fields] of docTypes) {
            const mirror = tsInterfaces.get(name);
            if (!mirror) { problems.push(`${name}: no interface in protocol.ts`); continue; }
            for (const field of fields) {
                const member = mirror.find(m => m.name === field.name);
                if (!member) problems.push(`${name}.${field.name}: missing`);
                else if (member.optional !== field.optional) problems.push(`${name}.${field.name}: ${field.optional ? 'should be optional' : 'should be required'}`);
            }
            for (const member of mirror) if (!fields.some(f => f.name === member.name)) problems.push(`${name}.${member.name}: not in the protocol`);
        }
        expect(problems).toEqual([]);
    });

    it('has every documented enum with the same strings', () => {
        const problems: string[] = [];
        for (const [name, values] of docEnums) {
            const alias = tsAliases.get(name);
            if (!alias || !ts.isUnionTypeNode(alias)) { problems.push(`${name}: no string union in protocol.ts`); continue; }
            const strings = alias.types.map(t => t.getText(source).replace(/'/g, ''));
            if (strings.join('|') !== values.join('|')) problems.push(`${name}: ${strings.join('|')} ≠ ${values.join('|')}`);
        }
        expect(problems).toEqual([]);
    });

    it('lists every documented method with its params and result types', () => {
        const methods = new Map<string, string[]>();
        for (const member of methodsNode!.members.filter(ts.isPropertySignature)) {
            const tuple = member.type as ts.TupleTypeNode;
            methods.set(member.name.getText(source).replace(/'/g, ''), tuple.elements.map(e => e.getText(source)));
        }
        const problems: string[] = [];
        for (const [name, { params, result }] of docMethods) {
            const mirror = methods.get(name);
            const expected = [params === 'none' ? 'undefined' : params, result];
            if (!mirror) problems.push(`${name}: not in Methods`);
            else if (mirror.join(',') !== expected.join(',')) problems.push(`${name}: [${mirror.join(', ')}] ≠ [${expected.join(', ')}]`);
        }
        for (const name of methods.keys()) if (!docMethods.has(name) && !['daemon/ping', 'daemon/methods', 'shutdown'].includes(name)) problems.push(`${name}: not documented`);
        expect(problems).toEqual([]);
    });
});
