using System.Net;
using System.Net.Sockets;
using Orleans.Runtime;
using OrleansCompute.Data;
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

/// <summary>
/// The stranded rule (<see cref="DeadSiloEviction.IsStranded"/>): a suspect that answers is cut off
/// from the store only if it says so for itself and the store answered the evicting silo all along.
/// </summary>
public class StrandedSiloTests
{
    private static readonly SiloAddress Suspect = SiloAddress.New(new IPEndPoint(IPAddress.Parse("10.0.0.1"), 11111), 100);
    private static readonly TimeSpan FailingFor = TimeSpan.FromSeconds(3);

    private static SiloLeaseReport Report(SiloAddress silo, bool valid) => new(silo.ToParsableString(), valid, FailingFor);

    [Fact]
    public void A_suspect_whose_lease_is_not_valid_while_ours_held_longer_is_stranded()
    {
        Assert.True(DeadSiloEviction.IsStranded(Suspect, Report(Suspect, valid: false), heldFor: FailingFor + TimeSpan.FromSeconds(1)));
    }

    [Fact]
    public void A_suspect_that_renewed_while_asked_is_not_stranded()
    {
        // It woke from a pause: its lease is valid again by the time it answers.
        Assert.False(DeadSiloEviction.IsStranded(Suspect, Report(Suspect, valid: true), heldFor: TimeSpan.FromMinutes(1)));
    }

    [Fact]
    public void Our_own_lease_broken_during_the_suspects_failures_proves_nothing()
    {
        // After a store outage every silo failed to renew: the evicting silo's lease is younger than the suspect's failures.
        Assert.False(DeadSiloEviction.IsStranded(Suspect, Report(Suspect, valid: false), heldFor: FailingFor - TimeSpan.FromSeconds(1)));
        Assert.False(DeadSiloEviction.IsStranded(Suspect, Report(Suspect, valid: false), heldFor: TimeSpan.Zero));
    }

    [Fact]
    public void An_answer_from_another_silo_says_nothing_about_the_suspect()
    {
        // The grain landed elsewhere because the suspect was not known where it was placed.
        var other = SiloAddress.New(new IPEndPoint(IPAddress.Parse("10.0.0.2"), 11111), 100);
        Assert.False(DeadSiloEviction.IsStranded(Suspect, Report(other, valid: false), heldFor: TimeSpan.FromMinutes(1)));
    }
}

/// <summary>
/// The second half of the lapsed rule (<see cref="DeadSiloEviction.AcceptsConnectionAsync"/>): a listening
/// socket accepts even when nobody calls accept, and a closed port or silence does not.
/// </summary>
public class SiloEndpointReachabilityTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(1);

    [Fact]
    public async Task A_listening_socket_accepts_even_while_its_process_never_calls_accept()
    {
        using var listener = Listen(backlog: 16);
        Assert.True(await DeadSiloEviction.AcceptsConnectionAsync((IPEndPoint)listener.LocalEndPoint!, Timeout, CancellationToken.None));
    }

    [Fact]
    public async Task A_port_nothing_listens_on_is_no_connection()
    {
        IPEndPoint closed;
        using (var listener = Listen(backlog: 1))
        {
            closed = (IPEndPoint)listener.LocalEndPoint!;
        }

        Assert.False(await DeadSiloEviction.AcceptsConnectionAsync(closed, Timeout, CancellationToken.None));
    }

    [Fact]
    public async Task Silence_is_no_connection_once_the_timeout_passes()
    {
        // A full accept queue makes the kernel drop new handshakes unanswered, as a cut network does.
        using var listener = Listen(backlog: 0);
        var endpoint = (IPEndPoint)listener.LocalEndPoint!;
        var fillers = new List<Socket>();
        try
        {
            while (fillers.Count < 16 && await TryConnectAsync(endpoint) is { } filler)
            {
                fillers.Add(filler);
            }

            Assert.True(fillers.Count < 16, "the accept queue never filled");
            var started = System.Diagnostics.Stopwatch.StartNew();
            Assert.False(await DeadSiloEviction.AcceptsConnectionAsync(endpoint, Timeout, CancellationToken.None));
            Assert.True(started.Elapsed >= Timeout * 0.9, $"answered after {started.Elapsed}, before the timeout: not silence");
        }
        finally
        {
            fillers.ForEach(s => s.Dispose());
        }
    }

    private static Socket Listen(int backlog)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        socket.Listen(backlog);
        return socket;
    }

    // A connection kept open, so it holds its place in the accept queue; null once one is not answered.
    private static async Task<Socket?> TryConnectAsync(IPEndPoint endpoint)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        using var timeout = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        try
        {
            await socket.ConnectAsync(endpoint, timeout.Token);
            return socket;
        }
        catch (OperationCanceledException)
        {
            socket.Dispose();
            return null;
        }
    }
}

/// <summary>How many silos must find a peer unreachable before it is declared cut off (<see cref="DeadSiloEviction.IsMajority"/>).</summary>
public class CutOffMajorityTests
{
    [Theory]
    [InlineData(1, 2, false)] // one silo of two never declares the other dead
    [InlineData(2, 3, true)]
    [InlineData(1, 3, false)]
    [InlineData(2, 4, false)]
    [InlineData(3, 4, true)]
    [InlineData(3, 5, true)]
    public void A_peer_is_cut_off_only_when_a_majority_of_the_cluster_cannot_reach_it(int votes, int clusterSize, bool majority)
    {
        Assert.Equal(majority, DeadSiloEviction.IsMajority(votes, clusterSize));
    }
}

/// <summary>When a silo that answers nothing is proven stopped, not busy (<see cref="DeadSiloEviction.IsUnresponsive"/>).</summary>
public class UnresponsiveSiloTests
{
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(2);

    [Fact]
    public void A_silo_seen_lapsed_for_a_lease_while_this_one_held_its_own_is_unresponsive() =>
        Assert.True(DeadSiloEviction.IsUnresponsive(TimeSpan.FromSeconds(2.5), TimeSpan.FromSeconds(30), Lease));

    [Fact]
    public void A_silo_seen_lapsed_for_less_than_a_lease_is_given_more_time() =>
        Assert.False(DeadSiloEviction.IsUnresponsive(TimeSpan.FromSeconds(1.5), TimeSpan.FromSeconds(30), Lease));

    [Fact]
    public void A_silo_just_seen_lapsed_is_asked_until_it_has_been_lapsed_for_a_lease()
    {
        // One question decides: had it ended at 1.5 s, rule (e) would have needed a second one.
        var timeout = DeadSiloEviction.QuestionTimeout(TimeSpan.Zero, Lease);
        Assert.True(DeadSiloEviction.IsUnresponsive(timeout, TimeSpan.FromSeconds(30), Lease));
        Assert.True(timeout < Lease + TimeSpan.FromSeconds(0.1), $"asked {timeout} for a lease of {Lease}");
    }

    [Fact]
    public void A_silo_lapsed_for_a_while_is_still_given_the_whole_report_timeout() =>
        Assert.Equal(DeadSiloEviction.ReportTimeout, DeadSiloEviction.QuestionTimeout(TimeSpan.FromSeconds(1.8), Lease));

    [Fact]
    public void Nothing_is_proven_when_this_silo_lost_its_own_lease_meanwhile() =>
        // After a store outage every lease lapsed, and this silo's own has held only since it came back.
        Assert.False(DeadSiloEviction.IsUnresponsive(TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(3), Lease));
}
