// Finds the daemon: the env var ADVVIS_DAEMON_DEBUG (developers), then the advvis.daemonPath setting (user settings
// only, see config.ts), then the build shipped inside the extension (daemon/<rid>/advvis[.exe]). A path ending in .dll
// runs with `dotnet`. The daemon starts in its own folder, never the workspace: Windows looks for `dotnet` in the
// working folder before PATH. No vscode import: the extension passes in the setting and its own folder.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface DaemonCommand {
    command: string;
    args: string[];
    /** Where it came from, for messages. */
    source: 'env ADVVIS_DAEMON_DEBUG' | 'setting advvis.daemonPath' | 'bundled';
    path: string;
    /** The working folder to start it in: the daemon's own. */
    cwd: string;
}

export function runtimeId(platform: string = process.platform, arch: string = process.arch): string {
    const os = platform === 'win32' ? 'win' : platform === 'darwin' ? 'osx' : 'linux';
    return `${os}-${arch === 'arm64' ? 'arm64' : 'x64'}`;
}

export function commandFor(path: string, source: DaemonCommand['source'], extraArgs: string[]): DaemonCommand {
    const serve = ['serve', '--stdio', ...extraArgs];
    return path.toLowerCase().endsWith('.dll')
        ? { command: process.env.DOTNET ?? 'dotnet', args: [path, ...serve], source, path, cwd: dirname(path) }
        : { command: path, args: serve, source, path, cwd: dirname(path) };
}

/** Returns the command to start, or an error message that says what to set. */
export function locateDaemon(settingPath: string | undefined, extensionPath: string, extraArgs: string[] = [],
    env: NodeJS.ProcessEnv = process.env, exists: (path: string) => boolean = existsSync): DaemonCommand | { error: string } {
    const debug = env.ADVVIS_DAEMON_DEBUG?.trim();
    if (debug) {
        return exists(debug) ? commandFor(debug, 'env ADVVIS_DAEMON_DEBUG', extraArgs) : { error: `ADVVIS_DAEMON_DEBUG points to ${debug}, which does not exist.` };
    }
    const setting = settingPath?.trim();
    if (setting) {
        return exists(setting) ? commandFor(setting, 'setting advvis.daemonPath', extraArgs) : { error: `The setting advvis.daemonPath points to ${setting}, which does not exist.` };
    }
    const folder = join(extensionPath, 'daemon', runtimeId());
    for (const name of [process.platform === 'win32' ? 'advvis.exe' : 'advvis', 'advvis.dll']) {
        const candidate = join(folder, name);
        if (exists(candidate)) return commandFor(candidate, 'bundled', extraArgs);
    }
    return {
        error: `This AdvVis build ships no daemon for ${runtimeId()}. Build it (dotnet build daemon/AdvVis.Daemon.sln) and set `
            + '"advvis.daemonPath" to daemon/src/AdvVis.Cli/bin/Debug/net10.0/advvis.dll.',
    };
}
