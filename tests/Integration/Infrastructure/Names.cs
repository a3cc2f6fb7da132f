namespace OrleansCompute.Tests.Infrastructure;

/// <summary>Fresh resource names, so tests sharing a cluster never share data.</summary>
public static class Names
{
    public static string Table(string prefix = "t") => $"{prefix}-{Guid.NewGuid():N}"[..24];
}
