namespace OrleansCompute.Api.Security;

/// <summary>Authentication settings (configuration section <c>Auth</c>).</summary>
public sealed class AuthOptions
{
    /// <summary>The bootstrap admin key (<c>Auth__AdminKey</c>): every scope, on the default tenant. Required in PostgreSQL mode.</summary>
    public string? AdminKey { get; set; }

    /// <summary>How long a verified key is trusted before its record is read again; the bound on revocation delay.</summary>
    public int KeyCacheSeconds { get; set; } = 5;
}
