// SafeFiles: the one way AdvVis opens, confines and deletes files that a user (or a repository they cloned) brings.
// - Resolve: every link in every component resolved (chains, relative targets, ".." after a link as the OS does).
// - Reading: only regular files, checked before opening (a FIFO blocks open, a device never ends), re-checked on the
//   open handle; /proc, /sys, /dev and Windows device names are refused by location.
// - Confinement: resolved paths compared with the platform's case rules.
// - Deletion: never follows a link; a link is removed as a link.
namespace AdvVis.Safety;

/// <summary>A path AdvVis refuses: a special file, a link where none may be, or a place outside an allowed folder.</summary>
public sealed class UnsafeFileException(string message, bool outsideAllowedFolder = false) : IOException(message)
{
    /// <summary>True when the path leaves a folder the caller confines it to (as opposed to naming a special file).</summary>
    public bool OutsideAllowedFolder { get; } = outsideAllowedFolder;
}

public static class SafeFiles
{
    /// <summary>Links followed while resolving one path before giving up (Linux's own limit).</summary>
    public const int MaxLinkHops = 40;

    /// <summary>How paths compare: Windows and macOS file systems ignore case by default, Linux's do not.</summary>
    public static StringComparison PathComparison { get; } =
        OperatingSystem.IsWindows() || OperatingSystem.IsMacOS() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;

    /// <summary>
    /// The absolute path <paramref name="path"/> names once every link in it is resolved. Components that do not exist
    /// yet are kept as written. On Unix ".." after a link goes to the link target's parent (as the kernel does); on
    /// Windows paths are normalised lexically first, as Win32 does before the file system sees them.
    /// </summary>
    public static string Resolve(string path)
    {
        if (string.IsNullOrEmpty(path)) throw new ArgumentException("path must not be empty", nameof(path));
        string full = OperatingSystem.IsWindows() ? Path.GetFullPath(path)
            : Path.IsPathRooted(path) ? path : Path.Join(Directory.GetCurrentDirectory(), path);
        string root = Path.GetPathRoot(full)!;
        var pending = new LinkedList<string>(Split(full[root.Length..]));
        string resolved = root;
        int hops = 0;
        while (pending.First is { } first)
        {
            string part = first.Value;
            pending.RemoveFirst();
            if (part is "" or ".") continue;
            if (part == "..") { resolved = Path.GetDirectoryName(resolved) ?? root; continue; }
            string candidate = Path.Join(resolved, part);
            var status = FileStatus.OfLink(candidate);
            if (status.Kind == FileKind.Missing)
            {
                // Nothing below a missing component exists either: the rest is lexical.
                return Path.TrimEndingDirectorySeparator(Path.GetFullPath(Path.Join(candidate, string.Join(Path.DirectorySeparatorChar, pending))));
            }
            if (status.Kind != FileKind.SymbolicLink) { resolved = candidate; continue; }
            if (++hops > MaxLinkHops)
                throw new UnsafeFileException($"'{path}' goes through more than {MaxLinkHops} symbolic links (a loop?); AdvVis does not follow it.");
            string target = new FileInfo(candidate).LinkTarget
                ?? throw new UnsafeFileException($"The link '{candidate}' in '{path}' cannot be read.");
            if (Path.IsPathRooted(target))
            {
                if (OperatingSystem.IsWindows()) target = Path.GetFullPath(target);
                resolved = Path.GetPathRoot(target)!;
                target = target[resolved.Length..];
            }
            foreach (var t in Split(target).Reverse()) pending.AddFirst(t);
        }
        return resolved;
    }

    /// <summary>True when the resolved <paramref name="path"/> is <paramref name="root"/> or lies under it (both resolved first).</summary>
    public static bool IsInside(string root, string path) => IsInsideResolved(Resolve(root), Resolve(path));

    /// <summary>The same test on paths already resolved.</summary>
    public static bool IsInsideResolved(string resolvedRoot, string resolvedPath)
    {
        string r = Path.TrimEndingDirectorySeparator(resolvedRoot), p = Path.TrimEndingDirectorySeparator(resolvedPath);
        if (p.Equals(r, PathComparison)) return true;
        string prefix = r.EndsWith(Path.DirectorySeparatorChar) ? r : r + Path.DirectorySeparatorChar;
        return p.StartsWith(prefix, PathComparison);
    }

