using System.Diagnostics;
using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using OrleansCompute.Api.Security;
using OrleansCompute.Tests.Infrastructure;
using Xunit.Abstractions;

namespace OrleansCompute.Tests.Observability;

/// <summary>
/// What an operator scrapes and reads (docs/observability.md), checked on a real Api and silo
/// against PostgreSQL: <c>promtool check metrics</c> is clean on both, every alert rule and
/// dashboard query names only metrics that are really exported, and the JSON logs carry trace ids
/// and no secrets or values. promtool comes from Debian's <c>prometheus</c> package, which
/// tests/run.sh installs.
/// </summary>
public sealed partial class ObservabilityTests(ObservedCluster cluster, ITestOutputHelper output) : IClassFixture<ObservedCluster>
{
    private static readonly string AlertRules = Path.Combine(Repository.Root, "deploy", "observability", "alerts.yml");
    private static readonly string Dashboard = Path.Combine(Repository.Root, "deploy", "observability", "grafana-dashboard.json");

    // Series Prometheus itself makes for every target; no product exports them.
    private static readonly HashSet<string> MadeByPrometheus = ["up", "scrape_duration_seconds", "scrape_samples_scraped"];

    private static readonly HashSet<string> PromQlWords =
    [
        "sum", "min", "max", "avg", "count", "stddev", "stdvar", "topk", "bottomk", "quantile", "count_values", "group",
        "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless", "offset",
        "rate", "irate", "increase", "delta", "idelta", "deriv", "histogram_quantile", "abs", "absent", "clamp_min", "clamp_max",
        "sum_over_time", "avg_over_time", "max_over_time", "min_over_time", "changes", "resets", "label_replace", "vector", "scalar", "time",
        "e", "inf", "nan",
    ];

    [Fact]
    public async Task Api_and_silo_metrics_pass_promtool()
    {
        foreach (var (name, scrape) in new[] { ("api", await cluster.ScrapeApiAsync()), ("silo", await cluster.ScrapeSiloAsync()) })
        {
            var (code, text) = await PromtoolAsync(["check", "metrics"], scrape);
            output.WriteLine($"{name}: {ObservedCluster.Families(scrape).Count} families, promtool exit {code}\n{text}");
            Assert.True(code == 0 && text.Trim().Length == 0, $"promtool check metrics on the {name}'s /metrics:\n{text}");
        }
    }

    [Fact]
    public void Every_metric_family_the_docs_promise_is_exported()
    {
        Assert.All(ObservedCluster.ApiFamilies, family => Assert.Contains(family, ObservedCluster.Families(cluster.ApiScrape)));
        Assert.All(ObservedCluster.SiloFamilies, family => Assert.Contains(family, ObservedCluster.Families(cluster.SiloScrape)));

        // docs/observability.md lists every family of ours; each listed one is real.
        var documented = File.ReadAllText(Path.Combine(Repository.Root, "docs", "observability.md"));
        var ours = ObservedCluster.Families(cluster.ApiScrape).Concat(ObservedCluster.Families(cluster.SiloScrape)).Where(f => f.StartsWith("oc_", StringComparison.Ordinal)).Distinct();
        Assert.All(ours, family => Assert.Contains($"`{family}", documented));
    }

    [Fact]
    public async Task Metrics_labels_carry_no_keys_or_values()
    {
        foreach (var scrape in new[] { await cluster.ScrapeApiAsync(), await cluster.ScrapeSiloAsync() })
        {
            Assert.DoesNotContain(ObservedCluster.SecretKey, scrape);
            Assert.DoesNotContain(ObservedCluster.SecretValue, scrape);
            Assert.DoesNotContain(ObservedCluster.DatabasePassword, scrape);
        }
    }

