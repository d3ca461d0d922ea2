using Homeserver.Cluster.Hosting;
using Homeserver.Configuration.Processes;
using Microsoft.AspNetCore.Builder;

namespace Homeserver.Silo.Hosting;

/// <summary>A silo process: Orleans with the grains of its roles, plus its health and metrics listener.</summary>
public static class SiloApplication
{
    public static WebApplication Build(ProcessSettings settings, string[]? args = null)
    {
        var builder = ProcessHost.CreateBuilder(settings, args);
        builder.AddHomeserverSilo(settings);
        var app = builder.Build();
        app.MapProcessEndpoints();
        return app;
    }
}
