using OrleansCompute.Data;

namespace OrleansCompute.Tests.Unit;

public class TableNamesTests
{
    [Theory]
    [InlineData("a")]
    [InlineData("orders")]
    [InlineData("0rders_2024-eu")]
    [InlineData("abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijk")] // 63
    public void Accepts_names_of_the_rule(string name) => Assert.True(TableNames.IsValid(name));

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("Orders")]
    [InlineData("_orders")]
    [InlineData("-orders")]
    [InlineData("orders!")]
    [InlineData("or ders")]
    [InlineData("orders\n")]
    [InlineData("ördérs")]
    [InlineData("abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijkl")] // 64
    public void Rejects_everything_else(string? name) => Assert.False(TableNames.IsValid(name));
}
