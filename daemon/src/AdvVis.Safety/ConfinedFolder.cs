// ConfinedFolder: a folder AdvVis writes and deletes in (the result cache, the export folder). It must be a real folder
// the user owns: no link in it or between it and its anchor (the workspace root), so that writing or deleting "in the
// cache" can never reach a folder a cloned repository pointed it at. Every write resolves its target and creates
// missing sub-folders itself, refusing links on the way; every delete and listing stays below it without following links.
using Path_ = System.IO.Path;

namespace AdvVis.Safety;

public sealed class ConfinedFolder
{
    private readonly string _anchor;

    private ConfinedFolder(string path, string what, string anchor)
    {
        Path = path;
        What = what;
        _anchor = anchor;
    }

    /// <summary>The folder as configured (absolute, not link-resolved): the paths AdvVis reports lie under it.</summary>
    public string Path { get; }

    /// <summary>What the folder is, for messages ("cache folder").</summary>
    public string What { get; }

    /// <summary>
    /// Checks <paramref name="path"/> and returns it confined. <paramref name="anchor"/> is the workspace root when the folder
    /// lies under it (every component below the root is checked), else the folder's parent is the anchor (the folder
    /// itself is checked). The folder need not exist yet.
    /// </summary>
    public static ConfinedFolder Open(string path, string what, string? anchor)
    {
        string full = Path_.TrimEndingDirectorySeparator(Path_.GetFullPath(path));
        string? a = anchor is null ? null : Path_.TrimEndingDirectorySeparator(Path_.GetFullPath(anchor));
        if (a is null || full.Equals(a, SafeFiles.PathComparison) || !SafeFiles.IsInsideResolved(a, full))
            a = Path_.GetDirectoryName(full) ?? full;
        var folder = new ConfinedFolder(full, what, a);
        folder.Verify();
        return folder;
    }

    /// <summary>
    /// Re-checks the folder (it may have been replaced since it was configured) and returns its resolved path.
    /// Refuses a link, a non-folder, or (Unix) a component not owned by the current user, naming it and the fix (as
    /// <see cref="UnsafeFileException.OutsideAllowedFolder"/>: what is written there would not stay in a folder of the user's).
    /// </summary>
    public string Verify()
    {
        uint? me = FileStatus.CurrentUserId;
        string current = _anchor;
        foreach (var part in Path_.GetRelativePath(_anchor, Path).Split(Path_.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries))
        {
            if (part == ".") continue;
            current = Path_.Join(current, part);
            var status = FileStatus.OfLink(current);
            if (status.Kind == FileKind.Missing) break;
            if (status.Kind == FileKind.SymbolicLink)
                throw new UnsafeFileException($"The {What} '{Path}' goes through the symbolic link '{current}'; AdvVis refuses it, because writing or clearing it would change files elsewhere. Remove the link (it may come from a cloned repository) or set a real folder.", outsideAllowedFolder: true);
            if (status.Kind != FileKind.Directory)
                throw new UnsafeFileException($"The {What} '{Path}' cannot be used: '{current}' is not a folder. Remove it or set another folder.", outsideAllowedFolder: true);
            if (me is { } uid && status.OwnerId != uid)
                throw new UnsafeFileException($"The {What} '{Path}' cannot be used: '{current}' belongs to another user (uid {status.OwnerId}), not to you (uid {uid}). Remove it or set a folder you own.", outsideAllowedFolder: true);
        }
        return SafeFiles.Resolve(Path);
    }

    /// <summary>True when <paramref name="path"/>, resolved, lies inside this folder (resolved).</summary>
    public bool Contains(string path) => SafeFiles.IsInsideResolved(SafeFiles.Resolve(Path), SafeFiles.Resolve(path));

    /// <summary>
    /// A regular file inside this folder named by <paramref name="path"/>; anything else (outside once resolved, special,
    /// missing) is refused without saying anything about a file outside. Returns the resolved path to open.
    /// </summary>
    public string RequireFile(string path, string what)
    {
        string root = Verify();
        string resolved;
        try { resolved = SafeFiles.Resolve(System.IO.Path.IsPathRooted(path) ? path : Path_.Join(Path, path)); }
        catch (UnsafeFileException) { resolved = ""; }
        if (resolved.Length == 0 || !SafeFiles.IsInsideResolved(root, resolved) || resolved.Equals(root, SafeFiles.PathComparison))
            throw new UnsafeFileException($"{what} '{path}' is not a file in the {What} '{Path}'; only files AdvVis wrote there may be named by path.", outsideAllowedFolder: true);
        return SafeFiles.RequireRegularFile(resolved, what);
    }

