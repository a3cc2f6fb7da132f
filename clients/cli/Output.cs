using System.Text.Json;
using Spectre.Console;

namespace OrleansCompute.Cli;

/// <summary>Prints answers as a table for people, or as the Api's JSON for scripts (<c>--output json</c>).</summary>
public sealed class Output(IAnsiConsole console, string format)
{
    private static readonly JsonSerializerOptions Indented = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    public IAnsiConsole Console => console;

    public bool Json => format == "json";

    /// <summary>One value: JSON, or the given key-value rows.</summary>
    public int Show<T>(T value, Func<T, IEnumerable<(string Name, string? Value)>> rows)
    {
        if (Json)
        {
            WriteJson(value);
            return Occtl.Ok;
        }

        var grid = new Grid().AddColumn().AddColumn();
        foreach (var (name, text) in rows(value))
        {
            grid.AddRow(new Text(name, new Style(decoration: Decoration.Bold)), new Text(text ?? "-"));
        }

        console.Write(grid);
        return Occtl.Ok;
    }

    /// <summary>A list: a JSON array, or a table with the given columns.</summary>
    public int List<T>(IReadOnlyList<T> items, string[] columns, Func<T, string?[]> row)
    {
        if (Json)
        {
            WriteJson(items);
            return Occtl.Ok;
        }

        var table = new Table().AddColumns(columns);
        foreach (var item in items)
        {
            table.AddRow(row(item).Select(cell => new Text(cell ?? "-")).ToArray<Spectre.Console.Rendering.IRenderable>());
        }

        console.Write(table);
        return Occtl.Ok;
    }

    public void WriteJson<T>(T value) => console.Profile.Out.Writer.WriteLine(JsonSerializer.Serialize(value, Indented));

    /// <summary>A JSON value in one line, the way the Api stored it.</summary>
    public static string Compact(JsonElement? value) => value is { ValueKind: not JsonValueKind.Undefined } v ? v.GetRawText() : "-";

    public static string? Time(DateTimeOffset? time) => time?.ToUniversalTime().ToString("yyyy-MM-dd HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture);
}
