using OrleansCompute.Faults.Checkers;

namespace OrleansCompute.Tests.Unit.Checkers;

/// <summary>
/// Random linearizable register histories, made by simulation: each client runs ops one after another, each op takes
/// effect at a point inside its interval (or, for an unknown write, later or never), and results come from applying
/// the ops in the order of those points to a register with versions that reset on delete.
/// </summary>
internal static class RegisterHistories
{
    private sealed class Sim
    {
        public int Process;
        public string Key = "";
        public string Kind = "";
        public long Invoke, Complete, Effect;
        public bool Unknown, Applied = true, Conditional;
        public string Value = "";
    }

    public static History Generate(int seed, int processes, int opsPerKey, int keys, int unknownWrites, double zombieFraction, int deletePercent = 7, long? effectDeadline = null)
    {
        var random = new Random(seed);
        var total = opsPerKey * keys;
        var clocks = Enumerable.Range(0, processes).Select(_ => (long)random.Next(0, 5)).ToArray();
        var sims = new List<Sim>();
        for (var i = 0; i < total; i++)
        {
            var p = i % processes;
            var duration = random.Next(2, 30);
            var roll = random.Next(100);
            var sim = new Sim
            {
                Process = p,
                Key = $"k{random.Next(keys)}",
                Kind = roll < 50 ? OpKinds.KvGet : roll < 100 - deletePercent ? OpKinds.KvPut : OpKinds.KvDelete,
                Conditional = roll >= 80 && roll < 100 - deletePercent,
                Invoke = clocks[p],
                Complete = clocks[p] + duration,
                Value = $"p{p}-{i}",
            };
            sim.Effect = sim.Invoke + 1 + random.Next(duration - 1);
            clocks[p] = sim.Complete + random.Next(0, 4);
            sims.Add(sim);
        }

        var writes = sims.Where(s => s.Kind != OpKinds.KvGet).ToList();
        foreach (var sim in writes.OrderBy(_ => random.Next()).Take(unknownWrites))
        {
            sim.Unknown = true;
            if (random.NextDouble() < zombieFraction)
            {
                // Held somewhere and delivered late; with an effect deadline, still within it.
                sim.Effect = effectDeadline is { } d ? sim.Complete + random.NextInt64(1, Math.Max(2, sim.Invoke + d - sim.Complete))
                    : sim.Complete + random.Next(100, 3000);
            }
            else
            {
                sim.Applied = random.Next(2) == 0;
            }
        }

        // Apply in effect order; the kind/ifVersion of an op depends only on its own client's earlier ops.
        var state = new Dictionary<string, (bool Exists, string Value, long Version)>();
        var seen = new Dictionary<(int, string), long>();
        var ops = new Op[sims.Count];
        var order = Enumerable.Range(0, sims.Count).OrderBy(i => sims[i].Effect).ThenBy(i => i).ToList();
        foreach (var i in order)
        {
            var s = sims[i];
            var (exists, value, version) = state.GetValueOrDefault(s.Key, (false, "", 0));
            long? ifVersion = s.Conditional ? seen.GetValueOrDefault((s.Process, s.Key), 1) : null;
            var op = new Op
            {
                Kind = s.Kind, Process = s.Process, Invoke = s.Invoke, Complete = s.Complete, Table = "t", Key = s.Key,
                Outcome = s.Unknown ? Outcome.Unknown : Outcome.Ok,
                IfVersion = s.Kind == OpKinds.KvPut ? ifVersion : null,
                Value = s.Kind == OpKinds.KvPut ? s.Value : null,
            };
            if (s.Kind == OpKinds.KvGet)
            {
                op = exists
                    ? op with { Value = value, Version = version, Result = KvResult.Ok }
                    : op with { Result = KvResult.NotFound, Status = 404 };
                if (exists)
                {
                    seen[(s.Process, s.Key)] = version;
                }
            }
            else if (s.Kind == OpKinds.KvPut)
            {
                var holds = ifVersion is not { } e || (exists && version == e);
                if (!s.Applied)
                {
                }
                else if (!holds)
                {
                    op = s.Unknown ? op : op with { Result = KvResult.PreconditionFailed, Status = 412 };
                }
                else
                {
                    var next = exists ? version + 1 : 1;
                    state[s.Key] = (true, s.Value, next);
                    seen[(s.Process, s.Key)] = next;
                    op = s.Unknown ? op : op with { Version = next, Result = exists ? KvResult.Ok : KvResult.Created, Status = exists ? 200 : 201 };
                }
            }
            else if (s.Applied)
            {
                if (exists)
                {
                    state[s.Key] = (false, "", 0);
                    op = s.Unknown ? op : op with { Version = version, Result = KvResult.Ok, Status = 204 };
                }
                else
                {
                    op = s.Unknown ? op : op with { Result = KvResult.NotFound, Status = 404 };
                }
            }

            ops[i] = op;
        }

        return new History(ops, new HistoryMeta { TicksPerSecond = 100, EffectDeadline = effectDeadline });
    }

    /// <summary>The history with one read changed to return a value that had surely been overwritten before it began.</summary>
    public static History WithStaleRead(History history, int seed)
    {
        var ops = history.Ops.ToList();
        var random = new Random(seed);
        foreach (var g in Enumerable.Range(ops.Count / 3, ops.Count / 3).OrderBy(_ => random.Next()))
        {
            var get = ops[g];
            if (get.Kind != OpKinds.KvGet || get.Result != KvResult.Ok)
            {
                continue;
            }

            var puts = ops.Where(o => o.Kind == OpKinds.KvPut && o.Key == get.Key && o.Outcome == Outcome.Ok && o.Version is not null).ToList();
            var stale = puts.Where(p => p.Value != get.Value && p.Complete < get.Invoke
                && puts.Any(q => q.Invoke > p.Complete && q.Complete < get.Invoke)).OrderByDescending(p => p.Complete).FirstOrDefault();
            if (stale is null)
            {
                continue;
            }

            ops[g] = get with { Value = stale.Value, Version = stale.Version };
            return new History(history.Meta, ops);
        }

        throw new InvalidOperationException("no read to make stale");
    }
}
