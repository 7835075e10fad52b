// The manifest's security declarations: no workspace can choose what AdvVis executes, Restricted Mode is declared with
// every setting that steers the daemon restricted, and the commands that compute are hidden there.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

interface Setting { type: string | string[]; scope?: string; enum?: unknown[] }
const manifest = JSON.parse(readFileSync(resolve(__dirname, '../../package.json'), 'utf8')) as {
    capabilities?: { untrustedWorkspaces?: { supported: boolean | 'limited'; description?: string; restrictedConfigurations?: string[] } };
    contributes: { configuration: { properties: Record<string, Setting> }; menus: Record<string, { command: string; when?: string }[]>; commands: { command: string }[] };
};
const settings = manifest.contributes.configuration.properties;
const untrusted = manifest.capabilities?.untrustedWorkspaces;
/** Settings that only change what is displayed, never what runs or what is read: a workspace may set them anywhere. */
const displayOnly = ['advvis.codeLens.enabled'];
/** Commands that compute on the workspace (start the daemon, open models, attack): hidden and refused when untrusted. */
const computing = ['advvis.explainAttack', 'advvis.robustnessReport', 'advvis.openDataset', 'advvis.restartDaemon'];

describe('package.json', () => {
    it('reads advvis.daemonPath from user or remote settings only (scope machine)', () => {
        expect(settings['advvis.daemonPath'].scope).toBe('machine');
    });

    it('gives every setting an explicit scope, and only machine or application scope to a free-form string (a path)', () => {
        for (const [id, setting] of Object.entries(settings)) {
            expect(['application', 'machine', 'machine-overridable', 'window', 'resource', 'language-overridable'], `${id} needs a "scope"`).toContain(setting.scope);
            const freeText = [setting.type].flat().some(type => type === 'string' || type === 'array' || type === 'object') && !setting.enum;
            if (freeText) expect(['machine', 'application'], `${id} can hold a path: a workspace must not set it`).toContain(setting.scope);
        }
    });

    it('declares limited support for untrusted workspaces, restricting every setting that steers the daemon', () => {
        expect(untrusted?.supported).toBe('limited');
        expect(untrusted?.description).toMatch(/Restricted Mode/);
        const restricted = untrusted?.restrictedConfigurations ?? [];
        expect(restricted.filter(id => !(id in settings)), 'restrictedConfigurations names settings that do not exist').toEqual([]);
        const unrestricted = Object.keys(settings).filter(id => !restricted.includes(id) && !displayOnly.includes(id));
        expect(unrestricted, 'add these to capabilities.untrustedWorkspaces.restrictedConfigurations (or, if they only change the display, to displayOnly here)').toEqual([]);
    });

    it('hides the commands that compute unless the workspace is trusted, in every menu that shows them', () => {
        const palette = manifest.contributes.menus.commandPalette ?? [];
        for (const id of computing) {
            expect(manifest.contributes.commands.some(c => c.command === id), id).toBe(true);
            const entries = Object.values(manifest.contributes.menus).flat().filter(entry => entry.command === id);
            expect(palette.some(entry => entry.command === id), `${id} needs a commandPalette entry`).toBe(true);
            for (const entry of entries) expect(entry.when ?? '', `${id}: "when" must require isWorkspaceTrusted`).toMatch(/^isWorkspaceTrusted( && |$)/);
        }
    });
});
