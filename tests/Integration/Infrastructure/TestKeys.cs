namespace OrleansCompute.Tests.Infrastructure;

/// <summary>The bootstrap admin key every test cluster's Api is configured with.</summary>
public static class TestKeys
{
    public const string Admin = "test-admin-key-4f1c9a7e2b8d4c6a9e3f";
}
