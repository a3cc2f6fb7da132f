using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace OrleansCompute.Bench.Elastic;

/// <summary>One silo of <c>GET /v1/cluster</c>.</summary>
public sealed record SiloView(string Address, string Name, string Status, int? Shards, int? MovesInFlight, long? MovesCompleted)
{
    public bool Active => Status == "Active";
}

/// <summary>Where the table's shards are: the share per active silo ("5/5/6") and whether it is even.</summary>
/// <param name="Balanced">Every shard on an active silo, and every active silo hosting floor or ceiling of shards / silos.</param>
public sealed record Balance(bool Balanced, int ActiveSilos, string Shares);

/// <summary>
/// Reads the cluster through the Api (admin key): the silos with their status and shard counts
/// (<c>GET /v1/cluster</c>) and where the table's shards are (<c>GET /v1/tables/{t}/shards</c>).
/// A poll that fails (a 503 while a silo dies, a timeout) is "not known yet", never an error.
/// </summary>
public sealed class ClusterControl(HttpClient http, Uri tableUri)
{
    private static readonly TimeSpan PollTimeout = TimeSpan.FromSeconds(5);

    public async Task<IReadOnlyList<SiloView>?> SilosAsync(CancellationToken cancellationToken)
    {
        var json = await GetJsonAsync(new Uri(http.BaseAddress!, "/v1/cluster"), cancellationToken);
        if (json is not { } root || !root.TryGetProperty("silos", out var silos))
        {
            return null;
        }

        return silos.EnumerateArray().Select(s => new SiloView(
            s.GetProperty("address").GetString() ?? "",
            s.GetProperty("name").GetString() ?? "",
            s.GetProperty("status").GetString() ?? "",
            Int(s, "shards"),
            Int(s, "shardMovesInFlight"),
            s.TryGetProperty("shardMovesCompleted", out var done) && done.ValueKind == JsonValueKind.Number ? done.GetInt64() : null)).ToList();
    }

    /// <summary>Each shard with the address of the silo that hosts it, or null when the listing failed.</summary>
    public async Task<IReadOnlyList<(int Shard, string Silo)>?> ShardsAsync(CancellationToken cancellationToken)
    {
        var json = await GetJsonAsync(new Uri($"{tableUri.AbsoluteUri}/shards"), cancellationToken);
        if (json is not { } root || !root.TryGetProperty("items", out var items))
        {
            return null;
        }

        return items.EnumerateArray().Select(i => (i.GetProperty("shard").GetInt32(), i.GetProperty("silo").GetString() ?? "")).ToList();
    }

    public async Task<Balance?> BalanceAsync(CancellationToken cancellationToken)
    {
        var silos = await SilosAsync(cancellationToken);
        var shards = await ShardsAsync(cancellationToken);
        if (silos is null || shards is null || shards.Count == 0)
        {
            return null;
        }

        var active = silos.Where(s => s.Active).Select(s => s.Address).Distinct(StringComparer.Ordinal).ToList();
        if (active.Count == 0)
        {
            return new Balance(false, 0, "no active silo");
        }

        var counts = active.Select(a => shards.Count(s => s.Silo == a)).ToList();
        var low = shards.Count / active.Count;
        var high = (shards.Count + active.Count - 1) / active.Count;
        var elsewhere = shards.Count - counts.Sum();
        var shares = string.Join("/", counts) + (elsewhere > 0 ? string.Create(CultureInfo.InvariantCulture, $" (+{elsewhere} on no active silo)") : "");
        return new Balance(elsewhere == 0 && counts.All(c => c >= low && c <= high), active.Count, shares);
    }

    /// <summary>The table as <c>GET /v1/tables/{t}</c> describes it, or null.</summary>
    public Task<JsonElement?> TableAsync(CancellationToken cancellationToken) => GetJsonAsync(tableUri, cancellationToken);

    /// <summary>Sends <c>PATCH /v1/tables/{t}</c> <c>{"shards": N}</c> and returns the status and the start of the body.</summary>
    public async Task<(int Status, string Body)> ReshardAsync(int shards, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(30));
        using var request = new HttpRequestMessage(HttpMethod.Patch, tableUri)
        {
            Content = Workloads.BenchHttp.Json(System.Text.Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $$"""{"shards":{{shards}}}"""))),
        };
        using var response = await http.SendAsync(request, timeout.Token);
        var body = (await response.Content.ReadAsStringAsync(timeout.Token)).ReplaceLineEndings(" ").Trim();
        return ((int)response.StatusCode, body.Length > 200 ? body[..200] + "..." : body);
    }

    /// <summary>Polls <paramref name="condition"/> every <paramref name="period"/> until it holds or <paramref name="deadline"/> passes; the timestamp it held, or null.</summary>
    public static async Task<long?> WaitUntilAsync(Func<Task<bool>> condition, TimeSpan period, TimeSpan deadline, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        while (true)
        {
            if (await condition())
            {
                return Stopwatch.GetTimestamp();
            }

            if (Stopwatch.GetElapsedTime(started) >= deadline)
            {
                return null;
            }

            await Task.Delay(period, cancellationToken);
        }
    }

    private async Task<JsonElement?> GetJsonAsync(Uri uri, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(PollTimeout);
        try
        {
            using var response = await http.GetAsync(uri, timeout.Token);
            if (!response.IsSuccessStatusCode)
            {
                return null;
            }

            await using var body = await response.Content.ReadAsStreamAsync(timeout.Token);
            using var document = await JsonDocument.ParseAsync(body, cancellationToken: timeout.Token);
            return document.RootElement.Clone();
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return null;
        }
        catch (Exception e) when (e is HttpRequestException or JsonException)
        {
            return null;
        }
    }

    private static int? Int(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number ? value.GetInt32() : null;
}

/// <summary>
/// The silo processes of the cluster under test, which the harness did not start: it signals
/// them by PID (<c>--silo-pids</c>) and starts one more with a command (<c>--start-silo-cmd</c>).
/// </summary>
public static class SiloProcesses
{
    /// <summary>Runs the command with <c>/bin/sh -c</c> (at most 60 s) and returns its last line of output (e.g. "bench-silo-2 4242").</summary>
    public static async Task<string> StartAsync(string command, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo("/bin/sh")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add(command);
        using var process = Process.Start(info) ?? throw new InvalidOperationException("could not run /bin/sh");
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            process.Kill(entireProcessTree: true);
            throw new InvalidOperationException($"--start-silo-cmd did not finish within 60 s: {command}");
        }

        var output = (await stdout).Trim();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"--start-silo-cmd exited with {process.ExitCode}: {(await stderr).Trim()}");
        }

        return output.Split('\n').LastOrDefault()?.Trim() ?? "";
    }

    /// <summary>Sends <paramref name="signal"/> (TERM, KILL) with kill(1).</summary>
    public static async Task SignalAsync(int pid, string signal, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo("kill") { UseShellExecute = false, RedirectStandardError = true };
        info.ArgumentList.Add("-s");
        info.ArgumentList.Add(signal);
        info.ArgumentList.Add(pid.ToString(CultureInfo.InvariantCulture));
        using var process = Process.Start(info) ?? throw new InvalidOperationException("could not run kill");
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"kill -s {signal} {pid} failed: {(await stderr).Trim()}");
        }
    }

    /// <summary>Whether the process exists and is not a zombie (its parent, run.sh, may not have reaped it yet).</summary>
    public static bool IsRunning(int pid) =>
        ProcStat.Read(pid) is { } fields && fields[ProcStat.State] is not ("Z" or "X" or "");
}
