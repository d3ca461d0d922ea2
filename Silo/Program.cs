using System.Globalization;
using Homeserver.Cluster.Hosting;
using Homeserver.Configuration.Processes;
using Homeserver.Silo.Hosting;

// A silo process: hosts the grains whose roles (stream_writers and the other role keys) name it.
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.DefaultThreadCurrentUICulture = CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
var settings = ProcessSettingsLoader.FromCommandLine(args, defaultKind: ProcessKind.Silo);
if (settings is null) return 1;
await DatabaseMigrations.ApplyAsync(settings.DatabaseConnectionString);
await SiloApplication.Build(settings, args).RunAsync();
return 0;
