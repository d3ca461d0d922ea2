using Homeserver.Silo.Hosting;

// A silo process: hosts the grains that its configuration's stream_writers assign to it.
var settings = ProcessSettingsLoader.FromCommandLine(args, defaultKind: ProcessKind.Silo);
if (settings is null) return 1;
var app = HomeserverProcess.CreateBuilder(settings, args).Build();
app.MapHomeserverInternals();
await app.RunAsync();
return 0;
