using OrleansCompute.Grains.Jobs;
using OrleansCompute.Grains.Jobs.Storage;
using OrleansCompute.Jobs;

namespace OrleansCompute.Tests.Unit;

/// <summary>Every transition of <see cref="JobState"/>, without a cluster: what it changes and which commands it returns.</summary>
public class JobStateTests
{
    private const long Seed = 1000;
    private readonly ManualTime _clock = new();

    [Fact]
    public void Continue_dispatches_ready_tasks_in_order_up_to_the_parallelism()
    {
        var job = State(tasks: 5, Spec(parallelism: 2));

        var commands = job.Continue();

        Assert.Equal([new StartRun(0, Seed + 1), new StartRun(1, Seed + 2)], commands);
        Assert.Equal((2, TaskState.Running, 1), (job.RunningCount, job.TaskStatus(0), job.Attempts(0)));
        Assert.Equal([2, 3, 4], job.Ready);
    }

    [Fact]
    public void A_success_records_the_result_frees_a_slot_and_the_last_one_ends_the_job_once_its_header_is_durable()
    {
        var job = State(tasks: 2, Spec(parallelism: 1));
        job.Continue();
        job.Placed(0, Seed + 1, "A");

        var first = job.Report(Success(0, Seed + 1, "1"));
        Assert.Equal([new WriteTask(0), new StartRun(1, Seed + 2)], first);

        job.Placed(1, Seed + 2, "B");
        var last = job.Report(Success(1, Seed + 2, "2"));

        var end = Assert.IsType<WriteHeader>(last[1]);
        Assert.Equal(new WriteTask(1), last[0]);
        Assert.Equal(2, last.Count);
        Assert.Equal((JobStatus.Succeeded, JobStatus.Running, true), (job.Status, job.ShownStatus, job.EndPending));
        Assert.Equal("[1,2]", job.Result);
        Assert.Null(Header(job).View.ResultJson); // hidden until durable

        Assert.Equal([new Retire()], job.HeaderDurable(end.Version));
        Assert.Equal((JobStatus.Succeeded, true), (job.ShownStatus, job.EndShown));
        Assert.Equal("[1,2]", Header(job).View.ResultJson);
    }

    [Fact]
    public void A_duplicate_report_of_a_success_changes_nothing()
    {
        var job = State(tasks: 2);
        job.Continue();
        job.Report(Success(0, Seed + 1, "\"first\""));
        var changes = job.Changes;

        Assert.Empty(job.Report(Success(0, Seed + 1, "\"second\"")));
        Assert.Empty(job.Report(Failure(0, Seed + 1)));

        Assert.Equal(changes, job.Changes);
        Assert.Equal(1, job.SucceededCount);
        Assert.Equal("\"first\"", job.TaskRow(0).ResultJson);
    }

    [Fact]
    public void A_late_failure_of_a_run_given_up_on_is_ignored_but_its_late_success_counts_and_stops_the_current_run()
    {
        var job = State(tasks: 1, Spec(maxAttempts: 3));
        job.Continue();
        job.Placed(0, Seed + 1, "A");
        job.Watch(silo => silo == "A", TimeSpan.FromHours(1)); // A is declared dead
        job.Requeue(0);
        job.Placed(0, Seed + 2, "B");

        Assert.Empty(job.Report(Failure(0, Seed + 1)));
        Assert.Equal((TaskState.Running, 2), (job.TaskStatus(0), job.Attempts(0)));

        var late = job.Report(Success(0, Seed + 1, "7"));

        Assert.Contains(new CancelRuns("B", 0), late);
        Assert.Contains(new WriteTask(0), late);
        Assert.Equal((TaskState.Succeeded, 0), (job.TaskStatus(0), job.RunningCount));
    }

    [Fact]
    public void A_stale_dispatch_is_not_placed_and_its_failed_handover_changes_nothing()
    {
        var job = State(tasks: 1);
        job.Continue();
        job.HandOverFailed(0, Seed + 1);
        job.Requeue(0);

        Assert.False(job.Placed(0, Seed + 1, "A"));
        Assert.Empty(job.HandOverFailed(0, Seed + 1));
        Assert.True(job.Placed(0, Seed + 2, "A"));
        Assert.Equal((TaskState.Running, 1, "A"), (job.TaskStatus(0), job.Attempts(0), job.Silo(0)));
    }

