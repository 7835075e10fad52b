// Recycled float arrays for activations and gradient buffers, so memory-bound ops write into warm pages instead of
// paying for fresh zeroed ones. Ownership rules (what may go back) live with the callers: ForwardPass and BufferScope.
namespace AdvVis.Engine;

/// <summary>
/// A thread-safe store of float arrays keyed by exact length (so <c>Data.Length == Length</c> holds for every tensor
/// made from one). Only arrays nobody references any more may be returned; a rented array belongs to the renter alone.
/// Up to <see cref="CapacityBytes"/> are held firmly; beyond that, returned arrays are held only weakly, so they are
/// reused if asked for before the next full collection and otherwise freed by the GC like any garbage: the pool never
/// keeps more than the capacity alive against the GC. When the firm part is full, the sizes least recently asked for
/// move to the weak part first, so a model run at a new batch size replaces the old sizes instead of being locked out.
/// </summary>
internal sealed class BufferPool
{
    /// <summary>Arrays shorter than this are left to the GC: for them bookkeeping costs more than allocation.</summary>
    public const int MinLength = 1024;

    private sealed class Bucket
    {
        public readonly Stack<float[]> Free = new();
        public readonly List<WeakReference<float[]>> Weak = [];
        public long LastUse;
    }

    private readonly object _lock = new();
    private readonly Dictionary<int, Bucket> _buckets = new();
    private long _capacityBytes;
    private long _bytes;
    private long _clock;
    private int _weakEntries;
    private int _weakSweepAt = 1024;

    public BufferPool(long capacityBytes) => _capacityBytes = Math.Max(0, capacityBytes);

    /// <summary>Test hook: fill every returned array with NaN, so a reader of stale values shows up at once.</summary>
    internal bool PoisonReturned { get; set; }

    /// <summary>How many bytes are held firmly; 0 turns the pool off (nothing is kept, not even weakly).</summary>
    public long CapacityBytes
    {
        get { lock (_lock) return _capacityBytes; }
        set
        {
            lock (_lock)
            {
                _capacityBytes = Math.Max(0, value);
                if (_capacityBytes == 0)
                {
                    _buckets.Clear();
                    _bytes = 0; _weakEntries = 0;
                }
                while (_bytes > _capacityBytes && Demote(except: null)) { }
            }
        }
    }

    public bool Enabled => Interlocked.Read(ref _capacityBytes) > 0;

    /// <summary>Bytes held firmly right now (for tests and diagnostics).</summary>
    public long HeldBytes { get { lock (_lock) return _bytes; } }

    /// <summary>A pooled array of exactly <paramref name="length"/> elements with unspecified contents, or null.</summary>
    public float[]? TryRent(int length)
    {
        if (length < MinLength) return null;
        lock (_lock)
        {
            if (_capacityBytes == 0) return null;
            if (!_buckets.TryGetValue(length, out var bucket)) _buckets[length] = bucket = new Bucket();
            // A miss still marks the size as wanted, so it is the last to be demoted.
            bucket.LastUse = ++_clock;
            if (bucket.Free.Count > 0)
            {
                _bytes -= 4L * length;
                return bucket.Free.Pop();
            }
            while (bucket.Weak.Count > 0)
            {
                var weak = bucket.Weak[^1];
                bucket.Weak.RemoveAt(bucket.Weak.Count - 1);
                _weakEntries--;
                if (weak.TryGetTarget(out var array)) return array;
            }
            return null;
        }
    }

    /// <summary>An array of exactly <paramref name="length"/> elements: pooled if one is free, fresh otherwise.</summary>
    public float[] Rent(int length, bool clear)
    {
        if (TryRent(length) is { } pooled)
        {
            if (clear) Clear(pooled);
            return pooled;
        }
        return clear ? new float[length] : GC.AllocateUninitializedArray<float>(length);
    }

