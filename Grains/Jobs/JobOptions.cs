namespace OrleansCompute.Grains.Jobs;

/// <summary>Settings of the job engine (configuration section "Jobs").</summary>
public sealed class JobOptions
{
    /// <summary>Tasks one silo runs at once; the rest wait in its queue, higher priority first.</summary>
    public int SlotsPerSilo { get; set; } = Math.Max(4, Environment.ProcessorCount * 4);

    /// <summary>Upper bound on tasks per job (SPEC §7 abuse limits).</summary>
    public int MaxTasksPerJob { get; set; } = 100_000;

    /// <summary>Jobs a tenant may have queued, running or paused at once; more are refused with 429.</summary>
    public int MaxActiveJobsPerTenant { get; set; } = 100;

    /// <summary>
    /// Period of the reminder that keeps every unfinished job and every schedule alive: after a
    /// silo dies, its jobs resume within about this long, on another silo.
    /// </summary>
    public TimeSpan RecoveryPeriod { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>How often a running job checks its tasks' silos and deadlines.</summary>
    public TimeSpan WatchdogPeriod { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>How long past its timeout a task may stay silent before the job gives it up as lost.</summary>
    public TimeSpan ReportGrace { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Longest wait between attempts, whatever the backoff doubles to.</summary>
    public TimeSpan MaxBackoff { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>How long an ended job (and its tasks) is kept before <see cref="JobRetention"/> deletes it.</summary>
    public TimeSpan RetainEndedFor { get; set; } = TimeSpan.FromDays(7);

    /// <summary>How often each silo looks for ended jobs past <see cref="RetainEndedFor"/>.</summary>
    public TimeSpan RetentionSweepPeriod { get; set; } = TimeSpan.FromMinutes(10);
}
