using Homeserver.Configuration;
using Homeserver.Configuration.Processes;

namespace Homeserver.ApiHost.Hosting;

/// <summary><c>generate-config</c>: writes a fresh homeserver.yaml, like Synapse's <c>--generate-config</c>.</summary>
public static class GenerateConfigCommand
{
    public static int Run(string[] args)
    {
        string Option(string name, string fallback) => ProcessSettingsLoader.OptionValues(args, name) is [.., var last] ? last : fallback;

        var path = Option("--config-path", "homeserver.yaml");
        if (File.Exists(path))
        {
            Console.Error.WriteLine($"{path} exists already; it is left as it is.");
            return 1;
        }
        if (!int.TryParse(Option("--database-port", "5432"), out var dbPort) || !int.TryParse(Option("--port", "8008"), out var port))
        {
            Console.Error.WriteLine("--database-port and --port must be numbers.");
            return 1;
        }
        var dataDirectory = Path.GetFullPath(Option("--data-directory", Path.GetDirectoryName(Path.GetFullPath(path))!));
        var yaml = HomeserverConfigGenerator.Generate(new GenerateConfigRequest(
            ServerName: Option("--server-name", "localhost"),
            DataDirectory: dataDirectory,
            DatabaseHost: Option("--database-host", "localhost"),
            DatabasePort: dbPort,
            DatabaseUser: Option("--database-user", "postgres"),
            DatabaseName: Option("--database-name", "homeserver"),
            ListenPort: port));
        // The file holds secrets: readable by its owner only.
        File.WriteAllText(path, yaml);
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return 0;
    }
}