    /// <summary>Gives an array back. The caller guarantees that nothing references it any more.</summary>
    public void Return(float[] array)
    {
        long size = 4L * array.Length;
        if (array.Length < MinLength) return;
        if (PoisonReturned) array.AsSpan().Fill(float.NaN);
        lock (_lock)
        {
            if (_capacityBytes == 0) return;
            if (!_buckets.TryGetValue(array.Length, out var bucket)) _buckets[array.Length] = bucket = new Bucket();
            bucket.LastUse = ++_clock;
            while (_bytes + size > _capacityBytes && Demote(except: bucket)) { }
            if (_bytes + size <= _capacityBytes)
            {
                bucket.Free.Push(array);
                _bytes += size;
            }
            else AddWeak(bucket, array); // only this size is held firmly: keep the warm ones, hold the newcomer weakly
        }
    }

    /// <summary>Moves one firmly held array of the least recently used other size to the weak part. Caller holds the lock.</summary>
    private bool Demote(Bucket? except)
    {
        Bucket? victim = null;
        foreach (var b in _buckets.Values)
            if (b != except && b.Free.Count > 0 && (victim is null || b.LastUse < victim.LastUse)) victim = b;
        if (victim is null) return false;
        var array = victim.Free.Pop();
        _bytes -= 4L * array.Length;
        AddWeak(victim, array);
        return true;
    }

    private void AddWeak(Bucket bucket, float[] array)
    {
        bucket.Weak.Add(new WeakReference<float[]>(array));
        if (++_weakEntries < _weakSweepAt) return;
        // Forget entries the GC has collected (sizes nobody asks for again would otherwise pile up handles).
        _weakEntries = 0;
        foreach (var b in _buckets.Values)
        {
            b.Weak.RemoveAll(w => !w.TryGetTarget(out _));
            _weakEntries += b.Weak.Count;
        }
        _weakSweepAt = Math.Max(1024, 2 * _weakEntries);
    }

    /// <summary>Zeroes an array, in parallel blocks when it is large (a cleared pooled array is cheaper than fresh pages).</summary>
    public static void Clear(float[] array) =>
        Kernels.Parallelism.ForRange(array.Length, (s, n) => array.AsSpan(s, n).Clear());
}

/// <summary>
/// The ambient allocator of one forward pass on its thread: <see cref="Tensor.Uninitialized"/> and
/// <see cref="Tensor.Zeros"/> consult it while ForwardPass.Run executes ops (ops allocate their outputs on the calling
/// thread; allocations on worker threads bypass it). It remembers which arrays it handed out that became node outputs:
/// only those are the pass's own and may ever go back to the pool, so constants, feeds, and tensors an op passes
/// through from elsewhere (Identity on a weight) can never be recycled.
/// </summary>
internal sealed class BufferScope(BufferPool pool)
{
    [ThreadStatic] private static BufferScope? _current;

    private readonly List<float[]> _pending = [];
    private readonly HashSet<float[]> _owned = new(ReferenceEqualityComparer.Instance);

    public BufferPool Pool => pool;

    internal static BufferScope? Current => _current;

    /// <summary>
    /// Makes <paramref name="scope"/> the thread's allocator (null: plain allocation, also inside an outer pass);
    /// dispose the result to restore the previous one.
    /// </summary>
    public static Activation Enter(BufferScope? scope) => new(scope);

    internal readonly struct Activation : IDisposable
    {
        private readonly BufferScope? _previous;
        public Activation(BufferScope? scope) { _previous = _current; _current = scope; }
        public void Dispose() => _current = _previous;
    }

    public float[] Rent(int length, bool clear)
    {
        var array = pool.Rent(length, clear);
        if (array.Length >= BufferPool.MinLength) _pending.Add(array);
        return array;
    }

    /// <summary>
    /// After a node: the arrays rented since the last call that back one of <paramref name="produced"/> become the pass's
    /// own; the rest (scratch, or state an op saved) are forgotten and left to the GC.
    /// </summary>
    public void Adopt(IEnumerable<Tensor?> produced)
    {
        if (_pending.Count == 0) return;
        foreach (var t in produced)
            if (t is { IsInteger: false } && _pending.Contains(t.Data, ReferenceEqualityComparer.Instance)) _owned.Add(t.Data);
        _pending.Clear();
    }

    public bool Owns(float[] array) => _owned.Contains(array);

    /// <summary>Returns an owned array to the pool, once. The caller guarantees nothing live references it.</summary>
    public bool Recycle(float[] array)
    {
        if (!_owned.Remove(array)) return false;
        pool.Return(array);
        return true;
    }
}
