using System.Globalization;
using OrleansCompute.Data;
using OrleansCompute.Jobs;

namespace OrleansCompute.Api.Jobs;

/// <summary>Reads the filters of <c>GET /v1/jobs</c>; each bad value is an error naming its field.</summary>
public static class JobListFilter
{
    public static async Task<(JobFilter? Filter, Dictionary<string, string[]>? Errors)> ParseAsync(
        string? status, string? kind, string? schedule, string? createdAfter, string? createdBefore, IGrainFactory grains, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        JobStatus? wanted = null;
        if (status is not null)
        {
            if (JobStatuses.TryParse(status, out var parsed))
            {
                wanted = parsed;
            }
            else
            {
                errors["status"] = ["must be one of queued, running, paused, succeeded, failed, cancelled."];
            }
        }

        if (kind is not null)
        {
            var kinds = (await grains.GetGrain<ITaskKindCatalogGrain>(0).ListAsync(cancellationToken)).Select(k => k.Name).Order(StringComparer.Ordinal).ToList();
            if (!kinds.Contains(kind, StringComparer.Ordinal))
            {
                errors["kind"] = [$"'{kind}' is not a task kind; known kinds: {string.Join(", ", kinds)}."];
            }
        }

        if (schedule is not null && !TableNames.IsValid(schedule))
        {
            errors["schedule"] = [$"'{schedule}' is not a valid schedule name: {TableNames.Rule}."];
        }

        var from = Time(createdAfter, "createdAfter", errors);
        var until = Time(createdBefore, "createdBefore", errors);
        if (from is not null && until is not null && from >= until)
        {
            errors["createdBefore"] = ["must be later than createdAfter."];
        }

        return errors.Count > 0 ? (null, errors) : (new JobFilter(wanted, kind, schedule, from, until), null);
    }

    /// <summary>An RFC 3339 time with its offset (as every timestamp the Api answers), e.g. 2026-12-01T10:00:00Z.</summary>
    private static DateTimeOffset? Time(string? text, string field, Dictionary<string, string[]> errors)
    {
        if (text is null)
        {
            return null;
        }

        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.None, out var time) && HasOffset(text))
        {
            return time.ToUniversalTime();
        }

        errors[field] = [$"'{text}' is not a time with an offset, e.g. 2026-12-01T10:00:00Z."];
        return null;
    }

    // Without an offset a time would be read in the server's zone: ask for it instead of guessing.
    private static bool HasOffset(string text) =>
        text.EndsWith('Z') || text.EndsWith('z') || (text.Length > 6 && text[^6] is '+' or '-' && text[^3] == ':');
}
