namespace OrleansCompute.Faults.Checkers;

public sealed record WatchCheckOptions
{
    public VersionAfterDelete VersionAfterDelete { get; init; } = VersionAfterDelete.Reset;

    /// <summary>Whether the history's KV writes are every write to the watched tables: then a put event whose value
    /// no op of the history wrote is a phantom (a violation).</summary>
    public bool WriteLogComplete { get; init; } = true;
}

/// <summary>
/// Watch streams (SPEC §4.4, §8): no gap, no duplicate, per-key order — judged per logical stream (resumes included:
/// every watch.event with the same <c>stream</c>), in the order events were received, and against the write log (the
/// history's kv.put / kv.delete ops).
/// <list type="bullet">
/// <item>No duplicate: one (key, revision) at most once per stream.</item>
/// <item>Per-key order: a key's revisions strictly increase along the stream.</item>
/// <item>No gap, by versions: after a put of version v the key's next event is a put of v + 1 or a delete; after a
/// delete, a put of version 1 (versions reset on delete; with <see cref="VersionAfterDelete.Continue"/> not checked).</item>
/// <item>No gap, by the write log: an acknowledged put sent after the stream was established (watch.stream's complete)
/// must be delivered if the stream delivered, for the same key, a write sent after that put was answered.</item>
/// <item>Real-time order: a key's consecutive events never come from writes in the opposite real-time order.</item>
/// <item>Revisions identify changes: within a shard (when events carry one), else within a key, one revision is one
/// change, across all streams.</item>
/// <item>Against the log: no event shows a failed write's value; a put event's version matches the version the write
/// was answered with; with <see cref="WatchCheckOptions.WriteLogComplete"/>, no event shows a value nobody wrote.</item>
/// </list>
/// Values of writes are unique per write.
/// </summary>
public static class WatchChecker
{
    public const string Name = "watch";

