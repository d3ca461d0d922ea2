using System.Text.Json.Nodes;
using Homeserver.Protocol;

namespace Homeserver.Federation.Discovery;

/// <summary>
/// The lookups of one resolution, answered from the caches, remembering the earliest expiry among the
/// answers used: the targets they produce are good exactly that long.
/// </summary>
internal sealed class RecordingLookups(WellKnownResolver wellKnown, SrvResolver srv, DateTimeOffset longest) : IServerDiscoveryLookups
{
    public DateTimeOffset Expires { get; private set; } = longest;

    public async Task<JsonNode?> WellKnownAsync(string hostname, CancellationToken cancellationToken)
    {
        var answer = await wellKnown.ResolveAsync(hostname, cancellationToken);
        Record(answer.Expires);
        return answer.Value is { } server ? new JsonObject { ["m.server"] = server } : null;
    }

    public async Task<IReadOnlyList<SrvRecord>> SrvAsync(string serviceName, CancellationToken cancellationToken)
    {
        var answer = await srv.LookupAsync(serviceName, cancellationToken);
        Record(answer.Expires);
        return answer.Value;
    }

    private void Record(DateTimeOffset expires)
    {
        if (expires < Expires) Expires = expires;
    }
}
