using Homeserver.ApiHost.Hosting;
using Homeserver.Cluster.Hosting;
using Homeserver.Configuration.Processes;
using Homeserver.Silo.Hosting;
using Microsoft.AspNetCore.Builder;

namespace Homeserver.Monolith.Hosting;

/// <summary>
/// Every role in one process: the silo hosts every grain (all roles name "main") and the client API
/// calls them in-process through the silo's own grain factory; streams stay in memory. Nothing but
/// PostgreSQL is needed.
/// </summary>
public static class MonolithApplication
{
    public static WebApplication Build(ProcessSettings settings, string[]? args = null, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = ProcessHost.CreateBuilder(settings, args);
        builder.AddHomeserverSilo(settings);
        builder.AddClientApiHost();
        configure?.Invoke(builder);
        var app = builder.Build();
        app.MapClientApiHost();
        return app;
    }
}
