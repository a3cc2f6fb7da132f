namespace OrleansCompute.Faults.Checkers;

public sealed record BankCheckOptions
{
    /// <summary>The total every read must see, when the history has no bank.init line.</summary>
    public long? ExpectedTotal { get; init; }

    /// <summary>Whether a balance below zero is a violation (the workload's transfers compare the balance first).</summary>
    public bool NonNegative { get; init; }

    /// <summary>Most distinct balance vectors the final-balance search may hold; past it that check is unknown.</summary>
    public int SearchLimit { get; init; } = 1_000_000;
}

/// <summary>
/// The bank over /v1/txn (SPEC §4.2, §8): transfers move money between accounts, reads read every balance in one txn.
/// <list type="bullet">
/// <item>Every ok read sees the initial total (accounts a read does not list count as 0).</item>
/// <item>The last read is explained by the initial balances plus every transfer that surely applied (acknowledged with
/// <c>succeeded</c> true or absent, and answered before the read began), plus some subset of the uncertain ones
/// (outcome unknown, or still running when the read began). Failed transfers and those whose compare failed applied
/// nothing. Decided exactly by a search over the reachable balance vectors, up to <see cref="BankCheckOptions.SearchLimit"/>.</item>
/// </list>
/// </summary>
public static class BankChecker
{
    public const string Name = "bank";

    public static Verdict Check(History history, BankCheckOptions? options = null)
    {
        options ??= new BankCheckOptions();
        var meta = history.Meta;
        var init = history.OfKind(OpKinds.BankInit).FirstOrDefault(o => o.Balances is not null);
        var reads = history.OfKind(OpKinds.BankRead).Where(o => o.Outcome == Outcome.Ok && o.Balances is not null).ToList();
        var transfers = history.OfKind(OpKinds.BankTransfer).ToList();
        var ops = reads.Count + transfers.Count + (init is null ? 0 : 1);
        long? total = init?.Balances!.Values.Sum() ?? options.ExpectedTotal;
        var problems = new List<string>();
        var note = "";
        if (total is null)
        {
            if (reads.Count == 0)
            {
                return Verdict.Unknown(Name, ops, "no bank.init, no expected total and no read: nothing to check");
            }

            total = reads.OrderBy(r => r.Invoke).First().Balances!.Values.Sum();
            note = $"total {total} taken from the first read (no bank.init line)";
        }

        foreach (var read in reads)
        {
            var sum = read.Balances!.Values.Sum();
            if (sum != total)
            {
                problems.Add($"read sees total {sum}, not {total}: {read.Describe(meta)} balances {Render(read.Balances!)}");
            }

            if (options.NonNegative && read.Balances!.FirstOrDefault(b => b.Value < 0) is { Key: not null } negative)
            {
                problems.Add($"read sees {negative.Key} = {negative.Value} < 0: {read.Describe(meta)}");
            }
        }

        var final = FinalCheck(init, reads, transfers, options, meta, out var finalNote);
        if (final is not null)
        {
            problems.Add(final);
        }

        var counts = new Dictionary<string, long>
        {
            ["reads"] = reads.Count,
            ["transfers"] = transfers.Count,
            ["uncertain"] = transfers.Count(t => t.Outcome == Outcome.Unknown),
        };
        var explanation = string.Join("; ", new[] { note, finalNote }.Where(s => s.Length > 0));
        if (problems.Count > 0)
        {
            return Verdict.Violation(Name, ops, string.Join("\n", problems.Take(20)) + (problems.Count > 20 ? $"\n... and {problems.Count - 20} more" : ""))
                with { Counts = counts };
        }

        return (finalNote.StartsWith("unknown", StringComparison.Ordinal)
            ? Verdict.Unknown(Name, ops, explanation)
            : Verdict.Ok(Name, ops, explanation)) with { Counts = counts };
    }

    private static string? FinalCheck(Op? init, List<Op> reads, List<Op> transfers, BankCheckOptions options, HistoryMeta meta, out string note)
    {
        note = "";
        if (init is null || reads.Count == 0)
        {
            note = "final balances not checked (no bank.init or no read)";
            return null;
        }

        var last = reads.OrderBy(r => r.Invoke).Last();
        var accounts = init.Balances!.Keys.Concat(last.Balances!.Keys)
            .Concat(transfers.SelectMany(t => new[] { t.From ?? "", t.To ?? "" }))
            .Where(a => a.Length > 0).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        var index = accounts.Select((a, i) => (a, i)).ToDictionary(x => x.a, x => x.i, StringComparer.Ordinal);
        var expected = new long[accounts.Count];
        foreach (var (account, balance) in init.Balances!)
        {
            expected[index[account]] += balance;
        }

        var uncertain = new List<(Op Op, long[] Delta)>();
        foreach (var t in transfers)
        {
            if (t.Outcome == Outcome.Fail || (t.Outcome == Outcome.Ok && t.Succeeded == false) || t.From is null || t.To is null || t.Amount is null)
            {
                continue;
            }

            var delta = new long[accounts.Count];
            delta[index[t.From]] -= t.Amount.Value;
            delta[index[t.To]] += t.Amount.Value;
            if (t.Invoke > last.CompleteOrEnd)
            {
                continue; // began after the read had its answer
            }

            if (t.Outcome == Outcome.Ok && t.CompleteOrEnd < last.Invoke)
            {
                for (var i = 0; i < delta.Length; i++)
                {
                    expected[i] += delta[i];
                }
            }
            else
            {
                uncertain.Add((t, delta));
            }
        }

        var observed = accounts.Select(a => last.Balances!.GetValueOrDefault(a)).ToArray();
        // Reachable: expected + any subset sum of the uncertain deltas; a set of vectors, grown one transfer at a time.
        var reachable = new HashSet<string> { Key(expected) };
        var vectors = new List<long[]> { expected };
        foreach (var (_, delta) in uncertain)
        {
            var added = new List<long[]>();
            foreach (var v in vectors)
            {
                var w = v.Zip(delta, (a, b) => a + b).ToArray();
                if (reachable.Add(Key(w)))
                {
                    added.Add(w);
                }
            }

            vectors.AddRange(added);
            if (vectors.Count > options.SearchLimit)
            {
                note = $"unknown: the final balances' search passed {options.SearchLimit} vectors ({uncertain.Count} uncertain transfers)";
                return null;
            }
        }

        if (reachable.Contains(Key(observed)))
        {
            note = $"final balances explained ({uncertain.Count} uncertain transfers)";
            return null;
        }

        var sure = expected.Select((e, i) => $"{accounts[i]}={e}");
        return $"the last read {last.Describe(meta)} sees {Render(last.Balances!)}; no set of the {uncertain.Count} uncertain transfers "
            + $"added to the initial balances and the acknowledged transfers ({string.Join(", ", sure)}) gives that: an acknowledged transfer was lost or one applied twice";
    }

    private static string Key(long[] v) => string.Join(',', v);

    private static string Render(Dictionary<string, long> balances) =>
        "{" + string.Join(", ", balances.OrderBy(b => b.Key, StringComparer.Ordinal).Select(b => $"{b.Key}={b.Value}")) + "}";
}
