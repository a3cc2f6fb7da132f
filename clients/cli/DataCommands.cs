using System.CommandLine;
using System.Text.Json;
using OrleansCompute.Client;

namespace OrleansCompute.Cli;

/// <summary><c>occtl tables ...</c>, <c>occtl kv ...</c> and <c>occtl txn</c>.</summary>
public static class DataCommands
{
    public static Command Tables(CommandFactory commands)
    {
        var table = new Argument<string>("table") { Description = "The table name." };
        var shards = new Option<int?>("--shards") { Description = "Shard count (default 16)." };
        var transactional = new Option<bool>("--transactional") { Description = "Keys take part in /v1/txn transactions." };
        return CommandFactory.Group("tables", "Create, list, describe and drop tables.",
            commands.Create("list", "List tables.", async (parse, s, ct) =>
                s.Output.List(await s.Client.ListTablesAsync(cancellationToken: ct).ToListAsync(ct), ["name", "shards", "transactional", "created"],
                    t => [t.Name, Num(t.Shards), t.Transactional ? "yes" : "no", Output.Time(t.CreatedAt)])),
            commands.Create("get", "Describe a table with its key count.", async (parse, s, ct) =>
                await s.Client.GetTableAsync(parse.GetValue(table)!, ct) is { } t
                    ? s.Output.Show(t, Rows)
                    : await commands.NotFoundAsync($"table '{parse.GetValue(table)}'"), table),
            commands.Create("create", "Create a table (or find the identical one).", async (parse, s, ct) =>
                s.Output.Show(await s.Client.CreateTableAsync(parse.GetValue(table)!,
                    new TableOptions(parse.GetValue(transactional), parse.GetValue(shards)), ct), Rows), table, shards, transactional),
            commands.Create("drop", "Drop a table with all its keys.", async (parse, s, ct) =>
                await s.Client.DropTableAsync(parse.GetValue(table)!, ct) ? Occtl.Ok : await commands.NotFoundAsync($"table '{parse.GetValue(table)}'"), table));
    }

    public static Command Kv(CommandFactory commands)
    {
        var table = new Argument<string>("table") { Description = "The table." };
        var key = new Argument<string>("key") { Description = "The key (any UTF-8, '/' included)." };
        var value = new Argument<string?>("value") { Description = "A JSON value; omit it to read from --file or standard input.", Arity = ArgumentArity.ZeroOrOne };
        var file = new Option<FileInfo?>("--file", "-f") { Description = "Read the value from this file." };
        var ifVersion = new Option<long?>("--if-version") { Description = "Only if the key is at this version (If-Match)." };
        var createOnly = new Option<bool>("--create-only") { Description = "Only if the key does not exist (If-None-Match: *)." };
        var ttl = new Option<int?>("--ttl") { Description = "Expire the key after this many seconds." };
        var prefix = new Option<string?>("--prefix") { Description = "Only keys starting with this." };
        var limit = new Option<int?>("--limit") { Description = "At most this many keys." };
        var cursor = new Option<string?>("--cursor") { Description = "Resume after this cursor (a watch event's cursor)." };
        var fromRevision = new Option<long?>("--from-revision") { Description = "Start at this revision of every shard (default: now)." };
        return CommandFactory.Group("kv", "Read and write keys.",
            commands.Create("get", "Print a key's value (exactly as written); its version goes to the table output.", async (parse, s, ct) =>
            {
                if (await s.Client.GetAsync(parse.GetValue(table)!, parse.GetValue(key)!, ct) is not { } entry)
                {
                    return await commands.NotFoundAsync($"key '{parse.GetValue(key)}'");
                }

                if (s.Output.Json)
                {
                    s.Output.Console.Profile.Out.Writer.WriteLine(entry.Value.GetRawText());
                    return Occtl.Ok;
                }

                return s.Output.Show(entry, e => [("key", e.Key), ("version", Num(e.Version)), ("value", e.Value.GetRawText())]);
            }, table, key),
            commands.Create("put", "Write a key.", async (parse, s, ct) =>
            {
                var json = Json.Parse(parse.GetValue(value) ?? await ReadValueAsync(parse.GetValue(file), ct), "value");
                var written = await s.Client.PutAsync(parse.GetValue(table)!, parse.GetValue(key)!, json,
                    new PutOptions(parse.GetValue(ifVersion), parse.GetValue(createOnly), parse.GetValue(ttl)), ct);
                return s.Output.Show(written, w => [("key", w.Key), ("version", Num(w.Version)), ("created", w.Created ? "yes" : "no")]);
            }, table, key, value, file, ifVersion, createOnly, ttl),
            commands.Create("del", "Delete a key.", async (parse, s, ct) =>
                await s.Client.DeleteAsync(parse.GetValue(table)!, parse.GetValue(key)!, parse.GetValue(ifVersion), ct)
                    ? Occtl.Ok
                    : await commands.NotFoundAsync($"key '{parse.GetValue(key)}'"), table, key, ifVersion),
            commands.Create("scan", "List keys in order, optionally with a prefix.", async (parse, s, ct) =>
            {
                var keys = s.Client.ScanAsync(parse.GetValue(table)!, parse.GetValue(prefix), cancellationToken: ct);
                var items = await (parse.GetValue(limit) is { } most ? keys.Take(most) : keys).ToListAsync(ct);
                return s.Output.List(items, ["key", "version", "value"], k => [k.Key, Num(k.Version), Output.Compact(k.Value)]);
            }, table, prefix, limit),
            commands.Create("watch", "Follow changes of keys as they happen (put/delete lines; --json: one JSON event per line, with its cursor). Ctrl-C stops.", async (parse, s, ct) =>
            {
                var writer = s.Output.Console.Profile.Out.Writer;
                await foreach (var change in s.Client.WatchAsync(parse.GetValue(table)!, parse.GetValue(prefix), parse.GetValue(cursor), parse.GetValue(fromRevision), ct))
                {
                    if (s.Output.Json)
                    {
                        writer.WriteLine(JsonSerializer.Serialize(change, JsonSerializerOptions.Web));
                    }
                    else if (change.Type is "put" or "delete")
                    {
                        writer.WriteLine($"{change.Type,-6} {change.Key} v{Num(change.Version)} r{Num(change.Revision)}{(change.Type == "put" ? " " + Output.Compact(change.Value) : "")}");
                    }
                    else if (change.Type is "compacted" or "dropped")
                    {
                        writer.WriteLine($"{change.Type}: {change.Value.GetProperty("detail").GetString()}");
                        return 1;
                    }

                    writer.Flush();
                }

                return Occtl.Ok;
            }, table, prefix, cursor, fromRevision));
    }

