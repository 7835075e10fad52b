// profiles/compute: the Flow View (aligned 1-D UMAP per layer, histograms, fingerprints, divergence).
using AdvVis.Service.Daemon;
using AdvVis.Service.Protocol;

namespace AdvVis.Service.Handlers;

internal static class ProfilesHandlers
{
    public static void Register(Registrar r) =>
        r.Add<ProfilesComputeParams, ProfilesComputeResult>("profiles/compute", (p, _) =>
        {
            r.State.Models.Get(p.Model);
            throw Common.NotImplemented("profiles/compute", Pending.Profiles);
        });
}
