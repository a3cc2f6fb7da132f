using System.Diagnostics;
using System.Text;

namespace OrleansCompute.Faults.Checkers;

/// <summary>What a delete does to a key's version (SPEC §4.1: versions start at 1 and grow by 1 on every write).</summary>
public enum VersionAfterDelete
{
    /// <summary>A key written again after a delete starts at version 1 again (what Grains/Data/ShardGrain.cs does:
    /// the next version is the current entry's + 1, and a deleted key has no current entry).</summary>
    Reset,

    /// <summary>A key written again after a delete goes on from its last version + 1.</summary>
    Continue,
}

public sealed record KvCheckOptions
{
    public VersionAfterDelete VersionAfterDelete { get; init; } = VersionAfterDelete.Reset;

    /// <summary>Search steps (linearization attempts that reached a new configuration) allowed per search of one
    /// key; past it the key's verdict is unknown.</summary>
    public long StepBudget { get; init; } = 5_000_000;

    /// <summary>Wall time for the whole check, minimization included; past it the verdict is unknown.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>On a violation, shrink it to the smallest window of time that still has no linearization.</summary>
    public bool FindSmallestWindow { get; init; } = true;

    /// <summary>Most ops a violation report lists.</summary>
    public int MaxReportedOps { get; init; } = 60;
}

/// <summary>
/// Linearizability of per-key registers with versions (SPEC §4.1, §8): the Wing–Gong search with Lowe's
/// just-in-time linearization and memoization of (linearized set, state), as in Porcupine and Knossos, one
/// key at a time (P-compositionality: a history is linearizable iff each key's is).
/// <para>Indeterminate ops (outcome unknown) may take effect at any point after their invoke, or never; with an
/// effect deadline (<see cref="HistoryMeta.EffectDeadline"/>) no later than invoke + deadline, or never. An
/// indeterminate read imposes nothing and is dropped; a failed op (definitely not applied) is dropped.
/// A 412 is an observation: the condition did not hold at the op's linearization point.</para>
/// </summary>
public static class KvLinearizabilityChecker
{
    public const string Name = "kv-linearizable";

    public static Verdict Check(History history, KvCheckOptions? options = null)
    {
        options ??= new KvCheckOptions();
        var clock = Stopwatch.StartNew();
        var values = new Dictionary<string, int>(StringComparer.Ordinal);
        var parts = new List<Verdict>();
        long steps = 0, indeterminate = 0, dropped = 0, keys = 0;
        var groups = history.Ops
            .Where(op => op.Kind is OpKinds.KvGet or OpKinds.KvPut or OpKinds.KvDelete)
            .GroupBy(op => (op.Table ?? "", op.Key ?? ""))
            .OrderBy(g => g.Key.Item1, StringComparer.Ordinal).ThenBy(g => g.Key.Item2, StringComparer.Ordinal);
        foreach (var group in groups)
        {
            keys++;
            var ops = Prepare(group, history.Meta.EffectDeadline, values, ref dropped);
            indeterminate += ops.Count(o => !o.Determinate);
            var keyName = group.Key.Item1.Length == 0 ? group.Key.Item2 : $"{group.Key.Item1}/{group.Key.Item2}";
            var search = new Search(ops, RegisterState.Initial, options, clock);
            var result = search.Run();
            steps += search.Steps;
            var count = group.Count();
            parts.Add(result switch
            {
                SearchResult.Linearizable => Verdict.Ok(Name, count),
                SearchResult.Unknown => Verdict.Unknown(Name, count,
                    $"key {keyName}: search gave up after {search.Steps} steps ({search.GaveUpBecause}); {ops.Count(o => !o.Determinate)} indeterminate ops"),
                _ => Verdict.Violation(Name, count, Explain(keyName, ops, history.Meta, options, clock, search.Steps, search.Frontier, ref steps)),
            });
        }

        var counts = new Dictionary<string, long>
        {
            ["keys"] = keys,
            ["indeterminate"] = indeterminate,
            ["dropped"] = dropped,
            ["steps"] = steps,
            ["ms"] = clock.ElapsedMilliseconds,
        };
        if (parts.Count == 0)
        {
            return Verdict.Ok(Name, 0, "no KV ops") with { Counts = counts };
        }

        return Verdict.Combine(Name, parts, counts);
    }

