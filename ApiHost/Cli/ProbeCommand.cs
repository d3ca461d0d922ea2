namespace Homeserver.ApiHost.Cli;

/// <summary>
/// <c>probe &lt;url&gt;</c>: exits 0 when the URL answers 2xx within five seconds. Container health checks
/// use it, since the runtime image has no curl.
/// </summary>
public static class ProbeCommand
{
    public static async Task<int> RunAsync(string[] args)
    {
        if (args is not [var url] || !Uri.TryCreate(url, UriKind.Absolute, out var uri))
        {
            Console.Error.WriteLine("usage: probe <url>");
            return 2;
        }
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        try
        {
            using var response = await http.GetAsync(uri);
            return response.IsSuccessStatusCode ? 0 : 1;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            Console.Error.WriteLine($"{uri}: {e.Message}");
            return 1;
        }
    }
}
