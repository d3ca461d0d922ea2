using System.Globalization;
using Homeserver.ApiHost.Cli;
using Homeserver.ApiHost.Hosting;
using Homeserver.Configuration.Processes;

// An API host (Synapse's generic worker, worker_app: synapse.app.generic_worker): the client API,
// calling the silos' grains over Orleans. The one-process server is Homeserver.dll.
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.DefaultThreadCurrentUICulture = CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
if (await Commands.TryRunAsync(args) is { } exitCode) return exitCode;

var settings = ProcessSettingsLoader.FromCommandLine(args, defaultKind: ProcessKind.ApiHost);
if (settings is null) return 1;
if (settings.Kind != ProcessKind.ApiHost)
{
    Console.Error.WriteLine("ApiHost.dll runs API hosts: give it a worker file with `worker_app: synapse.app.generic_worker`. " +
        "The one-process server is `dotnet Homeserver.dll --config-path homeserver.yaml`; a silo is Silo.dll.");
    return 1;
}
await ApiHostApplication.Build(settings, args).RunAsync();
return 0;
