using OrleansCompute.Grains.Transactions;
using static OrleansCompute.Grains.Transactions.TransactionalKeyIndexGrain;

namespace OrleansCompute.Tests.Unit;

public class SortedKeysTests
{
    [Fact]
    public void Apply_keeps_code_point_order_and_no_duplicates()
    {
        var keys = new List<string>();
        SortedKeys.Apply(keys, ["b", "a", "\U0001F600", "\uFFFD", "a"], []);
        SortedKeys.Apply(keys, ["c"], ["b", "missing"]);

        // U+FFFD sorts before U+1F600 in code point order, though not in UTF-16 ordinal order.
        Assert.Equal(["a", "c", "\uFFFD", "\U0001F600"], keys);
    }

    [Theory]
    [InlineData("", null, 10, "a,ab,b,ba,c", false)]
    [InlineData("b", null, 10, "b,ba", false)]
    [InlineData("", "ab", 2, "b,ba", true)]
    [InlineData("a", "a", 10, "ab", false)]
    [InlineData("b", "a", 1, "b", true)]
    [InlineData("z", null, 10, "", false)]
    public void Page_lists_matches_after_the_cursor(string prefix, string? after, int limit, string expected, bool more)
    {
        var page = SortedKeys.Page(["a", "ab", "b", "ba", "c"], prefix, after, limit);

        Assert.Equal(expected, string.Join(',', page.Keys));
        Assert.Equal(more, page.More);
    }

    [Fact]
    public void SplitIfOver_leaves_small_lists_alone_and_cuts_big_ones_into_half_size_runs()
    {
        var small = new List<string> { "a", "b", "c", "d" };
        Assert.Empty(SortedKeys.SplitIfOver(small, maxKeys: 4));
        Assert.Equal(4, small.Count);

        var big = Enumerable.Range(0, 11).Select(i => $"k{i:D2}").ToList();
        var runs = SortedKeys.SplitIfOver(big, maxKeys: 4);

        Assert.Equal(["k00", "k01"], big);
        Assert.Equal([["k02", "k03"], ["k04", "k05"], ["k06", "k07"], ["k08", "k09"], ["k10"]], runs);
    }

    [Theory]
    [InlineData("", 0)]
    [InlineData("a", 0)]
    [InlineData("m", 1)]
    [InlineData("ma", 1)]
    [InlineData("t", 2)]
    [InlineData("zz", 2)]
    public void LeafOf_finds_the_leaf_whose_range_holds_the_key(string key, int expected)
    {
        List<LeafStart> leaves = [new("", 0), new("m", 7), new("t", 3)];

        Assert.Equal(expected, LeafOf(leaves, key));
    }
}
