// attack/run: thin handler over AdvVis.Attacks.
using AdvVis.Service.Daemon;
using AdvVis.Service.Protocol;

namespace AdvVis.Service.Handlers;

internal static class AttackHandlers
{
    public static void Register(Registrar r) =>
        r.Add<AttackRunParams, AttackRunResult>("attack/run", (p, _) =>
        {
            r.State.Models.Get(p.Model);
            throw Common.NotImplemented("attack/run", Pending.Attacks);
        });
}
