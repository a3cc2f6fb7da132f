using OrleansCompute.Grains.Transactions.Storage;

namespace OrleansCompute.Tests.Unit;

/// <summary>
/// What a transactional key answers for the revision of one of its changes: known, not yet
/// logged (null), or none (0), and how a wait for a late one ends.
/// </summary>
public class KeyLogWatermarkTests
{
    [Fact]
    public void A_change_is_unknown_until_logged_then_answers_its_revision()
    {
        var watermark = new KeyLogWatermark().Tracked();
        watermark.Logged(2, [(1, 10), (2, 11)]);

        Assert.Equal(11, watermark.RevisionOf(2));
        Assert.Null(watermark.RevisionOf(3));

        watermark.Logged(3, [(3, 14)]);
        Assert.Equal(14, watermark.RevisionOf(3));
        Assert.Equal(10, watermark.RevisionOf(1));
    }

    [Fact]
    public void A_logged_change_whose_revision_is_not_held_answers_none_never_another_changes()
    {
        var watermark = new KeyLogWatermark().Tracked();
        // Loaded from a row: only its committed state's last change has a known revision.
        watermark.Logged(5, [(5, 40)]);
        Assert.Equal(0, watermark.RevisionOf(4));

        // Past the window, the oldest revisions are dropped: none, not a neighbour's.
        watermark.Logged(5 + KeyLogWatermark.Window, Enumerable.Range(6, KeyLogWatermark.Window).Select(n => ((long)n, 40L + n - 5)));
        Assert.Equal(0, watermark.RevisionOf(5));
        Assert.Equal(41, watermark.RevisionOf(6));
    }

    [Fact]
    public void Without_a_storage_that_logs_every_change_answers_none()
    {
        var watermark = new KeyLogWatermark();
        Assert.Equal(0, watermark.RevisionOf(1));
        Assert.Equal(0, new KeyLogWatermark().Tracked().RevisionOf(0));
    }

    [Fact]
    public async Task A_wait_answers_the_revision_once_the_change_is_logged()
    {
        var watermark = new KeyLogWatermark().Tracked();
        watermark.Logged(1, [(1, 7)]);

        var waiting = watermark.RevisionOfAsync(2, TimeSpan.FromMinutes(1));
        Assert.False(waiting.IsCompleted);
        watermark.Logged(1, []); // a Store that logged nothing of it: still waiting
        Assert.False(waiting.IsCompleted);
        watermark.Logged(2, [(2, 9)]);

        Assert.Equal(9, await waiting);
    }

    [Fact]
    public async Task A_spent_wait_answers_none_for_a_change_not_yet_logged_and_the_revision_for_one_logged()
    {
        var watermark = new KeyLogWatermark().Tracked();
        watermark.Logged(1, [(1, 7)]);

        // The coordinator passes no wait when the request's deadline leaves none.
        Assert.Equal(0, await watermark.RevisionOfAsync(2, TimeSpan.Zero));
        Assert.Equal(7, await watermark.RevisionOfAsync(1, TimeSpan.Zero));
        Assert.Equal(0, await watermark.RevisionOfAsync(2, TimeSpan.FromSeconds(-1)));
    }
}
