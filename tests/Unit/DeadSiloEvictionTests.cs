using System.Net;
using Orleans.Runtime;
using OrleansCompute.Grains.Data;
using OrleansCompute.Grains.Data.Storage;

namespace OrleansCompute.Tests.Unit;

/// <summary>Which silos the store's leases prove dead (<see cref="DeadSiloEviction.Suspects"/>).</summary>
public class DeadSiloEvictionTests
{
    private static readonly IPEndPoint Endpoint = new(IPAddress.Parse("10.0.0.1"), 11111);
    private static readonly SiloAddress Old = SiloAddress.New(Endpoint, 100);
    private static readonly SiloAddress New = SiloAddress.New(Endpoint, 200);
    private static readonly SiloAddress Other = SiloAddress.New(new IPEndPoint(IPAddress.Parse("10.0.0.2"), 11111), 100);

    private static SiloLeaseState Lease(SiloAddress silo, bool lapsed) => new(silo.ToParsableString(), lapsed);

    [Fact]
    public void A_newer_generation_at_the_same_endpoint_with_a_live_lease_supersedes_the_older()
    {
        var suspects = DeadSiloEviction.Suspects([Old, Other], [Lease(Old, lapsed: false), Lease(New, lapsed: false), Lease(Other, lapsed: false)]);
        Assert.Equal([(Old, EvictionReason.Superseded)], suspects);
    }

    [Fact]
    public void A_newer_generation_whose_lease_lapsed_proves_nothing()
    {
        Assert.Empty(DeadSiloEviction.Suspects([Old], [Lease(Old, lapsed: false), Lease(New, lapsed: true)]));
    }

    [Fact]
    public void A_silo_whose_own_lease_lapsed_is_a_suspect_to_confirm()
    {
        var suspects = DeadSiloEviction.Suspects([Old, Other], [Lease(Old, lapsed: true), Lease(Other, lapsed: false)]);
        Assert.Equal([(Old, EvictionReason.Lapsed)], suspects);
    }

    [Fact]
    public void A_silo_with_a_live_lease_or_no_lease_row_is_no_suspect()
    {
        Assert.Empty(DeadSiloEviction.Suspects([Old, Other], [Lease(Old, lapsed: false), new SiloLeaseState("not a silo address", true)]));
    }

    [Fact]
    public void The_lease_of_an_older_generation_says_nothing_about_the_newer()
    {
        Assert.Empty(DeadSiloEviction.Suspects([New], [Lease(Old, lapsed: true), Lease(New, lapsed: false)]));
    }
}
