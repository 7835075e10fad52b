// FileStatus: what a path is (regular file, folder, link, device, FIFO, socket), read without opening it and without
// following a final link. .NET has no public file-type stat, so on Unix this calls the runtime's own libSystem.Native
// (SystemNative_LStat/Stat/FStat), whose struct and S_IF* constants are the same on Linux and macOS; on Windows it reads
// FileAttributes (ReparsePoint for links and junctions, Device for devices).
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace AdvVis.Safety;

public enum FileKind { Missing, Regular, Directory, SymbolicLink, CharacterDevice, BlockDevice, Fifo, Socket, Other }

/// <summary>One stat of a path. <see cref="OwnerId"/> is the owning uid on Unix, null on Windows.</summary>
public readonly record struct FileStatus(FileKind Kind, long Length, DateTime LastWriteUtc, uint? OwnerId)
{
    public static readonly FileStatus Missing = new(FileKind.Missing, 0, default, null);

    /// <summary>Stats <paramref name="path"/> itself: a link is reported as <see cref="FileKind.SymbolicLink"/>, never followed.</summary>
    public static FileStatus OfLink(string path) => Read(path, followLinks: false);

    /// <summary>Stats what <paramref name="path"/> finally names, following links.</summary>
    public static FileStatus OfTarget(string path) => Read(path, followLinks: true);

    /// <summary>The kind of an open file (after open, so a file swapped in since the path was checked is caught).</summary>
    public static FileKind OfHandle(SafeFileHandle handle)
    {
        if (OperatingSystem.IsWindows()) return FileKind.Regular; // Windows opens devices only through \\.\ names, refused before
        if (UnixNative.FStat(handle, out var s) != 0) return FileKind.Other;
        return UnixNative.KindOf(s.Mode);
    }

    /// <summary>The effective uid of this process on Unix; null on Windows.</summary>
    public static uint? CurrentUserId => OperatingSystem.IsWindows() ? null : UnixNative.GetEUid();

    private static FileStatus Read(string path, bool followLinks)
    {
        if (OperatingSystem.IsWindows()) return ReadWindows(path, followLinks);
        int rc = followLinks ? UnixNative.Stat(path, out var s) : UnixNative.LStat(path, out s);
        if (rc != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno is UnixNative.ENOENT or UnixNative.ENOTDIR) return Missing;
            throw new UnsafeFileException($"'{path}' cannot be examined (error {errno}); check that it exists and that you may read it.");
        }
        var written = DateTime.UnixEpoch.AddTicks(s.MTime * TimeSpan.TicksPerSecond + s.MTimeNsec / 100);
        return new FileStatus(UnixNative.KindOf(s.Mode), s.Size, written, s.Uid);
    }

    private static FileStatus ReadWindows(string path, bool followLinks)
    {
        FileSystemInfo info = new FileInfo(path);
        if (!info.Exists) info = new DirectoryInfo(path);
        if (!info.Exists && info.LinkTarget is null) return Missing;
        if (info.Attributes.HasFlag(FileAttributes.ReparsePoint) && info.LinkTarget is not null)
        {
            if (!followLinks) return new FileStatus(FileKind.SymbolicLink, 0, info.LastWriteTimeUtc, null);
            var target = info.ResolveLinkTarget(returnFinalTarget: true);
            if (target is null || !target.Exists) return Missing;
            info = target;
        }
        var kind = info.Attributes.HasFlag(FileAttributes.Device) ? FileKind.CharacterDevice
            : info is DirectoryInfo || info.Attributes.HasFlag(FileAttributes.Directory) ? FileKind.Directory : FileKind.Regular;
        return new FileStatus(kind, kind == FileKind.Regular ? ((FileInfo)info).Length : 0, info.LastWriteTimeUtc, null);
    }
}

/// <summary>The runtime's portable stat (libSystem.Native ships with every .NET runtime on Unix).</summary>
internal static partial class UnixNative
{
    private const string Library = "libSystem.Native";
    internal const int ENOENT = 2, ENOTDIR = 20; // the same numbers on Linux and macOS

    // The PAL's portable file-type bits (pal_io.h), not the platform's.
    private const int S_IFMT = 0xF000, S_IFIFO = 0x1000, S_IFCHR = 0x2000, S_IFDIR = 0x4000, S_IFBLK = 0x6000,
        S_IFREG = 0x8000, S_IFLNK = 0xA000, S_IFSOCK = 0xC000;

    // Only the leading fields, whose layout has been stable across runtime versions, are read; Size = 256 leaves room for
    // the fields later versions append (birth time, device, inode, flags), so the native side never writes past the end.
    [StructLayout(LayoutKind.Sequential, Size = 256)]
    internal struct Status
    {
        public int Flags;
        public int Mode;
        public uint Uid;
        public uint Gid;
        public long Size;
        public long ATime;
        public long ATimeNsec;
        public long MTime;
        public long MTimeNsec;
    }

    internal static FileKind KindOf(int mode) => (mode & S_IFMT) switch
    {
        S_IFREG => FileKind.Regular,
        S_IFDIR => FileKind.Directory,
        S_IFLNK => FileKind.SymbolicLink,
        S_IFCHR => FileKind.CharacterDevice,
        S_IFBLK => FileKind.BlockDevice,
        S_IFIFO => FileKind.Fifo,
        S_IFSOCK => FileKind.Socket,
        _ => FileKind.Other,
    };

    [LibraryImport(Library, EntryPoint = "SystemNative_LStat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int LStat(string path, out Status status);

    [LibraryImport(Library, EntryPoint = "SystemNative_Stat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int Stat(string path, out Status status);

    [LibraryImport(Library, EntryPoint = "SystemNative_FStat", SetLastError = true)]
    internal static partial int FStat(SafeHandle fd, out Status status);

    [LibraryImport(Library, EntryPoint = "SystemNative_GetEUid")]
    internal static partial uint GetEUid();
}
