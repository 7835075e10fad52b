// explain/run: the one-image pipeline (attack, per-layer divergence, diverging point) over AdvVis.Attacks.
using AdvVis.Service.Daemon;
using AdvVis.Service.Protocol;

namespace AdvVis.Service.Handlers;

internal static class ExplainHandlers
{
    public static void Register(Registrar r) =>
        r.Add<ExplainRunParams, ExplainRunResult>("explain/run", (p, _) =>
        {
            r.State.Models.Get(p.Model);
            throw Common.NotImplemented("explain/run", Pending.Attacks);
        });
}
