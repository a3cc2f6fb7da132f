using OrleansCompute.Api;

namespace OrleansCompute.Tests.Unit;

public class PagingTests
{
    [Fact]
    public void Defaults_to_one_hundred()
    {
        var (limit, after, errors) = Paging.Parse(null, null);

        Assert.Equal((100, null, null), (limit, after, errors));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(1001)]
    public void Rejects_limits_out_of_range(int limit)
    {
        var (_, _, errors) = Paging.Parse(limit, null);

        Assert.NotNull(errors);
        Assert.Contains("limit", errors.Keys);
    }

    [Fact]
    public void Cursor_round_trips()
    {
        var cursor = Paging.Encode("orders");

        var (_, after, errors) = Paging.Parse(10, cursor);

        Assert.Null(errors);
        Assert.Equal("orders", after);
    }

    [Theory]
    [InlineData("***")]
    [InlineData("not base64!")]
    public void Rejects_cursors_it_did_not_make(string cursor)
    {
        var (_, _, errors) = Paging.Parse(10, cursor);

        Assert.NotNull(errors);
        Assert.Contains("after", errors.Keys);
    }
}

public class NamePageTests
{
    [Fact]
    public void Pages_names_in_ordinal_order_with_the_last_name_as_cursor()
    {
        var names = new[] { "b", "a", "B", "c", "a" };

        var first = OrleansCompute.Data.NamePage.Of(names, null, 2);
        var second = OrleansCompute.Data.NamePage.Of(names, first.Next, 2);

        Assert.Equal(["B", "a"], first.Items);
        Assert.Equal("a", first.Next);
        Assert.Equal(["b", "c"], second.Items);
        Assert.Null(second.Next);
    }
}
