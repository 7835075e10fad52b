// workspace/configure: the cache and export folders the daemon may write, the cache bound, the inline limit.
using AdvVis.Service.Daemon;
using AdvVis.Service.Protocol;

namespace AdvVis.Service.Handlers;

internal static class WorkspaceHandlers
{
    public static void Register(Registrar r) =>
        r.Add<WorkspaceConfigureParams, WorkspaceConfigureResult>("workspace/configure", (p, _) =>
        {
            r.State.Configure(p);
            r.State.Cache.Evict();
            return r.State.Describe();
        });
}