    public static Verdict Check(History history, WatchCheckOptions? options = null)
    {
        options ??= new WatchCheckOptions();
        var meta = history.Meta;
        var problems = new List<string>();
        var streams = history.OfKind(OpKinds.WatchStream).Where(s => s.Stream is not null).GroupBy(s => s.Stream!)
            .ToDictionary(g => g.Key, g => g.OrderBy(s => s.Invoke).First());
        // An event without a table is of its stream's table.
        var events = history.OfKind(OpKinds.WatchEvent).Where(e => e.Stream is not null && e.Key is not null)
            .Select(e => e.Table is null && streams.TryGetValue(e.Stream!, out var s) ? e with { Table = s.Table } : e).ToList();
        var writes = history.Ops.Where(o => o.Kind is OpKinds.KvPut or OpKinds.KvDelete).ToList();
        var byValue = new Dictionary<(string, string, string), Op>();
        foreach (var w in writes.Where(w => w.Kind == OpKinds.KvPut && w.Value is not null && w.Key is not null))
        {
            byValue.TryAdd((w.Table ?? "", w.Key!, w.Value!), w);
        }

        Op? WriteOf(Op e) => e.Event == "put" && e.Value is not null && byValue.TryGetValue((e.Table ?? "", e.Key!, e.Value), out var w) ? w : null;

        // Revisions identify changes, across streams.
        var changes = new Dictionary<(string, string, long), Op>();
        foreach (var e in events.Where(e => e.Revision is not null))
        {
            var scope = e.Shard is { } shard ? $"shard {shard}" : $"key {e.Key}";
            var id = (e.Table ?? "", scope, e.Revision!.Value);
            if (!changes.TryGetValue(id, out var first))
            {
                changes[id] = e;
            }
            else if (first.Key != e.Key || first.Event != e.Event || first.Value != e.Value || first.Version != e.Version)
            {
                problems.Add($"revision {e.Revision} in {scope} names two changes: {first.Describe(meta)} and {e.Describe(meta)}");
            }
        }

        foreach (var e in events)
        {
            if (WriteOf(e) is { } w)
            {
                if (w.Outcome == Outcome.Fail)
                {
                    problems.Add($"{e.Describe(meta)} shows the value of a failed write {w.Describe(meta)}");
                }
                else if (w.Outcome == Outcome.Ok && w.Version is { } v && e.Version is { } ev && v != ev)
                {
                    problems.Add($"{e.Describe(meta)} has version {ev}, but its write was answered with version {v}: {w.Describe(meta)}");
                }
            }
            else if (e.Event == "put" && options.WriteLogComplete && writes.Count > 0)
            {
                problems.Add($"{e.Describe(meta)} shows a value no write of the history wrote");
            }
        }

        foreach (var stream in events.GroupBy(e => e.Stream!))
        {
            streams.TryGetValue(stream.Key, out var start);
            foreach (var key in stream.GroupBy(e => (e.Table ?? "", e.Key!)))
            {
                var list = key.OrderBy(e => e.Complete ?? e.Invoke).ThenBy(e => e.Line).ToList();
                var seen = new HashSet<long>();
                for (var i = 0; i < list.Count; i++)
                {
                    var e = list[i];
                    if (e.Revision is { } r && !seen.Add(r))
                    {
                        problems.Add($"stream {stream.Key}: duplicate event for key {e.Key} revision {r}: {e.Describe(meta)}");
                        continue;
                    }

                    if (i == 0)
                    {
                        continue;
                    }

                    var p = list[i - 1];
                    if (p.Revision is { } pr && e.Revision is { } er && er <= pr)
                    {
                        problems.Add($"stream {stream.Key}: key {e.Key} revision {er} came after revision {pr}: {p.Describe(meta)} then {e.Describe(meta)}");
                        continue;
                    }

                    if (e.Event == "put" && e.Version is { } v)
                    {
                        long? want = p.Event == "delete"
                            ? (options.VersionAfterDelete == VersionAfterDelete.Reset ? 1 : null)
                            : p.Version + 1;
                        if (want is { } expected && v != expected)
                        {
                            problems.Add($"stream {stream.Key}: gap on key {e.Key}: version {v} came right after {p.Describe(meta)} (expected version {expected})");
                        }
                    }

                    if (WriteOf(p) is { } wp && WriteOf(e) is { } we && we.CompleteOrEnd < wp.Invoke)
                    {
                        problems.Add($"stream {stream.Key}: key {e.Key} events out of order: {we.Describe(meta)} was answered before {wp.Describe(meta)} was sent, but its event came later");
                    }
                }

                // Gaps against the log: acknowledged puts to this key sent after the stream was established, and answered
                // before some delivered write of this key was sent, must have been delivered too.
                if (start?.Complete is not { } established)
                {
                    continue;
                }

                var delivered = list.Select(WriteOf).OfType<Op>().ToList();
                if (delivered.Count == 0)
                {
                    continue;
                }

                var latestSend = delivered.Max(w => w.Invoke);
                var values = list.Where(e => e.Value is not null).Select(e => e.Value!).ToHashSet(StringComparer.Ordinal);
                foreach (var w in writes.Where(w => w.Kind == OpKinds.KvPut && w.Outcome == Outcome.Ok && (w.Table ?? "") == key.Key.Item1 && w.Key == key.Key.Item2
                    && w.Invoke > established && w.CompleteOrEnd < latestSend && w.Value is not null && !values.Contains(w.Value)
                    && (start.Prefix is null || w.Key!.StartsWith(start.Prefix, StringComparison.Ordinal))))
                {
                    problems.Add($"stream {stream.Key}: gap: acknowledged {w.Describe(meta)} never came, though a later write of key {w.Key} did");
                }
            }
        }

        var counts = new Dictionary<string, long> { ["streams"] = events.Select(e => e.Stream).Distinct().Count(), ["events"] = events.Count, ["writes"] = writes.Count };
        var ops = events.Count + writes.Count;
        return (problems.Count > 0
            ? Verdict.Violation(Name, ops, string.Join("\n", problems.Distinct().Take(30)) + (problems.Count > 30 ? $"\n... and {problems.Count - 30} more" : ""))
            : Verdict.Ok(Name, ops)) with { Counts = counts };
    }
}