    [Fact]
    public async Task Metrics_port_moves_metrics_off_the_public_port()
    {
        using var http = cluster.Client(null);
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("/metrics")).StatusCode);
        Assert.Contains("# TYPE oc_kv_requests_total counter", await cluster.ScrapeApiAsync());
    }

    [Fact]
    public async Task Alert_rules_pass_promtool()
    {
        var (code, text) = await PromtoolAsync(["check", "rules", AlertRules], stdin: null);
        output.WriteLine(text);
        Assert.True(code == 0, $"promtool check rules {AlertRules}:\n{text}");
        Assert.Matches(@"SUCCESS: \d+ rules found", text);
    }

    [Fact]
    public void Alert_rules_and_dashboard_name_only_metrics_that_are_exported()
    {
        var exported = ObservedCluster.SampleNames(cluster.ApiScrape).Concat(ObservedCluster.SampleNames(cluster.SiloScrape)).ToHashSet();
        var expressions = RuleExpressions(File.ReadAllLines(AlertRules))
            .Concat(DashboardExpressions(File.ReadAllText(Dashboard)))
            .ToList();
        Assert.True(expressions.Count > 20, $"only {expressions.Count} expressions found");
        foreach (var expression in expressions)
        {
            var names = MetricNames(expression).ToList();
            Assert.True(names.Count > 0, $"no metric found in: {expression}");
            foreach (var name in names.Where(n => !MadeByPrometheus.Contains(n)))
            {
                Assert.True(exported.Contains(name), $"'{name}' in `{expression}` is not exported by the Api or the silo");
            }
        }
    }

    [Fact]
    public void Logs_are_json_lines_with_trace_ids_and_no_secrets_or_values()
    {
        foreach (var (name, log) in new[] { ("api", cluster.Api.Tail(int.MaxValue)), ("silo", cluster.Silo.Process.Tail(int.MaxValue)) })
        {
            var lines = log.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            Assert.True(lines.Length > 5, $"{name} logged {lines.Length} lines");
            var traced = 0;
            foreach (var line in lines)
            {
                using var document = ParseLine(name, line);
                var root = document.RootElement;
                Assert.True(root.TryGetProperty("traceId", out var traceId), $"{name}: no traceId in {line}");
                Assert.True(root.TryGetProperty("message", out _) && root.TryGetProperty("level", out _) && root.TryGetProperty("category", out _), line);
                if (traceId.ValueKind == JsonValueKind.String)
                {
                    Assert.Matches("^[0-9a-f]{32}$", traceId.GetString());
                    traced++;
                }
            }

            output.WriteLine($"{name}: {lines.Length} lines, {traced} in a trace");
            Assert.True(traced > 0, $"no {name} log line carries a trace id");
            Assert.DoesNotContain(TestKeys.Admin, log);
            Assert.DoesNotContain(ObservedCluster.DatabasePassword, log);
            Assert.DoesNotContain(ObservedCluster.SecretValue, log);
            Assert.True(ApiKeys.TryParse(cluster.IssuedKey, out _, out var secret));
            Assert.DoesNotContain(secret, log);
        }
    }

    private static JsonDocument ParseLine(string process, string line)
    {
        try
        {
            return JsonDocument.Parse(line);
        }
        catch (JsonException e)
        {
            throw new Xunit.Sdk.XunitException($"{process} wrote a line that is not JSON ({e.Message}): {line}");
        }
    }

    /// <summary>The expr of every rule: single-line, or a `|` block indented below it.</summary>
    private static IEnumerable<string> RuleExpressions(string[] lines)
    {
        for (var i = 0; i < lines.Length; i++)
        {
            var trimmed = lines[i].TrimStart();
            if (!trimmed.StartsWith("expr:", StringComparison.Ordinal))
            {
                continue;
            }

            var inline = trimmed["expr:".Length..].Trim();
            if (inline != "|")
            {
                yield return inline;
                continue;
            }

            var indent = lines[i].Length - trimmed.Length;
            var block = new List<string>();
            while (i + 1 < lines.Length && (lines[i + 1].Trim().Length == 0 || lines[i + 1].Length - lines[i + 1].TrimStart().Length > indent))
            {
                block.Add(lines[++i].Trim());
            }

            yield return string.Join(' ', block);
        }
    }

    private static IEnumerable<string> DashboardExpressions(string json)
    {
        using var document = JsonDocument.Parse(json);
        foreach (var panel in document.RootElement.GetProperty("panels").EnumerateArray())
        {
            if (panel.TryGetProperty("targets", out var targets))
            {
                foreach (var target in targets.EnumerateArray())
                {
                    yield return target.GetProperty("expr").GetString()!;
                }
            }
        }
    }

    /// <summary>
    /// The metric names a PromQL expression selects: identifiers left once strings, label
    /// matchers, ranges, grouping clauses, numbers, function names and keywords are taken out.
    /// </summary>
    private static IEnumerable<string> MetricNames(string expression)
    {
        var text = Strings().Replace(expression, " ");
        text = Braces().Replace(text, " ");
        text = Ranges().Replace(text, " ");
        text = Grouping().Replace(text, " ");
        foreach (Match match in Identifier().Matches(text))
        {
            var name = match.Groups["name"].Value;
            var isCall = match.Groups["call"].Success;
            if (!isCall && !PromQlWords.Contains(name.ToLowerInvariant()))
            {
                yield return name;
            }
        }
    }

    private static async Task<(int Code, string Output)> PromtoolAsync(string[] args, string? stdin)
    {
        var start = new ProcessStartInfo("promtool")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException("promtool is not installed: install Debian's 'prometheus' package (tests/run.sh does, as root).", e);
        }

        using (process)
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            if (stdin is not null)
            {
                await process.StandardInput.WriteAsync(stdin);
            }

            process.StandardInput.Close();
            await process.WaitForExitAsync();
            return (process.ExitCode, await stdout + await stderr);
        }
    }

    [GeneratedRegex("\"(?:[^\"\\\\]|\\\\.)*\"")]
    private static partial Regex Strings();

    [GeneratedRegex(@"\{[^}]*\}")]
    private static partial Regex Braces();

    [GeneratedRegex(@"\[[^\]]*\]")]
    private static partial Regex Ranges();

    [GeneratedRegex(@"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")]
    private static partial Regex Grouping();

    [GeneratedRegex(@"(?<![\w.])(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?<call>\s*\()?")]
    private static partial Regex Identifier();
}
