using System.Globalization;
using Homeserver.Configuration;
using Homeserver.Configuration.Processes;

namespace Homeserver.ApiHost.Routing;

/// <summary>
/// <c>routes --format nginx|haproxy --worker api1.yaml [--worker api2.yaml ...] [--listen 8008]
/// [--listen-address 127.0.0.1] [--hosts-by-name]</c>: prints the reverse proxy's configuration for the
/// API hosts those worker files describe. With <c>--hosts-by-name</c> each upstream's host is its worker
/// name (a compose service name) instead of its listener's bind address.
/// </summary>
public static class RoutesCommand
{
    public static int Run(string[] args)
    {
        var format = ProcessSettingsLoader.OptionValues(args, "--format") is [.., var f] ? f : "nginx";
        var workers = ProcessSettingsLoader.OptionValues(args, "--worker");
        var listenText = ProcessSettingsLoader.OptionValues(args, "--listen") is [.., var l] ? l : "8008";
        var listenAddress = ProcessSettingsLoader.OptionValues(args, "--listen-address") is [.., var a] ? a : "127.0.0.1";
        var hostsByName = args.Contains("--hosts-by-name");
        if (format is not ("nginx" or "haproxy") || workers.Count == 0 || !int.TryParse(listenText, NumberStyles.None, CultureInfo.InvariantCulture, out var listen))
        {
            Console.Error.WriteLine("usage: routes --format nginx|haproxy --worker <api host worker file> [--worker ...] [--listen <port>]");
            return 2;
        }
        var upstreams = new List<ProxyUpstream>();
        try
        {
            foreach (var path in workers)
            {
                var worker = HomeserverConfigLoader.LoadWorker(path);
                if (worker.Kind != WorkerKind.ApiHost) throw new ConfigurationException($"{path}: `{worker.WorkerName}` is not an API host; only API hosts take client traffic.");
                var listener = worker.WorkerListeners.FirstOrDefault(w => w.Resources.Contains("client"))
                    ?? throw new ConfigurationException($"{path}: `{worker.WorkerName}` has no listener with the `client` resource.");
                var host = hostsByName ? worker.WorkerName : listener.BindAddresses.FirstOrDefault(a => a is not ("0.0.0.0" or "::")) ?? "127.0.0.1";
                upstreams.Add(new ProxyUpstream(worker.WorkerName, host, listener.Port));
            }
        }
        catch (ConfigurationException e)
        {
            Console.Error.WriteLine(e.Message);
            return 1;
        }
        Console.Out.Write(format == "nginx" ? ProxyConfigWriter.Nginx(upstreams, listen, listenAddress) : ProxyConfigWriter.Haproxy(upstreams, listen, listenAddress));
        return 0;
    }
}
