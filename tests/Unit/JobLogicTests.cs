using System.Text.Json;
using OrleansCompute.Grains.Jobs;
using OrleansCompute.Grains.Jobs.Kinds;
using OrleansCompute.Jobs;

namespace OrleansCompute.Tests.Unit;

/// <summary>The pure parts of the job engine: input schemas, the kinds' arithmetic, spec hashing and cron times.</summary>
public class JobLogicTests
{
    private static JsonElement Parse(string json) => JsonDocument.Parse(json).RootElement;

    [Theory]
    [InlineData(0, 100, 25)]
    [InlineData(1, 1, 0)]
    [InlineData(2, 2, 1)]
    [InlineData(1, 1_000_000, 78_498)]
    [InlineData(999_000, 1_000_000, 65)]
    [InlineData(1_000_000_000, 1_000_100_000, 4_832)]
    public void Primes_counts_by_segmented_sieve(long from, long to, long expected) =>
        Assert.Equal(expected, PrimesKind.Count(from, to, CancellationToken.None));

    [Fact]
    public async Task Primes_plans_chunks_that_cover_the_range_exactly_once()
    {
        var plan = await new PrimesKind().PlanAsync(Parse("""{"from": 5, "to": 2504, "chunkSize": 1000}"""), new PlanContext("t", null!), default);

        Assert.Equal([(5L, 1004L), (1005L, 2004L), (2005L, 2504L)], plan.Select(t => (t.Input!["from"]!.GetValue<long>(), t.Input["to"]!.GetValue<long>())));
    }

    [Fact]
    public void Schema_names_every_bad_field()
    {
        var schema = new PrimesKind().Schema;

        var errors = schema.Validate(Parse("""{"from": 1.5, "chunkSize": 10, "extra": true}"""));

        Assert.Equal(
            ["input.chunkSize", "input.extra", "input.from", "input.to"],
            errors.Select(e => e.Field).Order(StringComparer.Ordinal));
        Assert.Empty(schema.Validate(Parse("""{"from": 1, "to": 2}""")));
        Assert.Equal("input", Assert.Single(schema.Validate(Parse("[]"))).Field);
    }

    [Fact]
    public void Published_schema_is_json_schema_of_the_same_rules()
    {
        var json = new SleepKind().Schema.ToJsonSchema();

        Assert.Equal("object", json["type"]!.GetValue<string>());
        Assert.False(json["additionalProperties"]!.GetValue<bool>());
        Assert.Equal(0, json["properties"]!["failAttempts"]!["minimum"]!.GetValue<double>());
    }

    [Fact]
    public void Words_are_letters_and_digits_case_folded()
    {
        var counts = new Dictionary<string, long>();

        WordCountKind.CountWords("Hello, hello WORLD-42 ünïcode", counts);

        Assert.Equal(new Dictionary<string, long> { ["hello"] = 2, ["world"] = 1, ["42"] = 1, ["ünïcode"] = 1 }, counts);
    }

    [Fact]
    public void Spec_hash_ignores_whitespace_and_key_order_of_the_input_but_not_values()
    {
        var spec = new JobSpec("primes", """{"from": 1, "to": 2}""", 3, 1, 60, 16, 0, null, []);

        Assert.Equal(JobDocuments.Hash(spec), JobDocuments.Hash(spec with { Input = """{ "to":2,"from":1 }""" }));
        Assert.NotEqual(JobDocuments.Hash(spec), JobDocuments.Hash(spec with { Input = """{"from": 1, "to": 3}""" }));
        Assert.NotEqual(JobDocuments.Hash(spec), JobDocuments.Hash(spec with { Priority = 1 }));
    }

    [Theory]
    [InlineData("0 9 * * *", true)]
    [InlineData("*/10 * * * * *", true)]
    [InlineData("0 9 * *", false)]
    [InlineData("0 25 * * *", false)]
    [InlineData("every day", false)]
    public void Cron_takes_five_fields_or_six_with_seconds(string cron, bool valid) =>
        Assert.Equal(valid, ScheduleTimes.ParseCron(cron) is not null);

    [Fact]
    public void Cron_occurrences_follow_the_time_zone_across_daylight_saving()
    {
        var spec = new ScheduleSpec("0 9 * * *", "Europe/Paris", new JobSpec("sleep", "{}", 1, 0, 1, 1, 0, null, []));

        // 09:00 in Paris is 08:00 UTC in winter and 07:00 UTC in summer (DST began 2026-03-29).
        var beforeChange = ScheduleTimes.Next(spec, new DateTimeOffset(2026, 3, 28, 12, 0, 0, TimeSpan.Zero));
        var afterChange = ScheduleTimes.Next(spec, beforeChange!.Value);

        Assert.Equal(new DateTimeOffset(2026, 3, 29, 7, 0, 0, TimeSpan.Zero), beforeChange);
        Assert.Equal(new DateTimeOffset(2026, 3, 30, 7, 0, 0, TimeSpan.Zero), afterChange);
        Assert.Equal(new DateTimeOffset(2026, 3, 28, 8, 0, 0, TimeSpan.Zero),
            ScheduleTimes.Next(spec, new DateTimeOffset(2026, 3, 27, 12, 0, 0, TimeSpan.Zero)));
    }

    [Fact]
    public void A_schedule_that_was_down_fires_only_the_latest_missed_occurrence()
    {
        var spec = new ScheduleSpec("0 * * * *", "UTC", new JobSpec("sleep", "{}", 1, 0, 1, 1, 0, null, []));
        var downSince = new DateTimeOffset(2026, 11, 25, 10, 30, 0, TimeSpan.Zero);

        Assert.Equal(new DateTimeOffset(2026, 11, 25, 13, 0, 0, TimeSpan.Zero),
            ScheduleTimes.LatestBetween(spec, downSince, downSince.AddHours(3).AddMinutes(5)));
        Assert.Null(ScheduleTimes.LatestBetween(spec, downSince, downSince.AddMinutes(20)));
    }

    [Theory]
    [InlineData("01a2145217602852417a", true)]
    [InlineData("01A2145217602852417a", false)]
    [InlineData("01a2145217602852417", false)]
    [InlineData("../../etc/passwd0000", false)]
    public void Job_ids_are_twenty_lowercase_hex_digits(string id, bool valid) => Assert.Equal(valid, JobIds.IsValid(id));
}
