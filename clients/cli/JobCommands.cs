using System.CommandLine;
using System.Text.Json;
using OrleansCompute.Client;
using Spectre.Console;
using static OrleansCompute.Cli.DataCommands;

namespace OrleansCompute.Cli;

/// <summary><c>occtl jobs ...</c> and <c>occtl schedules ...</c>.</summary>
public static class JobCommands
{
    public static Command Jobs(CommandFactory commands)
    {
        var id = new Argument<string>("id") { Description = "The job id." };
        var kind = new Argument<string?>("kind") { Description = "The task kind (see 'occtl jobs kinds'); or give a whole spec with --file.", Arity = ArgumentArity.ZeroOrOne };
        var input = new Option<string?>("--input", "-i") { Description = "The kind's input as JSON, e.g. '{\"from\":1,\"to\":100000}'." };
        var file = new Option<FileInfo?>("--file", "-f") { Description = "A whole job spec as JSON (kind, input, retry, timeoutSeconds, ...)." };
        var idempotencyKey = new Option<string?>("--idempotency-key") { Description = "The same key returns the same job; makes the submission safe to retry." };
        var watch = new Option<bool>("--watch", "-w") { Description = "Follow the job until it ends, with a progress bar." };
        var status = new Option<string?>("--status") { Description = "Only jobs of this status." };
        status.AcceptOnlyFromAmong(JobStatuses.Queued, JobStatuses.Running, JobStatuses.Paused, JobStatuses.Succeeded, JobStatuses.Failed, JobStatuses.Cancelled);
        var limit = new Option<int?>("--limit") { Description = "At most this many." };
        var kindFilter = new Option<string?>("--kind") { Description = "Only jobs of this task kind." };
        var schedule = new Option<string?>("--schedule") { Description = "Only jobs this schedule submitted." };
        var createdAfter = new Option<DateTimeOffset?>("--created-after") { Description = "Only jobs created at or after this time, e.g. 2026-12-01T00:00:00Z." };
        var createdBefore = new Option<DateTimeOffset?>("--created-before") { Description = "Only jobs created before this time." };
        return CommandFactory.Group("jobs", "Submit, follow and control jobs.",
            commands.Create("submit", "Submit a job.", async (parse, s, ct) =>
            {
                var spec = SpecFrom(parse.GetValue(kind), parse.GetValue(input), parse.GetValue(file));
                return await ShowOrWatchAsync(s, await s.Client.SubmitJobAsync(spec, parse.GetValue(idempotencyKey), ct), parse.GetValue(watch), ct);
            }, kind, input, file, idempotencyKey, watch),
            commands.Create("get", "A job with its progress and result.", async (parse, s, ct) =>
                await s.Client.GetJobAsync(parse.GetValue(id)!, ct) is { } job ? s.Output.Show(job, Rows) : await commands.NotFoundAsync($"job '{parse.GetValue(id)}'"), id),
            commands.Create("list", "List jobs, newest first.", async (parse, s, ct) =>
            {
                var filter = new JobFilter(parse.GetValue(status), parse.GetValue(kindFilter), parse.GetValue(schedule), parse.GetValue(createdAfter), parse.GetValue(createdBefore));
                return await ListAsync(s, s.Client.ListJobsAsync(filter, cancellationToken: ct), parse.GetValue(limit), ct);
            }, status, kindFilter, schedule, createdAfter, createdBefore, limit),
            commands.Create("retry", "Run a failed or cancelled job again, as a new job linked to it (repeating it gives the same new job).", async (parse, s, ct) =>
                await ShowOrWatchAsync(s, await s.Client.RetryJobAsync(parse.GetValue(id)!, ct), parse.GetValue(watch), ct), id, watch),
            commands.Create("delete", "Delete an ended job and its tasks.", async (parse, s, ct) =>
                await s.Client.DeleteJobAsync(parse.GetValue(id)!, ct) ? Occtl.Ok : await commands.NotFoundAsync($"job '{parse.GetValue(id)}'"), id),
            commands.Create("tasks", "A job's tasks.", async (parse, s, ct) =>
                s.Output.List(await s.Client.ListTasksAsync(parse.GetValue(id)!, cancellationToken: ct).ToListAsync(ct),
                    ["index", "status", "attempts", "silo", "error"], t => [Num(t.Index), t.Status, Num(t.Attempts), t.Silo, t.Error]), id),
            commands.Create("watch", "Follow a job until it ends, with a live progress bar. Exit code 1 when it did not succeed.",
                (parse, s, ct) => WatchAsync(s, parse.GetValue(id)!, ct), id),
            commands.Create("cancel", "Cancel a job.", async (parse, s, ct) => s.Output.Show(await s.Client.CancelJobAsync(parse.GetValue(id)!, ct), Rows), id),
            commands.Create("pause", "Pause a job: running tasks finish, no new ones start.", async (parse, s, ct) => s.Output.Show(await s.Client.PauseJobAsync(parse.GetValue(id)!, ct), Rows), id),
            commands.Create("resume", "Resume a paused job.", async (parse, s, ct) => s.Output.Show(await s.Client.ResumeJobAsync(parse.GetValue(id)!, ct), Rows), id),
            commands.Create("kinds", "The task kinds the cluster runs.", async (parse, s, ct) =>
                s.Output.List(await s.Client.ListTaskKindsAsync(ct).ToListAsync(ct), ["kind", "description"], k => [k.Name, k.Description])));
    }

