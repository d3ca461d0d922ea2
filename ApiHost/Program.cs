using Homeserver.ApiHost.Hosting;
using Homeserver.Silo.Hosting;

// The homeserver command: every role in one process by default (a monolith), or an API host
// (Synapse's generic worker) when its worker file says so.
if (args is ["generate-config", ..]) return GenerateConfigCommand.Run(args[1..]);

var settings = ProcessSettingsLoader.FromCommandLine(args, defaultKind: ProcessKind.Monolith);
if (settings is null) return 1;
await HomeserverApplication.Build(settings, args).RunAsync();
return 0;
