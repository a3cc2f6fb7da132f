using Cronos;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansCompute.Data;
using OrleansCompute.Jobs;
using OrleansCompute.Tenancy;

namespace OrleansCompute.Grains.Jobs;

/// <summary>
/// A recurring job. A grain timer fires at each occurrence; a reminder (in PostgreSQL) keeps the
/// schedule active on some silo, so it survives the death of any one. Each occurrence submits its
/// job with the idempotency key "schedule/&lt;name&gt;/&lt;occurrence&gt;": however many times an
/// occurrence is fired (two activations, a retry after a crash), it makes one job.
/// A schedule that was down at an occurrence fires the latest missed one when it comes back.
/// </summary>
public sealed partial class ScheduleGrain(
    [PersistentState("schedule", StorageNames.Default)] IPersistentState<ScheduleGrain.State> state,
    IOptions<JobOptions> options,
    TimeProvider clock,
    JobMetrics metrics,
    ILogger<ScheduleGrain> logger) : Grain, IScheduleGrain, IRemindable
{
    private const string KeepAliveReminder = "keep-alive";

    private IGrainTimer? _timer;

    private (string Tenant, string Name) Id => TenantKey.Parse(this.GetPrimaryKeyString());

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (state.State.Spec is not null && !state.State.Paused)
        {
            await CatchUpAsync();
        }
    }

    public async Task<SchedulePutResult> PutAsync(ScheduleSpec spec, CancellationToken cancellationToken = default)
    {
        var errors = new List<FieldError>();
        if (ScheduleTimes.ParseCron(spec.Cron) is null)
        {
            errors.Add(new FieldError("cron", $"'{spec.Cron}' is not a cron expression: 5 fields (minute hour day month weekday) or 6 with seconds first."));
        }

        if (ScheduleTimes.FindZone(spec.TimeZone) is null)
        {
            errors.Add(new FieldError("timeZone", $"'{spec.TimeZone}' is not a known time zone (IANA id, e.g. \"Europe/Paris\", or \"UTC\")."));
        }

        var jobErrors = await GrainFactory.GetGrain<ITenantJobsGrain>(Id.Tenant).ValidateAsync(spec.Job, cancellationToken);
        errors.AddRange(jobErrors.Select(e => e with { Field = $"job.{e.Field}" }));
        if (errors.Count > 0)
        {
            return new SchedulePutResult(false, null, errors);
        }

        var created = state.State.Spec is null;
        state.State.Spec = spec;
        state.State.Since = clock.GetUtcNow();
        if (created)
        {
            state.State.Paused = false;
            state.State.LastOccurrence = null;
        }

        await state.WriteStateAsync(cancellationToken);
        await GrainFactory.GetGrain<INameSetGrain>(NameSets.Schedules(Id.Tenant)).AddAsync(Id.Name, cancellationToken);
        await ArmAsync();
        return new SchedulePutResult(created, View(), []);
    }

    public Task<ScheduleView?> GetAsync(CancellationToken cancellationToken = default) => Task.FromResult(View());

    public async Task<bool> DeleteAsync(CancellationToken cancellationToken = default)
    {
        if (state.State.Spec is null)
        {
            return false;
        }

        await DisarmAsync();
        await state.ClearStateAsync(cancellationToken);
        state.State = new State();
        await GrainFactory.GetGrain<INameSetGrain>(NameSets.Schedules(Id.Tenant)).RemoveAsync(Id.Name, cancellationToken);
        return true;
    }

    public async Task<ScheduleView?> SetPausedAsync(bool paused, CancellationToken cancellationToken = default)
    {
        if (state.State.Spec is null)
        {
            return null;
        }

        if (state.State.Paused != paused)
        {
            state.State.Paused = paused;
            // Resuming does not fire what was missed while paused: it goes on from now.
            state.State.Since = clock.GetUtcNow();
            state.State.LastOccurrence = null;
            await state.WriteStateAsync(cancellationToken);
            await (paused ? DisarmAsync() : ArmAsync());
        }

        return View();
    }

    public async Task<SubmitResult> TriggerAsync(CancellationToken cancellationToken = default)
    {
        if (state.State.Spec is not { } spec)
        {
            return new SubmitResult(SubmitOutcome.NotFound, null, JobStatus.Queued, []);
        }

        // A key of its own (not an occurrence's), so a trigger never stands in for a cron run; the
        // schedule's prefix lists the job among the schedule's runs.
        var key = JobOrigins.ScheduleKey(Id.Name, $"now-{clock.GetUtcNow():yyyyMMddTHHmmssfffZ}-{Guid.NewGuid():N}");
        var result = await GrainFactory.GetGrain<ITenantJobsGrain>(Id.Tenant).SubmitAsync(spec.Job, key, cancellationToken);
        if (result.Outcome == SubmitOutcome.Created)
        {
            state.State.LastJobId = result.JobId;
            state.State.LastRun = clock.GetUtcNow();
            state.State.LastError = null;
            await state.WriteStateAsync(cancellationToken);
        }

        return result;
    }

    public Task ReceiveReminder(string reminderName, TickStatus status) =>
        state.State.Spec is null || state.State.Paused ? DisarmAsync() : CatchUpAsync();

    /// <summary>Fires the latest occurrence missed while the schedule was not active, then arms the timer.</summary>
    private async Task CatchUpAsync()
    {
        var missed = ScheduleTimes.LatestBetween(state.State.Spec!, After(), clock.GetUtcNow());
        if (missed is { } occurrence)
        {
            await FireAsync(occurrence);
        }

        await ArmAsync();
    }

    private async Task ArmAsync()
    {
        _timer?.Dispose();
        _timer = null;
        if (state.State.Spec is not { } spec || state.State.Paused)
        {
            return;
        }

        await this.RegisterOrUpdateReminder(KeepAliveReminder, options.Value.RecoveryPeriod, options.Value.RecoveryPeriod);
        if (ScheduleTimes.Next(spec, After()) is not { } next)
        {
            return;
        }

        var due = next - clock.GetUtcNow();
        // Long waits are re-armed by the reminder ticks; timers need not span days.
        due = due < TimeSpan.Zero ? TimeSpan.Zero : due > TimeSpan.FromHours(1) ? TimeSpan.FromHours(1) : due;
        _timer = this.RegisterGrainTimer(OnTimerAsync, new GrainTimerCreationOptions(due, Timeout.InfiniteTimeSpan) { Interleave = false });
    }

    private async Task OnTimerAsync()
    {
        if (state.State.Spec is not { } spec || state.State.Paused)
        {
            return;
        }

        if (ScheduleTimes.LatestBetween(spec, After(), clock.GetUtcNow()) is { } occurrence)
        {
            await FireAsync(occurrence);
        }

        await ArmAsync();
    }

    private async Task FireAsync(DateTimeOffset occurrence)
    {
        var (tenant, name) = Id;
        try
        {
            var result = await GrainFactory.GetGrain<ITenantJobsGrain>(tenant)
                .SubmitAsync(state.State.Spec!.Job, JobOrigins.ScheduleKey(name, $"{occurrence.UtcDateTime:yyyyMMddTHHmmssZ}"));
            state.State.LastJobId = result.JobId ?? state.State.LastJobId;
            var submitted = result.Outcome is SubmitOutcome.Created or SubmitOutcome.Existing;
            state.State.LastError = submitted
                ? null
                : $"{result.Outcome}: {string.Join("; ", result.Errors.Select(e => $"{e.Field} {e.Message}"))}";
            metrics.ScheduleFired(tenant, submitted ? "submitted" : "refused", occurrence, clock.GetUtcNow());
        }
        catch (Exception e)
        {
            metrics.ScheduleFired(tenant, "error", occurrence, clock.GetUtcNow());
            LogFireFailed(tenant, name, occurrence, e);
            state.State.LastError = e.Message;
        }

        state.State.LastOccurrence = occurrence;
        state.State.LastRun = clock.GetUtcNow();
        await state.WriteStateAsync();
    }

    private async Task DisarmAsync()
    {
        _timer?.Dispose();
        _timer = null;
        if (await this.GetReminder(KeepAliveReminder) is { } reminder)
        {
            await this.UnregisterReminder(reminder);
        }
    }

    /// <summary>Occurrences after this instant are still to fire.</summary>
    private DateTimeOffset After() => state.State.LastOccurrence is { } last && last > state.State.Since ? last : state.State.Since;

    private ScheduleView? View()
    {
        if (state.State.Spec is not { } spec)
        {
            return null;
        }

        return new ScheduleView(
            Id.Name, spec.Cron, spec.TimeZone, spec.Job, state.State.Paused,
            state.State.Paused ? null : ScheduleTimes.Next(spec, After()),
            state.State.LastRun, state.State.LastJobId, state.State.LastError);
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Schedule {Tenant}/{Name}: firing the occurrence {Occurrence} failed")]
    private partial void LogFireFailed(string tenant, string name, DateTimeOffset occurrence, Exception exception);

    [GenerateSerializer, Alias("oc.ScheduleGrain.State")]
    public sealed class State
    {
        [Id(0)] public ScheduleSpec? Spec { get; set; }

        [Id(1)] public bool Paused { get; set; }

        /// <summary>When the schedule was defined or last resumed: nothing before it fires.</summary>
        [Id(2)] public DateTimeOffset Since { get; set; }

        [Id(3)] public DateTimeOffset? LastOccurrence { get; set; }

        [Id(4)] public DateTimeOffset? LastRun { get; set; }

        [Id(5)] public string? LastJobId { get; set; }

        [Id(6)] public string? LastError { get; set; }
    }
}

