using Homeserver.ApiHost.ClientApi;
using Homeserver.ApiHost.FederationApi;
using Homeserver.ApiHost.Errors;
using Homeserver.ApiHost.Http;
using Homeserver.Cluster.Hosting;
using Homeserver.Configuration.Processes;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace Homeserver.ApiHost.Hosting;

/// <summary>
/// An API host (Synapse's generic worker): the client API over an Orleans client of the silos. The
/// monolith host composes the same client API over a co-hosted silo instead.
/// </summary>
public static class ApiHostApplication
{
    public static WebApplication Build(ProcessSettings settings, string[]? args = null, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = ProcessHost.CreateBuilder(settings, args);
        builder.AddHomeserverClusterClient(settings);
        builder.AddClientApiHost();
        configure?.Invoke(builder);
        var app = builder.Build();
        app.MapClientApiHost();
        return app;
    }

    /// <summary>The client API's services, whatever provides the grains.</summary>
    public static WebApplicationBuilder AddClientApiHost(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<ApiHostLog>();
        builder.Services.AddSingleton<ListenerResources>();
        // Answers embed stored JSON (events nest as deep as clients were allowed to send, plus the answer's own levels).
        builder.Services.ConfigureHttpJsonOptions(json => Homeserver.Protocol.StoredJson.Configure(json.SerializerOptions));
        builder.Services.AddClientApi();
        builder.Services.AddFederationApi();
        return builder;
    }

    public static WebApplication MapClientApiHost(this WebApplication app)
    {
        app.UseMiddleware<CorsMiddleware>();
        app.UseMiddleware<RequestSizeMiddleware>();
        // After CORS, so pre-flights and the 404 of an unserved path both carry its headers.
        app.UseMiddleware<ListenerResourcesMiddleware>();
        app.UseMiddleware<MatrixErrorMiddleware>();
        app.UseMiddleware<XMatrixAuthenticationMiddleware>();
        app.MapProcessEndpoints();
        app.MapClientApi();
        app.MapFederationApi();
        return app;
    }
}
