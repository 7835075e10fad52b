// ArrivalOrderScheduler: the reader/writer ordering of requests. It is deliberately a dependency chain rather than a
// lock, because ordering must follow *arrival* order, which a lock acquired later on a thread-pool thread cannot
// guarantee:
//   - a read-only call waits for the most recent mutating call that arrived before it, then runs concurrently
//     with every other read-only call;
//   - a mutating call waits for the previous mutating call and for every read-only call that arrived since, so it
//     runs alone and mutations run one at a time in arrival order.
// Only the endpoint's receive loop calls Schedule, so the bookkeeping needs no locking.
namespace AdvVis.Service.JsonRpc;

internal sealed class ArrivalOrderScheduler
{
    /// <summary>Completed read-only tasks are pruned past this count so a read-only-only session does not grow the list.</summary>
    private const int PruneThreshold = 128;

    private Task _lastMutation = Task.CompletedTask;
    private readonly List<Task> _readsSinceLastMutation = new();

    /// <summary>
    /// Starts <paramref name="run"/> on the thread pool with the task it must await before touching state (the gate).
    /// The returned task must not complete before its gate does (even when the call is cancelled while queued),
    /// otherwise later calls would overtake earlier ones. <paramref name="run"/> must not throw.
    /// </summary>
    public Task Schedule(bool mutates, Func<Task, Task> run)
    {
        if (!mutates)
        {
            Task gate = _lastMutation;
            Task read = Task.Run(() => run(gate));
            if (_readsSinceLastMutation.Count >= PruneThreshold)
            {
                _readsSinceLastMutation.RemoveAll(task => task.IsCompleted);
            }

            _readsSinceLastMutation.Add(read);
            return read;
        }

        Task mutationGate = _readsSinceLastMutation.Count == 0
            ? _lastMutation
            : Task.WhenAll(_readsSinceLastMutation.Append(_lastMutation));
        Task mutation = Task.Run(() => run(mutationGate));
        _lastMutation = mutation;
        _readsSinceLastMutation.Clear();
        return mutation;
    }

    /// <summary>True when a read-only call arriving now would not wait: every mutating call so far has finished.</summary>
    public bool NoMutationPending => _lastMutation.IsCompleted;

    /// <summary>Completes when everything scheduled so far has finished.</summary>
    public Task WhenAllSettled() => Task.WhenAll(_readsSinceLastMutation.Append(_lastMutation));
}
