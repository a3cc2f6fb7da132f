using OrleansCompute.Faults.Checkers;
using static OrleansCompute.Faults.Checkers.KvLinearizabilityChecker;

namespace OrleansCompute.Tests.Unit.Checkers;

/// <summary>
/// The search (memo, symmetry reduction, pruning, lapses at deadlines) must agree with a plain enumeration of every
/// order that respects real time, on small random histories: those made linearizable by simulation, and the same with
/// one result changed at random.
/// </summary>
public class KvSearchAgreementTests
{
    [Fact]
    public void The_search_agrees_with_brute_force_on_small_random_histories()
    {
        var disagreements = new List<string>();
        int violations = 0, checkedHistories = 0;
        for (var seed = 0; seed < 1500; seed++)
        {
            var random = new Random(seed);
            long? deadline = random.Next(3) == 0 ? random.Next(20, 80) : null;
            var history = RegisterHistories.Generate(seed, processes: 3, opsPerKey: 7, keys: 1, unknownWrites: random.Next(0, 3),
                zombieFraction: 0.5, deletePercent: 15, effectDeadline: deadline);
            foreach (var mutate in new[] { false, true })
            {
                var h = mutate ? Mutate(history, random) : history;
                long dropped = 0;
                var ops = Prepare(h.Ops, deadline, new Dictionary<string, int>(StringComparer.Ordinal), ref dropped);
                var expected = BruteForce(ops);
                var verdict = KvLinearizabilityChecker.Check(h);
                checkedHistories++;
                if (!expected)
                {
                    violations++;
                }

                if (verdict.IsViolation == expected || verdict.Kind == VerdictKind.Unknown)
                {
                    disagreements.Add($"seed {seed} mutated={mutate}: brute force {(expected ? "linearizable" : "not")}, checker {verdict}\n{HistoryWriter.ToJsonl(h)}");
                }
            }
        }

        Assert.True(disagreements.Count == 0, $"{disagreements.Count} disagreements of {checkedHistories}; first:\n{disagreements.FirstOrDefault()}");
        Assert.True(violations > 100, $"only {violations} non-linearizable histories: the mutations are too weak to test anything");
    }

    private static History Mutate(History history, Random random)
    {
        var ops = history.Ops.ToList();
        var answered = Enumerable.Range(0, ops.Count).Where(i => ops[i].Outcome == Outcome.Ok).ToList();
        if (answered.Count == 0)
        {
            return history;
        }

        var i = answered[random.Next(answered.Count)];
        var op = ops[i];
        var other = ops[random.Next(ops.Count)];
        ops[i] = random.Next(4) switch
        {
            0 => op with { Version = (op.Version ?? 1) + (random.Next(2) == 0 ? 1 : -1) },
            1 when op.Kind == OpKinds.KvGet => op with { Value = other.Value ?? "x", Result = KvResult.Ok, Status = 200, Version = other.Version ?? 1 },
            2 => op with { Result = op.Result == KvResult.NotFound ? KvResult.Ok : KvResult.NotFound, Status = null },
            _ => op with { Outcome = Outcome.Fail, Status = 400 },
        };
        return new History(history.Meta, ops);
    }

    // Every order of the ops that respects real time; each indeterminate op applied at one point or never.
    private static bool BruteForce(List<RegOp> ops)
    {
        var placed = new bool[ops.Count];
        return Place(RegisterState.Initial, ops.Count(o => o.Determinate));

        bool Place(RegisterState state, int remaining)
        {
            if (remaining == 0)
            {
                return true;
            }

            for (var i = 0; i < ops.Count; i++)
            {
                if (placed[i] || ops.Where((b, j) => !placed[j] && j != i && b.Return < ops[i].Call).Any())
                {
                    continue;
                }

                var op = ops[i];
                placed[i] = true;
                if (Step(state, op, VersionAfterDelete.Reset) is { } next && Place(next, remaining - (op.Determinate ? 1 : 0)))
                {
                    placed[i] = false;
                    return true;
                }

                if (!op.Determinate && Place(state, remaining))
                {
                    placed[i] = false;
                    return true;
                }

                placed[i] = false;
            }

            return false;
        }
    }
}
