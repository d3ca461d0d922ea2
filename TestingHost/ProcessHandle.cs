using Homeserver.Silo.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace Orleans.TestingHost;

/// <summary>One silo or API host of a test cluster: its own DI container, ports and connections.</summary>
public sealed class ProcessHandle
{
    internal ProcessHandle(ProcessSettings settings, WebApplication app, int port, int metricsPort)
    {
        Settings = settings;
        App = app;
        Port = port;
        MetricsAddress = new Uri($"http://127.0.0.1:{metricsPort}");
    }

    /// <summary>Where this host serves /metrics.</summary>
    public Uri MetricsAddress { get; }

    public ProcessSettings Settings { get; }
    public string Name => Settings.InstanceName;
    public int Port { get; }
    public bool IsRunning { get; internal set; } = true;
    internal WebApplication App { get; set; }
    public IServiceProvider Services => App.Services;
    public IGrainFactory GrainFactory => Services.GetRequiredService<IGrainFactory>();

    /// <summary>Base address of its listener: the client API for an API host, replication for a silo.</summary>
    public Uri BaseAddress => new($"http://127.0.0.1:{Port}");

    public override string ToString() => Name;
}