    // ---------------------------------------------------------------- preparation

    internal enum RegKind { Get, Put, Delete }

    internal sealed class RegOp
    {
        public required Op Source { get; init; }
        public RegKind Kind { get; init; }
        public bool Determinate { get; init; }
        public int Value { get; init; } = -1;
        public long? Version { get; init; }
        public long? IfVersion { get; init; }
        public bool IfAbsent { get; init; }

        /// <summary>For a determinate op: what it observed (null: a put that answered without saying created/replaced).</summary>
        public KvResult? Result { get; init; }

        public long Call { get; init; }

        /// <summary>By when it took effect: the answer of a determinate op; the effect deadline of an indeterminate one
        /// (long.MaxValue: none).</summary>
        public long Return { get; init; }

        /// <summary>The highest version the key may have just before this op, if its result pins one (for pruning).</summary>
        public long Cap { get; init; } = long.MaxValue;

        public bool IsDelete => Kind == RegKind.Delete;

        /// <summary>Indeterminate ops of one class are interchangeable (same effect on every state); -1: none.</summary>
        public int Class { get; set; } = -1;

        public RegOp AsIndeterminate(long returnBy) => new()
        {
            Source = Source,
            Kind = Kind,
            Determinate = false,
            Value = Value,
            IfVersion = IfVersion,
            IfAbsent = IfAbsent,
            Call = Call,
            Return = returnBy,
            Class = Class,
        };
    }

    internal static List<RegOp> Prepare(IEnumerable<Op> source, long? deadline, Dictionary<string, int> values, ref long dropped)
    {
        var list = new List<RegOp>();
        foreach (var op in source.OrderBy(o => o.Invoke).ThenBy(o => o.Line))
        {
            var kind = op.Kind switch
            {
                OpKinds.KvGet => RegKind.Get,
                OpKinds.KvPut => RegKind.Put,
                _ => RegKind.Delete,
            };
            var outcome = op.Outcome;
            var result = op.Result;
            if (op.Status == 412)
            {
                (outcome, result) = (Outcome.Ok, KvResult.PreconditionFailed);
            }
            else if (op.Status == 404 && kind != RegKind.Put)
            {
                (outcome, result) = (Outcome.Ok, KvResult.NotFound);
            }

            if (outcome == Outcome.Fail || (outcome == Outcome.Unknown && kind == RegKind.Get))
            {
                dropped++;
                continue;
            }

            var value = kind == RegKind.Put ? Intern(values, op.Value ?? "null") : -1;
            if (outcome == Outcome.Unknown)
            {
                list.Add(new RegOp
                {
                    Source = op,
                    Kind = kind,
                    Determinate = false,
                    Value = value,
                    IfVersion = op.IfVersion,
                    IfAbsent = op.IfAbsent == true,
                    Call = op.Invoke,
                    // Not its complete: a client that gave up knows nothing of when the write lands (it may be held and
                    // delivered late). Only the product's effect deadline bounds it.
                    Return = deadline is { } d ? SaturatingAdd(op.Invoke, d) : long.MaxValue,
                });
                continue;
            }

            if (kind == RegKind.Get)
            {
                result ??= op.Value is null ? KvResult.NotFound : KvResult.Ok;
                if (result == KvResult.Ok)
                {
                    value = Intern(values, op.Value ?? "null");
                }
            }
            else if (kind == RegKind.Delete)
            {
                result ??= KvResult.Ok;
            }

            long cap = long.MaxValue;
            if (result is KvResult.Ok or KvResult.Created or null)
            {
                cap = kind switch
                {
                    RegKind.Get or RegKind.Delete when op.Version is { } v => v,
                    RegKind.Put when op.Version is { } v => v - 1,
                    _ => long.MaxValue,
                };
                if (op.IfVersion is { } e && kind != RegKind.Get)
                {
                    cap = Math.Min(cap, e);
                }
            }

            list.Add(new RegOp
            {
                Source = op,
                Kind = kind,
                Determinate = true,
                Value = value,
                Version = op.Version,
                IfVersion = op.IfVersion,
                IfAbsent = op.IfAbsent == true,
                Result = result,
                Call = op.Invoke,
                Return = op.CompleteOrEnd,
                Cap = cap,
            });
        }

        return Canonicalize(list);
    }

