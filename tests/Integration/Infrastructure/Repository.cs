namespace OrleansCompute.Tests.Infrastructure;

/// <summary>Where the repository and the built binaries are, for tests that run the product as users do.</summary>
public static class Repository
{
    public static string Root { get; } = FindRoot();

    /// <summary>The build configuration these tests were built with; the product binaries beside them match it.</summary>
    public static string Configuration { get; } =
        AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ? "Release" : "Debug";

    public static string Binary(string project, string assembly) =>
        Path.Combine(Root, project, "bin", Configuration, "net10.0", assembly);

    private static string FindRoot()
    {
        if (Environment.GetEnvironmentVariable("OC_REPO_ROOT") is { Length: > 0 } root)
        {
            return root;
        }

        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "OrleansCompute.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("Cannot find the repository root (OrleansCompute.sln) above " + AppContext.BaseDirectory);
    }
}
