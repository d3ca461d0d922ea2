using Homeserver.ApiHost.Cli;
using Homeserver.ApiHost.Hosting;
using Homeserver.ApiHost.Routing;
using Homeserver.Silo.Hosting;

// The homeserver command: every role in one process by default (a monolith), or an API host
// (Synapse's generic worker) when its worker file says so.
switch (args)
{
    case ["generate-config", ..]:
        return GenerateConfigCommand.Run(args[1..]);
    case ["register_new_matrix_user", ..]:
        return await RegisterNewMatrixUserCommand.RunAsync(args[1..]);
    case ["routes", ..]:
        return RoutesCommand.Run(args[1..]);
    case ["probe", ..]:
        return await ProbeCommand.RunAsync(args[1..]);
}

var settings = ProcessSettingsLoader.FromCommandLine(args, defaultKind: ProcessKind.Monolith);
if (settings is null) return 1;
await HomeserverApplication.Build(settings, args).RunAsync();
return 0;
