using System.CommandLine;
using System.Net;
using OrleansCompute.Client;
using Spectre.Console;

namespace OrleansCompute.Cli;

/// <summary>
/// The occtl command tree. Exit codes: 0 ok, 1 a request failed (the problem answer is printed),
/// 2 bad usage (the parse error or missing setting is printed).
/// </summary>
public static class Occtl
{
    public const int Ok = 0;
    public const int RequestFailed = 1;
    public const int BadUsage = 2;

    /// <summary>Runs occtl; <paramref name="handler"/> replaces the network (tests hand in an in-process server).</summary>
    public static async Task<int> RunAsync(
        string[] args, IAnsiConsole console, TextWriter error, Func<string, string?> environment,
        HttpMessageHandler? handler = null, CancellationToken cancellationToken = default)
    {
        var globals = new Globals();
        var root = new RootCommand("occtl: tables, keys, transactions, jobs and schedules of an OrleansCompute cluster.");
        foreach (var option in globals.All)
        {
            root.Options.Add(option);
        }

        var session = (ParseResult parse) => new Session(
            CreateClient(Connection.Resolve(parse.GetValue(globals.Url), parse.GetValue(globals.Key), parse.GetValue(globals.Profile), environment), handler),
            new Output(console, parse.GetValue(globals.Output) ?? "table"));
        var commands = new CommandFactory(session, error);
        root.Subcommands.Add(DataCommands.Tables(commands));
        root.Subcommands.Add(DataCommands.Kv(commands));
        root.Subcommands.Add(DataCommands.Txn(commands));
        root.Subcommands.Add(JobCommands.Jobs(commands));
        root.Subcommands.Add(JobCommands.Schedules(commands));
        root.Subcommands.Add(AdminCommands.Cluster(commands));
        root.Subcommands.Add(AdminCommands.Admin(commands));

        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            foreach (var parseError in parsed.Errors)
            {
                await error.WriteLineAsync($"occtl: {parseError.Message}");
            }

            await error.WriteLineAsync("Run 'occtl --help' for usage.");
            return BadUsage;
        }

        return await parsed.InvokeAsync(new InvocationConfiguration { Output = new ConsoleWriter(console), Error = error }, cancellationToken);
    }

    private static OrleansComputeClient CreateClient(Connection connection, HttpMessageHandler? handler) =>
        OrleansComputeClient.Create(connection.Url, connection.Key, handler);

    /// <summary>The options every command takes.</summary>
    private sealed class Globals
    {
        public Option<string?> Url { get; } = new("--url") { Description = "The Api, e.g. http://127.0.0.1:5000 (else OC_URL, else the profile).", Recursive = true };

        public Option<string?> Key { get; } = new("--key") { Description = "The API key (else OC_KEY, else the profile).", Recursive = true };

        public Option<string?> Profile { get; } = new("--profile") { Description = "The profile of ~/.config/occtl/config.json to use (else OC_PROFILE, else 'default').", Recursive = true };

        public Option<string?> Output { get; } = CreateOutput();

        public IEnumerable<Option> All => [Url, Key, Profile, Output];

        private static Option<string?> CreateOutput()
        {
            var option = new Option<string?>("--output", "-o") { Description = "table (default) or json.", Recursive = true };
            option.AcceptOnlyFromAmong("table", "json");
            return option;
        }
    }

    // System.CommandLine writes help through a TextWriter; send it to the same console as the rest.
    private sealed class ConsoleWriter(IAnsiConsole console) : StringWriter
    {
        public override void Write(char value) => console.Profile.Out.Writer.Write(value);

        public override void Write(string? value) => console.Profile.Out.Writer.Write(value);
    }
}

/// <summary>What a command acts with: the SDK client and the output format.</summary>
public sealed record Session(OrleansComputeClient Client, Output Output);

/// <summary>Builds commands whose actions share the session, and turns failures into exit codes.</summary>
public sealed class CommandFactory(Func<ParseResult, Session> session, TextWriter error)
{
    public Command Create(string name, string description, Func<ParseResult, Session, CancellationToken, Task<int>> action, params Symbol[] symbols)
    {
        var command = new Command(name, description);
        foreach (var symbol in symbols)
        {
            switch (symbol)
            {
                case Argument argument:
                    command.Arguments.Add(argument);
                    break;
                case Option option:
                    command.Options.Add(option);
                    break;
            }
        }

        command.SetAction(async (parse, cancellationToken) =>
        {
            try
            {
                return await action(parse, session(parse), cancellationToken);
            }
            catch (UsageException e)
            {
                await error.WriteLineAsync($"occtl: {e.Message}");
                return Occtl.BadUsage;
            }
            catch (OrleansComputeException e)
            {
                await error.WriteLineAsync($"occtl: {e.Message}");
                return Occtl.RequestFailed;
            }
            catch (HttpRequestException e)
            {
                await error.WriteLineAsync($"occtl: cannot reach the Api: {e.Message}");
                return Occtl.RequestFailed;
            }
        });
        return command;
    }

    /// <summary>A command that only groups others.</summary>
    public static Command Group(string name, string description, params Command[] commands)
    {
        var group = new Command(name, description);
        foreach (var command in commands)
        {
            group.Subcommands.Add(command);
        }

        return group;
    }

    /// <summary>An absent resource: printed like a 404 answer, exit code 1.</summary>
    public async Task<int> NotFoundAsync(string what)
    {
        await error.WriteLineAsync($"occtl: {(int)HttpStatusCode.NotFound} {what} not found");
        return Occtl.RequestFailed;
    }
}