    /// <summary>A value that no determinate read returned.</summary>
    internal const int Unobserved = -3;

    // Values no read returned are all alike to the model: they become one value, so configurations that differ only
    // in which unread value is current are one. Then indeterminate writes whose effect is the same on every state (an
    // unconditional put of an unread value, a delete, puts with the same If-Match or If-None-Match) form a class: the
    // search applies only the one with the earliest deadline of its class (symmetry reduction; see Search.FillCandidates).
    private static List<RegOp> Canonicalize(List<RegOp> list)
    {
        var read = list.Where(o => o.Determinate && o.Kind == RegKind.Get && o.Result == KvResult.Ok).Select(o => o.Value).ToHashSet();
        var classes = new Dictionary<(RegKind, long?, bool), int>();
        var result = new List<RegOp>(list.Count);
        foreach (var op in list)
        {
            var o = op;
            if (o.Kind == RegKind.Put && !read.Contains(o.Value))
            {
                o = new RegOp
                {
                    Source = o.Source, Kind = o.Kind, Determinate = o.Determinate, Value = Unobserved, Version = o.Version,
                    IfVersion = o.IfVersion, IfAbsent = o.IfAbsent, Result = o.Result, Call = o.Call, Return = o.Return, Cap = o.Cap,
                };
            }

            if (!o.Determinate && (o.Kind == RegKind.Delete || o.Value == Unobserved))
            {
                var key = (o.Kind, o.IfVersion, o.IfAbsent);
                if (!classes.TryGetValue(key, out var c))
                {
                    classes[key] = c = classes.Count;
                }

                o.Class = c;
            }

            result.Add(o);
        }

        return result;
    }

    private static long SaturatingAdd(long a, long b) => a > long.MaxValue - b ? long.MaxValue : a + b;

    private static int Intern(Dictionary<string, int> values, string value)
    {
        if (!values.TryGetValue(value, out var id))
        {
            values[value] = id = values.Count;
        }

        return id;
    }

    // ---------------------------------------------------------------- the register model

    internal readonly record struct RegisterState(byte Exists, int Value, long Version)
    {
        public const byte No = 0, Yes = 1, Any = 2;
        public const int AnyValue = -2;
        public const long AnyVersion = -1;

        public static readonly RegisterState Initial = new(No, -1, 0);

        /// <summary>The state at the start of a window cut out of the middle of a history: anything.</summary>
        public static readonly RegisterState Unknown = new(Any, AnyValue, AnyVersion);
    }

    internal static bool VersionMatches(long state, long v) => state == RegisterState.AnyVersion || state == v;

    internal static long NextVersion(RegisterState s, VersionAfterDelete mode) => s.Exists switch
    {
        RegisterState.Yes => s.Version == RegisterState.AnyVersion ? RegisterState.AnyVersion : s.Version + 1,
        RegisterState.No when mode == VersionAfterDelete.Reset => 1,
        RegisterState.No => s.Version == RegisterState.AnyVersion ? RegisterState.AnyVersion : s.Version + 1,
        _ => RegisterState.AnyVersion,
    };

    private static RegisterState Absent(RegisterState s, long? deletedVersion, VersionAfterDelete mode) =>
        new(RegisterState.No, -1, mode == VersionAfterDelete.Reset ? 0 : deletedVersion ?? s.Version);

    private static RegisterState AbsentFrom(RegisterState s, VersionAfterDelete mode) =>
        s.Exists == RegisterState.No ? s : new(RegisterState.No, -1, mode == VersionAfterDelete.Reset ? 0 : RegisterState.AnyVersion);