    [Fact]
    public void A_failed_handover_is_no_attempt_and_the_task_is_queued_again_after_a_wait()
    {
        var job = State(tasks: 1);
        job.Continue();

        var commands = job.HandOverFailed(0, Seed + 1);

        Assert.Equal([new RequeueLater(0, JobState.HandOverRetry)], commands);
        Assert.Equal((TaskState.Pending, 0, 0), (job.TaskStatus(0), job.Attempts(0), job.RunningCount));
    }

    [Fact]
    public void Cancel_during_a_handover_stops_the_run_before_it_starts_and_tells_placed_runs_to_stop()
    {
        var job = State(tasks: 2);
        job.Continue();
        job.Placed(1, Seed + 2, "B"); // task 1 reached its silo; task 0 is still being handed over

        var commands = job.Cancel();

        Assert.Equal([new WriteHeader(1), new CancelRuns("B", null)], commands);
        Assert.False(job.Placed(0, Seed + 1, "A"));
        Assert.Equal((JobStatus.Cancelled, TaskState.Cancelled, 0), (job.Status, job.TaskStatus(0), job.RunningCount));
        Assert.Empty(job.Report(Success(1, Seed + 2, "1"))); // reports after the end are ignored
        Assert.Empty(job.Cancel()); // a repeated cancel writes nothing new
    }

    [Fact]
    public void Pause_during_a_retry_backoff_holds_the_retry_until_resume()
    {
        var job = State(tasks: 1, Spec(maxAttempts: 3, backoffSeconds: 2));
        job.Continue();
        job.Placed(0, Seed + 1, "A");

        var failed = job.Report(Failure(0, Seed + 1));
        // 2 s × 2^0 × (0.5 + 0.5): the random factor is fixed at 0.5 here.
        Assert.Equal([new WriteTask(0), new RequeueLater(0, TimeSpan.FromSeconds(2))], failed);

        Assert.Equal([new WriteHeader(1)], job.Pause());
        Assert.Empty(job.Requeue(0)); // the backoff ends while paused: nothing starts
        Assert.Equal((JobStatus.Paused, TaskState.Pending), (job.Status, job.TaskStatus(0)));

        Assert.Equal([new WriteHeader(2), new StartRun(0, Seed + 2)], job.Resume());
        Assert.Equal(2, job.Attempts(0));
    }

    [Fact]
    public void Pause_and_resume_only_apply_in_their_states()
    {
        var queued = State(tasks: 1, status: JobStatus.Queued);

        Assert.Empty(queued.Pause());
        Assert.Empty(queued.Resume());
        Assert.Equal([new WriteHeader(1), new StartRun(0, Seed + 1)], queued.Start());
        Assert.Equal(_clock.GetUtcNow(), queued.StartedAt);
        Assert.Empty(queued.Start());
    }

    [Fact]
    public void A_task_that_uses_its_last_attempt_fails_the_job_and_stops_the_other_runs()
    {
        var job = State(tasks: 2, Spec(maxAttempts: 1));
        job.Continue();
        job.Placed(0, Seed + 1, "A");
        job.Placed(1, Seed + 2, "B");

        var commands = job.Report(Failure(0, Seed + 1, "boom"));

        Assert.Equal([new WriteTask(0), new WriteHeader(1), new CancelRuns("B", null)], commands);
        Assert.Equal(JobStatus.Failed, job.Status);
        Assert.Equal("task 0 failed after 1 attempt(s): boom", job.Error);
        Assert.Equal((TaskState.Failed, TaskState.Cancelled), (job.TaskStatus(0), job.TaskStatus(1)));
    }

    [Fact]
    public void A_run_handed_back_by_a_stopping_silo_is_no_attempt_and_runs_again_at_once()
    {
        var job = State(tasks: 1);
        job.Continue();
        job.Placed(0, Seed + 1, "A");

        var commands = job.Report(new TaskReport(0, Seed + 1, TaskRunOutcome.Cancelled, null, null, "A", _clock.GetUtcNow()));

        Assert.Equal([new StartRun(0, Seed + 2)], commands);
        Assert.Equal(1, job.Attempts(0));
    }

