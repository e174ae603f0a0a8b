namespace Orleans.Search.Cluster;

public static class SiloLiveness
{
    /// <summary>Whether the cluster has declared <paramref name="silo"/> dead (an unknown holder, null, is never dead).</summary>
    public static bool HasDeclaredDead(this ClusterMembershipSnapshot members, SiloAddress? silo) =>
        silo is not null && members.GetSiloStatus(silo) == SiloStatus.Dead;
}
