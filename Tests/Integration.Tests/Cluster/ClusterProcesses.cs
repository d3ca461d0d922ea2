using Homeserver.Configuration.Processes;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Orleans;
using Orleans.TestingHost;

namespace Homeserver.Tests.Integration.Cluster;

/// <summary>A silo of the test cluster: an Orleans TestCluster silo under our name, with its metrics listener.</summary>
public sealed class SiloProcess(string name, int metricsPort)
{
    public string Name => name;
    public SiloHandle Handle { get; internal set; } = null!;
    public bool IsRunning => Handle.IsActive;
    public IServiceProvider Services => ((InProcessSiloHandle)Handle).SiloHost.Services;
    public ProcessSettings Settings => Services.GetRequiredService<ProcessSettings>();
    public Uri MetricsAddress { get; } = new($"http://127.0.0.1:{metricsPort}");
    public override string ToString() => Name;
}

/// <summary>An API host of the test cluster: a whole ASP.NET host with an Orleans client of the silos.</summary>
public sealed class ApiHostProcess(ProcessSettings settings, int port)
{
    public ProcessSettings Settings => settings;
    public string Name => settings.InstanceName;
    public int Port => port;
    public bool IsRunning { get; internal set; }
    internal WebApplication App { get; set; } = null!;
    public IServiceProvider Services => App.Services;
    public IGrainFactory GrainFactory => Services.GetRequiredService<IGrainFactory>();
    public Uri BaseAddress => new($"http://127.0.0.1:{Port}");
    public override string ToString() => Name;
}