    [Fact]
    public void The_watch_loses_runs_of_dead_silos_and_silent_runs_past_the_deadline_but_not_unplaced_ones()
    {
        var job = State(tasks: 3, Spec(maxAttempts: 5));
        job.Continue();
        job.Placed(0, Seed + 1, "dead");
        job.Placed(1, Seed + 2, "alive");

        Assert.Equal([new RunLost(0, "silo dead died while running it"), new WriteTask(0), new RequeueLater(0, TimeSpan.FromSeconds(1))],
            job.Watch(silo => silo == "dead", TimeSpan.FromSeconds(90)));

        _clock.Advance(TimeSpan.FromSeconds(91));
        var silent = job.Watch(_ => false, TimeSpan.FromSeconds(90));

        Assert.Equal(new RunLost(1, "no report from silo alive within the timeout"), silent[0]);
        Assert.Equal((TaskState.Pending, TaskState.Pending, TaskState.Running), (job.TaskStatus(0), job.TaskStatus(1), job.TaskStatus(2)));
        Assert.Equal(1, job.RunningCount);
    }

    [Fact]
    public void An_end_whose_write_fails_stays_hidden_until_the_version_that_carries_it_is_durable()
    {
        var job = State(tasks: 1);
        job.Continue();
        job.Pause();
        job.Resume();
        var end = Assert.IsType<WriteHeader>(job.Cancel()[0]);
        Assert.Equal(3, end.Version);

        // The writer stored an older version (its attempt for the end failed): nothing shows.
        Assert.Empty(job.HeaderDurable(end.Version - 1));
        Assert.Equal(JobStatus.Running, Header(job).View.Status);
        Assert.Null(Header(job).View.FinishedAt);

        // A later attempt stored it, carrying later changes too.
        var changed = job.NextChange;
        Assert.Equal([new Retire()], job.HeaderDurable(end.Version + 1));
        Assert.True(changed.IsCompleted);
        Assert.Equal(JobStatus.Cancelled, Header(job).View.Status);
        Assert.Equal("cancelled by request", Header(job).View.Error);
        Assert.Empty(job.HeaderDurable(end.Version + 1));
    }

    [Fact]
    public void Cancelled_tasks_count_as_cancelled_once_the_end_shows_and_their_tasks_say_so()
    {
        var job = State(tasks: 3, Spec(parallelism: 1));
        job.Continue();
        job.Placed(0, Seed + 1, "A");
        job.Report(Success(0, Seed + 1, "1"));
        job.Placed(1, Seed + 2, "A");
        var end = Assert.IsType<WriteHeader>(job.Cancel()[0]);

        // Before the end is durable readers see the job as it was: nothing is cancelled yet.
        Assert.Equal(new JobProgress(3, 2, 0, 1, 0, 0), Header(job).View.Progress);

        job.HeaderDurable(end.Version);
        Assert.Equal(new JobProgress(3, 0, 0, 1, 0, 2), Header(job).View.Progress);
        Assert.Equal([TaskState.Succeeded, TaskState.Cancelled, TaskState.Cancelled], job.TaskViews(-1, 10)!.Select(t => t.Status));
    }

    [Fact]
    public void A_reloaded_ended_job_counts_its_unfinished_tasks_as_cancelled()
    {
        var job = State(tasks: 2, status: JobStatus.Failed, rows: [new TaskRecord(0, TaskState.Failed, 3, "A", null, null, "boom", null)]);

        Assert.Equal(new JobProgress(2, 0, 0, 0, 1, 1), Header(job).View.Progress);
    }

    [Fact]
    public void A_view_names_the_job_a_retry_retries_and_the_schedule_that_submitted_a_job()
    {
        var job = State(tasks: 1);

        var retry = job.View("j2", Record(JobStatus.Running) with { IdempotencyKey = JobOrigins.RetryKey("00000000000000000001") });
        var scheduled = job.View("j3", Record(JobStatus.Running) with { IdempotencyKey = JobOrigins.ScheduleKey("nightly", "20261201T000000Z") });
        var plain = job.View("j4", Record(JobStatus.Running) with { IdempotencyKey = "my-key" });

        Assert.Equal(("00000000000000000001", (string?)null), (retry.RetryOf, retry.Schedule));
        Assert.Equal(((string?)null, "nightly"), (scheduled.RetryOf, scheduled.Schedule));
        Assert.Equal(((string?)null, (string?)null), (plain.RetryOf, plain.Schedule));
    }

