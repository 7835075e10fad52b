// attribution/graph: MASSIF/Bluff attribution graphs over AdvVis.Analysis.Attribution (needs adversarial images from AdvVis.Attacks).
using AdvVis.Service.Daemon;
using AdvVis.Service.Protocol;

namespace AdvVis.Service.Handlers;

internal static class AttributionHandlers
{
    public static void Register(Registrar r) =>
        r.Add<AttributionGraphParams, AttributionGraphResult>("attribution/graph", (p, _) =>
        {
            r.State.Models.Get(p.Model);
            throw Common.NotImplemented("attribution/graph", Pending.Attacks);
        });
}