    private static RegisterState PresentFrom(RegisterState s) =>
        s.Exists == RegisterState.Yes ? s : new(RegisterState.Yes, RegisterState.AnyValue, RegisterState.AnyVersion);

    /// <summary>The state after linearizing op in s, or null if op cannot take effect there (a determinate op whose
    /// result contradicts s; an indeterminate op that would have no effect: leaving it pending is as good).</summary>
    internal static RegisterState? Step(RegisterState s, RegOp op, VersionAfterDelete mode)
    {
        const byte No = RegisterState.No, Yes = RegisterState.Yes;
        if (!op.Determinate)
        {
            switch (op.Kind)
            {
                case RegKind.Put when op.IfVersion is { } e:
                    if (s.Exists == No || (s.Exists == Yes && !VersionMatches(s.Version, e)))
                    {
                        return null;
                    }

                    return new RegisterState(Yes, op.Value, e + 1);
                case RegKind.Put when op.IfAbsent:
                    return s.Exists == Yes ? null : new RegisterState(Yes, op.Value, NextVersion(AbsentFrom(s, mode), mode));
                case RegKind.Put:
                    return new RegisterState(Yes, op.Value, NextVersion(s, mode));
                default: // delete
                    if (s.Exists == No || (op.IfVersion is { } de && s.Exists == Yes && !VersionMatches(s.Version, de)))
                    {
                        return null;
                    }

                    return Absent(s, op.IfVersion ?? (s.Exists == Yes ? s.Version : RegisterState.AnyVersion), mode);
            }
        }

        switch (op.Kind)
        {
            case RegKind.Get when op.Result == KvResult.NotFound:
                return s.Exists == Yes ? null : AbsentFrom(s, mode);
            case RegKind.Get:
                if (s.Exists == No || (s.Value != RegisterState.AnyValue && s.Value != op.Value))
                {
                    return null;
                }

                if (op.Version is { } gv && !VersionMatches(s.Version, gv))
                {
                    return null;
                }

                return new RegisterState(Yes, op.Value, op.Version ?? (s.Exists == Yes ? s.Version : RegisterState.AnyVersion));

            case RegKind.Put when op.Result == KvResult.PreconditionFailed:
                if (op.IfVersion is { } pe)
                {
                    return s.Exists == Yes && s.Version == pe ? null : s;
                }

                if (op.IfAbsent)
                {
                    return s.Exists == No ? null : PresentFrom(s);
                }

                return s;

            case RegKind.Put:
            {
                var before = s;
                if (op.Result == KvResult.Created || op.IfAbsent)
                {
                    if (s.Exists == Yes)
                    {
                        return null;
                    }

                    before = AbsentFrom(s, mode);
                }
                else if (op.Result == KvResult.Ok || op.IfVersion is not null)
                {
                    if (s.Exists == No)
                    {
                        return null;
                    }

                    before = PresentFrom(s);
                }

                long next;
                if (op.IfVersion is { } e)
                {
                    if (!VersionMatches(before.Version, e))
                    {
                        return null;
                    }

                    next = e + 1;
                }
                else
                {
                    next = NextVersion(before, mode);
                }

                if (op.Version is { } v)
                {
                    if (next != RegisterState.AnyVersion && next != v)
                    {
                        return null;
                    }

                    next = v;
                }

                return new RegisterState(Yes, op.Value, next);
            }

            case RegKind.Delete when op.Result == KvResult.NotFound:
                return s.Exists == Yes ? null : AbsentFrom(s, mode);
            case RegKind.Delete when op.Result == KvResult.PreconditionFailed:
                return op.IfVersion is { } de && s.Exists == Yes && s.Version == de ? null : s;
            default: // delete that deleted
                if (s.Exists == No)
                {
                    return null;
                }

                if ((op.IfVersion is { } dv && !VersionMatches(s.Version, dv)) || (op.Version is { } vv && !VersionMatches(s.Version, vv)))
                {
                    return null;
                }

                return Absent(s, op.IfVersion ?? op.Version ?? s.Version, mode);
        }
    }

