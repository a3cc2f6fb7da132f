using OrleansCompute.Cli;
using Spectre.Console;

return await Occtl.RunAsync(args, AnsiConsole.Console, Console.Error, Environment.GetEnvironmentVariable);