    [Fact]
    public void Combining_results_that_throws_fails_the_job()
    {
        var job = State(tasks: 1, reduce: _ => throw new FormatException("not a number"));
        job.Continue();

        job.Report(Success(0, Seed + 1, "1"));

        Assert.Equal(JobStatus.Failed, job.Status);
        Assert.Equal("combining the task results failed: not a number", job.Error);
    }

    [Fact]
    public void Recovery_reload_keeps_results_and_attempts_and_runs_again_every_task_without_a_result()
    {
        TaskRecord[] rows =
        [
            new(0, TaskState.Succeeded, 1, "A", null, null, null, "\"kept\""),
            new(1, TaskState.Pending, 2, "A", null, null, "boom", null),
            new(2, TaskState.Running, 1, "B", null, null, null, null), // a row from an older writer
            new(9, TaskState.Succeeded, 1, "A", null, null, null, "\"out of range\""),
        ];
        var job = State(tasks: 4, rows: rows);

        Assert.Equal((1, 0), (job.SucceededCount, job.RunningCount));
        Assert.Equal([1, 2, 3], job.Ready);
        Assert.Equal([new StartRun(1, Seed + 1), new StartRun(2, Seed + 2), new StartRun(3, Seed + 3)], job.Continue());
        Assert.Equal((3, 2, 1), (job.Attempts(1), job.Attempts(2), job.Attempts(3)));
        Assert.Equal("\"kept\"", job.TaskRow(0).ResultJson);
    }

    [Fact]
    public void Reloading_an_ended_job_shows_its_end_and_dispatches_nothing()
    {
        var job = State(tasks: 2, status: JobStatus.Cancelled, rows: [new(0, TaskState.Succeeded, 1, "A", null, null, null, "1")]);

        Assert.True(job.EndShown);
        Assert.Empty(job.Continue());
        Assert.Equal((TaskState.Succeeded, TaskState.Cancelled), (job.TaskStatus(0), job.TaskStatus(1)));
        Assert.Empty(job.Ready);
    }

    [Fact]
    public void Header_rows_carry_the_state_and_the_store_version()
    {
        var job = State(tasks: 1, status: JobStatus.Queued);
        job.Start();

        var header = job.Header(Record(JobStatus.Queued), 8);

        Assert.Equal((JobStatus.Running, 8L, _clock.GetUtcNow()), (header.Status, header.Version, header.StartedAt!.Value));
    }

    private (JobRecord Record, JobView View) Header(JobState job) => (Record(job.Status), job.View("j", Record(job.Status)));

    private JobState State(int tasks, JobSpec? spec = null, JobStatus status = JobStatus.Running, IEnumerable<TaskRecord>? rows = null,
        Func<IReadOnlyList<string?>, string?>? reduce = null) =>
        new(Record(status), spec ?? Spec(), tasks, rows ?? [], reduce ?? (results => $"[{string.Join(",", results)}]"),
            _clock, TimeSpan.FromMinutes(5), Seed, random: () => 0.5);

    private static JobRecord Record(JobStatus status) =>
        new("t", "j", "sleep", status, "{}", "[]", null, "hash", null, null, DateTimeOffset.UnixEpoch, null, null, 1);

    private static JobSpec Spec(int parallelism = 16, int maxAttempts = 3, double backoffSeconds = 1) =>
        new("sleep", "{}", maxAttempts, backoffSeconds, 60, parallelism, 0, null, []);

    private TaskReport Success(int index, long dispatchId, string result) =>
        new(index, dispatchId, TaskRunOutcome.Succeeded, result, null, "A", _clock.GetUtcNow());

    private TaskReport Failure(int index, long dispatchId, string error = "failed") =>
        new(index, dispatchId, TaskRunOutcome.Failed, null, error, "A", _clock.GetUtcNow());
}

/// <summary>A clock that moves only when told.</summary>
public sealed class ManualTime : TimeProvider
{
    private DateTimeOffset _now = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public override DateTimeOffset GetUtcNow() => _now;

    public void Advance(TimeSpan by) => _now += by;
}
