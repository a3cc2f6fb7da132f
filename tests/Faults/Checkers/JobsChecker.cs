using System.Text.Json;

namespace OrleansCompute.Faults.Checkers;

/// <summary>
/// Jobs with known answers (SPEC §4.3, §8): every job submitted with an <c>expected</c> answer ends <c>succeeded</c>
/// with exactly that result (JSON deep equality), and no task's result is counted twice: over every job.tasks record of
/// a job (snapshots are merged by task index and attempt), at most one attempt per task index counts.
/// A job never seen ending is unknown, not a violation: the harness may have stopped looking.
/// </summary>
public static class JobsChecker
{
    public const string Name = "jobs";

    public static Verdict Check(History history)
    {
        var meta = history.Meta;
        var problems = new List<string>();
        var unknown = new List<string>();
        var checkedOps = 0;
        var submits = history.OfKind(OpKinds.JobSubmit).Where(o => o.JobId is not null && o.Outcome != Outcome.Fail).ToList();
        var results = history.OfKind(OpKinds.JobResult).Where(o => o.Outcome == Outcome.Ok && o.JobId is not null)
            .GroupBy(o => o.JobId!).ToDictionary(g => g.Key, g => g.OrderBy(o => o.CompleteOrEnd).Last());
        var tasks = history.OfKind(OpKinds.JobTasks).Where(o => o.Outcome == Outcome.Ok && o.JobId is not null && o.Tasks is not null)
            .GroupBy(o => o.JobId!).ToDictionary(g => g.Key, g => g.ToList());
        long jobs = 0, taskRecords = 0;
        foreach (var submit in submits.Where(s => s.Expected is not null))
        {
            jobs++;
            checkedOps++;
            if (!results.TryGetValue(submit.JobId!, out var result))
            {
                unknown.Add($"job {submit.JobId} was never seen ending");
                continue;
            }

            checkedOps++;
            if (!string.Equals(result.JobStatus, "succeeded", StringComparison.OrdinalIgnoreCase))
            {
                problems.Add($"job {submit.JobId} ended {result.JobStatus ?? "(no status)"}, not succeeded: {result.Describe(meta)}");
            }
            else if (result.JobOutput is not { } output || !JsonElement.DeepEquals(output, submit.Expected!.Value))
            {
                problems.Add($"job {submit.JobId} ({submit.JobKind}) result {Render(result.JobOutput)}, expected {Render(submit.Expected)}");
            }
        }

        foreach (var (jobId, records) in tasks)
        {
            checkedOps += records.Count;
            var attempts = records.SelectMany(r => r.Tasks!).ToList();
            taskRecords += attempts.Count;
            foreach (var byIndex in attempts.GroupBy(t => t.Index))
            {
                // The same attempt seen in several snapshots is one attempt; two counted attempts of one task are a
                // double count, and so is one attempt listed as counted twice within a single snapshot.
                var counted = byIndex.Where(t => t.IsCounted).Select(t => t.Attempt).Distinct().Order().ToList();
                if (counted.Count > 1)
                {
                    problems.Add($"job {jobId} task {byIndex.Key}: results of attempts {string.Join(", ", counted)} were all counted");
                }

                foreach (var snapshot in records)
                {
                    var twice = snapshot.Tasks!.Where(t => t.Index == byIndex.Key && t.IsCounted).GroupBy(t => t.Attempt).FirstOrDefault(g => g.Count() > 1);
                    if (twice is not null)
                    {
                        problems.Add($"job {jobId} task {byIndex.Key} attempt {twice.Key} is listed as counted {twice.Count()} times in {snapshot.Describe(meta)}");
                        break;
                    }
                }
            }
        }

        var counts = new Dictionary<string, long> { ["jobs"] = jobs, ["taskRecords"] = taskRecords, ["notSeenEnding"] = unknown.Count };
        if (problems.Count > 0)
        {
            return Verdict.Violation(Name, checkedOps, string.Join("\n", problems)) with { Counts = counts };
        }

        return (unknown.Count > 0 ? Verdict.Unknown(Name, checkedOps, string.Join("\n", unknown)) : Verdict.Ok(Name, checkedOps)) with { Counts = counts };
    }

    private static string Render(JsonElement? e) => e is { } v ? v.GetRawText() : "(none)";
}
