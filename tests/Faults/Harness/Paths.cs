namespace OrleansCompute.Tests.Faults.Harness;

/// <summary>Where the repository, the built product and this harness's files are.</summary>
public static class Paths
{
    public static string Root { get; } = FindRoot();

    public static string FaultsDirectory => Path.Combine(Root, "tests", "Faults");

    public static string Configuration { get; } =
        Environment.GetEnvironmentVariable("OC_BUILD_CONFIGURATION") is { Length: > 0 } c ? c
        : AppContext.BaseDirectory.Contains("/Debug/", StringComparison.Ordinal) ? "Debug" : "Release";

    public static string Binary(string project, string assembly)
    {
        var path = Path.Combine(Root, project, "bin", Configuration, "net10.0", assembly);
        return File.Exists(path) ? path : throw new FileNotFoundException($"{path} is not built; run ./tests/run.sh or tests/Faults/run.sh, which build first.");
    }

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

        throw new InvalidOperationException("Cannot find the repository root above " + AppContext.BaseDirectory);
    }
}
