using System.Text.Json.Nodes;
using Homeserver.Configuration;
using Homeserver.Configuration.Processes;
using Homeserver.Protocol;
using Homeserver.Storage.Federation;

namespace Homeserver.Federation.Keys;

/// <summary>What a notary query asks about one server: the key IDs wanted, each with the moment it should still be valid at (null: now); none named means all.</summary>
public sealed record NotaryQuery(string ServerName, IReadOnlyDictionary<string, long?> KeyIds);

/// <summary>
/// This server as a notary (<c>/_matrix/key/v2/query</c>): other servers' keys as they signed them, with
/// this server's signature added. Answers come from the keys already verified; a key not known, not
/// valid until the moment asked, or (when no moment is given) past half its validity since it was
/// fetched is asked of its server first, as Synapse's notary does. Servers that cannot be reached and
/// have nothing stored are left out of the answer.
/// </summary>
public sealed class KeyNotary(RemoteServerKeyStore store, KeyRing ring, ServerSigningKeys ownKeys, ProcessSettings settings,
    FederationClientOptions options, TimeProvider clock)
{
    /// <summary>Servers one query may ask about, and key IDs in all: each may cost a fetch.</summary>
    public const int MaxServers = 50;
    public const int MaxKeyIds = 200;

    public async Task<JsonArray> QueryAsync(IReadOnlyList<NotaryQuery> queries, CancellationToken cancellationToken)
    {
        var answers = await Task.WhenAll(queries.Select(q => AnswersAboutAsync(q, cancellationToken)));
        var own = await ownKeys.CurrentAsync(cancellationToken);
        var signed = new JsonArray();
        foreach (var json in answers.SelectMany(a => a).Distinct(StringComparer.Ordinal))
        {
            var answer = JsonNode.Parse(json)!.AsObject();
            JsonSigning.Sign(answer, settings.ServerName, own);
            signed.Add(answer);
        }
        return signed;
    }

    private async Task<IReadOnlyList<string>> AnswersAboutAsync(NotaryQuery query, CancellationToken cancellationToken)
    {
        if (query.ServerName == settings.ServerName)
        {
            return [(await ownKeys.PublishedAnswerAsync(cancellationToken)).ToJsonString()];
        }
        var stored = await store.GetAsync(query.ServerName, [.. query.KeyIds.Keys], cancellationToken);
        if (IsMiss(query, stored) && options.IsDestinationAllowed(query.ServerName))
        {
            await ring.RefreshFromOriginAsync(query.ServerName, cancellationToken);
            stored = await store.GetAsync(query.ServerName, [.. query.KeyIds.Keys], cancellationToken);
        }
        return [.. stored.Select(k => k.KeyJson)];
    }

    private bool IsMiss(NotaryQuery query, IReadOnlyList<RemoteServerKey> stored)
    {
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        if (query.KeyIds.Count == 0) return !stored.Any(k => !Stale(k, null, now));
        foreach (var (keyId, minimum) in query.KeyIds)
        {
            if (stored.FirstOrDefault(k => k.KeyId == keyId) is not { } key || Stale(key, minimum, now)) return true;
        }
        return false;
    }

    private static bool Stale(RemoteServerKey key, long? minimumValidUntilTs, long now) => minimumValidUntilTs is { } minimum
        ? key.ValidUntilTs < minimum
        : (key.AddedTs + key.ValidUntilTs) / 2 < now;
}
