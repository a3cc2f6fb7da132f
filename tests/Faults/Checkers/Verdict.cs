using System.Text;

namespace OrleansCompute.Faults.Checkers;

public enum VerdictKind
{
    /// <summary>The history satisfies the checked property.</summary>
    Ok,

    /// <summary>The history proves the property broken; <see cref="Verdict.Explanation"/> says how.</summary>
    Violation,

    /// <summary>The checker could not decide (budget spent, not enough information); the explanation says why.</summary>
    Unknown,
}

/// <summary>What one checker concluded about one history.</summary>
public sealed record Verdict(string Checker, VerdictKind Kind, string Explanation, int OpsChecked)
{
    /// <summary>Further counts worth reporting (keys, indeterminate ops, search steps, ...).</summary>
    public IReadOnlyDictionary<string, long> Counts { get; init; } = new Dictionary<string, long>();

    public bool IsOk => Kind == VerdictKind.Ok;

    public bool IsViolation => Kind == VerdictKind.Violation;

    public static Verdict Ok(string checker, int opsChecked, string explanation = "") =>
        new(checker, VerdictKind.Ok, explanation, opsChecked);

    public static Verdict Violation(string checker, int opsChecked, string explanation) =>
        new(checker, VerdictKind.Violation, explanation, opsChecked);

    public static Verdict Unknown(string checker, int opsChecked, string explanation) =>
        new(checker, VerdictKind.Unknown, explanation, opsChecked);

    public string KindText => Kind switch
    {
        VerdictKind.Ok => "ok",
        VerdictKind.Violation => "violation",
        _ => "unknown",
    };

    public override string ToString()
    {
        var text = $"{Checker}: {KindText} ({OpsChecked} ops checked)";
        if (Counts.Count > 0)
        {
            text += " " + string.Join(", ", Counts.Select(c => $"{c.Key}={c.Value}"));
        }

        return Explanation.Length == 0 ? text : text + "\n" + Explanation;
    }

    /// <summary>Combines verdicts of parts (keys, jobs, names): a violation wins, then unknown.</summary>
    public static Verdict Combine(string checker, IEnumerable<Verdict> parts, IReadOnlyDictionary<string, long>? counts = null)
    {
        var list = parts.ToList();
        var ops = list.Sum(v => v.OpsChecked);
        var kind = list.Any(v => v.IsViolation) ? VerdictKind.Violation
            : list.Any(v => v.Kind == VerdictKind.Unknown) ? VerdictKind.Unknown
            : VerdictKind.Ok;
        var explanation = string.Join("\n", list.Where(v => v.Kind == kind && v.Explanation.Length > 0).Select(v => v.Explanation));
        return new Verdict(checker, kind, explanation, ops) { Counts = counts ?? new Dictionary<string, long>() };
    }
}

/// <summary>
/// Collects verdicts of a run and renders them as the rows of the fault matrix in docs/reliability.md:
/// | fault | workload | checker | verdict | ops checked | note |.
/// </summary>
public sealed class VerdictReport
{
    private readonly List<(string Fault, string Workload, Verdict Verdict, string Note)> _rows = [];

    public IReadOnlyList<(string Fault, string Workload, Verdict Verdict, string Note)> Rows => _rows;

    public VerdictReport Add(string fault, string workload, Verdict verdict, string note = "")
    {
        _rows.Add((fault, workload, verdict, note));
        return this;
    }

    public bool AllOk => _rows.All(r => r.Verdict.IsOk);

    public static string Header =>
        "| fault | workload | checker | verdict | ops checked | note |\n|---|---|---|---|---:|---|\n";

    /// <summary>The table rows only (no header), one per verdict.</summary>
    public string MarkdownRows()
    {
        var text = new StringBuilder();
        foreach (var (fault, workload, verdict, note) in _rows)
        {
            var firstLine = verdict.Kind == VerdictKind.Ok ? note : Join(note, FirstLine(verdict.Explanation));
            text.Append($"| {Cell(fault)} | {Cell(workload)} | {Cell(verdict.Checker)} | {verdict.KindText} | {verdict.OpsChecked} | {Cell(firstLine)} |\n");
        }

        return text.ToString();
    }

    public string Markdown() => Header + MarkdownRows();

    /// <summary>Every non-ok verdict in full, for the report's details section.</summary>
    public string Details() => string.Join("\n\n", _rows
        .Where(r => !r.Verdict.IsOk)
        .Select(r => $"### {r.Fault} × {r.Workload}: {r.Verdict.Checker} {r.Verdict.KindText}\n\n```\n{r.Verdict.Explanation}\n```"));

    private static string Join(string a, string b) => a.Length == 0 ? b : b.Length == 0 ? a : a + "; " + b;

    private static string FirstLine(string text) => text.Split('\n')[0];

    private static string Cell(string text) => text.Replace("|", "\\|").Replace("\n", " ");
}