    /// <summary>
    /// Writes <paramref name="bytes"/> to <paramref name="path"/> (absolute under <see cref="Path"/>, or relative to it)
    /// through a temporary file renamed into place. Missing sub-folders are created; a link or non-folder on the way is
    /// refused, so the bytes land inside this folder. A rename replaces a name, never the contents of a file it named,
    /// so a link or hard link at the destination is replaced, not written through. Returns the path under <see cref="Path"/>.
    /// </summary>
    public string WriteAtomically(string path, ReadOnlySpan<byte> bytes)
    {
        string relative = RelativeInside(path);
        string directory = Verify();
        if (FileStatus.OfLink(directory).Kind == FileKind.Missing) Directory.CreateDirectory(directory);
        var parts = relative.Split(Path_.DirectorySeparatorChar);
        foreach (var part in parts[..^1])
        {
            directory = Path_.Join(directory, part);
            var status = FileStatus.OfLink(directory);
            if (status.Kind == FileKind.Missing) Directory.CreateDirectory(directory);
            else if (status.Kind == FileKind.SymbolicLink)
                throw new UnsafeFileException($"'{Path_.Join(Path, relative)}' would be written through the symbolic link '{directory}' inside the {What}; AdvVis refuses to write outside it. Remove the link.", outsideAllowedFolder: true);
            else if (status.Kind != FileKind.Directory)
                throw new UnsafeFileException($"'{Path_.Join(Path, relative)}' cannot be written: '{directory}' is not a folder.");
        }
        string target = Path_.Join(directory, parts[^1]);
        if (FileStatus.OfLink(target).Kind == FileKind.Directory)
            throw new UnsafeFileException($"'{Path_.Join(Path, relative)}' is a folder; choose another file name.");
        string temp = target + ".tmp-" + Guid.NewGuid().ToString("N");
        try
        {
            // CreateNew is O_CREAT|O_EXCL: it never follows a link planted at the temporary name.
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                stream.Write(bytes);
                stream.Flush(flushToDisk: false);
            }
            File.Move(temp, target, overwrite: true);
        }
        finally
        {
            if (FileStatus.OfLink(temp).Kind != FileKind.Missing) SafeFiles.DeleteEntry(temp);
        }
        return Path_.Join(Path, relative);
    }

    /// <summary>Deletes <paramref name="relative"/> under this folder (a sub-folder or file), never following a link.</summary>
    public void Delete(string relative) => SafeFiles.DeleteWithoutFollowingLinks(Path_.Join(Verify(), RelativeInside(relative)));

    /// <summary>Deletes one file (or link, as a link) under this folder; paths outside it are ignored.</summary>
    public void DeleteFile(string path) => SafeFiles.DeleteEntry(Path_.Join(Verify(), RelativeInside(path)));

    /// <summary>Every file (and link, not followed) under <paramref name="relative"/>, with its own status.</summary>
    public IEnumerable<(string Path, FileStatus Status)> Files(string relative = ".")
    {
        string root = Verify();
        string start = relative == "." ? root : Path_.Join(root, RelativeInside(relative));
        foreach (var (path, status) in SafeFiles.EnumerateWithoutFollowingLinks(start))
            yield return (Path_.Join(Path, Path_.GetRelativePath(root, path)), status);
    }

    /// <summary>The lexical path of <paramref name="path"/> relative to this folder; anything leaving it is refused.</summary>
    private string RelativeInside(string path)
    {
        string full = Path_.GetFullPath(Path_.IsPathRooted(path) ? path : Path_.Join(Path, path));
        string relative = Path_.GetRelativePath(Path, full);
        if (relative == "." || relative == ".." || relative.StartsWith(".." + Path_.DirectorySeparatorChar, StringComparison.Ordinal) || Path_.IsPathRooted(relative))
            throw new UnsafeFileException($"'{path}' is not inside the {What} '{Path}'.", outsideAllowedFolder: true);
        return relative;
    }
}
