using System.CommandLine;
using static OrleansCompute.Cli.DataCommands;

namespace OrleansCompute.Cli;

/// <summary><c>occtl cluster</c> and <c>occtl admin ...</c>.</summary>
public static class AdminCommands
{
    public static Command Cluster(CommandFactory commands) =>
        commands.Create("cluster", "The silos as the membership sees them.", async (parse, s, ct) =>
        {
            var cluster = await s.Client.GetClusterAsync(ct);
            if (s.Output.Json)
            {
                s.Output.WriteJson(cluster);
                return Occtl.Ok;
            }

            return s.Output.List(cluster.Silos, ["name", "address", "status", "activations", "shards"],
                x => [x.Name, x.Address, x.Status, x.Activations is { } a ? Num(a) : null, x.Shards is { } n ? Num(n) : null]);
        });

    public static Command Admin(CommandFactory commands)
    {
        var tenant = new Argument<string>("tenant") { Description = "The tenant." };
        var keyName = new Argument<string>("name") { Description = "What the key is for." };
        var id = new Argument<string>("id") { Description = "The key id." };
        var scopes = new Option<string[]>("--scope") { Description = "A scope: data:read, data:write, jobs, coord, admin (repeat it).", AllowMultipleArgumentsPerToken = true, Required = true };
        return CommandFactory.Group("admin", "Tenants and API keys (needs the admin scope).",
            CommandFactory.Group("tenants", "Tenants.",
                commands.Create("list", "List tenants.", async (parse, s, ct) =>
                    s.Output.List(await s.Client.ListTenantsAsync(cancellationToken: ct).ToListAsync(ct), ["name", "created"], t => [t.Name, Output.Time(t.CreatedAt)])),
                commands.Create("create", "Create a tenant.", async (parse, s, ct) =>
                    s.Output.Show(await s.Client.CreateTenantAsync(parse.GetValue(tenant)!, ct), t => [("name", t.Name), ("created", Output.Time(t.CreatedAt))]), tenant)),
            CommandFactory.Group("keys", "API keys.",
                commands.Create("list", "List a tenant's keys (never the secrets).", async (parse, s, ct) =>
                    s.Output.List(await s.Client.ListKeysAsync(parse.GetValue(tenant)!, ct).ToListAsync(ct), ["id", "name", "scopes", "created"],
                        k => [k.Id, k.Name, string.Join(' ', k.Scopes), Output.Time(k.CreatedAt)]), tenant),
                commands.Create("issue", "Issue a key; its secret is shown this once.", async (parse, s, ct) =>
                    s.Output.Show(await s.Client.IssueKeyAsync(parse.GetValue(tenant)!, parse.GetValue(keyName)!, parse.GetValue(scopes)!, ct),
                        k => [("id", k.Id), ("key", k.Key), ("name", k.Name), ("scopes", string.Join(' ', k.Scopes))]), tenant, keyName, scopes),
                commands.Create("revoke", "Revoke a key.", async (parse, s, ct) =>
                    await s.Client.RevokeKeyAsync(parse.GetValue(tenant)!, parse.GetValue(id)!, ct) ? Occtl.Ok : await commands.NotFoundAsync($"key '{parse.GetValue(id)}'"), tenant, id)));
    }
}
