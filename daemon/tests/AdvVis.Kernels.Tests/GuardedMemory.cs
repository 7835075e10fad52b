// Test-only memory that turns an out-of-bounds access into a crash: a float buffer placed flush against a page the
// process may not touch (PROT_NONE), so reading or writing even one float past its end (or before its start) raises
// SIGSEGV at once. In an ordinary managed array such an access goes unnoticed, until in the daemon an array happens to
// end at a page boundary and the process dies. Linux only (libc mmap, mprotect, munmap); elsewhere, or when the
// mapping fails, IsAvailable is false and the callers skip.
using System.Runtime.InteropServices;

namespace AdvVis.Kernels.Tests;

/// <summary>Which end of a guarded buffer touches the inaccessible page.</summary>
internal enum GuardedEnd { End, Start }

/// <summary>
/// <see cref="Length"/> floats in their own mapping: one inaccessible page, the data pages, one inaccessible page, with
/// the floats flush against the first (<see cref="GuardedEnd.Start"/>) or the last (<see cref="GuardedEnd.End"/>).
/// The rest of the data pages holds a filler that <see cref="SurroundingsIntact"/> checks afterwards.
/// </summary>
internal sealed unsafe class GuardedBuffer : IDisposable
{
    private const int ProtNone = 0, ProtReadWrite = 1 | 2;
    private const int MapPrivate = 0x02, MapAnonymous = 0x20;
    private static readonly nint MapFailed = -1;
    // All ones: each float of it is a NaN, so a stray read of the filler that reaches a result shows there; a stray
    // write that stops short of the guard page changes it and shows in SurroundingsIntact.
    private const byte Filler = 0xFF;

    [DllImport("libc", SetLastError = true)]
    private static extern nint mmap(nint address, nuint length, int protection, int flags, int fd, nint offset);

    [DllImport("libc", SetLastError = true)]
    private static extern int mprotect(nint address, nuint length, int protection);

    [DllImport("libc", SetLastError = true)]
    private static extern int munmap(nint address, nuint length);

    private static readonly Lazy<bool> Available = new(Probe);

    private readonly nint _mapping;
    private readonly nuint _mappingSize;
    private readonly byte* _data;      // first data page
    private readonly nint _dataSize;   // bytes in the data pages
    private readonly float* _start;
    private bool _disposed;

    private GuardedBuffer(nint mapping, nuint mappingSize, int pageSize, int length, GuardedEnd end)
    {
        _mapping = mapping;
        _mappingSize = mappingSize;
        _data = (byte*)mapping + pageSize;
        _dataSize = (nint)mappingSize - 2 * pageSize;
        Length = length;
        End = end;
        _start = end == GuardedEnd.Start ? (float*)_data : (float*)(_data + _dataSize) - length;
    }

    /// <summary>Whether guarded buffers can be made here (Linux, with mmap and mprotect working).</summary>
    public static bool IsAvailable => Available.Value;

    public int Length { get; }

    public GuardedEnd End { get; }

    public Span<float> Span
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return new Span<float>(_start, Length);
        }
    }

    /// <summary>A guarded buffer holding a copy of <paramref name="values"/>, or null where mapping memory failed.</summary>
    public static GuardedBuffer? TryCreate(ReadOnlySpan<float> values, GuardedEnd end)
    {
        if (!OperatingSystem.IsLinux()) return null;
        int pageSize = Environment.SystemPageSize;
        long bytes = (long)values.Length * sizeof(float);
        long dataPages = Math.Max(1, (bytes + pageSize - 1) / pageSize);
        var size = (nuint)((dataPages + 2) * pageSize);
        nint mapping = mmap(0, size, ProtReadWrite, MapPrivate | MapAnonymous, -1, 0);
        if (mapping == MapFailed || mapping == 0) return null;
        if (mprotect(mapping, (nuint)pageSize, ProtNone) != 0 ||
            mprotect(mapping + (nint)size - pageSize, (nuint)pageSize, ProtNone) != 0)
        {
            munmap(mapping, size);
            return null;
        }
        var buffer = new GuardedBuffer(mapping, size, pageSize, values.Length, end);
        new Span<byte>(buffer._data, (int)buffer._dataSize).Fill(Filler);
        values.CopyTo(buffer.Span);
        return buffer;
    }

    /// <summary>Whether the data pages outside the buffer still hold only the filler (nothing wrote near the buffer).</summary>
    public bool SurroundingsIntact()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var before = new ReadOnlySpan<byte>(_data, (int)((byte*)_start - _data));
        byte* after = (byte*)(_start + Length);
        var behind = new ReadOnlySpan<byte>(after, (int)(_data + _dataSize - after));
        return !before.ContainsAnyExcept(Filler) && !behind.ContainsAnyExcept(Filler);
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (munmap(_mapping, _mappingSize) != 0)
            throw new InvalidOperationException($"munmap failed (errno {Marshal.GetLastPInvokeError()}).");
    }

    private static bool Probe()
    {
        if (!OperatingSystem.IsLinux()) return false;
        try
        {
            using var probe = TryCreate([1f], GuardedEnd.End);
            return probe is not null;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }
}