    public static Command Schedules(CommandFactory commands)
    {
        var name = new Argument<string>("name") { Description = "The schedule name." };
        var cron = new Option<string?>("--cron") { Description = "A cron expression (5 or 6 fields), e.g. '*/5 * * * *'." };
        var timeZone = new Option<string?>("--time-zone") { Description = "An IANA time zone (default UTC)." };
        var kind = new Option<string?>("--kind") { Description = "The task kind of the job it submits." };
        var input = new Option<string?>("--input", "-i") { Description = "The job's input as JSON." };
        var file = new Option<FileInfo?>("--file", "-f") { Description = "The job spec as JSON." };
        var watch = new Option<bool>("--watch", "-w") { Description = "Follow the job until it ends, with a progress bar." };
        var limit = new Option<int?>("--limit") { Description = "At most this many." };
        return CommandFactory.Group("schedules", "Recurring jobs.",
            commands.Create("list", "List schedules.", async (parse, s, ct) =>
                s.Output.List(await s.Client.ListSchedulesAsync(cancellationToken: ct).ToListAsync(ct), ["name", "cron", "paused", "next run", "last job"],
                    x => [x.Name, x.Cron, x.Paused ? "yes" : "no", Output.Time(x.NextRun), x.LastJobId])),
            commands.Create("get", "A schedule.", async (parse, s, ct) =>
                await s.Client.GetScheduleAsync(parse.GetValue(name)!, ct) is { } x ? s.Output.Show(x, Rows) : await commands.NotFoundAsync($"schedule '{parse.GetValue(name)}'"), name),
            commands.Create("put", "Create or replace a schedule.", async (parse, s, ct) =>
            {
                var spec = new ScheduleSpec(parse.GetValue(cron) ?? throw new UsageException("--cron is required."),
                    SpecFrom(parse.GetValue(kind), parse.GetValue(input), parse.GetValue(file)), parse.GetValue(timeZone));
                return s.Output.Show(await s.Client.PutScheduleAsync(parse.GetValue(name)!, spec, ct), Rows);
            }, name, cron, timeZone, kind, input, file),
            commands.Create("delete", "Delete a schedule (its jobs stay).", async (parse, s, ct) =>
                await s.Client.DeleteScheduleAsync(parse.GetValue(name)!, ct) ? Occtl.Ok : await commands.NotFoundAsync($"schedule '{parse.GetValue(name)}'"), name),
            commands.Create("pause", "Pause a schedule.", async (parse, s, ct) => s.Output.Show(await s.Client.PauseScheduleAsync(parse.GetValue(name)!, ct), Rows), name),
            commands.Create("resume", "Resume a schedule.", async (parse, s, ct) => s.Output.Show(await s.Client.ResumeScheduleAsync(parse.GetValue(name)!, ct), Rows), name),
            commands.Create("trigger", "Run the schedule's job now, once; its cron stays as it was.", async (parse, s, ct) =>
                await ShowOrWatchAsync(s, await s.Client.TriggerScheduleAsync(parse.GetValue(name)!, ct), parse.GetValue(watch), ct), name, watch),
            commands.Create("runs", "The jobs the schedule submitted, newest first.", async (parse, s, ct) =>
                await ListAsync(s, s.Client.ListScheduleRunsAsync(parse.GetValue(name)!, cancellationToken: ct), parse.GetValue(limit), ct), name, limit));
    }