    // ---------------------------------------------------------------- the search

    internal enum SearchResult { Linearizable, NotLinearizable, Unknown }

    private readonly record struct MemoKey(ulong H1, ulong H2, long Version, int Value, byte Exists);

    /// <summary>
    /// One search over one key's ops. Entries (calls and returns) sit in a doubly linked list in time order (a call
    /// before a return at the same tick: such ops count as concurrent, the lenient reading). At each node the
    /// candidates are the calls before the first return entry; an indeterminate op whose deadline entry comes first
    /// may also lapse there (no effect). Each step lifts the op's entries out of the list; backtracking puts them back.
    /// </summary>
    internal sealed class Search
    {
        private readonly List<RegOp> _ops;
        private readonly RegisterState _initial;
        private readonly KvCheckOptions _options;
        private readonly Stopwatch _clock;
        private readonly int[] _next, _prev, _entryOp;
        private readonly long[] _entryTime;
        private readonly bool[] _isCall;
        private readonly int[] _callEntry, _returnEntry;
        private readonly ulong[] _z1, _z2;
        private readonly HashSet<MemoKey> _memo = [];
        private readonly int[] _bestOfClass;
        private readonly List<int> _touched = [];

        public Search(List<RegOp> ops, RegisterState initial, KvCheckOptions options, Stopwatch clock)
        {
            _ops = ops;
            _initial = initial;
            _options = options;
            _clock = clock;
            var entries = new List<(long Time, bool Call, int Op)>();
            for (var i = 0; i < ops.Count; i++)
            {
                entries.Add((ops[i].Call, true, i));
                if (ops[i].Return != long.MaxValue)
                {
                    entries.Add((ops[i].Return, false, i));
                }
            }

            entries.Sort((a, b) => a.Time != b.Time ? a.Time.CompareTo(b.Time) : a.Call != b.Call ? (a.Call ? -1 : 1) : a.Op.CompareTo(b.Op));
            var m = entries.Count;
            _next = new int[m + 1];
            _prev = new int[m + 1];
            _entryOp = new int[m + 1];
            _entryTime = new long[m + 1];
            _isCall = new bool[m + 1];
            _callEntry = new int[ops.Count];
            _returnEntry = Enumerable.Repeat(-1, ops.Count).ToArray();
            for (var e = 1; e <= m; e++)
            {
                var (time, call, op) = entries[e - 1];
                _entryOp[e] = op;
                _entryTime[e] = time;
                _isCall[e] = call;
                if (call)
                {
                    _callEntry[op] = e;
                }
                else
                {
                    _returnEntry[op] = e;
                }
            }

            for (var e = 0; e <= m; e++)
            {
                _next[e] = e == m ? -1 : e + 1;
                _prev[e] = e - 1;
            }

            _bestOfClass = Enumerable.Repeat(-1, ops.Count == 0 ? 0 : ops.Max(o => o.Class) + 1).ToArray();
            var random = new Random(1234567);
            _z1 = new ulong[ops.Count];
            _z2 = new ulong[ops.Count];
            for (var i = 0; i < ops.Count; i++)
            {
                _z1[i] = (ulong)random.NextInt64() ^ ((ulong)random.NextInt64() << 1);
                _z2[i] = (ulong)random.NextInt64() ^ ((ulong)random.NextInt64() << 1);
            }
        }

        public long Steps { get; private set; }

        public string GaveUpBecause { get; private set; } = "";

        /// <summary>The latest answer time the search was ever held up at (the first return entry of a node): a failing
        /// search never got past it, so the violation shows in the history cut there.</summary>
        public long Frontier { get; private set; } = long.MinValue;

        private sealed class Frame
        {
            public readonly List<int> Candidates = [];
            public int Next;
            public RegisterState State;
            public ulong H1, H2;
            public int Applied = -1;
        }

