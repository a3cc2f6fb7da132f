namespace OrleansCompute.Api.Security;

/// <summary>Authentication settings (configuration section <c>Auth</c>).</summary>
public sealed class AuthOptions
{
    /// <summary>The bootstrap admin key (<c>Auth__AdminKey</c>): every scope, on the default tenant. Required in PostgreSQL mode.</summary>
    public string? AdminKey { get; set; }

    /// <summary>
    /// Embedded mode: mint a new admin key at start and print it once (<c>Auth__NewAdminKey=true</c>,
    /// or <c>deploy/local/up.sh --new-admin-key</c>). The way back in for the owner of the machine
    /// when the generated key is lost; whoever can start the Api on the store can already read it.
    /// </summary>
    public bool NewAdminKey { get; set; }

    /// <summary>How long a verified key is trusted before its record is read again; the bound on revocation delay.</summary>
    public int KeyCacheSeconds { get; set; } = 5;
}