    /// <summary>
    /// Resolves <paramref name="path"/> and checks it names a regular file, without opening it. Returns the resolved path,
    /// which callers open (so the file they check is the file they read). <paramref name="what"/> names it in errors
    /// ("Model file", "Labels file").
    /// </summary>
    public static string RequireRegularFile(string path, string what)
    {
        string resolved = ResolveReadable(path, what);
        var status = FileStatus.OfLink(resolved);
        return status.Kind switch
        {
            FileKind.Regular => resolved,
            FileKind.Missing => throw new FileNotFoundException($"{what} '{path}' does not exist. Check the path.", path),
            FileKind.Directory => throw new UnsafeFileException($"{what} '{path}' is a folder, not a file. Name a file inside it."),
            var kind => throw new UnsafeFileException(SpecialFileMessage(path, what, kind, resolved)),
        };
    }

    /// <summary>Resolves <paramref name="path"/> and checks it names a folder (datasets of image folders).</summary>
    public static string RequireDirectory(string path, string what)
    {
        string resolved = ResolveReadable(path, what);
        return FileStatus.OfLink(resolved).Kind switch
        {
            FileKind.Directory => resolved,
            FileKind.Missing => throw new DirectoryNotFoundException($"{what} '{path}' does not exist. Check the path."),
            _ => throw new UnsafeFileException($"{what} '{path}' is not a folder."),
        };
    }

    /// <summary>True when <paramref name="path"/> exists as a regular file (through links); special files and folders are false.</summary>
    public static bool IsRegularFile(string path)
    {
        try { return FileStatus.OfTarget(path).Kind == FileKind.Regular && !IsDeviceLocation(Resolve(path)); }
        catch (UnsafeFileException) { return false; }
    }

    /// <summary>
    /// True when something exists at <paramref name="path"/> (through links), special files included, so that a reader
    /// then refuses a FIFO or device by name instead of silently skipping it.
    /// </summary>
    public static bool Exists(string path)
    {
        try { return FileStatus.OfTarget(path).Kind != FileKind.Missing; }
        catch (UnsafeFileException) { return true; }
    }

    /// <summary>Opens a regular file for reading after <see cref="RequireRegularFile"/>, and checks the open handle again.</summary>
    public static FileStream OpenRead(string path, string what)
    {
        string resolved = RequireRegularFile(path, what);
        var stream = new FileStream(resolved, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16);
        var kind = FileStatus.OfHandle(stream.SafeFileHandle);
        if (kind == FileKind.Regular) return stream;
        stream.Dispose();
        throw new UnsafeFileException(SpecialFileMessage(path, what, kind, resolved));
    }

    public static byte[] ReadAllBytes(string path, string what)
    {
        using var stream = OpenRead(path, what);
        long length = stream.Length;
        if (length > Array.MaxLength) throw new UnsafeFileException($"{what} '{path}' is larger than AdvVis can read into memory.");
        var bytes = new byte[length];
        stream.ReadExactly(bytes);
        return bytes;
    }

    public static string ReadAllText(string path, string what)
    {
        using var stream = OpenRead(path, what);
        using var reader = new StreamReader(stream, detectEncodingFromByteOrderMarks: true);
        return reader.ReadToEnd();
    }

    /// <summary>
    /// Deletes <paramref name="path"/> and, when it is a real folder, everything under it, never following a link:
    /// a link (to a file or a folder) is removed as a link and its target is left alone.
    /// </summary>
    public static void DeleteWithoutFollowingLinks(string path)
    {
        var status = FileStatus.OfLink(path);
        switch (status.Kind)
        {
            case FileKind.Missing:
                return;
            case FileKind.SymbolicLink:
                RemoveLink(path);
                return;
            case FileKind.Directory:
                foreach (var entry in Directory.EnumerateFileSystemEntries(path, "*", new EnumerationOptions { AttributesToSkip = 0, RecurseSubdirectories = false }))
                    DeleteWithoutFollowingLinks(entry);
                Directory.Delete(path, recursive: false);
                return;
            default:
                File.Delete(path);
                return;
        }
    }