        public SearchResult Run()
        {
            var remaining = _ops.Count(o => o.Determinate);
            if (remaining == 0)
            {
                return SearchResult.Linearizable;
            }

            var mode = _options.VersionAfterDelete;
            var pool = new Stack<Frame>();
            var frames = new Stack<Frame>();
            var root = new Frame { State = _initial };
            FillCandidates(root);
            frames.Push(root);
            var deadline = _options.Timeout;
            while (frames.Count > 0)
            {
                var f = frames.Peek();
                if (f.Applied != -1)
                {
                    Unlift(f.Applied >> 1);
                    if (_ops[f.Applied >> 1].Determinate && (f.Applied & 1) == 0)
                    {
                        remaining++;
                    }

                    f.Applied = -1;
                }

                if (f.Next >= f.Candidates.Count)
                {
                    pool.Push(frames.Pop());
                    continue;
                }

                var candidate = f.Candidates[f.Next++];
                var opIndex = candidate >> 1;
                var lapse = (candidate & 1) == 1;
                var op = _ops[opIndex];
                RegisterState next;
                if (lapse)
                {
                    next = f.State;
                }
                else if (Step(f.State, op, mode) is { } s)
                {
                    next = s;
                }
                else
                {
                    continue;
                }

                var h1 = f.H1 ^ _z1[opIndex];
                var h2 = f.H2 ^ _z2[opIndex];
                if (!_memo.Add(new MemoKey(h1, h2, next.Version, next.Value, next.Exists)))
                {
                    continue;
                }

                if (++Steps > _options.StepBudget)
                {
                    GaveUpBecause = $"step budget {_options.StepBudget} spent";
                    return SearchResult.Unknown;
                }

                if ((Steps & 0xFFF) == 0 && _clock.Elapsed > deadline)
                {
                    GaveUpBecause = $"timeout {deadline.TotalSeconds:F0}s";
                    return SearchResult.Unknown;
                }

                Lift(opIndex);
                f.Applied = candidate;
                if (op.Determinate && !lapse)
                {
                    remaining--;
                    if (remaining == 0)
                    {
                        return SearchResult.Linearizable;
                    }
                }

                if (Prune(next))
                {
                    continue;
                }

                var child = pool.Count > 0 ? pool.Pop() : new Frame();
                child.State = next;
                child.H1 = h1;
                child.H2 = h2;
                child.Applied = -1;
                FillCandidates(child);
                frames.Push(child);
            }

            return SearchResult.NotLinearizable;
        }

        // Candidates, in the order tried: a lapse of the indeterminate op whose deadline comes first (if its entry is
        // the first return), then determinate calls, then indeterminate calls, all before the first return entry.
        private void FillCandidates(Frame f)
        {
            f.Candidates.Clear();
            f.Next = 0;
            var firstIndeterminate = -1;
            for (var e = _next[0]; e != -1; e = _next[e])
            {
                var op = _entryOp[e];
                if (!_isCall[e])
                {
                    Frontier = Math.Max(Frontier, _entryTime[e]);
                    if (!_ops[op].Determinate)
                    {
                        f.Candidates.Insert(0, (op << 1) | 1);
                    }

                    break;
                }

                if (_ops[op].Determinate)
                {
                    f.Candidates.Add(op << 1);
                }
                else if (firstIndeterminate == -1)
                {
                    firstIndeterminate = e;
                }
            }

            if (firstIndeterminate == -1)
            {
                return;
            }

            // Of each class of interchangeable indeterminate ops, only the one with the earliest deadline (then the
            // lowest index) is a candidate: a linearization applying another one here can apply this one instead and
            // the other in this one's later place, which is within the other's deadline.
            _touched.Clear();
            for (var e = firstIndeterminate; e != -1; e = _next[e])
            {
                if (!_isCall[e])
                {
                    break;
                }

                var index = _entryOp[e];
                var op = _ops[index];
                if (op.Determinate)
                {
                    continue;
                }

                if (op.Class < 0)
                {
                    f.Candidates.Add(index << 1);
                    continue;
                }

                var best = _bestOfClass[op.Class];
                if (best == -1)
                {
                    _touched.Add(op.Class);
                    _bestOfClass[op.Class] = index;
                }
                else if (op.Return < _ops[best].Return || (op.Return == _ops[best].Return && index < best))
                {
                    _bestOfClass[op.Class] = index;
                }
            }

            foreach (var c in _touched)
            {
                f.Candidates.Add(_bestOfClass[c] << 1);
                _bestOfClass[c] = -1;
            }
        }

