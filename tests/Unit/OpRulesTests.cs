using System.Text.Json;
using OrleansCompute.Api.Data;

namespace OrleansCompute.Tests.Unit;

/// <summary>Batch and txn operations share one set of rules: each case names the field it blames.</summary>
public class OpRulesTests
{
    private static readonly KeyValueLimits Limits = new() { MaxValueBytes = 16 };

    private static JsonElement Value(string json) => JsonDocument.Parse(json).RootElement.Clone();

    [Theory]
    [InlineData("get", "k", null, true, "get", null)]
    [InlineData("delete", "k", null, true, "delete", null)]
    [InlineData("put", "k", "null", true, "put", null)]
    [InlineData("add", "k", "2.5", true, "add", null)]
    [InlineData("get", "k", "1", true, null, "ops[0].value")]
    [InlineData("put", "k", null, true, null, "ops[0].value")]
    [InlineData("put", "k", "\"far more than sixteen bytes\"", true, null, "ops[0].value")]
    [InlineData("add", "k", "\"x\"", true, null, "ops[0].value")]
    [InlineData("add", "k", "1", false, null, "ops[0].op")]
    [InlineData("rename", "k", null, true, null, "ops[0].op")]
    [InlineData("get", "", null, true, null, "ops[0].key")]
    public void Each_rule_accepts_or_names_its_field(string op, string key, string? value, bool allowAdd, string? kind, string? blamed)
    {
        var errors = new Dictionary<string, string[]>();
        var parsed = OpRules.Check(op, key, value is null ? default : Value(value), "ops[0]", allowAdd, Limits, errors);

        Assert.Equal(kind, parsed?.Kind.ToString().ToLowerInvariant());
        if (blamed is null)
        {
            Assert.Empty(errors);
        }
        else
        {
            Assert.Equal([blamed], errors.Keys);
        }
    }

    [Fact]
    public void A_put_carries_the_values_json_bytes()
    {
        var parsed = OpRules.Check("put", "k", Value("""{"a": 1}"""), "success[0]", allowAdd: true, Limits, []);

        Assert.Equal("""{"a":1}""", System.Text.Encoding.UTF8.GetString(parsed!.Value.Value!));
    }
}
