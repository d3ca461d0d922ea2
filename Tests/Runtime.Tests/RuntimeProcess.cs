using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Orleans;
using Orleans.Runtime.Hosting;
using Orleans.Runtime.Remote;

namespace Homeserver.Tests.Runtime;

/// <summary>One runtime "process" on a loopback HTTP/2 port, as a silo or a client-only host runs it.</summary>
public sealed class RuntimeProcess : IAsyncDisposable
{
    private readonly WebApplication _app;

    private RuntimeProcess(WebApplication app, string name)
    {
        _app = app;
        Name = name;
    }

    public string Name { get; }
    public IServiceProvider Services => _app.Services;
    public IGrainFactory Grains => _app.Services.GetRequiredService<IGrainFactory>();

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public static async Task<RuntimeProcess> StartAsync(string name, int port, GrainRuntimeOptions template, bool hostsGrains,
        string? secret)
    {
        var options = new GrainRuntimeOptions
        {
            InstanceName = name,
            Instances = template.Instances,
            Roles = template.Roles,
            ReplicationSecret = secret,
            ResponseTimeout = template.ResponseTimeout,
        };
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, port, l => l.Protocols = HttpProtocols.Http2));
        builder.Services.AddSingleton(new ActivationLog());
        builder.Services.AddGrainRuntime(options, hostsGrains ? [typeof(PlacedGrain).Assembly] : []);
        var app = builder.Build();
        app.MapGrainCalls();
        await app.StartAsync();
        return new RuntimeProcess(app, name);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