        // Versions only grow until a delete resets them (Reset mode). A determinate op that must be linearized before
        // any pending delete could be, and whose result pins a version below the current one, can never be linearized.
        private bool Prune(RegisterState s)
        {
            if (s.Version == RegisterState.AnyVersion)
            {
                return false;
            }

            var reset = _options.VersionAfterDelete == VersionAfterDelete.Reset;
            var seen = 0;
            for (var e = _next[0]; e != -1 && seen < 256; e = _next[e], seen++)
            {
                var op = _ops[_entryOp[e]];
                if (_isCall[e])
                {
                    if (reset && op.IsDelete && CanReset(op, s.Version))
                    {
                        return false;
                    }

                    continue;
                }

                if (op.Determinate && s.Version > op.Cap)
                {
                    return true;
                }
            }

            return false;
        }

        // Whether a pending delete could be the first to bring the version down from v: not one that answered 404 or 412
        // (no effect), nor one whose answer pins a version below v (it needs a reset before it itself).
        private static bool CanReset(RegOp delete, long v) =>
            !delete.Determinate || (delete.Result == KvResult.Ok && delete.Cap >= v);

        private void Lift(int op)
        {
            var c = _callEntry[op];
            _next[_prev[c]] = _next[c];
            if (_next[c] != -1)
            {
                _prev[_next[c]] = _prev[c];
            }

            var r = _returnEntry[op];
            if (r != -1)
            {
                _next[_prev[r]] = _next[r];
                if (_next[r] != -1)
                {
                    _prev[_next[r]] = _prev[r];
                }
            }
        }

        private void Unlift(int op)
        {
            var r = _returnEntry[op];
            if (r != -1)
            {
                _next[_prev[r]] = r;
                if (_next[r] != -1)
                {
                    _prev[_next[r]] = r;
                }
            }

            var c = _callEntry[op];
            _next[_prev[c]] = c;
            if (_next[c] != -1)
            {
                _prev[_next[c]] = c;
            }
        }
    }

    // ---------------------------------------------------------------- the report of a violation