    public static Command Txn(CommandFactory commands)
    {
        var file = new Option<FileInfo?>("--file", "-f") { Description = "The transaction as JSON ({compare, success, failure}); '-' or none reads standard input." };
        return commands.Create("txn", "Run a transaction across transactional tables.", async (parse, s, ct) =>
        {
            var text = await ReadValueAsync(parse.GetValue(file), ct);
            TxnRequest? txn;
            try
            {
                txn = JsonSerializer.Deserialize<TxnRequest>(text, JsonSerializerOptions.Web);
            }
            catch (JsonException e)
            {
                throw new UsageException($"The transaction is not valid JSON: {e.Message}");
            }

            var result = await s.Client.TransactAsync(txn ?? new TxnRequest(), ct);
            if (s.Output.Json)
            {
                s.Output.WriteJson(result);
                return Occtl.Ok;
            }

            s.Output.Console.Profile.Out.Writer.WriteLine($"succeeded: {(result.Succeeded ? "yes" : "no")}");
            return s.Output.List(result.Results, ["op", "table", "key", "version", "value"],
                r => [r.Op, r.Table, r.Key, Num(r.Version), Output.Compact(r.Value)]);
        }, file);
    }

    internal static string Num(long value) => value.ToString(System.Globalization.CultureInfo.InvariantCulture);

    internal static async Task<string> ReadValueAsync(FileInfo? file, CancellationToken cancellationToken)
    {
        if (file is null || file.Name == "-")
        {
            if (!Console.IsInputRedirected)
            {
                throw new UsageException("Give the JSON as an argument, with --file, or on standard input.");
            }

            return await Console.In.ReadToEndAsync(cancellationToken);
        }

        return file.Exists ? await File.ReadAllTextAsync(file.FullName, cancellationToken) : throw new UsageException($"No file {file.FullName}.");
    }

    private static IEnumerable<(string, string?)> Rows(Table t) =>
    [
        ("name", t.Name), ("shards", Num(t.Shards)), ("transactional", t.Transactional ? "yes" : "no"),
        ("encrypted", t.Encrypted ? "yes" : "no"), ("keys", t.KeyCount is { } n ? Num(n) : null), ("created", Output.Time(t.CreatedAt)),
        ("resharding", t.Resharding is { } r ? $"{r.From} -> {r.To} ({r.Progress:P0})" : null),
    ];
}

/// <summary>JSON text given on the command line.</summary>
internal static class Json
{
    public static JsonElement Parse(string text, string what)
    {
        try
        {
            using var document = JsonDocument.Parse(text);
            return document.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new UsageException($"The {what} is not valid JSON ({e.Message}). Quote strings: '\"text\"'.");
        }
    }
}
