using System.Globalization;
using Homeserver.ApiHost.Cli;
using Homeserver.ApiHost.Hosting;
using Homeserver.Cluster.Hosting;
using Homeserver.Configuration.Processes;
using Homeserver.Monolith.Hosting;
using Homeserver.Silo.Hosting;

// The homeserver command: every role in one process by default (a monolith); with a worker file,
// the silo or API host that file describes, so one executable can run every shape.
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.DefaultThreadCurrentUICulture = CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
if (await Commands.TryRunAsync(args) is { } exitCode) return exitCode;

var settings = ProcessSettingsLoader.FromCommandLine(args, defaultKind: ProcessKind.Monolith);
if (settings is null) return 1;
if (settings.HostsGrains) await DatabaseMigrations.ApplyAsync(settings.DatabaseConnectionString);
var app = settings.Kind switch
{
    ProcessKind.Monolith => MonolithApplication.Build(settings, args),
    ProcessKind.Silo => SiloApplication.Build(settings, args),
    _ => ApiHostApplication.Build(settings, args),
};
await app.RunAsync();
return 0;