    /// <summary>Every non-folder entry under <paramref name="folder"/> with its own status, descending only into real folders.</summary>
    public static IEnumerable<(string Path, FileStatus Status)> EnumerateWithoutFollowingLinks(string folder)
    {
        if (FileStatus.OfLink(folder).Kind != FileKind.Directory) yield break;
        var stack = new Stack<string>();
        stack.Push(folder);
        while (stack.TryPop(out var current))
        {
            IEnumerable<string> entries;
            try { entries = Directory.EnumerateFileSystemEntries(current, "*", new EnumerationOptions { AttributesToSkip = 0 }).ToList(); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { continue; }
            foreach (var entry in entries)
            {
                FileStatus status;
                try { status = FileStatus.OfLink(entry); }
                catch (UnsafeFileException) { continue; }
                if (status.Kind == FileKind.Directory) stack.Push(entry);
                else if (status.Kind != FileKind.Missing) yield return (entry, status);
            }
        }
    }

    /// <summary>Removes one entry that is not a folder (a file, or a link of any kind, as a link).</summary>
    public static void DeleteEntry(string path)
    {
        var status = FileStatus.OfLink(path);
        if (status.Kind == FileKind.SymbolicLink) RemoveLink(path);
        else if (status.Kind != FileKind.Missing && status.Kind != FileKind.Directory) File.Delete(path);
    }

    private static void RemoveLink(string path)
    {
        // Windows removes a folder link or junction with RemoveDirectory, which never touches the target; Unix unlinks.
        if (OperatingSystem.IsWindows() && Directory.Exists(path)) Directory.Delete(path, recursive: false);
        else File.Delete(path);
    }

    private static string ResolveReadable(string path, string what)
    {
        if (string.IsNullOrWhiteSpace(path)) throw new UnsafeFileException($"{what} path is empty.");
        if (OperatingSystem.IsWindows() && IsWindowsDeviceName(path))
            throw new UnsafeFileException($"{what} '{path}' names a Windows device, not a file. Name a regular file.");
        string resolved = Resolve(path);
        if (IsDeviceLocation(resolved) || (OperatingSystem.IsWindows() && IsWindowsDeviceName(resolved)))
            throw new UnsafeFileException($"{what} '{path}' lies in a system device or process folder ({DeviceRootOf(resolved)}), not a regular file. Name a regular file.");
        return resolved;
    }

    private static string SpecialFileMessage(string path, string what, FileKind kind, string resolved)
    {
        string name = kind switch
        {
            FileKind.CharacterDevice => "a character device",
            FileKind.BlockDevice => "a block device",
            FileKind.Fifo => "a FIFO (named pipe)",
            FileKind.Socket => "a socket",
            FileKind.SymbolicLink => "a symbolic link that changed while it was checked",
            _ => "a special file",
        };
        string through = Path.TrimEndingDirectorySeparator(Path.GetFullPath(path)).Equals(resolved, PathComparison) ? "" : " (through a symbolic link)";
        return $"{what} '{path}'{through} is {name}, not a regular file; AdvVis reads only regular files. Name the file itself.";
    }

    /// <summary>Pseudo file systems whose entries look like files but block, never end, or expose the machine.</summary>
    private static readonly string[] UnixDeviceRoots = OperatingSystem.IsLinux() ? ["/proc", "/sys", "/dev"] : OperatingSystem.IsWindows() ? [] : ["/dev"];

    private static bool IsDeviceLocation(string resolved) => DeviceRootOf(resolved) is not null;

    private static string? DeviceRootOf(string resolved)
    {
        foreach (var root in UnixDeviceRoots) if (IsInsideResolved(root, resolved)) return root;
        if (OperatingSystem.IsWindows() && (resolved.StartsWith(@"\\.\", StringComparison.Ordinal) || resolved.StartsWith(@"\\?\GLOBALROOT", StringComparison.OrdinalIgnoreCase)))
            return @"\\.\";
        return null;
    }

    /// <summary>Windows device namespace paths and reserved names (CON, NUL, COM1, LPT1.txt, ...) in any component.</summary>
    public static bool IsWindowsDeviceName(string path)
    {
        if (path.StartsWith(@"\\.\", StringComparison.Ordinal) || path.StartsWith("//./", StringComparison.Ordinal)) return true;
        if (path.StartsWith(@"\\?\", StringComparison.Ordinal) && !(path.Length >= 7 && path[5] == ':') && !path.StartsWith(@"\\?\UNC\", StringComparison.OrdinalIgnoreCase)) return true;
        foreach (var part in path.Split('\\', '/'))
        {
            string stem = part.Split('.')[0].TrimEnd(' ');
            if (stem.Length == 0) continue;
            string upper = stem.ToUpperInvariant();
            if (upper is "CON" or "PRN" or "AUX" or "NUL" or "CONIN$" or "CONOUT$" or "CLOCK$") return true;
            if (upper.Length == 4 && (upper.StartsWith("COM", StringComparison.Ordinal) || upper.StartsWith("LPT", StringComparison.Ordinal))
                && (char.IsAsciiDigit(upper[3]) || upper[3] is '¹' or '²' or '³')) return true;
        }
        return false;
    }

    private static string[] Split(string path) => path.Split(OperatingSystem.IsWindows() ? ['\\', '/'] : ['/'], StringSplitOptions.RemoveEmptyEntries);
}