    /// <summary>
    /// Shrinks a violation to a window [s, t] of time: t is the earliest answer time such that the history cut at t
    /// (ops invoked later dropped, ops still running at t made indeterminate) has no linearization; s the latest start
    /// such that the ops from s on (ops straddling s made indeterminate, starting from any state) still have none.
    /// Both properties are monotone, so each is a binary search of full searches.
    /// </summary>
    private static string Explain(string key, List<RegOp> ops, HistoryMeta meta, KvCheckOptions options, Stopwatch clock, long firstSteps, long frontier, ref long steps)
    {
        var text = new StringBuilder();
        var window = ops;
        long start = long.MinValue, end = long.MaxValue;
        var shrunk = false;
        if (options.FindSmallestWindow)
        {
            var ends = ops.Where(o => o.Determinate).Select(o => o.Return).Distinct().Order().ToList();
            int lo = 0, hi = ends.Count - 1;
            // The first search never got past its frontier: try the cut there first, then search below it, where cuts
            // are mostly linearizable and cheap to show so.
            var hint = ends.BinarySearch(frontier);
            hint = hint < 0 ? Math.Min(~hint, hi) : hint;
            var localSteps = 0L;
            // A search of a window gets a budget in proportion to the search that found the violation; one that spends it
            // counts as "not shown to fail", so the window found may be larger than the smallest, never wrong.
            var budget = options with { StepBudget = Math.Min(options.StepBudget, Math.Max(4 * firstSteps, 100_000)) };
            bool Fails(List<RegOp> subset, RegisterState initial)
            {
                var search = new Search(subset, initial, budget, clock);
                var result = search.Run();
                localSteps += search.Steps;
                return result == SearchResult.NotLinearizable;
            }

            if (hint < hi && Fails(Cut(ops, long.MinValue, ends[hint]), RegisterState.Initial))
            {
                hi = hint;
            }

            while (lo < hi && clock.Elapsed < options.Timeout)
            {
                var mid = (lo + hi) / 2;
                if (Fails(Cut(ops, long.MinValue, ends[mid]), RegisterState.Initial))
                {
                    hi = mid;
                }
                else
                {
                    lo = mid + 1;
                }
            }

            end = ends.Count > 0 ? ends[hi] : long.MaxValue; // ends[hi] always fails
            var cut = Cut(ops, long.MinValue, end);
            var starts = cut.Select(o => o.Call).Distinct().Order().ToList();
            // starts[0] (everything, from the real initial state) is known to fail; find the last start that does.
            // Gallop back from the end first: small windows are cheap to search, large ones from any state are not.
            int a = 0, b = starts.Count - 1;
            for (var step = 1; clock.Elapsed < options.Timeout; step *= 2)
            {
                var i = starts.Count - step;
                if (i <= a)
                {
                    break;
                }

                if (Fails(Cut(ops, starts[i], end), RegisterState.Unknown))
                {
                    a = i;
                    break;
                }

                b = i - 1;
            }

            while (a < b && clock.Elapsed < options.Timeout)
            {
                var mid = (a + b + 1) / 2;
                if (Fails(Cut(ops, starts[mid], end), RegisterState.Unknown))
                {
                    a = mid;
                }
                else
                {
                    b = mid - 1;
                }
            }

            start = a == 0 ? long.MinValue : starts[a];
            window = Cut(ops, start, end);
            steps += localSteps;
            shrunk = true;
        }

        var culprit = window.FirstOrDefault(o => o.Determinate && o.Return == end);
        text.Append($"key {key}: not linearizable ({ops.Count} ops, {ops.Count(o => !o.Determinate)} indeterminate).");
        if (shrunk)
        {
            var from = start == long.MinValue ? "the start of the history" : $"{meta.Seconds(start):F3}s (from any state)";
            text.Append($" Smallest violating window found: {window.Count} ops, from {from} to {meta.Seconds(end):F3}s;");
            text.Append(" no order of them that respects real time explains every result.\n");
            if (culprit is not null)
            {
                text.Append($"  it fails once this answer is in: {culprit.Source.Describe(meta)}\n");
            }
        }
        else
        {
            text.Append('\n');
        }

        foreach (var op in window.OrderBy(o => o.Call).Take(options.MaxReportedOps))
        {
            var note = !op.Determinate && op.Source.Outcome != Outcome.Unknown ? " (straddles the window: may or may not have taken effect in it)" : "";
            text.Append($"  {op.Source.Describe(meta)}{note}\n");
        }

        if (window.Count > options.MaxReportedOps)
        {
            text.Append($"  ... and {window.Count - options.MaxReportedOps} more\n");
        }

        return text.ToString().TrimEnd();
    }

    /// <summary>The ops of [start, end]: invoked after end dropped; answered before start dropped; answered after end,
    /// or straddling start, made indeterminate (reads dropped: they then impose nothing).</summary>
    private static List<RegOp> Cut(List<RegOp> ops, long start, long end)
    {
        var cut = new List<RegOp>();
        foreach (var op in ops)
        {
            if (op.Call > end || op.Return < start)
            {
                continue;
            }

            var partial = op.Determinate && (op.Return > end || op.Call < start);
            if (!partial)
            {
                cut.Add(op);
            }
            else if (op.Kind != RegKind.Get && op.Result != KvResult.PreconditionFailed && op.Result != KvResult.NotFound)
            {
                cut.Add(op.AsIndeterminate(op.Return));
            }
        }

        return cut;
    }
}