/// <summary>Cron arithmetic (Cronos): parsing, the next occurrence, the latest one in a window.</summary>
public static class ScheduleTimes
{
    public static CronExpression? ParseCron(string cron)
    {
        var fields = cron.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length;
        if (fields is not (5 or 6))
        {
            return null;
        }

        return CronExpression.TryParse(cron, fields == 6 ? CronFormat.IncludeSeconds : CronFormat.Standard, out var expression) ? expression : null;
    }

    public static TimeZoneInfo? FindZone(string id) =>
        TimeZoneInfo.TryFindSystemTimeZoneById(id, out var zone) ? zone : null;

    /// <summary>The first occurrence strictly after <paramref name="after"/>.</summary>
    public static DateTimeOffset? Next(ScheduleSpec spec, DateTimeOffset after) =>
        ParseCron(spec.Cron)!.GetNextOccurrence(after, FindZone(spec.TimeZone)!, inclusive: false);

    /// <summary>The latest occurrence in (after, until], if any.</summary>
    public static DateTimeOffset? LatestBetween(ScheduleSpec spec, DateTimeOffset after, DateTimeOffset until) =>
        ParseCron(spec.Cron)!.GetOccurrences(after, until, FindZone(spec.TimeZone)!, fromInclusive: false, toInclusive: true)
            .Select(o => (DateTimeOffset?)o)
            .LastOrDefault();
}