    private static async Task<int> ShowOrWatchAsync(Session s, JobAccepted accepted, bool watch, CancellationToken cancellationToken) =>
        watch ? await WatchAsync(s, accepted.Id, cancellationToken) : s.Output.Show(accepted, a => [("id", a.Id), ("status", a.Status)]);

    private static async Task<int> ListAsync(Session s, IAsyncEnumerable<JobSummary> jobs, int? limit, CancellationToken cancellationToken)
    {
        var items = await (limit is { } most ? jobs.Take(most) : jobs).ToListAsync(cancellationToken);
        return s.Output.List(items, ["id", "kind", "status", "created", "finished", "retry of", "schedule"],
            j => [j.Id, j.Kind, j.Status, Output.Time(j.CreatedAt), Output.Time(j.FinishedAt), j.RetryOf, j.Schedule]);
    }

    /// <summary>Follows the job's event stream: a live bar on a terminal, one JSON line per event with --output json.</summary>
    private static async Task<int> WatchAsync(Session s, string id, CancellationToken cancellationToken)
    {
        Job? last = null;
        if (s.Output.Json)
        {
            await foreach (var job in s.Client.FollowJobAsync(id, cancellationToken))
            {
                s.Output.Console.Profile.Out.Writer.WriteLine(JsonSerializer.Serialize(job, JsonSerializerOptions.Web));
                last = job;
            }
        }
        else
        {
            await s.Output.Console.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
                .StartAsync(async progress =>
                {
                    var bar = progress.AddTask($"job {id}");
                    await foreach (var job in s.Client.FollowJobAsync(id, cancellationToken))
                    {
                        bar.MaxValue = Math.Max(1, job.Progress.Total);
                        bar.Value = job.Progress.Succeeded + job.Progress.Failed;
                        bar.Description = $"job {id} {job.Status} {job.Progress.Succeeded}/{job.Progress.Total}";
                        last = job;
                    }

                    bar.StopTask();
                });
            if (last is not null)
            {
                s.Output.Console.WriteLine($"{last.Status}: {last.Progress.Succeeded}/{last.Progress.Total} tasks succeeded"
                    + (last.Result is { } result ? $", result {result.GetRawText()}" : "")
                    + (last.Error is { } error ? $", error: {error}" : ""));
            }
        }

        return last?.Status == JobStatuses.Succeeded ? Occtl.Ok : Occtl.RequestFailed;
    }

    private static JobSpec SpecFrom(string? kind, string? input, FileInfo? file)
    {
        if (file is not null)
        {
            var text = file.Exists ? File.ReadAllText(file.FullName) : throw new UsageException($"No file {file.FullName}.");
            try
            {
                var spec = JsonSerializer.Deserialize<JobSpec>(text, JsonSerializerOptions.Web) ?? throw new UsageException("The job spec is empty.");
                return kind is null ? spec : spec with { Kind = kind };
            }
            catch (JsonException e)
            {
                throw new UsageException($"The job spec is not valid JSON: {e.Message}");
            }
        }

        return new JobSpec(kind ?? throw new UsageException("Name the task kind, or give a job spec with --file."),
            input is null ? default : Json.Parse(input, "input"));
    }

    private static IEnumerable<(string, string?)> Rows(Job j) =>
    [
        ("id", j.Id), ("kind", j.Kind), ("status", j.Status),
        ("progress", $"{j.Progress.Succeeded}/{j.Progress.Total} succeeded, {j.Progress.Running} running, {j.Progress.Failed} failed, {j.Progress.Cancelled} cancelled"),
        ("retry of", j.RetryOf), ("schedule", j.Schedule),
        ("result", j.Result is { } r ? r.GetRawText() : null), ("error", j.Error), ("attempts", Num(j.Attempts)),
        ("created", Output.Time(j.CreatedAt)), ("started", Output.Time(j.StartedAt)), ("finished", Output.Time(j.FinishedAt)),
    ];

    private static IEnumerable<(string, string?)> Rows(Schedule x) =>
    [
        ("name", x.Name), ("cron", x.Cron), ("time zone", x.TimeZone), ("kind", x.Job.Kind), ("paused", x.Paused ? "yes" : "no"),
        ("next run", Output.Time(x.NextRun)), ("last run", Output.Time(x.LastRun)), ("last job", x.LastJobId), ("last error", x.LastError),
    ];
}
