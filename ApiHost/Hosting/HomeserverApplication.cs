using Homeserver.ApiHost.ClientApi;
using Homeserver.ApiHost.Errors;
using Homeserver.Silo.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace Homeserver.ApiHost.Hosting;

/// <summary>Builds a whole homeserver process: the silo roles its settings give it plus, where it serves clients, the client API.</summary>
public static class HomeserverApplication
{
    public static WebApplication Build(ProcessSettings settings, string[]? args = null, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = HomeserverProcess.CreateBuilder(settings, args);
        builder.Services.AddSingleton<ApiHostLog>();
        if (settings.ServesClients) builder.Services.AddClientApi();
        configure?.Invoke(builder);
        var app = builder.Build();
        app.UseMiddleware<MatrixErrorMiddleware>();
        app.MapHomeserverInternals();
        if (settings.ServesClients) app.MapClientApi();
        return app;
    }
}
