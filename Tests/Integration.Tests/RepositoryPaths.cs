namespace Homeserver.Tests.Integration;

internal static class RepositoryPaths
{
    /// <summary>The checkout the tests run from (the folder holding orleans.sln).</summary>
    public static string Root { get; } = Find();

    private static string Find()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "orleans.sln"))) directory = directory.Parent;
        return directory?.FullName ?? throw new InvalidOperationException("The tests do not run inside the repository.");
    }
}
